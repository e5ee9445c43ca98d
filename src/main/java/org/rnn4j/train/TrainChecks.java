package org.rnn4j.train;

import java.util.Arrays;
import org.rnn4j.DType;
import org.rnn4j.Device;
import org.rnn4j.Tensor;

/** Argument checks of the training toolkit: each failure names the argument, what was expected and what was given. */
final class TrainChecks {
    private TrainChecks() {
    }

    /** An open float32 tensor, on {@code device} when that is not {@code null}. */
    static void usable(String name, Tensor t, Device device) {
        if (t == null) {
            throw new IllegalArgumentException(name + ": expected a tensor, got null");
        }
        if (t.isClosed()) {
            throw new IllegalStateException(name + ": expected an open tensor, got a closed one (" + t.describe() + ")");
        }
        if (device != null && !t.device().equals(device)) {
            throw new IllegalArgumentException(name + ": expected a tensor on " + device + ", got one on " + t.device());
        }
        if (t.dtype() != DType.F32) {
            throw new IllegalArgumentException(name + ": expected dtype F32, got " + t.dtype());
        }
    }

    static void shape(String name, Tensor t, Device device, int... shape) {
        usable(name, t, device);
        if (!Arrays.equals(t.shape(), shape)) {
            throw new IllegalArgumentException(name + ": expected shape " + Arrays.toString(shape) + ", got "
                    + Arrays.toString(t.shape()));
        }
    }

    static void positive(String name, int value) {
        if (value < 1) {
            throw new IllegalArgumentException(name + ": expected >= 1, got " + value);
        }
    }

    static void nonNegative(String name, double value) {
        if (!(value >= 0) || Double.isInfinite(value)) {
            throw new IllegalArgumentException(name + ": expected a finite value >= 0, got " + value);
        }
    }

    /**
     * An optimizer setting ≥ 0 that the update will use as float32: refused when it is not finite there
     * (above 3.4e38) or rounds to 0 (below 1.4e-45), which would ruin or freeze every parameter.
     */
    static float nonNegativeFloat(String name, double value) {
        nonNegative(name, value);
        float f = (float) value;
        if (Float.isInfinite(f) || (value > 0 && f == 0)) {
            throw new IllegalArgumentException(name + ": expected a value >= 0 that float32 holds (0 or "
                    + Float.MIN_VALUE + " to " + Float.MAX_VALUE + "), got " + value + ", which is " + f + " as float32");
        }
        return f;
    }

    /** A decay factor in [0, 1) as float32 (1 − 1e-9 is 1.0 there). */
    static float unitFloat(String name, double value) {
        if (!(value >= 0 && (float) value < 1)) {
            throw new IllegalArgumentException(name + ": expected a value in [0, 1), got " + value
                    + ((value >= 0 && value < 1) ? ", which is " + (float) value + " as float32 (the update's precision)" : ""));
        }
        return (float) value;
    }

    /** Product of all dimensions but the last. */
    static int leadingRows(Tensor t) {
        long rows = 1;
        for (int i = 0; i < t.rank() - 1; i++) {
            rows *= t.dim(i);
        }
        return Math.toIntExact(rows);
    }
}
