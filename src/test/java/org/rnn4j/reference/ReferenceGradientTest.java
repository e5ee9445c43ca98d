package org.rnn4j.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Validates the gradient-check harness: central finite differences ({@link FiniteDifference}) of the
 * reference forward's loss {@code L = Σ y·wy + Σ hN·wh + Σ cN·wc} match PyTorch's autograd gradients
 * stored in the conformance vectors, for x, h0, c0 and every parameter. Engines' backward passes are then
 * checked against the same FD gradients or these stored ones.
 */
class ReferenceGradientTest {

    static List<ConformanceCase> cases() {
        return ConformanceCase.all();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void lossMatchesTorch(ConformanceCase c) {
        // Tolerance: 1e-10 relative (float64 on both sides, only the summation order differs).
        double l = FiniteDifference.loss(c.referenceForward(), c.wy(), c.wh(), c.wc());
        assertEquals(c.loss(), l, 1e-10 * Math.max(1, Math.abs(c.loss())), c + ": loss");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void finiteDifferencesMatchTorchGradients(ConformanceCase c) {
        assertTrue(c.grads().containsKey("x") && c.grads().size() == c.params().size() + 1
                + (c.h0() != null ? 1 : 0) + (c.c0() != null ? 1 : 0), c + ": gradient set");
        for (Map.Entry<String, double[]> e : c.grads().entrySet()) {
            String name = e.getKey();
            double[] fd = FiniteDifference.gradient(lossAsFunctionOf(c, name), tensor(c, name));
            // Tolerance: |fd − torch| ≤ 1e-6·|torch| + 1e-8. Central differences with h = 1e-6 in double
            // carry ~1e-13 truncation and ~1e-10 rounding error (|L| ~ 1..10), so 1e-8 absolute is ample
            // while any wrong term in a gradient (>= 1e-4 here) would fail.
            ReferenceConformanceTest.assertClose(c + " dL/d" + name, e.getValue(), fd, 1e-6, 1e-8);
        }
    }

    @Test
    void finiteDifferenceOfKnownFunction() {
        // f(a) = a0^3 + sin(a1)·a0; exact gradient (3a0^2 + sin a1, a0 cos a1). Tolerance 1e-8 absolute
        // (h = 1e-6: truncation h^2·f'''/6 ~ 1e-12, rounding ~1e-10).
        double[] at = {0.7, -1.3};
        double[] g = FiniteDifference.gradient(a -> a[0] * a[0] * a[0] + Math.sin(a[1]) * a[0], at);
        assertEquals(3 * 0.49 + Math.sin(-1.3), g[0], 1e-8);
        assertEquals(0.7 * Math.cos(-1.3), g[1], 1e-8);
        assertEquals(0.7, at[0]);
        assertEquals(-1.3, at[1]);
    }

    private static double[] tensor(ConformanceCase c, String name) {
        return switch (name) {
            case "x" -> c.x();
            case "h0" -> c.h0();
            case "c0" -> c.c0();
            default -> c.params().get(name);
        };
    }

    /** L as a function of one tensor (by its gradient name), every other input held at the case's values. */
    private static ToDoubleFunction<double[]> lossAsFunctionOf(ConformanceCase c, String name) {
        return v -> {
            double[] x = name.equals("x") ? v : c.x();
            double[] h0 = name.equals("h0") ? v : c.h0();
            double[] c0 = name.equals("c0") ? v : c.c0();
            Map<String, double[]> p = c.params();
            if (p.containsKey(name)) {
                p = new LinkedHashMap<>(p);
                p.put(name, v);
            }
            ReferenceRnn.Result r = ReferenceRnn.forward(c.config(), p, x, c.steps(), c.batch(), c.lengths(),
                    h0, c0, false, 0L);
            return FiniteDifference.loss(r, c.wy(), c.wh(), c.wc());
        };
    }
}
