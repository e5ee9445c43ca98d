package org.rnn4j.cpu;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Multi-threaded, cache-blocked single-precision GEMM (row-major, BLAS-like semantics) in pure Java.
 *
 * <p>Computes {@code C = alpha * op(A) * op(B) + beta * C}, where {@code op(X)} is {@code X} or
 * {@code Xᵀ}. Everything is row-major with explicit leading dimensions and array offsets.
 *
 * <h2>Kernels</h2>
 * The serial work on one tile of C is done by a {@link GemmKernel}, chosen once at start-up: the
 * register-blocked {@code VectorGemmKernel} when the JVM was started with
 * {@code --add-modules jdk.incubator.vector} (and runs the Vector API in hardware), the plain-Java
 * {@link ScalarGemmKernel} otherwise. One log line (logger {@code org.rnn4j.cpu}, level INFO) says
 * which, once. The vector kernel's class is loaded by name only when the module is present, so the
 * library runs on a JVM without it. Both compute the same fused chain per element of C, so their
 * results are bit-identical.
 *
 * <h2>Threading and determinism</h2>
 * Products with {@code m·n·k >= rnn4j.gemm.parallelThreshold} (default 2<sup>22</sup>) are split
 * into rectangular tiles of C (over m and n only, never over k; when {@code m <= 128}, as in the
 * per-step recurrent products, over n only, one wide tile per thread, so that op(B) is read
 * once in all), which the calling thread and
 * the workers of a shared daemon pool (threads named {@code rnn4j-gemm-N}) claim dynamically.
 * Since the k-summation order of every element of C depends only on {@code k} (a chain of fused
 * multiply-adds in increasing k), results are bit-identical for any thread count and tiling.
 * Smaller products run on the calling thread with no hand-off. The thread count is the CPU engine's
 * ({@link CpuEngine#threads()}). Calls from inside a pool worker run serially (no nested parallelism, no
 * deadlock). The class is thread-safe: concurrent calls share the pool.
 */
public final class CpuGemm {

    private CpuGemm() {
    }

    /** The Vector API cell steps, or null (module absent); chosen with the kernel. */
    private static CellSteps chosenCells;
    /** The kernel chosen at start-up (see the class comment). */
    private static final GemmKernel KERNEL = chooseKernel();
    /**
     * The kernel products run on now: the chosen one, or the plain-Java kernel while the vector kernel is
     * still being compiled (see {@link #warmUp}). Their results are bit-identical, so a switch changes no bits.
     */
    /**
     * Whether the Vector API code is handed the work only once compiled (see {@link #warmUp}); system property
     * {@code rnn4j.vector.warmUp=false} uses it from the first call, for benchmarks, whose warm-up iterations
     * see to compilation themselves.
     */
    private static final boolean WARM_UP = !"false".equalsIgnoreCase(System.getProperty("rnn4j.vector.warmUp", "true"));
    private static volatile GemmKernel running = KERNEL instanceof ScalarGemmKernel || !WARM_UP
            ? KERNEL : new ScalarGemmKernel();
    /** The Vector API cell steps once they are compiled, else null (the engine then runs {@link CpuCells}). */
    private static volatile CellSteps vectorCells = WARM_UP ? null : chosenCells;

    static {
        if (WARM_UP && chosenCells != null) {
            Thread warm = new Thread(() -> warmUp(KERNEL, chosenCells), "rnn4j-vector-warmup");
            warm.setDaemon(true);
            warm.start();
        }
    }
    /** Up to this many rows of C, a parallel product is split over columns only. */
    private static final int SINGLE_ROW_BLOCK = 128;
    /**
     * Measured with the vector kernel on the 2-core EPYC: at B x 4H x H = 32 x 512 x 128 (2M multiply-adds)
     * one thread beat two (26 vs 31 us, the hand-off costs more than half the work); from 8M they tie or two win.
     */
    private static final long PAR_THRESHOLD = longProp("rnn4j.gemm.parallelThreshold", 1L << 22);
    /** Target number of C tiles per thread (dynamic load balancing). */
    private static final int TILES_PER_THREAD = 2;
    private static final int MIN_TILE_M = 32;
    private static final int MIN_TILE_N = 128;

    /** The thread count set by {@link #setThreads}, or 0: then {@code rnn4j.threads} or the processor count. */
    private static volatile int threads;

    // ------------------------------------------------------------------------------------------
    // Public API
    // ------------------------------------------------------------------------------------------

    /** Which kernel runs the products, for {@code info} and benchmark output. */
    public static String kernelDescription() {
        return KERNEL.describe();
    }

    static GemmKernel kernel() {
        return KERNEL;
    }

    static GemmKernel running() {
        return running;
    }

    /** The vectorised LSTM, GRU and RNN cell steps, or null when the module is absent or they are not compiled yet. */
    static CellSteps vectorCells() {
        return vectorCells;
    }

    /** Waits (at most a minute) until the chosen kernel and cells run, past {@link #warmUp} (for tests). */
    static void awaitWarmUp() throws InterruptedException {
        for (int i = 0; i < 1200 && (running != KERNEL || vectorCells != chosenCells); i++) {
            Thread.sleep(50);
        }
    }

    /** See {@link CpuEngine#threads()}. */
    static int threads() {
        int t = threads;
        return t > 0 ? t : threadsProperty();
    }

    /** See {@link CpuEngine#setThreads(int)}. */
    static void setThreads(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("threads: expected >= 1, got " + n);
        }
        threads = n;
    }

    /** Forgets {@link #setThreads}: the property or the processor count decide again (for tests). */
    static void clearThreads() {
        threads = 0;
    }

    /**
     * System property {@code rnn4j.threads}, or {@link Runtime#availableProcessors()} when it is not set. Read on
     * each call until {@link #setThreads} fixes the count, so a bad value is refused where the engine is used,
     * not hidden in a class initializer.
     */
    private static int threadsProperty() {
        String v = System.getProperty(THREADS_PROPERTY);
        if (v == null) {
            return Runtime.getRuntime().availableProcessors();
        }
        try {
            int t = Integer.parseInt(v.trim());
            if (t >= 1) {
                return t;
            }
        } catch (NumberFormatException e) {
            // refused below
        }
        throw new IllegalArgumentException("system property " + THREADS_PROPERTY + ": expected a whole number >= 1 "
                + "(the CPU engine's threads), got '" + v + "'");
    }

    static final String THREADS_PROPERTY = "rnn4j.threads";

    /**
     * C[m,n] = alpha * op(A)[m,k] · op(B)[k,n] + beta * C, row-major; op(X) = X or Xᵀ.
     * A is m×k (lda ≥ k) when !transA, else k×m (lda ≥ m); likewise B (k×n, ldb ≥ n, or n×k,
     * ldb ≥ k). C is m×n with ldc ≥ n. beta == 0 means C is overwritten (NaN in C ignored).
     * k == 0 gives C = beta*C; m == 0 or n == 0 is a no-op.
     *
     * @throws IllegalArgumentException on negative sizes or offsets, too small leading
     *                                  dimensions, null or too short arrays
     */
    public static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                             float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                             float beta, float[] c, int cOff, int ldc) {
        validate(transA, transB, m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc);
        if (m == 0 || n == 0) {
            return;
        }
        if (beta != 1f) {
            scaleC(m, n, beta, c, cOff, ldc);
        }
        if (k == 0 || alpha == 0f) {
            return;
        }
        GemmKernel kernel = running;
        int nt = threads();
        long work = (long) m * n * k;
        if (nt > 1 && work >= PAR_THRESHOLD && !(Thread.currentThread() instanceof GemmThread)) {
            Job job = Job.plan(kernel, nt, transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb,
                    c, cOff, ldc);
            if (job != null) {
                job.execute(nt - 1);
                return;
            }
        }
        kernel.tile(transA, transB, k, alpha, a, aOff, lda, b, bOff, ldb, c, cOff, ldc, 0, m, 0, n);
    }

    // ------------------------------------------------------------------------------------------
    // Validation
    // ------------------------------------------------------------------------------------------

    private static void validate(boolean transA, boolean transB, int m, int n, int k,
                                 float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                                 float[] c, int cOff, int ldc) {
        nonNegative("m", m);
        nonNegative("n", n);
        nonNegative("k", k);
        nonNegative("aOff", aOff);
        nonNegative("bOff", bOff);
        nonNegative("cOff", cOff);
        // op(A) is m x k: stored rows x cols
        int aRows = transA ? k : m, aCols = transA ? m : k;
        int bRows = transB ? n : k, bCols = transB ? k : n;
        checkLd("lda", lda, aCols, transA ? "m (transA)" : "k");
        checkLd("ldb", ldb, bCols, transB ? "k (transB)" : "n");
        checkLd("ldc", ldc, n, "n");
        checkArray("a", a, aOff, aRows, aCols, lda);
        checkArray("b", b, bOff, bRows, bCols, ldb);
        checkArray("c", c, cOff, m, n, ldc);
    }

    private static void nonNegative(String name, int v) {
        if (v < 0) {
            throw new IllegalArgumentException(name + ": expected >= 0, given " + v);
        }
    }

    private static void checkLd(String name, int ld, int cols, String what) {
        int min = Math.max(1, cols);
        if (ld < min) {
            throw new IllegalArgumentException(name + ": expected >= max(1, " + what + ") = " + min
                    + ", given " + ld);
        }
    }

    private static void checkArray(String name, float[] x, int off, int rows, int cols, int ld) {
        long need = (rows == 0 || cols == 0) ? 0 : (long) off + (long) (rows - 1) * ld + cols;
        if (x == null) {
            if (need == 0) {
                return;
            }
            throw new IllegalArgumentException(name + ": expected an array of length >= " + need
                    + ", given null");
        }
        if (need > x.length) {
            throw new IllegalArgumentException(name + ": expected length >= " + need + " (offset "
                    + off + ", " + rows + " rows x " + cols + " cols, ld " + ld + "), given "
                    + x.length);
        }
    }

    // ------------------------------------------------------------------------------------------
    // Serial driver for one tile C[i0:i1, j0:j1]
    // ------------------------------------------------------------------------------------------

    private static void scaleC(int m, int n, float beta, float[] c, int cOff, int ldc) {
        for (int i = 0; i < m; i++) {
            int o = cOff + i * ldc;
            if (beta == 0f) {
                java.util.Arrays.fill(c, o, o + n, 0f);
            } else {
                for (int j = 0; j < n; j++) {
                    c[o + j] *= beta;
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    // Parallel execution
    // ------------------------------------------------------------------------------------------

    private static final class Job implements Runnable {
        final GemmKernel kernel;
        final boolean transA, transB;
        final int k;
        final float alpha;
        final float[] a, b, c;
        final int aOff, lda, bOff, ldb, cOff, ldc;
        final int m, n, tileM, tileN, tilesN, total;
        final AtomicInteger next = new AtomicInteger();
        final CountDownLatch done;
        volatile Throwable error;

        private Job(GemmKernel kernel, boolean transA, boolean transB, int m, int n, int k, float alpha,
                    float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                    float[] c, int cOff, int ldc, int tileM, int tileN) {
            this.kernel = kernel;
            this.transA = transA;
            this.transB = transB;
            this.m = m;
            this.n = n;
            this.k = k;
            this.alpha = alpha;
            this.a = a;
            this.aOff = aOff;
            this.lda = lda;
            this.b = b;
            this.bOff = bOff;
            this.ldb = ldb;
            this.c = c;
            this.cOff = cOff;
            this.ldc = ldc;
            this.tileM = tileM;
            this.tileN = tileN;
            this.tilesN = ceilDiv(n, tileN);
            this.total = ceilDiv(m, tileM) * tilesN;
            this.done = new CountDownLatch(total);
        }

        /** Chooses a tiling of C; returns null when a single tile would result. */
        static Job plan(GemmKernel kernel, int nt, boolean transA, boolean transB, int m, int n, int k, float alpha,
                        float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                        float[] c, int cOff, int ldc) {
            int target = nt * TILES_PER_THREAD;
            int mt = 1, ntl = 1;
            if (m <= SINGLE_ROW_BLOCK && n >= nt * MIN_TILE_N) {
                // A single A block: split over n only, one wide tile per thread. op(B) is then
                // packed exactly once in all, and the micro-kernel's rows stay long.
                int tileN = roundUp(ceilDiv(n, nt), kernel.colAlign());
                return new Job(kernel, transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, c, cOff,
                        ldc, m, Math.min(tileN, n));
            }
            while (mt * ntl < target) {
                int tm = ceilDiv(m, mt), tn = ceilDiv(n, ntl);
                boolean canM = tm >= 2 * MIN_TILE_M;
                boolean canN = tn >= 2 * MIN_TILE_N;
                // Split the longer side: a tile repacks B once per tileM rows and A once per
                // tileN columns, so square-ish tiles minimise packing traffic.
                if (canM && (tm >= tn || !canN)) {
                    mt++;
                } else if (canN) {
                    ntl++;
                } else {
                    break;
                }
            }
            int tileM = roundUp(ceilDiv(m, mt), kernel.rowAlign());
            int tileN = roundUp(ceilDiv(n, ntl), kernel.colAlign());
            if (tileM >= m && tileN >= n) {
                return null;
            }
            return new Job(kernel, transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, c, cOff,
                    ldc, Math.min(tileM, m), Math.min(tileN, n));
        }

        void execute(int helpers) {
            int h = Math.min(helpers, total - 1);
            if (h > 0) {
                ExecutorService ex = pool(h);
                try {
                    for (int i = 0; i < h; i++) {
                        ex.execute(this);
                    }
                } catch (RejectedExecutionException ignored) {
                    // pool was replaced concurrently; the caller simply does more tiles itself
                }
            }
            run();
            // wait for tiles claimed by helpers: spin briefly (tiles are short), then park
            for (int spin = 0; spin < 1000 && done.getCount() > 0; spin++) {
                Thread.onSpinWait();
            }
            boolean interrupted = false;
            while (done.getCount() > 0) {
                try {
                    done.await();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            Throwable t = error;
            if (t != null) {
                if (t instanceof RuntimeException) {
                    throw (RuntimeException) t;
                }
                if (t instanceof Error) {
                    throw (Error) t;
                }
                throw new RuntimeException(t);
            }
        }

        @Override
        public void run() {
            int t;
            while ((t = next.getAndIncrement()) < total) {
                try {
                    int i0 = (t / tilesN) * tileM, j0 = (t % tilesN) * tileN;
                    kernel.tile(transA, transB, k, alpha, a, aOff, lda, b, bOff, ldb, c, cOff, ldc,
                            i0, Math.min(m, i0 + tileM), j0, Math.min(n, j0 + tileN));
                } catch (Throwable e) {
                    error = e;
                } finally {
                    done.countDown();
                }
            }
        }
    }

    /** Whether the calling thread is one of the pool's workers (which run their work serially, never nested). */
    static boolean onPoolThread() {
        return Thread.currentThread() instanceof GemmThread;
    }

    /**
     * Hands {@code task} to {@code helpers} pool workers and returns at once: for work whose own protocol says when
     * it is done and that the calling thread can finish alone (a worker that starts late finds nothing left).
     */
    static void lend(int helpers, Runnable task) {
        ExecutorService ex = pool(helpers);
        try {
            for (int i = 0; i < helpers; i++) {
                ex.execute(task);
            }
        } catch (RejectedExecutionException ignored) {
            // the pool was replaced meanwhile: the caller does more of the work itself
        }
    }

    private static final class GemmThread extends Thread {
        GemmThread(Runnable r, String name) {
            super(r, name);
            setDaemon(true);
        }
    }

    private static final AtomicInteger THREAD_ID = new AtomicInteger();
    private static volatile ExecutorService pool;
    private static int poolSize;

    /** Shared worker pool with at least {@code workers} threads (grown by replacement). */
    private static ExecutorService pool(int workers) {
        ExecutorService p = pool;
        if (p != null && poolSize >= workers) {
            return p;
        }
        synchronized (CpuGemm.class) {
            p = pool;
            if (p != null && poolSize >= workers) {
                return p;
            }
            ExecutorService np = Executors.newFixedThreadPool(workers,
                    r -> new GemmThread(r, "rnn4j-gemm-" + THREAD_ID.getAndIncrement()));
            poolSize = workers;
            pool = np;
            if (p != null) {
                p.shutdown();
            }
            return np;
        }
    }

    // ------------------------------------------------------------------------------------------
    // Kernel choice
    // ------------------------------------------------------------------------------------------

    private static final String VECTOR_MODULE = "jdk.incubator.vector";

    /**
     * The Vector API kernel when the JVM has the module and runs vectors in hardware (system property
     * {@code rnn4j.gemm.vector=false} forces the plain-Java one), else the plain-Java kernel; logs the
     * choice once.
     */
    private static GemmKernel chooseKernel() {
        System.Logger log = System.getLogger("org.rnn4j.cpu");
        boolean wanted = !"false".equalsIgnoreCase(System.getProperty("rnn4j.gemm.vector", "true").trim());
        String why;
        if (!ModuleLayer.boot().findModule(VECTOR_MODULE).isPresent()) {
            why = "the JVM was started without the Vector API; start it with --add-modules " + VECTOR_MODULE
                    + " for the vectorised GEMM and cells, several times faster";
        } else if (!wanted) {
            why = "system property rnn4j.gemm.vector=false";
        } else {
            try {
                // by name: this class must load on a JVM without the module
                Class<?> cls = Class.forName("org.rnn4j.cpu.VectorGemmKernel");
                if ((Boolean) cls.getDeclaredMethod("usable").invoke(null)) {
                    GemmKernel k = (GemmKernel) cls.getDeclaredConstructor().newInstance();
                    CellSteps cells = (CellSteps) Class.forName("org.rnn4j.cpu.VectorCells")
                            .getDeclaredConstructor().newInstance();
                    log.log(System.Logger.Level.INFO, "rnn4j CPU GEMM: " + k.describe()
                            + "; LSTM, GRU and RNN cells on the Vector API too");
                    chosenCells = cells;
                    return k;
                }
                why = "this CPU/JVM runs the Vector API without 128-bit vectors or FMA in hardware";
            } catch (ReflectiveOperationException | LinkageError | ClassCastException e) {
                why = "the Vector API kernel failed to load: " + e;
            }
        }
        GemmKernel k = new ScalarGemmKernel();
        log.log(System.Logger.Level.INFO, "rnn4j CPU GEMM: " + k.describe() + " (" + why + ")");
        return k;
    }

    /**
     * Until C2 has compiled it, Vector API code runs the API's Java implementation, which allocates an object
     * per vector operation and is 30-100 times slower than the plain-Java code (seconds for a user's first
     * forward). So a daemon thread runs the vector kernel, then the vector cells, on small cases until their
     * time per call has fallen 30-fold from the first calls (or 20 s have passed), and only then hands each
     * over; until then the plain-Java kernel and cells run.
     */
    private static void warmUp(GemmKernel k, CellSteps cells) {
        int m = 4 * k.rowAlign(), n = 2 * k.colAlign(), kk = 32;
        float[] a = new float[m * kk], b = new float[kk * n], c = new float[m * n];
        java.util.Arrays.fill(a, 0.5f);
        java.util.Arrays.fill(b, 0.25f);
        untilCompiled(() -> {
            java.util.Arrays.fill(c, 0f);
            k.tile(false, false, kk, 1f, a, 0, kk, b, 0, n, c, 0, n, 0, m, 0, n);
        });
        running = k;
        untilCompiled(cells.warmUpStep());
        vectorCells = cells;
    }

    /** Runs {@code call} in batches of 100 until a batch takes a 30th of the first (after 20 000 calls) or 20 s. */
    private static void untilCompiled(Runnable call) {
        long first = -1, deadline = System.nanoTime() + 20_000_000_000L;
        for (int calls = 0; System.nanoTime() < deadline; calls += 100) {
            long t0 = System.nanoTime();
            for (int i = 0; i < 100; i++) {
                call.run();
            }
            long dt = System.nanoTime() - t0;
            if (first < 0) {
                first = dt;
            } else if (calls >= 20_000 && dt * 30 < first) {
                return;
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------

    static int intProp(String name, int def) {
        return (int) longProp(name, def, Integer.MIN_VALUE, Integer.MAX_VALUE);
    }

    private static long longProp(String name, long def) {
        return longProp(name, def, Long.MIN_VALUE, Long.MAX_VALUE);
    }

    /** The property as a number, or {@code def} when it is unset or (with a warning saying so) malformed. */
    private static long longProp(String name, long def, long min, long max) {
        String v = System.getProperty(name);
        if (v == null) {
            return def;
        }
        try {
            long n = Long.parseLong(v.trim());
            if (n >= min && n <= max) {
                return n;
            }
        } catch (NumberFormatException e) {
            // warned below
        }
        System.getLogger("org.rnn4j.cpu").log(System.Logger.Level.WARNING, "-D" + name + "=" + v
                + " is not an integer in [" + min + ", " + max + "]; using the default " + def);
        return def;
    }

    private static int ceilDiv(int x, int y) {
        return (x + y - 1) / y;
    }

    private static int roundUp(int x, int mult) {
        return ceilDiv(x, mult) * mult;
    }
}
