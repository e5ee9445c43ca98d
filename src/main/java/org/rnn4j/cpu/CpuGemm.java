package org.rnn4j.cpu;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Pure-Java, multi-threaded, cache-blocked single-precision GEMM (row-major, BLAS-like semantics).
 *
 * <p>Computes {@code C = alpha * op(A) * op(B) + beta * C}, where {@code op(X)} is {@code X} or
 * {@code Xᵀ}. Everything is row-major with explicit leading dimensions and array offsets.
 *
 * <h2>Blocking scheme (GotoBLAS/BLIS style, adapted to what HotSpot C2 vectorises)</h2>
 * <pre>
 * for jc in n step NC                      // column block of C and op(B)
 *   for pc in k step KC                    // k block, always visited in increasing order
 *     pack op(B)[pc:pc+KC, jc:jc+NC]       // -> KC separate row arrays Bp[p][0:NC] (~L2 resident)
 *     for ic in m step MC                  // row block of C
 *       pack alpha*op(A)[ic:ic+MC, pc:pc+KC] // -> dense row-major Ap (L1/L2 resident)
 *       for each row i of the block
 *         acc[0:NC] = C[i, jc:jc+NC]        // copy into an L1-resident accumulator row
 *         for p in KC step 6                // 6 k-steps fused per pass over acc
 *           for j in NC                     // unit stride, auto-vectorised by C2 (AVX2: 8 lanes)
 *             acc[j] = fma(a[i,p+5], Bp[p+5][j], ... fma(a[i,p], Bp[p][j], acc[j]))
 *         C[i, jc:jc+NC] = acc
 * </pre>
 * <ul>
 *   <li><b>Why pack.</b> Packing turns every transpose combination into the same unit-stride
 *   access pattern: a transpose costs one O(k·n) (resp. O(m·k)) copy pass, amortised over
 *   {@code MC} (resp. {@code NC}) multiply-adds per copied element, instead of strided inner
 *   loops. Packed panels also avoid cache-set conflicts for power-of-two leading dimensions
 *   (e.g. {@code ldb = 4H = 1024}), and {@code alpha} is folded into the packed A.</li>
 *   <li><b>Why this micro-kernel.</b> Plain Java cannot hold a register tile of C across a k
 *   loop, so the kernel streams a row of C through the vector units and amortises each
 *   load/store of it over 6 k-steps (7 loads + 1 store per 6 vector FMAs, all L1/L2 hits).
 *   Its shape is dictated by JDK 17's SuperWord, verified by disassembling the C2 code: every
 *   array in the j loop must be indexed by the bare induction variable (an access such as
 *   {@code c[cOff + j]} next to {@code b[bOff + j]}, i.e. two different loop-invariant offsets,
 *   silently disables vectorisation - hence B rows as separate arrays and the accumulator
 *   copy), the loop may store to only one array (two C rows updated from two B rows are not
 *   vectorised in normal, non-OSR compiles), and 8 fused k-steps exceed the unrolling limit.
 *   Register-blocking over several rows of C is therefore not available; the one-row,
 *   6-step kernel measured fastest. {@link Math#fma} is used when the JVM intrinsifies it
 *   (flag {@code UseFMA}), otherwise a 4-step multiply-add kernel.</li>
 *   <li><b>Why these block sizes.</b> {@code KC x NC} floats of packed B (default 96 x 512 =
 *   192 KiB; 192 x 512 measured 10-30% slower on a 2-core EPYC, the panel then competes with
 *   A and the other core's panel for L2) stay in L2 while each row of A streams over it; the accumulator row (2 KiB) and
 *   6 rows of B in flight stay in L1. All three are tunable via the system properties
 *   {@code rnn4j.gemm.mc}, {@code rnn4j.gemm.kc}, {@code rnn4j.gemm.nc} ({@code kc} is rounded
 *   to a multiple of 12).</li>
 * </ul>
 *
 * <h2>Threading and determinism</h2>
 * Products with {@code m·n·k >= rnn4j.gemm.parallelThreshold} (default 2<sup>20</sup>) are split
 * into rectangular tiles of C (over m and n only, never over k; when {@code m <= MC}, as in the
 * per-step recurrent products, over n only, one wide tile per thread, so that op(B) is packed
 * once in all), which the calling thread and
 * the workers of a shared daemon pool (threads named {@code rnn4j-gemm-N}) claim dynamically.
 * Since the k-summation order of every element of C depends only on {@code k} (fixed KC
 * blocking and 6-step grouping, the same exactly-rounded operations in vector and scalar-tail
 * code),
 * results are bit-identical for any thread count and tiling. Smaller products run on the calling
 * thread with no hand-off. The thread count comes from system property {@code rnn4j.threads}
 * (default {@link Runtime#availableProcessors()}) and can be changed with {@link #setThreads}.
 * Calls from inside a pool worker run serially (no nested parallelism, no deadlock).
 *
 * <p>Packing buffers are per-thread scratch arrays, grown on demand and reused, so steady-state
 * calls do not allocate them. The class is thread-safe: concurrent calls share the pool.
 */
public final class CpuGemm {

    private CpuGemm() {
    }

    /** Row alignment of parallel tiles. */
    private static final int MR = 4;
    private static final int MC = Math.max(1, intProp("rnn4j.gemm.mc", 128));
    private static final int KC = roundUp(Math.max(12, intProp("rnn4j.gemm.kc", 96)), 12);
    private static final int NC = roundUp(Math.max(8, intProp("rnn4j.gemm.nc", 512)), 8);
    /** Use Math.fma kernels (only when the JVM intrinsifies FMA; the fallback is very slow). */
    private static final boolean FMA = detectFma();
    private static final long PAR_THRESHOLD = longProp("rnn4j.gemm.parallelThreshold", 1L << 20);
    /** Target number of C tiles per thread (dynamic load balancing). */
    private static final int TILES_PER_THREAD = 2;
    private static final int MIN_TILE_M = 32;
    private static final int MIN_TILE_N = 128;

    private static volatile int threads = initThreads();

    // ------------------------------------------------------------------------------------------
    // Public API
    // ------------------------------------------------------------------------------------------

    /** Number of threads (calling thread included) used for large products. */
    public static int threads() {
        return threads;
    }

    /**
     * Sets the number of threads (calling thread included) used for large products.
     *
     * @param n thread count, {@code >= 1}
     */
    public static void setThreads(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("threads: expected >= 1, given " + n);
        }
        threads = n;
    }

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
        int nt = threads;
        long work = (long) m * n * k;
        if (nt > 1 && work >= PAR_THRESHOLD && !(Thread.currentThread() instanceof GemmThread)) {
            Job job = Job.plan(nt, transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb,
                    c, cOff, ldc);
            if (job != null) {
                job.execute(nt - 1);
                return;
            }
        }
        gemmTile(transA, transB, k, alpha, a, aOff, lda, b, bOff, ldb, c, cOff, ldc,
                0, m, 0, n, Scratch.get());
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

    static void gemmTile(boolean transA, boolean transB, int k, float alpha,
                         float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                         float[] c, int cOff, int ldc, int i0, int i1, int j0, int j1,
                         Scratch s) {
        float[] acc = s.acc;
        for (int jc = j0; jc < j1; jc += NC) {
            int nb = Math.min(NC, j1 - jc);
            for (int pc = 0; pc < k; pc += KC) {
                int kb = Math.min(KC, k - pc);
                float[][] bp = s.bRows;
                packB(transB, b, bOff, ldb, pc, kb, jc, nb, bp);
                for (int ic = i0; ic < i1; ic += MC) {
                    int mb = Math.min(MC, i1 - ic);
                    float[] ap = s.ap;
                    packA(transA, alpha, a, aOff, lda, ic, mb, pc, kb, ap);
                    for (int r = 0; r < mb; r++) {
                        int co = cOff + (ic + r) * ldc + jc;
                        System.arraycopy(c, co, acc, 0, nb);
                        if (FMA) {
                            rowKernelFma(ap, r * kb, bp, kb, nb, acc);
                        } else {
                            rowKernelMulAdd(ap, r * kb, bp, kb, nb, acc);
                        }
                        System.arraycopy(acc, 0, c, co, nb);
                    }
                }
            }
        }
    }

    /** Packs op(B)[pc:pc+kb, jc:jc+nb] into rows bp[p][0:nb]. */
    private static void packB(boolean transB, float[] b, int bOff, int ldb, int pc, int kb,
                              int jc, int nb, float[][] bp) {
        if (!transB) {
            for (int p = 0; p < kb; p++) {
                System.arraycopy(b, bOff + (pc + p) * ldb + jc, bp[p], 0, nb);
            }
            return;
        }
        // B stored n x k: element (p, j) of op(B) is b[bOff + (jc + j) * ldb + pc + p].
        // Transpose 16 k-rows at a time: each source row segment read is one 64-byte line.
        int p = 0;
        for (; p + 16 <= kb; p += 16) {
            float[] d0 = bp[p], d1 = bp[p + 1], d2 = bp[p + 2], d3 = bp[p + 3];
            float[] d4 = bp[p + 4], d5 = bp[p + 5], d6 = bp[p + 6], d7 = bp[p + 7];
            float[] d8 = bp[p + 8], d9 = bp[p + 9], d10 = bp[p + 10], d11 = bp[p + 11];
            float[] d12 = bp[p + 12], d13 = bp[p + 13], d14 = bp[p + 14], d15 = bp[p + 15];
            int src = bOff + jc * ldb + pc + p;
            for (int j = 0; j < nb; j++, src += ldb) {
                d0[j] = b[src];
                d1[j] = b[src + 1];
                d2[j] = b[src + 2];
                d3[j] = b[src + 3];
                d4[j] = b[src + 4];
                d5[j] = b[src + 5];
                d6[j] = b[src + 6];
                d7[j] = b[src + 7];
                d8[j] = b[src + 8];
                d9[j] = b[src + 9];
                d10[j] = b[src + 10];
                d11[j] = b[src + 11];
                d12[j] = b[src + 12];
                d13[j] = b[src + 13];
                d14[j] = b[src + 14];
                d15[j] = b[src + 15];
            }
        }
        for (; p + 4 <= kb; p += 4) {
            float[] d0 = bp[p], d1 = bp[p + 1], d2 = bp[p + 2], d3 = bp[p + 3];
            int src = bOff + jc * ldb + pc + p;
            for (int j = 0; j < nb; j++, src += ldb) {
                d0[j] = b[src];
                d1[j] = b[src + 1];
                d2[j] = b[src + 2];
                d3[j] = b[src + 3];
            }
        }
        for (; p < kb; p++) {
            float[] d0 = bp[p];
            int src = bOff + jc * ldb + pc + p;
            for (int j = 0; j < nb; j++, src += ldb) {
                d0[j] = b[src];
            }
        }
    }

    /** Packs alpha*op(A)[ic:ic+mb, pc:pc+kb] row-major (ap[r*kb + p]). */
    private static void packA(boolean transA, float alpha, float[] a, int aOff, int lda,
                              int ic, int mb, int pc, int kb, float[] ap) {
        if (!transA) {
            for (int r = 0; r < mb; r++) {
                int src = aOff + (ic + r) * lda + pc, d = r * kb;
                for (int p = 0; p < kb; p++) {
                    ap[d + p] = alpha * a[src + p];
                }
            }
        } else {
            // A stored k x m: element (i, p) of op(A) is a[aOff + p * lda + i]
            for (int p = 0; p < kb; p++) {
                int src = aOff + (pc + p) * lda + ic;
                for (int r = 0, d = p; r < mb; r++, d += kb) {
                    ap[d] = alpha * a[src + r];
                }
            }
        }
    }

    /*
     * Micro-kernels: acc[0:nb] += Ap[row, 0:kb] * Bp[0:kb, 0:nb].
     *
     * Shape constraints that matter on JDK 17 C2 (verified by disassembly): the j loop must
     * (1) index every array with the bare induction variable (different invariant offsets,
     * e.g. c[cOff + j] next to b[bOff + j], disable SuperWord), (2) store to a single array
     * (two output rows next to two input rows are not vectorised in normal compiles), and
     * (3) stay under the unrolling node limit (8 B rows per pass is too big). Hence one output
     * row per pass, B packed as separate row arrays, and 6 (resp. 4) k-steps per pass.
     * Every element gets the same sequence of operations in vector and scalar-tail code.
     */
    private static void rowKernelFma(float[] ap, int ao, float[][] bp, int kb, int nb,
                                     float[] acc) {
        int p = 0;
        for (; p + 6 <= kb; p += 6) {
            int o = ao + p;
            float a0 = ap[o], a1 = ap[o + 1], a2 = ap[o + 2];
            float a3 = ap[o + 3], a4 = ap[o + 4], a5 = ap[o + 5];
            float[] y0 = bp[p], y1 = bp[p + 1], y2 = bp[p + 2];
            float[] y3 = bp[p + 3], y4 = bp[p + 4], y5 = bp[p + 5];
            for (int j = 0; j < nb; j++) {
                acc[j] = Math.fma(a5, y5[j], Math.fma(a4, y4[j], Math.fma(a3, y3[j],
                        Math.fma(a2, y2[j], Math.fma(a1, y1[j], Math.fma(a0, y0[j], acc[j]))))));
            }
        }
        // k tail (kb % 6 steps) in one pass: the same fma chain, so the same bits as 1-step passes
        int o = ao + p;
        switch (kb - p) {
            case 5: {
                float a0 = ap[o], a1 = ap[o + 1], a2 = ap[o + 2], a3 = ap[o + 3], a4 = ap[o + 4];
                float[] y0 = bp[p], y1 = bp[p + 1], y2 = bp[p + 2], y3 = bp[p + 3], y4 = bp[p + 4];
                for (int j = 0; j < nb; j++) {
                    acc[j] = Math.fma(a4, y4[j], Math.fma(a3, y3[j], Math.fma(a2, y2[j],
                            Math.fma(a1, y1[j], Math.fma(a0, y0[j], acc[j])))));
                }
                break;
            }
            case 4: {
                float a0 = ap[o], a1 = ap[o + 1], a2 = ap[o + 2], a3 = ap[o + 3];
                float[] y0 = bp[p], y1 = bp[p + 1], y2 = bp[p + 2], y3 = bp[p + 3];
                for (int j = 0; j < nb; j++) {
                    acc[j] = Math.fma(a3, y3[j], Math.fma(a2, y2[j],
                            Math.fma(a1, y1[j], Math.fma(a0, y0[j], acc[j]))));
                }
                break;
            }
            case 3: {
                float a0 = ap[o], a1 = ap[o + 1], a2 = ap[o + 2];
                float[] y0 = bp[p], y1 = bp[p + 1], y2 = bp[p + 2];
                for (int j = 0; j < nb; j++) {
                    acc[j] = Math.fma(a2, y2[j], Math.fma(a1, y1[j], Math.fma(a0, y0[j], acc[j])));
                }
                break;
            }
            case 2: {
                float a0 = ap[o], a1 = ap[o + 1];
                float[] y0 = bp[p], y1 = bp[p + 1];
                for (int j = 0; j < nb; j++) {
                    acc[j] = Math.fma(a1, y1[j], Math.fma(a0, y0[j], acc[j]));
                }
                break;
            }
            case 1: {
                float a0 = ap[o];
                float[] y0 = bp[p];
                for (int j = 0; j < nb; j++) {
                    acc[j] = Math.fma(a0, y0[j], acc[j]);
                }
                break;
            }
            default:
                break;
        }
    }

    private static void rowKernelMulAdd(float[] ap, int ao, float[][] bp, int kb, int nb,
                                        float[] acc) {
        int p = 0;
        for (; p + 4 <= kb; p += 4) {
            int o = ao + p;
            float a0 = ap[o], a1 = ap[o + 1], a2 = ap[o + 2], a3 = ap[o + 3];
            float[] y0 = bp[p], y1 = bp[p + 1], y2 = bp[p + 2], y3 = bp[p + 3];
            for (int j = 0; j < nb; j++) {
                acc[j] += a0 * y0[j] + a1 * y1[j] + a2 * y2[j] + a3 * y3[j];
            }
        }
        for (; p < kb; p++) {
            float a0 = ap[ao + p];
            float[] y0 = bp[p];
            for (int j = 0; j < nb; j++) {
                acc[j] += a0 * y0[j];
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    // Parallel execution
    // ------------------------------------------------------------------------------------------

    private static final class Job implements Runnable {
        final boolean transA, transB;
        final int k;
        final float alpha;
        final float[] a, b, c;
        final int aOff, lda, bOff, ldb, cOff, ldc;
        final int m, n, tileM, tileN, tilesN, total;
        final AtomicInteger next = new AtomicInteger();
        final CountDownLatch done;
        volatile Throwable error;

        private Job(boolean transA, boolean transB, int m, int n, int k, float alpha,
                    float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                    float[] c, int cOff, int ldc, int tileM, int tileN) {
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
        static Job plan(int nt, boolean transA, boolean transB, int m, int n, int k, float alpha,
                        float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                        float[] c, int cOff, int ldc) {
            int target = nt * TILES_PER_THREAD;
            int mt = 1, ntl = 1;
            if (m <= MC && n >= nt * MIN_TILE_N) {
                // A single A block: split over n only, one wide tile per thread. op(B) is then
                // packed exactly once in all, and the micro-kernel's rows stay long.
                int tileN = roundUp(ceilDiv(n, nt), 8);
                return new Job(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, c, cOff,
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
            int tileM = roundUp(ceilDiv(m, mt), MR);
            int tileN = roundUp(ceilDiv(n, ntl), 8);
            if (tileM >= m && tileN >= n) {
                return null;
            }
            return new Job(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, c, cOff,
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
            Scratch s = null;
            int t;
            while ((t = next.getAndIncrement()) < total) {
                try {
                    if (s == null) {
                        s = Scratch.get();
                    }
                    int i0 = (t / tilesN) * tileM, j0 = (t % tilesN) * tileN;
                    gemmTile(transA, transB, k, alpha, a, aOff, lda, b, bOff, ldb, c, cOff, ldc,
                            i0, Math.min(m, i0 + tileM), j0, Math.min(n, j0 + tileN), s);
                } catch (Throwable e) {
                    error = e;
                } finally {
                    done.countDown();
                }
            }
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
    // Per-thread scratch
    // ------------------------------------------------------------------------------------------

    static final class Scratch {
        private static final ThreadLocal<Scratch> TL = ThreadLocal.withInitial(Scratch::new);
        final float[][] bRows = new float[KC][NC];
        final float[] ap = new float[MC * KC];
        final float[] acc = new float[NC];

        static Scratch get() {
            return TL.get();
        }
    }

    // ------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------

    private static boolean detectFma() {
        String p = System.getProperty("rnn4j.gemm.fma");
        if (p != null) {
            return Boolean.parseBoolean(p.trim());
        }
        try {
            Class<?> cls = Class.forName("com.sun.management.HotSpotDiagnosticMXBean");
            @SuppressWarnings({"unchecked", "rawtypes"})
            Object bean = java.lang.management.ManagementFactory.getPlatformMXBean(
                    (Class) cls);
            Object opt = cls.getMethod("getVMOption", String.class).invoke(bean, "UseFMA");
            Object v = opt.getClass().getMethod("getValue").invoke(opt);
            return Boolean.parseBoolean(String.valueOf(v));
        } catch (Throwable t) {
            String arch = System.getProperty("os.arch", "");
            return arch.equals("aarch64");
        }
    }

    private static int initThreads() {
        int def = Runtime.getRuntime().availableProcessors();
        int t = intProp("rnn4j.threads", def);
        return t >= 1 ? t : def;
    }

    private static int intProp(String name, int def) {
        try {
            String v = System.getProperty(name);
            return v == null ? def : Integer.parseInt(v.trim());
        } catch (RuntimeException e) {
            return def;
        }
    }

    private static long longProp(String name, long def) {
        try {
            String v = System.getProperty(name);
            return v == null ? def : Long.parseLong(v.trim());
        } catch (RuntimeException e) {
            return def;
        }
    }

    private static int ceilDiv(int x, int y) {
        return (x + y - 1) / y;
    }

    private static int roundUp(int x, int mult) {
        return ceilDiv(x, mult) * mult;
    }
}
