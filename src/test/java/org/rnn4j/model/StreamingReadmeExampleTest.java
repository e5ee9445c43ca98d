package org.rnn4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rnn4j.ReadmeExamples;

/** README.md's streaming example (class Streaming) compiles and runs. */
class StreamingReadmeExampleTest {

    @Test
    void streamingExampleCompilesAndRuns(@TempDir Path dir) throws Exception {
        List<String> lines = ReadmeExamples.compileAndRun(dir, "Streaming");
        assertEquals(7, lines.size(), lines.toString());
        assertTrue(lines.get(0).startsWith("step 0 ["), lines.toString());
        assertEquals("token 1 4 tag probabilities", lines.get(6), lines.toString());
    }
}
