package org.rnn4j.cpu;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The GEMM kernel on the JDK's Vector API ({@code jdk.incubator.vector}): a BLIS-style register-blocked
 * micro-kernel. Loaded by {@link CpuGemm} only when the JVM was started with
 * {@code --add-modules jdk.incubator.vector}; nothing else refers to this class or to the module.
 *
 * <h2>Blocking (BLIS)</h2>
 * <pre>
 * for jc in n step NC                         // column block of C
 *   for pc in k step KC                       // k block, in increasing order
 *     pack op(B)[pc:pc+KC, jc:jc+NC]          // -> strips of W = NR vectors, KC x W each (skipped, see below)
 *     for ic in m step MC                     // row block of C
 *       pack alpha*op(A)[ic:ic+MC, pc:pc+KC]  // -> panels of MR rows, k-major (ap[p*MR + r])
 *       for each strip jr of W columns        // the strip (KC x W) stays in L1/L2 across the panels
 *         for each panel ir of MR rows
 *           C[ir:ir+MR, jr:jr+W] (MR x NR vectors held in registers) += Ap[ir] · Bp[jr]
 * </pre>
 * The micro-kernel loads the MR x NR accumulator vectors of C once, then for each k-step loads NR
 * vectors of B, broadcasts MR values of A and issues MR x NR fused multiply-adds, and stores C once:
 * with AVX-512 (32 registers of 16 floats) an 8 x 3 tile, 24 accumulators + 3 B vectors + 1 broadcast;
 * with 16 registers (AVX2) 4 x 3. The species is {@link FloatVector#SPECIES_PREFERRED}, fixed at start-up.
 *
 * <p><b>B unpacked when not transposed.</b> A non-transposed op(B) already has unit-stride rows, which is
 * all the micro-kernel needs, so it reads those rows in place (only a ragged right-hand strip is copied,
 * zero-padded to W columns). The recurrent products of a layer (h·W_hhᵀ forward on the W_hhᵀ the layer
 * transposes once per call, dG·W_hh backward) therefore pack nothing per step but the B x K activations.
 * A transposed op(B) is packed into contiguous strips.
 *
 * <p><b>Same bits as the scalar kernel.</b> Every element of C is {@code fma(alpha·a[i,p], b[p,j], c)}
 * chained over p in increasing order, starting from C; a k block ends by storing the float accumulator
 * to C and the next one reloads it, which changes nothing. Ragged tiles run the same micro-kernel on a
 * zero-padded copy, so edges get the same chain too.
 *
 * <p>Block sizes: system properties {@code rnn4j.gemm.vector.mc} (rounded to MR), {@code .kc},
 * {@code .nc} (rounded to W).
 */
final class VectorGemmKernel implements GemmKernel {

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Rows of the register tile: 8 with 32 vector registers (AVX-512, AArch64), 4 with 16 (AVX2). */
    private static final int MR = L >= 16 || "aarch64".equals(System.getProperty("os.arch")) ? 8 : 4;
    /** Vectors across the register tile. */
    private static final int NR = 3;
    /** Columns of the register tile. */
    private static final int W = NR * L;
    private static final int KC = Math.max(1, CpuGemm.intProp("rnn4j.gemm.vector.kc", 256));
    private static final int MC = roundUp(Math.max(1, CpuGemm.intProp("rnn4j.gemm.vector.mc", 128)), MR);
    private static final int NC = roundUp(Math.max(1, CpuGemm.intProp("rnn4j.gemm.vector.nc", 1536)), W);

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** Per-thread packing buffers, allocated once. */
    private static final class Scratch {
        final float[] ap = new float[MC * KC];
        final float[] bp = new float[KC * NC];
        /** C of a ragged tile, zero-padded to MR x W. */
        final float[] ct = new float[MR * W];
    }

    /** Whether this JVM runs the Vector API in hardware: at least 128-bit vectors and FMA instructions. */
    static boolean usable() {
        return L >= 4 && ScalarGemmKernel.FMA;
    }

    @Override
    public String describe() {
        return "Vector API (" + S.vectorBitSize() + "-bit, " + L + " floats; " + MR + " x " + W
                + " register tile)";
    }

    @Override
    public int rowAlign() {
        return MR;
    }

    @Override
    public int colAlign() {
        return W;
    }

    /** Strips of two vectors, the 12 x 2 and 8 x 2 tiles' width (see panelProduct). */
    @Override
    public int panelStrip() {
        return ST;
    }

    /** A panel product's column group: 4 vectors (a single row takes two groups at once). */
    private static final int PW = 4 * L;
    /** The panel's strip width: two vectors, one k-step of a strip on two L1 lines (AVX-512) or one (AVX2). */
    private static final int ST = 2 * L;

    @Override
    public int panelAlign() {
        return 2 * PW;
    }

    /**
     * Groups of {@link #groupRows} rows (12, or 8 when fewer are left), k-major
     * ({@code packed[r·k + p·n + i]} for row r + i of a group of n starting at row r), so that a k-step's values sit
     * on one or two L1 lines; the last rows, fewer than 8, row-major ({@code packed[r·k + p]}).
     */
    @Override
    public void packRows(int rows, int k, float[] a, int aOff, int lda, float[] packed) {
        int r = 0;
        for (int n; (n = groupRows(rows - r)) > 0; r += n) {
            int ao = aOff + r * lda, base = r * k;
            for (int i = 0; i < n; i++, ao += lda) {
                for (int p = 0, d = base + i; p < k; p++, d += n) {
                    packed[d] = a[ao + p];
                }
            }
        }
        for (; r < rows; r++) {
            System.arraycopy(a, aOff + r * lda, packed, r * k, k);
        }
    }

    /**
     * Rows of the next k-major group of {@link #packRows} with {@code left} rows left: 12, 8, or 0 (row-major). Twelve
     * at every k: with the panels in column strips, 12 x 2 tiles beat 8 x 2 ones even where a group's packed rows
     * outgrow L1 (AVX-512 Xeon, TwoBuildsAB, both orders: LSTM 512/B64 0.96-0.98, 1024/B16 0.92-0.95, GRU 512/B32
     * 0.93-0.94, a projection at k = 4096 0.83-0.89; before the strips, 8-row groups were faster from k = 512).
     */
    private static int groupRows(int left) {
        return left >= 12 ? 12 : left >= 8 ? 8 : 0;
    }

    /**
     * Rows 12 (then 8) at a time against column pairs of vectors (24 accumulators: two panel loads and twelve
     * broadcasts per 24 fmas, the panel, L2-resident, read once per 12 rows; on the AVX2 EPYC 8 x 2 measured 15 %
     * slower, a 4 x 4 tile on unpacked rows 25 %); then 4 rows at
     * a time over groups of 4 vectors; then one row at a time over two such groups at once, so a small batch does
     * no padded work ({@code tile} pads B = 1 to a panel of MR rows, MR times the multiply-adds). The panel rows are
     * read in place: nothing is packed per call.
     */
    @Override
    public void panelProduct(int rows, int k, float[] packed, float[][] panel, int width, float[] z, int zOff,
                             int ldz) {
        if (width % (2 * PW) != 0) {
            throw new IllegalArgumentException("width: expected a multiple of " + 2 * PW + ", got " + width);
        }
        if (panel.length != 1 || panel[0].length != k * width) {
            throw new IllegalArgumentException("panel: expected one array of " + k + " x " + width + " floats, got "
                    + panel.length + " arrays" + (panel.length == 1 ? " of " + panel[0].length + " floats" : ""));
        }
        float[] fp = panel[0];
        int r = 0;
        // the strip of columns x .. x + ST starts at x·k (panelStrip)
        for (int n; (n = groupRows(rows - r)) > 0; r += n) {
            for (int x = 0; x < width; x += ST) {
                if (n == 12) {
                    panel12x2(k, packed, r * k, fp, x * k, z, zOff + r * ldz + x, ldz);
                } else {
                    panel8x2(k, packed, r * k, fp, x * k, z, zOff + r * ldz + x, ldz);
                }
            }
        }
        if (rows - r >= 4) {
            for (int x = 0; x < width; x += PW) {
                panel4(k, packed, r * k, k, fp, x * k, z, zOff + r * ldz + x, ldz);
            }
            r += 4;
        }
        for (; r < rows; r++) {
            for (int x = 0; x < width; x += 2 * PW) {
                panel1x2(k, packed, r * k, fp, x * k, z, zOff + r * ldz + x);
            }
        }
    }

    /**
     * z[12 rows (ldz apart from zo), one strip] = rows packed k-major (ap[ao + p·12 + r]) · the strip's k rows
     * (fp[so + p·ST ..]). The loop counts the packed index q itself: counting p, C2 turns {@code 12·p} into two
     * shifts, no longer sees an induction variable in {@code ap[ao + 12·p]} and keeps two bounds checks and the index
     * arithmetic in every k-step (PanelMicro, one core, k = 256: 65-70 against 72-75 Gfma/s).
     */
    private static void panel12x2(int k, float[] ap, int ao, float[] fp, int so, float[] z, int zo, int ldz) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00;
        FloatVector c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
        FloatVector c80 = c00, c81 = c00, c90 = c00, c91 = c00, ca0 = c00, ca1 = c00, cb0 = c00, cb1 = c00;
        for (int q = ao, o = so, end = ao + 12 * k; q < end; q += 12, o += ST) {
            FloatVector b0 = load(fp, o), b1 = load(fp, o + L);
            FloatVector v;
            v = FloatVector.broadcast(S, ap[q]);
            c00 = v.fma(b0, c00); c01 = v.fma(b1, c01);
            v = FloatVector.broadcast(S, ap[q + 1]);
            c10 = v.fma(b0, c10); c11 = v.fma(b1, c11);
            v = FloatVector.broadcast(S, ap[q + 2]);
            c20 = v.fma(b0, c20); c21 = v.fma(b1, c21);
            v = FloatVector.broadcast(S, ap[q + 3]);
            c30 = v.fma(b0, c30); c31 = v.fma(b1, c31);
            v = FloatVector.broadcast(S, ap[q + 4]);
            c40 = v.fma(b0, c40); c41 = v.fma(b1, c41);
            v = FloatVector.broadcast(S, ap[q + 5]);
            c50 = v.fma(b0, c50); c51 = v.fma(b1, c51);
            v = FloatVector.broadcast(S, ap[q + 6]);
            c60 = v.fma(b0, c60); c61 = v.fma(b1, c61);
            v = FloatVector.broadcast(S, ap[q + 7]);
            c70 = v.fma(b0, c70); c71 = v.fma(b1, c71);
            v = FloatVector.broadcast(S, ap[q + 8]);
            c80 = v.fma(b0, c80); c81 = v.fma(b1, c81);
            v = FloatVector.broadcast(S, ap[q + 9]);
            c90 = v.fma(b0, c90); c91 = v.fma(b1, c91);
            v = FloatVector.broadcast(S, ap[q + 10]);
            ca0 = v.fma(b0, ca0); ca1 = v.fma(b1, ca1);
            v = FloatVector.broadcast(S, ap[q + 11]);
            cb0 = v.fma(b0, cb0); cb1 = v.fma(b1, cb1);
        }
        c00.intoArray(z, zo); c01.intoArray(z, zo + L); zo += ldz;
        c10.intoArray(z, zo); c11.intoArray(z, zo + L); zo += ldz;
        c20.intoArray(z, zo); c21.intoArray(z, zo + L); zo += ldz;
        c30.intoArray(z, zo); c31.intoArray(z, zo + L); zo += ldz;
        c40.intoArray(z, zo); c41.intoArray(z, zo + L); zo += ldz;
        c50.intoArray(z, zo); c51.intoArray(z, zo + L); zo += ldz;
        c60.intoArray(z, zo); c61.intoArray(z, zo + L); zo += ldz;
        c70.intoArray(z, zo); c71.intoArray(z, zo + L); zo += ldz;
        c80.intoArray(z, zo); c81.intoArray(z, zo + L); zo += ldz;
        c90.intoArray(z, zo); c91.intoArray(z, zo + L); zo += ldz;
        ca0.intoArray(z, zo); ca1.intoArray(z, zo + L); zo += ldz;
        cb0.intoArray(z, zo); cb1.intoArray(z, zo + L);
    }

    /**
     * z[8 rows (ldz apart from zo), one strip] = rows packed k-major in ap (ap[ao + p·8 + r]) · the strip's k rows
     * (fp[so + p·ST ..]).
     */
    private static void panel8x2(int k, float[] ap, int ao, float[] fp, int so, float[] z, int zo, int ldz) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00;
        FloatVector c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
        for (int p = 0; p < k; p++) {
            int q = ao + 8 * p, o = so + p * ST;
            FloatVector b0 = load(fp, o), b1 = load(fp, o + L);
            FloatVector v;
            v = FloatVector.broadcast(S, ap[q]);
            c00 = v.fma(b0, c00); c01 = v.fma(b1, c01);
            v = FloatVector.broadcast(S, ap[q + 1]);
            c10 = v.fma(b0, c10); c11 = v.fma(b1, c11);
            v = FloatVector.broadcast(S, ap[q + 2]);
            c20 = v.fma(b0, c20); c21 = v.fma(b1, c21);
            v = FloatVector.broadcast(S, ap[q + 3]);
            c30 = v.fma(b0, c30); c31 = v.fma(b1, c31);
            v = FloatVector.broadcast(S, ap[q + 4]);
            c40 = v.fma(b0, c40); c41 = v.fma(b1, c41);
            v = FloatVector.broadcast(S, ap[q + 5]);
            c50 = v.fma(b0, c50); c51 = v.fma(b1, c51);
            v = FloatVector.broadcast(S, ap[q + 6]);
            c60 = v.fma(b0, c60); c61 = v.fma(b1, c61);
            v = FloatVector.broadcast(S, ap[q + 7]);
            c70 = v.fma(b0, c70); c71 = v.fma(b1, c71);
        }
        c00.intoArray(z, zo); c01.intoArray(z, zo + L); zo += ldz;
        c10.intoArray(z, zo); c11.intoArray(z, zo + L); zo += ldz;
        c20.intoArray(z, zo); c21.intoArray(z, zo + L); zo += ldz;
        c30.intoArray(z, zo); c31.intoArray(z, zo + L); zo += ldz;
        c40.intoArray(z, zo); c41.intoArray(z, zo + L); zo += ldz;
        c50.intoArray(z, zo); c51.intoArray(z, zo + L); zo += ldz;
        c60.intoArray(z, zo); c61.intoArray(z, zo + L); zo += ldz;
        c70.intoArray(z, zo); c71.intoArray(z, zo + L);
    }

    /**
     * z[1 row, 2·PW columns from zo] = a[ao : ao + k] · the four strips from so ({@code fp[so + j·ST·k + p·ST ..]},
     * {@code j < 4}) over {@code p < k}: eight independent fma chains, enough to cover the fma latency (four would
     * wait on it), for a single row (a stream's step at B = 1).
     */
    private static void panel1x2(int k, float[] a, int ao, float[] fp, int so, float[] z, int zo) {
        FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
        int sk = ST * k;   // from one strip to the next
        for (int p = 0, o = so; p < k; p++, o += ST) {
            FloatVector v = FloatVector.broadcast(S, a[ao + p]);
            c0 = v.fma(load(fp, o), c0);
            c1 = v.fma(load(fp, o + L), c1);
            c2 = v.fma(load(fp, o + sk), c2);
            c3 = v.fma(load(fp, o + sk + L), c3);
            c4 = v.fma(load(fp, o + 2 * sk), c4);
            c5 = v.fma(load(fp, o + 2 * sk + L), c5);
            c6 = v.fma(load(fp, o + 3 * sk), c6);
            c7 = v.fma(load(fp, o + 3 * sk + L), c7);
        }
        c0.intoArray(z, zo); c1.intoArray(z, zo + L); c2.intoArray(z, zo + 2 * L); c3.intoArray(z, zo + 3 * L);
        c4.intoArray(z, zo + 4 * L); c5.intoArray(z, zo + 5 * L); c6.intoArray(z, zo + 6 * L);
        c7.intoArray(z, zo + 7 * L);
    }

    /** z[4 rows, PW columns from zo] = a[4 rows from ao, k] · the two strips from so, {@code p < k}. */
    private static void panel4(int k, float[] a, int ao, int lda, float[] fp, int so, float[] z, int zo, int ldz) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c03 = c00;
        FloatVector c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00, c23 = c00;
        FloatVector c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        int a1 = ao + lda, a2 = ao + 2 * lda, a3 = ao + 3 * lda, s1 = so + ST * k;
        for (int p = 0; p < k; p++) {
            int o = so + p * ST, o1 = s1 + p * ST;
            FloatVector b0 = load(fp, o), b1 = load(fp, o + L), b2 = load(fp, o1), b3 = load(fp, o1 + L);
            FloatVector v;
            v = FloatVector.broadcast(S, a[ao + p]);
            c00 = v.fma(b0, c00); c01 = v.fma(b1, c01); c02 = v.fma(b2, c02); c03 = v.fma(b3, c03);
            v = FloatVector.broadcast(S, a[a1 + p]);
            c10 = v.fma(b0, c10); c11 = v.fma(b1, c11); c12 = v.fma(b2, c12); c13 = v.fma(b3, c13);
            v = FloatVector.broadcast(S, a[a2 + p]);
            c20 = v.fma(b0, c20); c21 = v.fma(b1, c21); c22 = v.fma(b2, c22); c23 = v.fma(b3, c23);
            v = FloatVector.broadcast(S, a[a3 + p]);
            c30 = v.fma(b0, c30); c31 = v.fma(b1, c31); c32 = v.fma(b2, c32); c33 = v.fma(b3, c33);
        }
        int o1 = zo + ldz, o2 = zo + 2 * ldz, o3 = zo + 3 * ldz;
        c00.intoArray(z, zo); c01.intoArray(z, zo + L); c02.intoArray(z, zo + 2 * L); c03.intoArray(z, zo + 3 * L);
        c10.intoArray(z, o1); c11.intoArray(z, o1 + L); c12.intoArray(z, o1 + 2 * L); c13.intoArray(z, o1 + 3 * L);
        c20.intoArray(z, o2); c21.intoArray(z, o2 + L); c22.intoArray(z, o2 + 2 * L); c23.intoArray(z, o2 + 3 * L);
        c30.intoArray(z, o3); c31.intoArray(z, o3 + L); c32.intoArray(z, o3 + 2 * L); c33.intoArray(z, o3 + 3 * L);
    }

    @Override
    public void tile(boolean transA, boolean transB, int k, float alpha,
                     float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                     float[] c, int cOff, int ldc, int i0, int i1, int j0, int j1) {
        Scratch s = SCRATCH.get();
        for (int jc = j0; jc < j1; jc += NC) {
            int nb = Math.min(NC, j1 - jc);
            for (int pc = 0; pc < k; pc += KC) {
                int kb = Math.min(KC, k - pc);
                // op(B)[pc:pc+kb, jc:jc+nb]: in place (row stride ldb) or packed strips (stride W)
                int direct = transB ? 0 : nb / W * W;
                packB(transB, b, bOff, ldb, pc, kb, jc + direct, nb - direct, s.bp);
                for (int ic = i0; ic < i1; ic += MC) {
                    int mb = Math.min(MC, i1 - ic);
                    packA(transA, alpha, a, aOff, lda, ic, mb, pc, kb, s.ap);
                    for (int jr = 0; jr < nb; jr += W) {
                        int w = Math.min(W, nb - jr);
                        boolean inPlace = jr < direct;
                        float[] bs = inPlace ? b : s.bp;
                        int bo = inPlace ? bOff + pc * ldb + jc + jr : (jr - direct) * kb;
                        int bStride = inPlace ? ldb : W;
                        for (int ir = 0; ir < mb; ir += MR) {
                            int h = Math.min(MR, mb - ir);
                            int co = cOff + (ic + ir) * ldc + jc + jr;
                            if (h == MR && w == W) {
                                kernel(kb, s.ap, ir * kb, bs, bo, bStride, c, co, ldc);
                            } else {
                                raggedTile(kb, s.ap, ir * kb, bs, bo, bStride, c, co, ldc, h, w, s.ct);
                            }
                        }
                    }
                }
            }
        }
    }

    private static void kernel(int kb, float[] ap, int ao, float[] b, int bo, int bs, float[] c, int co, int ldc) {
        if (MR == 8) {
            kernel8x3(kb, ap, ao, b, bo, bs, c, co, ldc);
        } else {
            kernel4x3(kb, ap, ao, b, bo, bs, c, co, ldc);
        }
    }

    /** A tile of {@code h < MR} rows or {@code w < W} columns: the full micro-kernel on a zero-padded copy of C. */
    private static void raggedTile(int kb, float[] ap, int ao, float[] b, int bo, int bs,
                                   float[] c, int co, int ldc, int h, int w, float[] ct) {
        Arrays.fill(ct, 0f);
        for (int r = 0; r < h; r++) {
            System.arraycopy(c, co + r * ldc, ct, r * W, w);
        }
        kernel(kb, ap, ao, b, bo, bs, ct, 0, W);
        for (int r = 0; r < h; r++) {
            System.arraycopy(ct, r * W, c, co + r * ldc, w);
        }
    }

    /**
     * Packs op(B)[pc:pc+kb, j:j+nb] into strips of W columns, zero-padded: element (p, jr + x) at
     * {@code bp[jr*kb + p*W + x]} (jr a multiple of W).
     */
    private static void packB(boolean transB, float[] b, int bOff, int ldb, int pc, int kb, int j, int nb,
                              float[] bp) {
        for (int jr = 0; jr < nb; jr += W) {
            int w = Math.min(W, nb - jr), base = jr * kb;
            if (w < W) {
                Arrays.fill(bp, base, base + kb * W, 0f);
            }
            if (!transB) {
                for (int p = 0; p < kb; p++) {
                    System.arraycopy(b, bOff + (pc + p) * ldb + j + jr, bp, base + p * W, w);
                }
            } else {
                // B stored n x k: op(B)[p, x] = b[(j + jr + x) * ldb + pc + p], each source row read once
                for (int x = 0; x < w; x++) {
                    int src = bOff + (j + jr + x) * ldb + pc;
                    for (int p = 0, d = base + x; p < kb; p++, d += W) {
                        bp[d] = b[src + p];
                    }
                }
            }
        }
    }

    /**
     * Packs alpha*op(A)[ic:ic+mb, pc:pc+kb] into panels of MR rows, zero-padded: element (ir + r, p) at
     * {@code ap[ir*kb + p*MR + r]} (ir a multiple of MR).
     */
    private static void packA(boolean transA, float alpha, float[] a, int aOff, int lda, int ic, int mb,
                              int pc, int kb, float[] ap) {
        for (int ir = 0; ir < mb; ir += MR) {
            int h = Math.min(MR, mb - ir), base = ir * kb;
            if (h < MR) {
                Arrays.fill(ap, base, base + kb * MR, 0f);
            }
            if (!transA) {
                for (int r = 0; r < h; r++) {
                    int src = aOff + (ic + ir + r) * lda + pc;
                    for (int p = 0, d = base + r; p < kb; p++, d += MR) {
                        ap[d] = alpha * a[src + p];
                    }
                }
            } else {
                // A stored k x m: op(A)[i, p] = a[p * lda + i]
                for (int p = 0; p < kb; p++) {
                    int src = aOff + (pc + p) * lda + ic + ir, d = base + p * MR;
                    for (int r = 0; r < h; r++) {
                        ap[d + r] = alpha * a[src + r];
                    }
                }
            }
        }
    }

    private static FloatVector load(float[] x, int i) {
        return FloatVector.fromArray(S, x, i);
    }

    /** C[8 rows, W columns] (rows ldc apart from co) += A panel (8 floats a k-step) · B strip (rows bs apart). */
    private static void kernel8x3(int kb, float[] ap, int ao, float[] b, int bo, int bs,
                                  float[] c, int co, int ldc) {
        int o0 = co;
        int o1 = co + ldc;
        int o2 = co + 2 * ldc;
        int o3 = co + 3 * ldc;
        int o4 = co + 4 * ldc;
        int o5 = co + 5 * ldc;
        int o6 = co + 6 * ldc;
        int o7 = co + 7 * ldc;
        FloatVector c00 = load(c, o0), c01 = load(c, o0 + L), c02 = load(c, o0 + 2 * L);
        FloatVector c10 = load(c, o1), c11 = load(c, o1 + L), c12 = load(c, o1 + 2 * L);
        FloatVector c20 = load(c, o2), c21 = load(c, o2 + L), c22 = load(c, o2 + 2 * L);
        FloatVector c30 = load(c, o3), c31 = load(c, o3 + L), c32 = load(c, o3 + 2 * L);
        FloatVector c40 = load(c, o4), c41 = load(c, o4 + L), c42 = load(c, o4 + 2 * L);
        FloatVector c50 = load(c, o5), c51 = load(c, o5 + L), c52 = load(c, o5 + 2 * L);
        FloatVector c60 = load(c, o6), c61 = load(c, o6 + L), c62 = load(c, o6 + 2 * L);
        FloatVector c70 = load(c, o7), c71 = load(c, o7 + L), c72 = load(c, o7 + 2 * L);
        for (int p = 0; p < kb; p++, ao += 8, bo += bs) {
            FloatVector b0 = load(b, bo), b1 = load(b, bo + L), b2 = load(b, bo + 2 * L);
            FloatVector a;
            a = FloatVector.broadcast(S, ap[ao]);
            c00 = a.fma(b0, c00); c01 = a.fma(b1, c01); c02 = a.fma(b2, c02);
            a = FloatVector.broadcast(S, ap[ao + 1]);
            c10 = a.fma(b0, c10); c11 = a.fma(b1, c11); c12 = a.fma(b2, c12);
            a = FloatVector.broadcast(S, ap[ao + 2]);
            c20 = a.fma(b0, c20); c21 = a.fma(b1, c21); c22 = a.fma(b2, c22);
            a = FloatVector.broadcast(S, ap[ao + 3]);
            c30 = a.fma(b0, c30); c31 = a.fma(b1, c31); c32 = a.fma(b2, c32);
            a = FloatVector.broadcast(S, ap[ao + 4]);
            c40 = a.fma(b0, c40); c41 = a.fma(b1, c41); c42 = a.fma(b2, c42);
            a = FloatVector.broadcast(S, ap[ao + 5]);
            c50 = a.fma(b0, c50); c51 = a.fma(b1, c51); c52 = a.fma(b2, c52);
            a = FloatVector.broadcast(S, ap[ao + 6]);
            c60 = a.fma(b0, c60); c61 = a.fma(b1, c61); c62 = a.fma(b2, c62);
            a = FloatVector.broadcast(S, ap[ao + 7]);
            c70 = a.fma(b0, c70); c71 = a.fma(b1, c71); c72 = a.fma(b2, c72);
        }
        c00.intoArray(c, o0); c01.intoArray(c, o0 + L); c02.intoArray(c, o0 + 2 * L);
        c10.intoArray(c, o1); c11.intoArray(c, o1 + L); c12.intoArray(c, o1 + 2 * L);
        c20.intoArray(c, o2); c21.intoArray(c, o2 + L); c22.intoArray(c, o2 + 2 * L);
        c30.intoArray(c, o3); c31.intoArray(c, o3 + L); c32.intoArray(c, o3 + 2 * L);
        c40.intoArray(c, o4); c41.intoArray(c, o4 + L); c42.intoArray(c, o4 + 2 * L);
        c50.intoArray(c, o5); c51.intoArray(c, o5 + L); c52.intoArray(c, o5 + 2 * L);
        c60.intoArray(c, o6); c61.intoArray(c, o6 + L); c62.intoArray(c, o6 + 2 * L);
        c70.intoArray(c, o7); c71.intoArray(c, o7 + L); c72.intoArray(c, o7 + 2 * L);
    }

    /** C[4 rows, W columns] (rows ldc apart from co) += A panel (4 floats a k-step) · B strip (rows bs apart). */
    private static void kernel4x3(int kb, float[] ap, int ao, float[] b, int bo, int bs,
                                  float[] c, int co, int ldc) {
        int o0 = co;
        int o1 = co + ldc;
        int o2 = co + 2 * ldc;
        int o3 = co + 3 * ldc;
        FloatVector c00 = load(c, o0), c01 = load(c, o0 + L), c02 = load(c, o0 + 2 * L);
        FloatVector c10 = load(c, o1), c11 = load(c, o1 + L), c12 = load(c, o1 + 2 * L);
        FloatVector c20 = load(c, o2), c21 = load(c, o2 + L), c22 = load(c, o2 + 2 * L);
        FloatVector c30 = load(c, o3), c31 = load(c, o3 + L), c32 = load(c, o3 + 2 * L);
        for (int p = 0; p < kb; p++, ao += 4, bo += bs) {
            FloatVector b0 = load(b, bo), b1 = load(b, bo + L), b2 = load(b, bo + 2 * L);
            FloatVector a;
            a = FloatVector.broadcast(S, ap[ao]);
            c00 = a.fma(b0, c00); c01 = a.fma(b1, c01); c02 = a.fma(b2, c02);
            a = FloatVector.broadcast(S, ap[ao + 1]);
            c10 = a.fma(b0, c10); c11 = a.fma(b1, c11); c12 = a.fma(b2, c12);
            a = FloatVector.broadcast(S, ap[ao + 2]);
            c20 = a.fma(b0, c20); c21 = a.fma(b1, c21); c22 = a.fma(b2, c22);
            a = FloatVector.broadcast(S, ap[ao + 3]);
            c30 = a.fma(b0, c30); c31 = a.fma(b1, c31); c32 = a.fma(b2, c32);
        }
        c00.intoArray(c, o0); c01.intoArray(c, o0 + L); c02.intoArray(c, o0 + 2 * L);
        c10.intoArray(c, o1); c11.intoArray(c, o1 + L); c12.intoArray(c, o1 + 2 * L);
        c20.intoArray(c, o2); c21.intoArray(c, o2 + L); c22.intoArray(c, o2 + 2 * L);
        c30.intoArray(c, o3); c31.intoArray(c, o3 + L); c32.intoArray(c, o3 + 2 * L);
    }

    private static int roundUp(int x, int mult) {
        return (x + mult - 1) / mult * mult;
    }
}
