package org.rnn4j.train;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.rnn4j.Device;
import org.rnn4j.HasParameters;
import org.rnn4j.Tensor;
import org.rnn4j.engine.Engine;
import org.rnn4j.engine.ExclusiveUse;

/**
 * A fully connected layer, PyTorch's {@code nn.Linear}: {@code y = x·Wᵀ + b} with {@code weight}
 * {@code [out, in]} and {@code bias} {@code [out]}, initialised uniform in ±1/√in (seeded). The input
 * may have any leading dimensions ({@code [..., in]}, rank ≥ 2), which are flattened into rows: an
 * output head applies it to every timestep of a {@code [T, B, F]} sequence at once.
 *
 * <p>Forward is one GEMM, plus a rank-1 GEMM {@code ones[rows,1]·b[1,out]} for the bias; backward is
 * two GEMMs and a {@code sumRows}. Parameter gradients accumulate until {@link #zeroGrad()}.
 * Not thread-safe: a call overlapping another one on the same layer fails with an
 * {@link IllegalStateException} naming both threads.
 */
public final class Linear implements HasParameters, AutoCloseable {

    private final int in;
    private final int out;
    private final Device device;
    private final Engine engine;
    private final Tensor weight;
    private final Tensor bias;
    private final Tensor gradWeight;
    private final Tensor gradBias;
    private final Map<String, Tensor> params = new LinkedHashMap<>();
    private final Map<String, Tensor> grads = new LinkedHashMap<>();
    /** A column of ones for the bias broadcast, grown on demand. */
    private Tensor ones;
    private boolean closed;
    private final ExclusiveUse use = new ExclusiveUse(this);
    /** The parameters' write versions when forward last ran (backward refuses others), or null before. */
    private long[] versionsAtForward;

    /**
     * @param in input features, ≥ 1
     * @param out output features, ≥ 1
     * @param bias whether there is a {@code bias} parameter
     * @param seed seeds the initial weights
     */
    public Linear(int in, int out, boolean bias, long seed, Device device) {
        TrainChecks.positive("in", in);
        TrainChecks.positive("out", out);
        if (device == null) {
            throw new IllegalArgumentException("device: expected a device, got null");
        }
        if ((long) in * out > Tensor.MAX_ELEMENTS) {
            throw new IllegalArgumentException("in=" + in + ", out=" + out + ": the weight [out, in] has " + (long) in * out
                    + " elements (" + 4L * in * out + " bytes), more than a tensor holds (" + Tensor.MAX_ELEMENTS + ")");
        }
        this.in = in;
        this.out = out;
        this.device = device;
        this.engine = device.engine();
        // each tensor is registered as soon as it exists, so a failed allocation frees the ones before it
        try {
            this.weight = register(params, "weight", out, in);
            this.gradWeight = register(grads, "weight", out, in);
            this.bias = bias ? register(params, "bias", out) : null;
            this.gradBias = bias ? register(grads, "bias", out) : null;
            resetParameters(seed);
        } catch (RuntimeException e) {
            params.values().forEach(Tensor::close);
            grads.values().forEach(Tensor::close);
            throw e;
        }
    }

    private Tensor register(Map<String, Tensor> into, String name, int... shape) {
        Tensor t = Tensor.zeros(device, shape);
        into.put(name, t);
        return t;
    }

    /** Re-draws the weights (then the bias) uniformly in ±1/√in from {@code seed}, as PyTorch's defaults. */
    public void resetParameters(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        double bound = 1.0 / Math.sqrt(in);
        for (Tensor p : params.values()) {
            float[] v = new float[Math.toIntExact(p.size())];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) rnd.nextDouble(-bound, bound);
            }
            p.copyFrom(v);
        }
    }

    /** {@code module=Linear}, {@code in_features}, {@code out_features} (shapes already say them; a reader sees the kind). */
    @Override
    public Map<String, String> configMetadata() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("module", "Linear");
        m.put("in_features", Integer.toString(inFeatures()));
        m.put("out_features", Integer.toString(outFeatures()));
        return m;
    }

    /** Zeroes the gradients (guarded like forward and backward: never while another thread is in one). */
    @Override
    public void zeroGrad() {
        requireOpen();
        try (ExclusiveUse.Held u = use.enter("zeroGrad")) {
            HasParameters.super.zeroGrad();
        }
    }

    public int inFeatures() {
        return in;
    }

    public int outFeatures() {
        return out;
    }

    public Device device() {
        return device;
    }

    /** {@code weight} and, when present, {@code bias} (PyTorch's names; the tensors are live). */
    @Override
    public Map<String, Tensor> parameters() {
        return Collections.unmodifiableMap(params);
    }

    @Override
    public Map<String, Tensor> gradients() {
        return Collections.unmodifiableMap(grads);
    }

    /**
     * {@code y[..., out] = x[..., in]·Wᵀ + b}; a new tensor with the same leading dimensions, owned by the caller.
     *
     * @param x {@code [..., in]}, rank ≥ 2
     */
    public Tensor forward(Tensor x) {
        requireOpen();
        try (ExclusiveUse.Held u = use.enter("forward")) {
            return forwardUnguarded(x);
        }
    }

    private Tensor forwardUnguarded(Tensor x) {
        checkInput("x", x, in);
        versionsAtForward = Tensor.versionsForReading(this, params, "forward");
        int rows = TrainChecks.leadingRows(x);
        if ((long) rows * out > Tensor.MAX_ELEMENTS) {
            throw new IllegalArgumentException("x: " + rows + " rows of " + Arrays.toString(x.shape()) + " give an output of "
                    + (long) rows * out + " elements (" + 4L * rows * out + " bytes), more than a tensor holds ("
                    + Tensor.MAX_ELEMENTS + ")");
        }
        int[] shape = x.shape();
        shape[shape.length - 1] = out;
        Tensor y = Tensor.zeros(device, shape);
        try {
            if (rows == 0) {
                return y;
            }
            // y[rows, out] = x[rows, in] · Wᵀ
            engine.gemm(false, true, rows, out, in, 1f, x.buffer(), 0, in, weight.buffer(), 0, in,
                    0f, y.buffer(), 0, out);
            if (bias != null) {
                // y[rows, out] += ones[rows, 1] · b[1, out]
                engine.gemm(false, false, rows, out, 1, 1f, ones(rows).buffer(), 0, 1, bias.buffer(), 0, out,
                        1f, y.buffer(), 0, out);
            }
            Tensor.requireVersions(this, params, versionsAtForward, "forward");
            return y;
        } catch (RuntimeException e) {
            y.close();
            throw e;
        }
    }

    /**
     * Backward of {@link #forward}: returns {@code dX = dY·W} (a new tensor shaped like {@code x}) and adds
     * {@code dYᵀ·x} to the weight gradient and the column sums of {@code dY} to the bias gradient.
     *
     * @param x the input given to forward, {@code [..., in]}
     * @param dY the gradient of the output, {@code [..., out]} with the same leading dimensions
     */
    public Tensor backward(Tensor x, Tensor dY) {
        requireOpen();
        try (ExclusiveUse.Held u = use.enter("backward")) {
            return backwardUnguarded(x, dY);
        }
    }

    private Tensor backwardUnguarded(Tensor x, Tensor dY) {
        checkInput("x", x, in);
        checkInput("dY", dY, out);
        if (versionsAtForward != null && !Arrays.equals(versionsAtForward, Tensor.versionsForReading(this, params, "backward"))) {
            throw new IllegalStateException(this + ": the weights were written since the last forward (an optimizer "
                    + "step, a checkpoint load, copyFrom or fill); backward would take dX from the new weights. "
                    + "Run forward again");
        }
        int rows = TrainChecks.leadingRows(x);
        int[] expected = x.shape();
        expected[expected.length - 1] = out;
        if (!Arrays.equals(expected, dY.shape())) {
            throw new IllegalArgumentException("dY: expected shape " + Arrays.toString(expected)
                    + " (x's leading dimensions, out=" + out + "), got " + Arrays.toString(dY.shape()));
        }
        Tensor dX = Tensor.zeros(device, x.shape());
        try {
            if (rows == 0) {
                return dX;
            }
            // dX[rows, in] = dY[rows, out] · W[out, in]
            engine.gemm(false, false, rows, in, out, 1f, dY.buffer(), 0, out, weight.buffer(), 0, in,
                    0f, dX.buffer(), 0, in);
            // dW[out, in] += dYᵀ[out, rows] · x[rows, in]
            engine.gemm(true, false, out, in, rows, 1f, dY.buffer(), 0, out, x.buffer(), 0, in,
                    1f, gradWeight.buffer(), 0, in);
            if (gradBias != null) {
                // db[out] += Σ_rows dY[rows, out]
                engine.sumRows(rows, out, dY.buffer(), 0, out, gradBias.buffer(), 0);
            }
            if (versionsAtForward != null) {
                Tensor.requireVersions(this, params, versionsAtForward, "backward");
            }
            return dX;
        } catch (RuntimeException e) {
            dX.close();
            throw e;
        }
    }

    private void checkInput(String name, Tensor t, int features) {
        TrainChecks.usable(name, t, device);
        if (t.rank() < 2 || t.dim(t.rank() - 1) != features) {
            throw new IllegalArgumentException(name + ": expected shape [..., " + features + "] of rank >= 2, got "
                    + Arrays.toString(t.shape()));
        }
    }

    private Tensor ones(int rows) {
        if (ones == null || ones.size() < rows) {
            if (ones != null) {
                ones.close();
                ones = null;
            }
            Tensor t = Tensor.zeros(device, rows);
            t.fill(1f);
            ones = t;
        }
        return ones;
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("Linear(" + in + " -> " + out + ") is closed");
        }
    }

    /** Releases the parameters, gradients and workspace. */
    @Override
    public void close() {
        closed = true;
        for (Tensor t : params.values()) {
            t.close();
        }
        for (Tensor t : grads.values()) {
            t.close();
        }
        if (ones != null) {
            ones.close();
        }
    }

    @Override
    public String toString() {
        return "Linear(" + in + " -> " + out + (bias == null ? ", no bias" : "") + ") on " + device;
    }
}
