package org.rnn4j.train;

import java.util.List;
import org.rnn4j.DType;
import org.rnn4j.HasParameters;
import org.rnn4j.Tensor;
import org.rnn4j.engine.Buffer;
import org.rnn4j.engine.Engine;

/**
 * Gradient clipping in place, on the gradients' devices: by global norm (PyTorch's
 * {@code clip_grad_norm_}) and by value ({@code clip_grad_value_}). Only the norm comes back to the host (and
 * not even that where the optimizer clips: {@link Optimizer#setGlobalClipNorm}).
 */
public final class Clipping {
    private Clipping() {
    }

    /**
     * The L2 norm of all gradients together, {@code √(Σ g²)} (each tensor once).
     */
    public static double globalNorm(List<? extends HasParameters> modules) {
        return Math.sqrt(sumOfSquares(ParameterSet.collect(modules)));
    }

    /**
     * {@code Σ g²} over all gradients, tensor by tensor in order: one {@link Engine#sumSquares(Buffer[], long[])}
     * (one host synchronize) when they share an engine, as they do in one model. The sum is in double, so it is
     * finite exactly when every element is (float's largest square, about 1.2e77, is far from double's range).
     */
    private static double sumOfSquares(List<ParameterSet.Pair> pairs) {
        if (pairs.isEmpty()) {
            return 0;
        }
        Engine engine = pairs.get(0).grad().engine();
        Buffer[] xs = new Buffer[pairs.size()];
        long[] sizes = new long[pairs.size()];
        boolean shared = true;
        for (int i = 0; i < pairs.size(); i++) {
            Tensor x = pairs.get(i).grad();
            shared &= x.engine() == engine;
            xs[i] = x.buffer();
            sizes[i] = x.size();
        }
        if (shared) {
            return engine.sumSquares(xs, sizes);
        }
        double sum = 0;
        for (ParameterSet.Pair p : pairs) {
            Tensor x = p.grad();
            sum += x.engine().sumSquares(x.size(), x.buffer(), 0);
        }
        return sum;
    }

    /**
     * Scales all gradients by {@code maxNorm / (norm + 1e-6)} when that is below 1, as PyTorch's
     * {@code clip_grad_norm_}. When the norm is NaN or infinite the gradients are left unchanged (check the
     * returned value and skip the step).
     *
     * @param maxNorm > 0
     * @return the total norm before clipping
     */
    public static double clipGlobalNorm(List<? extends HasParameters> modules, double maxNorm) {
        if (!(maxNorm > 0) || Double.isInfinite(maxNorm)) {
            throw new IllegalArgumentException("maxNorm: expected a finite value > 0, got " + maxNorm);
        }
        List<ParameterSet.Pair> pairs = ParameterSet.collect(modules);
        if (pairs.isEmpty()) {
            return 0;
        }
        Engine engine = pairs.get(0).grad().engine();
        Buffer[] grads = new Buffer[pairs.size()];
        long[] sizes = new long[pairs.size()];
        boolean shared = true;
        for (int i = 0; i < grads.length; i++) {
            shared &= pairs.get(i).grad().engine() == engine;
            grads[i] = pairs.get(i).grad().bufferForWrite();
            sizes[i] = pairs.get(i).grad().size();
        }
        if (shared) {   // on the device, then one read of the norm
            try (Buffer work = engine.allocate(DType.I32, Engine.clipWorkInts(grads.length))) {
                engine.clipGlobalNorm(grads, sizes, maxNorm, work);
                return engine.readGlobalNorm(work);
            }
        }
        double norm = Math.sqrt(sumOfSquares(pairs));
        if (!Double.isFinite(norm)) {
            return norm;
        }
        double coef = maxNorm / (norm + 1e-6);
        if (coef < 1) {
            for (ParameterSet.Pair p : pairs) {
                // g = coef · g  (element-wise in place)
                p.grad().engine().axpby(p.grad().size(), (float) coef, p.grad().buffer(), 0, 0f, p.grad().bufferForWrite(), 0);
            }
        }
        return norm;
    }

    /**
     * Clamps every gradient element to {@code [−clip, clip]}.
     *
     * @param clip > 0
     */
    public static void clipValue(List<? extends HasParameters> modules, double clip) {
        if (!(clip > 0)) {
            throw new IllegalArgumentException("clip: expected a value > 0, got " + clip);
        }
        for (ParameterSet.Pair p : ParameterSet.collect(modules)) {
            p.grad().engine().clamp(p.grad().size(), p.grad().bufferForWrite(), 0, (float) -clip, (float) clip);
        }
    }
}
