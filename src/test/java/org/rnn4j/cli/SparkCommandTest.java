package org.rnn4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The {@code spark} command's checks before Spark starts, and the launcher's Spark detection. */
class SparkCommandTest {

    private static String error(String... args) {
        StringWriter err = new StringWriter();
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(new StringWriter()));
        cl.setErr(new PrintWriter(err));
        assertEquals(Main.USER_ERROR, cl.execute(args), err.toString());
        return err.toString().strip();
    }

    @Test
    void resumeNeedsACheckpointDirectory() {
        assertEquals("spark: --resume: expected --checkpoints DIR to resume from, got none", error("spark", "--resume"));
        assertEquals("spark: --checkpoint-every: expected >= 1, got 0",
                error("spark", "--checkpoints", "ckpt", "--checkpoint-every", "0"));
    }

    @Test
    void aSparkPropertyMeansSparkRunsTheCommand() {
        Map<String, String> saved = new HashMap<>();   // another test's SparkContext may have left some
        for (String k : System.getProperties().stringPropertyNames()) {
            if (k.startsWith("spark.")) {
                saved.put(k, System.clearProperty(k));
            }
        }
        try {
            assertFalse(Main.launchedBySpark(), "no Spark on the stack, no spark.* property");
            System.setProperty("spark.master", "spark://127.0.0.1:7077");
            assertTrue(Main.launchedBySpark());
        } finally {
            System.clearProperty("spark.master");
            saved.forEach(System::setProperty);
        }
    }
}
