package org.rnn4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The stand-in driver's own checks (native/standin/checks_test.cpp): misuse of memory, launches,
 * barriers, shared memory, streams, stream capture, graphs and cuBLAS comes back as the real
 * libraries' statuses, in the three stream modes (the adversarial one also proves that a missing
 * event wait gives a wrong answer); and with RNN4J_STANDIN_SKIP_WORK=1 the same checks and counters, without the work.
 * Skipped where the stand-in was not built (no g++ or no nvcc), or outside Maven.
 */
class StandinChecksTest {
    private static final Path PROGRAM = Path.of("target/standin/checks_test");
    private static final Path FATBINS = Path.of("target/classes/org/rnn4j/kernels");

    @ParameterizedTest(name = "streams {0}")
    @ValueSource(strings = {"synchronous", "deferred", "adversarial"})
    void everyMisuseIsReportedAsTheDriverWould(String streams) throws IOException, InterruptedException {
        run(streams, false, 50);
    }

    @ParameterizedTest(name = "streams {0}")
    @ValueSource(strings = {"synchronous", "deferred"})
    void skipWorkChecksAndCountsWithoutRunning(String streams) throws IOException, InterruptedException {
        run(streams, true, 8);
    }

    private static void run(String streams, boolean skipWork, int atLeast) throws IOException, InterruptedException {
        assumeTrue(Files.isExecutable(PROGRAM), "the stand-in was not built here (" + PROGRAM + ")");
        ProcessBuilder pb = new ProcessBuilder(PROGRAM.toString(), FATBINS.toString()).redirectErrorStream(true);
        pb.environment().put("RNN4J_STANDIN_STREAMS", streams);
        pb.environment().remove("RNN4J_STANDIN_ORDER");
        if (skipWork) {
            pb.environment().put("RNN4J_STANDIN_SKIP_WORK", "1");
        } else {
            pb.environment().remove("RNN4J_STANDIN_SKIP_WORK");
        }
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "checks_test did not finish");
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("\n0 failed"), out);
        assertTrue(out.lines().filter(l -> l.startsWith("ok ")).count() > atLeast, out);
    }
}
