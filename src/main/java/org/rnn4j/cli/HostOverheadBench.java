package org.rnn4j.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.rnn4j.BackwardResult;
import org.rnn4j.Device;
import org.rnn4j.ForwardResult;
import org.rnn4j.RecurrentLayer;
import org.rnn4j.Tensor;

/**
 * {@code bench --host}: what the CUDA engine costs the host, measured on the stand-in driver in its
 * skip-work mode ({@code RNN4J_STANDIN_SKIP_WORK=1}: every call is validated and counted but no kernel,
 * GEMM, copy or memset runs), so that the time left is rnn4j's, JCuda's and JNA's.
 *
 * <p>Each figure comes from a child JVM of its own ({@link #main}), so that one shape's JIT state and
 * garbage do not colour the next: host µs per forward (inference) and per training step (forward +
 * backward with weight gradients), the median of {@code reps} after {@code warmup} of each; and driver +
 * cuBLAS calls per pass from the stand-in's counts ({@code RNN4J_STANDIN_STATS=1}, printed at exit), as the
 * difference between a child that runs {@value #COUNTED_PASSES} passes and one that runs none. With
 * {@code --baseline CLASSPATH} every child runs once on that class path (an older build) and once on this
 * one, alternately, so that both columns see the same machine load.
 */
final class HostOverheadBench {

    static final int[] DEFAULT_STEPS = {25, 50, 100};
    static final List<String> DEFAULT_CELLS = List.of("lstm", "gru", "tanh");
    private static final int COUNTED_PASSES = 10;

    private HostOverheadBench() {
    }

    /** One child's figures: µs per pass (or calls by API name per pass). */
    record Figure(double forward, double training) {
    }

    /** The --host run: a table per class path, one row per cell and T. */
    static int run(PrintWriter out, List<String> cells, int in, int hidden, int batch, int[] steps,
                   int warmup, int reps, String baseline) throws IOException, InterruptedException {
        List<String> classPaths = new ArrayList<>();
        if (baseline != null) {
            classPaths.add(baseline);
        }
        classPaths.add(System.getProperty("java.class.path"));
        out.println("host overhead on the stand-in in skip-work mode: I=" + in + " H=" + hidden + " B=" + batch
                + ", warm-up " + warmup + ", median of " + reps + "; calls per pass from " + COUNTED_PASSES
                + " counted passes; " + Runtime.getRuntime().availableProcessors() + " CPUs, load average "
                + loadAverage());
        out.println("| cell | T | build | forward µs | training step µs | driver+cuBLAS calls / forward"
                + " | calls / training step | training step calls by API |");
        out.println("| --- | ---: | --- | ---: | ---: | ---: | ---: | --- |");
        out.flush();
        for (String cell : cells) {
            for (int t : steps) {
                String shape = Workload.cellName(cell) + "-I" + in + "-H" + hidden + "-B" + batch + "-T" + t;
                for (int k = 0; k < classPaths.size(); k++) {
                    String cp = classPaths.get(k);
                    String[] timed = child(cp, false, shape, "" + warmup, "" + reps).split(" ");
                    Map<String, Long> none = counts(child(cp, true, shape, "5", "0"));
                    Map<String, Long> fwd = counts(child(cp, true, shape, "5", "" + COUNTED_PASSES + ":forward"));
                    Map<String, Long> train = counts(child(cp, true, shape, "5", "" + COUNTED_PASSES + ":training"));
                    Map<String, Long> perTrain = perPass(train, none);
                    out.printf(Locale.ROOT, "| %s | %d | %s | %s | %s | %d | %d | %s |%n", cell, t,
                            classPaths.size() == 1 ? "this" : k == 0 ? "baseline" : "this",
                            timed[0], timed[1], total(perPass(fwd, none)), total(perTrain), perTrain);
                    out.flush();
                }
            }
        }
        return 0;
    }

    private static String loadAverage() {
        try {
            return new String(java.nio.file.Files.readAllBytes(java.nio.file.Path.of("/proc/loadavg")),
                    StandardCharsets.US_ASCII).trim();
        } catch (IOException e) {
            return "unknown";
        }
    }

    /** Runs {@link #main} in a child JVM on {@code classPath}; its stdout (timing) or stderr (counts). */
    private static String child(String classPath, boolean counting, String... args)
            throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx1g", "-cp", classPath, HostOverheadBench.class.getName()));
        cmd.addAll(Arrays.asList(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("RNN4J_STANDIN_SKIP_WORK", "1");
        if (counting) {
            pb.environment().put("RNN4J_STANDIN_STATS", "1");
        } else {
            pb.environment().remove("RNN4J_STANDIN_STATS");
        }
        Process p = pb.start();
        String stdout;
        String stderr;
        try (InputStream o = p.getInputStream(); InputStream e = p.getErrorStream()) {
            stdout = new String(o.readAllBytes(), StandardCharsets.UTF_8);
            stderr = new String(e.readAllBytes(), StandardCharsets.UTF_8);
        }
        int rc = p.waitFor();
        if (rc != 0) {
            throw new IllegalStateException("bench --host child " + String.join(" ", args) + " exited with " + rc
                    + ": " + stderr.strip());
        }
        return counting ? stderr : stdout.strip();
    }

    /** A stand-in stats line: {@code [rnn4j stand-in] calls: cuLaunchKernel 123, cublasSgemm_v2 45, ...}. */
    private static final Pattern CALL_COUNT = Pattern.compile("\\b(cu[A-Za-z0-9_]+|cublas[A-Za-z0-9_]+)[ :=]+(\\d+)");

    /** Calls by API name from the stand-in's exit report. */
    static Map<String, Long> counts(String stderr) {
        Map<String, Long> calls = new TreeMap<>();
        for (String line : stderr.split("\n")) {
            if (!line.contains("[rnn4j stand-in]")) {
                continue;
            }
            Matcher m = CALL_COUNT.matcher(line);
            while (m.find()) {
                calls.merge(m.group(1), Long.parseLong(m.group(2)), Long::sum);
            }
        }
        if (calls.isEmpty()) {
            throw new IllegalStateException("no call counts in the stand-in's report (is the stand-in on "
                    + "LD_LIBRARY_PATH, with RNN4J_STANDIN_STATS?): " + stderr.strip());
        }
        return calls;
    }

    private static Map<String, Long> perPass(Map<String, Long> counted, Map<String, Long> none) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (Map.Entry<String, Long> e : counted.entrySet()) {
            long d = e.getValue() - none.getOrDefault(e.getKey(), 0L);
            if (d != 0) {
                out.put(e.getKey(), d / COUNTED_PASSES);
            }
        }
        return out;
    }

    private static long total(Map<String, Long> perPass) {
        return perPass.values().stream().mapToLong(Long::longValue).sum();
    }

    /**
     * The child: {@code SHAPE WARMUP REPS} prints the median host µs of a forward and of a training step;
     * {@code SHAPE WARMUP N:forward|N:training} runs N passes of one kind (for the stand-in's counts).
     * Uses only the public API, so it also runs against an older build.
     */
    public static void main(String[] args) {
        Workload w = Workload.parse(args[0]);
        int warmup = Integer.parseInt(args[1]);
        String[] what = args[2].split(":");
        int reps = Integer.parseInt(what[0]);
        Device device = Device.cuda();
        try (RecurrentLayer layer = w.build(device, 1);
             Tensor x = Tensor.of(device, BenchCommand.uniform(w.steps() * w.batch() * w.in(), 2),
                     w.steps(), w.batch(), w.in());
             Tensor dY = Tensor.zeros(device, w.steps(), w.batch(), w.hidden())) {
            Runnable forward = () -> {
                layer.eval();
                try (ForwardResult r = layer.forward(x)) {
                    device.engine().synchronize();
                }
            };
            Runnable training = () -> {
                layer.train();
                try (ForwardResult r = layer.forward(x); BackwardResult g = layer.backward(r, dY, null, null)) {
                    device.engine().synchronize();
                }
            };
            for (int i = 0; i < warmup; i++) {
                forward.run();
                training.run();
            }
            device.engine().synchronize();
            if (what.length == 2) {
                Runnable pass = what[1].equals("forward") ? forward : training;
                for (int i = 0; i < reps; i++) {
                    pass.run();
                }
                return;
            }
            System.out.printf(Locale.ROOT, "%.1f %.1f%n", medianMicros(forward, reps), medianMicros(training, reps));
        }
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
}
