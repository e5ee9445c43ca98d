package org.rnn4j.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Which GEMM kernel runs, and the vector kernel held against its scalar twin bit for bit (Lucene-style).
 * Surefire runs this class twice: with {@code --add-modules jdk.incubator.vector} and without it.
 */
class GemmKernelChoiceTest {

    private static final boolean MODULE = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();

    @Test
    void theVectorKernelRunsExactlyWhenTheModuleIsPresent() {
        String kernel = CpuGemm.kernel().getClass().getSimpleName();
        if (!MODULE) {
            assertEquals("ScalarGemmKernel", kernel);
            assertTrue(CpuGemm.kernelDescription().startsWith("plain Java"), CpuGemm.kernelDescription());
        } else if (ScalarGemmKernel.FMA) {
            // on x86-64 and AArch64 with FMA the Vector API runs in hardware: the vector kernel must be chosen
            assertEquals("VectorGemmKernel", kernel);
            assertTrue(CpuGemm.kernelDescription().startsWith("Vector API"), CpuGemm.kernelDescription());
        }
        assertTrue(new CpuEngine(null).describe().contains(CpuGemm.kernelDescription()));
    }

    @Test
    void vectorKernelEqualsScalarKernelBitForBit() {
        assumeTrue(isVector(), "vector kernel not in use");
        assumeTrue(ScalarGemmKernel.FMA, "the scalar twin fuses only where the JVM intrinsifies FMA");
        GemmKernel vector = CpuGemm.kernel();
        GemmKernel scalar = new ScalarGemmKernel();
        Random r = new Random(13);
        for (int it = 0; it < 160; it++) {
            boolean ta = (it & 1) != 0, tb = (it & 2) != 0;
            // mostly ragged sizes around the tiles; every 16th past the vector kernel's k, m and n blocks
            boolean big = it % 16 == 15;
            int m = big ? 129 + r.nextInt(80) : 1 + r.nextInt(40);
            int n = big ? 1537 + r.nextInt(100) : 1 + r.nextInt(150);
            int k = big ? 257 + r.nextInt(300) : 1 + r.nextInt(70);
            float alpha = it % 3 == 0 ? 1f : -0.75f;
            int lda = (ta ? m : k) + r.nextInt(3), ldb = (tb ? k : n) + r.nextInt(3), ldc = n + r.nextInt(3);
            float[] a = random(r, 1 + (ta ? k : m) * lda), b = random(r, 2 + (tb ? n : k) * ldb);
            float[] c = random(r, 3 + m * ldc);
            float[] want = c.clone();
            // a sub-tile of C too, as a parallel split would hand out
            int i0 = r.nextInt(m), j0 = r.nextInt(n);
            vector.tile(ta, tb, k, alpha, a, 1, lda, b, 2, ldb, c, 3, ldc, i0, m, j0, n);
            scalar.tile(ta, tb, k, alpha, a, 1, lda, b, 2, ldb, want, 3, ldc, i0, m, j0, n);
            for (int i = 0; i < c.length; i++) {
                if (Float.floatToRawIntBits(c[i]) != Float.floatToRawIntBits(want[i])) {
                    fail(String.format("transA=%b transB=%b m=%d n=%d k=%d tile [%d:, %d:]: element %d is %s,"
                            + " the scalar kernel gives %s", ta, tb, m, n, k, i0, j0, i, c[i], want[i]));
                }
            }
        }
    }

    @Test
    void threadedVectorProductEqualsSerialScalarKernel() {
        assumeTrue(isVector() && ScalarGemmKernel.FMA, "vector kernel not in use");
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (CpuGemm.running() != CpuGemm.kernel()) {
            assertTrue(System.nanoTime() < deadline, "the vector kernel was not handed the products within 60 s");
            Thread.onSpinWait();
        }
        int saved = CpuGemm.threads();
        try {
            CpuGemm.setThreads(3);
            Random r = new Random(14);
            int[][] shapes = {{32, 1024, 256}, {300, 500, 200}, {16, 4096, 64}};
            for (int[] s : shapes) {
                int m = s[0], n = s[1], k = s[2];
                float[] a = random(r, m * k), b = random(r, n * k), c = random(r, m * n), want = c.clone();
                CpuGemm.sgemm(false, true, m, n, k, 0.5f, a, 0, k, b, 0, k, 0.25f, c, 0, n);
                for (int i = 0; i < want.length; i++) {
                    want[i] *= 0.25f;
                }
                new ScalarGemmKernel().tile(false, true, k, 0.5f, a, 0, k, b, 0, k, want, 0, n, 0, m, 0, n);
                for (int i = 0; i < want.length; i++) {
                    assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(c[i]),
                            m + "x" + n + "x" + k + " element " + i);
                }
            }
        } finally {
            CpuGemm.setThreads(saved);
        }
    }

    private static boolean isVector() {
        return CpuGemm.kernel().getClass().getSimpleName().equals("VectorGemmKernel");
    }

    private static float[] random(Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = r.nextFloat() * 2 - 1;
        }
        return x;
    }
}
