package org.rnn4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rnn4j.Device;
import org.rnn4j.Lstm;
import org.rnn4j.Tensor;
import org.rnn4j.cuda.CudaException;

/** The training loop Keras and Lightning users expect: continuing fits, callbacks, early stopping, logs, resuming. */
class FitLoopTest {
    private final Device cpu = Device.cpu();

    /** Two stacked LSTM layers with inter-layer dropout, and head dropout: every source of randomness a run has. */
    private SequenceModel classifier() {
        return SequenceModel.builder(Task.CLASSIFICATION).embedding(6, 8, 0)
                .recurrent(Lstm.builder(8, 12).numLayers(2).dropout(0.3).seed(3)).dropout(0.2).outputs(2).seed(4).build(cpu);
    }

    private static Map<String, float[]> weights(SequenceModel m) {
        Map<String, float[]> w = new LinkedHashMap<>();
        m.parameters().forEach((k, v) -> w.put(k, v.toHost()));
        return w;
    }

    private static void assertSameWeights(Map<String, float[]> expected, SequenceModel m, String what) {
        for (Map.Entry<String, Tensor> e : m.parameters().entrySet()) {
            assertArrayEquals(expected.get(e.getKey()), e.getValue().toHost(), e.getKey() + " differs " + what);
        }
    }

    @Test
    void aSecondFitContinuesTheFirstBitForBit() throws Exception {
        SequenceDataset train = TaskData.majority(64, 6, 1);
        SequenceDataset val = TaskData.majority(24, 6, 2);
        Map<String, float[]> once;
        History whole;
        try (SequenceModel m = classifier()) {
            whole = m.fit(train, val, new FitOptions().epochs(4).batchSize(16).adam(1e-2).seed(7)
                    .schedule(LrSchedule.cosine(3, 16, 1e-4)));
            once = weights(m);
            assertEquals(4, m.epochsTrained());
            assertEquals(16, m.stepsTrained());
        }
        try (SequenceModel m = classifier()) {
            LrSchedule schedule = LrSchedule.cosine(3, 16, 1e-4);
            m.fit(train, val, new FitOptions().epochs(2).batchSize(16).adam(1e-2).seed(7).schedule(schedule));
            History rest = m.fit(train, val, new FitOptions().epochs(4).batchSize(16).adam(1e-2).seed(7).schedule(schedule));
            assertEquals(List.of(3, 4), rest.epochs().stream().map(History.Epoch::epoch).toList());
            assertEquals(whole.last().train(), rest.last().train());
            assertEquals(whole.last().learningRate(), rest.last().learningRate());
            assertSameWeights(once, m, "after continuing");

            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> m.fit(train, null, new FitOptions().epochs(4).batchSize(16)));
            assertTrue(e.getMessage().contains("epochs(8)") && e.getMessage().contains("resetTraining"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> m.fit(train, null, new FitOptions().epochs(5).batchSize(16).sgd(0.1, 0.9)));
            assertTrue(e.getMessage().contains("ADAM") && e.getMessage().contains("SGD"), e.getMessage());

            m.resetTraining();
            assertEquals(0, m.epochsTrained());
            History again = m.fit(train, null, new FitOptions().epochs(1).batchSize(16).sgd(0.1, 0.9));
            assertEquals(1, again.last().epoch());
        }
    }

    @Test
    void resumingWithRecurrentDropoutIsBitIdentical(@TempDir Path dir) throws Exception {
        SequenceDataset train = TaskData.majority(48, 6, 1);
        FitOptions options = new FitOptions().epochs(4).batchSize(16).adam(1e-2).seed(7);
        Map<String, float[]> expected;
        try (SequenceModel m = classifier()) {
            m.fit(train, null, new FitOptions().epochs(4).batchSize(16).adam(1e-2).seed(7)
                    .callbacks(new ModelCheckpoint(dir, 2)));
            expected = weights(m);
            assertEquals(12, m.recurrent().dropoutCalls(), "12 steps, one training forward each");
        }
        try (SequenceModel m = SequenceModel.load(dir.resolve("epoch-0002.safetensors"), cpu)) {
            m.fit(train, null, options.resumeFrom(dir.resolve("epoch-0002.safetensors")));
            assertSameWeights(expected, m, "after resuming with inter-layer dropout");
        }
    }

    @Test
    void aContinuedRunWithAnotherBatchSizeOrAStopInsideAnEpochResumes(@TempDir Path dir) throws Exception {
        SequenceDataset train = TaskData.majority(48, 6, 1);
        Map<String, float[]> expected;
        try (SequenceModel m = classifier()) {
            m.fit(train, null, new FitOptions().epochs(2).batchSize(16).adam(1e-2).seed(7));
            m.fit(train, null, new FitOptions().epochs(4).batchSize(8).adam(1e-2).seed(7).checkpoints(dir.resolve("a"), 1));
            assertEquals(2 * 3 + 2 * 6, m.stepsTrained());
            expected = weights(m);
        }
        Path third = dir.resolve("a/epoch-0003.safetensors");
        try (SequenceModel m = SequenceModel.load(third, cpu)) {
            m.fit(train, null, new FitOptions().epochs(4).batchSize(8).adam(1e-2).seed(7).resumeFrom(third));
            assertSameWeights(expected, m, "after resuming a continued run");
        }
        Callback stopInEpoch2 = new Callback() {
            @Override
            public void onBatchEnd(TrainingRun run, int batch, Map<String, Double> metrics) {
                if (run.epoch() == 1 && batch == 1) {
                    run.stop();
                }
            }
        };
        try (SequenceModel m = classifier()) {
            m.fit(train, null, new FitOptions().epochs(3).batchSize(16).adam(1e-2).seed(7)
                    .callbacks(stopInEpoch2, new ModelCheckpoint(dir.resolve("b"), 1)));
            assertEquals(2, m.epochsTrained());
            assertEquals(4, m.stepsTrained());
        }
        Path stopped = dir.resolve("b/epoch-0002.safetensors");
        try (SequenceModel m = SequenceModel.load(stopped, cpu)) {
            History h = m.fit(train, null, new FitOptions().epochs(3).batchSize(16).adam(1e-2).seed(7).resumeFrom(stopped));
            assertEquals(3, h.last().epoch());
            assertEquals(7, m.stepsTrained());
        }
    }

    @Test
    void callbacksSeeEveryHookInOrderAndCanStop() throws Exception {
        SequenceDataset train = TaskData.majority(40, 6, 1);   // 3 batches of 16
        List<String> seen = new ArrayList<>();
        Callback recorder = new Callback() {
            @Override
            public void onTrainBegin(TrainingRun run) {
                seen.add("train " + run.epoch() + "/" + run.epochs() + " x" + run.batchesPerEpoch());
            }

            @Override
            public void onEpochBegin(TrainingRun run, int epoch) {
                seen.add("epoch " + epoch);
            }

            @Override
            public void onBatchBegin(TrainingRun run, int batch) {
                seen.add("b" + batch);
            }

            @Override
            public void onBatchEnd(TrainingRun run, int batch, Map<String, Double> metrics) {
                seen.add("e" + batch + " step " + run.step());
                if (run.epoch() == 1 && batch == 2) {
                    run.stop();
                }
            }

            @Override
            public void onEpochEnd(TrainingRun run, History.Epoch epoch) {
                seen.add("end " + epoch.epoch() + " " + epoch.train().keySet());
            }

            @Override
            public void onTrainEnd(TrainingRun run) {
                seen.add("done " + run.stopRequested());
            }
        };
        try (SequenceModel m = classifier()) {
            History h = m.fit(train, null, new FitOptions().epochs(5).batchSize(16).callbacks(recorder));
            assertEquals(List.of("train 0/5 x3", "epoch 1", "b1", "e1 step 1", "b2", "e2 step 2", "b3", "e3 step 3",
                    "end 1 [loss, accuracy]", "epoch 2", "b1", "e1 step 4", "b2", "e2 step 5",
                    "end 2 [loss, accuracy]", "done true"), seen);
            assertTrue(h.stoppedEarly());
            assertEquals(2, h.epochs().size());
            assertEquals(5, m.stepsTrained(), "the stop came after the current batch");
        }
    }

    /** A metric that reports a scripted value per pass, to drive early stopping exactly. */
    private static class Scripted implements Metric {
        private final double[] values;
        private final boolean higher;
        private int pass = -1;

        Scripted(boolean higher, double... values) {
            this.values = values;
            this.higher = higher;
        }

        @Override
        public String name() {
            return "scripted";
        }

        @Override
        public boolean higherIsBetter() {
            return higher;
        }

        @Override
        public void reset() {
            pass++;
        }

        @Override
        public void update(Rows rows) {
        }

        @Override
        public double value() {
            return values[Math.min(pass, values.length - 1)];
        }
    }

    @Test
    void earlyStoppingWatchesAnyMetricWithMinDeltaAndMode() throws Exception {
        SequenceDataset train = TaskData.majority(32, 6, 1);
        // improvements of 0.1, then 0.02 and 0.02: not more than minDelta 0.05, so two epochs without one
        double[] rising = {0.5, 0.6, 0.62, 0.64, 0.9, 0.95};
        for (EarlyStopping.Mode mode : new EarlyStopping.Mode[] {EarlyStopping.Mode.AUTO, EarlyStopping.Mode.MAX}) {
            EarlyStopping es = new EarlyStopping("scripted").patience(2).minDelta(0.05).mode(mode);
            try (SequenceModel m = classifier()) {
                History h = m.fit(train, null, new FitOptions().epochs(6).batchSize(16)
                        .metrics(new Scripted(true, rising)).callbacks(es));
                assertEquals(4, h.last().epoch(), mode.toString());
                assertEquals(2, es.bestEpoch(), mode.toString());
                assertEquals(0.6, es.best());
            }
        }
        // minimising the same values: the first epoch is the best, and patience 2 stops after epoch 3
        EarlyStopping min = new EarlyStopping("scripted").patience(2).mode(EarlyStopping.Mode.MIN);
        try (SequenceModel m = classifier()) {
            assertEquals(3, m.fit(train, null, new FitOptions().epochs(6).batchSize(16)
                    .metrics(new Scripted(true, rising)).callbacks(min)).last().epoch());
            assertEquals(1, min.bestEpoch());
        }
        // AUTO minimises a metric that does not say larger is better
        EarlyStopping auto = new EarlyStopping("scripted").patience(1);
        try (SequenceModel m = classifier()) {
            assertEquals(2, m.fit(train, null, new FitOptions().epochs(6).batchSize(16)
                    .metrics(new Scripted(false, rising)).callbacks(auto)).last().epoch());
        }
        try (SequenceModel m = classifier()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.fit(train, null,
                    new FitOptions().epochs(2).batchSize(16).callbacks(new EarlyStopping("val_accuracy"))));
            assertTrue(e.getMessage().contains("val_accuracy") && e.getMessage().contains("[loss, accuracy]"), e.getMessage());
        }
    }

    @Test
    void earlyStoppingResumesWhereItStopped(@TempDir Path dir) throws Exception {
        SequenceDataset train = TaskData.majority(64, 6, 1);
        SequenceDataset val = TaskData.majority(32, 6, 9);
        // a learning rate this high makes the validation loss get worse quickly
        FitOptions base = new FitOptions().epochs(30).batchSize(8).adam(0.3).clipNorm(0).seed(1);
        History whole;
        Map<String, float[]> expected;
        try (SequenceModel m = classifier()) {
            whole = m.fit(train, val, base.callbacks(new EarlyStopping("val_loss").patience(2).restoreBestWeights(true),
                    new ModelCheckpoint(dir, 1)));
            expected = weights(m);
        }
        int stopped = whole.last().epoch();
        assertTrue(whole.stoppedEarly() && stopped < 30 && whole.bestEpoch() == stopped - 2, whole::toString);
        Path before = dir.resolve(String.format("epoch-%04d.safetensors", stopped - 1));
        try (SequenceModel m = SequenceModel.load(before, cpu)) {
            History rest = m.fit(train, val, base.callbacks(new EarlyStopping("val_loss").patience(2).restoreBestWeights(true),
                    new ModelCheckpoint(dir.resolve("again"), 1)).resumeFrom(before));
            assertEquals(stopped, rest.last().epoch(), "the resumed run stops at the same epoch");
            assertTrue(rest.stoppedEarly());
            assertSameWeights(expected, m, "after restoring the best weights in a resumed run");
        }
    }

    @Test
    void csvLoggerWritesEveryEpochAndAppendsOnContinuing(@TempDir Path dir) throws Exception {
        SequenceDataset train = TaskData.majority(32, 6, 1);
        SequenceDataset val = TaskData.majority(16, 6, 2);
        Path csv = dir.resolve("log/train.csv");
        try (SequenceModel m = classifier()) {
            History first = m.fit(train, val, new FitOptions().epochs(3).batchSize(16).callbacks(new CsvLogger(csv, true)));
            History second = m.fit(train, val, new FitOptions().epochs(5).batchSize(16).callbacks(new CsvLogger(csv, true)));
            List<String> lines = Files.readAllLines(csv);
            assertEquals("epoch,learning_rate,loss,accuracy,val_loss,val_accuracy,seconds,sequences_per_second", lines.get(0));
            assertEquals(6, lines.size(), lines::toString);
            List<History.Epoch> all = new ArrayList<>(first.epochs());
            all.addAll(second.epochs());
            for (int i = 0; i < 5; i++) {
                String[] f = lines.get(i + 1).split(",");
                History.Epoch e = all.get(i);
                assertEquals(e.epoch(), Integer.parseInt(f[0]));
                assertEquals(e.learningRate(), Double.parseDouble(f[1]));
                assertEquals(e.train().get("loss"), Double.parseDouble(f[2]));
                assertEquals(e.train().get("accuracy"), Double.parseDouble(f[3]));
                assertEquals(e.validation().get("loss"), Double.parseDouble(f[4]));
                assertEquals(e.validation().get("accuracy"), Double.parseDouble(f[5]));
            }
            m.fit(train, null, new FitOptions().epochs(6).batchSize(16).callbacks(new CsvLogger(csv, false)));
            lines = Files.readAllLines(csv);
            assertEquals(List.of("epoch,learning_rate,loss,accuracy,seconds,sequences_per_second"), lines.subList(0, 1));
            assertEquals(2, lines.size(), "without append the file starts over");
            assertTrue(lines.get(1).startsWith("6,"), lines::toString);
        }
    }

    @Test
    void progressAndCheckpointShorthandsAreCallbacks(@TempDir Path dir) throws Exception {
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try (SequenceModel m = classifier();
             java.io.PrintStream out = new java.io.PrintStream(bytes, true, java.nio.charset.StandardCharsets.UTF_8)) {
            m.fit(TaskData.majority(32, 6, 1), null, new FitOptions().epochs(2).batchSize(16).progress(out)
                    .checkpoints(dir, 1));
        }
        String text = bytes.toString(java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(text.contains("epoch 1/2 [") && text.contains("epoch 2/2 [") && text.contains("saved "
                + dir.resolve("epoch-0002.safetensors")), text);
        assertTrue(Files.exists(dir.resolve("epoch-0001.safetensors")));
        // a folder that is a file is refused before the first step, through either way of asking
        Path file = dir.resolve("epoch-0001.safetensors");
        for (FitOptions o : List.of(new FitOptions().checkpoints(file, 1), new FitOptions().callbacks(new ModelCheckpoint(file, 1)))) {
            try (SequenceModel m = classifier()) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> m.fit(TaskData.majority(32, 6, 1), null, o.epochs(1).batchSize(16)));
                assertTrue(e.getMessage().contains("checkpoints: expected a folder"), e.getMessage());
                assertEquals(0, m.stepsTrained());
            }
        }
    }

    @Test
    void runningOutOfMemorySaysWhichAndHowMuch() {
        SequenceDataset train = TaskData.majority(32, 6, 1);
        try (SequenceModel m = classifier()) {
            OutOfMemoryError heap = assertThrows(OutOfMemoryError.class, () -> m.fit(train, null, new FitOptions()
                    .epochs(1).batchSize(16).callbacks(failing(new OutOfMemoryError("Java heap space")))));
            String s = heap.getMessage();
            assertTrue(s.startsWith("Java heap: fit ran out of memory at epoch 1 step 1, on a batch of 16 sequences")
                    && s.contains("maximum heap is " + Runtime.getRuntime().maxMemory()) && s.contains("summary(16, "), s);
            long need = Long.parseLong(s.replaceAll(".*needs about ([0-9,]+) bytes.*", "$1").replace(",", ""));
            assertTrue(need >= m.memoryEstimate(16, 3).total(), s);

            CudaException device = assertThrows(CudaException.class, () -> m.fit(train, null, new FitOptions()
                    .epochs(1).batchSize(16).callbacks(failing(new CudaException("cuMemAlloc", "CUDA_ERROR_OUT_OF_MEMORY",
                            "allocating 1048576 bytes")))));
            assertTrue(device.getMessage().contains("device memory of") && device.getMessage().contains("needs about")
                    && device.getMessage().contains("allocating 1048576 bytes"), device.getMessage());
            assertEquals("CUDA_ERROR_OUT_OF_MEMORY", device.status());
            // other device errors pass through as they are
            CudaException other = new CudaException("cuLaunchKernel", "CUDA_ERROR_LAUNCH_FAILED", null);
            assertEquals(other, assertThrows(CudaException.class, () -> m.fit(train, null,
                    new FitOptions().epochs(1).batchSize(16).callbacks(failing(other)))));
        }
    }

    /** A callback that throws {@code error} as the first batch begins, as an allocation inside it would. */
    private static Callback failing(Throwable error) {
        return new Callback() {
            @Override
            public void onBatchBegin(TrainingRun run, int batch) {
                if (error instanceof Error e) {
                    throw e;
                }
                throw (RuntimeException) error;
            }
        };
    }

    @Test
    void theModelSeedReachesAnUnseededStack(@TempDir Path dir) throws Exception {
        SequenceModel.Builder one = SequenceModel.builder(Task.TAGGING).embedding(8, 6).recurrent(Lstm.builder(6, 6)).outputs(2);
        try (SequenceModel a = one.seed(1).build(cpu);
             SequenceModel b = SequenceModel.builder(Task.TAGGING).embedding(8, 6).recurrent(Lstm.builder(6, 6))
                     .outputs(2).seed(2).build(cpu);
             SequenceModel c = SequenceModel.builder(Task.TAGGING).embedding(8, 6).recurrent(Lstm.builder(6, 6).seed(9))
                     .outputs(2).seed(1).build(cpu);
             SequenceModel d = SequenceModel.builder(Task.TAGGING).embedding(8, 6).recurrent(Lstm.builder(6, 6).seed(9))
                     .outputs(2).seed(2).build(cpu)) {
            assertEquals(SequenceModel.stackSeed(1), a.recurrent().config().seed());
            assertFalse(java.util.Arrays.equals(a.parameters().get("rnn.weight_hh_l0").toHost(),
                    b.parameters().get("rnn.weight_hh_l0").toHost()), "two model seeds, two different stacks");
            assertArrayEquals(c.parameters().get("rnn.weight_hh_l0").toHost(), d.parameters().get("rnn.weight_hh_l0").toHost(),
                    "the stack's own seed wins");
            assertEquals(9, c.recurrent().config().seed());
            a.save(dir.resolve("a.safetensors"));
            try (SequenceModel back = SequenceModel.load(dir.resolve("a.safetensors"), cpu)) {
                assertEquals(a.config().toMetadata(), back.config().toMetadata());
                assertArrayEquals(a.parameters().get("rnn.weight_hh_l0").toHost(), back.parameters().get("rnn.weight_hh_l0").toHost());
            }
        }
    }

    @Test
    void theActivationEstimateIsNearACountedTrainingStep() {
        List<org.rnn4j.engine.Buffer> live = new ArrayList<>();
        long[] peak = {0};
        Device counting = Device.cpu().withEngine(real -> (org.rnn4j.engine.Engine) java.lang.reflect.Proxy.newProxyInstance(
                org.rnn4j.engine.Engine.class.getClassLoader(), new Class<?>[] {org.rnn4j.engine.Engine.class},
                (proxy, method, args) -> {
                    Object r;
                    try {
                        r = method.invoke(real, args);
                    } catch (java.lang.reflect.InvocationTargetException e) {
                        throw e.getCause();
                    }
                    if (r instanceof org.rnn4j.engine.Buffer b) {
                        live.add(b);
                        live.removeIf(org.rnn4j.engine.Buffer::isClosed);
                        peak[0] = Math.max(peak[0], live.stream().mapToLong(x -> 4 * x.length()).sum());
                    }
                    return r;
                }));
        int batch = 6;
        int steps = 9;
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(1);
        List<int[]> seqs = new ArrayList<>();
        List<int[]> tags = new ArrayList<>();
        for (int i = 0; i < batch; i++) {
            seqs.add(rnd.ints(steps, 1, 6).toArray());
            tags.add(rnd.ints(steps, 0, 3).toArray());
        }
        SequenceDataset tagged = SequenceDataset.tagging(seqs, tags);
        SequenceDataset labelled = SequenceDataset.classification(seqs, new int[] {0, 1, 2, 0, 1, 2});
        List<SequenceModel.Builder> models = List.of(
                SequenceModel.builder(Task.TAGGING).embedding(6, 8).recurrent(Lstm.builder(8, 16).numLayers(2)
                        .bidirectional(true).dropout(0.2)).outputs(3),
                SequenceModel.builder(Task.CLASSIFICATION).embedding(6, 8).recurrent(org.rnn4j.Gru.builder(8, 24)).outputs(3));
        for (SequenceModel.Builder b : models) {
            try (SequenceModel m = b.build(counting)) {
                SequenceDataset data = m.config().task() == Task.TAGGING ? tagged : labelled;
                m.trainOnBatch(data, 1);   // workspaces that grow once
                live.clear();
                peak[0] = 0;
                m.trainOnBatch(data, 2);
                long estimate = m.memoryEstimate(batch, steps).activations();
                assertTrue(estimate > peak[0] * 0.8 && estimate < peak[0] * 1.2,
                        () -> m.config() + ": estimated " + estimate + " bytes, counted " + peak[0]);
            }
        }
    }

    @Test
    void fitRefusesClassWeightsOfTheWrongCount() {
        try (SequenceModel m = classifier()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.fit(TaskData.majority(8, 6, 1),
                    null, new FitOptions().classWeights(1, 2, 3)));
            assertTrue(e.getMessage().contains("classWeights: expected 2 weights (one per class), got 3"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> new FitOptions().classWeights(1, -1));
        assertThrows(IllegalArgumentException.class, () -> new FitOptions().metrics(new Scripted(false) {
            @Override
            public String name() {
                return "accuracy";
            }
        }));
    }
}
