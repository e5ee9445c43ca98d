package org.rnn4j.cpu;
/**
 * CpuGemm.sgemm(false, true, m, n, k) alone, as the training path's input projection calls it; Gfma/s per 0.5 s round.
 * Args: m n k. Compile against target/classes, run with --add-modules jdk.incubator.vector -Drnn4j.threads=1.
 */
public class GemmMicro {
    public static void main(String[] a) {
        int m = Integer.parseInt(a[0]), n = Integer.parseInt(a[1]), k = Integer.parseInt(a[2]);
        float[] A = new float[m * k], B = new float[n * k], C = new float[m * n];
        for (int i = 0; i < A.length; i++) A[i] = (float) Math.sin(i);
        for (int i = 0; i < B.length; i++) B[i] = (float) Math.cos(i);
        for (int round = 0; round < 8; round++) {
            long t0 = System.nanoTime(); int reps = 0;
            do { CpuGemm.sgemm(false, true, m, n, k, 1f, A, 0, k, B, 0, k, 0f, C, 0, n); reps++; } while (System.nanoTime() - t0 < 500_000_000L);
            double s = (System.nanoTime() - t0) / 1e9;
            if (round > 4) System.out.printf("sgemm %dx%dx%d: %.1f Gfma/s%n", m, n, k, (double) reps * m * n * k / s / 1e9);
        }
    }
}
