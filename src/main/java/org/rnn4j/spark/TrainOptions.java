package org.rnn4j.spark;

import java.io.Serializable;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.rnn4j.HasParameters;
import org.rnn4j.train.Adam;
import org.rnn4j.train.Optimizer;
import org.rnn4j.train.Sgd;

/**
 * How {@link SparkTrainer} trains: the global batch, how long, the optimizer, the mode (synchronous
 * gradients or periodic parameter averaging), checkpoints and devices. Serializable: the executors get a copy.
 */
public final class TrainOptions implements Serializable {
    private static final long serialVersionUID = 1L;

    /** The optimizers the executors can rebuild. */
    public enum OptimizerKind { ADAM, ADAMW, SGD }

    int batchSize = 32;
    int epochs = 1;
    long steps;
    long seed = 1;
    OptimizerKind optimizer = OptimizerKind.ADAM;
    double learningRate = 1e-3;
    double momentum;
    double weightDecay;
    double clipNorm;
    int averageEvery;
    int treeDepth = 2;
    String executorDevice = "auto";
    String checkpointDir;
    int checkpointEvery;
    String resumeFrom;

    /** The global batch: this many examples per optimizer step, split over the partitions (default 32). */
    public TrainOptions batchSize(int batchSize) {
        this.batchSize = positive("batchSize", batchSize);
        return this;
    }

    /** Passes over the data (default 1); {@link #steps(long)} overrides it. */
    public TrainOptions epochs(int epochs) {
        this.epochs = positive("epochs", epochs);
        return this;
    }

    /** The number of optimizer steps to reach (counted from 0, also when resuming); 0 means {@link #epochs(int)}. */
    public TrainOptions steps(long steps) {
        if (steps < 0) {
            throw new IllegalArgumentException("steps: expected >= 0, got " + steps);
        }
        this.steps = steps;
        return this;
    }

    /** Seeds the order of the examples in each epoch (and whatever the replica seeds from the step). */
    public TrainOptions seed(long seed) {
        this.seed = seed;
        return this;
    }

    /** Adam with PyTorch's defaults and this learning rate (the default, at 1e-3). */
    public TrainOptions adam(double lr) {
        return optimizer(OptimizerKind.ADAM, lr, 0, 0);
    }

    /** AdamW with this learning rate and decoupled weight decay. */
    public TrainOptions adamW(double lr, double weightDecay) {
        return optimizer(OptimizerKind.ADAMW, lr, 0, weightDecay);
    }

    /** SGD with this learning rate and momentum (0 for plain SGD). */
    public TrainOptions sgd(double lr, double momentum) {
        return optimizer(OptimizerKind.SGD, lr, momentum, 0);
    }

    private TrainOptions optimizer(OptimizerKind kind, double lr, double momentum, double weightDecay) {
        if (!(lr >= 0)) {
            throw new IllegalArgumentException("lr: expected >= 0, got " + lr);
        }
        this.optimizer = kind;
        this.learningRate = lr;
        this.momentum = momentum;
        this.weightDecay = weightDecay;
        return this;
    }

    /** Clips the gradient of each step to this global L2 norm (0: no clipping, the default). */
    public TrainOptions clipNorm(double clipNorm) {
        if (!(clipNorm >= 0) || Double.isInfinite(clipNorm)) {
            throw new IllegalArgumentException("clipNorm: expected a finite value >= 0, got " + clipNorm);
        }
        this.clipNorm = clipNorm;
        return this;
    }

    /**
     * Synchronous data-parallel SGD (the default): every step's gradients are summed over the partitions
     * and the optimizer steps once on the driver, as one process would on the whole global batch.
     */
    public TrainOptions synchronous() {
        this.averageEvery = 0;
        return this;
    }

    /**
     * Periodic parameter averaging: each partition takes {@code k} local optimizer steps on its share of
     * each global batch, then the parameters and the optimizer state are averaged over the partitions.
     * One exchange per {@code k} steps instead of one per step; no longer equal to single-process training.
     */
    public TrainOptions averaging(int k) {
        this.averageEvery = positive("k", k);
        return this;
    }

    /** The depth of Spark's {@code treeAggregate} (default 2; 1 sends every partition's result to the driver). */
    public TrainOptions treeDepth(int depth) {
        this.treeDepth = positive("depth", depth);
        return this;
    }

    /**
     * Where tasks run: {@code auto} (the default: the GPU Spark assigned the task through its resource
     * scheduling, else the CPU), or a fixed {@code cpu}, {@code cuda:N}.
     */
    public TrainOptions executorDevice(String spec) {
        if (spec == null || !spec.trim().toLowerCase(Locale.ROOT).matches("auto|cpu|cuda|gpu|cuda:[0-9]+")) {
            throw new IllegalArgumentException("executorDevice: expected auto, cpu, cuda or cuda:N, got '" + spec + "'");
        }
        this.executorDevice = spec.trim().toLowerCase(Locale.ROOT);
        return this;
    }

    /**
     * A checkpoint (weights, optimizer state, step) every {@code everySteps} steps and at the end, as
     * {@code dir/step-NNNNNNNN.safetensors}, written by the driver (give a shared file system on a cluster).
     */
    public TrainOptions checkpoints(Path dir, int everySteps) {
        if (dir == null) {
            throw new IllegalArgumentException("dir: expected a directory, got null");
        }
        this.checkpointDir = dir.toString();
        this.checkpointEvery = positive("everySteps", everySteps);
        return this;
    }

    /**
     * Continues from a checkpoint written by {@link #checkpoints(Path, int)} (see {@link SparkTrainer#latestCheckpoint(Path)});
     * the options must repeat the run's seed, batch size, optimizer, averaging period and clip norm, or it is refused.
     */
    public TrainOptions resumeFrom(Path checkpoint) {
        this.resumeFrom = checkpoint == null ? null : checkpoint.toString();
        return this;
    }

    /**
     * A new optimizer of the configured kind over {@code modules}, clipping by {@link #clipNorm} inside its step (on
     * the device, no host read: {@link Optimizer#setGlobalClipNorm}).
     */
    Optimizer newOptimizer(List<? extends HasParameters> modules) {
        Optimizer o = switch (optimizer) {
            case ADAM -> new Adam(modules, learningRate);
            case ADAMW -> new Adam(modules, learningRate, 0.9, 0.999, 1e-8, weightDecay, true);
            case SGD -> new Sgd(modules, learningRate, momentum, 0, false);
        };
        o.setGlobalClipNorm(clipNorm);
        return o;
    }

    /** The optimizer as a checkpoint records it. */
    String optimizerDescription() {
        return String.format(Locale.ROOT, "%s(lr=%s, momentum=%s, weightDecay=%s)", optimizer, learningRate, momentum,
                weightDecay);
    }

    private static int positive(String name, int v) {
        if (v < 1) {
            throw new IllegalArgumentException(name + ": expected >= 1, got " + v);
        }
        return v;
    }
}
