package org.rnn4j.train;

import java.util.Arrays;
import org.rnn4j.Device;
import org.rnn4j.Tensor;
import org.rnn4j.engine.Engine;

/**
 * The output at each sample's last valid step, for sequence classification: {@link #gather} picks
 * sample b's step {@code len[b]−1} out of an output sequence, and {@link #scatter} is its backward,
 * putting {@code dLast[b, :]} back at that step with zeros elsewhere. (For a bidirectional layer the
 * reverse direction's summary of a sample is at step 0; {@code hN} holds both.)
 *
 * <p>The layout is always stated ({@code batchFirst}, as the layer's): a {@code [T, B, F]} and a
 * {@code [B, T, F]} tensor cannot be told apart by shape when {@code B == T}, and reading one as the
 * other would pick wrong rows without a word.
 */
public final class LastStep {
    private LastStep() {
    }

    /**
     * {@code last[b, :] = y[len[b] − 1, b, :]} (time-major) or {@code y[b, len[b] − 1, :]} (batch-first), a new
     * {@code [B, F]} tensor.
     *
     * @param y {@code [T, B, F]}, or {@code [B, T, F]} when {@code batchFirst}
     * @param lengths valid lengths in {@code [1, T]}, or {@code null} for all T
     */
    public static Tensor gather(Tensor y, int[] lengths, boolean batchFirst) {
        TrainChecks.usable("y", y, null);
        if (y.rank() != 3 || y.dim(batchFirst ? 1 : 0) < 1) {
            throw new IllegalArgumentException("y: expected shape " + layout(batchFirst) + " with T >= 1, got "
                    + Arrays.toString(y.shape()));
        }
        int steps = y.dim(batchFirst ? 1 : 0);
        int batch = y.dim(batchFirst ? 0 : 1);
        int features = y.dim(2);
        checkLengths(lengths, steps, batch, batchFirst);
        Device device = y.device();
        Engine engine = device.engine();
        Tensor last = Tensor.zeros(device, batch, features);
        try {
            if (lengths == null && !batchFirst) {
                engine.copy(y.buffer(), (long) (steps - 1) * batch * features, last.buffer(), 0, (long) batch * features);
            } else {
                for (int b = 0; b < batch; b++) {
                    int t = (lengths == null ? steps : lengths[b]) - 1;
                    long row = batchFirst ? (long) b * steps + t : (long) t * batch + b;
                    engine.copy(y.buffer(), row * features, last.buffer(), (long) b * features, features);
                }
            }
            return last;
        } catch (RuntimeException e) {
            last.close();
            throw e;
        }
    }

    /**
     * Backward of {@link #gather}: a new {@code [T, B, F]} (or batch-first {@code [B, T, F]}) tensor with
     * {@code dLast[b, :]} at step {@code len[b] − 1} of sample b and zeros elsewhere.
     */
    public static Tensor scatter(Tensor dLast, int[] lengths, int steps, boolean batchFirst) {
        TrainChecks.usable("dLast", dLast, null);
        TrainChecks.positive("steps", steps);
        if (dLast.rank() != 2) {
            throw new IllegalArgumentException("dLast: expected shape [B, F], got " + Arrays.toString(dLast.shape()));
        }
        int batch = dLast.dim(0);
        int features = dLast.dim(1);
        checkLengths(lengths, steps, batch, batchFirst);
        Device device = dLast.device();
        Engine engine = device.engine();
        Tensor dy = batchFirst ? Tensor.zeros(device, batch, steps, features) : Tensor.zeros(device, steps, batch, features);
        try {
            for (int b = 0; b < batch; b++) {
                int t = (lengths == null ? steps : lengths[b]) - 1;
                long row = batchFirst ? (long) b * steps + t : (long) t * batch + b;
                engine.copy(dLast.buffer(), (long) b * features, dy.buffer(), row * features, features);
            }
            return dy;
        } catch (RuntimeException e) {
            dy.close();
            throw e;
        }
    }

    private static String layout(boolean batchFirst) {
        return batchFirst ? "[B, T, F] (batch-first)" : "[T, B, F] (time-major)";
    }

    private static void checkLengths(int[] lengths, int steps, int batch, boolean batchFirst) {
        if (lengths == null) {
            return;
        }
        if (lengths.length != batch) {
            throw new IllegalArgumentException("lengths: expected " + batch + " entries (one per sample: B of "
                    + layout(batchFirst) + "), got " + lengths.length);
        }
        for (int b = 0; b < batch; b++) {
            if (lengths[b] < 1 || lengths[b] > steps) {
                throw new IllegalArgumentException("lengths[" + b + "]: expected a value in [1, " + steps + "] (T of "
                        + layout(batchFirst) + "), got " + lengths[b]);
            }
        }
    }
}
