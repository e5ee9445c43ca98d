package org.rnn4j.cuda;

import jcuda.Pointer;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasHandle;
import jcuda.runtime.cudaStream_t;

/** cuBLAS through JCuda's JCublas2 (CUDA 12: its native library links {@code libcublas.so.12}). */
final class JCublasBinding implements CublasBinding {

    static final String LIBRARY = "libcublas.so.12";

    private static boolean loadTried;
    private static String loadFailure;

    private final String version;
    private cublasHandle handle;

    private JCublasBinding(String version) {
        this.version = version;
    }

    /**
     * Loads JCublas2's natives (once) and reads cuBLAS's version.
     *
     * @throws IllegalStateException with the reason when they do not load
     */
    static JCublasBinding load() {
        String failure = loadFailure();
        if (failure != null) {
            throw new IllegalStateException(failure);
        }
        int[] major = new int[1];
        int[] minor = new int[1];
        int[] patch = new int[1];
        CublasBinding.check(JCublas2.cublasGetProperty(0, major), "cublasGetProperty");
        CublasBinding.check(JCublas2.cublasGetProperty(1, minor), "cublasGetProperty");
        CublasBinding.check(JCublas2.cublasGetProperty(2, patch), "cublasGetProperty");
        return new JCublasBinding(major[0] + "." + minor[0] + "." + patch[0]);
    }

    private static synchronized String loadFailure() {
        if (!loadTried) {
            loadTried = true;
            try {
                JCublas2.setExceptionsEnabled(false);   // first use: loads libJCublas2 and libcublas.so.12
            } catch (Throwable t) {
                loadFailure = Driver.conciseLinkError(t);
            }
        }
        return loadFailure;
    }

    @Override
    public String via() {
        return "JCublas2";
    }

    @Override
    public String library() {
        return CublasLoader.loadedPath("libcublas.so.12", LIBRARY);
    }

    @Override
    public String version() {
        return version;
    }

    @Override
    public void create() {
        cublasHandle h = new cublasHandle();
        CublasBinding.check(JCublas2.cublasCreate(h), "cublasCreate");
        handle = h;
    }

    @Override
    public CublasBinding sibling() {
        return new JCublasBinding(version);
    }

    @Override
    public void setStream(Driver.Stream stream) {
        CublasBinding.check(JCublas2.cublasSetStream(handle, new cudaStream_t(stream)), "cublasSetStream");
    }

    @Override
    public void setPointerModeHost() {
        CublasBinding.check(JCublas2.cublasSetPointerMode(handle, POINTER_MODE_HOST), "cublasSetPointerMode");
    }

    @Override
    public void setMathMode(int mode) {
        CublasBinding.check(JCublas2.cublasSetMathMode(handle, mode), "cublasSetMathMode");
    }

    @Override
    public void setWorkspace(long address, long bytes) {
        CublasBinding.check(JCublas2.cublasSetWorkspace(handle, new Driver.RawPointer(address), bytes), "cublasSetWorkspace");
    }

    @Override
    public void sgemm(int opA, int opB, int m, int n, int k, float alpha, long a, int lda, long b, int ldb,
                      float beta, long c, int ldc) {
        CublasBinding.check(JCublas2.cublasSgemm(handle, opA, opB, m, n, k,
                Pointer.to(new float[] {alpha}), new Driver.RawPointer(a), lda, new Driver.RawPointer(b), ldb,
                Pointer.to(new float[] {beta}), new Driver.RawPointer(c), ldc), "cublasSgemm");
    }

    @Override
    public void sgemmStridedBatched(int opA, int opB, int m, int n, int k, float alpha, long a, int lda, long strideA,
                                    long b, int ldb, long strideB, float beta, long c, int ldc, long strideC, int batch) {
        CublasBinding.check(JCublas2.cublasSgemmStridedBatched(handle, opA, opB, m, n, k,
                Pointer.to(new float[] {alpha}), new Driver.RawPointer(a), lda, strideA,
                new Driver.RawPointer(b), ldb, strideB, Pointer.to(new float[] {beta}),
                new Driver.RawPointer(c), ldc, strideC, batch), "cublasSgemmStridedBatched");
    }

    @Override
    public void gemmEx(int opA, int opB, int m, int n, int k, float alpha, long a, int abType, int lda, long b, int ldb,
                       float beta, long c, int cType, int ldc, int computeType) {
        CublasBinding.check(JCublas2.cublasGemmEx(handle, opA, opB, m, n, k, Pointer.to(new float[] {alpha}),
                new Driver.RawPointer(a), abType, lda, new Driver.RawPointer(b), abType, ldb,
                Pointer.to(new float[] {beta}), new Driver.RawPointer(c), cType, ldc, computeType, GEMM_DEFAULT),
                "cublasGemmEx");
    }

    @Override
    public void close() {
        if (handle != null) {
            cublasHandle h = handle;
            handle = null;
            CublasBinding.check(JCublas2.cublasDestroy(h), "cublasDestroy");
        }
    }
}
