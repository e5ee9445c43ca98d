package org.rnn4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rnn4j.Device;
import org.rnn4j.Gru;
import org.rnn4j.Lstm;
import org.rnn4j.Tensor;
import org.rnn4j.train.Checkpoint;

/** Checkpoints that resume exactly, early stopping, schedules, stateful carry, flat memory, summary. */
class FitTest {
    private final Device cpu = Device.cpu();

    private SequenceModel classifier() {
        return SequenceModel.builder(Task.CLASSIFICATION).embedding(6, 8, 0)
                .recurrent(Lstm.builder(8, 12).numLayers(2).seed(3)).dropout(0.2).outputs(2).seed(4).build(cpu);
    }

    @Test
    void resumingFromACheckpointIsBitIdenticalToNeverStopping(@TempDir Path dir) throws Exception {
        SequenceDataset train = TaskData.majority(120, 6, 1);
        SequenceDataset val = TaskData.majority(40, 6, 2);
        FitOptions full = new FitOptions().epochs(4).batchSize(16).adam(1e-2).seed(7)
                .schedule(LrSchedule.reduceOnPlateau(0.5, 0, 1e-4)).checkpoints(dir.resolve("a"), 2);
        Map<String, float[]> expected = new java.util.LinkedHashMap<>();
        History whole;
        try (SequenceModel m = classifier()) {
            whole = m.fit(train, val, full);
            m.parameters().forEach((k, v) -> expected.put(k, v.toHost()));
        }
        Path half = dir.resolve("a/epoch-0002.safetensors");
        assertTrue(Files.exists(half));
        try (SequenceModel m = SequenceModel.load(half, cpu)) {
            FitOptions rest = new FitOptions().epochs(4).batchSize(16).adam(1e-2).seed(7)
                    .schedule(LrSchedule.reduceOnPlateau(0.5, 0, 1e-4)).resumeFrom(half);
            History resumed = m.fit(train, val, rest);
            assertEquals(2, resumed.epochs().size());
            assertEquals(3, resumed.epochs().get(0).epoch());
            assertEquals(whole.last().train(), resumed.last().train());
            assertEquals(whole.last().learningRate(), resumed.last().learningRate());
            for (Map.Entry<String, Tensor> e : m.parameters().entrySet()) {
                assertArrayEquals(expected.get(e.getKey()), e.getValue().toHost(), e.getKey() + " differs after resuming");
            }
        }
        // the weights load into PyTorch-named tensors; the optimizer state is kept apart
        Map<String, ?> tensors = Checkpoint.read(half).tensors();
        assertTrue(tensors.containsKey("rnn.weight_ih_l0") && tensors.containsKey("head.weight")
                && tensors.containsKey("embedding.weight") && tensors.containsKey("optimizer.exp_avg.0"), tensors.keySet()::toString);
    }

    @Test
    void resumingRefusesOtherOptions(@TempDir Path dir) throws Exception {
        SequenceDataset train = TaskData.majority(32, 6, 1);
        try (SequenceModel m = classifier()) {
            m.fit(train, null, new FitOptions().epochs(1).batchSize(16).seed(7).checkpoints(dir, 1));
            Path file = dir.resolve("epoch-0001.safetensors");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.fit(train, null,
                    new FitOptions().epochs(2).batchSize(16).seed(7).sgd(0.1, 0.9).resumeFrom(file)));
            assertTrue(e.getMessage().contains("ADAM") && e.getMessage().contains("SGD"), e.getMessage());
            m.save(dir.resolve("weights.safetensors"));
            e = assertThrows(IllegalArgumentException.class, () -> m.fit(train, null,
                    new FitOptions().epochs(2).batchSize(16).seed(7).resumeFrom(dir.resolve("weights.safetensors"))));
            assertTrue(e.getMessage().contains("weights only"), e.getMessage());
        }
    }

    @Test
    void aModelIsRebuiltFromItsFileAlone(@TempDir Path dir) throws Exception {
        SequenceDataset data = TaskData.rising(20, 8, 1);
        Path file = dir.resolve("tagger.safetensors");
        List<float[][]> before;
        try (SequenceModel m = SequenceModel.builder(Task.TAGGING).embedding(8, 4)
                .recurrent(Gru.builder(4, 6).bidirectional(true).resetAfter(false).seed(1)).outputs(2).seed(2).build(cpu)) {
            m.save(file);
            before = m.predict(data, 8);
        }
        try (SequenceModel m = SequenceModel.load(file, cpu)) {
            assertTrue(!m.recurrent().config().resetAfter() && m.recurrent().config().bidirectional());
            List<float[][]> after = m.predict(data, 5);
            for (int i = 0; i < before.size(); i++) {
                for (int t = 0; t < before.get(i).length; t++) {
                    assertArrayEquals(before.get(i)[t], after.get(i)[t]);
                }
            }
        }
    }

    @Test
    void aDamagedFileIsRefused(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("m.safetensors");
        try (SequenceModel m = classifier()) {
            m.save(file);
        }
        byte[] bytes = Files.readAllBytes(file);
        bytes[bytes.length - 5] ^= 0x10;   // a bit in the last tensor's data
        Files.write(file, bytes);
        Exception e = assertThrows(Exception.class, () -> SequenceModel.load(file, cpu).close());
        assertTrue(e instanceof java.io.IOException || e instanceof IllegalArgumentException, e.toString());
    }

    @Test
    void earlyStoppingRestoresTheBestWeights() throws Exception {
        SequenceDataset train = TaskData.majority(64, 6, 1);
        SequenceDataset val = TaskData.majority(32, 6, 9);
        try (SequenceModel m = classifier()) {
            // a learning rate this high makes the validation loss get worse quickly
            History h = m.fit(train, val, new FitOptions().epochs(30).batchSize(8).adam(0.3).clipNorm(0)
                    .earlyStopping(2, true).seed(1));
            assertTrue(h.stoppedEarly(), h::toString);
            double best = h.epochs().get(h.bestEpoch() - 1).validation().get("loss");
            assertEquals(best, m.evaluate(val, 32).get("loss"), 1e-6, "weights of the best epoch are back");
            assertEquals(h.bestEpoch() + 2, h.last().epoch(), "stops after patience=2 epochs without improvement (Keras)");
        }
    }

    @Test
    void schedulesFollowTheirFormulas() {
        LrSchedule cos = LrSchedule.cosine(10, 110, 0.1);
        assertEquals(0.1, cos.rate(1, 0, 0), 1e-12);
        assertEquals(1.0, cos.rate(1, 9, 0), 1e-12);
        assertEquals(0.55, cos.rate(1, 60, 0), 1e-12);
        assertEquals(0.1, cos.rate(1, 500, 0), 1e-12);
        LrSchedule step = LrSchedule.step(3, 0.5);
        assertEquals(0.25, step.rate(1, 0, 7), 1e-12);
        LrSchedule plateau = LrSchedule.reduceOnPlateau(0.5, 1, 0.2);
        plateau.epochEnd(1.0);
        plateau.epochEnd(1.0);
        assertEquals(1.0, plateau.rate(1, 0, 0));
        plateau.epochEnd(1.0);
        assertEquals(0.5, plateau.rate(1, 0, 0));
        plateau.epochEnd(2);
        plateau.epochEnd(2);
        plateau.epochEnd(2);
        plateau.epochEnd(2);
        assertEquals(0.2, plateau.rate(1, 0, 0), "never below minLr");
        plateau.reset();
        assertEquals(1.0, plateau.rate(1, 0, 0), "a new run starts from the base rate");
    }

    @Test
    void statefulTrainingCarriesTheStateAcrossBatches() throws Exception {
        // 8 streams of 96 steps cut into chunks of 4: y[t] = x[t−1] needs the previous chunk's last x
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(3);
        int streams = 8;
        int chunks = 24;
        int len = 4;
        float[][] x = new float[streams][chunks * len];
        for (float[] s : x) {
            for (int t = 0; t < s.length; t++) {
                s[t] = (float) rnd.nextDouble(-1, 1);
            }
        }
        List<float[][]> xs = new ArrayList<>();
        List<float[][]> ys = new ArrayList<>();
        for (int k = 0; k < chunks; k++) {
            for (int s = 0; s < streams; s++) {   // batch k holds chunk k of every stream, stream s at row s
                float[][] xi = new float[len][1];
                float[][] yi = new float[len][1];
                for (int t = 0; t < len; t++) {
                    int at = k * len + t;
                    xi[t][0] = x[s][at];
                    yi[t][0] = at > 0 ? x[s][at - 1] : 0;
                }
                xs.add(xi);
                ys.add(yi);
            }
        }
        SequenceDataset data = SequenceDataset.regression(xs, ys);
        double[] rmse = new double[2];
        for (int stateful = 0; stateful < 2; stateful++) {
            try (SequenceModel m = SequenceModel.builder(Task.REGRESSION).features(1)
                    .recurrent(Lstm.builder(1, 12).seed(5)).outputs(1).seed(6).build(cpu)) {
                History h = m.fit(data, null, new FitOptions().epochs(20).batchSize(streams).adam(2e-2).seed(1)
                        .stateful(stateful == 1));
                rmse[stateful] = h.last().train().get("rmse");
            }
        }
        // without the carried state a chunk's first target (a quarter of them, std 0.58) is a guess: RMSE ≳ 0.25
        assertTrue(rmse[0] > 0.2, () -> "stateless " + rmse[0]);
        assertTrue(rmse[1] < 0.1, () -> "stateful " + rmse[1]);
        assertThrows(IllegalArgumentException.class, () -> {
            try (SequenceModel m = SequenceModel.builder(Task.REGRESSION).features(1)
                    .recurrent(Lstm.builder(1, 4)).outputs(1).build(cpu)) {
                m.fit(data, null, new FitOptions().batchSize(7).stateful(true));
            }
        });
    }

    @Test
    void aLongFitHoldsDeviceMemoryFlat() throws Exception {
        SequenceDataset train = TaskData.rising(64, 8, 1);
        try (SequenceModel m = SequenceModel.builder(Task.TAGGING).embedding(8, 4)
                .recurrent(Lstm.builder(4, 8).seed(1)).dropout(0.1).outputs(2).build(cpu)) {
            m.evaluate(train, train.size()); // the head's bias workspace grows once to the largest batch
            long before = Tensor.openCount();
            m.fit(train, train, new FitOptions().epochs(1).batchSize(8).earlyStopping(5, true));
            long afterOne = Tensor.openCount();   // plus the optimizer's state, which the next fit continues
            m.fit(train, train, new FitOptions().epochs(7).batchSize(8).earlyStopping(5, true));
            m.evaluate(train, 8);
            m.predict(train, 8);
            assertEquals(afterOne, Tensor.openCount(), "tensors left open by six more epochs");
            m.resetTraining();
            assertEquals(before, Tensor.openCount(), "resetTraining releases the optimizer's state");
        }
    }

    @Test
    void summaryListsLayersShapesAndCounts() {
        try (SequenceModel m = classifier()) {
            String s = m.summary();
            // embedding 6·8 = 48; LSTM l0 4·12·(8+12)+2·48 = 1056, l1 4·12·(12+12)+96 = 1248; head 12·2+2 = 26
            assertTrue(s.contains("Embedding(6, 8, padding=0)") && s.contains("[T, B, 8]") && s.contains("48"), s);
            assertTrue(s.contains("2,304") && s.contains("[B, 2]") && s.contains("26"), s);
            assertTrue(s.contains("2,378 parameters, 9,512 bytes"), s);
        }
    }

    @Test
    void dataThatDoesNotFitIsRefusedByName() {
        try (SequenceModel m = classifier()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> m.evaluate(SequenceDataset.classification(List.of(new int[] {1, 9}), new int[] {0}), 4));
            assertTrue(e.getMessage().contains("sequence 0 step 1") && e.getMessage().contains("9"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> m.evaluate(SequenceDataset.classification(List.of(new int[] {1}), new int[] {2}), 4));
            assertTrue(e.getMessage().contains("label of sequence 0"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> m.evaluate(TaskData.rising(3, 6, 1), 4));
            assertTrue(e.getMessage().contains("label targets"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> SequenceModel.builder(Task.LANGUAGE_MODEL)
                    .embedding(6, 8).recurrent(Lstm.builder(8, 4).bidirectional(true)).build(cpu));
            assertTrue(e.getMessage().contains("unidirectional"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> SequenceModel.builder(Task.TAGGING)
                    .embedding(6, 8).recurrent(Lstm.builder(5, 4)).outputs(2).build(cpu));
            assertTrue(e.getMessage().contains("inputSize 8"), e.getMessage());
        }
    }
}
