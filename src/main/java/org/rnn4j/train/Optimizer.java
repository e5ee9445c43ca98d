package org.rnn4j.train;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rnn4j.HasParameters;
import org.rnn4j.Tensor;

/**
 * Updates parameters in place from their accumulated gradients, on their device. Gradients accumulate
 * across backward passes until {@link #zeroGrad()}: micro-batches of one large batch are accumulated
 * by simply not zeroing between them (scale each micro-batch's loss so the sum is the wanted mean).
 * Subclasses supply the update rule of one tensor and own their state buffers.
 */
public abstract class Optimizer implements AutoCloseable {
    final List<ParameterSet.Pair> pairs;
    private final List<HasParameters> modules;
    private double lr;
    private long steps;
    private boolean closed;

    Optimizer(List<? extends HasParameters> modules, double lr) {
        TrainChecks.nonNegativeFloat("lr", lr);
        this.pairs = ParameterSet.collect(modules);
        this.modules = List.copyOf(modules);
        this.lr = lr;
    }

    /**
     * One update of every parameter from its current gradient.
     *
     * @throws IllegalStateException when the update left a parameter NaN or infinite (a learning rate or
     *         gradient too large for float32), naming it; the step is counted and the parameters are as it
     *         left them, so the run must not go on from them
     */
    public final void step() {
        requireOpen();
        long t = steps + 1;
        for (int i = 0; i < pairs.size(); i++) {
            update(i, pairs.get(i), (float) lr, t);
        }
        steps = t;
        for (ParameterSet.Pair p : pairs) {
            if (p.param().engine().hasNonFinite(p.param().size(), p.param().buffer(), 0)) {
                boolean badGradient = p.grad().engine().hasNonFinite(p.grad().size(), p.grad().buffer(), 0);
                throw new IllegalStateException(String.format(java.util.Locale.ROOT, "step %d: parameter '%s' is "
                        + "non-finite after the update (learning rate %g, %s gradient): lower the learning rate or "
                        + "clip the gradients, and restart from finite weights", t, p.name(), lr,
                        badGradient ? "a non-finite" : "a finite"));
            }
        }
    }

    /** Updates tensor {@code index} of {@link #pairs} in place; {@code step} counts from 1. */
    abstract void update(int index, ParameterSet.Pair p, float lr, long step);

    /** Releases the state buffers (not the parameters). */
    abstract void releaseState();

    /** Sets every gradient of every parameter to zero, through each module's own {@code zeroGrad} (and its thread guard). */
    public final void zeroGrad() {
        requireOpen();
        for (HasParameters m : modules) {
            m.zeroGrad();
        }
    }

    public final double learningRate() {
        return lr;
    }

    /** Changes the learning rate for the following steps (a schedule calls this between steps). */
    public final void setLearningRate(double learningRate) {
        TrainChecks.nonNegativeFloat("learningRate", learningRate);
        this.lr = learningRate;
    }

    /** How many steps have been taken. */
    public final long steps() {
        return steps;
    }

    /**
     * The state tensors (live), for a checkpoint: {@code exp_avg.i} and {@code exp_avg_sq.i} (Adam) or
     * {@code momentum_buffer.i} (SGD with momentum) for the {@code i}-th parameter tensor, PyTorch's names.
     * Together with {@link #steps()} and {@link #learningRate()} they are all an optimizer carries.
     */
    public final Map<String, Tensor> state() {
        requireOpen();
        Map<String, Tensor> out = new LinkedHashMap<>();
        addState(out);
        return out;
    }

    /** Puts each state tensor into {@code out} under its name. */
    abstract void addState(Map<String, Tensor> out);

    /** Sets the step count, when resuming from a checkpoint (Adam's bias correction and SGD's first step use it). */
    public final void restoreSteps(long steps) {
        if (steps < 0) {
            throw new IllegalArgumentException("steps: expected >= 0, got " + steps);
        }
        this.steps = steps;
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("optimizer " + this + " is closed");
        }
    }

    /** Releases the optimizer's state buffers (not the parameters). */
    @Override
    public final void close() {
        closed = true;
        releaseState();
    }
}
