// device.h — the CUDA built-ins that kernels/*.cu use, for compiling those same sources as host C++
// inside the stand-in driver (native/standin/README.md). Included before each kernel file with
// g++ -include; nothing in kernels/ changes for it.
//
//   threadIdx, blockIdx, blockDim, gridDim   the scheduler's current thread (one OS thread runs a
//                                            block's threads as fibers, see driver.cpp)
//   __syncthreads(), __syncthreads_or(p)     a barrier: the fiber yields until every thread of the
//                                            block has reached the same barrier (call site)
//   __shared__                               a static in the section standin_shared, poisoned
//                                            before each block so a read before a write shows
//   __global__, __device__, __host__, ...    nothing, or their host meaning
#pragma once

#include <math.h>

struct uint3 {
    unsigned x, y, z;
};
struct dim3 {
    unsigned x, y, z;
};

namespace standin {
// Set by the block scheduler before a fiber runs; read-only for kernels, as on a GPU.
extern uint3 currentThreadIdx;
extern uint3 currentBlockIdx;
extern dim3 currentBlockDim;
extern dim3 currentGridDim;
void syncthreads(const char* file, int line);
int syncthreadsOr(int predicate, const char* file, int line);
}  // namespace standin

#define threadIdx (static_cast<const uint3&>(::standin::currentThreadIdx))
#define blockIdx (static_cast<const uint3&>(::standin::currentBlockIdx))
#define blockDim (static_cast<const dim3&>(::standin::currentBlockDim))
#define gridDim (static_cast<const dim3&>(::standin::currentGridDim))

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
#define __shared__ __attribute__((section("standin_shared"))) static
#define __syncthreads() ::standin::syncthreads(__FILE__, __LINE__)
#define __syncthreads_or(p) ::standin::syncthreadsOr((p), __FILE__, __LINE__)
