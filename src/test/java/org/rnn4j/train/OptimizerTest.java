package org.rnn4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.rnn4j.train.TrainTestSupport.assertClose;

import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.rnn4j.Device;
import org.rnn4j.train.TrainTestSupport.Param;

/**
 * SGD, Adam and AdamW over three steps with given gradients, against PyTorch's update formulas written out
 * in double below. Tolerance: 1e-6 absolute + 1e-6 relative (the engines update in float32).
 */
class OptimizerTest {
    private static final float[] P0 = {0.5f, -1.0f, 2.0f, 0f};
    private static final float[][] GRADS = {
        {0.2f, -0.4f, 1.5f, 0f},
        {-0.1f, 0.3f, 0.5f, 1e-3f},
        {0.05f, 0.6f, -2.0f, -0.2f},
    };

    static List<Device> devices() {
        return TrainTestSupport.devices();
    }

    /** torch.optim.SGD(dampening=0): g += wd·p; buf = g (first) or μ·buf + g; g = nesterov ? g + μ·buf : buf; p −= lr·g. */
    private static double[] sgdReference(double lr, double mu, double wd, boolean nesterov) {
        double[] p = TrainTestSupport.toDouble(P0);
        double[] buf = new double[p.length];
        for (int k = 0; k < GRADS.length; k++) {
            for (int i = 0; i < p.length; i++) {
                double g = GRADS[k][i] + wd * p[i];
                if (mu != 0) {
                    buf[i] = k == 0 ? g : mu * buf[i] + g;
                    g = nesterov ? g + mu * buf[i] : buf[i];
                }
                p[i] -= lr * g;
            }
        }
        return p;
    }

    /**
     * torch.optim.Adam / AdamW: (AdamW) p −= lr·wd·p, or (Adam) g += wd·p; m = β1 m + (1−β1) g;
     * v = β2 v + (1−β2) g²; p −= lr · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε).
     */
    private static double[] adamReference(double lr, double b1, double b2, double eps, double wd, boolean decoupled) {
        double[] p = TrainTestSupport.toDouble(P0);
        double[] m = new double[p.length];
        double[] v = new double[p.length];
        for (int k = 0; k < GRADS.length; k++) {
            int t = k + 1;
            for (int i = 0; i < p.length; i++) {
                double g = GRADS[k][i];
                if (decoupled) {
                    p[i] -= lr * wd * p[i];
                } else {
                    g += wd * p[i];
                }
                m[i] = b1 * m[i] + (1 - b1) * g;
                v[i] = b2 * v[i] + (1 - b2) * g * g;
                p[i] -= lr * (m[i] / (1 - Math.pow(b1, t))) / (Math.sqrt(v[i] / (1 - Math.pow(b2, t))) + eps);
            }
        }
        return p;
    }

    private static float[] run(Device device, java.util.function.Function<List<Param>, Optimizer> make) {
        try (Param p = new Param(device, "w", P0.clone());
             Optimizer opt = make.apply(List.of(p))) {
            for (float[] g : GRADS) {
                opt.zeroGrad();
                p.grad.copyFrom(g);
                opt.step();
                // the gradient itself is not modified by the update
                assertClose("grad after step", g, p.grad.toHost(), 0, 0);
            }
            assertEquals(3, opt.steps());
            return p.value.toHost();
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void firstStepsByHand(Device device) {
        try (Param p = new Param(device, "w", new float[] {0.5f}); Sgd sgd = new Sgd(List.of(p), 0.1)) {
            p.grad.copyFrom(new float[] {0.2f});
            sgd.step();
            assertEquals(0.48, p.value.toHost()[0], 1e-7); // 0.5 − 0.1·0.2
        }
        try (Param p = new Param(device, "w", new float[] {0.5f}); Adam adam = new Adam(List.of(p), 0.01)) {
            p.grad.copyFrom(new float[] {0.2f});
            adam.step();
            // m̂ = g, v̂ = g²: p −= lr · g / (|g| + ε) = 0.5 − 0.01
            assertEquals(0.49, p.value.toHost()[0], 1e-7);
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void sgdMatchesPyTorchFormulas(Device device) {
        assertClose("plain", sgdReference(0.1, 0, 0, false),
                run(device, ps -> new Sgd(ps, 0.1)), 1e-6, 1e-6);
        assertClose("momentum+wd", sgdReference(0.1, 0.9, 0.01, false),
                run(device, ps -> new Sgd(ps, 0.1, 0.9, 0.01, false)), 1e-6, 1e-6);
        assertClose("nesterov", sgdReference(0.05, 0.8, 0, true),
                run(device, ps -> new Sgd(ps, 0.05, 0.8, 0, true)), 1e-6, 1e-6);
    }

    @ParameterizedTest
    @MethodSource("devices")
    void adamAndAdamWMatchPyTorchFormulas(Device device) {
        assertClose("adam", adamReference(0.01, 0.9, 0.999, 1e-8, 0, false),
                run(device, ps -> new Adam(ps, 0.01)), 1e-6, 1e-6);
        assertClose("adam+L2", adamReference(0.01, 0.8, 0.99, 1e-6, 0.1, false),
                run(device, ps -> new Adam(ps, 0.01, 0.8, 0.99, 1e-6, 0.1, false)), 1e-6, 1e-6);
        assertClose("adamW", adamReference(0.01, 0.9, 0.999, 1e-8, 0.01, true),
                run(device, ps -> Adam.adamW(ps, 0.01)), 1e-6, 1e-6);
        assertClose("adamW wd=0.5", adamReference(0.02, 0.9, 0.95, 1e-8, 0.5, true),
                run(device, ps -> new Adam(ps, 0.02, 0.9, 0.95, 1e-8, 0.5, true)), 1e-6, 1e-6);
    }

    @ParameterizedTest
    @MethodSource("devices")
    void learningRateChangesBetweenSteps(Device device) {
        try (Param p = new Param(device, "w", new float[] {1f}); Sgd sgd = new Sgd(List.of(p), 0.1)) {
            p.grad.copyFrom(new float[] {1f});
            sgd.step();
            sgd.setLearningRate(0.01);
            assertEquals(0.01, sgd.learningRate());
            sgd.step();
            assertEquals(1 - 0.1 - 0.01, p.value.toHost()[0], 1e-7);
            sgd.zeroGrad();
            assertEquals(0f, p.grad.toHost()[0]);
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void sharedTensorsAreUpdatedOnce(Device device) {
        try (Param p = new Param(device, "w", new float[] {1f}); Sgd sgd = new Sgd(List.of(p, p), 0.5)) {
            p.grad.copyFrom(new float[] {1f});
            sgd.step();
            assertEquals(0.5f, p.value.toHost()[0]);
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void badHyperparametersAreRefused(Device device) {
        try (Param p = new Param(device, "w", new float[] {1f})) {
            List<Param> ps = List.of(p);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Sgd(ps, -1));
            assertTrue(e.getMessage().startsWith("lr: expected"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> new Sgd(ps, 0.1, 1.0, 0, false));
            assertThrows(IllegalArgumentException.class, () -> new Sgd(ps, 0.1, 0, 0, true));
            e = assertThrows(IllegalArgumentException.class, () -> new Adam(ps, 0.1, 1.0, 0.999, 1e-8, 0, false));
            assertTrue(e.getMessage().startsWith("beta1: expected a value in [0, 1), got 1.0"), e.getMessage());
        }
    }
    /**
     * {@link Optimizer#setGlobalClipNorm} clips inside the step, on the device, with the bits of
     * {@link Clipping#clipGlobalNorm} before the step, over steps whose learning rate changes each time.
     */
    @ParameterizedTest
    @MethodSource("devices")
    void clippingInsideTheStepIsClipGlobalNormThenTheStep(Device device) {
        for (boolean adam : new boolean[] {true, false}) {
            try (Param p = new Param(device, "w", P0.clone()); Param q = new Param(device, "w", P0.clone());
                 Optimizer outside = adam ? new Adam(List.of(p), 0.01) : new Sgd(List.of(p), 0.1, 0.9, 0.01, false);
                 Optimizer inside = adam ? new Adam(List.of(q), 0.01) : new Sgd(List.of(q), 0.1, 0.9, 0.01, false)) {
                inside.setGlobalClipNorm(1.0);
                for (int step = 0; step < 6; step++) {
                    float[] g = GRADS[step % GRADS.length];
                    p.grad.copyFrom(g);
                    q.grad.copyFrom(g);
                    outside.setLearningRate(0.01 * (step + 1));
                    inside.setLearningRate(0.01 * (step + 1));
                    Clipping.clipGlobalNorm(List.of(p), 1.0);
                    outside.step();
                    inside.step();
                    assertArrayEquals(p.value.toHost(), q.value.toHost(), (adam ? "Adam" : "SGD") + ", step " + step);
                }
            }
        }
        try (Param p = new Param(device, "w", P0.clone()); Sgd sgd = new Sgd(List.of(p), 0.1)) {
            assertThrows(IllegalArgumentException.class, () -> sgd.setGlobalClipNorm(-1));
            assertThrows(IllegalArgumentException.class, () -> sgd.setGlobalClipNorm(Double.POSITIVE_INFINITY));
        }
    }
}
