// persistent.cu — the persistent LSTM forward: one cooperative launch for a whole sequence of one
// layer-direction (Persistent RNNs, Diamos et al. 2016). Used by org.rnn4j.cuda.PersistentRecurrence
// where it applies (FP32, no peepholes, no projection, W_hh slices that fit shared memory, a grid
// that fits the device at once); the standard path (one SGEMM + rnn4j_lstm_forward per step) runs
// otherwise.
//
// What it computes: exactly the standard path's time loop (RecurrentLayer.runDirection), for
// t = 0 … T−1 in the direction's own step order (a reverse direction's input is already reversed
// per sample, so no kernel knows about directions):
//   hp[b, k·H+j] = Σ_c hPrev[b, c] · W_hh[k·H+j, c]        c = 0 … H−1 in order, from 0.0f
//   then rnn4j_lstm_forward's pointwise step (lstm.cu, same arithmetic, -fmad=false), peep = 0:
//   pre_k = (xp[t,b,kH+j] + hp[b,kH+j]) + (bih[kH+j] + bhh[kH+j])      k = i, f, g, o
//   i = σ(pre_i + 0·c_prev),  f = coupled ? 1 − i : σ(pre_f + 0·c_prev),  g = tanh(pre_g)
//   c = f·c_prev + i·g (clamped to ±cellClip when cellClip > 0),  o = σ(pre_o + 0·c),  h = o·tanh(c)
//   valid (t < lengths[b]): h, c to slot `next`, out = h, saved = (i, f, g, o)
//   padded: slot `next` = slot `prev` (the state is carried), out = 0, saved = 0
// The dot product adds in the order the stand-in's SGEMM does (c ascending, from 0.0f), so on the
// stand-in the two paths agree bit for bit; real cuBLAS splits its sums differently, so on a GPU
// they agree to rounding (held against the CPU engine at the parity tests' tolerance).
//
// State slots: hs, cs are [slots, B, H]; training (keep = 1) keeps every step, prev = t, next = t+1
// (slots = T+1); inference (keep = 0) ping-pongs prev = t mod 2, next = (t+1) mod 2. Slot 0 holds
// h0, c0 on entry.
//
// Launch shape: cooperative (cuLaunchCooperativeKernel), a 1-D grid of ceil(H / units) CTAs; CTA q
// owns hidden units j ∈ [q·units, min((q+1)·units, H)) and all four gates of them, so the cell
// update needs nothing from other CTAs. Its slice of W_hh (rows k·H+j of those units, all H
// columns) is loaded once into dynamic shared memory, [4][units][H] floats = 16·units·H bytes, and
// stays there for the whole sequence. Any block size (the host picks a multiple of 32, at most 256);
// threads stride over the CTA's (b, unit) pairs. One grid barrier per step: step t+1 reads every
// CTA's h of step t. The host checks co-residency (occupancy × SMs) and shared memory first and
// falls back on CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE.
//
// Pointers (shapes in elements; bih, bhh, saved, lengths may be null):
//   lengths [B] int32    xp [T, B, 4H]    whh [4H, H]    bih, bhh [4H]
//   hs, cs [slots, B, H]    out: row (t, b) at t·B·outLd + b·outLd, H wide    saved [T, B, 4H]
// 32-bit indices as the cell kernels (ABI.md, "Limits"); element offsets are 64-bit.
#include <cooperative_groups.h>

#include "common.cuh"

// A load of another CTA's state, written before the last grid barrier: through L2 (an SM's L1 is not
// coherent with other SMs' writes, and ping-pong slots reuse addresses).
__device__ __forceinline__ float loadShared(const float* p) {
#ifdef __CUDA_ARCH__
    return __ldcg(p);
#else
    return *p;
#endif
}

// common.cuh's gatePre with the recurrent term in a register: (xp + hp) + (bih + bhh), no bias term
// when the layer has none, as CpuCells.pre adds it.
__device__ __forceinline__ float preActivation(float xpv, float hpv, const float* bih, const float* bhh, int col) {
    float v = xpv + hpv;
    if (bih != nullptr || bhh != nullptr) {
        v += biasAt(bih, col) + biasAt(bhh, col);
    }
    return v;
}

extern "C" __global__ void rnn4j_persistent_lstm_forward(
        int steps, int batch, int hidden, int units, const int* lengths,
        const float* xp, const float* whh, const float* bih, const float* bhh,
        float* hs, float* cs, float* out, int outLd, float* saved, int keep,
        float cellClip, int coupled) {
    extern __shared__ float wSlice[];   // [4][units][H]: row k·units + u is W_hh row k·H + j0 + u
    cooperative_groups::grid_group grid = cooperative_groups::this_grid();
    const int H = hidden;
    const int j0 = blockIdx.x * units;
    const int owned = H - j0 < units ? H - j0 : units;

    for (long long e = threadIdx.x; e < 4LL * owned * H; e += blockDim.x) {
        const int row = (int)(e / H);             // k·owned + u
        const int c = (int)(e - (long long)row * H);
        const int k = row / owned;
        const int u = row - k * owned;
        wSlice[((long long)k * units + u) * H + c] = whh[((long long)k * H + j0 + u) * H + c];
    }
    __syncthreads();

    const long long state = (long long)batch * H;   // one slot of hs / cs
    for (int t = 0; t < steps; t++) {
        const long long prev = (keep ? t : t % 2) * state;
        const long long next = (keep ? t + 1 : (t + 1) % 2) * state;
        for (int item = threadIdx.x; item < batch * owned; item += blockDim.x) {
            const int b = item / owned;
            const int u = item - b * owned;
            const int j = j0 + u;
            const long long at = (long long)b * H + j;
            const long long o = (long long)t * batch * outLd + (long long)b * outLd + j;
            const long long sv = ((long long)t * batch + b) * SAVED * H + j;
            if (!valid(lengths, b, t)) {
                cs[next + at] = cs[prev + at];
                hs[next + at] = hs[prev + at];
                out[o] = 0.0f;
                if (saved != nullptr) {
                    saved[sv + GATE_I * H] = 0.0f;
                    saved[sv + GATE_F * H] = 0.0f;
                    saved[sv + GATE_G * H] = 0.0f;
                    saved[sv + GATE_O * H] = 0.0f;
                }
                continue;
            }
            const float* hRow = hs + prev + (long long)b * H;
            const long long row = ((long long)t * batch + b) * 4 * H;   // xp [T, B, 4H]
            float pre[4];
            for (int k = 0; k < 4; k++) {
                const float* w = wSlice + ((long long)k * units + u) * H;
                float hp = 0.0f;
                for (int c = 0; c < H; c++) {
                    hp += loadShared(hRow + c) * w[c];
                }
                pre[k] = preActivation(xp[row + k * H + j], hp, bih, bhh, k * H + j);
            }
            const float cp = cs[prev + at];
            const float i = sigmoidf(pre[GATE_I] + 0.0f * cp);
            const float f = coupled ? 1.0f - i : sigmoidf(pre[GATE_F] + 0.0f * cp);
            const float g = tanhf(pre[GATE_G]);
            float c = lstmCell(f, cp, i, g);
            if (cellClip > 0.0f) {
                c = clampf(c, -cellClip, cellClip);
            }
            const float og = sigmoidf(pre[GATE_O] + 0.0f * c);
            const float h = og * tanhf(c);
            cs[next + at] = c;
            hs[next + at] = h;
            out[o] = h;
            if (saved != nullptr) {
                saved[sv + GATE_I * H] = i;
                saved[sv + GATE_F * H] = f;
                saved[sv + GATE_G * H] = g;
                saved[sv + GATE_O * H] = og;
            }
        }
        if (t + 1 < steps) {
            grid.sync();   // every CTA's h of step t is written before any CTA reads it at step t+1
        }
    }
}

// The persistent LSTM backward (BPTT) of the same layer-direction, t = T−1 … 0, as the standard
// path's loop (RecurrentLayer.backDirection: rnn4j_lstm_backward, then one SGEMM per step):
//   1. rnn4j_lstm_backward's pointwise step for the CTA's units (lstm.cu, same arithmetic, peep = 0):
//      dGx[t, b, kH+j] from saved[t], cs[t], cs[t+1], dH[t, b, j] and dc[b, j] (dc updated in place);
//      zeros for a padded (b, t), dc unchanged there.
//   2. grid barrier: every unit's dG of step t is written.
//   3. carry[b, j] = Σ_r dGx[t, b, r] · W_hh[r, j] + carry[b, j]      r = 0 … 4H−1 in order, from 0.0f
//      for the CTA's units j, carry = dH[t−1] (seeded with its output gradient) or, at t = 0, dh0.
//      The CTA keeps W_hhᵀ's rows of its units — column j of W_hh, all 4H entries — in shared
//      memory: [units][4H] floats, 16·units·H bytes as in forward.
//   4. block barrier: step t−1's pointwise step reads dH[t−1, b, j] of the CTA's own units only,
//      written by other threads of this CTA; dGx of step t is not read again, so no grid barrier.
// The sum adds in the stand-in SGEMM's order (r ascending, from 0.0f, then + carry), so on the
// stand-in the result is the standard path's bit for bit; on a GPU, to rounding.
// Pointers: whh [4H, H], cs [T+1, B, H], saved [T, B, 4H], dH [T, B, H] in/out, dc [B, H] in/out,
// dGx [T, B, 4H] out, dh0 [B, H] in/out (this direction's slice). Launch shape as forward.
extern "C" __global__ void rnn4j_persistent_lstm_backward(
        int steps, int batch, int hidden, int units, const int* lengths, const float* whh,
        const float* cs, const float* saved, float* dH, float* dc, float* dGx, float* dh0,
        float cellClip, int coupled) {
    extern __shared__ float wtSlice[];   // [units][4H]: row u is column j0 + u of W_hh
    cooperative_groups::grid_group grid = cooperative_groups::this_grid();
    const int H = hidden;
    const int G = 4 * H;
    const int j0 = blockIdx.x * units;
    const int owned = H - j0 < units ? H - j0 : units;

    for (long long e = threadIdx.x; e < (long long)owned * G; e += blockDim.x) {
        const int u = (int)(e / G);
        const int r = (int)(e - (long long)u * G);
        wtSlice[(long long)u * G + r] = whh[(long long)r * H + j0 + u];
    }
    __syncthreads();

    const long long state = (long long)batch * H;
    for (int t = steps - 1; t >= 0; t--) {
        for (int item = threadIdx.x; item < batch * owned; item += blockDim.x) {
            const int b = item / owned;
            const int j = j0 + item - b * owned;
            const long long at = (long long)b * H + j;
            const long long gates = ((long long)t * batch + b) * G + j;   // dGx and saved [T, B, 4H]
            if (!valid(lengths, b, t)) {
                dGx[gates + GATE_I * H] = 0.0f;
                dGx[gates + GATE_F * H] = 0.0f;
                dGx[gates + GATE_G * H] = 0.0f;
                dGx[gates + GATE_O * H] = 0.0f;
                continue;
            }
            const float i = saved[gates + GATE_I * H];
            const float f = saved[gates + GATE_F * H];
            const float g = saved[gates + GATE_G * H];
            const float og = saved[gates + GATE_O * H];
            const float cp = cs[t * state + at];
            const float c = cs[(t + 1) * state + at];
            const float dhv = dH[t * state + at];
            const float tc = tanhf(c);
            const float dpreO = dhv * tc * og * (1.0f - og);
            float dcTot = dc[at] + dhv * og * (1.0f - tc * tc) + 0.0f * dpreO;
            if (cellClip > 0.0f && fabsf(lstmCell(f, cp, i, g)) > cellClip) {
                dcTot = 0.0f;   // the clamp's gradient
            }
            float di = dcTot * g;
            const float dg = dcTot * i;
            const float df = dcTot * cp;
            float dpreF;
            if (coupled) {
                di -= df;
                dpreF = 0.0f;
            } else {
                dpreF = df * f * (1.0f - f);
            }
            const float dpreI = di * i * (1.0f - i);
            const float dpreG = dg * (1.0f - g * g);
            dc[at] = dcTot * f + 0.0f * dpreI + 0.0f * dpreF;
            dGx[gates + GATE_I * H] = dpreI;
            dGx[gates + GATE_F * H] = dpreF;
            dGx[gates + GATE_G * H] = dpreG;
            dGx[gates + GATE_O * H] = dpreO;
        }
        grid.sync();   // step t's dG of every unit is written before any CTA sums over it
        float* carry = t > 0 ? dH + (t - 1) * state : dh0;
        for (int item = threadIdx.x; item < batch * owned; item += blockDim.x) {
            const int b = item / owned;
            const int u = item - b * owned;
            const float* dg = dGx + ((long long)t * batch + b) * G;
            const float* w = wtSlice + (long long)u * G;
            float acc = 0.0f;
            for (int r = 0; r < G; r++) {
                acc += loadShared(dg + r) * w[r];
            }
            carry[(long long)b * H + j0 + u] = acc + carry[(long long)b * H + j0 + u];
        }
        __syncthreads();   // step t−1 reads dH[t−1] of this CTA's units, written by its other threads
    }
}
