package org.rnn4j;

import static org.junit.jupiter.api.Assertions.fail;

/** The one closeness check of the test suite: sizes first, then the first bad index with both values. */
public final class Close {
    private Close() {
    }

    /** Every {@code |e - a| <= atol + rtol·|e|}; on failure names the first bad index, both values and the max difference. */
    public static void assertClose(String name, double[] expected, float[] actual, double atol, double rtol) {
        if (expected.length != actual.length) {
            fail(name + ": expected " + expected.length + " values, got " + actual.length);
        }
        int firstBad = -1;
        double maxDiff = 0;
        for (int i = 0; i < expected.length; i++) {
            double diff = Math.abs(expected[i] - actual[i]);
            maxDiff = Math.max(maxDiff, diff);
            if (firstBad < 0 && !(diff <= atol + rtol * Math.abs(expected[i]))) {
                firstBad = i;
            }
        }
        if (firstBad >= 0) {
            fail(String.format("%s: first mismatch at [%d]: expected %.9g, got %.9g (max |diff| %.3g, atol %.1g, rtol %.1g)",
                    name, firstBad, expected[firstBad], actual[firstBad], maxDiff, atol, rtol));
        }
    }

    public static void assertClose(String name, float[] expected, float[] actual, double atol, double rtol) {
        double[] e = new double[expected.length];
        for (int i = 0; i < e.length; i++) {
            e[i] = expected[i];
        }
        assertClose(name, e, actual, atol, rtol);
    }

    /**
     * The CPU-vs-CUDA parity check: relative L2 error at most 1e-4 and every element within
     * {@code 1e-4·max|cpu| + 1e-7} plus rtol 1e-3 (float32 engines whose sums differ in order).
     */
    public static void assertParity(String name, float[] cpu, float[] gpu) {
        if (cpu.length != gpu.length) {
            fail(name + ": expected " + cpu.length + " values, got " + gpu.length);
        }
        double diff2 = 0;
        double norm2 = 0;
        double max = 0;
        for (int i = 0; i < cpu.length; i++) {
            diff2 += (double) (cpu[i] - gpu[i]) * (cpu[i] - gpu[i]);
            norm2 += (double) cpu[i] * cpu[i];
            max = Math.max(max, Math.abs(cpu[i]));
        }
        double rel = Math.sqrt(diff2) / Math.max(Math.sqrt(norm2), 1e-30);
        if (norm2 > 0 && rel > 1e-4) {
            fail(name + ": relative L2 error " + rel + " > 1e-4");
        }
        assertClose(name, cpu, gpu, 1e-4 * max + 1e-7, 1e-3);
    }
}
