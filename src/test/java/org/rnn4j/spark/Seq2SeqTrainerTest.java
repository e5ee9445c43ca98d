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
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.rnn4j.Close;
import org.rnn4j.Device;
import org.rnn4j.Devices;
import org.rnn4j.Gru;
import org.rnn4j.Lstm;
import org.rnn4j.model.Seq2Seq;
import org.rnn4j.train.Optimizer;

/** {@link SequenceModelTrainer#fit(JavaSparkContext, Seq2Seq, org.apache.spark.api.java.JavaRDD, TrainOptions)}, on CPU and CUDA (stand-in) executors. */
class Seq2SeqTrainerTest {
    private static final int START = 1, END = 2, VOCAB = 10;
    private static JavaSparkContext sc;

    @BeforeAll
    static void start() {
        sc = SparkTestContext.shared();
    }

    /** Sequences of 2 to 6 ids and their reversals. */
    private static List<Sequence> reversals(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<Sequence> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int[] s = rnd.ints(2 + rnd.nextInt(5), 3, VOCAB).toArray();
            int[] r = new int[s.length];
            for (int t = 0; t < s.length; t++) {
                r[t] = s[s.length - 1 - t];
            }
            out.add(Sequence.sequenceToSequence(s, r));
        }
        return out;
    }

    private static Seq2Seq model(Device device) {
        return Seq2Seq.builder(VOCAB, VOCAB).encoder(Lstm.builder(6, 8).bidirectional(true).seed(3))
                .decoder(Lstm.builder(6, 8).seed(4)).attention(Seq2Seq.Attention.GENERAL).tokens(START, END).seed(5).build(device);
    }

    @Test
    void fitOnAnRddEqualsOneProcessOnTheGlobalBatches() throws IOException {
        List<Sequence> data = reversals(40, 1);
        TrainOptions o = new TrainOptions().batchSize(10).adam(1e-2).seed(4).steps(8);
        try (Seq2Seq distributed = model(Device.cpu());
             Seq2Seq single = model(Device.cpu());
             Optimizer opt = o.newOptimizer(List.of(single))) {
            SparkTrainer.Result r = SequenceModelTrainer.fit(sc, distributed, sc.parallelize(data, 3), o);
            assertEquals(8, r.losses().length);
            for (long s = 0; s < 8; s++) {
                opt.zeroGrad();
                List<Sequence> batch = SparkTrainerTest.globalBatch(data, o, s);
                double loss = single.lossAndGradients(batch.stream().map(Sequence::tokens).toList(),
                        batch.stream().map(Sequence::target).toList());
                assertEquals(loss, r.losses()[(int) s], 1e-5, "loss of step " + s);
                opt.step();
            }
            Map<String, float[]> want = SparkTrainerTest.snapshot(single);
            Map<String, float[]> got = SparkTrainerTest.snapshot(distributed);
            want.forEach((k, v) -> Close.assertClose(k, v, got.get(k), 1e-5, 1e-5));
            assertTrue(r.losses()[7] < r.losses()[0], "loss " + r.losses()[0] + " -> " + r.losses()[7]);
        }
    }

    @Test
    void trainingOnCudaExecutorsMatchesTheCpu() throws IOException {
        String reason = Devices.cudaUnusableReason();
        assumeTrue(reason == null, reason);
        List<Sequence> data = reversals(40, 2);
        TrainOptions o = new TrainOptions().batchSize(10).adam(1e-2).seed(4).steps(6);
        try (Seq2Seq onCpu = model(Device.cpu()); Seq2Seq onCuda = model(Device.cpu())) {
            SparkTrainer.Result cpu = SequenceModelTrainer.fit(sc, onCpu, sc.parallelize(data, 2), o);
            // Spark's local mode hands out no GPU resources, so the device is named here; on a cluster "auto" picks it
            SparkTrainer.Result gpu = SequenceModelTrainer.fit(sc, onCuda, sc.parallelize(data, 2), o.executorDevice("cuda:0"));
            for (int s = 0; s < 6; s++) {
                assertEquals(cpu.losses()[s], gpu.losses()[s], 1e-4, "loss of step " + s);
            }
            Map<String, float[]> want = SparkTrainerTest.snapshot(onCpu);
            Map<String, float[]> got = SparkTrainerTest.snapshot(onCuda);
            want.forEach((k, v) -> Close.assertClose(k, v, got.get(k), 1e-4, 1e-4));
        }
    }

    @Test
    void aVectorModelTrainsOnVectorExamples() throws IOException {
        List<Sequence> data = new ArrayList<>();
        for (int i = 0; i < 24; i++) {
            float[] v = new float[4];
            v[i % 4] = 1;
            data.add(Sequence.vectorToSequence(v, new int[] {3 + i % 4, 7}));
        }
        TrainOptions o = new TrainOptions().batchSize(8).adam(1e-2).seed(4).steps(6);
        try (Seq2Seq m = Seq2Seq.fromVectors(4, VOCAB).decoder(Gru.builder(6, 8).seed(1)).tokens(START, END).seed(2)
                .build(Device.cpu())) {
            SparkTrainer.Result r = SequenceModelTrainer.fit(sc, m, sc.parallelize(data, 2), o);
            assertTrue(r.losses()[5] < r.losses()[0], "loss " + r.losses()[0] + " -> " + r.losses()[5]);
        }
    }

    @Test
    void badDataIsRefusedOnTheDriverBeforeTheFirstStepWithFitsMessages() {
        TrainOptions o = new TrainOptions().batchSize(4).adam(1e-2).seed(4).steps(2);
        List<Sequence> tooLarge = new ArrayList<>(reversals(8, 1));
        tooLarge.set(6, Sequence.sequenceToSequence(new int[] {3, 4}, new int[] {4, 10}));
        List<Sequence> vectors = List.of(Sequence.vectorToSequence(new float[] {1, 0}, new int[] {3}));
        List<Sequence> mixed = new ArrayList<>(reversals(3, 1));
        mixed.add(Sequence.classification(new int[] {3}, 0));
        for (List<Sequence> bad : List.of(tooLarge, vectors, mixed)) {
            try (Seq2Seq m = model(Device.cpu())) {
                Map<String, float[]> before = SparkTrainerTest.snapshot(m);
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> SequenceModelTrainer.fit(sc, m, sc.parallelize(bad, 2), o), bad::toString);
                assertTrue(e.getMessage().startsWith("data partition "), e.getMessage());
                assertTrue(e.getMessage().contains("expected"), e.getMessage());
                Map<String, float[]> after = SparkTrainerTest.snapshot(m);
                before.forEach((k, v) -> Close.assertClose(k, v, after.get(k), 0, 0));
            }
        }
        List<Sequence> tooLargeMessage = tooLarge;
        try (Seq2Seq m = model(Device.cpu())) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> SequenceModelTrainer.fit(sc, m, sc.parallelize(tooLargeMessage, 2), o));
            assertEquals("data partition 1.targets[2][1]: expected an id in [0, 10), got 10", e.getMessage());
        }
    }
}
