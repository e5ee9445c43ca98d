// persistent.cu — the persistent recurrent kernels: one cooperative launch runs a whole sequence of
// one layer-direction, forward or backward (Persistent RNNs, Diamos et al. 2016), for LSTM, GRU
// (reset-after and reset-before) and the vanilla RNN (tanh, relu). Used by
// org.rnn4j.cuda.PersistentRecurrence where it applies (FP32, no peepholes, no projection, W_hh
// slices that fit shared memory, a grid that fits the device at once); the standard path (one SGEMM
// + the cell kernel per step) runs otherwise.
//
// What they compute: exactly the standard path's time loops (RecurrentLayer.runDirection and
// backDirection), in the direction's own step order (a reverse direction's input is already reversed
// per sample, so no kernel knows about directions). Each step is
//   hp[b, r] = Σ_c hPrev[b, c] · W_hh[r, c]        c = 0 … H−1 in order, from 0.0f
// followed by the cell kernel's pointwise step (lstm.cu, gru.cu, rnn.cu: same equations, the same
// common.cuh cell functions, -fmad=false); backward runs the cell's backward step, then
//   carry[b, j] = Σ_r dG[b, r] · W_hh[r, j] + carry[b, j]      r = 0 … G·H−1 in order, from 0.0f
// with carry = dH[t−1] (seeded with its output gradient) or, at t = 0, dh0. The dot products add in
// the order the stand-in's SGEMM does, so on the stand-in both paths agree bit for bit; real cuBLAS
// splits its sums differently, so on a GPU they agree to rounding (held against the CPU engine at the
// parity tests' tolerance). Per-sample lengths as in the cell kernels: a padded (b, t) carries the
// state, writes out = 0 and saved = 0 in forward, gate gradients 0 in backward.
//
// The reset-before GRU needs r ⊙ h_prev of every unit before its candidate's product
// (hp_n = (r ⊙ h_prev) · W_hnᵀ), so its forward meets at a second grid barrier inside each step;
// its backward likewise needs every unit's dG_n before tmp = dG_n · W_hn, and every unit's dG_r
// before the carry: two grid barriers per step. Every other kernel has one per step.
//
// State slots: hs, cs are [slots, B, H]; training (keep = 1) keeps every step, prev = t, next = t+1
// (slots = T+1); inference (keep = 0) ping-pongs prev = t mod 2, next = (t+1) mod 2. Slot 0 holds
// h0, c0 on entry. saved is [T, B, 4H] in training; in inference null, except for the reset-before
// GRU, which keeps its r, z, r ⊙ h_prev of the current step there ([1, B, 4H]).
//
// Launch shape: cooperative (cuLaunchCooperativeKernel), a 1-D grid of ceil(H / units) CTAs; CTA q
// owns hidden units j ∈ [q·units, min((q+1)·units, H)) and all G gates of them (G = 4 LSTM, 3 GRU,
// 1 RNN), so the cell step needs nothing from other CTAs. Forward keeps the W_hh rows of its units
// (rows k·H + j, all H columns) in dynamic shared memory, [G][units][H] floats; backward keeps
// W_hhᵀ's rows of its units (column j of W_hh, all G·H entries), [units][G·H] floats: G·4·units·H
// bytes either way, loaded once, kept for the whole sequence. Any block size (the host picks a
// multiple of 32, at most 256); threads stride over the CTA's (b, unit) pairs. The host checks
// co-residency (occupancy × SMs) and shared memory first and falls back on
// CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE.
//
// Every forward kernel takes the same parameters, and every backward kernel, as the cell kernels do
// (a cell ignores what it does not use). Shapes in elements; bih, bhh, saved, lengths may be null:
//   forward:  lengths [B] int32   xp [T, B, G·H]   whh [G·H, H]   bih, bhh [G·H]   hs, cs [slots, B, H]
//             out: row (t, b) at t·B·outLd + b·outLd, H wide      saved [T, B, 4H]
//   backward: whh [G·H, H]   hs, cs [T+1, B, H]   saved [T, B, 4H]   dH [T, B, H] in/out
//             dc [B, H] in/out (LSTM)   dGx [T, B, G·H] out   dGh [T, B, G·H] out (reset-after GRU,
//             which writes both; the other cells write dGx only)   dh0 [B, H] in/out
// 32-bit indices as the cell kernels (ABI.md, "Limits"); element offsets are 64-bit.
#include <cooperative_groups.h>

#include "common.cuh"

// A load of another CTA's data, written before the last grid barrier: through L2 (an SM's L1 is not
// coherent with other SMs' writes, and ping-pong slots reuse addresses).
__device__ __forceinline__ float loadShared(const float* p) {
#ifdef __CUDA_ARCH__
    return __ldcg(p);
#else
    return *p;
#endif
}

// The number of hidden units this CTA owns, from its first unit j0.
__device__ __forceinline__ int ownedUnits(int hidden, int units, int j0) {
    return hidden - j0 < units ? hidden - j0 : units;
}

// Forward slice: rows k·H + j0 + u (k < gates, u < owned) of whh [gates·H, H] into slice [gates][units][H].
__device__ __forceinline__ void loadRows(float* slice, const float* whh, int gates, int H, int units, int j0,
                                         int owned) {
    for (long long e = threadIdx.x; e < (long long)gates * owned * H; e += blockDim.x) {
        const int row = (int)(e / H);             // k·owned + u
        const int c = (int)(e - (long long)row * H);
        const int k = row / owned;
        const int u = row - k * owned;
        slice[((long long)k * units + u) * H + c] = whh[((long long)k * H + j0 + u) * H + c];
    }
    __syncthreads();
}

// Backward slice: W_hhᵀ's rows j0 + u, i.e. column j0 + u of whh [rows, H], into slice [owned][rows].
__device__ __forceinline__ void loadColumns(float* slice, const float* whh, int rows, int H, int j0, int owned) {
    for (long long e = threadIdx.x; e < (long long)owned * rows; e += blockDim.x) {
        const int u = (int)(e / rows);
        const int r = (int)(e - (long long)u * rows);
        slice[(long long)u * rows + r] = whh[(long long)r * H + j0 + u];
    }
    __syncthreads();
}

// Σ_c x[c]·w[c], c = 0 … n−1 in order from 0.0f (the stand-in SGEMM's order); x was written by other CTAs.
__device__ __forceinline__ float dotInOrder(const float* x, const float* w, int n) {
    float acc = 0.0f;
    for (int c = 0; c < n; c++) {
        acc += loadShared(x + c) * w[c];
    }
    return acc;
}

// The recurrent product of one gate: hp[b, k·H + j] from the CTA's forward slice.
__device__ __forceinline__ float gateProduct(const float* hRow, const float* slice, int k, int units, int u, int H) {
    return dotInOrder(hRow, slice + ((long long)k * units + u) * H, H);
}

// carry[b, j0+u] = Σ_r dG[b·ldG + r] · W_hh[r, j0+u] + carry[b, j0+u] over r < rows (the standard path's SGEMM
// with beta = 1) for the CTA's (b, u) pairs, W_hhᵀ's rows in wt [owned][ldW].
__device__ __forceinline__ void addRecurrentGrad(float* carry, const float* dG, int ldG, const float* wt, int ldW,
                                                 int rows, int batch, int H, int j0, int owned) {
    for (int item = threadIdx.x; item < batch * owned; item += blockDim.x) {
        const int b = item / owned;
        const int u = item - b * owned;
        const float acc = dotInOrder(dG + (long long)b * ldG, wt + (long long)u * ldW, rows);
        float* at = carry + (long long)b * H + j0 + u;
        *at = acc + *at;
    }
}

// The forward state slots of step t: training keeps every step, inference ping-pongs two.
__device__ __forceinline__ long long prevSlot(int t, int keep) {
    return keep ? t : t % 2;
}

__device__ __forceinline__ long long nextSlot(int t, int keep) {
    return keep ? t + 1 : (t + 1) % 2;
}

// Zeroes one (t, b, j)'s `gates` entries H apart from `first` (saved activations or gate gradients) of a
// padded step, where the buffer exists.
__device__ __forceinline__ void zeroGates(float* p, long long first, int gates, int H) {
    if (p != nullptr) {
        for (int k = 0; k < gates; k++) {
            p[first + (long long)k * H] = 0.0f;
        }
    }
}

// ================================================================ LSTM (G = 4): lstm.cu's cell, peep = 0

extern "C" __global__ void rnn4j_persistent_lstm_forward(
        int steps, int batch, int hidden, int units, const int* lengths,
        const float* xp, const float* whh, const float* bih, const float* bhh,
        float* hs, float* cs, float* out, int outLd, float* saved, int keep,
        float cellClip, int coupled, int relu) {
    extern __shared__ float wSlice[];   // [4][units][H]: row k·units + u is W_hh row k·H + j0 + u
    cooperative_groups::grid_group grid = cooperative_groups::this_grid();
    const int H = hidden;
    const int j0 = blockIdx.x * units;
    const int owned = ownedUnits(H, units, j0);
    loadRows(wSlice, whh, 4, H, units, j0, owned);

    const long long state = (long long)batch * H;   // one slot of hs / cs
    for (int t = 0; t < steps; t++) {
        const long long prev = prevSlot(t, keep) * state;
        const long long next = nextSlot(t, keep) * state;
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
                zeroGates(saved, sv, 4, H);
                continue;
            }
            const float* hRow = hs + prev + (long long)b * H;
            const long long row = ((long long)t * batch + b) * 4 * H;   // xp [T, B, 4H]
            float pre[4];
            for (int k = 0; k < 4; k++) {
                pre[k] = gatePre(xp[row + k * H + j], gateProduct(hRow, wSlice, k, units, u, H), bih, bhh, k * H + j);
            }
            const LstmForward s = lstmForwardCell(pre[GATE_I], pre[GATE_F], pre[GATE_G], pre[GATE_O], cs[prev + at],
                                                  0.0f, 0.0f, 0.0f, cellClip, coupled);
            cs[next + at] = s.c;
            hs[next + at] = s.h;
            out[o] = s.h;
            storeFour(saved, sv, H, s.i, s.f, s.g, s.o);
        }
        if (t + 1 < steps) {
            grid.sync();   // every CTA's h of step t is written before any CTA reads it at step t+1
        }
    }
}

// Backward, t = T−1 … 0: the cell's backward for the CTA's units (dGx[t], dc updated in place), a grid
// barrier (every unit's dG of step t is written), the carry over all 4H gate gradients, then a block
// barrier: step t−1 reads dH[t−1] of this CTA's own units only, written by its other threads; dGx of
// step t is not read again, so no grid barrier.
extern "C" __global__ void rnn4j_persistent_lstm_backward(
        int steps, int batch, int hidden, int units, const int* lengths, const float* whh,
        const float* hs, const float* cs, const float* saved, float* dH, float* dc, float* dGx, float* dGh,
        float* dh0, float cellClip, int coupled, int relu) {
    extern __shared__ float wtSlice[];   // [units][4H]: row u is column j0 + u of W_hh
    cooperative_groups::grid_group grid = cooperative_groups::this_grid();
    const int H = hidden;
    const int G = 4 * H;
    const int j0 = blockIdx.x * units;
    const int owned = ownedUnits(H, units, j0);
    loadColumns(wtSlice, whh, G, H, j0, owned);

    const long long state = (long long)batch * H;
    for (int t = steps - 1; t >= 0; t--) {
        for (int item = threadIdx.x; item < batch * owned; item += blockDim.x) {
            const int b = item / owned;
            const int j = j0 + item - b * owned;
            const long long at = (long long)b * H + j;
            const long long gates = ((long long)t * batch + b) * G + j;   // dGx and saved [T, B, 4H]
            if (!valid(lengths, b, t)) {
                zeroGates(dGx, gates, 4, H);
                continue;
            }
            const LstmBackward d = lstmBackwardCell(saved[gates + GATE_I * H], saved[gates + GATE_F * H],
                                                    saved[gates + GATE_G * H], saved[gates + GATE_O * H],
                                                    cs[t * state + at], cs[(t + 1) * state + at], dH[t * state + at],
                                                    dc[at], 0.0f, 0.0f, 0.0f, cellClip, coupled);
            dc[at] = d.dcPrev;
            storeFour(dGx, gates, H, d.dpreI, d.dpreF, d.dpreG, d.dpreO);
        }
        grid.sync();   // step t's dG of every unit is written before any CTA sums over it
        addRecurrentGrad(t > 0 ? dH + (t - 1) * state : dh0, dGx + (long long)t * batch * G, G, wtSlice, G, G,
                         batch, H, j0, owned);
        __syncthreads();   // step t−1 reads dH[t−1] of this CTA's units, written by its other threads
    }
}

// ================================================================ GRU reset-after (G = 3): gru.cu's rnn4j_gru_forward/backward

extern "C" __global__ void rnn4j_persistent_gru_forward(
        int steps, int batch, int hidden, int units, const int* lengths,
        const float* xp, const float* whh, const float* bih, const float* bhh,
        float* hs, float* cs, float* out, int outLd, float* saved, int keep,
        float cellClip, int coupled, int relu) {
    extern __shared__ float wSlice[];   // [3][units][H]
    cooperative_groups::grid_group grid = cooperative_groups::this_grid();
    const int H = hidden;
    const int j0 = blockIdx.x * units;
    const int owned = ownedUnits(H, units, j0);
    loadRows(wSlice, whh, 3, H, units, j0, owned);

    const long long state = (long long)batch * H;
    for (int t = 0; t < steps; t++) {
        const long long prev = prevSlot(t, keep) * state;
        const long long next = nextSlot(t, keep) * state;
        for (int item = threadIdx.x; item < batch * owned; item += blockDim.x) {
            const int b = item / owned;
            const int u = item - b * owned;
            const int j = j0 + u;
            const long long at = (long long)b * H + j;
            const long long o = (long long)t * batch * outLd + (long long)b * outLd + j;
            const long long sv = ((long long)t * batch + b) * SAVED * H + j;
            if (!valid(lengths, b, t)) {
                hs[next + at] = hs[prev + at];
                out[o] = 0.0f;
                zeroGates(saved, sv, SAVED, H);
                continue;
            }
            const float* hRow = hs + prev + (long long)b * H;
            const long long row = ((long long)t * batch + b) * 3 * H;   // xp [T, B, 3H]
            const int kn = GATE_N * H + j;
            const float r = sigmoidf(gatePre(xp[row + GATE_R * H + j], gateProduct(hRow, wSlice, GATE_R, units, u, H),
                                             bih, bhh, GATE_R * H + j));
            const float z = sigmoidf(gatePre(xp[row + GATE_Z * H + j], gateProduct(hRow, wSlice, GATE_Z, units, u, H),
                                             bih, bhh, GATE_Z * H + j));
            float hn;
            const float n = gruResetAfterCandidate(r, xp[row + kn], gateProduct(hRow, wSlice, GATE_N, units, u, H),
                                                   biasAt(bih, kn), biasAt(bhh, kn), &hn);
            const float h = gruBlend(z, n, hs[prev + at]);
            hs[next + at] = h;
            out[o] = h;
            storeFour(saved, sv, H, r, z, n, hn);
        }
        if (t + 1 < steps) {
            grid.sync();   // every CTA's h of step t before step t+1 reads it
        }
    }
}

// Backward as the LSTM's, the carry over dGh (whose n block is dpre_n·r).
extern "C" __global__ void rnn4j_persistent_gru_backward(
        int steps, int batch, int hidden, int units, const int* lengths, const float* whh,
        const float* hs, const float* cs, const float* saved, float* dH, float* dc, float* dGx, float* dGh,
        float* dh0, float cellClip, int coupled, int relu) {
    extern __shared__ float wtSlice[];   // [units][3H]
    cooperative_groups::grid_group grid = cooperative_groups::this_grid();
    const int H = hidden;
    const int G = 3 * H;
    const int j0 = blockIdx.x * units;
    const int owned = ownedUnits(H, units, j0);
    loadColumns(wtSlice, whh, G, H, j0, owned);

    const long long state = (long long)batch * H;
    for (int t = steps - 1; t >= 0; t--) {
        float* carry = t > 0 ? dH + (t - 1) * state : dh0;
        for (int item = threadIdx.x; item < batch * owned; item += blockDim.x) {
            const int b = item / owned;
            const int j = j0 + item - b * owned;
            const long long at = (long long)b * H + j;
            const long long gates = ((long long)t * batch + b) * G + j;              // dGx, dGh [T, B, 3H]
            const long long sv = ((long long)t * batch + b) * SAVED * H + j;        // saved [T, B, 4H]
            if (!valid(lengths, b, t)) {
                zeroGates(dGx, gates, 3, H);
                zeroGates(dGh, gates, 3, H);
                continue;
            }
            carry[at] += gruResetAfterBackward(dH[t * state + at], saved[sv + GATE_R * H], saved[sv + GATE_Z * H],
                                               saved[sv + GATE_N * H], saved[sv + GRU_SAVED_HN * H], hs[t * state + at],
                                               dGx, dGh, gates, H);
        }
        grid.sync();   // step t's dGh of every unit before any CTA sums over it
        addRecurrentGrad(carry, dGh + (long long)t * batch * G, G, wtSlice, G, G, batch, H, j0, owned);
        __syncthreads();   // step t−1 reads dH[t−1] of this CTA's units
    }
}

// ================================================================ GRU reset-before (G = 3): gru.cu's rnn4j_gru_rb_*

// Phase 1 (r, z, saved r ⊙ h_prev), a grid barrier, phase 2 (hp_n over every unit's r ⊙ h_prev, n, h).
extern "C" __global__ void rnn4j_persistent_gru_rb_forward(
        int steps, int batch, int hidden, int units, const int* lengths,
        const float* xp, const float* whh, const float* bih, const float* bhh,
        float* hs, float* cs, float* out, int outLd, float* saved, int keep,
        float cellClip, int coupled, int relu) {
    extern __shared__ float wSlice[];   // [3][units][H]
    cooperative_groups::grid_group grid = cooperative_groups::this_grid();
    const int H = hidden;
    const int j0 = blockIdx.x * units;
    const int owned = ownedUnits(H, units, j0);
    loadRows(wSlice, whh, 3, H, units, j0, owned);

    const long long state = (long long)batch * H;
    for (int t = 0; t < steps; t++) {
        const long long prev = prevSlot(t, keep) * state;
        const long long next = nextSlot(t, keep) * state;
        const long long savedStep = keep ? (long long)t * batch * SAVED * H : 0;   // inference: one step's
        for (int item = threadIdx.x; item < batch * owned; item += blockDim.x) {
            const int b = item / owned;
            const int u = item - b * owned;
            const int j = j0 + u;
            const long long sv = savedStep + (long long)b * SAVED * H + j;
            if (!valid(lengths, b, t)) {
                zeroGates(saved, sv, SAVED, H);
                continue;
            }
            const float* hRow = hs + prev + (long long)b * H;
            const long long row = ((long long)t * batch + b) * 3 * H;
            const float r = sigmoidf(gatePre(xp[row + GATE_R * H + j], gateProduct(hRow, wSlice, GATE_R, units, u, H),
                                             bih, bhh, GATE_R * H + j));
            const float z = sigmoidf(gatePre(xp[row + GATE_Z * H + j], gateProduct(hRow, wSlice, GATE_Z, units, u, H),
                                             bih, bhh, GATE_Z * H + j));
            saved[sv + GATE_R * H] = r;
            saved[sv + GATE_Z * H] = z;
            saved[sv + GRU_SAVED_HN * H] = r * hRow[j];
        }
        grid.sync();   // every unit's r ⊙ h_prev of step t before any CTA's candidate product
        for (int item = threadIdx.x; item < batch * owned; item += blockDim.x) {
            const int b = item / owned;
            const int u = item - b * owned;
            const int j = j0 + u;
            const long long at = (long long)b * H + j;
            const long long o = (long long)t * batch * outLd + (long long)b * outLd + j;
            const long long svRow = savedStep + (long long)b * SAVED * H;
            if (!valid(lengths, b, t)) {
                hs[next + at] = hs[prev + at];
                out[o] = 0.0f;
                continue;
            }
            const long long row = ((long long)t * batch + b) * 3 * H;
            const float hpN = gateProduct(saved + svRow + GRU_SAVED_HN * H, wSlice, GATE_N, units, u, H);
            const float n = tanhf(gatePre(xp[row + GATE_N * H + j], hpN, bih, bhh, GATE_N * H + j));
            const float h = gruBlend(saved[svRow + GATE_Z * H + j], n, hs[prev + at]);
            saved[svRow + GATE_N * H + j] = n;
            hs[next + at] = h;
            out[o] = h;
        }
        if (t + 1 < steps) {
            grid.sync();   // every CTA's h of step t (and its reads of r ⊙ h_prev) before step t+1
        }
    }
}

// Backward, t = T−1 … 0: the output phase (dG_z, dG_n, carry += dh·z), a grid barrier, the gates phase
// (tmp = Σ_c dG_n[b, c]·W_hn[c, j] over every unit's dG_n, dG_r, carry += tmp·r), a grid barrier, the carry
// over the r and z blocks (2H entries: the standard path's SGEMM of dG_rz · W_h(r|z)). dGx is dGh here.
extern "C" __global__ void rnn4j_persistent_gru_rb_backward(
        int steps, int batch, int hidden, int units, const int* lengths, const float* whh,
        const float* hs, const float* cs, const float* saved, float* dH, float* dc, float* dGx, float* dGh,
        float* dh0, float cellClip, int coupled, int relu) {
    extern __shared__ float wtSlice[];   // [units][3H]: W_h(r|z) columns, then W_hn's
    cooperative_groups::grid_group grid = cooperative_groups::this_grid();
    const int H = hidden;
    const int G = 3 * H;
    const int j0 = blockIdx.x * units;
    const int owned = ownedUnits(H, units, j0);
    loadColumns(wtSlice, whh, G, H, j0, owned);

    const long long state = (long long)batch * H;
    for (int t = steps - 1; t >= 0; t--) {
        float* carry = t > 0 ? dH + (t - 1) * state : dh0;
        for (int item = threadIdx.x; item < batch * owned; item += blockDim.x) {
            const int b = item / owned;
            const int j = j0 + item - b * owned;
            const long long at = (long long)b * H + j;
            const long long gates = ((long long)t * batch + b) * G + j;
            const long long sv = ((long long)t * batch + b) * SAVED * H + j;
            if (!valid(lengths, b, t)) {
                zeroGates(dGx, gates, 3, H);
                continue;
            }
            const float z = saved[sv + GATE_Z * H];
            const float dhv = dH[t * state + at];
            const GruBackward d = gruBackwardCell(dhv, z, saved[sv + GATE_N * H], hs[t * state + at]);
            dGx[gates + GATE_Z * H] = d.dpreZ;
            dGx[gates + GATE_N * H] = d.dpreN;
            carry[at] += dhv * z;
        }
        grid.sync();   // every unit's dG_n of step t before any CTA's tmp
        for (int item = threadIdx.x; item < batch * owned; item += blockDim.x) {
            const int b = item / owned;
            const int u = item - b * owned;
            const int j = j0 + u;
            if (!valid(lengths, b, t)) {
                continue;
            }
            const long long at = (long long)b * H + j;
            const long long dgRow = ((long long)t * batch + b) * G;
            const long long sv = ((long long)t * batch + b) * SAVED * H + j;
            const float r = saved[sv + GATE_R * H];
            const float tmp = dotInOrder(dGx + dgRow + GATE_N * H, wtSlice + (long long)u * G + GATE_N * H, H);
            dGx[dgRow + GATE_R * H + j] = gruResetBeforeDpreR(tmp, hs[t * state + at], r);
            carry[at] += tmp * r;
        }
        grid.sync();   // every unit's dG_r of step t before any CTA's carry
        addRecurrentGrad(carry, dGx + (long long)t * batch * G, G, wtSlice, G, 2 * H, batch, H, j0, owned);
        __syncthreads();   // step t−1 reads dH[t−1] of this CTA's units
    }
}

// ================================================================ vanilla RNN (G = 1): rnn.cu's cell, tanh or relu

extern "C" __global__ void rnn4j_persistent_rnn_forward(
        int steps, int batch, int hidden, int units, const int* lengths,
        const float* xp, const float* whh, const float* bih, const float* bhh,
        float* hs, float* cs, float* out, int outLd, float* saved, int keep,
        float cellClip, int coupled, int relu) {
    extern __shared__ float wSlice[];   // [1][units][H]
    cooperative_groups::grid_group grid = cooperative_groups::this_grid();
    const int H = hidden;
    const int j0 = blockIdx.x * units;
    const int owned = ownedUnits(H, units, j0);
    loadRows(wSlice, whh, 1, H, units, j0, owned);

    const long long state = (long long)batch * H;
    for (int t = 0; t < steps; t++) {
        const long long prev = prevSlot(t, keep) * state;
        const long long next = nextSlot(t, keep) * state;
        for (int item = threadIdx.x; item < batch * owned; item += blockDim.x) {
            const int b = item / owned;
            const int u = item - b * owned;
            const int j = j0 + u;
            const long long at = (long long)b * H + j;
            const long long o = (long long)t * batch * outLd + (long long)b * outLd + j;
            if (!valid(lengths, b, t)) {
                hs[next + at] = hs[prev + at];
                out[o] = 0.0f;
                continue;
            }
            const float hp = gateProduct(hs + prev + (long long)b * H, wSlice, 0, units, u, H);
            const float h = rnnActivation(gatePre(xp[(long long)t * state + at], hp, bih, bhh, j), relu);
            hs[next + at] = h;
            out[o] = h;
        }
        if (t + 1 < steps) {
            grid.sync();   // every CTA's h of step t before step t+1 reads it
        }
    }
}

extern "C" __global__ void rnn4j_persistent_rnn_backward(
        int steps, int batch, int hidden, int units, const int* lengths, const float* whh,
        const float* hs, const float* cs, const float* saved, float* dH, float* dc, float* dGx, float* dGh,
        float* dh0, float cellClip, int coupled, int relu) {
    extern __shared__ float wtSlice[];   // [units][H]
    cooperative_groups::grid_group grid = cooperative_groups::this_grid();
    const int H = hidden;
    const int j0 = blockIdx.x * units;
    const int owned = ownedUnits(H, units, j0);
    loadColumns(wtSlice, whh, H, H, j0, owned);

    const long long state = (long long)batch * H;
    for (int t = steps - 1; t >= 0; t--) {
        for (int item = threadIdx.x; item < batch * owned; item += blockDim.x) {
            const int b = item / owned;
            const long long at = (long long)b * H + j0 + item - b * owned;
            dGx[t * state + at] = valid(lengths, b, t) ? rnnActivationGrad(dH[t * state + at], hs[(t + 1) * state + at], relu)
                                                      : 0.0f;
        }
        grid.sync();   // step t's dG of every unit before any CTA sums over it
        addRecurrentGrad(t > 0 ? dH + (t - 1) * state : dh0, dGx + t * state, H, wtSlice, H, H, batch, H, j0, owned);
        __syncthreads();   // step t−1 reads dH[t−1] of this CTA's units
    }
}
