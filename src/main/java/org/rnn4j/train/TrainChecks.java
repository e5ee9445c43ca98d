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

    /** Product of all dimensions but the last. */
    static int leadingRows(Tensor t) {
        long rows = 1;
        for (int i = 0; i < t.rank() - 1; i++) {
            rows *= t.dim(i);
        }
        return Math.toIntExact(rows);
    }
}
