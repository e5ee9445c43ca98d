package org.rnn4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.rnn4j.BackwardResult;
import org.rnn4j.Device;
import org.rnn4j.ForwardResult;
import org.rnn4j.RecurrentLayer;
import org.rnn4j.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code bench}: a quick CPU-vs-GPU table, forward (inference) and training step (forward + backward with
 * weight gradients, no update) at a few shapes, on the CPU and, when usable, CUDA device 0. Each figure is
 * the median of {@code --repeat} timed runs after a warm-up that lasts until the time per run has settled
 * ({@link Warmup}), timed with {@link System#nanoTime()} with the device synchronized before the clock stops. GFLOP/s counts the GEMMs only, as DESIGN.md does:
 * {@code 2·G·H·(I+H)·B·T} forward (G = 4 LSTM, 3 GRU, 1 RNN), three times that for a training step.
 * {@code --json} appends each figure as it is measured (the GPU check joins them with cuDNN's by shape
 * name); {@code --phases} adds {@link PhaseProfile}'s breakdown of one training step. The JMH suite in
 * {@code benchmarks/} is the careful measurement; this is a look.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Time recurrent layers' forward (inference) and training steps on the CPU and, when usable, "
                + "the GPU: median ms, GFLOP/s (GEMM FLOPs) and the GPU speedup.",
                "For careful figures use the JMH suite in benchmarks/ (benchmarks/README.md)."})
final class BenchCommand implements Callable<Integer> {

    /** Default shapes, {I, H, B, T}. */
    private static final int[][] DEFAULT_SHAPES = {{256, 256, 32, 50}, {512, 512, 64, 50}};
    private static final int[][] QUICK_SHAPES = {{256, 256, 32, 50}};

    @Option(names = "--device", defaultValue = "all", paramLabel = "cpu|cuda|all",
            description = "Devices to time (default: ${DEFAULT-VALUE}: the CPU, and CUDA device 0 when usable).")
    String device;

    @Option(names = "--quick", description = "One shape (I=H=256, B=32, T=50) and 2 repetitions.")
    boolean quick;

    @Option(names = "--repeat", paramLabel = "N",
            description = "Timed repetitions per figure, the median reported (default 5, --quick 2).")
    Integer repeat;

    @Option(names = "--warmup", paramLabel = "N", defaultValue = "20",
            description = "Untimed runs before timing, at least (default: ${DEFAULT-VALUE}); then more until "
                    + "the time per run settles (--settle).")
    int warmup;

    @Option(names = "--settle", paramLabel = "PCT", defaultValue = "5",
            description = {"After --warmup runs, warm up until the median of the last min(10, N/2) runs is "
                    + "within PCT%% of the median of those before them (at most 10 s or max(10·N, 100) runs "
                    + "per figure); 0: exactly --warmup runs (default: ${DEFAULT-VALUE})."})
    double settle;

    @Option(names = "--shape", paramLabel = "I,H,B,T|CELL-I<n>-H<n>-B<n>-T<n>",
            description = {"A shape: input size, hidden size, batch, steps (e.g. 256,256,32,50), timed for each "
                    + "--cell; or a benchmarks/ shape name with its cell (e.g. gru-I1024-H1024-B32-T187). "
                    + "Repeatable; replaces the default shapes (256,256,32,50 and 512,512,64,50)."})
    List<String> shapes;

    @Option(names = "--cell", split = ",", paramLabel = "lstm,gru,tanh,relu", defaultValue = "lstm,gru",
            description = "Cells to time at each I,H,B,T shape (default: ${DEFAULT-VALUE}).")
    List<String> cells;

    @Option(names = "--json", paramLabel = "FILE",
            description = "Also append each figure to FILE as one JSON object per line, as it is measured.")
    Path json;

    @Option(names = "--phases", description = "Also print where one training step's time goes, by phase "
            + "(input GEMM, recurrent GEMMs, pointwise kernels, weight-gradient GEMMs, gaps between launches).")
    boolean phases;

    @Option(names = "--phases-shape", paramLabel = "NAME", description = "With --phases, profile only this "
            + "shape (a name such as lstm-I512-H512-B64-T25, one of the timed shapes; repeatable; default: all).")
    List<String> phaseShapes;

    @Option(names = "--host", description = "Instead: the CUDA engine's host overhead on the stand-in driver in "
            + "skip-work mode (HostOverheadBench): host µs and driver + cuBLAS calls per forward and training step, "
            + "I=H=256, B=32, T=25,50,100 for --cell (default lstm,gru,tanh), --warmup (default 200), --repeat "
            + "(default 50).")
    boolean host;

    @Option(names = "--baseline", paramLabel = "CLASSPATH",
            description = "With --host: also time the build on CLASSPATH, alternating with this one.")
    String baseline;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (host) {
            return hostOverhead(out);
        }
        int reps = repeat != null ? repeat : quick ? 2 : 5;
        if (reps < 1 || warmup < 0 || !(settle >= 0)) {
            err.println("--repeat: expected >= 1, --warmup >= 0 and --settle >= 0, got " + reps + ", " + warmup
                    + " and " + settle);
            return 2;
        }
        List<Workload> work;
        List<String> profiled = new ArrayList<>();
        try {
            work = workloads();
            for (String name : phaseShapes == null ? List.<String>of() : phaseShapes) {
                Workload match = work.stream().filter(w -> w.name().equalsIgnoreCase(name.trim())).findFirst()
                        .orElseThrow(() -> new IllegalArgumentException(
                                "--phases-shape: expected one of the timed shapes, got '" + name + "'"));
                profiled.add(match.name());
            }
        } catch (IllegalArgumentException e) {
            err.println(e.getMessage());
            return 2;
        }

        String d = device.trim().toLowerCase(Locale.ROOT);
        if (!(d.equals("cpu") || d.equals("cuda") || d.equals("all"))) {
            err.println("--device: expected cpu, cuda or all, got '" + device + "'");
            return 2;
        }
        List<Device> devices = new ArrayList<>();
        if (!d.equals("cuda")) {
            devices.add(Device.cpu());
        }
        if (!d.equals("cpu")) {
            try {
                devices.add(Device.cuda());
            } catch (IllegalStateException e) {
                out.println("CUDA: not timed: " + e.getMessage());
                if (d.equals("cuda")) {
                    out.flush();
                    return 1;
                }
            }
        }
        for (Device dev : devices) {
            out.println(dev.engine().describe());
        }
        double tolerance = settle / 100;
        out.println(Warmup.describe(warmup, tolerance) + "; median of " + reps + " timed runs; GFLOP/s counts "
                + "GEMM FLOPs (forward 2·G·H·(I+H)·B·T, training step 3×)");
        out.println();
        out.flush();

        List<String> header = new ArrayList<>(List.of("cell", "I", "H", "B", "T", "pass"));
        for (Device dev : devices) {
            header.add(dev + " ms");
            header.add(dev + " GFLOP/s");
        }
        boolean speedup = devices.size() == 2;
        if (speedup) {
            header.add("speedup");
        }
        List<List<String>> rows = new ArrayList<>();
        List<PhaseProfile.Result> profiles = new ArrayList<>();
        try (Writer log = json == null ? Writer.nullWriter() : Files.newBufferedWriter(json, StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.APPEND)) {
            for (Workload w : work) {
                double[][] ms = new double[devices.size()][];
                for (int k = 0; k < devices.size(); k++) {
                    Figures f = time(devices.get(k), w, warmup, tolerance, reps);
                    ms[k] = new double[] {median(f.forward), median(f.training)};
                    writeFigure(log, w, devices.get(k), "forward", f.forward, f.forwardWarmup);
                    writeFigure(log, w, devices.get(k), "trainingStep", f.training, f.trainingWarmup);
                    if (phases && (profiled.isEmpty() || profiled.contains(w.name()))) {
                        PhaseProfile.Result p = PhaseProfile.run(devices.get(k), w, 5, warmup, tolerance);
                        profiles.add(p);
                        writePhases(log, p);
                    }
                    log.flush();
                }
                for (int pass = 0; pass < 2; pass++) {
                    List<String> row = new ArrayList<>(List.of(w.label(), "" + w.in(), "" + w.hidden(), "" + w.batch(),
                            "" + w.steps(), pass == 0 ? "forward" : "training step"));
                    double flops = pass == 0 ? w.forwardFlops() : 3 * w.forwardFlops();
                    for (int k = 0; k < devices.size(); k++) {
                        row.add(String.format(Locale.ROOT, "%.2f", ms[k][pass]));
                        row.add(String.format(Locale.ROOT, "%.1f", flops / (ms[k][pass] * 1e6)));
                    }
                    if (speedup) {
                        row.add(String.format(Locale.ROOT, "%.1fx", ms[0][pass] / ms[1][pass]));
                    }
                    rows.add(row);
                }
            }
        }
        printTable(out, header, rows, 6);
        for (PhaseProfile.Result p : profiles) {
            out.println();
            printPhases(out, p);
        }
        out.flush();
        return 0;
    }

    private int hostOverhead(PrintWriter out) throws IOException {
        boolean cellsGiven = spec.commandLine().getParseResult().hasMatchedOption("--cell");
        boolean warmupGiven = spec.commandLine().getParseResult().hasMatchedOption("--warmup");
        try {
            return HostOverheadBench.run(out, cellsGiven ? cells : HostOverheadBench.DEFAULT_CELLS, 256, 256, 32,
                    HostOverheadBench.DEFAULT_STEPS, warmupGiven ? warmup : 200, repeat != null ? repeat : 50, baseline);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    /** The --shape and --cell options as workloads, in order. */
    private List<Workload> workloads() {
        List<String> cellNames = new ArrayList<>();
        for (String c : cells) {
            cellNames.add(Workload.cellName(c));
        }
        List<Workload> out = new ArrayList<>();
        List<int[]> dims = new ArrayList<>();
        if (shapes == null || shapes.isEmpty()) {
            dims.addAll(Arrays.asList(quick ? QUICK_SHAPES : DEFAULT_SHAPES));
        }
        for (String s : shapes == null ? List.<String>of() : shapes) {
            if (s.contains(",")) {
                dims.add(parseShape(s));
            } else {
                out.add(Workload.parse(s));
            }
        }
        for (int[] v : dims) {
            for (String c : cellNames) {
                out.add(new Workload(c, v[0], v[1], v[2], v[3]));
            }
        }
        return out;
    }

    /** The timed runs of one workload on one device, in milliseconds, and the warm-up before each pass. */
    private record Figures(double[] forward, Warmup.Result forwardWarmup, double[] training,
                           Warmup.Result trainingWarmup) {
    }

    private static Figures time(Device device, Workload w, int warmup, double tolerance, int reps) {
        try (RecurrentLayer layer = w.build(device, 1);
             Tensor x = Tensor.of(device, uniform(w.steps() * w.batch() * w.in(), 2), w.steps(), w.batch(), w.in());
             Tensor dY = Tensor.zeros(device, w.steps(), w.batch(), w.hidden())) {
            dY.fill(1f);
            layer.eval();
            Runnable forward = () -> {
                try (ForwardResult r = layer.forward(x)) {
                    device.engine().synchronize();
                }
            };
            Warmup.Result forwardWarmup = Warmup.run(forward, device.engine()::synchronize, warmup, tolerance);
            double[] fwd = repeat(reps, forward, device);
            layer.train();
            Runnable training = () -> {
                try (ForwardResult r = layer.forward(x); BackwardResult g = layer.backward(r, dY, null, null)) {
                    device.engine().synchronize();
                }
            };
            Warmup.Result trainingWarmup = Warmup.run(training, device.engine()::synchronize, warmup, tolerance);
            double[] train = repeat(reps, training, device);
            layer.zeroGrad();
            return new Figures(fwd, forwardWarmup, train, trainingWarmup);
        }
    }

    private static double[] repeat(int reps, Runnable work, Device device) {
        double[] ms = new double[reps];
        for (int i = 0; i < reps; i++) {
            device.engine().synchronize();
            long t0 = System.nanoTime();
            work.run(); // synchronizes before returning
            ms[i] = (System.nanoTime() - t0) / 1e6;
        }
        return ms;
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    /** {@code I,H,B,T} with every value >= 1. */
    static int[] parseShape(String spec) {
        String[] parts = spec.split(",");
        int[] v = new int[4];
        try {
            if (parts.length != 4) {
                throw new NumberFormatException();
            }
            for (int i = 0; i < 4; i++) {
                v[i] = Integer.parseInt(parts[i].trim());
                if (v[i] < 1) {
                    throw new NumberFormatException();
                }
            }
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--shape: expected I,H,B,T (input size, hidden size, batch, steps), "
                    + "four integers >= 1, got '" + spec + "'");
        }
        return v;
    }

    static float[] uniform(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (rnd.nextDouble() * 2 - 1);
        }
        return v;
    }

    // ---------------------------------------------------------------- output

    private static void writeFigure(Writer log, Workload w, Device device, String pass, double[] ms,
                                    Warmup.Result warmup) throws IOException {
        StringBuilder samples = new StringBuilder();
        for (double v : ms) {
            samples.append(samples.length() == 0 ? "" : ", ").append(num(v));
        }
        log.write("{\"kind\": \"figure\", \"shape\": \"" + w.name() + "\", \"device\": \"" + device
                + "\", \"pass\": \"" + pass + "\", \"ms\": " + num(median(ms)) + ", \"warmup\": " + warmup.runs()
                + ", \"settled\": " + warmup.settled() + ", \"samples_ms\": [" + samples + "]}\n");
    }

    private static void writePhases(Writer log, PhaseProfile.Result p) throws IOException {
        StringBuilder phases = new StringBuilder();
        for (PhaseProfile.Phase ph : p.phases()) {
            phases.append(phases.length() == 0 ? "" : ", ").append("{\"phase\": \"").append(ph.name())
                    .append("\", \"calls\": ").append(ph.calls()).append(", \"ms\": ").append(num(ph.ms())).append('}');
        }
        log.write("{\"kind\": \"phases\", \"shape\": \"" + p.workload().name() + "\", \"device\": \"" + p.device()
                + "\", \"step_ms\": " + num(p.stepMs()) + ", \"host_ms\": " + num(p.hostMs())
                + ", \"gaps_ms\": " + num(p.gapsMs()) + ", \"head_start_ms\": " + num(p.headStartMs())
                + ", \"profiled_idle_ms\": " + num(p.idleMs()) + ", \"warmup\": " + p.warmup().runs()
                + ", \"settled\": " + p.warmup().settled() + ", \"phases\": [" + phases + "]}\n");
    }

    private static String num(double v) {
        return String.format(Locale.ROOT, "%.4f", v);
    }

    private static void printPhases(PrintWriter out, PhaseProfile.Result p) {
        Workload w = p.workload();
        out.println("Phases of one training step, " + w.label() + " I=" + w.in() + " H=" + w.hidden() + " B="
                + w.batch() + " T=" + w.steps() + " on " + p.device() + ": median of " + p.profiledSteps()
                + " profiled steps after " + p.warmup().runs() + " warm-up steps"
                + (p.warmup().settled() ? "" : " (not settled)") + ", each engine call timed on the device's clock"
                + (p.headStartMs() > 0 ? String.format(Locale.ROOT, " behind a %.1f ms GPU head start", p.headStartMs())
                : "") + String.format(Locale.ROOT, "; time between calls inside a profiled step %.3f ms (on a GPU, "
                + "near 0 means the call times are the work alone)", p.idleMs()));
        List<List<String>> rows = new ArrayList<>();
        double step = p.stepMs();
        for (PhaseProfile.Phase ph : p.phases()) {
            rows.add(List.of(ph.name(), "" + ph.calls(), String.format(Locale.ROOT, "%.3f", ph.ms()),
                    String.format(Locale.ROOT, "%.1f", 100 * ph.ms() / step)));
        }
        rows.add(List.of(PhaseProfile.GAPS, "", String.format(Locale.ROOT, "%.3f", p.gapsMs()),
                String.format(Locale.ROOT, "%.1f", 100 * p.gapsMs() / step)));
        rows.add(List.of("step, unprofiled (device time)", "", String.format(Locale.ROOT, "%.3f", step), "100.0"));
        rows.add(List.of("host time to queue the unprofiled step", "", String.format(Locale.ROOT, "%.3f", p.hostMs()),
                String.format(Locale.ROOT, "%.1f", 100 * p.hostMs() / step)));
        printTable(out, List.of("phase", "calls", "ms", "% of step"), rows, 1);
    }

    /** Left-aligned text columns (the first {@code textColumns}, and "pass"), right-aligned numbers, two spaces apart. */
    private static void printTable(PrintWriter out, List<String> header, List<List<String>> rows, int textColumns) {
        int[] w = new int[header.size()];
        for (int i = 0; i < w.length; i++) {
            w[i] = header.get(i).length();
            for (List<String> r : rows) {
                w[i] = Math.max(w[i], r.get(i).length());
            }
        }
        List<List<String>> all = new ArrayList<>();
        all.add(header);
        all.addAll(rows);
        for (List<String> r : all) {
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < w.length; i++) {
                boolean text = i == 0 || i == textColumns - 1;
                String cell = r.get(i);
                String pad = " ".repeat(w[i] - cell.length());
                line.append(i == 0 ? "" : "  ").append(text ? cell + pad : pad + cell);
            }
            out.println(line.toString().stripTrailing());
        }
    }
}
