import java.io.File;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.Arrays;

/**
 * Two builds of rnn4j in one JVM, each in its own class loader, their inference forwards alternating round by round
 * (CPU time of the calling thread, median of the rounds after 3 warm-up rounds): a before/after comparison that a
 * shared machine's drifting load cannot tilt, since both see the same minutes. Args: classesA classesB rounds shapes
 * (cell-I-H-B-T, cell lstm|gru|tanh; lstmstep-I-H-B-T: a RecurrentStream's step over a chunk of T steps, the
 * figure then in µs; lstmtrain-I-H-B-T: a training step, the training-mode forward and the backward with dY = 1);
 * -Dclock=wall times wall clock instead, for runs on several threads. Run with --add-modules jdk.incubator.vector -Drnn4j.vector.warmUp=false
 * (or without the module: plain Java) -Drnn4j.threads=1 under taskset -c 0; rnn4j's CPU path needs no jar.
 */
public class TwoBuildsAB {
    static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();

    public static void main(String[] args) throws Exception {
        int rounds = Integer.parseInt(args[2]);
        Runnable[] f = new Runnable[2];
        for (int i = 3; i < args.length; i++) {
            String[] s = args[i].split("-");
            int in = Integer.parseInt(s[1].substring(1)), h = Integer.parseInt(s[2].substring(1));
            int b = Integer.parseInt(s[3].substring(1)), t = Integer.parseInt(s[4].substring(1));
            for (int k = 0; k < 2; k++) {
                f[k] = forward(new URLClassLoader(new URL[] {new File(args[k]).toURI().toURL()}, null), s[0], in, h, b, t);
            }
            double[][] ms = new double[2][rounds];
            for (int r = 0; r < rounds + 3; r++) {
                for (int k = 0; k < 2; k++) {
                    double v = time(f[k]);
                    if (r >= 3) {
                        ms[k][r - 3] = v;
                    }
                }
            }
            if (s[0].endsWith("step")) {
                for (double[] m : ms) {
                    Arrays.setAll(m, j -> m[j] * 1000);
                }
            }
            String unit = s[0].endsWith("step") ? "us" : "ms";
            System.out.printf("%s: A %.3f, B %.3f %s (medians), B/A %.2f; min A %.3f B %.3f; A %s B %s%n", args[i],
                    median(ms[0]), median(ms[1]), unit, median(ms[1]) / median(ms[0]), min(ms[0]), min(ms[1]),
                    range(ms[0]), range(ms[1]));
        }
    }

    static Runnable forward(ClassLoader cl, String cell, int in, int h, int b, int t) throws Exception {
        Class<?> dev = cl.loadClass("org.rnn4j.Device");
        Object cpu = dev.getMethod("cpu").invoke(null);
        boolean step = cell.endsWith("step"), train = cell.endsWith("train");
        cell = cell.replace("step", "").replace("train", "");
        String cls = cell.equals("lstm") ? "org.rnn4j.Lstm" : cell.equals("gru") ? "org.rnn4j.Gru" : "org.rnn4j.Rnn";
        Object builder = cl.loadClass(cls).getMethod("builder", int.class, int.class).invoke(null, in, h);
        builder = builder.getClass().getMethod("seed", long.class).invoke(builder, 42L);
        Object layer = builder.getClass().getMethod("build", dev).invoke(builder, cpu);
        layer.getClass().getMethod(train ? "train" : "eval").invoke(layer);
        float[] xs = new float[t * b * in];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) Math.sin(i);
        }
        Class<?> tensor = cl.loadClass("org.rnn4j.Tensor");
        Object x = tensor.getMethod("of", dev, float[].class, int[].class).invoke(null, cpu, xs, new int[] {t, b, in});
        if (train) {
            float[] ones = new float[t * b * h];
            Arrays.fill(ones, 1f);
            Object dY = tensor.getMethod("of", dev, float[].class, int[].class).invoke(null, cpu, ones, new int[] {t, b, h});
            Method fwd = layer.getClass().getMethod("forward", tensor);
            Class<?> fr = cl.loadClass("org.rnn4j.ForwardResult");
            Method bwd = layer.getClass().getMethod("backward", fr, tensor, tensor, tensor);
            return () -> {
                try (AutoCloseable f = (AutoCloseable) fwd.invoke(layer, x)) {
                    ((AutoCloseable) bwd.invoke(layer, f, dY, null, null)).close();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            };
        }
        Object target = step ? layer.getClass().getMethod("stream", int.class).invoke(layer, b) : layer;
        Method call = target.getClass().getMethod(step ? "step" : "forward", tensor);
        return () -> {
            try {
                ((AutoCloseable) call.invoke(target, x)).close();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        };
    }

    /** -Dclock=wall: wall-clock time (a forward on several threads), else the calling thread's CPU time. */
    static final boolean WALL = "wall".equals(System.getProperty("clock"));

    static long now() {
        return WALL ? System.nanoTime() : MX.getCurrentThreadCpuTime();
    }

    /** ms per call over calls adding up to about 0.5 s (of CPU, or of wall clock). */
    static double time(Runnable f) {
        long c0 = now();
        int n = 0;
        do {
            f.run();
            n++;
        } while (now() - c0 < 500_000_000L);
        return (now() - c0) / 1e6 / n;
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    static double min(double[] v) {
        return Arrays.stream(v).min().orElseThrow();
    }

    static String range(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return String.format("%.3f-%.3f", s[0], s[s.length - 1]);
    }
}
