package org.rnn4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
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
}
