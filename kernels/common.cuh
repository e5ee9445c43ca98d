// common.cuh — device helpers shared by every rnn4j kernel file.
//
// Conventions (see kernels/README.md and kernels/ABI.md):
//   * Pointers are device pointers already offset by the host to their first element; an absent
//     buffer arrives as nullptr. Row-major, rightmost dimension fastest, sizes in elements.
//   * No checking on the device: the host (org.rnn4j.cuda.CudaEngine) validates shapes and checks
//     every launch. Kernels only guard their index range and the buffers that may be null.
//   * No atomics anywhere: every reduction has a fixed order, so results are the same run to run.
//   * Accurate math (expf, tanhf, logf, IEEE division), no fast-math, and the build passes
//     -fmad=false, so element-wise arithmetic rounds like Java's float arithmetic and the CUDA
//     engine agrees with the CPU engine to about 1e-5 relative.
#pragma once

#include <math.h>

// Named gate blocks: a row of xp / hp / dGx / dGh is G*H wide, gate k at columns [k*H, (k+1)*H).
enum LstmGate { GATE_I = 0, GATE_F = 1, GATE_G = 2, GATE_O = 3 };   // LSTM, G = 4 (PyTorch order)
enum GruGate { GATE_R = 0, GATE_Z = 1, GATE_N = 2 };               // GRU,  G = 3 (PyTorch order)

// Saved activations per unit (StepArgs.saved is [B, SAVED*H]).
enum { SAVED = 4 };
enum { GRU_SAVED_HN = 3 };   // GRU slot 3: W_hn h + b_hn (reset-after) or r ⊙ h_prev (reset-before)

// Threads per block of every 1-D launch (cells, element-wise, row kernels).
enum { BLOCK = 256 };

// Fixed grid of rnn4j_sum_squares (the host adds the per-block partials in order).
enum { SUM_SQUARES_BLOCKS = 256 };

// Rows per chunk of the two-phase column sums (sumRows, lstmPeepholeGrad), = Engine.ROW_CHUNK:
// phase 1 sums each chunk's rows in order, starting from its first row, into a workspace
// [chunks, cols]; phase 2 (rnn4j_add_chunk_sums) adds the chunk sums to dst in chunk order.
// CpuEngine adds in exactly this order, so both engines give the same floats.
enum { ROW_CHUNK = 64 };

// Rows [r0, r1) of chunk q of a column sum over `rows` rows.
__device__ __forceinline__ long long chunkBegin(long long q) {
    return q * ROW_CHUNK;
}

__device__ __forceinline__ long long chunkEnd(long long q, int rows) {
    const long long end = (q + 1) * ROW_CHUNK;
    return end < rows ? end : rows;
}

__device__ __forceinline__ float sigmoidf(float x) {
    return 1.0f / (1.0f + expf(-x));
}

// LSTM: the unclipped new cell state f·c_prev + i·g. Forward and backward both call it, so the
// backward's "was the clip active" test sees exactly the value the forward clamped.
__device__ __forceinline__ float lstmCell(float f, float cPrev, float i, float g) {
    return f * cPrev + i * g;
}

// Sample b takes part in step `step`: lengths == null means every sample has the full length.
__device__ __forceinline__ bool valid(const int* lengths, int b, int step) {
    return lengths == nullptr || step < lengths[b];
}

// A bias entry, 0 when the layer has no bias.
__device__ __forceinline__ float biasAt(const float* bias, int k) {
    return bias == nullptr ? 0.0f : bias[k];
}

// A gate pre-activation as the CPU engine forms it (CpuCells.pre): (xp + hp) + (bih + bhh), the
// bias pair left out when the layer has none; col = k*H + j. The persistent kernels hold hp in a register.
__device__ __forceinline__ float gatePre(float xpv, float hpv, const float* bih, const float* bhh, int col) {
    float v = xpv + hpv;
    if (bih != nullptr || bhh != nullptr) {
        v += biasAt(bih, col) + biasAt(bhh, col);
    }
    return v;
}

// The same with xp, hp pointing at the sample's row (the cell kernels).
__device__ __forceinline__ float gatePre(const float* xp, const float* hp, const float* bih, const float* bhh,
                                         long long row, int col) {
    return gatePre(xp[row + col], hp[row + col], bih, bhh, col);
}

// Java's Math.max / Math.min on floats, which the CPU engine calls: a NaN in either argument wins,
// and −0 counts as smaller than +0 (fmaxf/fminf drop a NaN; a plain comparison has −0 == +0).
__device__ __forceinline__ float javaMax(float a, float b) {
    if (a != a) {
        return a;
    }
    if (a == 0.0f && b == 0.0f) {
        return signbit(a) ? b : a;
    }
    return a >= b ? a : b;
}

__device__ __forceinline__ float javaMin(float a, float b) {
    if (a != a) {
        return a;
    }
    if (a == 0.0f && b == 0.0f) {
        return signbit(b) ? b : a;
    }
    return a <= b ? a : b;
}

// Math.min(Math.max(x, lo), hi), bit for bit: NaN stays NaN (the CUDA engine's non-finite check
// must see what the CPU engine sees), clamp(−0, 0, 1) is +0 and clamp(+0, −1, −0) is −0.
__device__ __forceinline__ float clampf(float x, float lo, float hi) {
    return javaMin(javaMax(x, lo), hi);
}

// ---------------------------------------------------------------- cell arithmetic
// One (b, j)'s cell step, shared by the per-step cell kernels (lstm.cu, gru.cu, rnn.cu) and the
// persistent kernels (persistent.cu), so that both paths compute the same floats from the same
// pre-activations. The equations are in the cell files' headers.

// Stores one (b, j)'s four per-unit values H apart from `first` (saved activations, LSTM gate gradients),
// where the buffer exists.
__device__ __forceinline__ void storeFour(float* p, long long first, int H, float v0, float v1, float v2, float v3) {
    if (p != nullptr) {
        p[first] = v0;
        p[first + H] = v1;
        p[first + 2LL * H] = v2;
        p[first + 3LL * H] = v3;
    }
}

// LSTM forward from the four pre-activations (bias included, peephole terms not), with the
// peephole weights p_i, p_f, p_o (0 without peepholes: + 0·c is then a no-op, as on the CPU).
struct LstmForward {
    float i, f, g, o, c, h;
};

__device__ __forceinline__ LstmForward lstmForwardCell(float preI, float preF, float preG, float preO, float cPrev,
                                                       float pI, float pF, float pO, float cellClip, int coupled) {
    LstmForward s;
    s.i = sigmoidf(preI + pI * cPrev);
    s.f = coupled ? 1.0f - s.i : sigmoidf(preF + pF * cPrev);
    s.g = tanhf(preG);
    s.c = lstmCell(s.f, cPrev, s.i, s.g);
    if (cellClip > 0.0f) {
        s.c = clampf(s.c, -cellClip, cellClip);
    }
    s.o = sigmoidf(preO + pO * s.c);
    s.h = s.o * tanhf(s.c);
    return s;
}

// LSTM backward from the saved gates, c_prev, c (this step's state), dh and the incoming dc:
// the four gate gradients and the dc passed to the step before.
struct LstmBackward {
    float dpreI, dpreF, dpreG, dpreO, dcPrev;
};

__device__ __forceinline__ LstmBackward lstmBackwardCell(float i, float f, float g, float og, float cPrev, float c,
                                                         float dh, float dc, float pI, float pF, float pO,
                                                         float cellClip, int coupled) {
    LstmBackward d;
    const float tc = tanhf(c);
    d.dpreO = dh * tc * og * (1.0f - og);
    float dcTot = dc + dh * og * (1.0f - tc * tc) + pO * d.dpreO;
    if (cellClip > 0.0f && fabsf(lstmCell(f, cPrev, i, g)) > cellClip) {
        dcTot = 0.0f;   // the clamp's gradient
    }
    float di = dcTot * g;
    const float dg = dcTot * i;
    const float df = dcTot * cPrev;
    if (coupled) {
        di -= df;
        d.dpreF = 0.0f;
    } else {
        d.dpreF = df * f * (1.0f - f);
    }
    d.dpreI = di * i * (1.0f - i);
    d.dpreG = dg * (1.0f - g * g);
    d.dcPrev = dcTot * f + pI * d.dpreI + pF * d.dpreF;
    return d;
}

// GRU, both forms: the new state from the update gate z, the candidate n and h_prev.
__device__ __forceinline__ float gruBlend(float z, float n, float hPrev) {
    return (1.0f - z) * n + z * hPrev;
}

// GRU reset-after candidate: hn = hp_n + b_hn, n = tanh(xp_n + b_in + r·hn); returns n, sets *hn.
__device__ __forceinline__ float gruResetAfterCandidate(float r, float xpN, float hpN, float bihN, float bhhN,
                                                        float* hn) {
    *hn = hpN + bhhN;
    return tanhf(xpN + bihN + r * *hn);
}

// GRU backward, both forms: the gradients of the candidate's and the update gate's pre-activations.
struct GruBackward {
    float dpreN, dpreZ;
};

__device__ __forceinline__ GruBackward gruBackwardCell(float dh, float z, float n, float hPrev) {
    GruBackward d;
    const float dn = dh * (1.0f - z);
    d.dpreN = dn * (1.0f - n * n);
    d.dpreZ = dh * (hPrev - n) * z * (1.0f - z);
    return d;
}

// GRU reset-after backward of one (b, j) from its saved r, z, n, hn and h_prev: writes dGx = (dpre_r, dpre_z,
// dpre_n) and dGh = (dpre_r, dpre_z, dpre_n·r) at gate column `at` + k·H; returns dh·z, dh_prev's share.
__device__ __forceinline__ float gruResetAfterBackward(float dh, float r, float z, float n, float hn, float hPrev,
                                                       float* dGx, float* dGh, long long at, int H) {
    const GruBackward d = gruBackwardCell(dh, z, n, hPrev);
    const float dpreR = d.dpreN * hn * r * (1.0f - r);
    dGx[at + GATE_R * H] = dpreR;
    dGx[at + GATE_Z * H] = d.dpreZ;
    dGx[at + GATE_N * H] = d.dpreN;
    dGh[at + GATE_R * H] = dpreR;
    dGh[at + GATE_Z * H] = d.dpreZ;
    dGh[at + GATE_N * H] = d.dpreN * r;
    return dh * z;
}

// GRU reset-before backward: the reset gate's gradient from d = d(r ⊙ h_prev).
__device__ __forceinline__ float gruResetBeforeDpreR(float d, float hPrev, float r) {
    return d * hPrev * r * (1.0f - r);
}

// Vanilla RNN: the activation (Math.max(pre, 0f) for relu, NaN stays NaN) and its gradient from h.
__device__ __forceinline__ float rnnActivation(float pre, int relu) {
    return relu ? (pre <= 0.0f ? 0.0f : pre) : tanhf(pre);
}

__device__ __forceinline__ float rnnActivationGrad(float dh, float h, int relu) {
    return dh * (relu ? (h > 0.0f ? 1.0f : 0.0f) : 1.0f - h * h);
}

// Global thread index and stride of a 1-D grid-stride loop over 64-bit element counts.
__device__ __forceinline__ long long gridIndex() {
    return (long long)blockIdx.x * blockDim.x + threadIdx.x;
}

__device__ __forceinline__ long long gridStride() {
    return (long long)gridDim.x * blockDim.x;
}

// org.rnn4j.engine.Dropout.uniform, bit for bit: the SplitMix64 finaliser of (seed, index),
// 24 random bits as a float in [0, 1). Unsigned wrap-around equals Java's signed long arithmetic,
// and >> on an unsigned value is Java's >>>. Host-callable so that tests can check it on the CPU.
__host__ __device__ __forceinline__ float dropoutUniform(unsigned long long seed, long long index) {
    unsigned long long z = seed + ((unsigned long long)index + 1ULL) * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z = z ^ (z >> 31);
    return (float)(z >> 40) * 0x1.0p-24f;   // z >> 40 < 2^24: exact in float, as in Java
}

// Block-wide max of v over BLOCK threads (fixed tree); every thread gets the result.
__device__ __forceinline__ float blockMax(float v, float* sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (unsigned half = BLOCK / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) {
            const float a = sh[threadIdx.x], b = sh[threadIdx.x + half];
            sh[threadIdx.x] = (b > a || b != b) ? b : a;   // a NaN wins, as in Math.max
        }
        __syncthreads();
    }
    const float r = sh[0];
    __syncthreads();
    return r;
}

// Block-wide sum of v over BLOCK threads (fixed tree); every thread gets the result.
__device__ __forceinline__ double blockSum(double v, double* sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (unsigned half = BLOCK / 2; half > 0; half /= 2) {
        if (threadIdx.x < half) {
            sh[threadIdx.x] += sh[threadIdx.x + half];
        }
        __syncthreads();
    }
    const double r = sh[0];
    __syncthreads();
    return r;
}

// The shift and normaliser of a softmax over x[0 .. n) by one block, shared by train.cu's cross-entropy and
// tensor.cu's masked softmax: *rowMax = max x (a NaN wins) and the return value Σ expf(x_c − max) in double,
// both by fixed-order trees.
__device__ __forceinline__ double blockSoftmaxSum(const float* x, long long n, float* rowMax, float* shMax,
                                                  double* shSum) {
    float m = -INFINITY;
    for (long long c = threadIdx.x; c < n; c += BLOCK) {
        const float v = x[c];
        m = (v > m || v != v) ? v : m;
    }
    const float mx = blockMax(m, shMax);
    double s = 0.0;
    for (long long c = threadIdx.x; c < n; c += BLOCK) {
        s += (double)expf(x[c] - mx);
    }
    *rowMax = mx;
    return blockSum(s, shSum);
}
