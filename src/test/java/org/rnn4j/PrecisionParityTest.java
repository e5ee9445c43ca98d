package org.rnn4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.IntFunction;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.rnn4j.train.Sgd;

/**
 * Each {@link Precision} on the CUDA engine against the CPU engine (the FP32 oracle), for RNN, LSTM and GRU (both
 * forms), uni- and bidirectional, stacked, with per-sample lengths: forward (output, final states) and one training
 * step (dX, dh0, every parameter gradient, the weights after an SGD step, and the output of the next forward with them).
 * The tolerances are the README's (section "Precision"), as the relative L2 error per tensor:
 * FP32 1e-4 (GpuParityTest's), TF32 {@value #TF32_TOLERANCE}, BF16 {@value #BF16_TOLERANCE}. TF32 and BF16 must also
 * differ from FP32 by at least a little, so that a mode that silently ran in FP32 fails.
 */
class PrecisionParityTest {
    static final double FP32_TOLERANCE = 1e-4;
    static final double TF32_TOLERANCE = 2e-3;
    static final double BF16_TOLERANCE = 1.5e-2;

    private static String unusable;

    @BeforeAll
    static void probe() {
        unusable = Devices.cudaUnusableReason();
    }

    static double tolerance(Precision p) {
        return switch (p) {
            case FP32 -> FP32_TOLERANCE;
            case TF32 -> TF32_TOLERANCE;
            case BF16 -> BF16_TOLERANCE;
        };
    }

    static List<Arguments> cases() {
        List<IntFunction<RecurrentConfig.Builder<?>>> cells = List.of(
                h -> Rnn.builder(6, h),
                h -> Lstm.builder(6, h).numLayers(2),
                h -> Lstm.builder(6, h).projSize(h / 2).bidirectional(true),
                h -> Gru.builder(6, h).bidirectional(true),
                h -> Gru.builder(6, h).resetAfter(false).numLayers(2));
        List<Arguments> out = new ArrayList<>();
        for (Precision p : Precision.values()) {
            for (int c = 0; c < cells.size(); c++) {
                out.add(Arguments.of(p, cells.get(c).apply(24).seed(40 + c)));
            }
        }
        return out;
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void cudaAtEachPrecisionMatchesTheCpuWithinItsTolerance(Precision precision, RecurrentConfig.Builder<?> builder) {
        assumeTrue(unusable == null, () -> "no usable CUDA device: " + unusable);
        RecurrentConfig fp32 = builder.config();
        RecurrentConfig chosen = builder.precision(precision).config();
        Map<String, float[]> cpu = trainingStep(fp32, Device.cpu());
        Map<String, float[]> exact = trainingStep(fp32, Device.cuda());
        Map<String, float[]> gpu = trainingStep(chosen, Device.cuda());
        double furthestFromExact = 0;
        for (Map.Entry<String, float[]> e : cpu.entrySet()) {
            String name = precision + " " + chosen + " " + e.getKey();
            double rel = relativeError(name, e.getValue(), gpu.get(e.getKey()));
            if (rel > tolerance(precision)) {
                fail(name + ": relative L2 error " + rel + " > " + tolerance(precision));
            }
            furthestFromExact = Math.max(furthestFromExact, relativeError(name, exact.get(e.getKey()), gpu.get(e.getKey())));
        }
        if (precision == Precision.FP32) {
            assertEquals(0.0, furthestFromExact, "FP32 through the precision option is the default path, bit for bit");
        } else {
            assertTrue(furthestFromExact > 1e-6, precision + " gave FP32's results (" + furthestFromExact + "): not really " + precision);
        }
    }

    /** Forward, backward, one SGD step, forward again: every tensor by name. */
    static Map<String, float[]> trainingStep(RecurrentConfig cfg, Device d) {
        SplittableRandom r = new SplittableRandom(cfg.seed());
        int steps = 7;
        int batch = 3;
        int[] lengths = {7, 4, 6};
        int states = cfg.numLayers() * cfg.directions();
        float[] x = random(r, steps * batch * cfg.inputSize());
        float[] dy = random(r, steps * batch * cfg.outputSize());
        Map<String, float[]> out = new LinkedHashMap<>();
        try (RecurrentLayer l = new RecurrentLayer(cfg, d);
             Sgd sgd = new Sgd(List.of(l), 0.1);
             Tensor xt = Tensor.of(d, x, steps, batch, cfg.inputSize());
             Tensor h0 = Tensor.of(d, random(r, states * batch * cfg.stateSize()), states, batch, cfg.stateSize());
             Tensor dyt = Tensor.of(d, dy, steps, batch, cfg.outputSize())) {
            try (ForwardResult f = l.forward(xt, lengths, h0, null); BackwardResult g = l.backward(f, dyt, null, null)) {
                out.put("y", f.output().toHost());
                out.put("hN", f.hN().toHost());
                if (f.cN() != null) {
                    out.put("cN", f.cN().toHost());
                }
                out.put("dX", g.dX().toHost());
                out.put("dh0", g.dh0().toHost());
            }
            l.gradients().forEach((name, t) -> out.put("d" + name, t.toHost()));
            sgd.step();
            l.parameters().forEach((name, t) -> out.put(name + " after the step", t.toHost()));
            try (ForwardResult f = l.forward(xt, lengths, h0, null)) {
                out.put("y after the step", f.output().toHost());
            }
        }
        return out;
    }

    static double relativeError(String name, float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length, name + ": sizes");
        double diff2 = 0;
        double norm2 = 0;
        for (int i = 0; i < expected.length; i++) {
            if (!Float.isFinite(actual[i])) {
                fail(name + ": element " + i + " is " + actual[i]);
            }
            diff2 += ((double) expected[i] - actual[i]) * ((double) expected[i] - actual[i]);
            norm2 += (double) expected[i] * expected[i];
        }
        return norm2 == 0 ? Math.sqrt(diff2) : Math.sqrt(diff2 / norm2);
    }

    static float[] random(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextDouble(-1, 1);
        }
        return v;
    }
}
