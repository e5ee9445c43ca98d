// rnn.cu — fused vanilla (Elman) RNN pointwise kernels of one time step, tanh or relu.
//
// B = batch, H = hidden; one thread per (b, j), j < H, 1-D grid of ceil(B*H / 256) blocks of 256
// threads; thread t handles b = t / H, j = t % H (coalesced). v = valid(lengths, b, step).
// 32-bit indices (t = b*H + j, gate columns k*H + j): B*H and 4H must stay <= 2^31-1, which
// CudaEngine checks before any launch (ABI.md, "Limits").
//
// rnn4j_rnn_forward:
//   pre = (xp[b,j] + hp[b,j]) + (bih[j] + bhh[j]);  h = relu ? max(pre, 0) : tanh(pre)
//   v:  hNext = h (when hNext), out = h;   !v: hNext = h_prev, out = 0
// rnn4j_rnn_backward (hNext is read: it holds h, the state this step produced):
//   v:  dGx[b,j] = dh·(relu ? (h > 0 ? 1 : 0) : 1 − h²);   !v: dGx[b,j] = 0
//
// Pointers (shapes in elements):
//   lengths [B] int32 or null     xp, hp [B, H]     bih, bhh [H] or null
//   hPrev, hNext [B, H] (hNext may be null in forward, or alias hPrev)    out rows outLd apart, H wide
//   dh [B, H] in     dGx [B, H] out
//   (peep, cPrev, cNext, saved, dc, dGh, dhPrev, tmp, cellClip, coupled unused)
#include "common.cuh"

extern "C" __global__ void rnn4j_rnn_forward(
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
    const long long o = (long long)b * outLd + j;

    if (!valid(lengths, b, step)) {
        if (hNext != nullptr) {
            hNext[state] = hPrev[state];
        }
        if (out != nullptr) {
            out[o] = 0.0f;
        }
        return;
    }

    const float pre = gatePre(xp, hp, bih, bhh, (long long)b * H, j);
    const float h = rnnActivation(pre, relu);
    if (hNext != nullptr) {
        hNext[state] = h;
    }
    if (out != nullptr) {
        out[o] = h;
    }
}

extern "C" __global__ void rnn4j_rnn_backward(
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

    if (!valid(lengths, b, step)) {
        dGx[state] = 0.0f;
        return;
    }
    dGx[state] = rnnActivationGrad(dh[state], hNext[state], relu);
}
