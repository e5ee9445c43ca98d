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
//   extern __shared__ T name[]               build.sh rewrites it to a pointer to dynamicShared, the
//                                            launch's dynamic shared memory (poisoned likewise)
//   cooperative_groups::this_grid().sync()   a grid barrier: every thread of a cooperative launch
//                                            (all its blocks run at once, see driver.cpp)
//   __global__, __device__, __host__, ...    nothing, or their host meaning
//   __nv_bfloat16, __float2bfloat16_rn,      BF16 and its conversions (bf16.h, shared with cublas.cpp;
//   __bfloat162float                         shim/cuda_bf16.h stands in for CUDA's header)
#pragma once

#include <math.h>

#include "bf16.h"

struct uint3 {
    unsigned x, y, z;
};
struct dim3 {
    unsigned x, y, z;
};

namespace standin {
// Set by the block scheduler before a fiber runs; read-only for kernels, as on a GPU.
#define STANDIN_VISIBLE __attribute__((visibility("default")))
extern STANDIN_VISIBLE uint3 currentThreadIdx;
extern STANDIN_VISIBLE uint3 currentBlockIdx;
extern STANDIN_VISIBLE dim3 currentBlockDim;
extern STANDIN_VISIBLE dim3 currentGridDim;
constexpr unsigned kMaxSharedOptIn = 232448;   // shared memory per block with opt-in (sm_90): 227 KiB
extern STANDIN_VISIBLE unsigned char dynamicShared[];
STANDIN_VISIBLE void syncthreads(const char* file, int line);
STANDIN_VISIBLE void gridSync(const char* file, int line);
STANDIN_VISIBLE int syncthreadsOr(int predicate, const char* file, int line);
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

// The bounds of this link unit's __shared__ variables (a module's sharedBegin / sharedEnd).
extern "C" char __start_standin_shared[] __attribute__((weak));
extern "C" char __stop_standin_shared[] __attribute__((weak));

// The part of <cooperative_groups.h> a grid-synchronizing kernel uses (build.sh puts
// native/standin/shim/cooperative_groups.h, which includes nothing, before CUDA's own).
namespace cooperative_groups {
struct thread_block {
    void sync(const char* file = __builtin_FILE(), int line = __builtin_LINE()) const { ::standin::syncthreads(file, line); }
    unsigned long long size() const { return (unsigned long long)blockDim.x * blockDim.y * blockDim.z; }
    unsigned long long thread_rank() const { return threadIdx.x + (unsigned long long)blockDim.x * (threadIdx.y + (unsigned long long)blockDim.y * threadIdx.z); }
};
struct grid_group {
    void sync(const char* file = __builtin_FILE(), int line = __builtin_LINE()) const { ::standin::gridSync(file, line); }
    unsigned long long num_blocks() const { return (unsigned long long)gridDim.x * gridDim.y * gridDim.z; }
    unsigned long long block_rank() const { return blockIdx.x + (unsigned long long)gridDim.x * (blockIdx.y + (unsigned long long)gridDim.y * blockIdx.z); }
    unsigned long long size() const { return num_blocks() * thread_block().size(); }
    unsigned long long thread_rank() const { return block_rank() * thread_block().size() + thread_block().thread_rank(); }
};
inline grid_group this_grid() { return grid_group(); }
inline thread_block this_thread_block() { return thread_block(); }
}  // namespace cooperative_groups
