package org.rnn4j.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class CpuGemmTest {

    private int savedThreads;

    @BeforeEach
    void saveThreads() {
        savedThreads = CpuGemm.threads();
    }

    @AfterEach
    void restoreThreads() {
        CpuGemm.setThreads(savedThreads);
    }

    /** One GEMM problem with padded, offset storage for A, B and C. */
    private static final class Case {
        final boolean ta, tb;
        final int m, n, k, aOff, lda, bOff, ldb, cOff, ldc;
        final float alpha, beta;
        final float[] a, b, c0;

        Case(long seed, boolean ta, boolean tb, int m, int n, int k, float alpha, float beta,
             int off, int pad, boolean nanC) {
            Random r = new Random(seed);
            this.ta = ta;
            this.tb = tb;
            this.m = m;
            this.n = n;
            this.k = k;
            this.alpha = alpha;
            this.beta = beta;
            int aRows = ta ? k : m, aCols = ta ? m : k;
            int bRows = tb ? n : k, bCols = tb ? k : n;
            aOff = off;
            bOff = 2 * off;
            cOff = 3 * off;
            lda = Math.max(1, aCols + pad);
            ldb = Math.max(1, bCols + pad);
            ldc = Math.max(1, n + pad);
            a = fill(r, aOff + aRows * lda + 3);
            b = fill(r, bOff + bRows * ldb + 3);
            c0 = fill(r, cOff + m * ldc + 3);
            if (nanC) {
                for (int i = 0; i < m; i++) {
                    Arrays.fill(c0, cOff + i * ldc, cOff + i * ldc + n, Float.NaN);
                }
            }
        }

        private static float[] fill(Random r, int len) {
            float[] x = new float[len];
            for (int i = 0; i < len; i++) {
                x[i] = (float) (r.nextDouble() * 2 - 1);
            }
            return x;
        }

        float opA(int i, int p) {
            return ta ? a[aOff + p * lda + i] : a[aOff + i * lda + p];
        }

        float opB(int p, int j) {
            return tb ? b[bOff + j * ldb + p] : b[bOff + p * ldb + j];
        }

        float[] run() {
            float[] c = c0.clone();
            CpuGemm.sgemm(ta, tb, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
            return c;
        }

        /** Checks c against a double-precision reference; elements outside C are untouched. */
        void check(float[] c) {
            double tolRel = 1e-5 * Math.sqrt(Math.max(1, k));
            for (int idx = 0; idx < c.length; idx++) {
                int rel = idx - cOff;
                boolean inside = rel >= 0 && rel / ldc < m && rel % ldc < n;
                if (!inside) {
                    assertEquals(Float.floatToRawIntBits(c0[idx]), Float.floatToRawIntBits(c[idx]),
                            "element outside C modified at " + idx);
                }
            }
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double sum = 0, mag = 0;
                    for (int p = 0; p < k; p++) {
                        double t = (double) opA(i, p) * opB(p, j);
                        sum += t;
                        mag += Math.abs(t);
                    }
                    double ref = alpha * sum;
                    mag = Math.abs(alpha) * mag;
                    if (beta != 0f) {
                        double cb = (double) beta * c0[cOff + i * ldc + j];
                        ref += cb;
                        mag += Math.abs(cb);
                    }
                    double got = c[cOff + i * ldc + j];
                    double tol = tolRel * mag + 1e-30;
                    if (!(Math.abs(got - ref) <= tol)) {
                        fail(String.format("%s: C[%d,%d] = %s, expected %s (tol %s)", this, i, j,
                                got, ref, tol));
                    }
                }
            }
        }

        @Override
        public String toString() {
            return String.format("sgemm(transA=%b, transB=%b, m=%d, n=%d, k=%d, alpha=%s, beta=%s,"
                    + " lda=%d, ldb=%d, ldc=%d)", ta, tb, m, n, k, alpha, beta, lda, ldb, ldc);
        }
    }

    private static void verify(long seed, boolean ta, boolean tb, int m, int n, int k,
                               float alpha, float beta, int off, int pad) {
        Case cs = new Case(seed, ta, tb, m, n, k, alpha, beta, off, pad, beta == 0f);
        cs.check(cs.run());
    }

    @Test
    void allTransposeCombinationsOddSizes() {
        int[] sizes = {1, 3, 17, 33};
        long seed = 1;
        for (boolean ta : new boolean[] {false, true}) {
            for (boolean tb : new boolean[] {false, true}) {
                for (int m : sizes) {
                    for (int n : sizes) {
                        for (int k : sizes) {
                            verify(seed++, ta, tb, m, n, k, 1f, 0f, 0, 0);
                        }
                    }
                }
                verify(seed++, ta, tb, 257, 33, 17, 1f, 0f, 0, 0);
                verify(seed++, ta, tb, 3, 257, 33, 1f, 0f, 0, 0);
                verify(seed++, ta, tb, 17, 3, 257, 1f, 0f, 0, 0);
                verify(seed++, ta, tb, 33, 257, 257, 1f, 0f, 0, 0);
            }
        }
    }

    @Test
    void alphaBetaVariants() {
        float[] alphas = {1f, -0.75f, 2f};
        float[] betas = {0f, 1f, 0.5f};
        long seed = 100;
        for (boolean ta : new boolean[] {false, true}) {
            for (boolean tb : new boolean[] {false, true}) {
                for (float alpha : alphas) {
                    for (float beta : betas) {
                        verify(seed++, ta, tb, 19, 45, 23, alpha, beta, 0, 0);
                    }
                }
            }
        }
    }

    @Test
    void betaZeroOverwritesNaN() {
        Case cs = new Case(7, false, true, 9, 21, 13, 1f, 0f, 0, 0, true);
        float[] c = cs.run();
        for (int i = 0; i < cs.m * cs.n; i++) {
            assertTrue(Float.isFinite(c[i]), "NaN leaked at " + i);
        }
        cs.check(c);
    }

    @Test
    void offsetsAndLeadingDimensionsLargerThanWidth() {
        long seed = 200;
        for (boolean ta : new boolean[] {false, true}) {
            for (boolean tb : new boolean[] {false, true}) {
                verify(seed++, ta, tb, 13, 29, 31, 1f, 0.5f, 7, 5);
                verify(seed++, ta, tb, 33, 3, 17, -1.5f, 1f, 3, 11);
                verify(seed++, ta, tb, 70, 530, 200, 0.5f, 0f, 1, 9);
            }
        }
    }

    @Test
    void kEqualsOne() {
        long seed = 300;
        for (boolean ta : new boolean[] {false, true}) {
            for (boolean tb : new boolean[] {false, true}) {
                verify(seed++, ta, tb, 17, 33, 1, 1f, 0f, 2, 3);
                verify(seed++, ta, tb, 1, 257, 1, 0.5f, 0.5f, 0, 0);
            }
        }
    }

    @Test
    void kZeroScalesCByBeta() {
        float[] c = {1f, 2f, 3f, 4f, 5f, 6f};
        CpuGemm.sgemm(false, false, 2, 3, 0, 1f, new float[0], 0, 1, new float[0], 0, 3, 0.5f,
                c, 0, 3);
        assertArrayEquals(new float[] {0.5f, 1f, 1.5f, 2f, 2.5f, 3f}, c);
        float[] d = {Float.NaN, Float.NaN, 9f};
        CpuGemm.sgemm(true, true, 1, 2, 0, 1f, null, 0, 1, null, 0, 1, 0f, d, 0, 2);
        assertArrayEquals(new float[] {0f, 0f, 9f}, d);
        float[] e = {1f, 2f};
        CpuGemm.sgemm(false, false, 1, 2, 0, 3f, new float[0], 0, 1, new float[0], 0, 2, 1f,
                e, 0, 2);
        assertArrayEquals(new float[] {1f, 2f}, e);
    }

    @Test
    void emptyMOrNIsNoOp() {
        float[] c = {Float.NaN, 1f, 2f};
        float[] a = {1f, 2f, 3f};
        CpuGemm.sgemm(false, false, 0, 3, 1, 1f, a, 0, 1, a, 0, 3, 0f, c, 0, 3);
        CpuGemm.sgemm(false, false, 1, 0, 1, 1f, a, 0, 1, a, 0, 1, 0f, c, 0, 1);
        assertTrue(Float.isNaN(c[0]));
        assertEquals(1f, c[1]);
        assertEquals(2f, c[2]);
    }

    @Test
    void alphaZeroOnlyScales() {
        Case cs = new Case(11, true, false, 5, 7, 9, 0f, 0.5f, 0, 0, false);
        cs.check(cs.run());
    }

    @Test
    void largeProductsUseThreadsAndCrossBlockBoundaries() {
        CpuGemm.setThreads(3);
        long seed = 400;
        for (boolean ta : new boolean[] {false, true}) {
            for (boolean tb : new boolean[] {false, true}) {
                verify(seed++, ta, tb, 150, 700, 301, 1f, 0.5f, 3, 2);
            }
        }
        // tall-skinny (split over m) and wide-short (split over n)
        verify(seed++, false, true, 1000, 40, 300, 1f, 0f, 0, 0);
        verify(seed++, false, true, 20, 2000, 300, 1f, 0f, 0, 0);
    }

    @Test
    void deterministicAcrossThreadCounts() {
        int[][] shapes = {{40, 600, 400}, {300, 96, 250}, {33, 1100, 100}, {5, 7, 3}};
        long seed = 500;
        for (int[] s : shapes) {
            for (boolean ta : new boolean[] {false, true}) {
                for (boolean tb : new boolean[] {false, true}) {
                    Case cs = new Case(seed++, ta, tb, s[0], s[1], s[2], 0.9f, 0.5f, 1, 3,
                            false);
                    CpuGemm.setThreads(1);
                    float[] ref = cs.run();
                    for (int t : new int[] {2, 3, 4, 7}) {
                        CpuGemm.setThreads(t);
                        float[] got = cs.run();
                        for (int i = 0; i < ref.length; i++) {
                            if (Float.floatToRawIntBits(ref[i]) != Float.floatToRawIntBits(got[i])) {
                                fail(cs + ": threads=" + t + " differs from threads=1 at " + i);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void concurrentCallersShareThePool() throws Exception {
        CpuGemm.setThreads(2);
        ExecutorService ex = Executors.newFixedThreadPool(3);
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < 6; t++) {
                long seed = 600 + t;
                boolean tb = (t & 1) == 1;
                fs.add(ex.submit(() -> verify(seed, false, tb, 96, 300, 128, 1f, 0f, 0, 0)));
            }
            for (Future<?> f : fs) {
                f.get();
            }
        } finally {
            ex.shutdownNow();
        }
    }

    @Test
    void threadCountSetting() {
        assertTrue(CpuGemm.threads() >= 1);
        CpuGemm.setThreads(3);
        assertEquals(3, CpuGemm.threads());
        assertThrows(IllegalArgumentException.class, () -> CpuGemm.setThreads(0));
        assertEquals(3, CpuGemm.threads());
    }

    private static void assertIae(Runnable r, String... fragments) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::run);
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f),
                    "message '" + e.getMessage() + "' should contain '" + f + "'");
        }
    }

    @Test
    void argumentValidation() {
        float[] a = new float[12], b = new float[12], c = new float[12];
        // negative sizes
        assertIae(() -> CpuGemm.sgemm(false, false, -1, 2, 2, 1f, a, 0, 2, b, 0, 2, 0f, c, 0, 2),
                "m", "-1");
        assertIae(() -> CpuGemm.sgemm(false, false, 2, -3, 2, 1f, a, 0, 2, b, 0, 2, 0f, c, 0, 2),
                "n", "-3");
        assertIae(() -> CpuGemm.sgemm(false, false, 2, 2, -2, 1f, a, 0, 2, b, 0, 2, 0f, c, 0, 2),
                "k", "-2");
        assertIae(() -> CpuGemm.sgemm(false, false, 2, 2, 2, 1f, a, -1, 2, b, 0, 2, 0f, c, 0, 2),
                "aOff", "-1");
        // leading dimensions: A is m x k (lda >= k) unless transposed (lda >= m)
        assertIae(() -> CpuGemm.sgemm(false, false, 2, 2, 3, 1f, a, 0, 2, b, 0, 2, 0f, c, 0, 2),
                "lda", "3", "2");
        assertIae(() -> CpuGemm.sgemm(true, false, 4, 2, 2, 1f, a, 0, 3, b, 0, 2, 0f, c, 0, 2),
                "lda", "4", "3");
        assertIae(() -> CpuGemm.sgemm(false, false, 2, 3, 2, 1f, a, 0, 2, b, 0, 2, 0f, c, 0, 3),
                "ldb", "3", "2");
        assertIae(() -> CpuGemm.sgemm(false, true, 2, 2, 3, 1f, a, 0, 3, b, 0, 2, 0f, c, 0, 2),
                "ldb", "3", "2");
        assertIae(() -> CpuGemm.sgemm(false, false, 2, 3, 2, 1f, a, 0, 2, b, 0, 3, 0f, c, 0, 2),
                "ldc", "3", "2");
        // arrays too short (including via offsets) or null
        assertIae(() -> CpuGemm.sgemm(false, false, 4, 3, 4, 1f, a, 0, 4, b, 0, 3, 0f, c, 0, 3),
                "a", "16", "12");
        assertIae(() -> CpuGemm.sgemm(false, false, 2, 2, 2, 1f, a, 0, 2, b, 9, 2, 0f, c, 0, 2),
                "b", "13", "12");
        assertIae(() -> CpuGemm.sgemm(false, false, 2, 2, 2, 1f, a, 0, 2, b, 0, 2, 0f,
                new float[3], 0, 2), "c", "4", "3");
        assertIae(() -> CpuGemm.sgemm(false, false, 2, 2, 2, 1f, null, 0, 2, b, 0, 2, 0f, c, 0, 2),
                "a", "null");
    }
}
