package org.rnn4j.cpu;
/**
 * Activation cost: VectorCells.sigmoid/tanh over 1024 floats (copy included) and CpuCells' scalar ones, ns per element.
 * Run: javac --add-modules jdk.incubator.vector -cp target/classes -d /tmp/am ActMicro.java;
 * taskset -c 0 java --add-modules jdk.incubator.vector -cp /tmp/am:target/classes org.rnn4j.cpu.ActMicro
 */
public class ActMicro {
    public static void main(String[] a) throws Exception {
        int n = 1024;
        float[] x = new float[n], w = new float[n];
        for (int i = 0; i < n; i++) w[i] = (float) Math.sin(i) * 5;
        for (int round = 0; round < 6; round++) {
            for (String f : new String[] {"sigmoid", "tanh"}) {
                long t0 = System.nanoTime(); int reps = 20000;
                for (int r = 0; r < reps; r++) {
                    System.arraycopy(w, 0, x, 0, n);
                    if (f.equals("sigmoid")) { VectorCells.sigmoid(x, 0, n); }
                    else { VectorCells.tanh(x, 0, n); }
                }
                double ns = (System.nanoTime() - t0) / (double) reps / n;
                long t1 = System.nanoTime();
                for (int r = 0; r < reps / 10; r++) for (int i = 0; i < n; i++) x[i] = f.equals("sigmoid") ? CpuCells.sigmoid(w[i]) : CpuCells.tanh(w[i]);
                double ns2 = (System.nanoTime() - t1) / (double) (reps / 10) / n;
                if (round >= 3) System.out.printf("%s vector %.3f ns/elem, scalar %.3f ns/elem%n", f, ns, ns2);
            }
        }
    }
}
