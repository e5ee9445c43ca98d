package org.rnn4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.rnn4j.train.TrainTestSupport.assertClose;

import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.rnn4j.Device;
import org.rnn4j.engine.Buffer;
import org.rnn4j.engine.Engine;
import org.rnn4j.train.TrainTestSupport.Param;

/** Clipping by global norm (PyTorch's clip_grad_norm_) and by value. Tolerance 1e-6 relative. */
class ClippingTest {
    static List<Device> devices() {
        return TrainTestSupport.devices();
    }

    @ParameterizedTest
    @MethodSource("devices")
    void globalNormScalesAllGradientsTogether(Device device) {
        float[] ga = {3f, -4f};
        float[] gb = {12f, 0f, 0f};
        try (Param a = new Param(device, "a", new float[2]); Param b = new Param(device, "b", new float[3])) {
            a.grad.copyFrom(ga);
            b.grad.copyFrom(gb);
            List<Param> ps = List.of(a, b);
            assertEquals(13.0, Clipping.globalNorm(ps), 1e-12);
            // above the norm: unchanged
            assertEquals(13.0, Clipping.clipGlobalNorm(ps, 20), 1e-12);
            assertClose("a unchanged", ga, a.grad.toHost(), 0, 0);
            // below: scaled by maxNorm / (norm + 1e-6)
            assertEquals(13.0, Clipping.clipGlobalNorm(ps, 1.3), 1e-12);
            double s = 1.3 / (13 + 1e-6);
            assertClose("a", new double[] {3 * s, -4 * s}, a.grad.toHost(), 0, 1e-6);
            assertClose("b", new double[] {12 * s, 0, 0}, b.grad.toHost(), 0, 1e-6);
            assertEquals(1.3, Clipping.globalNorm(ps), 1e-6);
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void valueClampsEachElement(Device device) {
        try (Param a = new Param(device, "a", new float[4])) {
            a.grad.copyFrom(new float[] {-3f, 0.2f, 0.7f, -0.4f});
            Clipping.clipValue(List.of(a), 0.5);
            assertClose("clamped", new float[] {-0.5f, 0.2f, 0.5f, -0.4f}, a.grad.toHost(), 0, 0);
            assertThrows(IllegalArgumentException.class, () -> Clipping.clipValue(List.of(a), 0));
            assertThrows(IllegalArgumentException.class, () -> Clipping.clipGlobalNorm(List.of(a), -1));
        }
    }
    /**
     * Clipping on the device ({@code Engine.clipGlobalNorm}, behind {@link Clipping#clipGlobalNorm} and the
     * optimizer's clipping) gives the bits of the host path it replaced: the norm from {@code sumSquares} read back,
     * the factor in double, one {@code axpby} per tensor; a non-finite norm leaves the gradients as they are.
     */
    @ParameterizedTest
    @MethodSource("devices")
    void onTheDeviceTheNormAndTheScaledGradientsAreTheHostPathsBits(Device device) {
        for (double maxNorm : new double[] {0.5, 1e9}) {
            for (boolean nan : new boolean[] {false, true}) {
                float[][] gs = {TrainTestSupport.uniform(1, 700, -1, 1), TrainTestSupport.uniform(2, 3, -2, 2),
                    TrainTestSupport.uniform(3, 300, -1, 1)};
                if (nan) {
                    gs[1][1] = Float.NaN;
                }
                try (Param a = new Param(device, "a", new float[700]); Param b = new Param(device, "b", new float[3]);
                     Param c = new Param(device, "c", new float[300])) {
                    List<Param> ps = List.of(a, b, c);
                    Engine e = device.engine();
                    Buffer[] grads = {a.grad.buffer(), b.grad.buffer(), c.grad.buffer()};
                    long[] sizes = {700, 3, 300};
                    for (int k = 0; k < 3; k++) {
                        ps.get(k).grad.copyFrom(gs[k]);
                    }
                    double norm = Math.sqrt(e.sumSquares(grads, sizes));
                    double coef = maxNorm / (norm + 1e-6);
                    if (Double.isFinite(norm) && coef < 1) {
                        for (int k = 0; k < 3; k++) {
                            e.axpby(sizes[k], (float) coef, grads[k], 0, 0f, grads[k], 0);
                        }
                    }
                    float[][] want = {a.grad.toHost(), b.grad.toHost(), c.grad.toHost()};
                    for (int k = 0; k < 3; k++) {
                        ps.get(k).grad.copyFrom(gs[k]);
                    }
                    String what = "maxNorm " + maxNorm + (nan ? ", a NaN gradient" : "");
                    assertEquals(norm, Clipping.clipGlobalNorm(ps, maxNorm), 0, what + ": the norm");
                    for (int k = 0; k < 3; k++) {
                        assertArrayEquals(want[k], ps.get(k).grad.toHost(), what + ": gradient " + k);
                    }
                }
            }
        }
    }
}
