package org.rnn4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.rnn4j.Device;
import org.rnn4j.Gru;
import org.rnn4j.Lstm;
import org.rnn4j.Rnn;

/** Each task shape trains a small model to a stated quality on the CPU (seeded, a few seconds each). */
class SequenceModelTest {
    private final Device cpu = Device.cpu();

    @Test
    void bidirectionalClassifierLearnsTheMajorityToken() throws Exception {
        SequenceDataset train = TaskData.majority(400, 6, 1);
        SequenceDataset test = TaskData.majority(200, 6, 2);
        try (SequenceModel m = SequenceModel.builder(Task.CLASSIFICATION).embedding(6, 8, 0)
                .recurrent(Lstm.builder(8, 16).bidirectional(true).seed(3)).dropout(0.1).outputs(2).seed(4).build(cpu)) {
            History h = m.fit(train, test, new FitOptions().epochs(10).batchSize(32).adam(1e-2).seed(5));
            Map<String, Double> r = m.evaluate(test, 64);
            // chance is ~0.5; the rule needs counting over the whole sequence
            assertTrue(r.get("accuracy") >= 0.9, () -> "held-out accuracy " + r + ", history " + h);
            assertEquals(r.get("accuracy"), h.last().validation().get("accuracy"), 1e-12);
            List<float[][]> p = m.predict(SequenceDataset.ofTokens(List.of(new int[] {1, 1, 3}, new int[] {2, 4, 2, 2})), 8);
            assertEquals(1, p.get(0).length);
            assertEquals(1f, p.get(0)[0][0] + p.get(0)[0][1], 1e-5f);
            assertTrue(p.get(0)[0][1] > 0.5f && p.get(1)[0][0] > 0.5f, "probabilities of two clear cases");
        }
    }

    @Test
    void taggerLearnsRisingSteps() throws Exception {
        SequenceDataset train = TaskData.rising(400, 8, 11);
        SequenceDataset test = TaskData.rising(150, 8, 12);
        try (SequenceModel m = SequenceModel.builder(Task.TAGGING).embedding(8, 8)
                .recurrent(Gru.builder(8, 24).seed(13)).outputs(2).seed(14).build(cpu)) {
            m.fit(train, null, new FitOptions().epochs(10).batchSize(32).adam(1e-2).seed(15));
            Map<String, Double> r = m.evaluate(test, 64);
            assertTrue(r.get("accuracy") >= 0.95, () -> "per-step accuracy " + r);
            int[] tags = m.predictClasses(SequenceDataset.ofTokens(List.of(new int[] {1, 5, 2, 7, 7})), 4).get(0);
            assertArrayEquals(new int[] {0, 1, 0, 1, 0}, tags);
        }
    }

    @Test
    void regressionLearnsAMovingAverage() throws Exception {
        SequenceDataset train = TaskData.smoothing(400, 21);
        SequenceDataset test = TaskData.smoothing(100, 22);
        try (SequenceModel m = SequenceModel.builder(Task.REGRESSION).features(1)
                .recurrent(Lstm.builder(1, 16).seed(23)).outputs(1).seed(24).build(cpu)) {
            m.fit(train, null, new FitOptions().epochs(15).batchSize(16).adam(1e-2).seed(25)
                    .schedule(LrSchedule.cosine(20, 15 * 25, 1e-4)));
            Map<String, Double> r = m.evaluate(test, 64);
            // predicting 0 gives RMSE ≈ 0.41; the rule is exact
            assertTrue(r.get("rmse") < 0.06, () -> "held-out " + r);
            assertTrue(r.get("mae") <= r.get("rmse"), r::toString);
            assertEquals(r.get("loss"), r.get("rmse") * r.get("rmse"), 1e-6);
        }
    }

    @Test
    void sequenceRegressionLearnsTheMean() throws Exception {
        SequenceDataset train = TaskData.means(400, 41);
        SequenceDataset test = TaskData.means(100, 42);
        try (SequenceModel m = SequenceModel.builder(Task.SEQUENCE_REGRESSION).features(1)
                .recurrent(Gru.builder(1, 12).seed(43)).outputs(1).seed(44).build(cpu)) {
            m.fit(train, null, new FitOptions().epochs(10).batchSize(16).adam(1e-2).seed(45));
            Map<String, Double> r = m.evaluate(test, 64);
            // predicting 0 gives RMSE ≈ 0.25
            assertTrue(r.get("rmse") < 0.06, () -> "held-out " + r);
            assertEquals(1, m.predict(test, 8).get(0).length, "one row per sequence");
        }
    }

    @Test
    void languageModelLearnsACycleAndGeneratesIt() throws Exception {
        SequenceDataset train = TaskData.cycles(300, 5, 31);
        SequenceDataset test = TaskData.cycles(60, 5, 32);
        try (SequenceModel m = SequenceModel.builder(Task.LANGUAGE_MODEL).embedding(6, 8, 0)
                .recurrent(Rnn.builder(8, 16).seed(33)).seed(34).build(cpu)) {
            m.fit(train, null, new FitOptions().epochs(8).batchSize(32).adam(2e-2).seed(35));
            Map<String, Double> r = m.evaluate(test, 64);
            // the next token is determined: a uniform guess has perplexity 5
            assertTrue(r.get("perplexity") < 1.1, () -> "held-out " + r);
            assertArrayEquals(new int[] {4, 5, 1, 2, 3, 4}, m.generate(new int[] {2, 3}, 6, 0, 1));
            int[] sampled = m.generate(new int[] {1}, 5, 0.5, 7);
            assertArrayEquals(new int[] {2, 3, 4, 5, 1}, sampled, "a confident model samples the same at temperature 0.5");
        }
    }
}
