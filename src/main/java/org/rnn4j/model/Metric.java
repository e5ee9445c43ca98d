package org.rnn4j.model;

/**
 * A metric of the caller's (F1, a confusion count, a custom error), computed from the head's outputs over
 * one pass, as a Keras {@code Metric}: {@link #reset} when a pass starts (an epoch of {@code fit}, an
 * {@code evaluate}), {@link #update} once per batch, {@link #value} at the end. Give it to
 * {@link FitOptions#metrics} (training and validation values appear under its {@link #name()} and
 * {@code val_} + name, where callbacks and early stopping see them) or to {@link SequenceModel#evaluate}.
 * One instance serves one pass at a time.
 */
public interface Metric {

    /** The key of its value in the metrics maps; must differ from the built-in ones ({@code loss}, {@code accuracy}, ...). */
    String name();

    /** Whether a larger value is better (early stopping's {@link EarlyStopping.Mode#AUTO} reads it); default {@code false}. */
    default boolean higherIsBetter() {
        return false;
    }

    /** Forgets the previous pass. */
    void reset();

    /** Adds one batch. */
    void update(Rows rows);

    /** The value over the batches since {@link #reset}. */
    double value();

    /**
     * One batch's rows: a row is a sequence (classification, sequence regression) or a valid step (tagging,
     * regression, language model). Rows whose target is the model's ignore index are left out.
     *
     * @param count rows
     * @param width values per row: classes, or regression outputs
     * @param outputs {@code [count · width]} the head's outputs, row-major: logits for classes (the argmax is
     *        the predicted class, see {@link #predictedClass}), values for regression
     * @param classes {@code [count]} the target class of each row, or {@code null} for regression
     * @param targets {@code [count · width]} the target values for regression, or {@code null}
     * @param sequences {@code [count]} the dataset index of the sequence each row belongs to
     * @param steps {@code [count]} the step of each row within its sequence (0 for a per-sequence row)
     */
    record Rows(int count, int width, float[] outputs, int[] classes, float[] targets, int[] sequences, int[] steps) {

        /** The most likely class of row {@code r} (the first on ties). */
        public int predictedClass(int r) {
            return SequenceModel.argmax(outputs, r * width, width);
        }
    }
}
