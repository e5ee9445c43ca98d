import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
/** CPU ns per Math.exp on float pre-activations widened to double, as CpuCells' sigmoid computes it (no Vector API). */
public class ExpCost {
    public static void main(String[] a) {
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        float[] x = new float[8192]; float[] y = new float[8192];
        java.util.Random r = new java.util.Random(1);
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian() * 2;
        for (int round = 0; round < 6; round++) {
            long c0 = mx.getCurrentThreadCpuTime(); long n = 0;
            do { for (int i = 0; i < x.length; i++) y[i] = (float) (1.0 / (1.0 + Math.exp(-(double) x[i]))); n += x.length; } while (mx.getCurrentThreadCpuTime() - c0 < 300_000_000L);
            System.out.printf("sigmoid via Math.exp: %.2f ns each%n", (mx.getCurrentThreadCpuTime() - c0) / (double) n);
        }
        System.out.println(y[5]);
    }
}
