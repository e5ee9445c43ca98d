package org.rnn4j.train;

import org.rnn4j.Tensor;

/**
 * A scalar loss and its gradient with respect to the loss's input (already scaled for the mean). Closing frees the
 * gradient. A loss reduced on the device keeps its sum there ({@link #sumOnDevice()}) and reads it when
 * {@link #value()} is first asked, so that a step reads it once, after its backward.
 */
public final class LossResult implements AutoCloseable {
    private double value;
    private final Tensor gradient;
    private final long count;
    private final double weight;
    /** The summed terms on the device, or null where the loss was computed on the host. */
    private final Tensor sum;
    /** Whether {@link #value} holds the loss (always, without {@link #sum}; after the first read with it). */
    private boolean known;

    LossResult(double value, Tensor gradient, long count, double weight) {
        this(null, gradient, count, weight);
        this.value = value;
        this.known = true;
    }

    /** A loss whose value is {@code sum[0] / weight}, read from the device when asked. */
    LossResult(Tensor sum, Tensor gradient, long count, double weight) {
        this.gradient = gradient;
        this.count = count;
        this.weight = weight;
        this.sum = sum;
    }

    /** The loss, a mean over {@link #count()} terms. */
    public double value() {
        if (!known) {
            value = sum.toHost()[0] / weight;
            known = true;
        }
        return value;
    }

    /**
     * The loss before the mean, {@code value() · weight()}, as a one-element tensor on the device, or null where the
     * loss was computed on the host. Live until this result is closed.
     */
    public Tensor sumOnDevice() {
        return sum;
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
        if (sum != null) {
            sum.close();
        }
    }

    @Override
    public String toString() {
        return known ? "LossResult(" + value + " over " + count + ")" : "LossResult(on the device, over " + count + ")";
    }
}
