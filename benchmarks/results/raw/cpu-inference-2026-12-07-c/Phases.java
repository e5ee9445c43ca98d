package org.rnn4j.cpu;   // beside the CPU engine: it calls its package-private kernels

import org.rnn4j.*;

/**
 * Where an LSTM inference forward goes, one thread, CPU time: the FMA peak of this core (register-only loop), the
 * input projection as the inference loop runs it (input rows packed once, 48-row panel products per block, scattered
 * into xp) and as CpuGemm would (transposed W_ih packed per call), the per-step recurrent panel products (h_prev
 * packed once per step), and the whole forward; the rest is the cells, the scatter copies and the layer's per-call
 * work. Args I H B T.
 */
public class Phases {
    public static void main(String[] args) {
        int I = Integer.parseInt(args[0]), H = Integer.parseInt(args[1]), B = Integer.parseInt(args[2]), T = Integer.parseInt(args[3]);
        int G = 4, nb = InferenceLoop.blockUnits(G), width = G * nb, blocks = H / nb, rows = T * B;
        java.util.Random rnd = new java.util.Random(1);
        float[] x = new float[rows * I], w = new float[G * H * I], xp = new float[rows * G * H];
        for (int i = 0; i < x.length; i++) x[i] = rnd.nextFloat() - 0.5f;
        for (int i = 0; i < w.length; i++) w[i] = rnd.nextFloat() - 0.5f;
        float[][][] ipan = new float[blocks][I][width], hpan = new float[blocks][H][width];
        for (int b = 0; b < blocks; b++) for (int p = 0; p < I; p++) for (int u = 0; u < width; u++) ipan[b][p][u] = w[((u / nb) * H + b * nb + u % nb) * I + p];
        for (int b = 0; b < blocks; b++) for (int p = 0; p < H; p++) for (int u = 0; u < width; u++) hpan[b][p][u] = rnd.nextFloat() - 0.5f;
        float[] z = new float[Math.max(48, B) * width], h = new float[B * H], hpacked = new float[B * H];
        for (int i = 0; i < h.length; i++) h[i] = rnd.nextFloat() - 0.5f;
        GemmKernel kern = CpuGemm.kernel();
        double fmaIn = (double) rows * G * H * I, fmaRec = (double) rows * G * H * H;
        int steps = 10_000_000;
        double peakMs = Prof.time(() -> Prof.sink += Prof.fmaLoop(1.0001f, steps));
        double peak = steps * 12.0 * Prof.S.length() / peakMs / 1e6;
        double gemm = Prof.time(() -> CpuGemm.sgemm(false, true, rows, G * H, I, 1f, x, 0, I, w, 0, I, 0f, xp, 0, G * H));
        double proj = Prof.time(() -> { float[] packed = new float[rows * I]; kern.packRows(rows, I, x, 0, I, packed);
            for (int b = 0; b < blocks; b++) for (int r0 = 0; r0 < rows; r0 += 48) { int n = Math.min(48, rows - r0);
                kern.panelProduct(n, I, packed, r0 * I, ipan[b], width, z, width);
                for (int r = 0; r < n; r++) for (int g = 0; g < G; g++) System.arraycopy(z, r * width + g * nb, xp, (r0 + r) * G * H + g * H + b * nb, nb); } });
        double rec = Prof.time(() -> { for (int t = 0; t < T; t++) { kern.packRows(B, H, h, 0, H, hpacked);
            for (int b = 0; b < blocks; b++) kern.panelProduct(B, H, hpacked, 0, hpan[b], width, z, width); } });
        Device dev = Device.cpu();
        RecurrentLayer layer = Lstm.builder(I, H).seed(42).build(dev);
        layer.eval();
        Tensor xt = Tensor.of(dev, x, T, B, I);
        double fwd = Prof.time(() -> { try (ForwardResult f = layer.forward(xt)) { } });
        System.out.printf("LSTM I=%d H=%d B=%d T=%d, one thread, CPU ms (best of 5 rounds of 0.3 s)%n", I, H, B, T);
        System.out.printf("  FMA peak (12 register chains): %.1f Gfma/s%n", peak);
        System.out.printf("  input projection, CpuGemm (W_ih packed per call): %.2f ms, %.1f Gfma/s (%.0f%% of peak)%n", gemm, fmaIn / gemm / 1e6, 100 * fmaIn / gemm / 1e6 / peak);
        System.out.printf("  input projection, panels (inference loop):        %.2f ms, %.1f Gfma/s (%.0f%% of peak)%n", proj, fmaIn / proj / 1e6, 100 * fmaIn / proj / 1e6 / peak);
        System.out.printf("  recurrent panel products, %d steps:              %.2f ms, %.1f Gfma/s (%.0f%% of peak)%n", T, rec, fmaRec / rec / 1e6, 100 * fmaRec / rec / 1e6 / peak);
        System.out.printf("  whole forward: %.2f ms = projection %.0f%% + recurrent %.0f%% + rest (cells, scatter, per-call work) %.0f%%%n", fwd,
                100 * proj / fwd, 100 * rec / fwd, 100 * (fwd - proj - rec) / fwd);
    }
}
