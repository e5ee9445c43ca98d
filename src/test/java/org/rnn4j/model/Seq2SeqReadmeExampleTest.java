package org.rnn4j.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rnn4j.ReadmeExamples;

/** README.md's sequence-to-sequence examples compile and run: Translate fits and reverses its input, Caption names an unseen combination. */
class Seq2SeqReadmeExampleTest {

    @Test
    void translateExampleCompilesRunsAndReverses(@TempDir Path dir) throws Exception {
        List<String> lines = ReadmeExamples.compileAndRun(dir, "Translate");
        assertTrue(Double.parseDouble(lines.get(0).substring("validation exact match ".length())) > 0.9, lines.toString());
        assertTrue(lines.get(1).startsWith("[6, 5, 4, 3] score "), lines.toString());
        assertTrue(lines.get(2).startsWith("attention of the first output token ["), lines.toString());
    }

    @Test
    void captionExampleCompilesRunsAndCaptionsAnUnseenCombination(@TempDir Path dir) throws Exception {
        List<String> lines = ReadmeExamples.compileAndRun(dir, "Caption");
        assertTrue(lines.get(0).equals("[3, 9]"), lines.toString());
    }
}
