// precision.cu — the conversions under the BF16 GEMMs (org.rnn4j.Precision.BF16).
//
// A BF16 layer multiplies BF16 operands with FP32 accumulation (cublasGemmEx: A and B CUDA_R_16BF,
// C CUDA_R_32F, CUBLAS_COMPUTE_32F). Its weights stay FP32, the master copy that the optimizer updates
// and checkpoints save; rnn4j_f32_to_bf16_rows writes the BF16 copy of a weight after the weight changed
// (once per optimizer step), and of each activation operand (x, h, a gate gradient) before its product.
//
// Rounding: to nearest, ties to even (__float2bfloat16_rn, what PyTorch's .to(torch.bfloat16) does);
// a finite value beyond BF16's largest becomes ±inf, ±inf stays, NaN stays NaN. BF16 to FP32 is exact.
//
// Launch shape: both are grid-stride loops (any 1-D grid; the host uses 256 threads per block, capped).
// Element counts are 64-bit.
//
//   rnn4j_f32_to_bf16_rows   dst[r·cols + c] = bf16(src[r·srcLd + c])     r < rows, c < cols
//                            (a strided FP32 block, e.g. one step's rows of h, to a dense BF16 one)
//   rnn4j_bf16_to_f32        dst[i] = float(src[i])                        i < n
#include <cuda_bf16.h>

#include "common.cuh"

extern "C" __global__ void rnn4j_f32_to_bf16_rows(int rows, int cols, const float* src, int srcLd, __nv_bfloat16* dst) {
    const long long n = (long long)rows * cols;
    for (long long e = gridIndex(); e < n; e += gridStride()) {
        const long long r = e / cols;
        const long long c = e - r * cols;
        dst[e] = __float2bfloat16_rn(src[r * srcLd + c]);
    }
}

extern "C" __global__ void rnn4j_bf16_to_f32(long long n, const __nv_bfloat16* src, float* dst) {
    for (long long i = gridIndex(); i < n; i += gridStride()) {
        dst[i] = __bfloat162float(src[i]);
    }
}
