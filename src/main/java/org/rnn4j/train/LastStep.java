package org.rnn4j.train;

import java.util.Arrays;
import org.rnn4j.Device;
import org.rnn4j.Tensor;
import org.rnn4j.engine.Engine;

/**
 * The output at each sample's last valid step, for sequence classification: {@link #gather} picks
 * {@code y[len[b]−1, b, :]} out of a time-major {@code [T, B, F]} output, and {@link #scatter} is its
 * backward, putting {@code dLast[b, :]} back at that step with zeros elsewhere. (For a bidirectional
 * layer the reverse direction's summary of a sample is at step 0; {@code hN} holds both.)
 */
public final class LastStep {
    private LastStep() {
    }

    /**
     * {@code last[b, :] = y[len[b] − 1, b, :]}, a new {@code [B, F]} tensor.
     *
     * @param y {@code [T, B, F]}, time-major
     * @param lengths valid lengths in {@code [1, T]}, or {@code null} for all T
     */
    public static Tensor gather(Tensor y, int[] lengths) {
        TrainChecks.usable("y", y, null);
        if (y.rank() != 3) {
            throw new IllegalArgumentException("y: expected shape [T, B, F] (time-major), got " + Arrays.toString(y.shape()));
        }
        int steps = y.dim(0);
        int batch = y.dim(1);
        int features = y.dim(2);
        checkLengths(lengths, steps, batch);
        Device device = y.device();
        Engine engine = device.engine();
        Tensor last = Tensor.zeros(device, batch, features);
        try {
            if (lengths == null) {
                engine.copy(y.buffer(), (long) (steps - 1) * batch * features, last.buffer(), 0, (long) batch * features);
            } else {
                for (int b = 0; b < batch; b++) {
                    long src = ((long) (lengths[b] - 1) * batch + b) * features;
                    engine.copy(y.buffer(), src, last.buffer(), (long) b * features, features);
                }
            }
            return last;
        } catch (RuntimeException e) {
            last.close();
            throw e;
        }
    }

    /**
     * Backward of {@link #gather}: a new {@code [T, B, F]} tensor with {@code dLast[b, :]} at step
     * {@code len[b] − 1} of sample b and zeros elsewhere.
     */
    public static Tensor scatter(Tensor dLast, int[] lengths, int steps) {
        TrainChecks.usable("dLast", dLast, null);
        TrainChecks.positive("steps", steps);
        if (dLast.rank() != 2) {
            throw new IllegalArgumentException("dLast: expected shape [B, F], got " + Arrays.toString(dLast.shape()));
        }
        int batch = dLast.dim(0);
        int features = dLast.dim(1);
        checkLengths(lengths, steps, batch);
        Device device = dLast.device();
        Tensor dy = Tensor.zeros(device, steps, batch, features);
        try (Tensor len = lengths == null ? null : Tensor.ofInts(device, lengths, batch)) {
            // dy[t, b, :] = (t == len[b] − 1 ? dLast[b, :] : 0)
            device.engine().seedStateGrad(steps, batch, features, len == null ? null : len.buffer(),
                    null, 0, features, dLast.buffer(), 0, dy.buffer(), 0);
            return dy;
        } catch (RuntimeException e) {
            dy.close();
            throw e;
        }
    }

    private static void checkLengths(int[] lengths, int steps, int batch) {
        if (lengths == null) {
            return;
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
    }
}
