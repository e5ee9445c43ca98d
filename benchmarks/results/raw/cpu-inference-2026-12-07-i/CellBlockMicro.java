package org.rnn4j.cpu;
import org.rnn4j.DType;
import org.rnn4j.engine.StepArgs;
/**
 * VectorCells.lstmBlock alone on L1/L2-resident rows (z copied back before each call, included): ns per block of 32
 * units and per unit-vector (16 units, all four gates, one sample). Args: B H. In the library's package: compile against
 * target/classes, run with --add-modules jdk.incubator.vector under taskset -c 0 (the library's warm-up on).
 */
public class CellBlockMicro {
    static CpuBuffer buf(int n, java.util.SplittableRandom r) {
        CpuBuffer b = new CpuBuffer(DType.F32, n);
        for (int i = 0; i < n; i++) b.floats[i] = (float) r.nextDouble(-1, 1);
        return b;
    }
    public static void main(String[] args) {
        int B = Integer.parseInt(args[0]), h = Integer.parseInt(args[1]), nb = 32, width = 4 * nb;
        java.util.SplittableRandom r = new java.util.SplittableRandom(3);
        StepArgs a = new StepArgs();
        a.batch = B; a.hidden = h; a.step = 0;
        a.xp = buf(B * 4 * h, r); a.cPrev = buf(B * h, r); a.cNext = buf(B * h, r); a.hNext = buf(B * h, r);
        a.out = buf(B * h, r); a.outLd = h; a.hPrev = buf(B * h, r);
        float[] bias = buf(4 * h, r).floats;
        float[] z0 = buf(B * width, r).floats, z = z0.clone();
        try { CpuGemm.awaitWarmUp(); } catch (InterruptedException e) { throw new RuntimeException(e); }
        CellSteps v = CpuGemm.vectorCells();
        int blocks = h / nb;
        for (int round = 0; round < 8; round++) {
            long t0 = System.nanoTime(); long calls = 0;
            do {
                for (int k = 0; k < blocks; k++) {
                    System.arraycopy(z0, 0, z, 0, z.length);
                    v.lstmBlock(a, z, nb, k * nb, k * nb + nb, bias);
                    calls++;
                }
            } while (System.nanoTime() - t0 < 300_000_000L);
            double ns = (System.nanoTime() - t0) / (double) calls;
            if (round > 4) System.out.printf("lstmBlock B=%d H=%d: %.0f ns per block, %.1f ns per unit-vector (copy of z included)%n", B, h, ns, ns / (B * nb / 16.0));
        }
    }
}
