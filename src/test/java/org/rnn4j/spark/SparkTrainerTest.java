package org.rnn4j.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.IntStream;
import org.apache.spark.SparkException;
import org.apache.spark.api.java.JavaSparkContext;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rnn4j.Close;
import org.rnn4j.Device;
import org.rnn4j.HasParameters;
import org.rnn4j.Tensor;
import org.rnn4j.spark.LastStepRegression.Example;
import org.rnn4j.spark.LastStepRegression.Faults;
import org.rnn4j.train.Clipping;
import org.rnn4j.train.Optimizer;

/**
 * Data-parallel training in Spark's local mode, {@code local[2,3]}: two task threads, and a task may fail
 * three times before the job fails.
 */
class SparkTrainerTest {
    private static final List<Example> DATA = LastStepRegression.data(48, 7);
    private static JavaSparkContext sc;

    @BeforeAll
    static void start() {
        sc = SparkTestContext.shared();
    }

    private static TrainOptions options() {
        return new TrainOptions().batchSize(12).adam(1e-2).seed(5);
    }

    /** Trains with Spark over {@code partitions} partitions; returns the driver's parameters. */
    private static Map<String, float[]> spark(int partitions, TrainOptions o, Faults faults) throws IOException {
        try (SparkTrainer<Example> trainer = new SparkTrainer<>(sc, LastStepRegression.factory(faults), o)) {
            trainer.fit(sc.parallelize(DATA, partitions));
            return snapshot(trainer.model());
        }
    }

    /** The same global batches in one process: the whole batch through one replica, one optimizer step each. */
    static Map<String, float[]> oneProcess(List<Example> data, TrainOptions o, long steps) {
        try (LastStepRegression r = new LastStepRegression(Device.cpu(), Faults.NONE);
             Optimizer opt = o.newOptimizer(List.of(r.module()))) {
            opt.setGlobalClipNorm(0);   // the reference clips through Clipping, the trainer inside its optimizer's step
            for (long s = 0; s < steps; s++) {
                opt.zeroGrad();
                r.accumulate(globalBatch(data, o, s), s);
                if (o.clipNorm > 0) {
                    Clipping.clipGlobalNorm(List.of(r.module()), o.clipNorm);
                }
                opt.step();
            }
            return snapshot(r.module());
        }
    }

    /** The examples of global batch {@code step}, in epoch order, as {@link SparkTrainer} plans them. */
    static <T> List<T> globalBatch(List<T> data, TrainOptions o, long step) {
        int n = data.size();
        int perEpoch = (n + o.batchSize - 1) / o.batchSize;
        int[] pos = SparkTrainer.epochPositions(n, o.seed, step / perEpoch);
        long inEpoch = step % perEpoch;
        return IntStream.range(0, n).filter(i -> pos[i] / o.batchSize == inEpoch).boxed()
                .sorted(Comparator.comparingInt(i -> pos[i])).map(data::get).toList();
    }

    static Map<String, float[]> snapshot(HasParameters m) {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : m.parameters().entrySet()) {
            out.put(e.getKey(), e.getValue().toHost());
        }
        return out;
    }

    static double maxDifference(Map<String, float[]> a, Map<String, float[]> b) {
        assertEquals(a.keySet(), b.keySet());
        double max = 0;
        for (String k : a.keySet()) {
            float[] x = a.get(k);
            float[] y = b.get(k);
            for (int i = 0; i < x.length; i++) {
                max = Math.max(max, Math.abs(x[i] - y[i]));
            }
        }
        return max;
    }

    private static void assertBitIdentical(Map<String, float[]> want, Map<String, float[]> got) {
        assertEquals(want.keySet(), got.keySet());
        want.forEach((k, v) -> assertArrayEquals(v, got.get(k), k));
    }

    @Test
    void hundredStepsOnFourPartitionsEqualOneProcessOnTheGlobalBatch() throws IOException {
        TrainOptions o = options().steps(100).clipNorm(5);
        Map<String, float[]> distributed = spark(4, o, Faults.NONE);
        Map<String, float[]> single = oneProcess(DATA, o, 100);
        double diff = maxDifference(single, distributed);
        // measured 3.0e-7 (float rounding of the per-partition sums); the weights are O(1)
        assertTrue(diff < 2e-5, "max |difference| after 100 Adam steps: " + diff);
        single.forEach((k, v) -> Close.assertClose(k, v, distributed.get(k), 2e-5, 2e-5));
    }

    @Test
    void clippingInsideTheOptimizerStepIsClippingBeforeIt() throws IOException {
        // SGD, unlike Adam, follows the gradient's scale, so a small clip norm changes every step
        TrainOptions o = options().sgd(0.5, 0).steps(20).clipNorm(0.01);
        Map<String, float[]> distributed = spark(2, o, Faults.NONE);
        Map<String, float[]> single = oneProcess(DATA, o, 20);
        single.forEach((k, v) -> Close.assertClose(k, v, distributed.get(k), 1e-6, 1e-6));
        double unclipped = maxDifference(oneProcess(DATA, options().sgd(0.5, 0), 20), distributed);
        assertTrue(unclipped > 1e-3, "clipping changed the weights by only " + unclipped);
    }

    @Test
    void runsAreBitIdenticalWhateverTheAggregationTree() throws IOException {
        // a second run, its partial sums merged along another tree (and in whatever order tasks finish)
        assertBitIdentical(spark(3, options().steps(12), Faults.NONE),
                spark(3, options().steps(12).treeDepth(1), Faults.NONE));
    }

    @Test
    void failedFirstAttemptsAreRetriedWithoutChangingTheResult() throws IOException {
        Map<String, float[]> clean = spark(4, options().steps(6), Faults.NONE);
        Map<String, float[]> retried = spark(4, options().steps(6), new Faults(Set.of(1L, 5L), false));
        assertBitIdentical(clean, retried);
    }

    @Test
    void aKilledJobResumesFromItsCheckpoint(@TempDir Path dir) throws IOException {
        Map<String, float[]> uninterrupted = spark(4, options().steps(8), Faults.NONE);
        Path ckpt = dir.resolve("ckpt");
        TrainOptions o = options().steps(8).checkpoints(ckpt, 3);
        SparkException killed = assertThrows(SparkException.class, () -> spark(4, o, new Faults(Set.of(5L), true)));
        assertTrue(killed.getMessage().contains("injected failure in step 5"), killed.getMessage());
        Path latest = SparkTrainer.latestCheckpoint(ckpt);
        assertNotNull(latest);
        assertEquals("step-00000003.safetensors", latest.getFileName().toString());
        try (SparkTrainer<Example> trainer = new SparkTrainer<>(sc, LastStepRegression.factory(Faults.NONE),
                options().steps(8).checkpoints(ckpt, 3).resumeFrom(latest))) {
            SparkTrainer.Result r = trainer.fit(sc.parallelize(DATA, 4));
            assertEquals(3, r.firstStep());
            assertEquals(5, r.losses().length);
            assertEquals(8, trainer.step());
            assertBitIdentical(uninterrupted, snapshot(trainer.model()));
        }
        assertEquals("step-00000008.safetensors", SparkTrainer.latestCheckpoint(ckpt).getFileName().toString());
    }

    @Test
    void aSecondFitResumingAtTheSameStepUsesTheNewWeights(@TempDir Path dir) throws IOException {
        // two runs' checkpoints at step 7 of an 8-step plan, trained on other data, so other weights
        List<Example> other = LastStepRegression.data(48, 8);
        Path a = dir.resolve("a");
        Path b = dir.resolve("b");
        fit(options().steps(7).checkpoints(a, 7), DATA);
        fit(options().steps(7).checkpoints(b, 7), other);
        Map<String, float[]> fromB = fit(options().steps(8).resumeFrom(SparkTrainer.latestCheckpoint(b)), DATA);
        Path file = dir.resolve("resume.safetensors");
        Files.copy(SparkTrainer.latestCheckpoint(a), file);
        try (SparkTrainer<Example> trainer = new SparkTrainer<>(sc, LastStepRegression.factory(Faults.NONE),
                options().steps(8).resumeFrom(file))) {
            trainer.fit(sc.parallelize(DATA, 2));
            // the replicas now hold run a's step-7 weights; the second fit resumes at step 7 with run b's
            Files.copy(SparkTrainer.latestCheckpoint(b), file, StandardCopyOption.REPLACE_EXISTING);
            trainer.fit(sc.parallelize(DATA, 2));
            assertBitIdentical(fromB, snapshot(trainer.model()));
        }
    }

    private static Map<String, float[]> fit(TrainOptions o, List<Example> data) throws IOException {
        try (SparkTrainer<Example> trainer = new SparkTrainer<>(sc, LastStepRegression.factory(Faults.NONE), o)) {
            trainer.fit(sc.parallelize(data, 2));
            return snapshot(trainer.model());
        }
    }

    @Test
    void resumingWithOtherOptionsIsRefused(@TempDir Path dir) throws IOException {
        spark(2, options().steps(2).checkpoints(dir, 2), Faults.NONE);
        Path file = SparkTrainer.latestCheckpoint(dir);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> spark(2, options().batchSize(8).steps(4).resumeFrom(file), Faults.NONE));
        assertTrue(e.getMessage().contains("batch_size"), e.getMessage());
        // clipping changes every step after the checkpoint: a resume with another clip norm is another run
        e = assertThrows(IllegalArgumentException.class,
                () -> spark(2, options().clipNorm(0.5).steps(4).resumeFrom(file), Faults.NONE));
        assertTrue(e.getMessage().contains("clip_norm") && e.getMessage().contains("0.5"), e.getMessage());
    }

    /** A replica whose loss is NaN from step 2 on. */
    private record NanFromStepTwo(LastStepRegression inner) implements Replica<Example> {
        @Override
        public HasParameters module() {
            return inner.module();
        }

        @Override
        public Loss accumulate(List<Example> examples, long step) {
            Loss l = inner.accumulate(examples, step);
            return step < 2 ? l : new Loss(Double.NaN, l.count());
        }

        @Override
        public void close() {
            inner.close();
        }
    }

    @Test
    void aNonFiniteLossStopsTrainingBeforeTheModelChanges() throws IOException {
        Map<String, float[]> twoSteps = spark(2, options().steps(2), Faults.NONE);
        try (SparkTrainer<Example> trainer = new SparkTrainer<>(sc,
                device -> new NanFromStepTwo(new LastStepRegression(device, Faults.NONE)), options().steps(4))) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> trainer.fit(sc.parallelize(DATA, 2)));
            assertTrue(e.getMessage().contains("at step 3"), e.getMessage());
            assertEquals(2, trainer.step());
            assertBitIdentical(twoSteps, snapshot(trainer.model()));
        }
    }

    @Test
    void executorsKeepTheirReplicasBetweenSteps() throws IOException {
        try (SparkTrainer<Example> trainer = new SparkTrainer<>(sc, LastStepRegression.factory(Faults.NONE),
                options().steps(10))) {
            SparkTrainer.Result r = trainer.fit(sc.parallelize(DATA, 4));
            assertEquals(10, r.losses().length);
            // local[2] runs two tasks at a time: at most two replicas, built once, for 40 tasks
            assertTrue(trainer.replicasBuiltHere() <= 2, "replicas built: " + trainer.replicasBuiltHere());
            assertTrue(r.losses()[9] < r.losses()[0], "loss " + r.losses()[0] + " -> " + r.losses()[9]);
        }
    }

    @Test
    void averagingOnOnePartitionIsOneProcess() throws IOException {
        TrainOptions o = options().steps(7).averaging(3);
        assertBitIdentical(oneProcess(DATA, o, 7), spark(1, o, Faults.NONE));
    }

    @Test
    void averagingAveragesParametersAndOptimizerStateEveryKSteps() throws IOException {
        TrainOptions o = options().steps(6).averaging(3);
        Map<String, float[]> got = spark(2, o, Faults.NONE);
        // by hand: sc.parallelize cuts the list into two halves; rounds [0, 3), [3, 4) (end of epoch), [4, 6)
        List<List<Example>> halves = List.of(DATA.subList(0, 24), DATA.subList(24, 48));
        List<Integer> offsets = List.of(0, 24);
        try (LastStepRegression master = new LastStepRegression(Device.cpu(), Faults.NONE);
             Optimizer masterOpt = o.newOptimizer(List.of(master.module()))) {
            int perEpoch = 4;
            for (int[] round : new int[][] {{0, 3}, {3, 4}, {4, 6}}) {
                float[] params = SparkTrainer.flatten(master.module().parameters().values());
                float[] state = SparkTrainer.flatten(masterOpt.state().values());
                float[] sumP = new float[params.length];
                float[] sumS = new float[state.length];
                for (int p = 0; p < 2; p++) {
                    try (LastStepRegression r = new LastStepRegression(Device.cpu(), Faults.NONE);
                         Optimizer opt = o.newOptimizer(List.of(r.module()))) {
                        SparkTrainer.unflatten(params, 0, r.module().parameters().values());
                        SparkTrainer.unflatten(state, 0, opt.state().values());
                        opt.restoreSteps(round[0]);
                        for (int s = round[0]; s < round[1]; s++) {
                            int[] pos = SparkTrainer.epochPositions(48, o.seed, s / perEpoch);
                            int inEpoch = s % perEpoch;
                            int off = offsets.get(p);
                            List<Example> part = new ArrayList<>();
                            IntStream.range(0, 24).filter(i -> pos[off + i] / o.batchSize == inEpoch).boxed()
                                    .sorted(Comparator.comparingInt(i -> pos[off + i]))
                                    .forEach(i -> part.add(halves.get(0 + (off == 0 ? 0 : 1)).get(i)));
                            if (!part.isEmpty()) {
                                opt.zeroGrad();
                                r.accumulate(part, s);
                                opt.step();
                            }
                        }
                        add(sumP, SparkTrainer.flatten(r.module().parameters().values()));
                        add(sumS, SparkTrainer.flatten(opt.state().values()));
                    }
                }
                scale(sumP, 0.5f);
                scale(sumS, 0.5f);
                SparkTrainer.unflatten(sumP, 0, master.module().parameters().values());
                SparkTrainer.unflatten(sumS, 0, masterOpt.state().values());
                masterOpt.restoreSteps(round[1]);
            }
            Map<String, float[]> want = snapshot(master.module());
            want.forEach((k, v) -> Close.assertClose(k, v, got.get(k), 1e-6, 1e-6));
        }
    }

    private static void add(float[] sum, float[] v) {
        for (int i = 0; i < v.length; i++) {
            sum[i] += v[i];
        }
    }

    private static void scale(float[] v, float s) {
        for (int i = 0; i < v.length; i++) {
            v[i] *= s;
        }
    }
}
