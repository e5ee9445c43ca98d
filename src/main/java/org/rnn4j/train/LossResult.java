package org.rnn4j.train;

import org.rnn4j.Tensor;

/** A scalar loss and its gradient with respect to the loss's input (already scaled for the mean). Closing frees the gradient. */
public final class LossResult implements AutoCloseable {
    private final double value;
    private final Tensor gradient;
    private final long count;
    private final double weight;

    LossResult(double value, Tensor gradient, long count, double weight) {
        this.value = value;
        this.gradient = gradient;
        this.count = count;
        this.weight = weight;
    }

    /** The loss, a mean over {@link #count()} terms. */
    public double value() {
        return value;
    }

    /** {@code dL/dinput}, shaped like the input (logits or predictions), on its device. */
    public Tensor gradient() {
        return gradient;
    }

    /** How many terms the mean was taken over (valid positions, or elements for MSE). */
    public long count() {
        return count;
    }

    /** The sum of the terms' weights the mean divides by: {@link #count()} for an unweighted loss. */
    public double weight() {
        return weight;
    }

    @Override
    public void close() {
        gradient.close();
    }

    @Override
    public String toString() {
        return "LossResult(" + value + " over " + count + ")";
    }
}
