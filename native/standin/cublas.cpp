// cublas.cpp — a stand-in libcublas (built as libcublas.so.12 and libcublas.so.13): the entry points
// that org.rnn4j.cuda's two bindings call (JCublas2, and JNA for CUDA 13), with cuBLAS's names,
// statuses and argument rules, on the stand-in driver's memory. See native/standin/README.md.
//
// SGEMM is written here from the BLAS definition, column-major, independently of the CPU engine's
// row-major CpuGemm: C = alpha·op(A)·op(B) + beta·C, op(X) = X or Xᵀ, each element a float sum over
// k in order. As in cuBLAS, C is not read when beta == 0, and A, B are not read when k == 0 or
// alpha == 0. A handle whose math mode enables TF32 fails the GEMM unless RNN4J_STANDIN_ALLOW_TF32=1
// (then inputs are rounded to TF32 as tensor cores do): rnn4j promises exact FP32 on every handle, and asks
// for TF32 per call. cublasGemmEx is the same product over other operand types: BF16 operands with FP32
// accumulation (CUDA_R_16BF, CUBLAS_COMPUTE_32F), or FP32 operands rounded to TF32, 10 mantissa bits
// to nearest even (CUBLAS_COMPUTE_32F_FAST_TF32), each with an FP32 result.
#include "standin.h"
#include "bf16.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <vector>
#include <algorithm>

#ifndef STANDIN_CUBLAS_MAJOR
#error "build with -DSTANDIN_CUBLAS_MAJOR=12 or 13"
#endif

// The few cuBLAS types and values used (cublas_api.h is not installed with nvcc).
typedef enum {
    CUBLAS_STATUS_SUCCESS = 0,
    CUBLAS_STATUS_NOT_INITIALIZED = 1,
    CUBLAS_STATUS_ALLOC_FAILED = 3,
    CUBLAS_STATUS_INVALID_VALUE = 7,
    CUBLAS_STATUS_EXECUTION_FAILED = 13,
    CUBLAS_STATUS_NOT_SUPPORTED = 15,
} cublasStatus_t;
typedef enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_OP_C = 2 } cublasOperation_t;
typedef enum { CUBLAS_POINTER_MODE_HOST = 0, CUBLAS_POINTER_MODE_DEVICE = 1 } cublasPointerMode_t;
typedef int cublasMath_t;
typedef enum { MAJOR_VERSION = 0, MINOR_VERSION = 1, PATCH_LEVEL = 2 } libraryPropertyType;

constexpr int kDefaultMath = 0;
constexpr int kTensorOpMath = 1;            // deprecated, enables TF32 too
constexpr int kPedanticMath = 2;
constexpr int kTf32TensorOpMath = 3;
constexpr int kDisallowReducedPrecisionReduction = 16;
constexpr int kMinor = 0;
constexpr int kPatch = 0;

namespace {

struct Handle {
    CUstream stream = nullptr;
    int pointerMode = CUBLAS_POINTER_MODE_HOST;
    int mathMode = kDefaultMath;
    void* workspace = nullptr;   // cublasSetWorkspace's, or null: cuBLAS's own
    std::size_t workspaceBytes = 0;
};

std::mutex handlesLock;
std::set<Handle*> handles;

bool live(Handle* h) {
    std::lock_guard<std::mutex> g(handlesLock);
    return handles.count(h) > 0;
}

cublasStatus_t failed(cublasStatus_t status, const char* call, const std::string& why) {
    static const char* names[] = {"CUBLAS_STATUS_SUCCESS", "CUBLAS_STATUS_NOT_INITIALIZED", "", "CUBLAS_STATUS_ALLOC_FAILED",
                                  "", "", "", "CUBLAS_STATUS_INVALID_VALUE", "", "", "", "", "", "CUBLAS_STATUS_EXECUTION_FAILED",
                                  "", "CUBLAS_STATUS_NOT_SUPPORTED"};
    std::fprintf(stderr, "[rnn4j stand-in] %s: %s -> %s\n", call, why.c_str(), names[status]);
    std::fflush(stderr);
    return status;
}

bool tf32Enabled(int mode) {
    const int base = mode & ~kDisallowReducedPrecisionReduction;
    return base == kTensorOpMath || base == kTf32TensorOpMath;
}

float toTf32(float v) {   // round to nearest even on the 10-bit mantissa of TF32
    std::uint32_t u;
    std::memcpy(&u, &v, 4);
    if ((u & 0x7f800000u) != 0x7f800000u) {
        u += 0xfffu + ((u >> 13) & 1u);
        u &= ~0x1fffu;
    }
    std::memcpy(&v, &u, 4);
    return v;
}

// Elements from the first to the last of a column-major rows × cols matrix with leading dimension ld.
std::size_t span(long rows, long cols, long ld) {
    return rows == 0 || cols == 0 ? 0 : (std::size_t)((cols - 1) * ld + rows);
}

}  // namespace

extern "C" {

STANDIN_API cublasStatus_t cublasGetProperty(libraryPropertyType type, int* value) {
    standin::Counted counted(__func__);
    if (value == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
    switch (type) {
        case MAJOR_VERSION: *value = STANDIN_CUBLAS_MAJOR; return CUBLAS_STATUS_SUCCESS;
        case MINOR_VERSION: *value = kMinor; return CUBLAS_STATUS_SUCCESS;
        case PATCH_LEVEL: *value = kPatch; return CUBLAS_STATUS_SUCCESS;
        default: return CUBLAS_STATUS_INVALID_VALUE;
    }
}

STANDIN_API cublasStatus_t cublasCreate_v2(Handle** out) {
    standin::Counted counted(__func__);
    if (out == nullptr) return failed(CUBLAS_STATUS_INVALID_VALUE, "cublasCreate_v2", "handle is null");
    if (standin::currentContext() == nullptr) {
        return failed(CUBLAS_STATUS_NOT_INITIALIZED, "cublasCreate_v2", "no current CUDA context");
    }
    Handle* h = new Handle();
    std::lock_guard<std::mutex> g(handlesLock);
    handles.insert(h);
    *out = h;
    return CUBLAS_STATUS_SUCCESS;
}

STANDIN_API cublasStatus_t cublasDestroy_v2(Handle* h) {
    standin::Counted counted(__func__);
    std::lock_guard<std::mutex> g(handlesLock);
    if (handles.erase(h) == 0) return failed(CUBLAS_STATUS_NOT_INITIALIZED, "cublasDestroy_v2", "not a live handle");
    delete h;
    return CUBLAS_STATUS_SUCCESS;
}

STANDIN_API cublasStatus_t cublasGetVersion_v2(Handle* h, int* version) {
    standin::Counted counted(__func__);
    if (!live(h)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (version == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
    *version = STANDIN_CUBLAS_MAJOR * 10000 + kMinor * 100 + kPatch;
    return CUBLAS_STATUS_SUCCESS;
}

STANDIN_API cublasStatus_t cublasSetStream_v2(Handle* h, CUstream stream) {
    standin::Counted counted(__func__);
    if (!live(h)) return failed(CUBLAS_STATUS_NOT_INITIALIZED, "cublasSetStream_v2", "not a live handle");
    if (!standin::validStream(stream)) return failed(CUBLAS_STATUS_INVALID_VALUE, "cublasSetStream_v2", "not a live stream");
    h->stream = stream;
    return CUBLAS_STATUS_SUCCESS;
}

STANDIN_API cublasStatus_t cublasGetStream_v2(Handle* h, CUstream* stream) {
    standin::Counted counted(__func__);
    if (!live(h)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (stream == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
    *stream = h->stream;
    return CUBLAS_STATUS_SUCCESS;
}

STANDIN_API cublasStatus_t cublasSetPointerMode_v2(Handle* h, int mode) {
    standin::Counted counted(__func__);
    if (!live(h)) return failed(CUBLAS_STATUS_NOT_INITIALIZED, "cublasSetPointerMode_v2", "not a live handle");
    if (mode != CUBLAS_POINTER_MODE_HOST && mode != CUBLAS_POINTER_MODE_DEVICE) {
        return failed(CUBLAS_STATUS_INVALID_VALUE, "cublasSetPointerMode_v2", "mode " + std::to_string(mode));
    }
    h->pointerMode = mode;
    return CUBLAS_STATUS_SUCCESS;
}

// The workspace cuBLAS uses instead of its own: device memory, 256-byte aligned; null and 0 give
// cuBLAS's own back. A GEMM captured into a graph needs one (cuBLAS cannot allocate during a
// capture, and its own workspace would be shared by every replay); the GEMM checks it is live.
STANDIN_API cublasStatus_t cublasSetWorkspace_v2(Handle* h, void* workspace, std::size_t bytes) {
    standin::Counted counted(__func__);
    if (!live(h)) return failed(CUBLAS_STATUS_NOT_INITIALIZED, "cublasSetWorkspace_v2", "not a live handle");
    if ((workspace == nullptr) != (bytes == 0)) {
        return failed(CUBLAS_STATUS_INVALID_VALUE, "cublasSetWorkspace_v2", "workspace null with a size, or a size of 0");
    }
    std::string why;
    if (workspace != nullptr && reinterpret_cast<std::uintptr_t>(workspace) % 256 != 0) {
        return failed(CUBLAS_STATUS_INVALID_VALUE, "cublasSetWorkspace_v2", "workspace is not 256-byte aligned");
    }
    if (workspace != nullptr && !standin::deviceRange(workspace, bytes, &why)) {
        return failed(CUBLAS_STATUS_INVALID_VALUE, "cublasSetWorkspace_v2", "workspace: " + why);
    }
    h->workspace = workspace;
    h->workspaceBytes = bytes;
    return CUBLAS_STATUS_SUCCESS;
}

STANDIN_API cublasStatus_t cublasGetPointerMode_v2(Handle* h, int* mode) {
    standin::Counted counted(__func__);
    if (!live(h)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (mode == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
    *mode = h->pointerMode;
    return CUBLAS_STATUS_SUCCESS;
}

STANDIN_API cublasStatus_t cublasSetMathMode(Handle* h, cublasMath_t mode) {
    standin::Counted counted(__func__);
    if (!live(h)) return failed(CUBLAS_STATUS_NOT_INITIALIZED, "cublasSetMathMode", "not a live handle");
    const int base = mode & ~kDisallowReducedPrecisionReduction;
    if (base < kDefaultMath || base > kTf32TensorOpMath) {
        return failed(CUBLAS_STATUS_INVALID_VALUE, "cublasSetMathMode", "mode " + std::to_string(mode));
    }
    h->mathMode = mode;
    return CUBLAS_STATUS_SUCCESS;
}

STANDIN_API cublasStatus_t cublasGetMathMode(Handle* h, cublasMath_t* mode) {
    standin::Counted counted(__func__);
    if (!live(h)) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (mode == nullptr) return CUBLAS_STATUS_INVALID_VALUE;
    *mode = h->mathMode;
    return CUBLAS_STATUS_SUCCESS;
}

}  // extern "C"

namespace {

// cudaDataType_t and cublasComputeType_t values (library_types.h, cublas_api.h) that cublasGemmEx takes here.
constexpr int kR32F = 0;      // CUDA_R_32F
constexpr int kR16BF = 14;    // CUDA_R_16BF
constexpr int kCompute16F = 64, kCompute16FPedantic = 65, kCompute32F = 68, kCompute32FPedantic = 69,
              kCompute64F = 70, kCompute64FPedantic = 71, kCompute32I = 72, kCompute32IPedantic = 73,
              kCompute32FFast16F = 74, kCompute32FFast16BF = 75, kCompute32FFastTF32 = 77;
constexpr int kGemmDefault = -1, kGemmAlgo23 = 23, kGemmDefaultTensorOp = 99, kGemmAlgo15TensorOp = 115;

// How a GEMM reads its operands: FP32 as stored, FP32 rounded to TF32, or BF16 widened (exactly) to FP32.
enum class Operands { FP32, TF32, BF16 };

// C = alpha·op(A)·op(B) + beta·C, column-major, C FP32, each element a float sum over k in order (a product
// of two BF16 or two TF32 values is exact in FP32, so only the sum rounds). Checks the arguments as cuBLAS
// does (call names the entry point), queues the product on the handle's stream.
cublasStatus_t gemm(const char* call, Handle* h, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
                    const float* alpha, const void* Av, int lda, const void* Bv, int ldb,
                    const float* beta, float* C, int ldc, Operands operands) {
    if (!live(h)) return failed(CUBLAS_STATUS_NOT_INITIALIZED, call, "not a live handle");
    if (transa > CUBLAS_OP_C || transb > CUBLAS_OP_C || transa < CUBLAS_OP_N || transb < CUBLAS_OP_N) {
        return failed(CUBLAS_STATUS_INVALID_VALUE, call, "transa/transb not N, T or C");
    }
    const bool ta = transa != CUBLAS_OP_N, tb = transb != CUBLAS_OP_N;   // real matrices: C = T
    const long rowsA = ta ? k : m, colsA = ta ? m : k;
    const long rowsB = tb ? n : k, colsB = tb ? k : n;
    if (m < 0 || n < 0 || k < 0) {
        return failed(CUBLAS_STATUS_INVALID_VALUE, call, "m, n, k = " + std::to_string(m) + ", " + std::to_string(n) + ", " + std::to_string(k));
    }
    if (lda < std::max(1L, rowsA) || ldb < std::max(1L, rowsB) || ldc < std::max(1, m)) {
        return failed(CUBLAS_STATUS_INVALID_VALUE, call,
                      "lda " + std::to_string(lda) + " (>= " + std::to_string(std::max(1L, rowsA)) + "), ldb " + std::to_string(ldb)
                      + " (>= " + std::to_string(std::max(1L, rowsB)) + "), ldc " + std::to_string(ldc) + " (>= "
                      + std::to_string(std::max(1, m)) + ")");
    }
    if (alpha == nullptr || beta == nullptr) return failed(CUBLAS_STATUS_INVALID_VALUE, call, "alpha or beta is null");
    if (h->pointerMode == CUBLAS_POINTER_MODE_HOST && (standin::isDeviceAddress(alpha) || standin::isDeviceAddress(beta))) {
        return failed(CUBLAS_STATUS_INVALID_VALUE, call, "pointer mode host but alpha/beta are device pointers");
    }
    if (h->pointerMode == CUBLAS_POINTER_MODE_DEVICE) {
        return failed(CUBLAS_STATUS_NOT_SUPPORTED, call, "device pointer mode is not simulated (rnn4j uses host mode)");
    }
    if (operands == Operands::FP32 && tf32Enabled(h->mathMode)) {   // FP32 data under a TF32 math mode
        if (std::getenv("RNN4J_STANDIN_ALLOW_TF32") == nullptr) {
            return failed(CUBLAS_STATUS_NOT_SUPPORTED, call,
                          "the handle's math mode enables TF32 but exact FP32 was promised (RNN4J_STANDIN_ALLOW_TF32=1 allows it)");
        }
        operands = Operands::TF32;
    }
    if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
    const float a = *alpha, b = *beta;   // host mode: read at the call
    const bool readsAB = k > 0 && a != 0.0f;
    const std::size_t operandBytes = operands == Operands::BF16 ? 2 : sizeof(float);
    CUstream stream = h->stream;
    std::vector<standin::Range> touches = {{C, span(m, n, ldc) * sizeof(float), "C"}};
    if (readsAB) {
        touches.push_back({Av, span(rowsA, colsA, lda) * operandBytes, "A"});
        touches.push_back({Bv, span(rowsB, colsB, ldb) * operandBytes, "B"});
    }
    if (h->workspace != nullptr) {
        touches.push_back({h->workspace, h->workspaceBytes, "the workspace (cublasSetWorkspace)"});
    } else if (standin::isCapturing(stream)) {
        standin::count("SGEMMs captured without cublasSetWorkspace");
        static bool said = false;
        if (!said) {
            said = true;
            std::fprintf(stderr, "[rnn4j stand-in] %s: captured into a graph on a handle without cublasSetWorkspace "
                                 "(cuBLAS would use its own workspace, shared by every replay)\n", call);
        }
    }
    // The ranges are checked when the GEMM runs (eagerly, queued, or as a graph node).
    CUresult r = standin::enqueue(stream, call, std::move(touches), [=]() -> CUresult {
        // element e of an operand as the product reads it
        auto load = [operands](const void* x, long e) -> float {
            if (operands == Operands::BF16) return __bfloat162float(static_cast<const __nv_bfloat16*>(x)[e]);
            const float v = static_cast<const float*>(x)[e];
            return operands == Operands::TF32 ? toTf32(v) : v;
        };
        // op(A) copied once into a packed column-major m × k panel, so that the loop over i runs
        // over contiguous memory for either transpose; each C element still sums over p in order.
        std::vector<float> opA(readsAB ? (std::size_t)m * k : 0);
        for (long p = 0; readsAB && p < k; p++) {
            for (long i = 0; i < m; i++) {
                opA[(std::size_t)p * m + i] = load(Av, ta ? i * lda + p : p * lda + i);
            }
        }
        std::vector<float> sum(m);
        for (long j = 0; j < n; j++) {
            std::fill(sum.begin(), sum.end(), 0.0f);
            for (long p = 0; readsAB && p < k; p++) {
                const float y = load(Bv, tb ? p * ldb + j : j * ldb + p);
                const float* col = &opA[(std::size_t)p * m];
                for (long i = 0; i < m; i++) {
                    sum[i] += col[i] * y;
                }
            }
            float* c = &C[j * ldc];
            for (long i = 0; i < m; i++) {
                if (!readsAB) {
                    c[i] = b == 0.0f ? 0.0f : b * c[i];   // only C is scaled
                } else {
                    c[i] = b == 0.0f ? a * sum[i] : a * sum[i] + b * c[i];
                }
            }
        }
        return CUDA_SUCCESS;
    });
    if (r == CUDA_ERROR_ILLEGAL_ADDRESS || r == CUDA_ERROR_LAUNCH_FAILED) return CUBLAS_STATUS_EXECUTION_FAILED;
    if (r != CUDA_SUCCESS) return failed(CUBLAS_STATUS_EXECUTION_FAILED, call, "the stream failed (CUresult " + std::to_string((int)r) + ")");
    return CUBLAS_STATUS_SUCCESS;
}

// What cuBLAS 12/13 documents for cublasGemmEx with an FP32 result: the compute types and the (A/B, C) type
// pairs rnn4j may pass, and NVIDIA's statuses for the others (an unknown enum value is INVALID_VALUE, a known
// combination that is not offered NOT_SUPPORTED). Sets *operands; returns SUCCESS or the status.
cublasStatus_t gemmExTypes(int aType, int bType, int cType, int computeType, int algo, Operands* operands, std::string* why) {
    const int computes[] = {kCompute16F, kCompute16FPedantic, kCompute32F, kCompute32FPedantic, kCompute64F, kCompute64FPedantic,
                            kCompute32I, kCompute32IPedantic, kCompute32FFast16F, kCompute32FFast16BF, kCompute32FFastTF32};
    if (std::find(std::begin(computes), std::end(computes), computeType) == std::end(computes)) {
        *why = "computeType " + std::to_string(computeType) + " is not a cublasComputeType_t";
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (!(algo == kGemmDefault || (algo >= 0 && algo <= kGemmAlgo23) || (algo >= kGemmDefaultTensorOp && algo <= kGemmAlgo15TensorOp))) {
        *why = "algo " + std::to_string(algo) + " is not a cublasGemmAlgo_t";
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (aType != bType) {
        *why = "Atype " + std::to_string(aType) + " and Btype " + std::to_string(bType) + " differ";
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    const bool fp32Data = aType == kR32F && cType == kR32F;
    if ((computeType == kCompute32F || computeType == kCompute32FPedantic) && aType == kR16BF && cType == kR32F) {
        *operands = Operands::BF16;   // BF16 operands, FP32 accumulation and result
        return CUBLAS_STATUS_SUCCESS;
    }
    if ((computeType == kCompute32F || computeType == kCompute32FPedantic) && fp32Data) {
        *operands = Operands::FP32;   // as cublasSgemm; the handle's math mode may still allow TF32 (32F only)
        return CUBLAS_STATUS_SUCCESS;
    }
    if (computeType == kCompute32FFastTF32 && fp32Data) {
        *operands = Operands::TF32;   // asked for explicitly: FP32 data rounded to TF32 on tensor cores
        return CUBLAS_STATUS_SUCCESS;
    }
    *why = "Atype/Btype " + std::to_string(aType) + ", Ctype " + std::to_string(cType) + " with computeType "
           + std::to_string(computeType) + " (the stand-in has CUDA_R_16BF or CUDA_R_32F operands with a CUDA_R_32F result, "
           "CUBLAS_COMPUTE_32F[_PEDANTIC] or CUBLAS_COMPUTE_32F_FAST_TF32 for FP32 data; cuBLAS has more)";
    return CUBLAS_STATUS_NOT_SUPPORTED;
}

}  // namespace

extern "C" {

STANDIN_API cublasStatus_t cublasSgemm_v2(Handle* h, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
                                          const float* alpha, const float* A, int lda, const float* B, int ldb,
                                          const float* beta, float* C, int ldc) {
    standin::Counted counted(__func__);
    return gemm("cublasSgemm_v2", h, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, Operands::FP32);
}

// cublasGemmEx with an FP32 result: BF16 operands (CUDA_R_16BF, CUBLAS_COMPUTE_32F), FP32 ones rounded to
// TF32 (CUBLAS_COMPUTE_32F_FAST_TF32), or FP32 ones as cublasSgemm_v2 (CUBLAS_COMPUTE_32F). Scale type is
// the compute type's (float alpha and beta for all three).
STANDIN_API cublasStatus_t cublasGemmEx(Handle* h, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
                                        const void* alpha, const void* A, int Atype, int lda, const void* B, int Btype, int ldb,
                                        const void* beta, void* C, int Ctype, int ldc, int computeType, int algo) {
    standin::Counted counted(__func__);
    const char* call = "cublasGemmEx";
    if (!live(h)) return failed(CUBLAS_STATUS_NOT_INITIALIZED, call, "not a live handle");
    Operands operands = Operands::FP32;
    std::string why;
    const cublasStatus_t types = gemmExTypes(Atype, Btype, Ctype, computeType, algo, &operands, &why);
    if (types != CUBLAS_STATUS_SUCCESS) return failed(types, call, why);
    return gemm(call, h, transa, transb, m, n, k, static_cast<const float*>(alpha), A, lda, B, ldb,
                static_cast<const float*>(beta), static_cast<float*>(C), ldc, operands);
}

// Strided-batched SGEMM as batchCount SGEMMs queued in order on the handle's stream: each product is
// checked as cublasSgemm_v2 checks one (its arguments now, its matrices' device ranges when it runs).
STANDIN_API cublasStatus_t cublasSgemmStridedBatched(Handle* h, cublasOperation_t transa, cublasOperation_t transb,
                                                     int m, int n, int k, const float* alpha,
                                                     const float* A, int lda, long long strideA,
                                                     const float* B, int ldb, long long strideB, const float* beta,
                                                     float* C, int ldc, long long strideC, int batchCount) {
    if (batchCount < 0) {
        return failed(CUBLAS_STATUS_INVALID_VALUE, "cublasSgemmStridedBatched", "batchCount " + std::to_string(batchCount));
    }
    for (int i = 0; i < batchCount; i++) {
        const cublasStatus_t s = cublasSgemm_v2(h, transa, transb, m, n, k, alpha, A + i * strideA, lda,
                                                B + i * strideB, ldb, beta, C + i * strideC, ldc);
        if (s != CUBLAS_STATUS_SUCCESS) return s;
    }
    return CUBLAS_STATUS_SUCCESS;
}

}  // extern "C"
