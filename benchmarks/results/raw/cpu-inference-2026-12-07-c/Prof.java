package org.rnn4j.cpu;   // beside the CPU engine: it calls its package-private kernels

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.rnn4j.*;

/** Phase timer for #23: CPU time of the calling thread per phase of the LSTM inference forward. */
public class Prof {
    static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static double sink;

    interface Body { void run(); }

    /** ms of CPU per call, best of 5 rounds of >= 0.3 s. */
    static double time(Body f) {
        double best = 1e99;
        for (int r = 0; r < 6; r++) {
            long c0 = MX.getCurrentThreadCpuTime(); int n = 0;
            do { f.run(); n++; } while (MX.getCurrentThreadCpuTime() - c0 < 300_000_000L);
            double ms = (MX.getCurrentThreadCpuTime() - c0) / 1e6 / n;
            if (r > 0) best = Math.min(best, ms);
        }
        return best;
    }

    static float fmaLoop(float seed, int steps) {
        FloatVector m = FloatVector.broadcast(S, 0.9999f), a = FloatVector.broadcast(S, seed);
        FloatVector c0 = a, c1 = a.add(1f), c2 = a.add(2f), c3 = a.add(3f), c4 = a.add(4f), c5 = a.add(5f);
        FloatVector c6 = a.add(6f), c7 = a.add(7f), c8 = a.add(8f), c9 = a.add(9f), c10 = a.add(10f), c11 = a.add(11f);
        for (int i = 0; i < steps; i++) {
            c0 = c0.fma(m, a); c1 = c1.fma(m, a); c2 = c2.fma(m, a); c3 = c3.fma(m, a); c4 = c4.fma(m, a); c5 = c5.fma(m, a);
            c6 = c6.fma(m, a); c7 = c7.fma(m, a); c8 = c8.fma(m, a); c9 = c9.fma(m, a); c10 = c10.fma(m, a); c11 = c11.fma(m, a);
        }
        return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11).reduceLanes(VectorOperators.ADD);
    }

    public static void main(String[] args) throws Exception {
        int I = Integer.parseInt(args[0]), H = Integer.parseInt(args[1]), B = Integer.parseInt(args[2]), T = Integer.parseInt(args[3]);
        String which = args.length > 4 ? args[4] : "all";
        CpuEngine.class.getName();
        System.out.println("kernel " + CpuGemm.kernelDescription());
        int steps = 10_000_000;
        double fms = time(() -> sink += fmaLoop(1.0001f, steps));
        double peak = steps * 12.0 * S.length() / fms / 1e6;
        System.out.printf("FMA peak (12 chains, no loads): %.1f Gfma/s (%.1f GFLOP/s)%n", peak, 2 * peak);
        int G = 4, rows = T * B;
        java.util.Random rnd = new java.util.Random(1);
        float[] x = new float[rows * I], w = new float[G * H * I], whh = new float[G * H * H], xp = new float[rows * G * H];
        for (int i = 0; i < x.length; i++) x[i] = rnd.nextFloat() - 0.5f;
        for (int i = 0; i < w.length; i++) w[i] = rnd.nextFloat() - 0.5f;
        for (int i = 0; i < whh.length; i++) whh[i] = rnd.nextFloat() - 0.5f;
        double fmaIn = (double) rows * G * H * I;
        double tin = time(() -> CpuGemm.sgemm(false, true, rows, G * H, I, 1f, x, 0, I, w, 0, I, 0f, xp, 0, G * H));
        System.out.printf("input GEMM %dx%dx%d (transB, beta 0): %.2f ms  %.1f Gfma/s%n", rows, G * H, I, tin, fmaIn / tin / 1e6);
        float[] whhT = new float[H * G * H];
        for (int r = 0; r < G * H; r++) for (int c = 0; c < H; c++) whhT[c * G * H + r] = whh[r * H + c];
        double tinN = time(() -> CpuGemm.sgemm(false, false, rows, G * H, I, 1f, x, 0, I, whhT, 0, G * H, 0f, xp, 0, G * H));
        System.out.printf("same GEMM, B not transposed (no B packing): %.2f ms  %.1f Gfma/s%n", tinN, fmaIn / tinN / 1e6);
        // the recurrent panel product, as the inference loop runs it
        GemmKernel k = CpuGemm.kernel();
        int nb = InferenceLoop.blockUnits(G), width = G * nb, blocks = H / nb;
        float[][][] panel = new float[blocks][H][width];
        for (int b = 0; b < blocks; b++) for (int p = 0; p < H; p++) for (int u = 0; u < width; u++) panel[b][p][u] = whh[(u * 7 + b) % whh.length];
        float[] hprev = new float[B * H], z = new float[B * width];
        for (int i = 0; i < hprev.length; i++) hprev[i] = rnd.nextFloat() - 0.5f;
        double tp = time(() -> { for (int t = 0; t < T; t++) for (int b = 0; b < blocks; b++) k.panelProduct(B, H, hprev, 0, panel[b], width, z, width); });
        System.out.printf("recurrent panel products, %d steps x %d blocks (B=%d): %.2f ms  %.1f Gfma/s%n", T, blocks, B, tp, fmaIn * H / I / tp / 1e6);
        // whole forward
        Device dev = Device.cpu();
        RecurrentLayer layer = Lstm.builder(I, H).seed(42).build(dev);
        layer.eval();
        Tensor xt = Tensor.of(dev, x, T, B, I);
        double tf = time(() -> { try (ForwardResult f = layer.forward(xt)) { } });
        System.out.printf("LSTM forward: %.2f ms  (input GEMM %.0f%%, panel products %.0f%%, rest %.0f%%: cells, copies, alloc)%n", tf,
                100 * tin / tf, 100 * tp / tf, 100 * (tf - tin - tp) / tf);
        // cells alone
        CellSteps v = CpuGemm.vectorCells();
        System.out.println("vector cells " + v);
    }
}
