package org.rnn4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.rnn4j.train.TrainTestSupport.assertClose;
import static org.rnn4j.train.TrainTestSupport.uniform;

import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.rnn4j.Device;
import org.rnn4j.Tensor;

/**
 * Each loss against a double computation straight from its definition, including length masking and
 * ignored targets. Tolerances: loss 1e-6 relative, gradients 1e-6 absolute (float32 softmax).
 */
class LossesTest {

    static List<Device> devices() {
        return TrainTestSupport.devices();
    }

    /** Cross-entropy over rows with target >= 0: mean loss and its gradient w.r.t. logits, in double. */
    private static double[][] crossEntropy(float[] logits, int rows, int classes, int[] targets) {
        double[] grad = new double[rows * classes];
        double sum = 0;
        int count = 0;
        for (int r = 0; r < rows; r++) {
            if (targets[r] >= 0) {
                count++;
            }
        }
        for (int r = 0; r < rows; r++) {
            if (targets[r] < 0) {
                continue;
            }
            double z = 0;
            for (int c = 0; c < classes; c++) {
                z += Math.exp(logits[r * classes + c]);
            }
            sum += Math.log(z) - logits[r * classes + targets[r]];
            for (int c = 0; c < classes; c++) {
                grad[r * classes + c] = (Math.exp(logits[r * classes + c]) / z - (c == targets[r] ? 1 : 0)) / count;
            }
        }
        return new double[][] {{sum / count}, grad};
    }

    @ParameterizedTest
    @MethodSource("devices")
    void perStepRespectsLengthsAndIgnoredTargets(Device device) {
        int t = 4, b = 3, c = 5;
        int[] lengths = {4, 2, 1};
        float[] logits = uniform(11, t * b * c, -3, 3);
        int[] targets = new int[t * b];
        for (int i = 0; i < targets.length; i++) {
            targets[i] = i % c;
        }
        targets[0] = -1;            // t=0, b=0: ignored explicitly
        targets[3 * b + 2] = 99;    // t=3, b=2: padded, so its out-of-range value is never read
        int[] effective = targets.clone();
        for (int step = 0; step < t; step++) {
            for (int s = 0; s < b; s++) {
                if (step >= lengths[s]) {
                    effective[step * b + s] = -1;
                }
            }
        }
        double[][] want = crossEntropy(logits, t * b, c, effective);
        try (Tensor x = Tensor.of(device, logits, t, b, c);
             LossResult loss = Losses.crossEntropyPerStep(x, targets, lengths, false)) {
            assertEquals(6, loss.count()); // 4 + 2 + 1 valid, minus the ignored one
            assertEquals(want[0][0], loss.value(), 1e-6 * Math.abs(want[0][0]));
            assertArrayEquals(new int[] {t, b, c}, loss.gradient().shape());
            assertClose("dLogits", want[1], loss.gradient().toHost(), 1e-6, 0);
        }
        // the int32-tensor overload gives the same
        try (Tensor x = Tensor.of(device, logits, t, b, c);
             Tensor tg = Tensor.ofInts(device, targets, t, b);
             LossResult loss = Losses.crossEntropyPerStep(x, tg, lengths, false)) {
            assertEquals(want[0][0], loss.value(), 1e-6 * Math.abs(want[0][0]));
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void weightedCrossEntropyIsTheWeightedMean(Device device) {
        int rows = 9, c = 4;
        float[] logits = uniform(13, rows * c, -3, 3);
        int[] targets = {0, 1, 2, 3, -1, 1, 0, 2, 3};
        float[] weights = {0.5f, 2f, 0f, 0.5f, 7f, 2f, 1.25f, 0.5f, 2f};   // repeated values form groups; row 4 ignored
        double total = 0;
        double sum = 0;
        double[] grad = new double[rows * c];
        for (int r = 0; r < rows; r++) {
            if (targets[r] < 0) {
                continue;
            }
            total += weights[r];
        }
        for (int r = 0; r < rows; r++) {
            if (targets[r] < 0) {
                continue;
            }
            double z = 0;
            for (int k = 0; k < c; k++) {
                z += Math.exp(logits[r * c + k]);
            }
            sum += weights[r] * (Math.log(z) - logits[r * c + targets[r]]);
            for (int k = 0; k < c; k++) {
                grad[r * c + k] = weights[r] * (Math.exp(logits[r * c + k]) / z - (k == targets[r] ? 1 : 0)) / total;
            }
        }
        try (Tensor x = Tensor.of(device, logits, rows, c);
             LossResult loss = Losses.crossEntropyWeighted(x, targets, weights)) {
            assertEquals(8, loss.count());
            assertEquals(total, loss.weight(), 1e-9);
            assertEquals(sum / total, loss.value(), 1e-6 * Math.abs(sum / total));
            assertClose("dLogits", grad, loss.gradient().toHost(), 1e-6, 0);
        }
        // equal weights are the plain mean
        float[] ones = new float[rows];
        java.util.Arrays.fill(ones, 3f);
        try (Tensor x = Tensor.of(device, logits, rows, c);
             LossResult w = Losses.crossEntropyWeighted(x, targets, ones);
             LossResult plain = Losses.crossEntropyLastStep(x, targets)) {
            assertEquals(plain.value(), w.value(), 1e-6 * plain.value());
            assertClose("dLogits", plain.gradient().toHost(), w.gradient().toHost(), 1e-7, 0);
        }
        try (Tensor x = Tensor.of(device, logits, rows, c)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Losses.crossEntropyWeighted(x, targets, new float[] {1f}));
            assertTrue(e.getMessage().startsWith("weights: expected 9 entries"), e.getMessage());
            float[] bad = weights.clone();
            bad[1] = -1f;
            e = assertThrows(IllegalArgumentException.class, () -> Losses.crossEntropyWeighted(x, targets, bad));
            assertTrue(e.getMessage().startsWith("weights[1]"), e.getMessage());
            try (LossResult none = Losses.crossEntropyWeighted(x, targets, new float[rows])) {
                assertEquals(0, none.value());
                assertEquals(0, none.weight());
            }
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void perStepWithoutLengthsIsTheMeanOverAllPositions(Device device) {
        int t = 3, b = 2, c = 4;
        float[] logits = uniform(5, t * b * c, -2, 2);
        int[] targets = {0, 1, 2, 3, 3, 0};
        double[][] want = crossEntropy(logits, t * b, c, targets);
        try (Tensor x = Tensor.of(device, logits, t, b, c);
             LossResult loss = Losses.crossEntropyPerStep(x, targets, null, false)) {
            assertEquals(want[0][0], loss.value(), 1e-6 * want[0][0]);
            assertClose("dLogits", want[1], loss.gradient().toHost(), 1e-6, 0);
        }
    }

    /**
     * Logits far apart (|x| up to 300, where expf overflows) over more classes than a block has
     * threads: only the row-max shift keeps the float softmax finite, and every thread's share of
     * the classes must reach the row maximum and the row sum. The double reference needs no shift.
     */
    @ParameterizedTest
    @MethodSource("devices")
    void largeLogitsOverManyClassesStayFinite(Device device) {
        int rows = 3, c = 300;
        float[] logits = uniform(12, rows * c, -300, 300);
        int[] targets = {0, 299, 150};
        double[][] want = crossEntropy(logits, rows, c, targets);
        try (Tensor x = Tensor.of(device, logits, rows, c);
             LossResult loss = Losses.crossEntropyLastStep(x, targets)) {
            assertEquals(want[0][0], loss.value(), 1e-6 * Math.abs(want[0][0]));
            assertClose("dLogits", want[1], loss.gradient().toHost(), 1e-6, 0);
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void lastStepAndGatherScatter(Device device) {
        int t = 3, b = 3, f = 4;
        int[] lengths = {3, 1, 2};
        float[] y = uniform(6, t * b * f, -2, 2);
        int[] targets = {1, 3, 0};
        try (Tensor seq = Tensor.of(device, y, t, b, f);
             Tensor last = LastStep.gather(seq, lengths, false)) {
            float[] got = last.toHost();
            for (int s = 0; s < b; s++) {
                for (int j = 0; j < f; j++) {
                    assertEquals(y[((lengths[s] - 1) * b + s) * f + j], got[s * f + j], 0f);
                }
            }
            double[][] want = crossEntropy(got, b, f, targets);
            try (LossResult loss = Losses.crossEntropyLastStep(last, targets);
                 Tensor dy = LastStep.scatter(loss.gradient(), lengths, t, false)) {
                assertEquals(want[0][0], loss.value(), 1e-6 * want[0][0]);
                assertClose("dLast", want[1], loss.gradient().toHost(), 1e-6, 0);
                float[] d = dy.toHost();
                float[] g = loss.gradient().toHost();
                for (int step = 0; step < t; step++) {
                    for (int s = 0; s < b; s++) {
                        for (int j = 0; j < f; j++) {
                            float expected = step == lengths[s] - 1 ? g[s * f + j] : 0f;
                            assertEquals(expected, d[(step * b + s) * f + j], 0f);
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void mseMatchesDouble(Device device) {
        float[] p = uniform(7, 24, -2, 2);
        float[] q = uniform(8, 24, -2, 2);
        double sum = 0;
        double[] grad = new double[24];
        for (int i = 0; i < 24; i++) {
            double d = (double) p[i] - q[i];
            sum += d * d;
            grad[i] = 2 * d / 24;
        }
        try (Tensor pred = Tensor.of(device, p, 2, 3, 4);
             Tensor target = Tensor.of(device, q, 2, 3, 4);
             LossResult loss = Losses.mse(pred, target)) {
            assertEquals(sum / 24, loss.value(), 1e-6 * sum / 24);
            assertClose("dPred", grad, loss.gradient().toHost(), 1e-6, 1e-6);
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void badArgumentsAreRefused(Device device) {
        try (Tensor x = Tensor.zeros(device, 2, 2, 3);
             Tensor flat = Tensor.zeros(device, 4, 3);
             Tensor other = Tensor.zeros(device, 4, 2)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Losses.crossEntropyPerStep(x, new int[] {0, 1, 3, 0}, null, false));
            assertTrue(e.getMessage().startsWith("targets[2]: expected a class index in [0, 3)"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Losses.crossEntropyPerStep(x, new int[3], null, false));
            assertTrue(e.getMessage().startsWith("targets: expected 4 entries"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> Losses.crossEntropyPerStep(x, new int[4], new int[] {3, 1}, false));
            assertTrue(e.getMessage().startsWith("lengths[0]: expected a value in [1, 2], got 3"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Losses.crossEntropyPerStep(flat, new int[4], null, false));
            e = assertThrows(IllegalArgumentException.class, () -> Losses.mse(flat, other));
            assertTrue(e.getMessage().startsWith("target: expected shape [4, 3]"), e.getMessage());
        }
    }
}
