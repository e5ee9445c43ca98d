package org.rnn4j.train;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.rnn4j.Device;
import org.rnn4j.DeviceInts;
import org.rnn4j.HasParameters;
import org.rnn4j.Tensor;
import org.rnn4j.engine.ExclusiveUse;

/**
 * A learned embedding table, PyTorch's {@code nn.Embedding}: {@code weight [V, E]}, initialised
 * N(0, 1) from a seed. Forward gathers one row per token id and backward scatter-adds the output
 * gradient into the rows (the engine's gatherRows / scatterAddRows), so the table and its gradient
 * stay on the device; only the token ids are uploaded.
 *
 * <p>An optional {@code padding} id (PyTorch's {@code padding_idx}) has an all-zero row that never
 * receives a gradient, so filling padded positions with it changes nothing. Both forward and backward
 * check every id on the host before anything is queued: an id outside the table would otherwise read
 * or write outside the device buffer.
 *
 * <p>Not thread-safe: a call overlapping another thread's on the same embedding fails with an
 * {@link IllegalStateException} naming both (two backwards would lose each other's updates).
 */
public final class Embedding implements HasParameters, AutoCloseable {

    /** The {@code padding} value meaning "no padding id". */
    public static final int NO_PADDING = -1;

    private final int vocab;
    private final int dim;
    private final int padding;
    private final Device device;
    private final Tensor weight;
    private final Tensor grad;
    private final ExclusiveUse use = new ExclusiveUse(this);

    /** An embedding without a padding id. */
    public Embedding(int vocab, int dim, long seed, Device device) {
        this(vocab, dim, NO_PADDING, seed, device);
    }

    /**
     * @param vocab rows of the table (number of token ids), ≥ 1
     * @param dim columns (embedding size), ≥ 1
     * @param padding an id in {@code [0, vocab)} whose row stays zero, or {@link #NO_PADDING}
     * @param seed seeds the N(0, 1) initial weights
     */
    public Embedding(int vocab, int dim, int padding, long seed, Device device) {
        TrainChecks.positive("vocab", vocab);
        TrainChecks.positive("dim", dim);
        if (padding != NO_PADDING && (padding < 0 || padding >= vocab)) {
            throw new IllegalArgumentException("padding: expected an id in [0, " + vocab + ") or -1 (none), got " + padding);
        }
        if (device == null) {
            throw new IllegalArgumentException("device: expected a device, got null");
        }
        if ((long) vocab * dim > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("vocab, dim: expected vocab·dim < 2^31, got " + vocab + "·" + dim);
        }
        this.vocab = vocab;
        this.dim = dim;
        this.padding = padding;
        this.device = device;
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] w = new float[vocab * dim];
        for (int i = 0; i < w.length; i++) {
            // Box-Muller: N(0, 1) as nn.Embedding
            double u = 1.0 - rnd.nextDouble();
            double v = rnd.nextDouble();
            w[i] = (float) (Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
        }
        if (padding != NO_PADDING) {
            java.util.Arrays.fill(w, padding * dim, (padding + 1) * dim, 0f);
        }
        Tensor g = null;
        try {
            g = Tensor.zeros(device, vocab, dim);
            this.weight = Tensor.of(device, w, vocab, dim);
        } catch (RuntimeException e) {
            if (g != null) {
                g.close();
            }
            throw e;
        }
        this.grad = g;
    }

    public int vocabSize() {
        return vocab;
    }

    public int dim() {
        return dim;
    }

    /** The padding id, or {@link #NO_PADDING}. */
    public int padding() {
        return padding;
    }

    /** {@code out[t, b, :] = weight[ids[t·B + b], :]}, shape {@code [T, B, E]}; the caller closes it. */
    public Tensor forward(int[] ids, int steps, int batch) {
        try (ExclusiveUse.Held u = use.enter("forward")) {
            return forwardUnguarded(ids, steps, batch);
        }
    }

    /** {@link #forward(int[], int, int)} of ids already on this embedding's device (checked on their host copy). */
    public Tensor forwardStaged(DeviceInts ids, int steps, int batch) {
        requireOn("ids", ids);
        try (ExclusiveUse.Held u = use.enter("forward")) {
            check(ids.toArray(), steps, batch);
            return gather(ids.tensor(), steps, batch);
        }
    }

    private Tensor forwardUnguarded(int[] ids, int steps, int batch) {
        check(ids, steps, batch);
        try (Tensor idx = Tensor.ofInts(device, ids, ids.length)) {
            return gather(idx, steps, batch);
        }
    }

    /** {@code out[t, b, :] = weight[idx[t·B + b], :]} of checked ids. */
    private Tensor gather(Tensor idx, int steps, int batch) {
        Map<String, Tensor> table = parameters();
        long[] versions = Tensor.versionsForReading(this, table, "forward");
        Tensor out = Tensor.zeros(device, steps, batch, dim);
        try {
            device.engine().gatherRows((int) idx.size(), dim, idx.buffer(), 0, weight.buffer(), 0, out.buffer(), 0);
            Tensor.requireVersions(this, table, versions, "forward");
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return out;
    }

    private void requireOn(String name, DeviceInts ids) {
        if (ids == null) {
            throw new IllegalArgumentException(name + ": expected DeviceInts of token ids, got null");
        }
        if (ids.device() != device) {
            throw new IllegalArgumentException(name + ": expected ids on " + device + ", got " + ids.device());
        }
    }

    /**
     * {@code grad[ids[i], :] += dOut[i, :]} for every position, in order (gradients accumulate); the
     * padding row's gradient stays zero.
     *
     * @param ids the ids given to {@link #forward}
     * @param dOut {@code [T, B, E]} (or any shape of {@code ids.length} rows of E), on this embedding's device
     */
    public void backward(int[] ids, Tensor dOut) {
        try (ExclusiveUse.Held u = use.enter("backward")) {
            backwardUnguarded(ids, dOut);
        }
    }

    /** Zeroes the gradient (never while another thread is in forward or backward). */
    @Override
    public void zeroGrad() {
        try (ExclusiveUse.Held u = use.enter("zeroGrad")) {
            grad.fill(0f);
        }
    }

    /** {@link #backward(int[], Tensor)} of ids already on this embedding's device (checked on their host copy). */
    public void backwardStaged(DeviceInts ids, Tensor dOut) {
        requireOn("ids", ids);
        try (ExclusiveUse.Held u = use.enter("backward")) {
            checkBackward(ids.toArray(), dOut);
            addRows(ids.tensor(), dOut);
        }
    }

    private void backwardUnguarded(int[] ids, Tensor dOut) {
        checkBackward(ids, dOut);
        try (Tensor idx = Tensor.ofInts(device, ids, ids.length)) {
            addRows(idx, dOut);
        }
    }

    private void checkBackward(int[] ids, Tensor dOut) {
        TrainChecks.usable("dOut", dOut, device);
        if (ids == null) {
            throw new IllegalArgumentException("ids: expected the ids given to forward, got null");
        }
        if (dOut.size() != (long) ids.length * dim || dOut.dim(dOut.rank() - 1) != dim) {
            throw new IllegalArgumentException("dOut: expected " + ids.length + " rows of " + dim + " (one per id), got "
                    + dOut.describe());
        }
        checkIds(ids);
    }

    /** {@code grad[idx[i], :] += dOut[i, :]} in order, of checked ids; the padding row stays zero. */
    private void addRows(Tensor idx, Tensor dOut) {
        device.engine().scatterAddRows((int) idx.size(), dim, idx.buffer(), 0, dOut.buffer(), 0, grad.buffer(), 0);
        if (padding != NO_PADDING) {
            device.engine().fill(grad.bufferForWrite(), (long) padding * dim, dim, 0f);
        }
    }

    private void check(int[] ids, int steps, int batch) {
        if (ids == null) {
            throw new IllegalArgumentException("ids: expected " + (long) steps * batch + " ids, got null");
        }
        if (steps < 0 || batch < 0 || ids.length != (long) steps * batch) {
            throw new IllegalArgumentException("ids: expected " + (long) steps * batch + " ids for [" + steps + ", "
                    + batch + "], got " + ids.length);
        }
        checkIds(ids);
    }

    private void checkIds(int[] ids) {
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocab) {
                throw new IllegalArgumentException("ids[" + i + "]: expected an id in [0, " + vocab + "), got " + ids[i]);
            }
        }
    }

    /** {@code weight} (PyTorch's name; the tensor is live). */
    @Override
    public Map<String, Tensor> parameters() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("weight", weight);
        return Collections.unmodifiableMap(m);
    }

    @Override
    public Map<String, Tensor> gradients() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("weight", grad);
        return Collections.unmodifiableMap(m);
    }

    @Override
    public void close() {
        try (ExclusiveUse.Held u = use.enter("close")) {
            weight.close();
            grad.close();
        }
    }

    @Override
    public String toString() {
        return "Embedding(" + vocab + ", " + dim + (padding == NO_PADDING ? "" : ", padding=" + padding) + ") on " + device;
    }
}
