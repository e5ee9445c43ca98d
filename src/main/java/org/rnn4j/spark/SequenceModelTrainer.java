package org.rnn4j.spark;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.rnn4j.Device;
import org.rnn4j.HasParameters;
import org.rnn4j.model.ModelConfig;
import org.rnn4j.model.ModelGradients;
import org.rnn4j.model.Seq2Seq;
import org.rnn4j.model.SequenceModel;

/**
 * {@code fit} of a {@link SequenceModel} or a {@link Seq2Seq} on an RDD of {@link Sequence}s with {@link SparkTrainer}:
 * the executors rebuild the model from its configuration, the driver starts from {@code model}'s weights and
 * writes the trained ones back into it. A Dataset converts with {@code dataset.javaRDD()}.
 *
 * <pre>{@code
 * JavaRDD<Sequence> data = lines.map(l -> Sequence.classification(ids(l), label(l)));
 * SequenceModelTrainer.fit(sc, model, data, new TrainOptions().batchSize(256).epochs(3).adam(3e-3));
 * }</pre>
 *
 * <p>Each step's global batch is split over the partitions and every partition pads its own part, so
 * the step equals one padded batch of the whole global batch to float rounding (without head dropout,
 * whose masks depend on the batch layout).
 */
public final class SequenceModelTrainer {
    private SequenceModelTrainer() {
    }

    /**
     * Trains {@code model} on {@code data} as {@code options} say and leaves the trained weights in it.
     *
     * @throws IOException when a checkpoint cannot be written or read
     */
    public static SparkTrainer.Result fit(JavaSparkContext sc, SequenceModel model, JavaRDD<Sequence> data,
                                          TrainOptions options) throws IOException {
        if (model == null) {
            throw new IllegalArgumentException("model: expected a sequence model, got null");
        }
        if (options == null) {
            throw new IllegalArgumentException("options: expected train options, got null");
        }
        if (data == null) {
            throw new IllegalArgumentException("data: expected an RDD of sequences, got null");
        }
        check(data, model.config());
        Replica.Factory<Sequence> factory = factory(model.config(), options.seed);
        try (SparkTrainer<Sequence> trainer = new SparkTrainer<>(sc, factory, options)) {
            copy(model, trainer.model());
            SparkTrainer.Result result = trainer.fit(data);
            copy(trainer.model(), model);
            return result;
        }
    }

    /**
     * Trains a {@link Seq2Seq} on {@link Sequence#sequenceToSequence} (or, for a {@code fromVectors} model,
     * {@link Sequence#vectorToSequence}) examples and leaves the trained weights in it: each step's loss is the mean
     * per-token cross-entropy of the global batch under teacher forcing, each partition weighing its part by its
     * target tokens (the end tokens included), so a step equals {@link Seq2Seq#lossAndGradients} over the whole batch
     * to float rounding. The data is checked as {@link Seq2Seq#fit} checks it, partition by partition, before the first step.
     *
     * @throws IOException when a checkpoint cannot be written or read
     */
    public static SparkTrainer.Result fit(JavaSparkContext sc, Seq2Seq model, JavaRDD<Sequence> data, TrainOptions options)
            throws IOException {
        if (model == null) {
            throw new IllegalArgumentException("model: expected a Seq2Seq model, got null");
        }
        if (options == null) {
            throw new IllegalArgumentException("options: expected train options, got null");
        }
        if (data == null) {
            throw new IllegalArgumentException("data: expected an RDD of sequences, got null");
        }
        HashMap<String, String> meta = new HashMap<>(model.configMetadata());
        checkPartitions(data, (name, part) -> {
            try (Seq2Seq m = Seq2Seq.fromConfigMetadata(meta, Device.cpu())) {   // a small CPU copy, for its vocabularies
                m.checkData(name, Sequence.toDataset(part));
            }
        });
        Replica.Factory<Sequence> factory = device -> new Seq2SeqReplica(Seq2Seq.fromConfigMetadata(meta, device));
        try (SparkTrainer<Sequence> trainer = new SparkTrainer<>(sc, factory, options)) {
            copy(model, trainer.model());
            SparkTrainer.Result result = trainer.fit(data);
            copy(trainer.model(), model);
            return result;
        }
    }

    /**
     * Checks every partition of {@code data} against a model of {@code cfg} as {@code fit} checks its data, in
     * one job before the first step: the problems come back to the driver as results (not as failed tasks,
     * which Spark would retry), and the first one is thrown here with {@code fit}'s message.
     */
    static void check(JavaRDD<Sequence> data, ModelConfig cfg) {
        HashMap<String, String> meta = new HashMap<>(cfg.toMetadata());
        checkPartitions(data, (name, part) -> ModelGradients.check(ModelConfig.fromMetadata(meta), name, Sequence.toDataset(part)));
    }

    /** A check of one partition's examples (at least one), which throws an IllegalArgumentException naming the problem. */
    interface PartitionCheck extends java.io.Serializable {
        void check(String name, List<Sequence> part);
    }

    /**
     * Runs {@code check} on every partition in one job; the first problem comes back as a result (not a failed task,
     * which Spark would retry) and is thrown here, its message starting {@code data partition p}.
     */
    private static void checkPartitions(JavaRDD<Sequence> data, PartitionCheck check) {
        List<String> problems = data.mapPartitionsWithIndex((Integer p, Iterator<Sequence> it) -> {
            List<Sequence> part = new ArrayList<>();
            it.forEachRemaining(part::add);
            try {
                if (!part.isEmpty()) {
                    check.check("data partition " + p, part);
                }
                return Collections.emptyIterator();
            } catch (IllegalArgumentException e) {
                String m = e.getMessage();
                return List.of(m.startsWith("data partition ") ? m : "data partition " + p + ": " + m).iterator();
            }
        }, false).take(1);
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(problems.get(0));
        }
    }

    /** Replicas of a model with configuration {@code cfg}; head dropout seeded from {@code seed} and the step. */
    static Replica.Factory<Sequence> factory(ModelConfig cfg, long seed) {
        HashMap<String, String> meta = new HashMap<>(cfg.toMetadata());
        return device -> new ModelReplica(new SequenceModel(ModelConfig.fromMetadata(meta), device), seed);
    }

    /** A {@link Seq2Seq} as a {@link Replica}: the mean per-token loss of its examples, weighed by their tokens. */
    private record Seq2SeqReplica(Seq2Seq model) implements Replica<Sequence> {
        @Override
        public HasParameters module() {
            return model;
        }

        @Override
        public Loss accumulate(List<Sequence> examples, long step) {
            boolean vectors = examples.get(0).tokens() == null;   // one kind throughout: the data was checked
            List<int[]> sources = new ArrayList<>(examples.size());
            List<float[]> features = new ArrayList<>(examples.size());
            List<int[]> targets = new ArrayList<>(examples.size());
            long tokens = 0;
            for (Sequence e : examples) {
                if (vectors) {
                    features.add(e.vector());
                } else {
                    sources.add(e.tokens());
                }
                targets.add(e.target());
                tokens += e.target().length + 1;   // and the end token
            }
            double mean = vectors ? model.lossAndGradients(Seq2Seq.Features.of(features), targets)
                    : model.lossAndGradients(sources, targets);
            return new Loss(mean, tokens);
        }

        @Override
        public void close() {
            model.close();
        }
    }

    private static void copy(HasParameters from, HasParameters to) {
        SparkTrainer.unflatten(SparkTrainer.flatten(from.parameters().values()), 0, to.parameters().values());
    }

    /** A {@link SequenceModel} as a {@link Replica}. */
    private record ModelReplica(SequenceModel model, long seed) implements Replica<Sequence> {
        @Override
        public HasParameters module() {
            return model;
        }

        @Override
        public Loss accumulate(List<Sequence> examples, long step) {
            ModelGradients.Loss l = ModelGradients.accumulate(model, Sequence.toDataset(examples),
                    seed * 0xD1B54A32D192ED03L + step * 0x9E3779B97F4A7C15L + 1);
            return new Loss(l.mean(), l.count());
        }

        @Override
        public void close() {
            model.close();
        }
    }

}
