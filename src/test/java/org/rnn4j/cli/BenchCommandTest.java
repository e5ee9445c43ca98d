package org.rnn4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;

class BenchCommandTest {

    private record Run(int exit, String out, String err) {
    }

    private static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int exit = cl.execute(args);
        return new Run(exit, out.toString(), err.toString());
    }

    @Test
    void printsOneRowPerCellAndPassOnTheCpu() {
        Run r = run("bench", "--device", "cpu", "--shape", "8,6,2,3", "--repeat", "2", "--warmup", "0");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("cpu ms") && r.out().contains("cpu GFLOP/s"), r.out());
        String[] lines = r.out().split("\n");
        int rows = 0;
        for (String line : lines) {
            String[] f = line.trim().split("\\s{2,}");
            if (f.length == 8 && (f[0].equals("LSTM") || f[0].equals("GRU"))) {
                assertEquals("8", f[1], line);
                assertEquals("6", f[2], line);
                assertEquals("2", f[3], line);
                assertEquals("3", f[4], line);
                assertTrue(f[5].equals("forward") || f[5].equals("training step"), line);
                assertTrue(Double.parseDouble(f[6]) > 0, line);
                rows++;
            }
        }
        assertEquals(4, rows, r.out());
    }

    @Test
    void allDevicesSaysWhyCudaIsNotTimedOrTimesIt() {
        Run r = run("bench", "--shape", "4,4,1,2", "--repeat", "1", "--warmup", "0", "--cell", "gru");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("CUDA: not timed: ") || r.out().contains("speedup"), r.out());
    }

    @Test
    void rejectsAMalformedShape() {
        Run r = run("bench", "--device", "cpu", "--shape", "8,8,2");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("I,H,B,T"), r.err());
    }

    @Test
    void medianOfAnEvenCountAveragesTheMiddleTwo() {
        assertEquals(2.5, BenchCommand.median(new double[] {4, 1, 2, 3}), 0);
        assertEquals(2.0, BenchCommand.median(new double[] {3, 1, 2}), 0);
    }

    @Test
    void shapeNamesCarryTheirCellAndJsonGetsOneLinePerFigure(@TempDir Path dir) throws Exception {
        Path json = dir.resolve("bench.jsonl");
        Run r = run("bench", "--device", "cpu", "--shape", "relu-I5-H4-B2-T3", "--shape", "GRU-I3-H2-B1-T2",
                "--repeat", "3", "--warmup", "0", "--json", json.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("RNN-relu") && r.out().contains("GRU"), r.out());
        List<String> lines = Files.readAllLines(json);
        assertEquals(List.of("relu-I5-H4-B2-T3 forward", "relu-I5-H4-B2-T3 trainingStep",
                        "gru-I3-H2-B1-T2 forward", "gru-I3-H2-B1-T2 trainingStep"),
                lines.stream().map(l -> field(l, "shape") + " " + field(l, "pass")).toList());
        for (String l : lines) {
            assertTrue(l.startsWith("{\"kind\": \"figure\"") && l.contains("\"device\": \"cpu\""), l);
            assertEquals(3, field(l, "samples_ms").split(",").length, l);
        }
    }

    /** Each engine call of a step is filed once, so the counts are exactly RecurrentLayer's calls. */
    @ParameterizedTest
    @MethodSource("org.rnn4j.Devices#names")
    void phasesFileEveryEngineCallOfATrainingStep(String device, @TempDir Path dir) throws Exception {
        Path json = dir.resolve("phases.jsonl");
        Run r = run("bench", "--device", device, "--shape", "lstm-I8-H6-B2-T3", "--repeat", "1", "--warmup", "0",
                "--phases", "--json", json.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("Phases of one training step, LSTM I=8 H=6 B=2 T=3 on " + (device.equals("cpu")
                ? "cpu" : "cuda:0")), r.out());
        String phases = Files.readAllLines(json).stream().filter(l -> l.contains("\"kind\": \"phases\"")).findFirst()
                .orElseThrow();
        // per direction: one input GEMM, T recurrent GEMMs and T fused steps each way, dW_ih and dW_hh, dX, two bias sums
        assertEquals(1, calls(phases, "forward: input GEMM"));
        assertEquals(3, calls(phases, "forward: recurrent GEMMs"));
        assertEquals(3, calls(phases, "forward: pointwise kernels"));
        assertEquals(3, calls(phases, "backward: recurrent GEMMs"));
        assertEquals(3, calls(phases, "backward: pointwise kernels"));
        assertEquals(2, calls(phases, "backward: weight-gradient GEMMs"));
        assertEquals(1, calls(phases, "backward: input-gradient GEMM (dX)"));
        assertEquals(1, calls(phases, "backward: bias and peephole sums"));   // one column sum into both biases
        assertTrue(Double.parseDouble(field(phases, "step_ms")) > 0, phases);
        assertTrue(Double.parseDouble(field(phases, "gaps_ms")) >= 0, phases);
    }

    @Test
    void rejectsAnUnknownCellInAShapeName() {
        Run r = run("bench", "--device", "cpu", "--shape", "lstmp-I8-H8-B2-T3");
        assertEquals(2, r.exit());
        assertTrue(r.err().contains("CELL-I<n>-H<n>-B<n>-T<n>"), r.err());
    }

    private static int calls(String phasesJson, String phase) {
        Matcher m = Pattern.compile("\\{\"phase\": \"" + Pattern.quote(phase) + "\", \"calls\": (\\d+)").matcher(phasesJson);
        assertTrue(m.find(), phase + " missing in " + phasesJson);
        return Integer.parseInt(m.group(1));
    }

    /** A top-level field of a one-line JSON object: a string's content, a number, or an array's inside. */
    private static String field(String json, String name) {
        Matcher m = Pattern.compile("\"" + name + "\": (\"([^\"]*)\"|\\[([^\\]]*)\\]|([-0-9.eE]+))").matcher(json);
        assertTrue(m.find(), name + " missing in " + json);
        return m.group(2) != null ? m.group(2) : m.group(3) != null ? m.group(3) : m.group(4);
    }
}
