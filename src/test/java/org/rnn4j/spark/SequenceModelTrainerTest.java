package org.rnn4j.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.resource.ResourceInformation;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.rnn4j.Close;
import org.rnn4j.Device;
import org.rnn4j.Devices;
import org.rnn4j.Lstm;
import org.rnn4j.model.ModelGradients;
import org.rnn4j.model.SequenceModel;
import org.rnn4j.model.Task;
import org.rnn4j.spark.LastStepRegression.Example;
import org.rnn4j.spark.LastStepRegression.Faults;
import org.rnn4j.train.Optimizer;

/** {@code fit} of a SequenceModel on an RDD, and tasks on the GPU Spark assigns them. */
class SequenceModelTrainerTest {
    private static JavaSparkContext sc;

    @BeforeAll
    static void start() {
        sc = SparkTestContext.shared();
    }

    /** Token sequences of length 3 to 8 whose class is the most frequent of tokens 1, 2, 3. */
    private static List<Sequence> data(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<Sequence> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int[] t = rnd.ints(3 + rnd.nextInt(6), 0, 10).toArray();
            int[] counts = new int[3];
            for (int id : t) {
                if (id >= 1 && id <= 3) {
                    counts[id - 1]++;
                }
            }
            int label = counts[0] >= counts[1] && counts[0] >= counts[2] ? 0 : counts[1] >= counts[2] ? 1 : 2;
            out.add(Sequence.classification(t, label));
        }
        return out;
    }

    private static SequenceModel model(Device device) {
        return SequenceModel.builder(Task.CLASSIFICATION).embedding(10, 4).recurrent(Lstm.builder(4, 6).seed(2))
                .outputs(3).seed(3).build(device);
    }

    @Test
    void fitOnAnRddEqualsOneProcessOnTheGlobalBatches() throws IOException {
        List<Sequence> data = data(40, 1);
        TrainOptions o = new TrainOptions().batchSize(10).adam(1e-2).seed(4).steps(12);
        try (SequenceModel distributed = model(Device.cpu());
             SequenceModel single = model(Device.cpu());
             Optimizer opt = o.newOptimizer(List.of(single))) {
            SparkTrainer.Result r = SequenceModelTrainer.fit(sc, distributed, sc.parallelize(data, 3), o);
            assertEquals(12, r.losses().length);
            for (long s = 0; s < 12; s++) {
                opt.zeroGrad();
                List<Sequence> batch = SparkTrainerTest.globalBatch(data, o, s);
                ModelGradients.Loss loss = ModelGradients.accumulate(single, Sequence.toDataset(batch), 0);
                assertEquals(loss.mean(), r.losses()[(int) s], 1e-5, "loss of step " + s);
                opt.step();
            }
            Map<String, float[]> want = SparkTrainerTest.snapshot(single);
            Map<String, float[]> got = SparkTrainerTest.snapshot(distributed);
            want.forEach((k, v) -> Close.assertClose(k, v, got.get(k), 1e-5, 1e-5));
            assertTrue(r.losses()[11] < r.losses()[0], "loss " + r.losses()[0] + " -> " + r.losses()[11]);
        }
    }

    @Test
    void badDataIsRefusedOnTheDriverBeforeTheFirstStepWithFitsMessages() {
        TrainOptions o = new TrainOptions().batchSize(4).adam(1e-2).seed(4).steps(2);
        List<Sequence> minusOne = new ArrayList<>(data(8, 1));
        minusOne.set(5, Sequence.classification(new int[] {1, 2}, -1));
        List<Sequence> tooLarge = new ArrayList<>(data(8, 1));
        tooLarge.set(2, Sequence.classification(new int[] {1, 12}, 0));
        List<Sequence> otherTask = List.of(Sequence.tagging(new int[] {1, 2}, new int[] {0, 1}));
        List<Sequence> nan = List.of(Sequence.regression(new float[][] {{Float.NaN}}, new float[][] {{1}}));
        for (List<Sequence> bad : List.of(minusOne, tooLarge, otherTask, nan)) {
            try (SequenceModel m = model(Device.cpu())) {
                Map<String, float[]> before = SparkTrainerTest.snapshot(m);
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> SequenceModelTrainer.fit(sc, m, sc.parallelize(bad, 2), o), bad::toString);
                assertTrue(e.getMessage().startsWith("data partition "), e.getMessage());
                assertTrue(e.getMessage().contains("expected"), e.getMessage());
                Map<String, float[]> after = SparkTrainerTest.snapshot(m);
                before.forEach((k, v) -> Close.assertClose(k, v, after.get(k), 0, 0));
            }
        }
    }

    @Test
    void aCheckpointResumesOnlyIntoTheModelItWasWrittenFrom(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws IOException {
        TrainOptions o = new TrainOptions().batchSize(4).adam(1e-2).seed(4).steps(1).checkpoints(dir, 1);
        try (SequenceModel m = model(Device.cpu())) {
            SequenceModelTrainer.fit(sc, m, sc.parallelize(data(8, 1), 2), o);
        }
        java.nio.file.Path file = SparkTrainer.latestCheckpoint(dir);
        assertTrue(org.rnn4j.train.Checkpoint.read(file).metadata().containsKey("rnn.cell"), "the configuration is saved");
        try (SequenceModel other = SequenceModel.builder(Task.CLASSIFICATION).embedding(10, 4)
                .recurrent(Lstm.builder(4, 6).cellClip(1)).outputs(3).build(Device.cpu())) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SequenceModelTrainer.fit(sc,
                    other, sc.parallelize(data(8, 1), 2), new TrainOptions().batchSize(4).adam(1e-2).seed(4).steps(2)
                            .resumeFrom(file)));
            assertTrue(e.getMessage().contains("cell_clip"), e.getMessage());
        }
    }

    @Test
    void optionsThatWouldFailOnTheExecutorsAreRefusedOnTheDriver(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws IOException {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new TrainOptions().executorDevice("tpu"));
        assertTrue(e.getMessage().contains("'tpu'"), e.getMessage());
        Object notSerializable = new Object();
        Replica.Factory<Sequence> factory = device -> {
            notSerializable.hashCode();
            return null;
        };
        e = assertThrows(IllegalArgumentException.class, () -> new SparkTrainer<>(sc, factory, new TrainOptions()));
        assertTrue(e.getMessage().startsWith("factory: ") && e.getMessage().contains("serializ"), e.getMessage());
        java.nio.file.Path file = java.nio.file.Files.createFile(dir.resolve("a-file"));
        try (SequenceModel m = model(Device.cpu())) {
            e = assertThrows(IllegalArgumentException.class, () -> SequenceModelTrainer.fit(sc, m,
                    sc.parallelize(data(8, 1), 2), new TrainOptions().batchSize(4).steps(2).checkpoints(file, 1)));
            assertTrue(e.getMessage().contains("a-file"), e.getMessage());
        }
    }

    @Test
    void aSequenceOfAnotherKindIsNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Sequence.toDataset(
                List.of(Sequence.classification(new int[] {1, 2}, 0), Sequence.languageModel(new int[] {1, 2}))));
        assertTrue(e.getMessage().contains("sequences[1]"), e.getMessage());
    }

    @Test
    void aTaskUsesTheGpuSparkAssignedItElseTheCpu() {
        assertEquals(Device.cpu(), TaskDevice.fromResources(Map.of()));
        assertThrows(IllegalArgumentException.class, () -> TaskDevice.fromResources(
                Map.of("gpu", new ResourceInformation("gpu", new String[] {"GPU-5f2c"}))));
        String reason = Devices.cudaUnusableReason();
        assumeTrue(reason == null, reason);
        Device d = TaskDevice.fromResources(Map.of("gpu", new ResourceInformation("gpu", new String[] {"0"})));
        assertTrue(d.isCuda());
        assertEquals(0, d.ordinal());
    }

    @Test
    void trainingOnCudaExecutorsMatchesTheCpu() throws IOException {
        String reason = Devices.cudaUnusableReason();
        assumeTrue(reason == null, reason);
        List<Example> data = LastStepRegression.data(24, 3);
        TrainOptions o = new TrainOptions().batchSize(12).adam(1e-2).seed(5).steps(4);
        Map<String, float[]> cpu;
        try (SparkTrainer<Example> t = new SparkTrainer<>(sc, LastStepRegression.factory(Faults.NONE), o)) {
            t.fit(sc.parallelize(data, 2));
            cpu = SparkTrainerTest.snapshot(t.model());
        }
        // Spark's local mode hands out no GPU resources, so the device is named here; on a cluster "auto" picks it
        try (SparkTrainer<Example> t = new SparkTrainer<>(sc, LastStepRegression.factory(Faults.NONE),
                o.executorDevice("cuda:0"))) {
            t.fit(sc.parallelize(data, 2));
            assertTrue(t.replicasBuiltHere() >= 1 && t.replicasBuiltHere() <= 2);
            assertTrue(LastStepRegression.BUILT_ON.contains(Device.cuda(0)), "built on " + LastStepRegression.BUILT_ON);
            Map<String, float[]> gpu = SparkTrainerTest.snapshot(t.model());
            cpu.forEach((k, v) -> Close.assertClose(k, v, gpu.get(k), 1e-4, 1e-4));
        }
    }
}
