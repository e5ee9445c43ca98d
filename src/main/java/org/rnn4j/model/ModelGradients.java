package org.rnn4j.model;

/**
 * One forward and backward pass of a {@link SequenceModel} over a whole dataset as one batch, for
 * trainers outside this package that run the optimizer themselves (data-parallel training on Spark).
 * It is {@link SequenceModel#trainOnBatch} with the loss's term count, which a trainer needs to weight the
 * parts of a global batch.
 */
public final class ModelGradients {
    private ModelGradients() {
    }

    /** The mean loss of one pass and the number of terms it averages (sequences or valid positions). */
    public record Loss(double mean, long count) {
    }

    /**
     * Checks that {@code data} fits a model of configuration {@code cfg} as {@code fit} does (the input kind
     * and widths, the targets of the task, ids in the vocabulary, classes in range), without
     * a model: a distributed trainer checks its data before the first step.
     *
     * @throws IllegalArgumentException naming {@code name}, the sequence and the step
     */
    public static void check(ModelConfig cfg, String name, SequenceDataset data) {
        if (cfg == null) {
            throw new IllegalArgumentException("cfg: expected a model configuration, got null");
        }
        Batches.check(cfg, name, data, null, true);
    }

    /**
     * Adds to {@code model}'s gradients the gradient of the mean loss over every sequence of {@code data},
     * taken as one padded batch in training mode, after checking {@code data} as {@link #check} does.
     *
     * @param dropoutSeed seeds the head's dropout masks (unused without dropout)
     * @throws IllegalArgumentException for data that does not fit, or with sample weights (a weighted mean does not
     *         combine by term counts)
     */
    public static Loss accumulate(SequenceModel model, SequenceDataset data, long dropoutSeed) {
        if (model == null) {
            throw new IllegalArgumentException("model: expected a sequence model, got null");
        }
        if (data == null) {
            throw new IllegalArgumentException("data: expected a dataset, got null");
        }
        if (data.weighted()) {
            throw new IllegalArgumentException("data: expected a dataset without sample weights (the parts of a global "
                    + "batch are combined by their term counts), got " + data);
        }
        SequenceModel.StepResult r = model.trainOnAll("data", data, dropoutSeed);
        return new Loss(r.loss(), r.count());
    }
}
