// lstm.cu — fused LSTM pointwise kernels of one time step, and the peephole weight gradient.
//
// Gate order i, f, g, o (PyTorch). B = batch, H = hidden; one thread per (b, j), j < H,
// 1-D grid of ceil(B*H / 256) blocks of 256 threads; thread t handles b = t / H, j = t % H, so a
// warp reads consecutive j of a row (coalesced).
// 32-bit indices (t = b*H + j, gate columns k*H + j): B*H and 4H must stay <= 2^31-1, which
// CudaEngine checks before any launch (ABI.md, "Limits").
//
// Forward (rnn4j_lstm_forward), v = valid(lengths, b, step):
//   pre_k = (xp[b,kH+j] + hp[b,kH+j]) + (bih[kH+j] + bhh[kH+j])      k = i, f, g, o
//   i = σ(pre_i + p_i·c_prev)            p_i = peep[j], p_f = peep[H+j], p_o = peep[2H+j] (0: no peep)
//   f = coupled ? 1 − i : σ(pre_f + p_f·c_prev)
//   g = tanh(pre_g)
//   c = f·c_prev + i·g;  c = clamp(c, −cellClip, cellClip) when cellClip > 0
//   o = σ(pre_o + p_o·c)
//   h = o·tanh(c)
//   v:  cNext = c, hNext = h (when hNext), out = h, saved = (i, f, g, o)
//   !v: cNext = cPrev, hNext = hPrev, out = 0, saved = 0
//
// Backward (rnn4j_lstm_backward), with c the state of this step (cNext) and c_prev = cPrev:
//   dpre_o = dh·tanh(c)·o(1−o)
//   dc_tot = dc + dh·o·(1 − tanh²(c)) + p_o·dpre_o;   dc_tot = 0 where the clip was active
//   di = dc_tot·g;  dg = dc_tot·i;  df = dc_tot·c_prev
//   coupled: di −= df, dpre_f = 0;  otherwise dpre_f = df·f(1−f)
//   dpre_i = di·i(1−i);  dpre_g = dg·(1−g²)
//   v:  dc = dc_tot·f + p_i·dpre_i + p_f·dpre_f;  dGx[b, kH+j] = dpre_k
//   !v: dGx[b, :] = 0 for this j, dc unchanged
//
// Pointers (shapes in elements; bih, bhh, peep, hNext, saved may be null):
//   lengths [B] int32 or null       xp, hp [B, 4H]        bih, bhh [4H]       peep [3H] (i, f, o)
//   hPrev, hNext, cPrev, cNext [B, H] (hNext may alias hPrev, cNext may alias cPrev)
//   out     rows outLd apart, H wide                     saved [B, 4H] (i, f, g, o)
//   dh [B, H] in      dc [B, H] in/out      dGx [B, 4H] out      (dGh, dhPrev, tmp unused)
//
// Peephole gradient, phase 1 (rnn4j_lstm_peephole_chunks), dG [rows, 4H], cPrev and c [rows, H]:
//   partial[q, 0H+j] = Σ dG[r, iH+j]·cPrev[r,j]
//   partial[q, 1H+j] = Σ dG[r, fH+j]·cPrev[r,j]
//   partial[q, 2H+j] = Σ dG[r, oH+j]·c[r,j]
//   over the rows r of chunk q (ROW_CHUNK rows, in order, from the first; each product rounded, as
//   -fmad=false and Java do), partial [chunks, 3H]; one work item per (q, k), a grid-stride loop.
//   Phase 2 is sequence.cu's rnn4j_add_chunk_sums into dPeep [3H]: CpuEngine.lstmPeepholeGrad's order.
#include "common.cuh"

extern "C" __global__ void rnn4j_lstm_forward(
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
        cNext[state] = cPrev[state];
        if (hNext != nullptr) {
            hNext[state] = hPrev[state];
        }
        if (out != nullptr) {
            out[o] = 0.0f;
        }
        if (saved != nullptr) {
            saved[sv + GATE_I * H] = 0.0f;
            saved[sv + GATE_F * H] = 0.0f;
            saved[sv + GATE_G * H] = 0.0f;
            saved[sv + GATE_O * H] = 0.0f;
        }
        return;
    }

    const long long row = (long long)b * 4 * H;              // [B, 4H]
    const float cp = cPrev[state];
    const float pI = peep == nullptr ? 0.0f : peep[j];
    const float pF = peep == nullptr ? 0.0f : peep[H + j];
    const float pO = peep == nullptr ? 0.0f : peep[2 * H + j];

    // Peephole terms are added as the CPU adds them: with peep == null they are + 0·c, a no-op.
    const LstmForward s = lstmForwardCell(gatePre(xp, hp, bih, bhh, row, GATE_I * H + j),
                                          gatePre(xp, hp, bih, bhh, row, GATE_F * H + j),
                                          gatePre(xp, hp, bih, bhh, row, GATE_G * H + j),
                                          gatePre(xp, hp, bih, bhh, row, GATE_O * H + j), cp, pI, pF, pO, cellClip, coupled);

    cNext[state] = s.c;
    if (hNext != nullptr) {
        hNext[state] = s.h;
    }
    if (out != nullptr) {
        out[o] = s.h;
    }
    storeFour(saved, sv, H, s.i, s.f, s.g, s.o);   // GATE_I … GATE_O
}

extern "C" __global__ void rnn4j_lstm_backward(
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
    const long long gates = (long long)b * 4 * H + j;        // [B, 4H]
    const long long sv = (long long)b * SAVED * H + j;       // [B, 4H]

    if (!valid(lengths, b, step)) {
        dGx[gates + GATE_I * H] = 0.0f;
        dGx[gates + GATE_F * H] = 0.0f;
        dGx[gates + GATE_G * H] = 0.0f;
        dGx[gates + GATE_O * H] = 0.0f;
        return;
    }

    const float i = saved[sv + GATE_I * H];
    const float f = saved[sv + GATE_F * H];
    const float g = saved[sv + GATE_G * H];
    const float og = saved[sv + GATE_O * H];
    const float cp = cPrev[state];
    const float c = cNext[state];
    const float dhv = dh[state];
    const float pI = peep == nullptr ? 0.0f : peep[j];
    const float pF = peep == nullptr ? 0.0f : peep[H + j];
    const float pO = peep == nullptr ? 0.0f : peep[2 * H + j];

    const LstmBackward d = lstmBackwardCell(i, f, g, og, cp, c, dhv, dc[state], pI, pF, pO, cellClip, coupled);
    dc[state] = d.dcPrev;
    storeFour(dGx, gates, H, d.dpreI, d.dpreF, d.dpreG, d.dpreO);
}

extern "C" __global__ void rnn4j_lstm_peephole_chunks(
        int rows, int hidden, const float* dG, const float* cPrev, const float* c, float* partial) {
    const int H = hidden;
    const long long width = 3LL * H;
    const long long chunks = ((long long)rows + ROW_CHUNK - 1) / ROW_CHUNK;
    for (long long e = gridIndex(); e < chunks * width; e += gridStride()) {   // e indexes partial [chunks, 3H]
        const long long q = e / width;
        const int k = (int)(e - q * width);
        const int which = k / H;                 // 0: i (sees c_prev), 1: f (c_prev), 2: o (c)
        const int j = k - which * H;
        const int gate = which == 2 ? GATE_O : which;
        const float* st = (which == 2 ? c : cPrev) + j;
        const float* col = dG + (long long)gate * H + j;
        const long long begin = chunkBegin(q);
        const long long end = chunkEnd(q, rows);
        float acc = col[begin * 4 * H] * st[begin * H];
#pragma unroll 4
        for (long long r = begin + 1; r < end; r++) {
            acc += col[r * 4 * H] * st[r * H];
        }
        partial[e] = acc;
    }
}
