package org.rnn4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.rnn4j.train.Adam;
import org.rnn4j.train.Checkpoint;
import org.rnn4j.train.Sgd;

/**
 * The ways a recurrent layer used to return wrong numbers without a word: padding read, a second backward,
 * weights changed between forward and backward, overflowing sizes. On every usable device.
 */
@Tag("cuda")
class NoSilentWrongAnswersTest {

    static Device device(String name) {
        return name.equals("cpu") ? Device.cpu() : Device.cuda();
    }

    static float[] uniform(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextDouble(-1, 1);
        }
        return v;
    }

    static RecurrentConfig config(String cell, boolean batchFirst) {
        return switch (cell) {
            case "lstm" -> Lstm.builder(3, 4).numLayers(2).bidirectional(true).batchFirst(batchFirst).seed(5).config();
            case "lstmp" -> Lstm.builder(3, 5).projSize(2).peepholes(true).cellClip(2).bidirectional(true)
                    .batchFirst(batchFirst).seed(5).config();
            case "gru" -> Gru.builder(3, 4).numLayers(2).bidirectional(true).dropout(0.3).batchFirst(batchFirst).seed(5).config();
            case "gru-reset-before" -> Gru.builder(3, 4).resetAfter(false).bidirectional(true).batchFirst(batchFirst).seed(5).config();
            case "rnn" -> Rnn.builder(3, 4).numLayers(2).batchFirst(batchFirst).seed(5).config();
            default -> throw new IllegalArgumentException(cell);
        };
    }

    static Stream<Arguments> padding() {
        List<Arguments> out = new ArrayList<>();
        for (String d : Devices.names()) {
            for (String cell : List.of("lstm", "lstmp", "gru", "gru-reset-before", "rnn")) {
                for (boolean bf : new boolean[] {false, true}) {
                    out.add(Arguments.of(d, cell, bf));
                }
            }
        }
        return out.stream();
    }

    /** Everything a forward and backward produce, on the host, by name. */
    private static Map<String, float[]> run(RecurrentLayer layer, float[] x, float[] dy, int[] lengths, int steps, int batch) {
        RecurrentConfig cfg = layer.config();
        Device dev = layer.device();
        int[] xs = cfg.batchFirst() ? new int[] {batch, steps, cfg.inputSize()} : new int[] {steps, batch, cfg.inputSize()};
        int[] ys = cfg.batchFirst() ? new int[] {batch, steps, cfg.outputSize()} : new int[] {steps, batch, cfg.outputSize()};
        Map<String, float[]> out = new LinkedHashMap<>();
        layer.zeroGrad();
        try (Tensor xt = Tensor.of(dev, x, xs); Tensor dyt = Tensor.of(dev, dy, ys);
             ForwardResult f = layer.forward(xt, lengths, null, null);
             BackwardResult b = layer.backward(f, dyt, null, null)) {
            out.put("output", f.output().toHost());
            out.put("hN", f.hN().toHost());
            out.put("dX", b.dX().toHost());
            out.put("dh0", b.dh0().toHost());
            layer.gradients().forEach((k, v) -> out.put("grad " + k, v.toHost()));
        }
        return out;
    }

    /** Sets every padded position (t >= lengths[b]) of a [T, B, F] or [B, T, F] array to {@code value}. */
    private static float[] pad(float[] v, int[] lengths, int steps, int batch, int features, boolean batchFirst, float value) {
        float[] out = v.clone();
        for (int t = 0; t < steps; t++) {
            for (int b = 0; b < batch; b++) {
                if (t >= lengths[b]) {
                    int row = batchFirst ? b * steps + t : t * batch + b;
                    java.util.Arrays.fill(out, row * features, (row + 1) * features, value);
                }
            }
        }
        return out;
    }

    @ParameterizedTest(name = "{0} {1} batchFirst={2}")
    @MethodSource("padding")
    void paddedStepsContributeNothingWhateverTheyHold(String dev, String cell, boolean batchFirst) {
        Device device = device(dev);
        RecurrentConfig cfg = config(cell, batchFirst);
        int steps = 5;
        int batch = 3;
        int[] lengths = {5, 2, 1};
        SplittableRandom r = new SplittableRandom(11);
        float[] x = uniform(r, steps * batch * cfg.inputSize());
        float[] dy = uniform(r, steps * batch * cfg.outputSize());
        // a fresh layer per run: the same weights and the same dropout masks
        Map<String, float[]> clean;
        try (RecurrentLayer layer = new RecurrentLayer(cfg, device)) {
            clean = run(layer, pad(x, lengths, steps, batch, cfg.inputSize(), batchFirst, 0f),
                    pad(dy, lengths, steps, batch, cfg.outputSize(), batchFirst, 0f), lengths, steps, batch);
        }
        for (float poison : new float[] {Float.NaN, Float.POSITIVE_INFINITY, -Float.MAX_VALUE}) {
            try (RecurrentLayer layer = new RecurrentLayer(cfg, device)) {
                Map<String, float[]> dirty = run(layer, pad(x, lengths, steps, batch, cfg.inputSize(), batchFirst, poison),
                        pad(dy, lengths, steps, batch, cfg.outputSize(), batchFirst, poison), lengths, steps, batch);
                clean.forEach((k, v) -> Close.assertClose(k + " with " + poison + " in the padding", v, dirty.get(k), 0, 0));
            }
        }
        // checkFinite looks at the valid steps only
        try (RecurrentLayer layer = new RecurrentLayer(cfg, device).checkFinite(true)) {
            run(layer, pad(x, lengths, steps, batch, cfg.inputSize(), batchFirst, Float.NaN), dy, lengths, steps, batch);
            float[] bad = x.clone();
            bad[0] = Float.NaN; // step 0 of sample 0 is valid in both layouts
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> run(layer, bad, dy, lengths, steps, batch));
            assertTrue(e.getMessage().startsWith("x: expected finite values"), e.getMessage());
        }
    }

    static Stream<String> devices() {
        return Devices.names().stream();
    }

    @ParameterizedTest
    @MethodSource("devices")
    void aSecondBackwardIsRefusedUnlessRetained(String dev) {
        Device device = device(dev);
        SplittableRandom r = new SplittableRandom(3);
        try (RecurrentLayer layer = Lstm.builder(3, 4).build(device);
             Tensor x = Tensor.of(device, uniform(r, 4 * 2 * 3), 4, 2, 3);
             Tensor dy = Tensor.of(device, uniform(r, 4 * 2 * 4), 4, 2, 4)) {
            float[] once;
            try (ForwardResult f = layer.forward(x)) {
                layer.backward(f, dy, null, null).close();
                once = layer.gradients().get("weight_hh_l0").toHost();
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> layer.backward(f, dy, null, null));
                assertTrue(e.getMessage().startsWith("fwd: backward already ran on this forward result")
                        && e.getMessage().contains("retainSaved()"), e.getMessage());
                assertArrayEquals(once, layer.gradients().get("weight_hh_l0").toHost(), 0f, "gradients unchanged");
            }
            layer.zeroGrad();
            try (ForwardResult f = layer.forward(x).retainSaved()) {
                layer.backward(f, dy, null, null).close();
                layer.backward(f, dy, null, null).close();
                assertTrue(f.canBackward());
            }
            float[] twice = layer.gradients().get("weight_hh_l0").toHost();
            for (int i = 0; i < once.length; i++) {
                assertEquals(2 * once[i], twice[i], 1e-6 * Math.abs(once[i]) + 1e-7, "retained: gradients add up");
            }
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void writesToTheWeightsBetweenForwardAndBackwardAreRefused(String dev) {
        Device device = device(dev);
        SplittableRandom r = new SplittableRandom(4);
        try (RecurrentLayer layer = Gru.builder(3, 4).build(device);
             Tensor x = Tensor.of(device, uniform(r, 4 * 2 * 3), 4, 2, 3);
             Adam adam = new Adam(List.of(layer), 0.01); Sgd sgd = new Sgd(List.of(layer), 0.1)) {
            List<Runnable> writes = List.of(
                    () -> layer.setParameter("weight_hh_l0", uniform(r, 12 * 4)),
                    adam::step,
                    sgd::step,
                    () -> layer.parameter("bias_ih_l0").fill(0.5f),
                    () -> layer.resetParameters(9),
                    () -> {
                        try {
                            java.nio.file.Path p = java.nio.file.Files.createTempFile("rnn4j-version", ".safetensors");
                            try {
                                Checkpoint.save(p, layer);
                                Checkpoint.load(p, layer);
                            } finally {
                                java.nio.file.Files.delete(p);
                            }
                        } catch (java.io.IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                    });
            for (Runnable write : writes) {
                try (ForwardResult f = layer.forward(x)) {
                    write.run();
                    IllegalStateException e = assertThrows(IllegalStateException.class, () -> layer.backward(f, null, null, null));
                    assertTrue(e.getMessage().startsWith("fwd: parameters [") && e.getMessage().contains("were written since this forward"),
                            e.getMessage());
                }
            }
            try (ForwardResult f = layer.forward(x)) {
                layer.setParameter("bias_hh_l0", uniform(r, 12));
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> layer.backward(f, null, null, null));
                assertTrue(e.getMessage().startsWith("fwd: parameters [bias_hh_l0] of GRU"), e.getMessage());
            }
            // zeroing the gradients between forward and backward is fine
            try (ForwardResult f = layer.forward(x)) {
                layer.zeroGrad();
                layer.backward(f, null, null, null).close();
            }
        }
    }

    @Test
    void sizesThatOverflowAnIntAreRefusedWithTheBytesTheyNeed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Lstm.builder(4, 1 << 30).config());
        assertTrue(e.getMessage().startsWith("inputSize=4, hiddenSize=1073741824: a weight of [4294967296, ")
                && e.getMessage().contains("bytes"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Gru.builder(1 << 20, 1 << 12).config());
        assertTrue(e.getMessage().startsWith("inputSize=1048576, hiddenSize=4096: a weight of [12288, 1048576]"), e.getMessage());
        // fits a tensor, but not this JVM: refused before anything is allocated
        e = assertThrows(IllegalArgumentException.class, () -> Lstm.builder(1024, 1024).numLayers(1 << 20).build(Device.cpu()));
        assertTrue(e.getMessage().contains("numLayers=1048576") && e.getMessage().contains("more than the JVM's maximum heap"),
                e.getMessage());
        // activations of a sequence too long for a tensor
        try (RecurrentLayer layer = Lstm.builder(1, 1024).build(Device.cpu());
             Tensor x = Tensor.zeros(Device.cpu(), 1 << 12, 1 << 7, 1)) {
            e = assertThrows(IllegalArgumentException.class, () -> layer.forward(x));
            assertTrue(e.getMessage().startsWith("x: shape [4096, 128, 1] needs activation tensors of"), e.getMessage());
        }
        // a head whose output would not fit a tensor
        try (org.rnn4j.train.Linear head = new org.rnn4j.train.Linear(1, 1 << 20, false, 1, Device.cpu());
             Tensor x = Tensor.zeros(Device.cpu(), 1 << 12, 1)) {
            e = assertThrows(IllegalArgumentException.class, () -> head.forward(x));
            assertTrue(e.getMessage().startsWith("x: 4096 rows of [4096, 1] give an output of 4294967296 elements"),
                    e.getMessage());
        }
        // activations that fit a tensor but not this JVM's heap (where the heap is below 8 GiB)
        long heap = Runtime.getRuntime().maxMemory();
        int batch = (int) Math.min(1 << 20, heap / 4 / (4 * 1024) / 64 + 1); // (T+1)·B·4H·4 bytes > heap
        if ((64L + 1) * batch * 4 * 1024 <= Tensor.MAX_ELEMENTS) {
            try (RecurrentLayer layer = Lstm.builder(1, 1024).build(Device.cpu());
                 Tensor x = Tensor.zeros(Device.cpu(), 64, batch, 1)) {
                e = assertThrows(IllegalArgumentException.class, () -> layer.forward(x));
                assertTrue(e.getMessage().startsWith("x: shape [64, " + batch + ", 1] needs activation tensors of")
                        && e.getMessage().contains("maximum heap"), e.getMessage());
            }
        }
    }
}
