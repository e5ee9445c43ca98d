package org.rnn4j.cpu;
import jdk.incubator.vector.*;
/**
 * The inference loop's panel product alone (GemmKernel.panelProduct): rows x k packed rows against `panels` panels of
 * 128 columns, written rows apart by panels·128 + pad floats; Gfma/s per 0.3 s round, beside a 12-chain register FMA
 * loop (the peak). Args: rows k panels pad. In the library's package (the kernel is package-private): compile against
 * target/classes, run with --add-modules jdk.incubator.vector -Drnn4j.vector.warmUp=false under taskset -c 0.
 */
public class PanelMicro {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static float peak(int n) {
        FloatVector a = FloatVector.broadcast(S, 1.0001f), b = FloatVector.broadcast(S, 0.9999f);
        FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (int i = 0; i < n; i++) {
            c0 = a.fma(b, c0); c1 = a.fma(b, c1); c2 = a.fma(b, c2); c3 = a.fma(b, c3); c4 = a.fma(b, c4); c5 = a.fma(b, c5);
            c6 = a.fma(b, c6); c7 = a.fma(b, c7); c8 = a.fma(b, c8); c9 = a.fma(b, c9); c10 = a.fma(b, c10); c11 = a.fma(b, c11);
        }
        return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11).reduceLanes(VectorOperators.ADD);
    }
    public static void main(String[] a) {
        GemmKernel kern = CpuGemm.running();
        int rows = Integer.parseInt(a[0]), k = Integer.parseInt(a[1]), panels = Integer.parseInt(a[2]), width = 128, pad = Integer.parseInt(a[3]), ld = panels * width + pad;
        float[] in = new float[rows * k], packed = new float[rows * k], out = new float[rows * ld];
        for (int i = 0; i < in.length; i++) in[i] = (float) Math.sin(i);
        float[][][] pan = new float[panels][][];
        for (int q = 0; q < panels; q++) { pan[q] = new float[][] {new float[k * width]}; for (int i = 0; i < k * width; i++) pan[q][0][i] = (float) Math.cos(i + q); }
        kern.packRows(rows, k, in, 0, k, packed);
        for (int round = 0; round < 8; round++) {
            long t0 = System.nanoTime(); int reps = 0;
            do {
                for (int q = 0; q < panels; q++) kern.panelProduct(rows, k, packed, 0, pan[q], width, out, q * width, ld);
                reps++;
            } while (System.nanoTime() - t0 < 300_000_000L);
            double s = (System.nanoTime() - t0) / 1e9;
            long t1 = System.nanoTime(); float x = peak(20_000_000); double sp = (System.nanoTime() - t1) / 1e9;
            System.out.printf("panel %.1f Gfma/s   peak %.1f Gfma/s (%s)%n", (double) reps * rows * k * panels * width / s / 1e9, 20e6 * 12 * S.length() / sp / 1e9, x > 0 ? "" : "-");
        }
    }
}
