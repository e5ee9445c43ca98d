package org.rnn4j.spark;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.rnn4j.HasParameters;
import org.rnn4j.model.ModelConfig;
import org.rnn4j.model.ModelGradients;
import org.rnn4j.model.SequenceModel;

/**
 * {@code fit} of a {@link SequenceModel} on an RDD of {@link Sequence}s with {@link SparkTrainer}: the
 * executors rebuild the model from its configuration, the driver starts from {@code model}'s weights and
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
     * Checks every partition of {@code data} against a model of {@code cfg} as {@code fit} checks its data, in
     * one job before the first step: the problems come back to the driver as results (not as failed tasks,
     * which Spark would retry), and the first one is thrown here with {@code fit}'s message.
     */
    static void check(JavaRDD<Sequence> data, ModelConfig cfg) {
        HashMap<String, String> meta = new HashMap<>(cfg.toMetadata());
        List<String> problems = data.mapPartitionsWithIndex((Integer p, Iterator<Sequence> it) -> {
            List<Sequence> part = new ArrayList<>();
            it.forEachRemaining(part::add);
            try {
                if (!part.isEmpty()) {
                    ModelGradients.check(ModelConfig.fromMetadata(meta), "data partition " + p, Sequence.toDataset(part));
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
