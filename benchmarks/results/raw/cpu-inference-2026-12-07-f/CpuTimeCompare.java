import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.openjdk.jmh.infra.Blackhole;
import org.rnn4j.bench.DjlRnnBenchmark;
import org.rnn4j.bench.Dl4jLstmBenchmark;
import org.rnn4j.bench.LayerBenchmark;

/**
 * Inference forward or training step (arg 1: forward | trainingStep), rnn4j vs PyTorch 2.7.1 (DJL) vs DL4J
 * 1.0.0-M2.1 (LSTM shapes only), on the calling thread's CPU time (the time the thread ran, not the time it waited for
 * a core on a loaded machine): one thread each, the libraries alternating per round, the median of the rounds after 3
 * warm-up rounds. Args: mode, rounds, shapes. Compile against benchmarks.jar with rnn4j's classes ahead of it:
 *   CP=target/classes:benchmarks/target/benchmarks.jar; javac -cp $CP -d /tmp CpuTimeCompare.java
 *   OMP_NUM_THREADS=1 taskset -c 0 java --add-modules jdk.incubator.vector -Drnn4j.vector.warmUp=false
 *       -Drnn4j.threads=1 -Dai.djl.offline=true -cp /tmp:$CP CpuTimeCompare forward 5 lstm-I256-H256-B32-T100 ...
 * (no --add-modules: rnn4j's plain-Java path). Under taskset PyTorch has one intra-op thread (DjlRnnBenchmark takes
 * availableProcessors()) and ND4J one OpenMP thread, so their work runs on the calling thread, as rnn4j's does with
 * rnn4j.threads=1. GC threads are not counted. Columns: ms per call (CPU), ratios rnn4j / torch and rnn4j / DL4J.
 * With -Dclock=wall: wall-clock time instead, for runs on several threads (no taskset, OMP_NUM_THREADS and
 * rnn4j.threads at the core count; PyTorch takes availableProcessors() intra-op threads).
 */
public class CpuTimeCompare {
    static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();
    static final boolean WALL = "wall".equals(System.getProperty("clock"));

    public static void main(String[] args) throws Exception {
        Blackhole bh = new Blackhole("Today's password is swordfish. I understand instantiating Blackholes directly is dangerous.");
        boolean train = args[0].equals("trainingStep");
        int rounds = Integer.parseInt(args[1]);
        String clock = WALL ? "wall" : "cpu";
        System.out.println("shape,rnn4j_" + clock + "_ms,torch_" + clock + "_ms,dl4j_" + clock + "_ms,rnn4j_over_torch,rnn4j_over_dl4j");
        for (int i = 2; i < args.length; i++) {
            String shape = args[i];
            List<Runnable> libs = new ArrayList<>();
            LayerBenchmark r = new LayerBenchmark();
            r.suite = "cpu"; r.device = "cpu"; r.shape = shape;
            r.setUp();
            libs.add(train ? () -> r.trainingStep(bh) : () -> r.forward(bh));
            DjlRnnBenchmark t = new DjlRnnBenchmark();
            t.suite = "cpu"; t.shape = shape;
            t.setUp();
            libs.add(train ? () -> t.trainingStep(bh) : () -> t.forward(bh));
            boolean dl4j = shape.startsWith("lstm-");
            if (dl4j) {
                Dl4jLstmBenchmark d = new Dl4jLstmBenchmark();
                d.suite = "cpu"; d.lstmShape = shape;
                d.setUp();
                libs.add(train ? () -> d.trainingStep(bh) : () -> bh.consume(d.forward()));
            }
            double[][] ms = new double[libs.size()][rounds];
            for (int k = 0; k < rounds + 3; k++) {   // 3 warm-up rounds
                for (int l = 0; l < libs.size(); l++) {
                    double v = time(libs.get(l));
                    if (k >= 3) {
                        ms[l][k - 3] = v;
                    }
                }
            }
            double mr = median(ms[0]), mt = median(ms[1]), md = dl4j ? median(ms[2]) : Double.NaN;
            System.out.printf("%s,%.3f,%.3f,%s,%.2f,%s%n", shape, mr, mt, dl4j ? String.format("%.3f", md) : "",
                    mr / mt, dl4j ? String.format("%.2f", mr / md) : "");
            r.tearDown();
            t.tearDown();
        }
    }

    /** CPU (or wall) ms per call, over calls adding up to about 0.5 s. */
    static double time(Runnable f) {
        long c0 = now();
        int n = 0;
        do {
            f.run();
            n++;
        } while (now() - c0 < 500_000_000L);
        return (now() - c0) / 1e6 / n;
    }

    static long now() {
        return WALL ? System.nanoTime() : MX.getCurrentThreadCpuTime();
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
