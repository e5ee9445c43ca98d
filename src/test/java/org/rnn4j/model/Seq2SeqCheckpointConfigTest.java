package org.rnn4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rnn4j.Device;
import org.rnn4j.Gru;
import org.rnn4j.Tensor;
import org.rnn4j.train.Checkpoint;

/**
 * {@code Checkpoint.load(file, seq2seq)} refuses a file saved from a Seq2Seq of another configuration whose tensors
 * have the same names and shapes (a reset-before GRU where the file's was reset-after, other start and end tokens),
 * as it does for a {@link SequenceModel} and a layer: loading it would compute something else than what was trained,
 * with no error. A file that does not say (PyTorch's) still loads.
 */
class Seq2SeqCheckpointConfigTest {
    private static final int START = Seq2SeqTest.START, END = Seq2SeqTest.END, VOCAB = Seq2SeqTest.VOCAB;

    private static Seq2Seq model(boolean encoderResetAfter, int start, int end, long seed) {
        return Seq2Seq.builder(VOCAB, VOCAB)
                .encoder(Gru.builder(6, 8).resetAfter(encoderResetAfter).seed(seed))
                .decoder(Gru.builder(6, 8).seed(seed + 1))
                .attention(Seq2Seq.Attention.GENERAL).tokens(start, end).seed(seed + 2).build(Device.cpu());
    }

    private static Map<String, float[]> weights(Seq2Seq m) {
        Map<String, float[]> out = new LinkedHashMap<>();
        m.parameters().forEach((k, v) -> out.put(k, v.toHost()));
        return out;
    }

    private static void refused(Path file, Seq2Seq target, String names) {
        Map<String, float[]> before = weights(target);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Checkpoint.load(file, target));
        assertTrue(e.getMessage().contains("differently configured") && e.getMessage().contains(names), e.getMessage());
        weights(target).forEach((k, v) -> assertArrayEquals(before.get(k), v, k + " changed by a refused load"));
    }

    @Test
    void aFileOfAnotherConfigurationWithTheSameShapesIsRefused(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("s2s.safetensors");
        try (Seq2Seq saved = model(true, START, END, 3)) {
            saved.save(file);
        }
        try (Seq2Seq resetBefore = model(false, START, END, 4)) {
            refused(file, resetBefore, "encoder.reset_after");
        }
        try (Seq2Seq otherTokens = model(true, END, START, 4)) {
            refused(file, otherTokens, "seq2seq.start_token");
        }
    }

    @Test
    void theSameConfigurationAndAFileThatDoesNotSayLoad(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("s2s.safetensors");
        Path bare = dir.resolve("bare.safetensors");
        long open = Tensor.openCount();
        List<int[]> sources = List.of(new int[] {3, 4, 5}, new int[] {6, 7});
        List<Seq2Seq.Translation> expected;
        try (Seq2Seq saved = model(true, START, END, 3)) {
            saved.save(file);
            Checkpoint.save(bare, saved.parameters(), Map.of());   // names and shapes only, as PyTorch writes them
            expected = saved.translate(sources, 5);
        }
        for (Path p : new Path[] {file, bare}) {
            try (Seq2Seq same = model(true, START, END, 9)) {
                Checkpoint.load(p, same);
                List<Seq2Seq.Translation> got = same.translate(sources, 5);
                for (int i = 0; i < sources.size(); i++) {
                    assertArrayEquals(expected.get(i).tokens(), got.get(i).tokens(), p + " source " + i);
                    assertEquals(expected.get(i).score(), got.get(i).score(), p + " source " + i);
                }
            }
        }
        assertEquals(open, Tensor.openCount(), "tensors left open");
    }
}
