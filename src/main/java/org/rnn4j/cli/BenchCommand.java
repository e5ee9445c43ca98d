package org.rnn4j.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.rnn4j.BackwardResult;
import org.rnn4j.Device;
import org.rnn4j.ForwardResult;
import org.rnn4j.Gru;
import org.rnn4j.Lstm;
import org.rnn4j.RecurrentLayer;
import org.rnn4j.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code bench}: a quick CPU-vs-GPU table, LSTM and GRU forward (inference) and training step
 * (forward + backward with weight gradients, no update) at a few shapes, on the CPU and, when usable,
 * CUDA device 0. Each figure is the median of {@code --repeat} timed runs after warm-up, timed with
 * {@link System#nanoTime()} with the device synchronized before the clock stops. GFLOP/s counts the
 * GEMMs only, as DESIGN.md does: {@code 2·G·H·(I+H)·B·T} forward (G = 4 LSTM, 3 GRU), three times that
 * for a training step. The JMH suite in {@code benchmarks/} is the careful measurement; this is a look.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Time LSTM and GRU forward (inference) and training steps on the CPU and, when usable, "
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

    @Option(names = "--warmup", paramLabel = "N", defaultValue = "1",
            description = "Untimed runs before timing (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--shape", paramLabel = "I,H,B,T",
            description = {"A shape: input size, hidden size, batch, steps (e.g. 256,256,32,50). Repeatable; "
                    + "replaces the default shapes (256,256,32,50 and 512,512,64,50)."})
    List<String> shapes;

    @Option(names = "--cell", split = ",", paramLabel = "lstm,gru", defaultValue = "lstm,gru",
            description = "Cells to time (default: ${DEFAULT-VALUE}).")
    List<String> cells;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        int reps = repeat != null ? repeat : quick ? 2 : 5;
        if (reps < 1 || warmup < 0) {
            spec.commandLine().getErr().println("--repeat: expected >= 1 and --warmup >= 0, got " + reps + " and " + warmup);
            return 2;
        }
        List<int[]> dims = new ArrayList<>();
        try {
            if (shapes != null && !shapes.isEmpty()) {
                for (String s : shapes) {
                    dims.add(parseShape(s));
                }
            } else {
                dims.addAll(Arrays.asList(quick ? QUICK_SHAPES : DEFAULT_SHAPES));
            }
            for (String c : cells) {
                cellName(c);
            }
        } catch (IllegalArgumentException e) {
            spec.commandLine().getErr().println(e.getMessage());
            return 2;
        }

        String d = device.trim().toLowerCase(Locale.ROOT);
        if (!(d.equals("cpu") || d.equals("cuda") || d.equals("all"))) {
            spec.commandLine().getErr().println("--device: expected cpu, cuda or all, got '" + device + "'");
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
        out.println("warm-up " + warmup + ", median of " + reps + " timed runs; GFLOP/s counts GEMM FLOPs "
                + "(forward 2·G·H·(I+H)·B·T, training step 3×)");
        out.println();

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
        for (int[] s : dims) {
            for (String c : cells) {
                String cell = cellName(c);
                double[][] ms = new double[devices.size()][];
                for (int k = 0; k < devices.size(); k++) {
                    ms[k] = time(devices.get(k), cell, s, warmup, reps);
                }
                double fwdFlops = 2.0 * gates(cell) * s[1] * (double) (s[0] + s[1]) * s[2] * s[3];
                for (int pass = 0; pass < 2; pass++) {
                    List<String> row = new ArrayList<>(List.of(cell, "" + s[0], "" + s[1], "" + s[2], "" + s[3],
                            pass == 0 ? "forward" : "training step"));
                    double flops = pass == 0 ? fwdFlops : 3 * fwdFlops;
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
        printTable(out, header, rows);
        out.flush();
        return 0;
    }

    /** Median ms of {forward, training step} for one cell and shape on one device. */
    private static double[] time(Device device, String cell, int[] s, int warmup, int reps) {
        int in = s[0];
        int hidden = s[1];
        int batch = s[2];
        int steps = s[3];
        try (RecurrentLayer layer = cell.equals("LSTM") ? Lstm.builder(in, hidden).seed(1).build(device)
                : Gru.builder(in, hidden).seed(1).build(device);
             Tensor x = Tensor.of(device, uniform(steps * batch * in, 2), steps, batch, in);
             Tensor dY = Tensor.zeros(device, steps, batch, hidden)) {
            dY.fill(1f);
            layer.eval();
            double fwd = median(repeat(warmup, reps, () -> {
                try (ForwardResult r = layer.forward(x)) {
                    device.engine().synchronize();
                }
            }, device));
            layer.train();
            double train = median(repeat(warmup, reps, () -> {
                try (ForwardResult r = layer.forward(x); BackwardResult g = layer.backward(r, dY, null, null)) {
                    device.engine().synchronize();
                }
            }, device));
            layer.zeroGrad();
            return new double[] {fwd, train};
        }
    }

    private static double[] repeat(int warmup, int reps, Runnable work, Device device) {
        for (int i = 0; i < warmup; i++) {
            work.run();
        }
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

    private static String cellName(String c) {
        return switch (c.trim().toLowerCase(Locale.ROOT)) {
            case "lstm" -> "LSTM";
            case "gru" -> "GRU";
            default -> throw new IllegalArgumentException("--cell: expected lstm or gru, got '" + c + "'");
        };
    }

    private static int gates(String cell) {
        return cell.equals("LSTM") ? 4 : 3;
    }

    private static float[] uniform(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (rnd.nextDouble() * 2 - 1);
        }
        return v;
    }

    /** Left-aligned text columns, right-aligned numbers, two spaces apart. */
    private static void printTable(PrintWriter out, List<String> header, List<List<String>> rows) {
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
                boolean text = i == 0 || i == 5;
                String cell = r.get(i);
                String pad = " ".repeat(w[i] - cell.length());
                line.append(i == 0 ? "" : "  ").append(text ? cell + pad : pad + cell);
            }
            out.println(line.toString().stripTrailing());
        }
    }
}
