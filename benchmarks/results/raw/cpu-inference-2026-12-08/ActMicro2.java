package org.rnn4j.cpu;
import java.lang.reflect.Method;
/** VectorCells.activate with the LSTM block kinds over B·128 floats: ns per activated vector. Args: B. */
public class ActMicro2 {
    public static void main(String[] args) throws Exception {
        int b = Integer.parseInt(args[0]), n = b * 128;
        Method m = VectorCells.class.getDeclaredMethod("activate", float[].class, int.class, int.class, byte[].class, int.class);
        m.setAccessible(true);
        byte[] ifg = {1, 1, 2, 0}, co = {0, 0, 2, 1}, all = {1};
        float[] x = new float[n];
        java.util.SplittableRandom r = new java.util.SplittableRandom(1);
        for (int round = 0; round < 10; round++) {
            for (int kind = 0; kind < 3; kind++) {
                for (int i = 0; i < n; i++) x[i] = (float) r.nextDouble(-4, 4);
                long t0 = System.nanoTime(); long vecs = 0;
                do {
                    for (int rep = 0; rep < 100; rep++) {
                        if (kind == 0) { m.invoke(null, x, 0, n, ifg, 2); vecs += 3L * n / 64; }
                        else if (kind == 1) { m.invoke(null, x, 0, n, co, 2); vecs += 2L * n / 64; }
                        else { m.invoke(null, x, 0, n, all, 1); vecs += n / 16; }
                    }
                } while (System.nanoTime() - t0 < 200_000_000L);
                double ns = (System.nanoTime() - t0) / (double) vecs;
                if (round >= 6) System.out.printf("%s B=%d: %.2f ns per activated vector%n", kind == 0 ? "IFG" : kind == 1 ? "CO" : "all-sigmoid", b, ns);
            }
        }
    }
}
