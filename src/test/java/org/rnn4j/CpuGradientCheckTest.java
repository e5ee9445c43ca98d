package org.rnn4j;

import static org.rnn4j.Close.assertClose;
import static org.rnn4j.Devices.toDouble;
import static org.rnn4j.Devices.toFloat;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.rnn4j.reference.FiniteDifference;
import org.rnn4j.reference.ReferenceRnn;

/**
 * The CPU engine against the double-precision reference over random configurations of every cell and
 * option: outputs and final states, and every gradient (input, initial states, each parameter) against
 * central finite differences of the reference. Each case draws its own odd sizes (1s included),
 * lengths that differ per sample (some 1), initial states given or not, and batch-first or not.
 * Tolerances: float32 engine against float64 reference, outputs atol 1e-5 + rtol 1e-4, gradients
 * atol 5e-5 + rtol 5e-4.
 */
class CpuGradientCheckTest {

    record Case(String name, RecurrentConfig config, long seed) {
        @Override
        public String toString() {
            return name + " " + config;
        }
    }

    static List<Arguments> cases() {
        List<Function<SplittableRandom, RecurrentConfig.Builder<?>>> cells = List.of(
                r -> Rnn.builder(dim(r), dim(r)),
                r -> Rnn.reluBuilder(dim(r), dim(r)),
                r -> Lstm.builder(dim(r), dim(r)),
                r -> Lstm.builder(dim(r), 2 + r.nextInt(4)).projSize(1 + r.nextInt(2)),
                r -> Lstm.builder(dim(r), dim(r)).peepholes(true),
                r -> Lstm.builder(dim(r), dim(r)).cellClip(0.2 + r.nextDouble() * 0.3),
                r -> Lstm.builder(dim(r), dim(r)).coupledInputForget(true).peepholes(true),
                r -> Lstm.builder(dim(r), 3 + r.nextInt(3)).projSize(2).peepholes(true).cellClip(0.5).unitForgetBias(true),
                r -> Gru.builder(dim(r), dim(r)),
                r -> Gru.builder(dim(r), dim(r)).resetAfter(false));
        List<Arguments> out = new ArrayList<>();
        SplittableRandom rnd = new SplittableRandom(2024);
        for (int c = 0; c < cells.size(); c++) {
            for (int variant = 0; variant < 3; variant++) {
                long seed = rnd.nextLong();
                SplittableRandom r = new SplittableRandom(seed);
                RecurrentConfig cfg = cells.get(c).apply(r)
                        .numLayers(1 + r.nextInt(2))
                        .bidirectional(variant != 0)
                        .bias(variant != 2)
                        .batchFirst(variant == 2)
                        .seed(seed)
                        .config();
                out.add(Arguments.of(new Case("case" + c + "." + variant, cfg, seed)));
            }
        }
        return out;
    }

    private static int dim(SplittableRandom r) {
        return 1 + r.nextInt(5);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void gradientsMatchFiniteDifferences(Case c) {
        RecurrentConfig cfg = c.config();
        SplittableRandom r = new SplittableRandom(c.seed() ^ 0x5DEECE66DL);
        int steps = 1 + r.nextInt(5);
        int batch = 1 + r.nextInt(3);
        int[] lengths = null;
        if (r.nextBoolean()) {
            lengths = new int[batch];
            for (int b = 0; b < batch; b++) {
                lengths[b] = b == 0 ? steps : 1 + r.nextInt(steps); // unsorted, one full length, often a 1
            }
        }
        int states = cfg.numLayers() * cfg.directions();
        boolean giveStates = r.nextBoolean();
        float[] x = random(r, steps * batch * cfg.inputSize());
        float[] h0 = giveStates ? random(r, states * batch * cfg.stateSize()) : null;
        float[] c0 = giveStates && cfg.cell() == CellType.LSTM ? random(r, states * batch * cfg.hiddenSize()) : null;
        double[] wy = toDouble(random(r, steps * batch * cfg.outputSize()));
        double[] wh = toDouble(random(r, states * batch * cfg.stateSize()));
        double[] wc = cfg.cell() == CellType.LSTM ? toDouble(random(r, states * batch * cfg.hiddenSize())) : null;

        Device cpu = Device.cpu();
        int[] xShape = cfg.batchFirst() ? new int[] {batch, steps, cfg.inputSize()}
                : new int[] {steps, batch, cfg.inputSize()};
        try (RecurrentLayer layer = new RecurrentLayer(cfg, cpu);
             Tensor xt = Tensor.of(cpu, x, xShape);
             Tensor h0t = h0 == null ? null : Tensor.of(cpu, h0, states, batch, cfg.stateSize());
             Tensor c0t = c0 == null ? null : Tensor.of(cpu, c0, states, batch, cfg.hiddenSize());
             ForwardResult fwd = layer.forward(xt, lengths, h0t, c0t);
             Tensor dY = Tensor.of(cpu, toFloat(batchLayout(cfg, wy, steps, batch, cfg.outputSize())), fwd.output().shape());
             Tensor dhN = Tensor.of(cpu, toFloat(wh), fwd.hN().shape());
             Tensor dcN = wc == null ? null : Tensor.of(cpu, toFloat(wc), fwd.cN().shape());
             BackwardResult g = layer.backward(fwd, dY, dhN, dcN)) {

            Map<String, double[]> params = new LinkedHashMap<>();
            layer.parameters().forEach((name, t) -> params.put(name, toDouble(t.toHost())));
            double[] xTime = timeLayout(cfg, toDouble(x), steps, batch, cfg.inputSize());
            double[] h0d = h0 == null ? null : toDouble(h0);
            double[] c0d = c0 == null ? null : toDouble(c0);
            int[] len = lengths;

            ReferenceRnn.Result ref = ReferenceRnn.forward(cfg, params, xTime, steps, batch, len, h0d, c0d, false, 0);
            assertClose(c + " y", batchLayout(cfg, ref.y(), steps, batch, cfg.outputSize()), fwd.output().toHost(), 1e-5, 1e-4);
            assertClose(c + " hN", ref.hN(), fwd.hN().toHost(), 1e-5, 1e-4);
            if (wc != null) {
                assertClose(c + " cN", ref.cN(), fwd.cN().toHost(), 1e-5, 1e-4);
            }

            double[] dx = FiniteDifference.gradient(v -> FiniteDifference.loss(
                    ReferenceRnn.forward(cfg, params, v, steps, batch, len, h0d, c0d, false, 0), wy, wh, wc), xTime);
            assertClose(c + " dX", batchLayout(cfg, dx, steps, batch, cfg.inputSize()), g.dX().toHost(), 5e-5, 5e-4);
            if (h0d != null) {
                double[] dh0 = FiniteDifference.gradient(v -> FiniteDifference.loss(
                        ReferenceRnn.forward(cfg, params, xTime, steps, batch, len, v, c0d, false, 0), wy, wh, wc), h0d);
                assertClose(c + " dh0", dh0, g.dh0().toHost(), 5e-5, 5e-4);
            }
            if (c0d != null) {
                double[] dc0 = FiniteDifference.gradient(v -> FiniteDifference.loss(
                        ReferenceRnn.forward(cfg, params, xTime, steps, batch, len, h0d, v, false, 0), wy, wh, wc), c0d);
                assertClose(c + " dc0", dc0, g.dc0().toHost(), 5e-5, 5e-4);
            }
            for (String name : params.keySet()) {
                double[] dp = FiniteDifference.gradient(v -> {
                    Map<String, double[]> moved = new LinkedHashMap<>(params);
                    moved.put(name, v);
                    return FiniteDifference.loss(
                            ReferenceRnn.forward(cfg, moved, xTime, steps, batch, len, h0d, c0d, false, 0), wy, wh, wc);
                }, params.get(name));
                assertClose(c + " d" + name, dp, layer.gradients().get(name).toHost(), 5e-5, 5e-4);
            }
        }
    }

    private static float[] random(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextDouble(-1, 1);
        }
        return v;
    }

    /** Time-major {@code [T, B, F]} to the layer's layout. */
    private static double[] batchLayout(RecurrentConfig cfg, double[] timeMajor, int steps, int batch, int f) {
        return cfg.batchFirst() ? swap(timeMajor, steps, batch, f) : timeMajor;
    }

    /** The layer's layout to time-major. */
    private static double[] timeLayout(RecurrentConfig cfg, double[] data, int steps, int batch, int f) {
        return cfg.batchFirst() ? swap(data, batch, steps, f) : data;
    }

    private static double[] swap(double[] src, int d0, int d1, int f) {
        double[] dst = new double[src.length];
        for (int i = 0; i < d0; i++) {
            for (int j = 0; j < d1; j++) {
                System.arraycopy(src, (i * d1 + j) * f, dst, (j * d0 + i) * f, f);
            }
        }
        return dst;
    }
}
