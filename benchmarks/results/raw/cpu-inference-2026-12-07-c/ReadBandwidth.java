import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Read bandwidth of one core from its caches, as a B = 1 streaming step sees its weights: the sum of a float array of
 * the given size, read again and again with 8 independent vector accumulators (FloatVector.SPECIES_PREFERRED),
 * on the calling thread's CPU time, best of 5 rounds of 0.3 s. Sizes in KiB as args.
 *   javac --add-modules jdk.incubator.vector -d /tmp ReadBandwidth.java
 *   taskset -c 1 java --add-modules jdk.incubator.vector -cp /tmp ReadBandwidth 32 512 1024 2048 4096 16384 65536
 */
public class ReadBandwidth {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();
    static float sink;

    static float sum(float[] a) {
        FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
        for (int i = 0; i < a.length; i += 8 * L) {
            c0 = c0.add(FloatVector.fromArray(S, a, i));
            c1 = c1.add(FloatVector.fromArray(S, a, i + L));
            c2 = c2.add(FloatVector.fromArray(S, a, i + 2 * L));
            c3 = c3.add(FloatVector.fromArray(S, a, i + 3 * L));
            c4 = c4.add(FloatVector.fromArray(S, a, i + 4 * L));
            c5 = c5.add(FloatVector.fromArray(S, a, i + 5 * L));
            c6 = c6.add(FloatVector.fromArray(S, a, i + 6 * L));
            c7 = c7.add(FloatVector.fromArray(S, a, i + 7 * L));
        }
        return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).reduceLanes(VectorOperators.ADD);
    }

    public static void main(String[] args) {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        for (String arg : args) {
            int kib = Integer.parseInt(arg);
            float[] a = new float[kib * 256];
            for (int i = 0; i < a.length; i++) a[i] = i % 3;
            double best = 0;
            for (int r = 0; r < 6; r++) {
                long c0 = mx.getCurrentThreadCpuTime();
                long n = 0;
                do { sink += sum(a); n++; } while (mx.getCurrentThreadCpuTime() - c0 < 300_000_000L);
                double gbs = n * 4.0 * a.length / (mx.getCurrentThreadCpuTime() - c0);
                if (r > 0) best = Math.max(best, gbs);
            }
            System.out.printf("%6d KiB: %.1f GB/s (one pass %.2f us)%n", kib, best, 4.0 * a.length / best / 1e3);
        }
    }
}
