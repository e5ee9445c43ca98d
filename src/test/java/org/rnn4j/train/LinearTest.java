package org.rnn4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.rnn4j.train.TrainTestSupport.assertClose;
import static org.rnn4j.train.TrainTestSupport.uniform;

import java.util.List;
import java.util.function.ToDoubleFunction;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.rnn4j.Device;
import org.rnn4j.Tensor;
import org.rnn4j.reference.FiniteDifference;

/** Linear forward and backward against a double computation and central finite differences. Tolerances: 1e-5 abs + 1e-5 rel (float32 GEMM). */
class LinearTest {

    static List<Device> devices() {
        return TrainTestSupport.devices();
    }

    /** y[r, o] = Σ_i x[r, i]·W[o, i] + b[o], in double. */
    private static double[] reference(double[] x, double[] w, double[] b, int rows, int in, int out) {
        double[] y = new double[rows * out];
        for (int r = 0; r < rows; r++) {
            for (int o = 0; o < out; o++) {
                double s = b == null ? 0 : b[o];
                for (int i = 0; i < in; i++) {
                    s += x[r * in + i] * w[o * in + i];
                }
                y[r * out + o] = s;
            }
        }
        return y;
    }

    @ParameterizedTest
    @MethodSource("devices")
    void handComputedForward(Device device) {
        try (Linear lin = new Linear(2, 3, true, 1, device)) {
            lin.parameters().get("weight").copyFrom(new float[] {1, 2, 3, 4, 5, 6});
            lin.parameters().get("bias").copyFrom(new float[] {0.5f, -1, 2});
            try (Tensor x = Tensor.of(device, new float[] {1, -1, 2, 0.5f}, 2, 2);
                 Tensor y = lin.forward(x)) {
                assertArrayEquals(new int[] {2, 3}, y.shape());
                // row 0: [1-2+0.5, 3-4-1, 5-6+2]; row 1: [2+1+0.5, 6+2-1, 10+3+2]
                assertArrayEquals(new float[] {-0.5f, -2, 1, 3.5f, 7, 15}, y.toHost(), 0f);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void forwardOverLeadingDimsMatchesDouble(Device device) {
        int t = 3, b = 4, in = 5, out = 7;
        try (Linear lin = new Linear(in, out, true, 42, device);
             Tensor x = Tensor.of(device, uniform(1, t * b * in, -1, 1), t, b, in);
             Tensor y = lin.forward(x)) {
            assertArrayEquals(new int[] {t, b, out}, y.shape());
            double[] want = reference(TrainTestSupport.toDouble(x.toHost()),
                    TrainTestSupport.toDouble(lin.parameters().get("weight").toHost()),
                    TrainTestSupport.toDouble(lin.parameters().get("bias").toHost()), t * b, in, out);
            assertClose("y", want, y.toHost(), 1e-5, 1e-5);
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void initIsUniformWithinPyTorchBound(Device device) {
        try (Linear lin = new Linear(16, 8, true, 7, device)) {
            double bound = 1 / Math.sqrt(16);
            for (Tensor p : lin.parameters().values()) {
                for (float v : p.toHost()) {
                    assertTrue(Math.abs(v) <= bound, "within ±1/sqrt(in)");
                }
            }
            assertEquals(List.of("weight", "bias"), List.copyOf(lin.parameters().keySet()));
        }
        try (Linear noBias = new Linear(3, 2, false, 7, device)) {
            assertEquals(List.of("weight"), List.copyOf(noBias.parameters().keySet()));
        }
    }

    /** L = Σ y·c for fixed c: dL/dy = c, so backward(x, c) must give the finite-difference gradients. */
    @ParameterizedTest
    @MethodSource("devices")
    void backwardMatchesFiniteDifferences(Device device) {
        int rows = 6, in = 4, out = 3;
        float[] xv = uniform(3, rows * in, -1, 1);
        float[] cv = uniform(4, rows * out, -1, 1);
        try (Linear lin = new Linear(in, out, true, 9, device);
             Tensor x = Tensor.of(device, xv, 2, 3, in);
             Tensor c = Tensor.of(device, cv, 2, 3, out)) {
            double[] w = TrainTestSupport.toDouble(lin.parameters().get("weight").toHost());
            double[] b = TrainTestSupport.toDouble(lin.parameters().get("bias").toHost());
            double[] xd = TrainTestSupport.toDouble(xv);
            double[] cd = TrainTestSupport.toDouble(cv);
            ToDoubleFunction<double[]> lossOfX = xa -> dot(reference(xa, w, b, rows, in, out), cd);
            ToDoubleFunction<double[]> lossOfW = wa -> dot(reference(xd, wa, b, rows, in, out), cd);
            ToDoubleFunction<double[]> lossOfB = ba -> dot(reference(xd, w, ba, rows, in, out), cd);
            // twice: the parameter gradients accumulate
            try (Tensor dx = lin.backward(x, c)) {
                assertArrayEquals(x.shape(), dx.shape());
                assertClose("dX", FiniteDifference.gradient(lossOfX, xd), dx.toHost(), 1e-5, 1e-5);
            }
            lin.backward(x, c).close();
            double[] dw = FiniteDifference.gradient(lossOfW, w);
            double[] db = FiniteDifference.gradient(lossOfB, b);
            for (int i = 0; i < dw.length; i++) {
                dw[i] *= 2;
            }
            for (int i = 0; i < db.length; i++) {
                db[i] *= 2;
            }
            assertClose("2·dW", dw, lin.gradients().get("weight").toHost(), 1e-5, 1e-5);
            assertClose("2·db", db, lin.gradients().get("bias").toHost(), 1e-5, 1e-5);
            lin.zeroGrad();
            assertArrayEquals(new float[out], lin.gradients().get("bias").toHost(), 0f);
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void argumentsAreChecked(Device device) {
        try (Linear lin = new Linear(4, 2, true, 1, device);
             Tensor wrongWidth = Tensor.zeros(device, 3, 5);
             Tensor vector = Tensor.zeros(device, 4);
             Tensor x = Tensor.zeros(device, 3, 4);
             Tensor badDy = Tensor.zeros(device, 2, 2)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> lin.forward(wrongWidth));
            assertTrue(e.getMessage().startsWith("x: expected shape [..., 4]") && e.getMessage().contains("[3, 5]"),
                    e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> lin.forward(vector));
            e = assertThrows(IllegalArgumentException.class, () -> lin.backward(x, badDy));
            assertTrue(e.getMessage().startsWith("dY: expected shape [3, 2]"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> new Linear(0, 2, true, 1, device));
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) {
            s += a[i] * b[i];
        }
        return s;
    }
}
