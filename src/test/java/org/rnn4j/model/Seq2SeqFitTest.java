package org.rnn4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.rnn4j.Device;
import org.rnn4j.Devices;
import org.rnn4j.Gru;
import org.rnn4j.Lstm;
import org.rnn4j.Tensor;

/**
 * {@link Seq2Seq#fit}: the training loop of {@link SequenceModel#fit} over a {@link SequenceDataset#sequenceToSequence}
 * (and {@link SequenceDataset#vectorToSequence}) dataset: it learns, validates with decoded metrics, stops early,
 * and a run resumed from a checkpoint computes the same bits as one that never stopped, on the CPU and on CUDA.
 */
class Seq2SeqFitTest {
    private static final int START = Seq2SeqTest.START, END = Seq2SeqTest.END, VOCAB = Seq2SeqTest.VOCAB;

    static SequenceDataset reversals(int count, long seed) {
        return reversals(count, 6, seed);
    }

    static SequenceDataset reversals(int count, int maxLength, long seed) {
        List<int[]> src = Seq2SeqTest.randomSequences(new Random(seed), count, 2, maxLength);
        return SequenceDataset.sequenceToSequence(src, src.stream().map(Seq2SeqTest::reversed).toList());
    }

    /** A stacked encoder with dropout between its layers, so that a resume must restore the layers' dropout counts. */
    private static Seq2Seq.Builder reverser() {
        return Seq2Seq.builder(VOCAB, VOCAB)
                .encoder(Lstm.builder(8, 16).numLayers(2).dropout(0.2).bidirectional(true).seed(3))
                .decoder(Lstm.builder(8, 16).numLayers(2).dropout(0.2).seed(4))
                .attention(Seq2Seq.Attention.GENERAL).tokens(START, END).seed(5);
    }

    private static Map<String, float[]> weights(Seq2Seq m) {
        Map<String, float[]> out = new LinkedHashMap<>();
        m.parameters().forEach((k, v) -> out.put(k, v.toHost()));
        return out;
    }

    private static void assertSameWeights(Map<String, float[]> expected, Seq2Seq m, String what) {
        for (Map.Entry<String, Tensor> e : m.parameters().entrySet()) {
            assertArrayEquals(expected.get(e.getKey()), e.getValue().toHost(), e.getKey() + " differs " + what);
        }
    }

    @Test
    void fitLearnsToReverseAndValidatesWithDecodedMetrics() throws Exception {
        SequenceDataset train = reversals(640, 1);
        SequenceDataset val = reversals(100, 2);
        try (Seq2Seq model = Seq2SeqTest.reverser(Seq2Seq.Attention.GENERAL, true).build(Device.cpu())) {
            History h = model.fit(train, val, new FitOptions().epochs(12).batchSize(32).adam(1e-2).seed(1));
            History.Epoch first = h.epochs().get(0), last = h.last();
            assertEquals(List.of("loss"), List.copyOf(last.train().keySet()));
            assertEquals(List.of("loss", "token_accuracy", "exact_match", "bleu"), List.copyOf(last.validation().keySet()));
            assertTrue(last.metric("loss") < first.metric("loss") / 10, h::toString);
            assertTrue(last.metric("val_exact_match") > 0.9, h::toString);
            assertEquals(12, model.epochsTrained());
            assertEquals(12 * 20, model.stepsTrained());
            Map<String, Double> again = model.evaluate(val, 32);
            assertEquals(last.validation(), again, "evaluate is fit's validation");
            // the decoded metrics are those of evaluate(sources, targets, 1, ...) on the same examples
            List<int[]> src = new ArrayList<>(), tgt = new ArrayList<>();
            for (int i = 0; i < val.size(); i++) {
                src.add(val.tokens(i));
                tgt.add(val.targetSequence(i));
            }
            Map<String, Double> decoded = model.evaluate(src, tgt, 1, 13);
            for (String k : decoded.keySet()) {
                assertEquals(decoded.get(k), again.get(k), 1e-12, k);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"cpu", "cuda"})
    void aRunResumedFromACheckpointComputesTheSameBitsAsOneThatNeverStopped(String name, @TempDir Path dir) throws Exception {
        if (name.equals("cuda")) {
            String unusable = Devices.cudaUnusableReason();
            assumeTrue(unusable == null, () -> "no usable CUDA device: " + unusable);
        }
        Device device = Device.parse(name);
        SequenceDataset train = reversals(32, 4, 1);   // small: the stand-in runs every kernel on the host (seconds a step)
        SequenceDataset val = reversals(6, 3, 2);
        FitOptions options = new FitOptions().epochs(3).batchSize(16).adam(1e-2).seed(7)
                .schedule(LrSchedule.cosine(1, 3 * 2, 1e-4));
        History whole;
        Map<String, float[]> expected;
        try (Seq2Seq m = reverser().build(device)) {
            whole = m.fit(train, val, options.checkpoints(dir, 1));
            expected = weights(m);
        }
        Path first = dir.resolve("epoch-0001.safetensors");
        try (Seq2Seq m = Seq2Seq.load(first, device)) {
            History rest = m.fit(train, val, options.checkpoints(dir.resolve("again"), 1).resumeFrom(first));
            assertEquals(2, rest.epochs().size());
            for (int e = 0; e < 2; e++) {
                assertEquals(whole.epochs().get(e + 1).train(), rest.epochs().get(e).train(), "training loss of epoch " + (e + 2));
                assertEquals(whole.epochs().get(e + 1).validation(), rest.epochs().get(e).validation(), "validation of epoch " + (e + 2));
            }
            assertSameWeights(expected, m, "after resuming on " + name);
            assertEquals(3, m.epochsTrained());
        }
    }

    @Test
    void earlyStoppingOnExactMatchStopsAndRestoresTheBestWeights(@TempDir Path dir) throws Exception {
        SequenceDataset train = reversals(64, 1);
        SequenceDataset val = reversals(20, 2);
        // a delta no exact match can reach: every epoch after the first counts as no improvement
        FitOptions options = new FitOptions().epochs(10).batchSize(16).adam(1e-2).seed(3)
                .callbacks(new EarlyStopping("val_exact_match").minDelta(2).patience(1).restoreBestWeights(true));
        Map<String, float[]> afterFirst;
        try (Seq2Seq m = reverser().build(Device.cpu())) {
            m.fit(train, val, new FitOptions().epochs(1).batchSize(16).adam(1e-2).seed(3));
            afterFirst = weights(m);
        }
        try (Seq2Seq m = reverser().build(Device.cpu())) {
            History h = m.fit(train, val, options);
            assertTrue(h.stoppedEarly(), h::toString);
            assertEquals(2, h.last().epoch(), "patience 1: the run stops after the first epoch without improvement");
            assertSameWeights(afterFirst, m, "after restoring the first epoch's weights");
        }
    }

    @Test
    void aVectorModelFitsCaptionsFromFeatureVectors() throws Exception {
        List<float[]> vectors = new ArrayList<>();
        List<int[]> captions = new ArrayList<>();
        Random rnd = new Random(1);
        for (int i = 0; i < 96; i++) {
            int color = rnd.nextInt(3), shape = rnd.nextInt(3);
            float[] v = new float[6];
            v[color] = 1;
            v[3 + shape] = 1;
            vectors.add(v);
            captions.add(new int[] {3 + color, 6 + shape});
        }
        SequenceDataset data = SequenceDataset.vectorToSequence(vectors, captions);
        try (Seq2Seq m = Seq2Seq.fromVectors(6, VOCAB).decoder(Gru.builder(8, 16)).tokens(START, END).seed(2).build(Device.cpu())) {
            History h = m.fit(data, data, new FitOptions().epochs(15).batchSize(16).adam(1e-2).seed(1));
            assertEquals(1.0, h.last().metric("val_exact_match"), h::toString);
        }
    }

    @Test
    void badDataAndOptionsAreRefusedByNameBeforeAnyWork(@TempDir Path dir) throws Exception {
        SequenceDataset train = reversals(16, 1);
        try (Seq2Seq m = reverser().build(Device.cpu())) {
            Map<String, float[]> before = weights(m);
            FitOptions o = new FitOptions().epochs(1).batchSize(8);
            assertMessage("train: expected SequenceDataset.sequenceToSequence data", () -> m.fit(
                    SequenceDataset.classification(List.of(new int[] {3}), new int[] {0}), null, o));
            assertMessage("train: expected SequenceDataset.sequenceToSequence data", () -> m.fit(
                    SequenceDataset.vectorToSequence(List.of(new float[] {1}), List.of(new int[] {3})), null, o));
            assertMessage("validation.targets[1][0]: expected an id in [0, 10), got 10", () -> m.fit(train,
                    SequenceDataset.sequenceToSequence(List.of(new int[] {3}, new int[] {4}), List.of(new int[] {3}, new int[] {10})), o));
            assertMessage("train.sources[0][1]: expected an id in [0, 10), got 12", () -> m.fit(
                    SequenceDataset.sequenceToSequence(List.of(new int[] {3, 12}), List.of(new int[] {3})), null, o));
            assertMessage("data: expected a dataset, got null", () -> m.evaluate((SequenceDataset) null, 8));
            assertMessage("batchSize: expected >= 1, got 0", () -> m.evaluate(train, 0));
            assertMessage("metrics: custom metrics", () -> m.fit(train, null, new FitOptions().epochs(1).metrics(new Metric() {
                @Override
                public String name() {
                    return "custom";
                }

                @Override
                public void reset() {
                }

                @Override
                public void update(Rows rows) {
                }

                @Override
                public double value() {
                    return 0;
                }
            })));
            assertMessage("classWeights: class weights", () -> m.fit(train, null, new FitOptions().epochs(1).classWeights(1, 2)));
            assertMessage("stateful: a Seq2Seq", () -> m.fit(train, null, new FitOptions().epochs(1).batchSize(8).stateful(true)));
            assertMessage("metric: expected one of [loss, val_loss, val_token_accuracy, val_exact_match, val_bleu]",
                    () -> m.fit(train, train, new FitOptions().epochs(1).callbacks(new EarlyStopping("val_accuracy"))));
            assertSameWeights(before, m, "after refusals");
            assertEquals(0, m.epochsTrained());
        }
        // a checkpoint of another configuration is refused, naming the difference
        try (Seq2Seq m = reverser().build(Device.cpu());
             Seq2Seq other = Seq2SeqTest.reverser(Seq2Seq.Attention.DOT, false).build(Device.cpu())) {
            m.fit(train, null, new FitOptions().epochs(1).batchSize(8).checkpoints(dir, 1));
            assertMessage("resumeFrom: " + dir.resolve("epoch-0001.safetensors") + " holds another model than this Seq2Seq: [seq2seq.attention",
                    () -> other.fit(train, null, new FitOptions().epochs(2).batchSize(8).resumeFrom(dir.resolve("epoch-0001.safetensors"))));
            assertEquals(0, other.epochsTrained());
        }
    }

    private static void assertMessage(String start, org.junit.jupiter.api.function.Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().startsWith(start), () -> "expected a message starting \"" + start + "\", got \"" + e.getMessage() + "\"");
    }
}
