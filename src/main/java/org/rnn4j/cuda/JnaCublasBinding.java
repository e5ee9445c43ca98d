package org.rnn4j.cuda;

import com.sun.jna.Function;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * cuBLAS bound directly through JNA, for a {@code libcublas} that JCuda has no binding for
 * (CUDA 13's {@code libcublas.so.13}; any other with the same v2 entry points works too).
 *
 * <p>The entry points are JNA <em>direct</em> mappings (static natives registered on
 * {@link Lib}), about as cheap per call as JNI; a class can be registered with one library per
 * JVM, so the first library bound stays bound. Handles, streams and device pointers are passed
 * as {@code long} (pointer-sized on x86-64); alpha and beta as the address of two floats in native
 * memory that each call overwrites (pointer mode host: cuBLAS reads them before the call returns), so
 * that a call builds no Java object.
 */
final class JnaCublasBinding implements CublasBinding {

    /** The v2 entry points, registered on one library by {@link #bind}. */
    static final class Lib {
        private Lib() {
        }

        static native int cublasCreate_v2(long[] handle);

        static native int cublasDestroy_v2(long handle);

        static native int cublasSetStream_v2(long handle, long stream);

        static native int cublasSetPointerMode_v2(long handle, int mode);

        static native int cublasSetMathMode(long handle, int mode);

        static native int cublasSetWorkspace_v2(long handle, long workspace, long bytes);

        static native int cublasSgemm_v2(long handle, int transa, int transb, int m, int n, int k,
                                         long alpha, long a, int lda, long b, int ldb,
                                         long beta, long c, int ldc);

        static native int cublasSgemmStridedBatched(long handle, int transa, int transb, int m, int n, int k,
                                                    long alpha, long a, int lda, long strideA, long b, int ldb,
                                                    long strideB, long beta, long c, int ldc, long strideC,
                                                    int batchCount);

        static native int cublasGemmEx(long handle, int transa, int transb, int m, int n, int k, long alpha,
                                       long a, int aType, int lda, long b, int bType, int ldb, long beta,
                                       long c, int cType, int ldc, int computeType, int algo);
    }

    private static String boundPath;

    private final String path;
    private final String version;
    private long handle;
    /**
     * alpha at byte 0, beta at byte 4, one pair per calling thread: cuBLAS reads them (host pointer mode) during
     * the call, and two threads sharing an engine (Spark's local executors) must not overwrite each other's.
     */
    private static final ThreadLocal<Memory> SCALARS = ThreadLocal.withInitial(() -> new Memory(8));

    private JnaCublasBinding(String path, String version) {
        this.path = path;
        this.version = version;
    }

    /**
     * Opens {@code library} (a full path, or a soname for the system loader), reads its version and
     * binds the entry points to it.
     *
     * @throws IllegalStateException with the reason when it cannot be used
     */
    static JnaCublasBinding load(String library) {
        NativeLibrary lib = open(library);
        String version = version(lib);
        String path = CublasLoader.loadedPath(library, lib.getFile() == null ? library : lib.getFile().getPath());
        bind(lib, path);
        return new JnaCublasBinding(path, version);
    }

    /**
     * Opens a library without binding anything, for {@link CudaEngine#probe()}.
     *
     * @return cuBLAS's version and the path it was loaded from
     */
    static String[] inspect(String library) {
        NativeLibrary lib = open(library);
        String version = version(lib);
        return new String[] {version,
                CublasLoader.loadedPath(library, lib.getFile() == null ? library : lib.getFile().getPath())};
    }

    private static NativeLibrary open(String library) {
        try {
            preloadLt(library);
            return NativeLibrary.getInstance(library);
        } catch (Throwable t) {
            String reason = Driver.conciseLinkError(t);
            String file = Path.of(library).getFileName().toString();
            throw new IllegalStateException(reason.startsWith(file) ? reason : library + ": " + reason, t);
        }
    }

    /**
     * cuBLAS links {@code libcublasLt} by soname; where the library is given by path (a pip wheel, a
     * toolkit outside the loader's paths), load the sibling {@code libcublasLt} first so that the
     * dynamic loader finds it already loaded (JNA opens with RTLD_GLOBAL).
     */
    private static void preloadLt(String library) {
        Path p = Path.of(library);
        if (!p.isAbsolute() || p.getParent() == null) {
            return;
        }
        String name = p.getFileName().toString();
        if (!name.startsWith("libcublas.so")) {
            return;
        }
        Path lt = p.getParent().resolve("libcublasLt" + name.substring("libcublas".length()));
        if (Files.exists(lt)) {
            NativeLibrary.getInstance(lt.toString());
        }
    }

    private static String version(NativeLibrary lib) {
        Function getProperty;
        try {
            getProperty = lib.getFunction("cublasGetProperty");
        } catch (UnsatisfiedLinkError e) {
            throw new IllegalStateException(lib.getName() + " has no cublasGetProperty: not a cuBLAS library", e);
        }
        int[] parts = new int[3];
        for (int i = 0; i < 3; i++) {
            int[] value = new int[1];
            int status = getProperty.invokeInt(new Object[] {i, value});
            CublasBinding.check(status, "cublasGetProperty");
            parts[i] = value[0];
        }
        return parts[0] + "." + parts[1] + "." + parts[2];
    }

    private static synchronized void bind(NativeLibrary lib, String path) {
        if (boundPath == null) {
            try {
                Native.register(Lib.class, lib);
            } catch (Throwable t) {
                throw new IllegalStateException(path + ": binding the cuBLAS entry points failed: "
                        + Driver.conciseLinkError(t), t);
            }
            boundPath = path;
        } else if (!boundPath.equals(path)) {
            throw new IllegalStateException(path + ": the JNA cuBLAS binding is already bound to " + boundPath
                    + " in this JVM");
        }
    }

    @Override
    public String via() {
        return "JNA";
    }

    @Override
    public String library() {
        return path;
    }

    @Override
    public String version() {
        return version;
    }

    @Override
    public void create() {
        long[] h = new long[1];
        CublasBinding.check(Lib.cublasCreate_v2(h), "cublasCreate_v2");
        handle = h[0];
    }

    @Override
    public CublasBinding sibling() {
        return new JnaCublasBinding(path, version);
    }

    @Override
    public void setStream(Driver.Stream stream) {
        CublasBinding.check(Lib.cublasSetStream_v2(handle, stream.handle()), "cublasSetStream_v2");
    }

    @Override
    public void setPointerModeHost() {
        CublasBinding.check(Lib.cublasSetPointerMode_v2(handle, POINTER_MODE_HOST), "cublasSetPointerMode_v2");
    }

    @Override
    public void setMathMode(int mode) {
        CublasBinding.check(Lib.cublasSetMathMode(handle, mode), "cublasSetMathMode");
    }

    @Override
    public void setWorkspace(long address, long bytes) {
        CublasBinding.check(Lib.cublasSetWorkspace_v2(handle, address, bytes), "cublasSetWorkspace_v2");
    }

    /** This thread's alpha and beta, stored: the address of alpha (beta follows). */
    private static long scalars(float alpha, float beta) {
        Memory m = SCALARS.get();
        m.setFloat(0, alpha);
        m.setFloat(4, beta);
        return Pointer.nativeValue(m);
    }

    @Override
    public void sgemm(int opA, int opB, int m, int n, int k, float alpha, long a, int lda, long b, int ldb,
                      float beta, long c, int ldc) {
        long alphaAddress = scalars(alpha, beta);
        CublasBinding.check(Lib.cublasSgemm_v2(handle, opA, opB, m, n, k,
                alphaAddress, a, lda, b, ldb, alphaAddress + 4, c, ldc), "cublasSgemm_v2");
    }

    @Override
    public void sgemmStridedBatched(int opA, int opB, int m, int n, int k, float alpha, long a, int lda, long strideA,
                                    long b, int ldb, long strideB, float beta, long c, int ldc, long strideC, int batch) {
        long alphaAddress = scalars(alpha, beta);
        CublasBinding.check(Lib.cublasSgemmStridedBatched(handle, opA, opB, m, n, k, alphaAddress,
                a, lda, strideA, b, ldb, strideB, alphaAddress + 4, c, ldc, strideC, batch), "cublasSgemmStridedBatched");
    }

    @Override
    public void gemmEx(int opA, int opB, int m, int n, int k, float alpha, long a, int abType, int lda, long b, int ldb,
                       float beta, long c, int cType, int ldc, int computeType) {
        long alphaAddress = scalars(alpha, beta);
        CublasBinding.check(Lib.cublasGemmEx(handle, opA, opB, m, n, k, alphaAddress, a, abType, lda, b, abType, ldb,
                alphaAddress + 4, c, cType, ldc, computeType, GEMM_DEFAULT), "cublasGemmEx");
    }

    @Override
    public void close() {
        if (handle != 0) {
            long h = handle;
            handle = 0;
            CublasBinding.check(Lib.cublasDestroy_v2(h), "cublasDestroy_v2");
        }
    }
}
