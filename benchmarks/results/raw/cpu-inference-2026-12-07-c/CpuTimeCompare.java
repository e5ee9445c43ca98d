import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Arrays;
import org.openjdk.jmh.infra.Blackhole;
import org.rnn4j.bench.DjlRnnBenchmark;
import org.rnn4j.bench.LayerBenchmark;

/**
 * Inference forward or training step (arg 1: forward | trainingStep), rnn4j vs PyTorch (DJL), on the calling thread's CPU time (the time the thread ran, not the time
 * it waited for a core on a loaded machine): one thread each, the two alternating per round, the median of the rounds
 * (after 3 warm-up rounds). Args: mode, rounds, shapes. Compile against benchmarks.jar with rnn4j's classes ahead of it:
 *   CP=target/classes:benchmarks/target/benchmarks.jar; javac -cp $CP -d /tmp CpuTimeCompare.java
 *   taskset -c 0 java --add-modules jdk.incubator.vector -Drnn4j.vector.warmUp=false -Drnn4j.threads=1 \
 *       -Dai.djl.offline=true -cp /tmp:$CP CpuTimeCompare forward 5 lstm-I256-H256-B32-T100 ...   (no --add-modules: plain)
 * Under taskset PyTorch has one intra-op thread (DjlRnnBenchmark takes availableProcessors()), so its work runs on
 * the calling thread too, as rnn4j's with rnn4j.threads=1. The JVM's GC threads are not counted (rnn4j allocates
 * its activations per call; PyTorch's allocator is native and on the calling thread).
 */
public class CpuTimeCompare {
    static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();

    public static void main(String[] args) throws Exception {
        Blackhole bh = new Blackhole("Today's password is swordfish. I understand instantiating Blackholes directly is dangerous.");
        boolean train = args[0].equals("trainingStep");
        int rounds = Integer.parseInt(args[1]);
        System.out.println("shape,rnn4j_cpu_ms,torch_cpu_ms,ratio,rnn4j_wall_ms,torch_wall_ms");
        for (int i = 2; i < args.length; i++) {
            String shape = args[i];
            LayerBenchmark r = new LayerBenchmark();
            r.suite = "cpu"; r.device = "cpu"; r.shape = shape;
            r.setUp();
            DjlRnnBenchmark t = new DjlRnnBenchmark();
            t.suite = "cpu"; t.shape = shape;
            t.setUp();
            double[] rc = new double[rounds], tc = new double[rounds], rw = new double[rounds], tw = new double[rounds];
            for (int k = 0; k < rounds + 3; k++) {   // 3 warm-up rounds
                double[] a = time(train ? () -> r.trainingStep(bh) : () -> r.forward(bh)),
                        b = time(train ? () -> t.trainingStep(bh) : () -> t.forward(bh));
                if (k >= 3) { rc[k - 3] = a[0]; rw[k - 3] = a[1]; tc[k - 3] = b[0]; tw[k - 3] = b[1]; }
            }
            double mr = median(rc), mt = median(tc);
            System.out.printf("%s,%.3f,%.3f,%.2f,%.3f,%.3f%n", shape, mr, mt, mr / mt, median(rw), median(tw));
            r.tearDown(); t.tearDown();
        }
    }

    /** CPU and wall ms per call, over calls adding up to about 0.5 s of CPU. */
    static double[] time(Runnable f) {
        long c0 = MX.getCurrentThreadCpuTime(), w0 = System.nanoTime();
        int n = 0;
        do { f.run(); n++; } while (MX.getCurrentThreadCpuTime() - c0 < 500_000_000L);
        return new double[] {(MX.getCurrentThreadCpuTime() - c0) / 1e6 / n, (System.nanoTime() - w0) / 1e6 / n};
    }

    static double median(double[] v) {
        double[] s = v.clone(); Arrays.sort(s); return s[s.length / 2];
    }
}
