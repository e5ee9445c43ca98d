// cublas.cpp — a stand-in libcublas (built as libcublas.so.12 and libcublas.so.13): the entry points
// that org.rnn4j.cuda's two bindings call (JCublas2, and JNA for CUDA 13), with cuBLAS's names,
// statuses and argument rules, on the stand-in driver's memory. See native/standin/README.md.
//
// SGEMM is written here from the BLAS definition, column-major, independently of the CPU engine's
// row-major CpuGemm: C = alpha·op(A)·op(B) + beta·C, op(X) = X or Xᵀ, each element a float sum over
// k in order. As in cuBLAS, C is not read when beta == 0, and A, B are not read when k == 0 or
// alpha == 0. A handle whose math mode enables TF32 fails the GEMM unless RNN4J_STANDIN_ALLOW_TF32=1
// (then inputs are rounded to TF32 as tensor cores do): rnn4j promises exact FP32.
#include "standin.h"

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

STANDIN_API cublasStatus_t cublasSgemm_v2(Handle* h, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k,
                                          const float* alpha, const float* A, int lda, const float* B, int ldb,
                                          const float* beta, float* C, int ldc) {
    standin::Counted counted(__func__);
    const char* call = "cublasSgemm_v2";
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
    const bool tf32 = tf32Enabled(h->mathMode);
    if (tf32 && std::getenv("RNN4J_STANDIN_ALLOW_TF32") == nullptr) {
        return failed(CUBLAS_STATUS_NOT_SUPPORTED, call,
                      "the handle's math mode enables TF32 but exact FP32 was promised (RNN4J_STANDIN_ALLOW_TF32=1 allows it)");
    }
    if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
    const float a = *alpha, b = *beta;   // host mode: read at the call
    const bool readsAB = k > 0 && a != 0.0f;
    CUstream stream = h->stream;
    std::vector<standin::Range> touches = {{C, span(m, n, ldc) * sizeof(float), "C"}};
    if (readsAB) {
        touches.push_back({A, span(rowsA, colsA, lda) * sizeof(float), "A"});
        touches.push_back({B, span(rowsB, colsB, ldb) * sizeof(float), "B"});
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
        // op(A) copied once into a packed column-major m × k panel, so that the loop over i runs
        // over contiguous memory for either transpose; each C element still sums over p in order.
        std::vector<float> opA(readsAB ? (std::size_t)m * k : 0);
        for (long p = 0; readsAB && p < k; p++) {
            for (long i = 0; i < m; i++) {
                const float x = ta ? A[i * lda + p] : A[p * lda + i];
                opA[(std::size_t)p * m + i] = tf32 ? toTf32(x) : x;
            }
        }
        std::vector<float> sum(m);
        for (long j = 0; j < n; j++) {
            std::fill(sum.begin(), sum.end(), 0.0f);
            for (long p = 0; readsAB && p < k; p++) {
                float y = tb ? B[p * ldb + j] : B[j * ldb + p];
                if (tf32) {
                    y = toTf32(y);
                }
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
