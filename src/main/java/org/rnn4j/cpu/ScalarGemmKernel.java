package org.rnn4j.cpu;

/**
 * The plain-Java GEMM kernel: what {@link CpuGemm} runs when the JVM lacks {@code jdk.incubator.vector},
 * and the scalar twin the vector kernel is tested against.
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
 *   loop (the Vector API can: {@code VectorGemmKernel}), so this kernel streams a row of C through
 *   the vector units and amortises each load/store of it over 6 k-steps (7 loads + 1 store per 6
 *   vector FMAs, all L1/L2 hits).
 *   Its shape is dictated by JDK 17's SuperWord, verified by disassembling the C2 code: every
 *   array in the j loop must be indexed by the bare induction variable (an access such as
 *   {@code c[cOff + j]} next to {@code b[bOff + j]}, i.e. two different loop-invariant offsets,
 *   silently disables vectorisation - hence B rows as separate arrays and the accumulator
 *   copy), the loop may store to only one array (two C rows updated from two B rows are not
 *   vectorised in normal, non-OSR compiles), and 8 fused k-steps exceed the unrolling limit.
 *   Register-blocking over several rows of C is therefore not available; the one-row,
 *   6-step kernel measured fastest. {@link Math#fma} is used when the JVM intrinsifies it
 *   (flag {@code UseFMA}), otherwise a 4-step multiply-add kernel (whose rounding then differs
 *   from the vector kernel's fused chain).</li>
 *   <li><b>Why these block sizes.</b> {@code KC x NC} floats of packed B (default 96 x 512 =
 *   192 KiB; 192 x 512 measured 10-30% slower on a 2-core EPYC, the panel then competes with
 *   A and the other core's panel for L2) stay in L2 while each row of A streams over it; the
 *   accumulator row (2 KiB) and 6 rows of B in flight stay in L1. All three are tunable via the
 *   system properties {@code rnn4j.gemm.mc}, {@code rnn4j.gemm.kc}, {@code rnn4j.gemm.nc}
 *   ({@code kc} is rounded to a multiple of 12).</li>
 * </ul>
 * Packing buffers are per-thread scratch arrays, grown on demand and reused, so steady-state
 * calls do not allocate them.
 */
final class ScalarGemmKernel implements GemmKernel {

    static final int MC = Math.max(1, CpuGemm.intProp("rnn4j.gemm.mc", 128));
    private static final int KC = roundUp(Math.max(12, CpuGemm.intProp("rnn4j.gemm.kc", 96)), 12);
    private static final int NC = roundUp(Math.max(8, CpuGemm.intProp("rnn4j.gemm.nc", 512)), 8);
    /** Use Math.fma kernels (only when the JVM intrinsifies FMA; the fallback is very slow). */
    static final boolean FMA = detectFma();

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private static final class Scratch {
        final float[][] bRows = new float[KC][NC];
        final float[] ap = new float[MC * KC];
        final float[] acc = new float[NC];
    }

    @Override
    public String describe() {
        return "plain Java (auto-vectorised rows, " + (FMA ? "FMA" : "multiply-add") + ")";
    }

    @Override
    public int rowAlign() {
        return 4;
    }

    @Override
    public int colAlign() {
        return 8;
    }

    @Override
    public int panelAlign() {
        return FMA ? 1 : 0;
    }

    /** Row arrays: C2 vectorises the row kernel's loop only over separate arrays. */
    @Override
    public int panelStrip() {
        return 0;
    }

    /** Row-major, as given: the row kernel reads a row's values one by one. */
    @Override
    public void packRows(int rows, int k, float[] a, int aOff, int lda, float[] packed) {
        for (int r = 0; r < rows; r++) {
            System.arraycopy(a, aOff + r * lda, packed, r * k, k);
        }
    }

    /**
     * One row of z at a time in the accumulator row, by the fused-FMA row kernel of {@link #tile}, over k in chunks
     * whose panel rows (about 24 KiB) stay in L1 while every row passes over them: the row kernel loads a panel value
     * per fma, so a whole panel (128 KiB for an LSTM block at H = 256) re-read from L2 per row bounds it by L2's
     * bandwidth. A row's chain goes on across chunks from z (stored and reloaded: the same bits).
     */
    @Override
    public void panelProduct(int rows, int k, float[] packed, float[][] panel, int width, float[] z, int zOff,
                             int ldz) {
        if (!FMA || width > NC) {
            throw new IllegalArgumentException("panelProduct: expected FMA and width <= " + NC + ", got FMA=" + FMA
                    + ", width " + width);
        }
        float[] acc = SCRATCH.get().acc;
        int chunk = Math.max(6, PANEL_CHUNK_FLOATS / width / 6 * 6);
        for (int p0 = 0; p0 < k; p0 += chunk) {
            int kb = Math.min(chunk, k - p0);
            for (int r = 0; r < rows; r++) {
                if (p0 == 0) {
                    java.util.Arrays.fill(acc, 0, width, 0f);
                } else {
                    System.arraycopy(z, zOff + r * ldz, acc, 0, width);
                }
                rowKernelFma(packed, r * k + p0, panel, p0, kb, width, acc);
                System.arraycopy(acc, 0, z, zOff + r * ldz, width);
            }
        }
    }

    /** Floats of panel rows per k chunk of {@link #panelProduct}: 24 KiB, half of a 48 KiB L1. */
    private static final int PANEL_CHUNK_FLOATS = 6144;

    @Override
    public void tile(boolean transA, boolean transB, int k, float alpha,
                     float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                     float[] c, int cOff, int ldc, int i0, int i1, int j0, int j1) {
        Scratch s = SCRATCH.get();
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
                            rowKernelFma(ap, r * kb, bp, 0, kb, nb, acc);
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
     * Micro-kernels: acc[0:nb] += Ap[row, 0:kb] * Bp[p0:p0+kb, 0:nb].
     *
     * Shape constraints that matter on JDK 17 C2 (verified by disassembly): the j loop must
     * (1) index every array with the bare induction variable (different invariant offsets,
     * e.g. c[cOff + j] next to b[bOff + j], disable SuperWord), (2) store to a single array
     * (two output rows next to two input rows are not vectorised in normal compiles), and
     * (3) stay under the unrolling node limit (8 B rows per pass is too big). Hence one output
     * row per pass, B packed as separate row arrays, and 6 (resp. 4) k-steps per pass.
     * Every element gets the same sequence of operations in vector and scalar-tail code.
     */
    private static void rowKernelFma(float[] ap, int ao, float[][] bp, int p0, int kb, int nb,
                                     float[] acc) {
        int p = 0;
        for (; p + 6 <= kb; p += 6) {
            int o = ao + p;
            float a0 = ap[o], a1 = ap[o + 1], a2 = ap[o + 2];
            float a3 = ap[o + 3], a4 = ap[o + 4], a5 = ap[o + 5];
            float[] y0 = bp[p0 + p], y1 = bp[p0 + p + 1], y2 = bp[p0 + p + 2];
            float[] y3 = bp[p0 + p + 3], y4 = bp[p0 + p + 4], y5 = bp[p0 + p + 5];
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
                float[] y0 = bp[p0 + p], y1 = bp[p0 + p + 1], y2 = bp[p0 + p + 2], y3 = bp[p0 + p + 3];
                float[] y4 = bp[p0 + p + 4];
                for (int j = 0; j < nb; j++) {
                    acc[j] = Math.fma(a4, y4[j], Math.fma(a3, y3[j], Math.fma(a2, y2[j],
                            Math.fma(a1, y1[j], Math.fma(a0, y0[j], acc[j])))));
                }
                break;
            }
            case 4: {
                float a0 = ap[o], a1 = ap[o + 1], a2 = ap[o + 2], a3 = ap[o + 3];
                float[] y0 = bp[p0 + p], y1 = bp[p0 + p + 1], y2 = bp[p0 + p + 2], y3 = bp[p0 + p + 3];
                for (int j = 0; j < nb; j++) {
                    acc[j] = Math.fma(a3, y3[j], Math.fma(a2, y2[j],
                            Math.fma(a1, y1[j], Math.fma(a0, y0[j], acc[j]))));
                }
                break;
            }
            case 3: {
                float a0 = ap[o], a1 = ap[o + 1], a2 = ap[o + 2];
                float[] y0 = bp[p0 + p], y1 = bp[p0 + p + 1], y2 = bp[p0 + p + 2];
                for (int j = 0; j < nb; j++) {
                    acc[j] = Math.fma(a2, y2[j], Math.fma(a1, y1[j], Math.fma(a0, y0[j], acc[j])));
                }
                break;
            }
            case 2: {
                float a0 = ap[o], a1 = ap[o + 1];
                float[] y0 = bp[p0 + p], y1 = bp[p0 + p + 1];
                for (int j = 0; j < nb; j++) {
                    acc[j] = Math.fma(a1, y1[j], Math.fma(a0, y0[j], acc[j]));
                }
                break;
            }
            case 1: {
                float a0 = ap[o];
                float[] y0 = bp[p0 + p];
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

    private static int roundUp(int x, int mult) {
        return (x + mult - 1) / mult * mult;
    }
}
