package org.rnn4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.rnn4j.Device;
import org.rnn4j.ForwardResult;
import org.rnn4j.Gru;
import org.rnn4j.RecurrentLayer;
import org.rnn4j.Tensor;

/** Helpers over output sequences read the layout they are told, in both layouts, including B == T. */
@Tag("cuda")
class LayoutTest {

    static List<Device> devices() {
        return TrainTestSupport.devices();
    }

    /** y[t, b, :] = y[b, t, :] = 100·b + 10·t + f in either layout: a wrong row is visible. */
    private static float[] labelled(int steps, int batch, int features, boolean batchFirst) {
        float[] y = new float[steps * batch * features];
        for (int t = 0; t < steps; t++) {
            for (int b = 0; b < batch; b++) {
                int row = batchFirst ? b * steps + t : t * batch + b;
                for (int f = 0; f < features; f++) {
                    y[row * features + f] = 100 * b + 10 * t + f;
                }
            }
        }
        return y;
    }

    @ParameterizedTest
    @MethodSource("devices")
    void lastStepGathersAndScattersInBothLayouts(Device device) {
        for (boolean batchFirst : new boolean[] {false, true}) {
            for (int[] tb : new int[][] {{3, 3}, {4, 2}, {2, 5}}) {
                int steps = tb[0];
                int batch = tb[1];
                int[] lengths = new int[batch];
                for (int b = 0; b < batch; b++) {
                    lengths[b] = 1 + (b * 2) % steps;
                }
                int[] shape = batchFirst ? new int[] {batch, steps, 2} : new int[] {steps, batch, 2};
                try (Tensor y = Tensor.of(device, labelled(steps, batch, 2, batchFirst), shape);
                     Tensor last = LastStep.gather(y, lengths, batchFirst);
                     Tensor full = LastStep.gather(y, null, batchFirst);
                     Tensor back = LastStep.scatter(last, lengths, steps, batchFirst)) {
                    float[] got = last.toHost();
                    float[] gotFull = full.toHost();
                    float[] want = new float[steps * batch * 2];
                    for (int b = 0; b < batch; b++) {
                        for (int f = 0; f < 2; f++) {
                            assertEquals(100 * b + 10 * (lengths[b] - 1) + f, got[b * 2 + f], 0f);
                            assertEquals(100 * b + 10 * (steps - 1) + f, gotFull[b * 2 + f], 0f);
                            int t = lengths[b] - 1;
                            int row = batchFirst ? b * steps + t : t * batch + b;
                            want[row * 2 + f] = 100 * b + 10 * t + f;
                        }
                    }
                    assertArrayEquals(shape, back.shape());
                    assertArrayEquals(want, back.toHost(), 0f);
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void lastStepOfABatchFirstLayerIsItsFinalState(Device device) {
        int[] lengths = {2, 3, 1};
        try (RecurrentLayer gru = Gru.builder(2, 3).batchFirst(true).build(device).eval();
             Tensor x = Tensor.of(device, TrainTestSupport.uniform(2, 3 * 3 * 2, -1, 1), 3, 3, 2);
             ForwardResult f = gru.forward(x, lengths, null, null);
             Tensor last = LastStep.gather(f.output(), lengths, true)) {
            assertArrayEquals(f.hN().toHost(), last.toHost(), 0f);
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void perStepCrossEntropyMasksTheRightPositionsInBothLayouts(Device device) {
        int steps = 3;
        int batch = 2;
        int classes = 4;
        int[] lengths = {3, 1};
        float[] tm = TrainTestSupport.uniform(5, steps * batch * classes, -2, 2);
        float[] bf = new float[tm.length];
        int[] targetsTm = new int[steps * batch];
        int[] targetsBf = new int[steps * batch];
        for (int t = 0; t < steps; t++) {
            for (int b = 0; b < batch; b++) {
                System.arraycopy(tm, (t * batch + b) * classes, bf, (b * steps + t) * classes, classes);
                targetsTm[t * batch + b] = (t + 2 * b) % classes;
                targetsBf[b * steps + t] = (t + 2 * b) % classes;
            }
        }
        try (Tensor a = Tensor.of(device, tm, steps, batch, classes); Tensor b = Tensor.of(device, bf, batch, steps, classes);
             LossResult la = Losses.crossEntropyPerStep(a, targetsTm, lengths, false);
             LossResult lb = Losses.crossEntropyPerStep(b, targetsBf, lengths, true)) {
            assertEquals(4, la.count());
            assertEquals(la.count(), lb.count());
            assertEquals(la.value(), lb.value(), 1e-6);
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void wrongLengthsNameTheLayout(Device device) {
        try (Tensor y = Tensor.zeros(device, 2, 5, 3)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> LastStep.gather(y, new int[] {5, 5, 5, 5, 5}, false));
            assertTrue(e.getMessage().startsWith("lengths: expected 5 entries (one per sample: B of [T, B, F] (time-major))")
                    || e.getMessage().startsWith("lengths[0]: expected a value in [1, 2] (T of [T, B, F] (time-major))"),
                    e.getMessage());
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void truncatedBpttNamesAChangedBatchSize(Device device) {
        try (RecurrentLayer gru = Gru.builder(2, 3).build(device); TruncatedBptt tbptt = new TruncatedBptt(gru, 2);
             Tensor x4 = Tensor.zeros(device, 2, 4, 2); Tensor x3 = Tensor.zeros(device, 2, 3, 2)) {
            tbptt.forward(x4).close();
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> tbptt.forward(x3));
            assertTrue(e.getMessage().startsWith("x: expected a chunk of 4 samples") && e.getMessage().contains("reset()"),
                    e.getMessage());
            tbptt.reset();
            tbptt.forward(x3).close();
        }
    }
}
