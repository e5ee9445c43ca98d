package org.rnn4j.cli;

import com.sun.jna.Function;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.rnn4j.BackwardResult;
import org.rnn4j.Device;
import org.rnn4j.ForwardResult;
import org.rnn4j.RecurrentLayer;
import org.rnn4j.Tensor;
import org.rnn4j.model.SequenceDataset;
import org.rnn4j.model.SequenceModel;
import org.rnn4j.model.Task;
import org.rnn4j.train.Adam;

/**
 * {@code bench --host}: what the CUDA engine costs the host, measured on the stand-in driver in its
 * skip-work mode ({@code RNN4J_STANDIN_SKIP_WORK=1}: every call is checked and counted but no kernel,
 * GEMM, copy or memset runs), so that the time left is rnn4j's, JCuda's, JNA's and the stand-in's
 * bookkeeping.
 *
 * <p>Each shape runs in a child JVM of its own ({@link #main}), so that one shape's JIT state and garbage
 * do not colour the next: host µs per forward (inference) and per training step (forward + backward
 * with weight gradients, no update), the median of {@code reps} after {@code warmup} of each; then the
 * driver + cuBLAS calls of one pass of each, read from the stand-in's counters
 * ({@code rnn4j_standin_stats}, native/standin/README.md). With {@code --baseline CLASSPATH} each shape
 * runs once on that class path (an older build) and once on this one, alternately, so that both see
 * the same machine load.
 */
final class HostOverheadBench {

    static final int[] DEFAULT_STEPS = {25, 50, 100};
    static final List<String> DEFAULT_CELLS = List.of("lstm", "gru", "tanh");
    /**
     * CudaEngine.GRAPHS_PROPERTY and STREAMS_PROPERTY, passed on to the children when set (an older build ignores
     * them): e.g. -Drnn4j.cuda.graphs=false for the eager path, -Drnn4j.cuda.streams=1 for one stream.
     */
    private static final List<String> PASSED_ON = List.of("rnn4j.cuda.graphs", "rnn4j.cuda.streams");

    private HostOverheadBench() {
    }

    /** The --host run: one row per cell, T and build. */
    static int run(PrintWriter out, List<String> cells, int in, int hidden, int batch, int[] steps,
                   int warmup, int reps, String baseline) throws IOException, InterruptedException {
        List<String> classPaths = new ArrayList<>();
        if (baseline != null) {
            classPaths.add(baseline);
        }
        classPaths.add(System.getProperty("java.class.path"));
        out.println("host overhead on the stand-in in skip-work mode: I=" + in + " H=" + hidden + " B=" + batch
                + ", warm-up " + warmup + ", median of " + reps + "; " + Runtime.getRuntime().availableProcessors()
                + " CPUs, load average " + loadAverage());
        out.println();
        out.println("| cell | T | build | forward µs | training step µs | calls / forward | calls / training step"
                + " | training step calls by API | with update µs | calls / with update | with update calls by API"
                + " | model step µs | calls / model step | model step calls by API |");
        out.println("| --- | ---: | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- | ---: | ---: | --- |");
        out.flush();
        for (String cell : cells) {
            for (int t : steps) {
                String shape = Workload.cellName(cell) + "-I" + in + "-H" + hidden + "-B" + batch + "-T" + t;
                for (int k = 0; k < classPaths.size(); k++) {
                    String[] f = child(classPaths.get(k), shape, "" + warmup, "" + reps).split("\t");
                    out.printf(Locale.ROOT, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |%n",
                            cell, t, classPaths.size() > 1 && k == 0 ? "baseline" : "this", f[0], f[1], f[2], f[3], f[4],
                            field(f, 5), field(f, 6), field(f, 7), field(f, 8), field(f, 9), field(f, 10));
                    out.flush();
                }
            }
        }
        out.println();
        out.println("load average after: " + loadAverage());
        return 0;
    }

    /** Field {@code i} of a child's line, or "-" where an older build's child does not print it. */
    private static String field(String[] f, int i) {
        return i < f.length ? f[i] : "-";
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg"), StandardCharsets.US_ASCII).trim();
        } catch (IOException e) {
            return "unknown";
        }
    }

    /** Runs {@link #main} in a child JVM on {@code classPath} in skip-work mode; its one line of output. */
    private static String child(String classPath, String... args) throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx1g"));
        for (String property : PASSED_ON) {
            String value = System.getProperty(property);
            if (value != null) {
                cmd.add("-D" + property + "=" + value);
            }
        }
        cmd.addAll(List.of("-cp", classPath, HostOverheadBench.class.getName()));
        cmd.addAll(Arrays.asList(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("RNN4J_STANDIN_SKIP_WORK", "1");
        pb.environment().remove("RNN4J_STANDIN_STATS");
        Process p = pb.start();
        String stdout;
        String stderr;
        try (InputStream o = p.getInputStream(); InputStream e = p.getErrorStream()) {
            stdout = new String(o.readAllBytes(), StandardCharsets.UTF_8);
            stderr = new String(e.readAllBytes(), StandardCharsets.UTF_8);
        }
        int rc = p.waitFor();
        if (rc != 0 || stdout.isBlank()) {
            throw new IllegalStateException("bench --host: the child for " + String.join(" ", args) + " exited with "
                    + rc + ": " + stderr.strip());
        }
        return stdout.strip();
    }

    /**
     * The child: {@code SHAPE WARMUP REPS} prints, tab-separated, the median host µs of a forward and of a
     * training step, the driver + cuBLAS calls of one forward and of one training step, and the latter by
     * API name; then the same three of a training step with the update {@code fit} makes (zeroing the gradients,
     * the step, Adam with clipping by global norm 1, {@code Optimizer.setGlobalClipNorm}), where the build has it.
     * Uses only the public API and JNA, so it also runs against an older build.
     */
    public static void main(String[] args) {
        Workload w = Workload.parse(args[0]);
        int warmup = Integer.parseInt(args[1]);
        int reps = Integer.parseInt(args[2]);
        Device device = Device.cuda();
        Counters counters = new Counters();
        try (RecurrentLayer layer = w.build(device, 1);
             Tensor x = Tensor.of(device, BenchCommand.uniform(w.steps() * w.batch() * w.in(), 2),
                     w.steps(), w.batch(), w.in());
             Tensor dY = Tensor.zeros(device, w.steps(), w.batch(), w.hidden())) {
            Runnable forward = () -> {
                try (ForwardResult r = layer.eval().forward(x)) {
                    device.engine().synchronize();
                }
            };
            Runnable training = () -> {
                try (ForwardResult r = layer.train().forward(x); BackwardResult g = layer.backward(r, dY, null, null)) {
                    device.engine().synchronize();
                }
            };
            for (int i = 0; i < warmup; i++) {
                forward.run();
                training.run();
            }
            double forwardUs = medianMicros(forward, reps);
            double trainingUs = medianMicros(training, reps);
            Map<String, Long> forwardCalls = counters.callsOf(forward);
            Map<String, Long> trainingCalls = counters.callsOf(training);
            System.out.printf(Locale.ROOT, "%.1f\t%.1f\t%d\t%d\t%s%s%s%n", forwardUs, trainingUs, total(forwardCalls),
                    total(trainingCalls), trainingCalls, withUpdate(layer, training, warmup, reps, counters),
                    modelStep(w, device, warmup, reps, counters));
        }
    }

    /**
     * {@code \tµs\tcalls\tcalls by API} of one step of a {@link SequenceModel} around the layer (dense input, a
     * classification head of 8 classes, all T valid) as {@code fit} takes it: zeroing the gradients,
     * {@code trainOnBatch} (which reads the loss back) and the clipped Adam update.
     */
    private static String modelStep(Workload w, Device device, int warmup, int reps, Counters counters) {
        List<float[][]> xs = new ArrayList<>();
        int[] labels = new int[w.batch()];
        float[] values = BenchCommand.uniform(w.steps() * w.batch() * w.in(), 3);
        for (int b = 0; b < w.batch(); b++) {
            float[][] seq = new float[w.steps()][w.in()];
            for (int t = 0; t < w.steps(); t++) {
                System.arraycopy(values, (b * w.steps() + t) * w.in(), seq[t], 0, w.in());
            }
            xs.add(seq);
            labels[b] = b % 8;
        }
        SequenceDataset data = SequenceDataset.classificationOfFeatures(xs, labels);
        try (SequenceModel model = SequenceModel.builder(Task.CLASSIFICATION).features(w.in()).recurrent(w.builder(1))
                .outputs(8).seed(1).build(device);
             Adam adam = new Adam(List.of(model), 1e-3)) {
            adam.setGlobalClipNorm(1.0);
            return measured(() -> {
                adam.zeroGrad();
                model.trainOnBatch(data, 0);
                adam.step();
            }, warmup, reps, counters);
        } catch (NoSuchMethodError e) {
            return "";   // an older build
        }
    }

    /** {@code \tµs\tcalls\tcalls by API} of {@code training} with a clipped Adam update, or "" on a build without it. */
    private static String withUpdate(RecurrentLayer layer, Runnable training, int warmup, int reps, Counters counters) {
        try (Adam adam = new Adam(List.of(layer), 1e-3)) {
            adam.setGlobalClipNorm(1.0);
            return measured(() -> {
                layer.zeroGrad();
                training.run();
                adam.step();
            }, warmup, reps, counters);
        } catch (NoSuchMethodError e) {
            return "";   // an older build: no clipping inside the optimizer
        }
    }

    /** {@code \tµs\tcalls\tcalls by API} of {@code step} after {@code warmup} runs: the median of {@code reps}. */
    private static String measured(Runnable step, int warmup, int reps, Counters counters) {
        for (int i = 0; i < warmup; i++) {
            step.run();
        }
        double us = medianMicros(step, reps);
        Map<String, Long> calls = counters.callsOf(step);
        return String.format(Locale.ROOT, "\t%.1f\t%d\t%s", us, total(calls), calls);
    }

    private static double medianMicros(Runnable pass, int reps) {
        double[] us = new double[reps];
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            pass.run();
            us[i] = (System.nanoTime() - t0) / 1e3;
        }
        return BenchCommand.median(us);
    }

    private static long total(Map<String, Long> calls) {
        return calls.values().stream().mapToLong(Long::longValue).sum();
    }

    /** The stand-in's counters ({@code rnn4j_standin_reset_stats} and {@code _stats} of its libcuda.so.1). */
    private static final class Counters {
        private final Function reset;
        private final Function stats;

        Counters() {
            NativeLibrary cuda = NativeLibrary.getInstance("libcuda.so.1");
            try {
                reset = cuda.getFunction("rnn4j_standin_reset_stats");
                stats = cuda.getFunction("rnn4j_standin_stats");
            } catch (UnsatisfiedLinkError e) {
                throw new IllegalStateException("bench --host needs the stand-in driver (native/standin) as "
                        + "libcuda.so.1 on LD_LIBRARY_PATH: " + e.getMessage(), e);
            }
        }

        /** The driver and cuBLAS calls (names starting with cu) that one run of {@code pass} makes, by name. */
        Map<String, Long> callsOf(Runnable pass) {
            reset.invokeVoid(new Object[0]);
            pass.run();
            byte[] buf = new byte[1 << 16];
            stats.invokeLong(new Object[] {buf, (long) buf.length});
            Map<String, Long> calls = new TreeMap<>();
            for (String line : Native.toString(buf, "US-ASCII").split("\n")) {
                int space = line.lastIndexOf(' ');
                if (line.startsWith("cu") && space > 0) {
                    calls.put(line.substring(0, space), Long.parseLong(line.substring(space + 1).trim()));
                }
            }
            return calls;
        }
    }
}
