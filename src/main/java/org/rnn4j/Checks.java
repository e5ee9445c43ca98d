package org.rnn4j;

import java.util.Arrays;

/** Argument checks at the API edge: each failure names the argument, what was expected and what was given. */
final class Checks {
    private Checks() {
    }

    /** An open float32 tensor on {@code device}. */
    static void usable(String name, Tensor t, Device device) {
        if (t == null) {
            throw new IllegalArgumentException(name + ": expected a tensor, got null");
        }
        if (t.isClosed()) {
            throw new IllegalStateException(name + ": expected an open tensor, got a closed one (" + t.describe() + ")");
        }
        if (!t.device().equals(device)) {
            throw new IllegalArgumentException(name + ": expected a tensor on " + device + ", got one on " + t.device());
        }
        if (t.dtype() != DType.F32) {
            throw new IllegalArgumentException(name + ": expected dtype F32, got " + t.dtype());
        }
    }

    /** A rank-3 sequence {@code [T, B, features]} (or {@code [B, T, features]}) with T, B ≥ 1. */
    static void sequence(String name, Tensor x, Device device, boolean batchFirst, int features) {
        usable(name, x, device);
        String layout = batchFirst ? "[B, T, " + features + "]" : "[T, B, " + features + "]";
        if (x.rank() != 3 || x.dim(2) != features || x.dim(0) < 1 || x.dim(1) < 1) {
            throw new IllegalArgumentException(name + ": expected shape " + layout + " with T, B >= 1, got "
                    + Arrays.toString(x.shape()));
        }
    }

    /** A copy of {@code lengths}, each in [1, steps], one per sample; {@code null} stays {@code null}. */
    static int[] lengths(int[] lengths, int steps, int batch) {
        if (lengths == null) {
            return null;
        }
        if (lengths.length != batch) {
            throw new IllegalArgumentException("lengths: expected " + batch + " entries (one per sample), got "
                    + lengths.length);
        }
        for (int b = 0; b < batch; b++) {
            if (lengths[b] < 1 || lengths[b] > steps) {
                throw new IllegalArgumentException("lengths[" + b + "]: expected a value in [1, " + steps + "], got "
                        + lengths[b]);
            }
        }
        return lengths.clone();
    }

    /** {@code null}, or a usable tensor of exactly this shape. */
    static void optionalShape(String name, Tensor t, Device device, int... shape) {
        if (t == null) {
            return;
        }
        usable(name, t, device);
        if (!Arrays.equals(t.shape(), shape)) {
            throw new IllegalArgumentException(name + ": expected shape " + Arrays.toString(shape) + ", got "
                    + Arrays.toString(t.shape()));
        }
    }

    /**
     * Refuses a sequence whose activations would not fit a tensor: training keeps {@code T+1} state slots
     * of {@code B} rows as wide as the widest of the gate block ({@code G·H}, or 4H of saved gate
     * activations), the input and the output.
     */
    static void activations(String name, Tensor x, int steps, int batch, RecurrentConfig cfg) {
        long width = Math.max(Math.max((long) cfg.cell().gates() * cfg.hiddenSize(), 4L * cfg.hiddenSize()),
                Math.max(cfg.inputSize(), cfg.outputSize()));
        long elements = (steps + 1L) * batch * width; // < 2^31 · 2^31 · 2^33: no overflow
        if (elements > Tensor.MAX_ELEMENTS) {
            throw new IllegalArgumentException(name + ": shape " + Arrays.toString(x.shape()) + " needs activation "
                    + "tensors of " + elements + " elements (" + elements * 4 + " bytes), more than a tensor holds ("
                    + Tensor.MAX_ELEMENTS + "); split the batch or the sequence (TruncatedBptt)");
        }
        long heap = Runtime.getRuntime().maxMemory();
        if (x.device().kind() == Device.Kind.CPU && 4 * elements > heap) {
            throw new IllegalArgumentException(name + ": shape " + Arrays.toString(x.shape()) + " needs activation "
                    + "tensors of " + 4 * elements + " bytes, more than the JVM's maximum heap (" + heap + " bytes); "
                    + "split the batch or the sequence (TruncatedBptt), or raise -Xmx");
        }
    }

    /** Refuses NaN and infinity ({@code null} passes). */
    static void finite(String name, Tensor t) {
        if (t != null && t.engine().hasNonFinite(t.size(), t.buffer(), 0)) {
            throw new IllegalArgumentException(name + ": expected finite values, got NaN or infinity");
        }
    }
}
