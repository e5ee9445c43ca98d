package org.rnn4j.train;

import java.util.Arrays;
import org.rnn4j.DType;
import org.rnn4j.Device;
import org.rnn4j.DeviceInts;
import org.rnn4j.Tensor;
import org.rnn4j.engine.Engine;

/**
 * Losses for output heads, each returning its value and {@code dL/dinput} in one pass on the input's
 * device (the gradient is computed by the same primitive as the loss, so nothing but the scalar comes back):
 * <ul>
 *   <li>{@link #crossEntropyPerStep}: softmax cross-entropy at every valid timestep of a
 *       {@code [T, B, C]} sequence of logits, mean over the valid positions (PyTorch's
 *       {@code F.cross_entropy} over the packed positions);</li>
 *   <li>{@link #crossEntropyLastStep}: the same over {@code [B, C]} logits, e.g. of the last valid step
 *       (see {@link LastStep#gather});</li>
 *   <li>{@link #crossEntropyWeighted}: the same with a weight per row, a weighted mean (PyTorch's
 *       {@code weight=} for class weights, Keras's {@code sample_weight});</li>
 *   <li>{@link #mse}: mean squared error over all elements ({@code F.mse_loss}).</li>
 * </ul>
 * A negative target is ignored (PyTorch's {@code ignore_index}), and so are padded steps
 * ({@code t >= lengths[b]}): they get loss 0 and gradient 0 and do not count in the mean.
 * If no position counts, the loss is 0 with a zero gradient (PyTorch would give NaN).
 *
 * <p>Targets are validated and masked on the host (they are labels, usually already there); the
 * scalar is reduced on the device ({@code sumRows}, in a fixed chunked order, so it is deterministic) and one
 * float comes back.
 */
public final class Losses {
    private Losses() {
    }

    /**
     * Softmax cross-entropy over every valid timestep, mean over the valid positions.
     *
     * @param logits {@code [T, B, C]}, or {@code [B, T, C]} when {@code batchFirst} (stated, since the two
     *        cannot be told apart by shape when {@code B == T})
     * @param targets {@code T·B} class indices in the logits' row order ({@code t·B + b}, batch-first
     *        {@code b·T + t}); values in {@code [0, C)}, or negative to ignore; padded positions may hold anything
     * @param lengths per-sample valid lengths in {@code [1, T]}, or {@code null} for all T
     */
    public static LossResult crossEntropyPerStep(Tensor logits, int[] targets, int[] lengths, boolean batchFirst) {
        TrainChecks.usable("logits", logits, null);
        if (logits.rank() != 3) {
            throw new IllegalArgumentException("logits: expected shape " + (batchFirst ? "[B, T, C] (batch-first)"
                    : "[T, B, C] (time-major)") + ", got " + Arrays.toString(logits.shape()));
        }
        int steps = logits.dim(batchFirst ? 1 : 0);
        int batch = logits.dim(batchFirst ? 0 : 1);
        int classes = logits.dim(2);
        int[] masked = maskTargets(targets, steps, batch, classes, lengths, batchFirst);
        return crossEntropy(logits, steps * batch, classes, masked, null);
    }

    /** {@link #crossEntropyPerStep(Tensor, int[], int[], boolean)} with int32 targets ({@code [T, B]}, {@code [B, T]} or flat) on any device. */
    public static LossResult crossEntropyPerStep(Tensor logits, Tensor targets, int[] lengths, boolean batchFirst) {
        return crossEntropyPerStep(logits, hostTargets(targets), lengths, batchFirst);
    }

    /**
     * Softmax cross-entropy of one prediction per sample, mean over the samples whose target is not negative.
     *
     * @param logits {@code [B, C]}
     * @param targets {@code B} class indices in {@code [0, C)}, or negative to ignore
     */
    public static LossResult crossEntropyLastStep(Tensor logits, int[] targets) {
        TrainChecks.usable("logits", logits, null);
        return lastStep(logits, targets, null);
    }

    /**
     * {@link #crossEntropyLastStep(Tensor, int[])} with the targets already on the logits' device (checked on their
     * host copy), for a caller that uploads a batch's inputs before its step.
     */
    public static LossResult crossEntropyLastStep(Tensor logits, DeviceInts targets) {
        TrainChecks.usable("logits", logits, null);
        if (targets != null && targets.device() != logits.device()) {
            throw new IllegalArgumentException("targets: expected DeviceInts on " + logits.device() + ", got values on "
                    + targets.device());
        }
        // the device copy is the targets as given: the kernel ignores any negative one, as masking would
        return lastStep(logits, targets == null ? null : targets.toArray(), targets == null ? null : targets.tensor());
    }

    /** The last-step loss of usable {@code logits}; {@code onDevice}: the targets there already, or null to upload them. */
    private static LossResult lastStep(Tensor logits, int[] targets, Tensor onDevice) {
        if (logits.rank() != 2) {
            throw new IllegalArgumentException("logits: expected shape [B, C], got " + Arrays.toString(logits.shape()));
        }
        int batch = logits.dim(0);
        int classes = logits.dim(1);
        int[] masked = maskTargets(targets, 1, batch, classes, null, false);
        return crossEntropy(logits, batch, classes, masked, onDevice);
    }

    /** {@link #crossEntropyLastStep(Tensor, int[])} with int32 targets {@code [B]} on any device. */
    public static LossResult crossEntropyLastStep(Tensor logits, Tensor targets) {
        return crossEntropyLastStep(logits, hostTargets(targets));
    }

    /**
     * Softmax cross-entropy of one prediction per row with a weight per row:
     * {@code L = Σ w_r·l_r / Σ w_r} over the rows whose target is not negative, and
     * {@code dL/dlogits[r] = w_r (softmax_r − onehot_r) / Σ w}. Class weights are {@code w_r = weight[target_r]}
     * (PyTorch's {@code F.cross_entropy(weight=...)} gives the same value). A zero weight sum gives 0 with a
     * zero gradient. The rows are grouped by weight on the device (gathered so that each group is contiguous,
     * scaled, scattered back), so the cost is one pass over the logits and two small launches per distinct weight.
     *
     * @param logits {@code [R, C]}
     * @param targets {@code R} class indices in {@code [0, C)}, or negative to ignore
     * @param weights {@code R} finite weights {@code >= 0}
     * @return the weighted mean; {@link LossResult#count()} counts the rows, {@link LossResult#weight()} sums their weights
     */
    public static LossResult crossEntropyWeighted(Tensor logits, int[] targets, float[] weights) {
        TrainChecks.usable("logits", logits, null);
        if (logits.rank() != 2) {
            throw new IllegalArgumentException("logits: expected shape [R, C], got " + Arrays.toString(logits.shape()));
        }
        int rows = logits.dim(0);
        int classes = logits.dim(1);
        int[] masked = maskTargets(targets, 1, rows, classes, null, false);
        if (weights == null || weights.length != rows) {
            throw new IllegalArgumentException("weights: expected " + rows + " entries (one per row), got "
                    + (weights == null ? "null" : weights.length));
        }
        // the counted rows, grouped by weight (ties in row order)
        Integer[] order = java.util.stream.IntStream.range(0, rows).filter(r -> masked[r] >= 0).boxed().toArray(Integer[]::new);
        double total = 0;
        for (int r : order) {
            if (!(weights[r] >= 0) || Float.isInfinite(weights[r])) {
                throw new IllegalArgumentException("weights[" + r + "]: expected a finite weight >= 0, got " + weights[r]);
            }
            total += weights[r];
        }
        Arrays.sort(order, java.util.Comparator.comparingDouble(r -> weights[r]));
        int n = order.length;
        Device device = logits.device();
        Engine engine = device.engine();
        Tensor grad = Tensor.zeros(device, logits.shape());
        if (n == 0 || total == 0) {
            return new LossResult(0, grad, n, 0);
        }
        int[] perm = new int[n];
        int[] permTargets = new int[n];
        int groups = 0;
        for (int i = 0; i < n; i++) {
            perm[i] = order[i];
            permTargets[i] = masked[order[i]];
            if (i == 0 || weights[order[i]] != weights[order[i - 1]]) {
                groups++;
            }
        }
        try (Tensor idx = Tensor.ofInts(device, perm, n);
             Tensor tg = Tensor.ofInts(device, permTargets, n);
             Tensor sorted = Tensor.zeros(device, n, classes);
             Tensor sortedGrad = Tensor.zeros(device, n, classes);
             Tensor loss = Tensor.zeros(device, n);
             Tensor sums = Tensor.zeros(device, groups)) {
            engine.gatherRows(n, classes, idx.buffer(), 0, logits.buffer(), 0, sorted.buffer(), 0);
            // loss[i] = l_{perm[i]}; sortedGrad[i] = softmax − onehot, unscaled
            engine.softmaxCrossEntropy(n, classes, sorted.buffer(), 0, tg.buffer(), 0, loss.buffer(), 0,
                    sortedGrad.buffer(), 0, 1f);
            float[] groupWeight = new float[groups];
            int g = 0;
            for (int start = 0; start < n; g++) {
                float w = weights[perm[start]];
                int end = start;
                while (end < n && weights[perm[end]] == w) {
                    end++;
                }
                groupWeight[g] = w;
                long off = (long) start * classes;
                engine.axpby((long) (end - start) * classes, (float) (w / total), sortedGrad.buffer(), off, 0f,
                        sortedGrad.buffer(), off);
                engine.sumRows(end - start, 1, loss.buffer(), start, 1, sums.buffer(), g);
                start = end;
            }
            engine.scatterAddRows(n, classes, idx.buffer(), 0, sortedGrad.buffer(), 0, grad.buffer(), 0);
            float[] s = new float[groups];
            engine.download(sums.buffer(), 0, s, 0, groups);
            double value = 0;
            for (int i = 0; i < groups; i++) {
                value += (double) groupWeight[i] * s[i];
            }
            return new LossResult(value / total, grad, n, total);
        } catch (RuntimeException e) {
            grad.close();
            throw e;
        }
    }

    /**
     * Mean squared error over all elements, {@code L = Σ (pred − target)² / n}, with
     * {@code dL/dpred = 2 (pred − target) / n}.
     *
     * @param pred any shape
     * @param target the same shape, on the same device
     */
    public static LossResult mse(Tensor pred, Tensor target) {
        TrainChecks.usable("pred", pred, null);
        TrainChecks.shape("target", target, pred.device(), pred.shape());
        Device device = pred.device();
        Engine engine = device.engine();
        long n = pred.size();
        Tensor grad = Tensor.zeros(device, pred.shape());
        if (n == 0) {
            return new LossResult(0, grad, 0, 0);
        }
        try (Tensor diff = Tensor.zeros(device, pred.shape())) {
            // diff = pred − target
            engine.copy(pred.buffer(), 0, diff.buffer(), 0, n);
            engine.axpby(n, -1f, target.buffer(), 0, 1f, diff.buffer(), 0);
            double value = engine.sumSquares(n, diff.buffer(), 0) / n;
            // grad = 2/n · diff
            engine.axpby(n, (float) (2.0 / n), diff.buffer(), 0, 0f, grad.buffer(), 0);
            return new LossResult(value, grad, n, n);
        } catch (RuntimeException e) {
            grad.close();
            throw e;
        }
    }

    // ------------------------------------------------------------------ helpers

    /** {@code onDevice}: the targets on the logits' device already (negative ones ignored), or null to upload {@code masked}. */
    private static LossResult crossEntropy(Tensor logits, int rows, int classes, int[] masked, Tensor onDevice) {
        long count = 0;
        for (int t : masked) {
            if (t >= 0) {
                count++;
            }
        }
        Device device = logits.device();
        Tensor grad = Tensor.zeros(device, logits.shape());
        if (rows == 0 || count == 0) {
            return new LossResult(0, grad, count, count);
        }
        try (Tensor uploaded = onDevice != null ? null : Tensor.ofInts(device, masked, rows)) {
            return softmaxLoss(logits, rows, classes, onDevice != null ? onDevice : uploaded, count, grad);
        } catch (RuntimeException e) {
            grad.close();
            throw e;
        }
    }

    /**
     * The loss of checked targets {@code tg} (negative: ignored) of which {@code count > 0} count, its gradient into
     * {@code grad}; the sum stays on the device until the value is asked.
     */
    private static LossResult softmaxLoss(Tensor logits, int rows, int classes, Tensor tg, long count, Tensor grad) {
        Engine engine = logits.device().engine();
        Tensor sum = Tensor.zeros(logits.device(), 1);
        try (Tensor loss = Tensor.zeros(logits.device(), rows)) {
            float scale = (float) (1.0 / count);
            // loss[r] = logsumexp(logits[r]) − logits[r, t_r]; grad[r] = (softmax − onehot) / count; ignored rows 0
            engine.softmaxCrossEntropy(rows, classes, logits.buffer(), 0, tg.buffer(), 0, loss.buffer(), 0,
                    grad.buffer(), 0, scale);
            // sum[0] = Σ_r loss[r], in row order
            engine.sumRows(rows, 1, loss.buffer(), 0, 1, sum.buffer(), 0);
            return new LossResult(sum, grad, count, count);
        } catch (RuntimeException e) {
            sum.close();
            throw e;
        }
    }

    /** Checks the targets and lengths; returns a copy with padded positions set to −1 (ignored). */
    private static int[] maskTargets(int[] targets, int steps, int batch, int classes, int[] lengths, boolean batchFirst) {
        if (classes < 1) { // with C >= 1, T·B <= the logits' size fits an int
            throw new IllegalArgumentException("logits: expected at least one class, got C=" + classes);
        }
        if (targets == null) {
            throw new IllegalArgumentException("targets: expected " + steps * batch + " class indices, got null");
        }
        if (targets.length != steps * batch) {
            throw new IllegalArgumentException("targets: expected " + steps * batch + " entries ("
                    + (steps == 1 ? "B=" + batch : "T·B = " + steps + "·" + batch) + "), got " + targets.length);
        }
        if (lengths != null) {
            if (lengths.length != batch) {
                throw new IllegalArgumentException("lengths: expected " + batch + " entries (one per sample), got "
                        + lengths.length);
            }
            for (int b = 0; b < batch; b++) {
                if (lengths[b] < 1 || lengths[b] > steps) {
                    throw new IllegalArgumentException("lengths[" + b + "]: expected a value in [1, " + steps
                            + "], got " + lengths[b]);
                }
            }
        }
        int[] masked = new int[targets.length];
        for (int t = 0; t < steps; t++) {
            for (int b = 0; b < batch; b++) {
                int i = batchFirst ? b * steps + t : t * batch + b;
                boolean valid = lengths == null || t < lengths[b];
                if (!valid || targets[i] < 0) {
                    masked[i] = -1;
                } else if (targets[i] >= classes) {
                    throw new IllegalArgumentException("targets[" + i + "]: expected a class index in [0, " + classes
                            + ") or negative (ignored), got " + targets[i]);
                } else {
                    masked[i] = targets[i];
                }
            }
        }
        return masked;
    }

    private static int[] hostTargets(Tensor targets) {
        if (targets == null) {
            throw new IllegalArgumentException("targets: expected an I32 tensor, got null");
        }
        if (targets.dtype() != DType.I32) {
            throw new IllegalArgumentException("targets: expected dtype I32, got " + targets.dtype());
        }
        return targets.toHostInts();
    }
}
