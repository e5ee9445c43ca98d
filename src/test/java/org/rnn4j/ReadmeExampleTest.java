package org.rnn4j;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The usage example in README.md compiles and runs as it stands there. */
class ReadmeExampleTest {

    @Test
    void readmeExampleCompilesAndRuns(@TempDir Path dir) throws Exception {
        List<String> lines = ReadmeExamples.compileAndRun(dir, "Example");
        assertTrue(lines.get(0).startsWith("best available"), lines.toString());
        assertTrue(lines.stream().anyMatch(l -> l.contains("LSTM(I=8, H=16, bidirectional)")), lines.toString());
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("epoch 4/4")), lines.toString());
        String last = lines.get(lines.size() - 1);
        assertTrue(last.startsWith("validation accuracy "), lines.toString());
        // chance is about one half; the model learns the rule
        assertTrue(Double.parseDouble(last.substring("validation accuracy ".length())) > 0.85, lines.toString());
    }
}
