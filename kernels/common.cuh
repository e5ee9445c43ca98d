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

// A gate pre-activation as the CPU engine forms it (CpuCells.pre): (xp + hp) + (bih + bhh), the
// bias pair left out when the layer has none. xp, hp point at the sample's row, col = k*H + j.
__device__ __forceinline__ float gatePre(const float* xp, const float* hp, const float* bih, const float* bhh,
                                         long long row, int col) {
    float v = xp[row + col] + hp[row + col];
    if (bih != nullptr || bhh != nullptr) {
        v += (bih == nullptr ? 0.0f : bih[col]) + (bhh == nullptr ? 0.0f : bhh[col]);
    }
    return v;
}

// A bias entry, 0 when the layer has no bias.
__device__ __forceinline__ float biasAt(const float* bias, int k) {
    return bias == nullptr ? 0.0f : bias[k];
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
