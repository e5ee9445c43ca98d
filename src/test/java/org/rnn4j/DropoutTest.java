package org.rnn4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.rnn4j.engine.Engine;
import org.rnn4j.reference.FiniteDifference;

/** Dropout between stacked layers: seeded, reproducible, inactive in eval mode, and differentiated exactly. */
class DropoutTest {
    private final Device cpu = Device.cpu();

    private RecurrentLayer layer(double p) {
        return Lstm.builder(3, 6).numLayers(3).dropout(p).seed(11).build(cpu);
    }

    private static float[] random(long seed, int n) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextDouble(-1, 1);
        }
        return v;
    }

    private float[] output(RecurrentLayer l, float[] x) {
        try (Tensor xt = Tensor.of(cpu, x, 4, 2, 3); ForwardResult r = l.forward(xt)) {
            return r.output().toHost();
        }
    }

    @Test
    void maskKeepsAboutOneMinusPAndScales() {
        Engine e = cpu.engine();
        int n = 200_000;
        try (Tensor ones = Tensor.zeros(cpu, n); Tensor out = Tensor.zeros(cpu, n)) {
            ones.fill(1f);
            e.dropout(n, 0.3f, null, 0, 99, ones.buffer(), 0, out.buffer(), 0);
            float[] v = out.toHost();
            long kept = Arrays.stream(toDoubles(v)).filter(d -> d != 0).count();
            assertEquals(0.7, kept / (double) n, 0.005, "kept fraction");
            for (float f : v) {
                assertTrue(f == 0f || f == 1f * (1f / 0.7f), "kept values are scaled by 1/(1-p), got " + f);
            }
        }
    }

    private static double[] toDoubles(float[] f) {
        return Devices.toDouble(f);
    }

    @Test
    void trainingRunsAreReproducibleAndMasksChangePerCall() {
        float[] x = random(1, 4 * 2 * 3);
        try (RecurrentLayer a = layer(0.5); RecurrentLayer b = layer(0.5)) {
            float[] a1 = output(a, x);
            float[] a2 = output(a, x);
            assertArrayEquals(a1, output(b, x), "same seed, same first mask");
            assertArrayEquals(a2, output(b, x), "same seed, same second mask");
            assertFalse(Arrays.equals(a1, a2), "a new training forward draws a new mask");
        }
    }

    @Test
    void evalModeAppliesNoDropout() {
        float[] x = random(2, 4 * 2 * 3);
        try (RecurrentLayer dropped = layer(0.5); RecurrentLayer plain = layer(0)) {
            assertArrayEquals(output(plain.eval(), x), output(dropped.eval(), x));
        }
    }

    /**
     * Backward regenerates the mask from the seed: the analytic input gradient matches central differences
     * of fresh layers (each sees the first mask). Float32 differences with step 1e-2: atol 2e-3 + rtol 2e-2.
     */
    @Test
    void gradientMatchesFiniteDifferences() {
        float[] x = random(3, 4 * 2 * 3);
        float[] wy = random(4, 4 * 2 * 6);
        float[] dx;
        try (RecurrentLayer l = layer(0.4); Tensor xt = Tensor.of(cpu, x, 4, 2, 3); ForwardResult r = l.forward(xt);
             Tensor dY = Tensor.of(cpu, wy, 4, 2, 6); BackwardResult g = l.backward(r, dY, null, null)) {
            dx = g.dX().toHost();
        }
        double[] fd = FiniteDifference.gradient(v -> loss(Devices.toFloat(v), wy), Devices.toDouble(x), 1e-2);
        Close.assertClose("dX with dropout", fd, dx, 2e-3, 2e-2);
    }

    private double loss(float[] x, float[] wy) {
        try (RecurrentLayer l = layer(0.4)) {
            float[] y = output(l, x);
            double s = 0;
            for (int i = 0; i < y.length; i++) {
                s += (double) y[i] * wy[i];
            }
            return s;
        }
    }
}
