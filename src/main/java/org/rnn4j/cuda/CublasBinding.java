package org.rnn4j.cuda;

/**
 * The few cuBLAS entry points the engine needs, over one cuBLAS handle. Two implementations are
 * chosen between at start-up ({@link CublasLoader}): {@link JCublasBinding} (JCuda's JCublas2,
 * which needs {@code libcublas.so.12}) and {@link JnaCublasBinding} (the same entry points bound
 * directly through JNA, for a newer {@code libcublas.so.13}). Device pointers are raw addresses;
 * {@code alpha} and {@code beta} are host values (pointer mode host). Every status is checked:
 * a failure throws a {@link CudaException} naming the call.
 */
interface CublasBinding extends AutoCloseable {

    /** {@code cublasOperation_t}. */
    int OP_N = 0;
    int OP_T = 1;

    /** {@code cublasPointerMode_t}: alpha and beta are read from host memory. */
    int POINTER_MODE_HOST = 0;

    /** {@code cublasMath_t}: FP32 in FP32, no TF32 tensor cores ({@code CUBLAS_TF32_TENSOR_OP_MATH} = 3 is never set). */
    int DEFAULT_MATH = 0;
    /** {@code cublasMath_t} flag: no reduced-precision reductions in the split-K paths. */
    int MATH_DISALLOW_REDUCED_PRECISION_REDUCTION = 16;
    /** The math mode every handle gets: exact FP32, so that the GPU agrees with the CPU near 1e-5. */
    int EXACT_FP32_MATH = DEFAULT_MATH | MATH_DISALLOW_REDUCED_PRECISION_REDUCTION;

    /** {@code cudaDataType_t} of {@link #gemmEx}'s matrices: FP32 and BF16. */
    int CUDA_R_32F = 0;
    int CUDA_R_16BF = 14;
    /** {@code cublasComputeType_t}: FP32 accumulation (exact for FP32 data unless the handle's math mode says TF32). */
    int COMPUTE_32F = 68;
    /** {@code cublasComputeType_t}: FP32 data rounded to TF32 on tensor cores, FP32 accumulation, for this call only. */
    int COMPUTE_32F_FAST_TF32 = 77;
    /** {@code cublasGemmAlgo_t}: cuBLAS's heuristic. */
    int GEMM_DEFAULT = -1;

    /** {@code JCublas2} or {@code JNA}. */
    String via();

    /** The library loaded: a soname or a full path. */
    String library();

    /** cuBLAS's own version, e.g. {@code 13.1.0}. */
    String version();

    /** {@code cublasCreate}: the handle every later call uses (the engine's context must be current). */
    void create();

    /** A binding of the same library without a handle yet, for a second handle ({@link CublasLoader#openSibling}). */
    CublasBinding sibling();

    /** {@code cublasSetStream}: queue all work on the engine's stream. */
    void setStream(Driver.Stream stream);

    /** {@code cublasSetPointerMode}({@link #POINTER_MODE_HOST}). */
    void setPointerModeHost();

    /** {@code cublasSetMathMode}. */
    void setMathMode(int mode);

    /**
     * {@code cublasSetWorkspace}: cuBLAS uses this device memory instead of allocating its own, which it
     * cannot do while a stream is captured into a graph.
     */
    void setWorkspace(long address, long bytes);

    /** {@code cublasSgemm}, column-major: {@code C = alpha·op(A)·op(B) + beta·C}. */
    void sgemm(int opA, int opB, int m, int n, int k, float alpha, long a, int lda, long b, int ldb,
               float beta, long c, int ldc);

    /**
     * {@code cublasSgemmStridedBatched}, column-major: {@code batch} products of one shape, product i reading
     * A at {@code a + i·strideA} elements and B, C likewise.
     */
    void sgemmStridedBatched(int opA, int opB, int m, int n, int k, float alpha, long a, int lda, long strideA,
                             long b, int ldb, long strideB, float beta, long c, int ldc, long strideC, int batch);

    /**
     * {@code cublasGemmEx} with float {@code alpha} and {@code beta}, column-major, {@link #GEMM_DEFAULT}:
     * {@code C = alpha·op(A)·op(B) + beta·C} with A and B of {@code abType}, C of {@code cType}, accumulated in
     * {@code computeType}. The reduced-precision GEMMs: BF16 operands ({@link #CUDA_R_16BF}, {@link #COMPUTE_32F}) and
     * TF32 ({@link #CUDA_R_32F}, {@link #COMPUTE_32F_FAST_TF32}), each into FP32; the handle's math mode stays exact.
     */
    void gemmEx(int opA, int opB, int m, int n, int k, float alpha, long a, int abType, int lda, long b, int ldb,
                float beta, long c, int cType, int ldc, int computeType);

    /** {@code cublasDestroy} when a handle was created; idempotent. */
    @Override
    void close();

    /** E.g. {@code cuBLAS 13.1.0 via JNA (/usr/local/cuda/lib64/libcublas.so.13)}. */
    default String describe() {
        return "cuBLAS " + version() + " via " + via() + " (" + library() + ")";
    }

    /** The name of a {@code cublasStatus_t}. */
    static String statusName(int status) {
        switch (status) {
            case 0: return "CUBLAS_STATUS_SUCCESS";
            case 1: return "CUBLAS_STATUS_NOT_INITIALIZED";
            case 3: return "CUBLAS_STATUS_ALLOC_FAILED";
            case 7: return "CUBLAS_STATUS_INVALID_VALUE";
            case 8: return "CUBLAS_STATUS_ARCH_MISMATCH";
            case 11: return "CUBLAS_STATUS_MAPPING_ERROR";
            case 13: return "CUBLAS_STATUS_EXECUTION_FAILED";
            case 14: return "CUBLAS_STATUS_INTERNAL_ERROR";
            case 15: return "CUBLAS_STATUS_NOT_SUPPORTED";
            case 16: return "CUBLAS_STATUS_LICENSE_ERROR";
            default: return "cublasStatus " + status;
        }
    }

    /** Throws a {@link CudaException} naming {@code call} unless {@code status} is success. */
    static void check(int status, String call) {
        if (status != 0) {
            throw new CudaException(call, statusName(status), null);
        }
    }
}
