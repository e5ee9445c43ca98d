package org.rnn4j.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * The main class of {@code benchmarks.jar}: JMH's own command line, plus named shape sets.
 *
 * <pre>
 *   java -jar benchmarks.jar -p suite=cpu -f 1 -wi 2 -i 3 -rf json -rff cpu.json
 *   java -jar benchmarks.jar -p suite=deepbench -p device=cuda --quick
 *   java -jar benchmarks.jar LayerBenchmark.forward -p shape=lstm-I256-H256-B32-T50   # plain JMH
 * </pre>
 *
 * With {@code -p suite=NAME[,NAME...]} (names in {@link Suites}) it fills {@code shape} (every shape of the
 * suites, for {@link LayerBenchmark}) and {@code lstmShape} (their single-layer LSTM shapes, for
 * {@link Dl4jLstmBenchmark}, which runs with the {@code cpu} suite only). {@code -p device=cpu,cuda} lists the
 * devices (default {@code cpu}); {@code cuda} is dropped with the reason printed when it is not usable here,
 * so a suite runs cleanly on a machine without a GPU. {@code --quick} shortens the iterations
 * ({@code -f 1 -wi 1 -w 500ms -i 3 -r 500ms} unless given) so that the GPU suites fit a 10-minute command;
 * {@code --no-dl4j} leaves Deeplearning4j out, {@code --no-pytorch} PyTorch (DJL); both run with the {@code cpu}
 * suite only ({@link DjlRnnBenchmark} at all its single-layer shapes). Without a suite, every argument goes to JMH unchanged.
 */
public final class BenchMain {

    private static final String LAYER = LayerBenchmark.class.getName();
    private static final String DL4J = "org.rnn4j.bench.Dl4jLstmBenchmark";
    private static final String DJL = "org.rnn4j.bench.DjlRnnBenchmark";

    private BenchMain() {
    }

    public static void main(String[] args) throws Exception {
        List<String> rest = new ArrayList<>();
        List<String> suites = new ArrayList<>();
        List<String> devices = new ArrayList<>();
        boolean quick = false;
        boolean dl4j = true;
        boolean pytorch = true;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--quick")) {
                quick = true;
            } else if (a.equals("--no-dl4j")) {
                dl4j = false;
            } else if (a.equals("--no-pytorch")) {
                pytorch = false;
            } else if (a.equals("-p") && i + 1 < args.length && args[i + 1].startsWith("suite=")) {
                suites.addAll(split(args[++i].substring("suite=".length())));
            } else if (a.equals("-p") && i + 1 < args.length && args[i + 1].startsWith("device=")) {
                devices.addAll(split(args[++i].substring("device=".length())));
            } else {
                rest.add(a);
            }
        }
        if (suites.isEmpty() && !quick && devices.isEmpty()) {
            org.openjdk.jmh.Main.main(args);
            return;
        }
        if (suites.isEmpty()) {
            suites.add("cpu");
        }
        if (devices.isEmpty()) {
            devices.add("cpu");
        }
        CommandLineOptions cmd;
        try {
            cmd = new CommandLineOptions(rest.toArray(new String[0]));
        } catch (CommandLineOptionException e) {
            System.err.println("Error parsing command line: " + e.getMessage());
            System.exit(1);
            return;
        }

        Set<String> shapes = new LinkedHashSet<>();
        Set<String> lstmShapes = new LinkedHashSet<>();
        for (String name : suites) {
            for (Shape s : Suites.get(name)) {
                shapes.add(s.toString());
                if (s.cell().equals("lstm") && s.layers() == 1 && !s.bidirectional()) {
                    lstmShapes.add(s.toString());
                }
            }
        }
        List<String> usable = new ArrayList<>();
        for (String d : devices) {
            String n = d.toLowerCase(Locale.ROOT);
            if (n.startsWith("cuda")) {
                String why = BenchDevices.cudaUnusableReason();
                if (why != null) {
                    System.out.println("# skipping device " + d + ": CUDA is not usable here: " + why);
                    continue;
                }
            }
            usable.add(d);
        }
        boolean withDl4j = dl4j && suites.contains("cpu") && !lstmShapes.isEmpty() && classPresent(DL4J);
        if (dl4j && suites.contains("cpu") && !classPresent(DL4J)) {
            System.out.println("# skipping the DL4J side-by-side: this benchmarks.jar was built without it (-Pno-dl4j)");
        }

        boolean withDjl = pytorch && suites.contains("cpu") && classPresent(DJL);
        if (pytorch && suites.contains("cpu") && !classPresent(DJL)) {
            System.out.println("# skipping the PyTorch side-by-side: this benchmarks.jar was built without it (-Pno-dl4j)");
        }

        ChainedOptionsBuilder ob = new OptionsBuilder().parent(cmd)
                .param("suite", String.join("+", suites))
                .param("shape", shapes.toArray(new String[0]));
        if (!lstmShapes.isEmpty()) {
            ob.param("lstmShape", lstmShapes.toArray(new String[0]));
        }
        if (!usable.isEmpty()) {
            ob.param("device", usable.toArray(new String[0]));
        }
        if (cmd.getIncludes().isEmpty()) {
            if (!usable.isEmpty()) {
                ob.include("^" + LAYER.replace(".", "\\.") + "\\.");
            }
            if (withDl4j) {
                ob.include("^" + DL4J.replace(".", "\\.") + "\\.");
            }
            if (withDjl) {
                ob.include("^" + DJL.replace(".", "\\.") + "\\.");
            }
            if (usable.isEmpty() && !withDl4j && !withDjl) {
                System.out.println("# nothing to run: no usable device among " + devices);
                writeEmptyResult(cmd);
                return;
            }
        }
        if (quick) {
            if (!cmd.getForkCount().hasValue()) {
                ob.forks(1);
            }
            if (!cmd.getWarmupIterations().hasValue()) {
                ob.warmupIterations(1);
            }
            if (!cmd.getWarmupTime().hasValue()) {
                ob.warmupTime(TimeValue.milliseconds(500));
            }
            if (!cmd.getMeasurementIterations().hasValue()) {
                ob.measurementIterations(3);
            }
            if (!cmd.getMeasurementTime().hasValue()) {
                ob.measurementTime(TimeValue.milliseconds(500));
            }
        }
        System.out.println("# suites " + suites + ", devices " + usable + (withDl4j ? " + DL4J" : "")
                + (withDjl ? " + PyTorch (DJL)" : "")
                + ", " + shapes.size() + " shapes" + (quick ? ", quick" : ""));
        try {
            Collection<RunResult> results = new Runner(ob.build()).run();
            if (results.isEmpty()) {
                System.out.println("# no benchmark produced a result");
            }
        } catch (RunnerException e) {
            System.err.println("ERROR: " + e.getMessage());
            e.printStackTrace(System.err);
            System.exit(1);
        }
    }

    private static List<String> split(String csv) {
        List<String> out = new ArrayList<>();
        for (String s : csv.split(",")) {
            if (!s.isBlank()) {
                out.add(s.trim());
            }
        }
        return out;
    }

    private static boolean classPresent(String name) {
        try {
            Class.forName(name, false, BenchMain.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    /** An empty JSON array where {@code -rff} asked for a result file, so that the report still runs. */
    private static void writeEmptyResult(CommandLineOptions cmd) throws IOException {
        if (cmd.getResult().hasValue()) {
            Files.writeString(Path.of(cmd.getResult().get()), "[]\n", StandardCharsets.UTF_8);
        }
    }
}
