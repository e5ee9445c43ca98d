package org.rnn4j.reference;

import java.util.function.ToDoubleFunction;

/**
 * Central finite differences in double precision, the harness of the gradient checks:
 * {@code dF/da_i ≈ (F(a + h e_i) − F(a − h e_i)) / 2h}. With h = 1e-6 and double arithmetic the error is
 * about h²·F'''/6 (truncation, ~1e-13) plus ε·|F|/h (rounding, ~1e-10 for |F| ~ 1), so it resolves
 * gradients to ~1e-8 absolute, far below float32 engine error.
 */
public final class FiniteDifference {
    /** Default step. */
    public static final double STEP = 1e-6;

    private FiniteDifference() {
    }

    /** The gradient of {@code f} at {@code at} with step {@link #STEP}; {@code at} is left unchanged. */
    public static double[] gradient(ToDoubleFunction<double[]> f, double[] at) {
        return gradient(f, at, STEP);
    }

    /**
     * The gradient of {@code f} at {@code at}. {@code f} receives a perturbed copy of {@code at} (one
     * coordinate moved by ±step) and must not keep it; {@code at} itself is never modified.
     */
    public static double[] gradient(ToDoubleFunction<double[]> f, double[] at, double step) {
        double[] a = at.clone();
        double[] g = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            double orig = a[i];
            a[i] = orig + step;
            double plus = f.applyAsDouble(a);
            a[i] = orig - step;
            double minus = f.applyAsDouble(a);
            a[i] = orig;
            g[i] = (plus - minus) / (2 * step);
        }
        return g;
    }

    /**
     * The scalar loss of the conformance vectors: {@code L = Σ y·wy + Σ hN·wh + Σ cN·wc}; {@code wc} is
     * ignored (may be null) when the result has no cell state. So dL/dy = wy, dL/dhN = wh, dL/dcN = wc,
     * which is how an engine's backward is fed to compare against these gradients.
     */
    public static double loss(ReferenceRnn.Result r, double[] wy, double[] wh, double[] wc) {
        double l = dot(r.y(), wy) + dot(r.hN(), wh);
        if (r.cN() != null) {
            l += dot(r.cN(), wc);
        }
        return l;
    }

    private static double dot(double[] a, double[] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException("loss weights: expected " + a.length + " elements, got " + b.length);
        }
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }
}
