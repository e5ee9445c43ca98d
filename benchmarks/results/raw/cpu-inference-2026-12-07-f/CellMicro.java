package org.rnn4j.cpu;
import org.rnn4j.DType;
import org.rnn4j.engine.StepArgs;
public class CellMicro {
    static CpuBuffer buf(int n, float v) { CpuBuffer b = new CpuBuffer(DType.F32, n); java.util.Random r = new java.util.Random(n); for (int i = 0; i < n; i++) b.floats[i] = v * (r.nextFloat() - 0.5f); return b; }
    public static void main(String[] args) throws Exception {
        CellSteps v = (CellSteps) Class.forName("org.rnn4j.cpu.VectorCells").getDeclaredConstructor().newInstance();
        int B = 32, H = 256;
        for (String cell : new String[] {"lstm", "gru", "lstm", "gru"}) {
            int G = cell.equals("lstm") ? 4 : 3, nb = InferenceLoop.blockUnits(G), width = G * nb;
            StepArgs a = new StepArgs();
            a.batch = B; a.hidden = H; a.xp = buf(B * G * H, 2); a.bih = buf(G * H, 1); a.bhh = buf(G * H, 1);
            a.hPrev = buf(B * H, 1); a.hNext = buf(B * H, 0); a.cPrev = buf(B * H, 1); a.cNext = buf(B * H, 0);
            a.out = buf(B * H, 0); a.outLd = H;
            float[] bsum = new float[G * H];
            float[] z0 = buf(B * width, 2).floats, z = new float[B * width];
            int blocks = H / nb;
            long best = Long.MAX_VALUE;
            for (int round = 0; round < 30; round++) {
                long t0 = System.nanoTime();
                for (int it = 0; it < 200; it++) for (int k = 0; k < blocks; k++) {
                    System.arraycopy(z0, 0, z, 0, z.length);
                    if (G == 4) v.lstmBlock(a, z, nb, k * nb, k * nb + nb, bsum); else v.gruBlock(a, z, nb, k * nb, k * nb + nb, bsum);
                }
                best = Math.min(best, System.nanoTime() - t0);
            }
            System.out.printf("%s block cell: %.2f ns per unit%n", cell, best / 200.0 / (B * H));
        }
    }
}
