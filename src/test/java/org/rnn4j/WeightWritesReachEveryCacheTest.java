package org.rnn4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.rnn4j.train.Adam;
import org.rnn4j.train.Checkpoint;

/**
 * Every way a user changes a layer's weights reaches every copy that a later call reads instead of them: the CPU
 * engine's packed W_hh and W_ih (kept per write version), the CUDA graphs keyed by pointers, a BF16 layer's weight
 * copies. After warm-up calls (packed, captured, replayed) the weights change by an optimizer step, {@code copyFrom},
 * {@code fill}, {@code setParameter}, {@code resetParameters} or a checkpoint load; then an inference forward, and a
 * stream's next step, must have the bits of a fresh layer given the same weights (no cache at all), on each device.
 */
class WeightWritesReachEveryCacheTest {
    private static final int IN = 5;
    private static final String[] ROUTES = {"adam", "copyFrom", "fill", "setParameter", "resetParameters", "checkpoint"};

    static List<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (String d : Devices.names()) {
            List<String> cells = new ArrayList<>(List.of("lstm", "lstm 2 layers", "gru", "gru reset-before", "rnn"));
            if (d.equals("cuda")) {
                cells.addAll(List.of("lstm bf16", "projected lstm bf16", "gru reset-before bf16", "lstm tf32"));
            }
            for (String cell : cells) {
                for (String route : ROUTES) {
                    // 2 × 3 rows: the CPU packs W_ih too (a stream's step); 8 × 4: one CpuGemm input projection
                    out.add(Arguments.of(d, cell, route, 2, 3));
                    out.add(Arguments.of(d, cell, route, 8, 4));
                }
            }
        }
        return out;
    }

    static RecurrentConfig config(String cell) {
        return switch (cell) {
            case "lstm" -> Lstm.builder(IN, 40).seed(1).config();
            case "lstm 2 layers" -> Lstm.builder(IN, 24).numLayers(2).seed(1).config();
            case "gru" -> Gru.builder(IN, 40).seed(1).config();
            case "gru reset-before" -> Gru.builder(IN, 40).resetAfter(false).seed(1).config();
            case "rnn" -> Rnn.builder(IN, 40).seed(1).config();
            case "lstm bf16" -> Lstm.builder(IN, 40).precision(Precision.BF16).seed(1).config();
            case "projected lstm bf16" -> Lstm.builder(IN, 40).projSize(7).numLayers(2).precision(Precision.BF16).seed(1)
                    .config();
            case "gru reset-before bf16" -> Gru.builder(IN, 40).resetAfter(false).precision(Precision.BF16).seed(1).config();
            case "lstm tf32" -> Lstm.builder(IN, 40).precision(Precision.TF32).seed(1).config();
            default -> throw new IllegalArgumentException(cell);
        };
    }

    /** Changes {@code layer}'s weights by {@code route}. */
    private static void change(RecurrentLayer layer, String route, Tensor x, SplittableRandom r, Path dir) throws Exception {
        Device d = layer.device();
        switch (route) {
            case "adam" -> {
                try (Adam opt = new Adam(List.of(layer), 0.05)) {
                    layer.train();
                    try (ForwardResult f = layer.forward(x);
                         Tensor dy = Tensor.of(d, uniform(r, (int) f.output().size()), f.output().shape());
                         BackwardResult b = layer.backward(f, dy, null, null)) {
                        b.dX().toHost();
                    }
                    opt.step();
                    layer.eval();
                }
            }
            case "copyFrom" -> layer.parameters().values().forEach(t -> t.copyFrom(uniform(r, (int) t.size())));
            case "fill" -> layer.parameters().values().forEach(t -> t.fill(0.03f));
            case "setParameter" -> layer.parameters().forEach((n, t) -> layer.setParameter(n, uniform(r, (int) t.size())));
            case "resetParameters" -> layer.resetParameters(99);
            case "checkpoint" -> {
                Path file = dir.resolve("other.safetensors");
                try (RecurrentLayer other = new RecurrentLayer(layer.config(), d)) {
                    other.resetParameters(77);
                    Checkpoint.save(file, other);
                }
                Checkpoint.load(file, layer);
            }
            default -> throw new IllegalArgumentException(route);
        }
    }

    /** A layer of {@code like}'s configuration with its current weights and nothing cached. */
    private static RecurrentLayer fresh(RecurrentLayer like) {
        RecurrentLayer f = new RecurrentLayer(like.config(), like.device()).eval();
        like.parameters().forEach((n, t) -> f.setParameter(n, t.toHost()));
        return f;
    }

    @ParameterizedTest(name = "{0} {1} {2} T={3} B={4}")
    @MethodSource("cases")
    void theNextForwardAndStreamStepUseTheNewWeights(String device, String cell, String route, int steps, int batch,
                                                     @TempDir Path dir) throws Exception {
        Device d = Device.parse(device);
        RecurrentConfig cfg = config(cell);
        SplittableRandom r = new SplittableRandom(3);
        long open = Tensor.openCount();
        try (RecurrentLayer live = new RecurrentLayer(cfg, d).eval();
             RecurrentStream stream = live.stream(batch);
             Tensor x = Tensor.of(d, uniform(r, steps * batch * IN), steps, batch, IN)) {
            for (int i = 0; i < 3; i++) {   // packed, captured, replayed
                try (ForwardResult f = live.forward(x); Tensor y = stream.step(x)) {
                    f.output().toHost();
                    y.toHost();
                }
            }
            change(live, route, x, r, dir);
            try (RecurrentLayer oracle = fresh(live);
                 Tensor h = stream.hidden(); Tensor c = stream.cell();
                 ForwardResult want = oracle.forward(x);
                 ForwardResult wantStep = oracle.forward(x, null, h, c);
                 ForwardResult got = live.forward(x);
                 Tensor gotStep = stream.step(x)) {
                assertArrayEquals(want.output().toHost(), got.output().toHost(), "forward after " + route);
                assertArrayEquals(want.hN().toHost(), got.hN().toHost(), "h_n after " + route);
                assertArrayEquals(wantStep.output().toHost(), gotStep.toHost(), "stream step after " + route);
            }
        }
        assertEquals(open, Tensor.openCount(), "tensors left open");
    }

    private static float[] uniform(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextDouble(-1, 1);
        }
        return v;
    }
}
