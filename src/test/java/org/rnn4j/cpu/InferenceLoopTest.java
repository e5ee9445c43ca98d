package org.rnn4j.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.rnn4j.Device;
import org.rnn4j.ForwardResult;
import org.rnn4j.Gru;
import org.rnn4j.Lstm;
import org.rnn4j.RecurrentConfig;
import org.rnn4j.RecurrentLayer;
import org.rnn4j.Rnn;
import org.rnn4j.Tensor;

/**
 * The CPU engine's inference loop ({@link InferenceLoop}: packed W_hh and W_ih, GEMM and cell per block of units) gives the training-mode forward's bits (the layer's per-step loop, held against the double
 * reference elsewhere) for every cell variant it takes, on 1, 2 and 3 threads, and rebuilds its packed weights after
 * a write. Runs with the Vector API kernel and cells (default execution, and at 256 bits in execution vector-256)
 * and with the plain-Java ones (execution fallback-kernel).
 */
class InferenceLoopTest {

    private static final Device CPU = Device.cpu();

    /** The vector kernel and cells take over once compiled; a switch inside a comparison could flip a rounding. */
    @BeforeAll
    static void warmedUp() throws InterruptedException {
        CpuGemm.awaitWarmUp();
    }

    @AfterEach
    void restore() {
        CpuGemm.clearThreads();
    }

    record Case(String name, RecurrentConfig cfg, int steps, int batch, boolean lengths, boolean initial) {
        @Override
        public String toString() {
            return name;
        }
    }

    static Stream<Case> cases() {
        return Stream.of(
                new Case("lstm H13 B1", Lstm.builder(7, 13).seed(1).config(), 9, 1, false, false),
                new Case("lstm H40 B5 lengths h0 c0", Lstm.builder(16, 40).seed(2).config(), 11, 5, true, true),
                new Case("lstm peepholes clip H24 B3", Lstm.builder(8, 24).peepholes(true).cellClip(0.6).seed(3)
                        .config(), 8, 3, true, true),
                new Case("lstm coupled no bias H33 B2", Lstm.builder(5, 33).coupledInputForget(true).bias(false)
                        .seed(4).config(), 7, 2, false, true),
                new Case("lstm 2 layers bidirectional H20 B4", Lstm.builder(6, 20).numLayers(2).bidirectional(true)
                        .seed(5).config(), 10, 4, true, true),
                new Case("lstm H128 B3 (parallel)", Lstm.builder(32, 128).seed(6).config(), 6, 3, true, false),
                new Case("gru H70 B5 lengths h0", Gru.builder(9, 70).seed(7).config(), 9, 5, true, true),
                new Case("gru bidirectional H128 B3 (parallel)", Gru.builder(12, 128).bidirectional(true).seed(8)
                        .config(), 5, 3, true, false),
                new Case("tanh H72 B6", Rnn.builder(10, 72).seed(9).config(), 12, 6, true, true),
                new Case("relu H130 B2", Rnn.reluBuilder(10, 130).seed(10).config(), 6, 2, false, true),
                new Case("tanh H384 B1 (parallel)", Rnn.builder(20, 384).seed(11).config(), 5, 1, false, false),
                new Case("gru 2 layers bidirectional H24 B2 T3 lengths h0", Gru.builder(7, 24).numLayers(2)
                        .bidirectional(true).seed(16).config(), 3, 2, true, true),
                new Case("lstm peepholes 2 layers H192 B1 T2 (parallel)", Lstm.builder(40, 192)
                        .peepholes(true).numLayers(2).seed(17).config(), 2, 1, false, true),
                // B = 29 (12 + 12 + 4 + 1) and 9 (8 + 1): every path of the panel product
                new Case("lstm H64 B29 T7 lengths h0 c0", Lstm.builder(11, 64).seed(18).config(), 7, 29, true, true),
                // I = 1100: T·B = 261 input rows in two projection chunks, 144 and 117 (ending 12 + 8 + 1), step 4's
                // rows in both; H = 40 is two blocks, the second of 8 units, so xp is padded (its own array)
                new Case("lstm I1100 H40 B29 T9 h0 c0", Lstm.builder(1100, 40).seed(27).config(), 9, 29, false, true),
                new Case("gru H48 B9 T9 (parallel)", Gru.builder(30, 48).seed(19).config(), 9, 9, false, false),
                // W_ih small enough that a chunk's xp fits XP_BYTES: 600 rows in chunks of 216, 216, 168, the steps
                // of each claimed after the next chunk, step 10's rows in two chunks
                new Case("lstm H128 B20 T30 three chunks (parallel)", Lstm.builder(16, 128).seed(28).config(), 30, 20,
                        false, true),
                // widths that are multiples of the vector: the vector cells' block step on every option it takes
                new Case("lstm peepholes clip H48 B5 lengths h0 c0", Lstm.builder(9, 48).peepholes(true).cellClip(0.4)
                        .seed(20).config(), 6, 5, true, true),
                new Case("lstm coupled peepholes no bias H64 B3 h0 c0", Lstm.builder(7, 64).coupledInputForget(true)
                        .peepholes(true).bias(false).seed(21).config(), 5, 3, false, true),
                new Case("gru no bias H64 B4 lengths h0", Gru.builder(5, 64).bias(false).seed(22).config(), 6, 4, true,
                        true),
                new Case("relu H64 B3 lengths h0", Rnn.reluBuilder(6, 64).seed(23).config(), 7, 3, true, true),
                new Case("tanh no bias H32 B2", Rnn.builder(4, 32).bias(false).seed(24).config(), 5, 2, false, true),
                // long k, 12-row groups whose packed rows outgrow a third of L1: projection (I = 400), steps (H = 352)
                new Case("lstm I400 H64 B9 T6 lengths", Lstm.builder(400, 64).seed(25).config(), 6, 9, true, false),
                new Case("gru H352 B13 T3 h0", Gru.builder(8, 352).seed(26).config(), 3, 13, false, true));
    }

    @ParameterizedTest
    @MethodSource("cases")
    void evalForwardHasTheTrainingForwardsBitsOnAnyThreadCount(Case c) {
        RecurrentConfig cfg = c.cfg();
        SplittableRandom r = new SplittableRandom(cfg.seed());
        int states = cfg.numLayers() * cfg.directions();
        int[] len = c.lengths() ? lengths(r, c.steps(), c.batch()) : null;
        try (RecurrentLayer layer = new RecurrentLayer(cfg, CPU);
             Tensor x = Tensor.of(CPU, uniform(r, c.steps() * c.batch() * cfg.inputSize()), c.steps(), c.batch(),
                     cfg.inputSize());
             Tensor h0 = c.initial() ? Tensor.of(CPU, uniform(r, states * c.batch() * cfg.hiddenSize()), states,
                     c.batch(), cfg.hiddenSize()) : null;
             Tensor c0 = c.initial() && cfg.cell() == org.rnn4j.CellType.LSTM ? Tensor.of(CPU,
                     uniform(r, states * c.batch() * cfg.hiddenSize()), states, c.batch(), cfg.hiddenSize()) : null) {
            float[][] want;
            try (ForwardResult f = layer.train().forward(x, len, h0, c0)) {
                want = host(f);
            }
            layer.eval();
            for (int threads = 1; threads <= 3; threads++) {
                CpuEngine.setThreads(threads);
                // a call on other input first: a step that read its projection before it was written would see that
                try (Tensor other = Tensor.of(CPU, uniform(r, (int) x.size()), c.steps(), c.batch(), cfg.inputSize());
                     ForwardResult f = layer.forward(other, len, h0, c0)) {
                    host(f);
                }
                try (ForwardResult f = layer.forward(x, len, h0, c0)) {
                    float[][] got = host(f);
                    for (int i = 0; i < want.length; i++) {
                        assertArrayEquals(bits(want[i]), bits(got[i]), c + ", " + threads + " threads: "
                                + new String[] {"output", "h_n", "c_n"}[i]);
                    }
                }
            }
            assertNotNull(panels(layer, "weight_hh_l0"), c + ": the inference loop did not run");
            assertNotNull(panels(layer, "weight_ih_l0"), c + ": the input projection reads W_ih packed");
        }
    }

    /** W_hh and W_ih are packed once per write version. */
    @ParameterizedTest
    @ValueSource(strings = {"weight_hh_l0", "weight_ih_l0"})
    void aWriteToAWeightRebuildsItsPackedCopy(String name) {
        SplittableRandom r = new SplittableRandom(12);
        int steps = 2, batch = 3;
        try (RecurrentLayer layer = Lstm.builder(8, 48).seed(13).build(CPU).eval();
             Tensor x = Tensor.of(CPU, uniform(r, steps * batch * 8), steps, batch, 8)) {
            float[] before;
            try (ForwardResult f = layer.forward(x)) {
                before = f.output().toHost();
            }
            InferenceLoop.Panels packed = panels(layer, name);
            assertNotNull(packed, name + " is packed");
            try (ForwardResult f = layer.forward(x)) {
                assertArrayEquals(bits(before), bits(f.output().toHost()), "a second call on the same weights");
            }
            assertSame(packed, panels(layer, name), "the packed weights are reused across calls");

            layer.setParameter(name, uniform(r, (int) layer.parameter(name).size()));
            float[] want;
            try (ForwardResult f = layer.train().forward(x)) {
                want = f.output().toHost();
            }
            try (ForwardResult f = layer.eval().forward(x)) {
                float[] got = f.output().toHost();
                assertArrayEquals(bits(want), bits(got), "after setParameter: the new weights' bits");
                assertFalse(java.util.Arrays.equals(before, got), "the new weights change the output");
            }
            assertNotSame(packed, panels(layer, name), "the packed weights were rebuilt");
            assertEquals(layer.parameter(name).version(), panels(layer, name).version());
        }
    }

    /**
     * The layer keeps its inference xp from call to call: a smaller call after a larger one (the buffer holds the
     * larger call's values beyond its rows) and a larger one after it (the buffer grows) keep the training forward's
     * bits, on the inference loop and on the per-step loop (a projection), two layers sharing the one buffer.
     */
    @ParameterizedTest
    @ValueSource(ints = {0, 12})
    void callsOfChangingShapeOnOneLayerKeepTheTrainingForwardsBits(int projSize) {
        SplittableRandom r = new SplittableRandom(20 + projSize);
        try (RecurrentLayer layer = Lstm.builder(9, 40).numLayers(2).projSize(projSize).seed(21).build(CPU)) {
            for (int[] shape : new int[][] {{6, 5}, {2, 3}, {7, 6}, {1, 1}}) {
                int steps = shape[0], batch = shape[1];
                try (Tensor x = Tensor.of(CPU, uniform(r, steps * batch * 9), steps, batch, 9)) {
                    float[][] want;
                    try (ForwardResult f = layer.train().forward(x)) {
                        want = host(f);
                    }
                    try (ForwardResult f = layer.eval().forward(x)) {
                        float[][] got = host(f);
                        for (int i = 0; i < want.length; i++) {
                            assertArrayEquals(bits(want[i]), bits(got[i]), "T " + steps + " B " + batch + " proj "
                                    + projSize + ": " + new String[] {"output", "h_n", "c_n"}[i]);
                        }
                    }
                }
            }
        }
    }

    private static InferenceLoop.Panels panels(RecurrentLayer layer, String name) {
        return ((CpuBuffer) layer.parameter(name).buffer()).panels;
    }

    private static float[][] host(ForwardResult f) {
        return f.cN() == null ? new float[][] {f.output().toHost(), f.hN().toHost()}
                : new float[][] {f.output().toHost(), f.hN().toHost(), f.cN().toHost()};
    }

    private static int[] bits(float[] v) {
        int[] b = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = Float.floatToRawIntBits(v[i]);
        }
        return b;
    }

    private static float[] uniform(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextDouble(-1, 1);
        }
        return v;
    }

    private static int[] lengths(SplittableRandom r, int steps, int batch) {
        int[] len = new int[batch];
        for (int b = 0; b < batch; b++) {
            len[b] = b == 0 ? steps : 1 + r.nextInt(steps);
        }
        return len;
    }
}
