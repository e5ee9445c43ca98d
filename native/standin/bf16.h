// bf16.h — BF16 for the stand-in: the part of CUDA's <cuda_bf16.h> that kernels/precision.cu uses, and
// the conversions cublas.cpp's cublasGemmEx reads its CUDA_R_16BF operands with. device.h includes it.
//
// BF16 is the upper half of an FP32: sign, the same 8-bit exponent, 7 explicit mantissa bits. FP32 to
// BF16 rounds to nearest, ties to even, as __float2bfloat16_rn and the GPU's cvt.rn.bf16.f32 do; NaN
// becomes CUDA's canonical quiet NaN 0x7FFF (still a NaN); ±inf stays; a finite value that rounds past
// BF16's largest (0x7F7F) becomes ±inf. BF16 to FP32 is exact (16 zero bits appended).
#pragma once

#include <cstdint>
#include <cstring>

struct __nv_bfloat16 {
    std::uint16_t bits;
};

inline __nv_bfloat16 __float2bfloat16_rn(float f) {
    std::uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        return {0x7fff};
    }
    u += 0x7fffu + ((u >> 16) & 1u);   // round to nearest, ties to even on the 16 bits dropped
    return {static_cast<std::uint16_t>(u >> 16)};
}

inline float __bfloat162float(__nv_bfloat16 b) {
    const std::uint32_t u = static_cast<std::uint32_t>(b.bits) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
