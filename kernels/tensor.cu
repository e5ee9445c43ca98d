// tensor.cu — the tensor operations under attention and encoder–decoder models (org.rnn4j.TensorOps).
//
// Launch shapes: rnn4j_copy_rows and rnn4j_pointwise are grid-stride loops (any 1-D grid; the host
// uses 256 threads per block, capped); the two softmax kernels are row kernels, one block of 256
// threads per row (grid = rows), thread k taking columns k, k+256, ... Element counts are 64-bit.
//
//   rnn4j_copy_rows        dst[r·dstLd + c] (= or +=) src[r·srcLd + c]       r < rows, c < cols
//                          (concatenate, split, slice, select: one block copy per operand)
//   rnn4j_pointwise        dst[i] = f(x[i], y[i mod yPeriod])                 i < n, f = PointwiseOp
//                          (y null for TANH and SIGMOID); tanh and σ are the cells' tanhf and sigmoidf
//   rnn4j_masked_softmax   row r of [rows, cols], valid columns c < L = lengths[r / rowsPerLength]
//                          (L = cols when lengths is null):
//                          dst[r, c] = expf(x_c − max) / Σ_{c'<L} expf(x_c' − max) for c < L, 0 for c >= L;
//                          max and sum over the valid columns only (the sum in double, fixed-order tree),
//                          the masked columns never read. src and dst may alias.
//   rnn4j_masked_softmax_backward   dx[r, c] = y[r, c]·(dy[r, c] − Σ_{c'<L} y[r, c']·dy[r, c']) for c < L,
//                          0 for c >= L (the dot product in double, fixed-order tree)
//
// The host refuses lengths outside [1, cols] before launching (a zero-length row has no softmax).
#include "common.cuh"

// org.rnn4j.engine.Pointwise's codes.
enum PointwiseOp { OP_ADD = 0, OP_MUL = 1, OP_TANH = 2, OP_SIGMOID = 3, OP_TANH_GRAD = 4, OP_SIGMOID_GRAD = 5 };

extern "C" __global__ void rnn4j_copy_rows(int rows, int cols, const float* src, int srcLd, float* dst, int dstLd,
                                           int accumulate) {
    const long long n = (long long)rows * cols;
    for (long long e = gridIndex(); e < n; e += gridStride()) {
        const long long r = e / cols;
        const long long c = e - r * cols;
        const float v = src[r * srcLd + c];
        float* d = dst + r * dstLd + c;
        *d = accumulate ? *d + v : v;
    }
}

extern "C" __global__ void rnn4j_pointwise(int op, long long n, const float* x, const float* y, long long yPeriod,
                                           float* dst) {
    for (long long i = gridIndex(); i < n; i += gridStride()) {
        const float v = x[i];
        float out;
        switch (op) {
            case OP_ADD:          out = v + y[i % yPeriod]; break;
            case OP_MUL:          out = v * y[i % yPeriod]; break;
            case OP_TANH:         out = tanhf(v); break;
            case OP_SIGMOID:      out = sigmoidf(v); break;
            case OP_TANH_GRAD:    out = y[i % yPeriod] * (1.0f - v * v); break;
            default:              out = y[i % yPeriod] * v * (1.0f - v); break;   // OP_SIGMOID_GRAD
        }
        dst[i] = out;
    }
}

__device__ __forceinline__ int validColumns(const int* lengths, int r, int rowsPerLength, int cols) {
    return lengths == nullptr ? cols : lengths[r / rowsPerLength];
}

extern "C" __global__ void __launch_bounds__(BLOCK) rnn4j_masked_softmax(
        int rows, int cols, int rowsPerLength, const int* lengths, const float* src, float* dst) {
    __shared__ float shMax[BLOCK];
    __shared__ double shSum[BLOCK];
    const int r = blockIdx.x;
    if (r >= rows) {
        return;
    }
    const float* x = src + (long long)r * cols;   // [cols]
    float* d = dst + (long long)r * cols;         // [cols]
    const int valid = validColumns(lengths, r, rowsPerLength, cols);
    float rowMax;
    const double sum = blockSoftmaxSum(x, valid, &rowMax, shMax, shSum);
    for (long long c = threadIdx.x; c < cols; c += BLOCK) {
        d[c] = c < valid ? (float)((double)expf(x[c] - rowMax) / sum) : 0.0f;
    }
}

extern "C" __global__ void __launch_bounds__(BLOCK) rnn4j_masked_softmax_backward(
        int rows, int cols, int rowsPerLength, const int* lengths, const float* y, const float* dy, float* dx) {
    __shared__ double shSum[BLOCK];
    const int r = blockIdx.x;
    if (r >= rows) {
        return;
    }
    const long long row = (long long)r * cols;
    const int valid = validColumns(lengths, r, rowsPerLength, cols);
    double s = 0.0;
    for (long long c = threadIdx.x; c < valid; c += BLOCK) {
        s += (double)y[row + c] * (double)dy[row + c];
    }
    const double dot = blockSum(s, shSum);
    for (long long c = threadIdx.x; c < cols; c += BLOCK) {
        dx[row + c] = c < valid ? (float)((double)y[row + c] * ((double)dy[row + c] - dot)) : 0.0f;
    }
}
