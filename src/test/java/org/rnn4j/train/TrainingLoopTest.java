package org.rnn4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.rnn4j.train.TrainTestSupport.assertClose;
import static org.rnn4j.train.TrainTestSupport.uniform;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.rnn4j.BackwardResult;
import org.rnn4j.Device;
import org.rnn4j.ForwardResult;
import org.rnn4j.Gru;
import org.rnn4j.Lstm;
import org.rnn4j.RecurrentLayer;
import org.rnn4j.Tensor;

/**
 * Gradient accumulation over micro-batches and truncated BPTT, on an LSTM with a linear head.
 * Tolerances: 1e-5 absolute + 1e-5 relative for gradients; 1e-6 for forward outputs.
 */
class TrainingLoopTest {
    static List<Device> devices() {
        return TrainTestSupport.devices();
    }

    /** Samples [from, from + n) of a time-major [T, B, F] host array. */
    private static float[] samples(float[] x, int steps, int batch, int features, int from, int n) {
        float[] out = new float[steps * n * features];
        for (int t = 0; t < steps; t++) {
            System.arraycopy(x, (t * batch + from) * features, out, t * n * features, n * features);
        }
        return out;
    }

    /** Forward, MSE over the head's output, backward into lstm and head; returns the loss. */
    private static double lossAndBackward(RecurrentLayer lstm, Linear head, Tensor x, Tensor target) {
        try (ForwardResult fwd = lstm.forward(x);
             Tensor y = head.forward(fwd.output());
             LossResult loss = Losses.mse(y, target);
             Tensor dOut = head.backward(fwd.output(), loss.gradient());
             BackwardResult back = lstm.backward(fwd, dOut, null, null)) {
            return loss.value();
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void twoHalfBatchesAccumulateToTheFullBatch(Device device) {
        int t = 5, b = 4, in = 3, h = 6, o = 2;
        float[] xs = uniform(21, t * b * in, -1, 1);
        float[] ys = uniform(22, t * b * o, -1, 1);
        try (RecurrentLayer lstm = Lstm.builder(in, h).seed(3).build(device);
             Linear head = new Linear(h, o, true, 4, device);
             Tensor x = Tensor.of(device, xs, t, b, in);
             Tensor y = Tensor.of(device, ys, t, b, o);
             Tensor xa = Tensor.of(device, samples(xs, t, b, in, 0, 2), t, 2, in);
             Tensor ya = Tensor.of(device, samples(ys, t, b, o, 0, 2), t, 2, o);
             Tensor xb = Tensor.of(device, samples(xs, t, b, in, 2, 2), t, 2, in);
             Tensor yb = Tensor.of(device, samples(ys, t, b, o, 2, 2), t, 2, o)) {
            ModuleGroup model = ModuleGroup.of("lstm", lstm, "head", head);
            double full = lossAndBackward(lstm, head, x, y);
            Map<String, float[]> fullGrads = TrainTestSupport.gradSnapshot(model);
            model.zeroGrad();
            // micro-batches: no zeroing in between; each half's mean loss is twice its share of the full mean
            double la = lossAndBackward(lstm, head, xa, ya);
            double lb = lossAndBackward(lstm, head, xb, yb);
            assertEquals(full, (la + lb) / 2, 1e-6);
            Map<String, float[]> acc = TrainTestSupport.gradSnapshot(model);
            for (Map.Entry<String, float[]> e : fullGrads.entrySet()) {
                float[] twice = e.getValue().clone();
                for (int i = 0; i < twice.length; i++) {
                    twice[i] *= 2;
                }
                assertClose("accumulated " + e.getKey(), twice, acc.get(e.getKey()), 1e-5, 1e-5);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void chunkedForwardEqualsOneFullPass(Device device) {
        int t = 11, b = 2, in = 3, h = 5, k = 4;
        float[] xs = uniform(31, t * b * in, -1, 1);
        try (RecurrentLayer lstm = Lstm.builder(in, h).numLayers(2).seed(5).build(device);
             Tensor x = Tensor.of(device, xs, t, b, in);
             ForwardResult full = lstm.forward(x);
             TruncatedBptt tbptt = new TruncatedBptt(lstm, k)) {
            float[] want = full.output().toHost();
            float[] got = new float[want.length];
            int at = 0;
            for (int start = 0; start < t; start += k) {
                try (Tensor chunk = TruncatedBptt.slice(x, start, k, false);
                     ForwardResult fwd = tbptt.forward(chunk)) {
                    float[] part = fwd.output().toHost();
                    System.arraycopy(part, 0, got, at, part.length);
                    at += part.length;
                }
            }
            assertEquals(want.length, at);
            assertClose("chunked output", want, got, 1e-6, 1e-6);
            assertClose("carried h", full.hN().toHost(), tbptt.hidden().toHost(), 1e-6, 1e-6);
            assertClose("carried c", full.cN().toHost(), tbptt.cell().toHost(), 1e-6, 1e-6);
            tbptt.reset();
            assertNull(tbptt.hidden());
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void gradientIsCutAtChunkBoundaries(Device device) {
        int t = 8, b = 2, in = 3, h = 4, k = 4;
        float[] xs = uniform(41, t * b * in, -1, 1);
        float[] dys = uniform(42, k * b * h, -1, 1);
        try (RecurrentLayer gru = Gru.builder(in, h).seed(6).build(device);
             Tensor x = Tensor.of(device, xs, t, b, in);
             Tensor x1 = TruncatedBptt.slice(x, 0, k, false);
             Tensor x2 = TruncatedBptt.slice(x, k, k, false);
             Tensor dY2 = Tensor.of(device, dys, k, b, h);
             TruncatedBptt tbptt = new TruncatedBptt(gru, k)) {
            // truncated: chunk 2's backward only
            Tensor h0;
            try (ForwardResult f1 = tbptt.forward(x1)) {
                h0 = f1.hN().copyTo(device);
            }
            try (ForwardResult f2 = tbptt.forward(x2)) {
                gru.zeroGrad();
                try (BackwardResult back = tbptt.backward(f2, dY2)) {
                    assertTrue(Clipping.globalNorm(List.of(gru)) > 0);
                }
            }
            Map<String, float[]> truncated = TrainTestSupport.gradSnapshot(gru);
            // the same chunk from the carried state taken as a constant
            gru.zeroGrad();
            try (ForwardResult f = gru.forward(x2, null, h0, null);
                 BackwardResult back = gru.backward(f, dY2, null, null)) {
                assertArrayEquals(new int[] {1, b, h}, back.dh0().shape());
            }
            Map<String, float[]> standalone = TrainTestSupport.gradSnapshot(gru);
            h0.close();
            for (String name : truncated.keySet()) {
                assertClose("truncated " + name, standalone.get(name), truncated.get(name), 1e-6, 1e-6);
            }
            // full BPTT over both chunks with the same dY on the second half differs: gradient flows into chunk 1
            gru.zeroGrad();
            float[] dyFull = new float[t * b * h];
            System.arraycopy(dys, 0, dyFull, k * b * h, dys.length);
            try (Tensor dY = Tensor.of(device, dyFull, t, b, h);
                 ForwardResult f = gru.forward(x);
                 BackwardResult back = gru.backward(f, dY, null, null)) {
                assertEquals(t, back.dX().dim(0));
            }
            float[] fullW = gru.gradients().get("weight_ih_l0").toHost();
            float[] cutW = truncated.get("weight_ih_l0");
            double maxDiff = 0;
            for (int i = 0; i < fullW.length; i++) {
                maxDiff = Math.max(maxDiff, Math.abs(fullW[i] - cutW[i]));
            }
            assertTrue(maxDiff > 1e-4, "full BPTT must differ from truncated, max diff " + maxDiff);
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void sliceOfBatchFirstSequences(Device device) {
        float[] xs = uniform(51, 2 * 5 * 3, -1, 1);
        try (Tensor x = Tensor.of(device, xs, 2, 5, 3);
             Tensor s = TruncatedBptt.slice(x, 3, 4, true)) {
            assertArrayEquals(new int[] {2, 2, 3}, s.shape()); // clipped to the 2 remaining steps
            float[] got = s.toHost();
            for (int b = 0; b < 2; b++) {
                for (int t = 0; t < 2; t++) {
                    for (int f = 0; f < 3; f++) {
                        assertEquals(xs[(b * 5 + 3 + t) * 3 + f], got[(b * 2 + t) * 3 + f]);
                    }
                }
            }
        }
    }
}
