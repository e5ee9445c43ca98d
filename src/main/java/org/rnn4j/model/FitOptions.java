package org.rnn4j.model;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * How {@link SequenceModel#fit} trains, with Keras-like defaults: 10 epochs, batches of 32 shuffled from
 * seed 0 and bucketed by length, Adam with learning rate 1e-3, gradient clipping at global norm 1.0, a
 * constant rate, no callbacks (no early stopping, no checkpoints, no progress output), no custom metrics,
 * no class weights.
 */
public final class FitOptions {
    /** The optimizers {@code fit} can build (their state goes into checkpoints). */
    public enum OptimizerKind { ADAM, ADAMW, SGD }

    int epochs = 10;
    int batchSize = 32;
    boolean bucketing = true;
    long seed;
    OptimizerKind optimizer = OptimizerKind.ADAM;
    double learningRate = 1e-3;
    double weightDecay;
    double momentum;
    double clipNorm = 1.0;
    LrSchedule schedule = LrSchedule.constant();
    int patience = -1;
    boolean restoreBest = true;
    ModelCheckpoint checkpoints;
    Path resumeFrom;
    PrintStream progress;
    boolean stateful;
    List<Callback> callbacks = List.of();
    List<Metric> metrics = List.of();
    float[] classWeights;

    /**
     * The epoch to train up to, ≥ 1: a first {@code fit} runs this many passes over the data, a continued or
     * resumed one the rest (Keras's {@code epochs} with {@code initial_epoch}; {@link SequenceModel#epochsTrained()}).
     */
    public FitOptions epochs(int epochs) {
        if (epochs < 1) {
            throw new IllegalArgumentException("epochs: expected >= 1, got " + epochs);
        }
        this.epochs = epochs;
        return this;
    }

    /** Sequences per batch, ≥ 1 (the last batch of an epoch may be smaller). */
    public FitOptions batchSize(int batchSize) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize: expected >= 1, got " + batchSize);
        }
        this.batchSize = batchSize;
        return this;
    }

    /** Whether to sort each pool of shuffled sequences by length before cutting batches (default on). */
    public FitOptions bucketing(boolean bucketing) {
        this.bucketing = bucketing;
        return this;
    }

    /** Seeds the shuffling and the dropout masks. */
    public FitOptions seed(long seed) {
        this.seed = seed;
        return this;
    }

    /** Adam (PyTorch's defaults) with learning rate {@code lr}. */
    public FitOptions adam(double lr) {
        return optimizer(OptimizerKind.ADAM, lr, 0, 0);
    }

    /** AdamW with learning rate {@code lr} and decoupled weight decay {@code weightDecay}. */
    public FitOptions adamW(double lr, double weightDecay) {
        return optimizer(OptimizerKind.ADAMW, lr, weightDecay, 0);
    }

    /** SGD with learning rate {@code lr} and momentum in [0, 1). */
    public FitOptions sgd(double lr, double momentum) {
        return optimizer(OptimizerKind.SGD, lr, 0, momentum);
    }

    private FitOptions optimizer(OptimizerKind kind, double lr, double weightDecay, double momentum) {
        // the optimizer runs in float32: a setting it cannot hold (overflows, or rounds to 0 or 1) is refused now
        if (!(lr > 0) || !Float.isFinite((float) lr) || (float) lr == 0) {
            throw new IllegalArgumentException("lr: expected a value > 0 that float32 holds (" + Float.MIN_VALUE + " to "
                    + Float.MAX_VALUE + "), got " + lr);
        }
        if (!(weightDecay >= 0) || !Float.isFinite((float) weightDecay)) {
            throw new IllegalArgumentException("weightDecay: expected a value >= 0 that float32 holds (at most "
                    + Float.MAX_VALUE + "), got " + weightDecay);
        }
        if (!(momentum >= 0 && (float) momentum < 1)) {
            throw new IllegalArgumentException("momentum: expected a value in [0, 1) as float32, got " + momentum);
        }
        this.optimizer = kind;
        this.learningRate = lr;
        this.weightDecay = weightDecay;
        this.momentum = momentum;
        return this;
    }

    /** Clips the gradients to this global L2 norm before each step; 0 turns clipping off. */
    public FitOptions clipNorm(double clipNorm) {
        if (!(clipNorm >= 0) || Double.isInfinite(clipNorm)) {
            throw new IllegalArgumentException("clipNorm: expected a finite value >= 0 (0 = off), got " + clipNorm);
        }
        this.clipNorm = clipNorm;
        return this;
    }

    /** The learning-rate schedule (default {@link LrSchedule#constant()}). */
    public FitOptions schedule(LrSchedule schedule) {
        if (schedule == null) {
            throw new IllegalArgumentException("schedule: expected a schedule, got null");
        }
        this.schedule = schedule;
        return this;
    }

    /**
     * Shorthand for an {@link EarlyStopping} on {@code val_loss} ({@code loss} without validation data): stops
     * once it has not improved for {@code patience} epochs (at least one) and, with {@code restoreBest}, puts
     * back the weights of the best epoch. Other metrics, {@code minDelta} and the mode: {@link #callbacks}.
     */
    public FitOptions earlyStopping(int patience, boolean restoreBest) {
        if (patience < 0) {
            throw new IllegalArgumentException("patience: expected >= 0, got " + patience);
        }
        this.patience = patience;
        this.restoreBest = restoreBest;
        return this;
    }

    /**
     * Shorthand for a {@link ModelCheckpoint}: writes {@code dir/epoch-NNNN.safetensors} every
     * {@code everyEpochs} epochs (and after the last), enough for {@link #resumeFrom}.
     */
    public FitOptions checkpoints(Path dir, int everyEpochs) {
        this.checkpoints = new ModelCheckpoint(dir, everyEpochs);
        return this;
    }

    /**
     * Continues the run saved in {@code checkpoint} (written by {@link #checkpoints}): same result as never
     * stopping. The options must repeat the run's (optimizer, learning rate, momentum, weight decay, clip
     * norm, batch size, schedule, seed, bucketing, stateful, class weights, early stopping, validation data
     * or none; a callback whose state it saved must be there to take it back) and {@code epochs} must exceed the epochs it finished; a difference
     * is refused naming the setting and both values, never silently taken from the file or dropped. So is a
     * training state out of range or inconsistent with the data (its step count against epochs × batches).
     * A refused resume changes nothing.
     */
    public FitOptions resumeFrom(Path checkpoint) {
        this.resumeFrom = checkpoint;
        return this;
    }

    /**
     * Where the {@link ProgressBar} and the callbacks' lines ({@link TrainingRun#log}) go; {@code null}
     * (default) prints nothing.
     */
    public FitOptions progress(PrintStream out) {
        this.progress = out;
        return this;
    }

    /** Callbacks, called in this order (before those the shorthands add); replaces earlier ones. */
    public FitOptions callbacks(Callback... callbacks) {
        if (callbacks == null) {
            throw new IllegalArgumentException("callbacks: expected callbacks (may be none), got null");
        }
        for (int i = 0; i < callbacks.length; i++) {
            if (callbacks[i] == null) {
                throw new IllegalArgumentException("callbacks[" + i + "]: expected a callback, got null");
            }
        }
        this.callbacks = List.of(callbacks);
        return this;
    }

    /** Custom metrics, computed on the training batches and the validation data each epoch (Keras's {@code metrics}). */
    public FitOptions metrics(Metric... metrics) {
        if (metrics == null) {
            throw new IllegalArgumentException("metrics: expected metrics (may be none), got null");
        }
        this.metrics = Metrics.checked(List.of(metrics));
        return this;
    }

    /**
     * A weight per class for the training loss (Keras's {@code class_weight}, PyTorch's {@code weight}): each
     * term counts its target class's weight, the mean dividing by their sum; classification, tagging and
     * language models. {@code evaluate} and the validation loss stay unweighted by class, as in Keras.
     */
    public FitOptions classWeights(double... weights) {
        if (weights == null || weights.length == 0) {
            throw new IllegalArgumentException("weights: expected a weight per class, got " + (weights == null ? "null" : "none"));
        }
        float[] w = new float[weights.length];
        for (int i = 0; i < w.length; i++) {
            if (!(weights[i] >= 0) || Double.isInfinite(weights[i])) {
                throw new IllegalArgumentException("weights[" + i + "]: expected a finite weight >= 0, got " + weights[i]);
            }
            w[i] = (float) weights[i];
        }
        if (Arrays.stream(weights).allMatch(x -> x == 0)) {   // the weighted mean would be 0 / 0
            throw new IllegalArgumentException("weights: expected at least one class weight > 0, got " + Arrays.toString(weights));
        }
        this.classWeights = w;
        return this;
    }

    /**
     * Keras's {@code stateful=True}: batches are taken in dataset order, sample b of each batch continues
     * sample b of the previous one (its final states carried over, without gradient), and the states are
     * reset at each epoch. The dataset size must be a multiple of the batch size.
     */
    public FitOptions stateful(boolean stateful) {
        this.stateful = stateful;
        return this;
    }
}
