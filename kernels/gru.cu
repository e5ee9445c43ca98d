// gru.cu — fused GRU pointwise kernels of one time step, both forms of the candidate n.
//
// Gate order r, z, n (PyTorch). B = batch, H = hidden; one thread per (b, j), j < H,
// 1-D grid of ceil(B*H / 256) blocks of 256 threads; thread t handles b = t / H, j = t % H
// (a warp reads consecutive j of a row: coalesced). v = valid(lengths, b, step).
// 32-bit indices (t = b*H + j, gate columns k*H + j): B*H and 4H must stay <= 2^31-1, which
// CudaEngine checks before any launch (ABI.md, "Limits").
// Bias terms are 0 where bih / bhh is null. saved is [B, 4H]: slots r, z, n and slot 3, which is
// hn = W_hn h + b_hn (reset-after) or r ⊙ h_prev (reset-before).
//
// Reset-after (cuDNN / PyTorch / Keras reset_after=True):
//   rnn4j_gru_forward:
//     r  = σ((xp_r + hp_r) + (bih_r + bhh_r));  z likewise
//     hn = hp_n + bhh_n;  n = tanh(xp_n + bih_n + r·hn);  h = (1−z)·n + z·h_prev
//     v:  hNext = h (when hNext), out = h, saved = (r, z, n, hn)
//     !v: hNext = h_prev, out = 0, saved = 0
//   rnn4j_gru_backward (reads dh, hPrev, saved):
//     dn = dh(1−z);  dz = dh(h_prev − n);  dpre_n = dn(1−n²);  dpre_r = dpre_n·hn·r(1−r);  dpre_z = dz·z(1−z)
//     v:  dGx = (dpre_r, dpre_z, dpre_n);  dGh = (dpre_r, dpre_z, dpre_n·r);  dhPrev += dh·z
//     !v: dGx = dGh = 0, dhPrev untouched          (dGx and dGh must be distinct buffers here)
//
// Reset-before (ONNX linear_before_reset=0, Keras reset_after=False), split around two GEMMs the
// host runs between the phases:
//   rnn4j_gru_rb_gates (hp holds the r and z blocks so far):
//     r = σ((xp_r + hp_r) + (bih_r + bhh_r));  z likewise
//     v:  saved_r = r, saved_z = z, saved_3 = r·h_prev;  !v: those three = 0
//     (host: hp_n = saved[:, 3H:4H] · W_hnᵀ)
//   rnn4j_gru_rb_output:
//     n = tanh((xp_n + hp_n) + (bih_n + bhh_n));  h = (1−z)·n + z·h_prev with z = saved_z
//     v:  saved_n = n, hNext = h (when hNext), out = h;  !v: saved_n = 0, hNext = h_prev, out = 0
//   rnn4j_gru_rb_backward_output (reads dh, hPrev, saved):
//     dpre_n = dh(1−z)(1−n²);  dpre_z = dh(h_prev − n)·z(1−z)
//     v:  dGx_n = dGh_n = dpre_n, dGx_z = dGh_z = dpre_z, dhPrev += dh·z
//     !v: dGx and dGh = 0 in all three blocks
//     (host: tmp = dGh[:, 2H:3H] · W_hn = d(r ⊙ h_prev))
//   rnn4j_gru_rb_backward_gates (reads tmp, hPrev, saved):
//     v:  dpre_r = tmp·h_prev·r(1−r);  dGx_r = dGh_r = dpre_r;  dhPrev += tmp·r
//     !v: nothing (phase 1 zeroed the row)
//   In the reset-before kernels dGx and dGh may be the same buffer (they get the same values).
//
// Pointers (shapes in elements):
//   lengths [B] int32 or null     xp, hp [B, 3H]     bih, bhh [3H] or null
//   hPrev, hNext [B, H] (hNext may be null or alias hPrev)      out rows outLd apart, H wide
//   saved [B, 4H] (null allowed in the reset-after forward: inference)
//   dh, tmp [B, H] in     dGx, dGh [B, 3H] out     dhPrev [B, H] in/out (+=)
//   (peep, cPrev, cNext, dc, cellClip, coupled, relu unused)
#include "common.cuh"

extern "C" __global__ void rnn4j_gru_forward(
        int batch, int hidden, int step, const int* lengths,
        const float* xp, const float* hp, const float* bih, const float* bhh, const float* peep,
        const float* hPrev, float* hNext, const float* cPrev, float* cNext,
        float* out, int outLd, float* saved,
        const float* dh, float* dc, float* dGx, float* dGh, float* dhPrev, const float* tmp,
        float cellClip, int coupled, int relu) {
    const int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= batch * hidden) {
        return;
    }
    const int H = hidden;
    const int b = t / H;
    const int j = t - b * H;
    const long long state = (long long)b * H + j;            // [B, H]
    const long long sv = (long long)b * SAVED * H + j;       // [B, 4H]
    const long long o = (long long)b * outLd + j;

    if (!valid(lengths, b, step)) {
        if (hNext != nullptr) {
            hNext[state] = hPrev[state];
        }
        if (out != nullptr) {
            out[o] = 0.0f;
        }
        if (saved != nullptr) {
            saved[sv + GATE_R * H] = 0.0f;
            saved[sv + GATE_Z * H] = 0.0f;
            saved[sv + GATE_N * H] = 0.0f;
            saved[sv + GRU_SAVED_HN * H] = 0.0f;
        }
        return;
    }

    const long long row = (long long)b * 3 * H;              // [B, 3H]
    const int kn = GATE_N * H + j;
    const float r = sigmoidf(gatePre(xp, hp, bih, bhh, row, GATE_R * H + j));
    const float z = sigmoidf(gatePre(xp, hp, bih, bhh, row, GATE_Z * H + j));
    float hn;
    const float n = gruResetAfterCandidate(r, xp[row + kn], hp[row + kn], biasAt(bih, kn), biasAt(bhh, kn), &hn);
    const float h = gruBlend(z, n, hPrev[state]);

    if (hNext != nullptr) {
        hNext[state] = h;
    }
    if (out != nullptr) {
        out[o] = h;
    }
    storeFour(saved, sv, H, r, z, n, hn);   // GATE_R, GATE_Z, GATE_N, GRU_SAVED_HN
}

extern "C" __global__ void rnn4j_gru_backward(
        int batch, int hidden, int step, const int* lengths,
        const float* xp, const float* hp, const float* bih, const float* bhh, const float* peep,
        const float* hPrev, float* hNext, const float* cPrev, float* cNext,
        float* out, int outLd, float* saved,
        const float* dh, float* dc, float* dGx, float* dGh, float* dhPrev, const float* tmp,
        float cellClip, int coupled, int relu) {
    const int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= batch * hidden) {
        return;
    }
    const int H = hidden;
    const int b = t / H;
    const int j = t - b * H;
    const long long state = (long long)b * H + j;            // [B, H]
    const long long gates = (long long)b * 3 * H + j;        // [B, 3H]
    const long long sv = (long long)b * SAVED * H + j;       // [B, 4H]

    if (!valid(lengths, b, step)) {
        dGx[gates + GATE_R * H] = 0.0f;
        dGx[gates + GATE_Z * H] = 0.0f;
        dGx[gates + GATE_N * H] = 0.0f;
        dGh[gates + GATE_R * H] = 0.0f;
        dGh[gates + GATE_Z * H] = 0.0f;
        dGh[gates + GATE_N * H] = 0.0f;
        return;
    }

    const float r = saved[sv + GATE_R * H];
    const float z = saved[sv + GATE_Z * H];
    const float n = saved[sv + GATE_N * H];
    const float hn = saved[sv + GRU_SAVED_HN * H];
    const float dhv = dh[state];
    const float hp0 = hPrev[state];

    dhPrev[state] += gruResetAfterBackward(dhv, r, z, n, hn, hp0, dGx, dGh, gates, H);
}

extern "C" __global__ void rnn4j_gru_rb_gates(
        int batch, int hidden, int step, const int* lengths,
        const float* xp, const float* hp, const float* bih, const float* bhh, const float* peep,
        const float* hPrev, float* hNext, const float* cPrev, float* cNext,
        float* out, int outLd, float* saved,
        const float* dh, float* dc, float* dGx, float* dGh, float* dhPrev, const float* tmp,
        float cellClip, int coupled, int relu) {
    const int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= batch * hidden) {
        return;
    }
    const int H = hidden;
    const int b = t / H;
    const int j = t - b * H;
    const long long state = (long long)b * H + j;            // [B, H]
    const long long sv = (long long)b * SAVED * H + j;       // [B, 4H]

    if (!valid(lengths, b, step)) {
        saved[sv + GATE_R * H] = 0.0f;
        saved[sv + GATE_Z * H] = 0.0f;
        saved[sv + GRU_SAVED_HN * H] = 0.0f;
        return;
    }

    const long long row = (long long)b * 3 * H;              // [B, 3H]
    const float r = sigmoidf(gatePre(xp, hp, bih, bhh, row, GATE_R * H + j));
    const float z = sigmoidf(gatePre(xp, hp, bih, bhh, row, GATE_Z * H + j));
    saved[sv + GATE_R * H] = r;
    saved[sv + GATE_Z * H] = z;
    saved[sv + GRU_SAVED_HN * H] = r * hPrev[state];
}

extern "C" __global__ void rnn4j_gru_rb_output(
        int batch, int hidden, int step, const int* lengths,
        const float* xp, const float* hp, const float* bih, const float* bhh, const float* peep,
        const float* hPrev, float* hNext, const float* cPrev, float* cNext,
        float* out, int outLd, float* saved,
        const float* dh, float* dc, float* dGx, float* dGh, float* dhPrev, const float* tmp,
        float cellClip, int coupled, int relu) {
    const int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= batch * hidden) {
        return;
    }
    const int H = hidden;
    const int b = t / H;
    const int j = t - b * H;
    const long long state = (long long)b * H + j;            // [B, H]
    const long long sv = (long long)b * SAVED * H + j;       // [B, 4H]
    const long long o = (long long)b * outLd + j;

    if (!valid(lengths, b, step)) {
        saved[sv + GATE_N * H] = 0.0f;
        if (hNext != nullptr) {
            hNext[state] = hPrev[state];
        }
        if (out != nullptr) {
            out[o] = 0.0f;
        }
        return;
    }

    const long long row = (long long)b * 3 * H;              // [B, 3H]
    const float n = tanhf(gatePre(xp, hp, bih, bhh, row, GATE_N * H + j));
    const float z = saved[sv + GATE_Z * H];
    const float h = gruBlend(z, n, hPrev[state]);
    saved[sv + GATE_N * H] = n;
    if (hNext != nullptr) {
        hNext[state] = h;
    }
    if (out != nullptr) {
        out[o] = h;
    }
}

extern "C" __global__ void rnn4j_gru_rb_backward_output(
        int batch, int hidden, int step, const int* lengths,
        const float* xp, const float* hp, const float* bih, const float* bhh, const float* peep,
        const float* hPrev, float* hNext, const float* cPrev, float* cNext,
        float* out, int outLd, float* saved,
        const float* dh, float* dc, float* dGx, float* dGh, float* dhPrev, const float* tmp,
        float cellClip, int coupled, int relu) {
    const int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= batch * hidden) {
        return;
    }
    const int H = hidden;
    const int b = t / H;
    const int j = t - b * H;
    const long long state = (long long)b * H + j;            // [B, H]
    const long long gates = (long long)b * 3 * H + j;        // [B, 3H]
    const long long sv = (long long)b * SAVED * H + j;       // [B, 4H]

    if (!valid(lengths, b, step)) {
        dGx[gates + GATE_R * H] = 0.0f;
        dGx[gates + GATE_Z * H] = 0.0f;
        dGx[gates + GATE_N * H] = 0.0f;
        dGh[gates + GATE_R * H] = 0.0f;
        dGh[gates + GATE_Z * H] = 0.0f;
        dGh[gates + GATE_N * H] = 0.0f;
        return;
    }

    const float z = saved[sv + GATE_Z * H];
    const float n = saved[sv + GATE_N * H];
    const float dhv = dh[state];
    const float hp0 = hPrev[state];

    const GruBackward d = gruBackwardCell(dhv, z, n, hp0);

    dGx[gates + GATE_Z * H] = d.dpreZ;
    dGx[gates + GATE_N * H] = d.dpreN;
    dGh[gates + GATE_Z * H] = d.dpreZ;
    dGh[gates + GATE_N * H] = d.dpreN;
    dhPrev[state] += dhv * z;
}

extern "C" __global__ void rnn4j_gru_rb_backward_gates(
        int batch, int hidden, int step, const int* lengths,
        const float* xp, const float* hp, const float* bih, const float* bhh, const float* peep,
        const float* hPrev, float* hNext, const float* cPrev, float* cNext,
        float* out, int outLd, float* saved,
        const float* dh, float* dc, float* dGx, float* dGh, float* dhPrev, const float* tmp,
        float cellClip, int coupled, int relu) {
    const int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= batch * hidden) {
        return;
    }
    const int H = hidden;
    const int b = t / H;
    const int j = t - b * H;
    if (!valid(lengths, b, step)) {
        return;
    }
    const long long state = (long long)b * H + j;            // [B, H]
    const long long gates = (long long)b * 3 * H + j;        // [B, 3H]
    const long long sv = (long long)b * SAVED * H + j;       // [B, 4H]

    const float r = saved[sv + GATE_R * H];
    const float d = tmp[state];
    const float hp0 = hPrev[state];
    const float dpreR = gruResetBeforeDpreR(d, hp0, r);
    dGx[gates + GATE_R * H] = dpreR;
    dGh[gates + GATE_R * H] = dpreR;
    dhPrev[state] += d * r;
}
