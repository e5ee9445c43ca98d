package org.rnn4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.rnn4j.Device;
import org.rnn4j.Devices;
import org.rnn4j.Gru;
import org.rnn4j.Lstm;
import org.rnn4j.Tensor;

/** {@link ModelStream}: chunked stateful predictions equal one {@link SequenceModel#predict}, bit for bit; refusals. */
class ModelStreamTest {
    private static final int T = 7;
    private static final int B = 3;
    private static final int F = 4;
    private static final int VOCAB = 9;

    static List<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (String device : Devices.names()) {
            for (Task task : Task.values()) {
                for (int chunk : new int[] {1, 3, T}) {
                    out.add(Arguments.of(device, task, chunk));
                }
            }
        }
        return out;
    }

    static SequenceModel model(Task task, Device dev) {
        SequenceModel.Builder b = SequenceModel.builder(task).seed(3).outputs(task == Task.LANGUAGE_MODEL ? 0 : 5);
        boolean tokens = task == Task.LANGUAGE_MODEL || task == Task.TAGGING;
        if (tokens) {
            b.embedding(VOCAB, F);
        } else {
            b.features(F);
        }
        // an LSTM stack for the token tasks, a GRU stack for the dense ones; two layers each
        return b.recurrent(tokens ? Lstm.builder(F, 6).numLayers(2).projSize(5) : Gru.builder(F, 6).numLayers(2))
                .build(dev);
    }

    @ParameterizedTest(name = "{0} {1} chunk {2}")
    @MethodSource("cases")
    void chunksPredictAsTheWholeSequence(String device, Task task, int chunk) {
        Device dev = Device.parse(device);
        boolean tokens = task == Task.LANGUAGE_MODEL || task == Task.TAGGING;
        SplittableRandom r = new SplittableRandom(8);
        int[][] ids = new int[B][T];
        float[][][] feats = new float[B][T][F];
        for (int i = 0; i < B; i++) {
            for (int t = 0; t < T; t++) {
                ids[i][t] = r.nextInt(VOCAB);
                for (int f = 0; f < F; f++) {
                    feats[i][t][f] = (float) r.nextDouble(-1, 1);
                }
            }
        }
        long open = Tensor.openCount();
        try (SequenceModel m = model(task, dev)) {
            List<float[][]> whole = m.predict(sliceFull(tokens, ids, feats, 0, T), B);
            try (ModelStream s = m.stream(B)) {
                List<List<float[]>> rows = new ArrayList<>();
                for (int i = 0; i < B; i++) {
                    rows.add(new ArrayList<>());
                }
                List<float[][]> last = null;
                for (int t0 = 0; t0 < T; t0 += chunk) {
                    if (chunk == 1) {
                        float[][] stepOut;
                        if (tokens) {
                            int[] tok = new int[B];
                            for (int i = 0; i < B; i++) {
                                tok[i] = ids[i][t0];
                            }
                            stepOut = s.step(tok);
                        } else {
                            float[][] fs = new float[B][];
                            for (int i = 0; i < B; i++) {
                                fs[i] = feats[i][t0];
                            }
                            stepOut = s.step(fs);
                        }
                        last = new ArrayList<>();
                        for (float[] row : stepOut) {
                            last.add(new float[][] {row});
                        }
                    } else {
                        last = s.predict(sliceFull(tokens, ids, feats, t0, Math.min(T, t0 + chunk)));
                    }
                    for (int i = 0; i < B; i++) {
                        rows.get(i).addAll(Arrays.asList(last.get(i)));
                    }
                }
                for (int i = 0; i < B; i++) {
                    if (task.perStep()) {
                        assertArrayEquals(whole.get(i), rows.get(i).toArray(new float[0][]), "stream " + i);
                    } else {
                        assertArrayEquals(whole.get(i), last.get(i), "stream " + i);
                    }
                }
            }
        }
        assertEquals(open, Tensor.openCount(), "tensors left open");
    }

    /** Every stream's steps t0 .. t1 - 1. */
    static SequenceDataset sliceFull(boolean tokens, int[][] ids, float[][][] feats, int t0, int t1) {
        List<int[]> tok = new ArrayList<>();
        List<float[][]> fs = new ArrayList<>();
        for (int i = 0; i < B; i++) {
            tok.add(Arrays.copyOfRange(ids[i], t0, t1));
            fs.add(Arrays.copyOfRange(feats[i], t0, t1));
        }
        return tokens ? SequenceDataset.ofTokens(tok) : SequenceDataset.ofFeatures(fs);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("org.rnn4j.Devices#names")
    void resetSaveAndRefusals(String device, @TempDir Path dir) throws Exception {
        Device dev = Device.parse(device);
        long open = Tensor.openCount();
        float[][] one = {{0.1f, 0.2f, 0.3f, 0.4f}, {-0.5f, 0.5f, 0f, 1f}, {1f, 1f, 1f, 1f}};
        try (SequenceModel m = model(Task.REGRESSION, dev); ModelStream s = m.stream(B)) {
            float[][] first = s.step(one);
            float[][] second = s.step(one);
            assertTrue(!Arrays.equals(first[0], second[0]), "the state carries");
            s.reset(0);
            float[][] third = s.step(one);
            assertArrayEquals(first[0], third[0], "stream 0 starts afresh");
            assertArrayEquals(m.predict(SequenceDataset.ofFeatures(List.<float[][]>of(new float[][] {one[1], one[1], one[1]})), 1)
                    .get(0)[2], third[1], "stream 1 carries on");
            // the state is not a weight: a saved and loaded model's stream starts at zero
            m.save(dir.resolve("m.safetensors"));
            try (SequenceModel loaded = SequenceModel.load(dir.resolve("m.safetensors"), dev);
                 ModelStream fresh = loaded.stream(B)) {
                assertArrayEquals(first, fresh.step(one));
            }
            s.reset();
            assertArrayEquals(first, s.step(one));
            // refusals below leave the state as it was: after them the second step's output follows
            assertMessage(assertThrows(IllegalArgumentException.class, () -> s.step(new float[2][F])),
                    "features: expected 3 rows");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> s.predict(SequenceDataset.ofFeatures(
                    List.<float[][]>of(one)))), "chunk: expected 3 sequences");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> s.step(new float[B][F + 1])), "");
            float[][] nan = {{Float.NaN, 0, 0, 0}, one[1], one[2]};
            assertThrows(IllegalArgumentException.class, () -> s.step(nan));
            assertMessage(assertThrows(IllegalArgumentException.class, () -> s.reset(-1)), "streams[0]");
            assertThrows(IllegalArgumentException.class, () -> m.stream(0));
            assertArrayEquals(second, s.step(one));
            s.close();
            assertMessage(assertThrows(IllegalStateException.class, () -> s.step(one)), "is closed");
        }
        try (SequenceModel bi = SequenceModel.builder(Task.REGRESSION).features(F).outputs(1)
                .recurrent(Lstm.builder(F, 3).bidirectional(true)).build(dev)) {
            assertMessage(assertThrows(IllegalArgumentException.class, () -> bi.stream(1)), "bidirectional stack cannot stream");
        }
        assertEquals(open, Tensor.openCount(), "tensors left open");
    }

    private static void assertMessage(RuntimeException e, String part) {
        assertTrue(e.getMessage().contains(part), () -> "expected '" + part + "' in: " + e.getMessage());
    }
}
