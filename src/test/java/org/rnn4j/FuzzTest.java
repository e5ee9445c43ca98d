package org.rnn4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.rnn4j.train.Checkpoint;
import org.rnn4j.train.LastStep;

/**
 * Random misuse, seeded and bounded in time: bad shapes, lengths and states, NaN at valid and padded steps,
 * closed tensors, repeated backward passes, corrupted checkpoints. Each call must either give the right
 * answer or throw an {@link IllegalArgumentException} / {@link IllegalStateException} (an {@link IOException}
 * for a file) naming what was wrong; never a wrong answer, never another exception.
 */
@Tag("cuda")
class FuzzTest {
    private static final long SEED = 20261202L;
    private static final long BUDGET_NANOS = 3_000_000_000L;
    private static final int MAX_CASES = 400;

    @TempDir
    Path dir;

    static List<String> devices() {
        return Devices.names();
    }

    private static RecurrentConfig randomConfig(SplittableRandom r) {
        int in = 1 + r.nextInt(3);
        int h = 2 + r.nextInt(3);
        RecurrentConfig.Builder<?> b = switch (r.nextInt(4)) {
            case 0 -> Lstm.builder(in, h).peepholes(r.nextBoolean()).projSize(r.nextBoolean() ? 1 : 0);
            case 1 -> Gru.builder(in, h).resetAfter(r.nextBoolean());
            case 2 -> Rnn.builder(in, h);
            default -> Rnn.reluBuilder(in, h);
        };
        return b.numLayers(1 + r.nextInt(2)).bidirectional(r.nextBoolean()).batchFirst(r.nextBoolean())
                .seed(r.nextLong()).config();
    }

    /** A dimension that is usually right, sometimes off by one, zero or negative-free nonsense. */
    private static int perturb(SplittableRandom r, int right) {
        return switch (r.nextInt(10)) {
            case 0 -> right + 1;
            case 1 -> Math.max(0, right - 1);
            case 2 -> 0;
            default -> right;
        };
    }

    @ParameterizedTest
    @MethodSource("devices")
    void randomMisuseOfTheLayerIsRefusedOrAnsweredRight(String deviceName) {
        Device device = deviceName.equals("cpu") ? Device.cpu() : Device.cuda();
        SplittableRandom r = new SplittableRandom(SEED);
        long end = System.nanoTime() + BUDGET_NANOS;
        for (int c = 0; c < MAX_CASES && System.nanoTime() < end; c++) {
            RecurrentConfig cfg = randomConfig(r);
            String what = "case " + c + ": " + cfg;
            try (RecurrentLayer layer = new RecurrentLayer(cfg, device)) {
                layerCase(r, layer, what);
            }
        }
    }

    private static void layerCase(SplittableRandom r, RecurrentLayer layer, String what) {
        RecurrentConfig cfg = layer.config();
        Device device = layer.device();
        int steps = 1 + r.nextInt(4);
        int batch = 1 + r.nextInt(3);
        int[] shape = cfg.batchFirst() ? new int[] {batch, steps, cfg.inputSize()} : new int[] {steps, batch, cfg.inputSize()};
        int[] given = shape.clone();
        for (int i = 0; i < 3; i++) {
            given[i] = perturb(r, shape[i]);
        }
        if (r.nextInt(12) == 0) {
            given = Arrays.copyOf(given, 2 + r.nextInt(3) * (r.nextBoolean() ? 1 : 0) % 2 * 2);
        }
        // any T, B >= 1 is a valid sequence: what the layer sees is what was given
        boolean xValid = given.length == 3 && given[0] >= 1 && given[1] >= 1 && given[2] == cfg.inputSize();
        if (xValid) {
            steps = given[cfg.batchFirst() ? 1 : 0];
            batch = given[cfg.batchFirst() ? 0 : 1];
            shape = given;
        }
        int[] lengths = null;
        boolean lengthsValid = true;
        if (r.nextBoolean()) {
            lengths = new int[r.nextInt(8) == 0 ? batch + 1 : batch];
            for (int b = 0; b < lengths.length; b++) {
                lengths[b] = r.nextInt(10) == 0 ? r.nextInt(3) - 1 + (r.nextBoolean() ? steps + 1 : 0) : 1 + r.nextInt(steps);
                lengthsValid &= lengths[b] >= 1 && lengths[b] <= steps;
            }
            lengthsValid &= lengths.length == batch;
        }
        int states = cfg.numLayers() * cfg.directions();
        boolean h0Valid = true;
        int[] h0Shape = null;
        if (r.nextInt(3) == 0) {
            h0Shape = new int[] {perturb(r, states), perturb(r, batch), perturb(r, cfg.stateSize())};
            h0Valid = Arrays.equals(h0Shape, new int[] {states, batch, cfg.stateSize()});
        }
        int nanAt = r.nextInt(3) == 0 ? r.nextInt(Math.max(1, (int) sizeOf(given))) : -1;
        boolean checkFinite = r.nextBoolean();
        layer.checkFinite(checkFinite);
        float[] xv = new float[(int) sizeOf(given)];
        for (int i = 0; i < xv.length; i++) {
            xv[i] = (float) r.nextDouble(-1, 1);
        }
        boolean nanValid = false;
        if (nanAt >= 0 && nanAt < xv.length) {
            xv[nanAt] = Float.NaN;
            nanValid = xValid && isValidStep(nanAt, cfg, steps, batch, lengthsValid ? lengths : null);
        }
        boolean closeX = r.nextInt(20) == 0;
        what += " x " + Arrays.toString(given) + (closeX ? " (closed)" : "") + ", lengths " + Arrays.toString(lengths)
                + ", h0 " + Arrays.toString(h0Shape) + ", NaN at " + nanAt + ", checkFinite " + checkFinite;
        Tensor h0 = h0Shape == null ? null : Tensor.zeros(device, h0Shape);
        try (Tensor x = Tensor.of(device, xv, given)) {
            if (closeX) {
                x.close();
            }
            String expectedName = closeX ? "x" : !xValid ? "x" : !lengthsValid ? "lengths" : !h0Valid ? "h0"
                    : checkFinite && nanValid ? "x" : null;
            ForwardResult f;
            try {
                f = layer.forward(x, lengths, h0, null);
            } catch (IllegalArgumentException | IllegalStateException e) {
                if (expectedName == null) {
                    fail(what + ": a valid call was refused: " + e.getMessage());
                }
                assertTrue(e.getMessage().startsWith(expectedName), what + ": expected a message naming " + expectedName
                        + ", got: " + e.getMessage());
                return;
            } catch (RuntimeException | Error e) {
                throw new AssertionError(what + ": " + e, e);
            }
            if (expectedName != null) {
                f.close();
                fail(what + ": expected a refusal naming " + expectedName);
            }
            try (ForwardResult res = f) {
                checkAnswer(r, layer, res, xv, shape, lengths, h0 == null ? null : h0, nanAt >= 0 && !nanValid, what);
                backwardCase(r, layer, res, shape, what);
            }
        } finally {
            if (h0 != null) {
                h0.close();
            }
        }
    }

    private static long sizeOf(int[] shape) {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        return n;
    }

    private static boolean isValidStep(int index, RecurrentConfig cfg, int steps, int batch, int[] lengths) {
        int row = index / cfg.inputSize();
        int t = cfg.batchFirst() ? row % steps : row / batch;
        int b = cfg.batchFirst() ? row / steps : row % batch;
        return lengths == null || t < lengths[b];
    }

    /** The output equals a run with zeros at the padded steps (so NaN there, or anywhere padded, changed nothing). */
    private static void checkAnswer(SplittableRandom r, RecurrentLayer layer, ForwardResult f, float[] xv, int[] shape,
                                    int[] lengths, Tensor h0, boolean nanInPadding, String what) {
        float[] out = f.output().toHost();
        if (!nanInPadding) {
            return; // a NaN at a valid step with checkFinite off propagates, as it should; nothing else to compare
        }
        RecurrentConfig cfg = layer.config();
        int steps = shape[cfg.batchFirst() ? 1 : 0];
        int batch = shape[cfg.batchFirst() ? 0 : 1];
        float[] clean = xv.clone();
        for (int i = 0; i < clean.length; i++) {
            if (!isValidStep(i, cfg, steps, batch, lengths)) {
                clean[i] = 0f;
            }
        }
        boolean training = layer.isTraining();
        try (RecurrentLayer twin = new RecurrentLayer(cfg, layer.device());
             Tensor x = Tensor.of(layer.device(), clean, shape)) {
            for (Map.Entry<String, Tensor> e : layer.parameters().entrySet()) {
                twin.setParameter(e.getKey(), e.getValue().toHost());
            }
            twin.eval();
            if (training && cfg.dropout() > 0) {
                return;
            }
            try (ForwardResult g = twin.forward(x, lengths, h0, null)) {
                Close.assertClose(what + ": output with NaN in the padding", g.output().toHost(), out, 0, 0);
                Close.assertClose(what + ": hN with NaN in the padding", g.hN().toHost(), f.hN().toHost(), 0, 0);
            }
        }
    }

    private static void backwardCase(SplittableRandom r, RecurrentLayer layer, ForwardResult f, int[] shape, String what) {
        RecurrentConfig cfg = layer.config();
        int[] dyShape = shape.clone();
        dyShape[2] = cfg.outputSize();
        int[] given = dyShape.clone();
        given[r.nextInt(3)] = perturb(r, dyShape[0]);
        boolean valid = Arrays.equals(given, dyShape);
        int passes = 1 + r.nextInt(2);
        try (Tensor dy = Tensor.zeros(layer.device(), given)) {
            for (int p = 0; p < passes; p++) {
                try {
                    layer.backward(f, dy, null, null).close();
                    assertTrue(valid && p == 0, what + ": backward pass " + p + " with dY " + Arrays.toString(given)
                            + " should have been refused");
                } catch (IllegalArgumentException | IllegalStateException e) {
                    String name = !valid ? "dY" : "fwd";
                    assertTrue(!valid || p == 1, what + ": a valid backward was refused: " + e.getMessage());
                    assertTrue(e.getMessage().startsWith(name), what + ": expected a message naming " + name + ", got: "
                            + e.getMessage());
                } catch (RuntimeException | Error e) {
                    throw new AssertionError(what + ": " + e, e);
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void corruptedCheckpointsAreRefusedOrLoadExactly(String deviceName) throws IOException {
        Device device = deviceName.equals("cpu") ? Device.cpu() : Device.cuda();
        SplittableRandom r = new SplittableRandom(SEED + 1);
        long end = System.nanoTime() + BUDGET_NANOS;
        Path good = dir.resolve("good.safetensors");
        Path bad = dir.resolve("bad.safetensors");
        for (int c = 0; c < MAX_CASES && System.nanoTime() < end; c++) {
            RecurrentConfig cfg = randomConfig(r);
            try (RecurrentLayer source = new RecurrentLayer(cfg, device);
                 RecurrentLayer target = new RecurrentLayer(cfg, device)) {
                target.resetParameters(r.nextLong());
                Checkpoint.save(good, source, Map.of("epoch", "3"));
                byte[] raw = Files.readAllBytes(good);
                String how = corrupt(r, raw, bad);
                String what = "case " + c + " (" + how + "): " + cfg;
                Map<String, float[]> before = snapshot(target);
                try {
                    Checkpoint.load(bad, target);
                    // it loaded: then it must be exactly the saved model
                    Map<String, float[]> want = snapshot(source);
                    Map<String, float[]> got = snapshot(target);
                    for (String name : want.keySet()) {
                        Close.assertClose(what + ": " + name, want.get(name), got.get(name), 0, 0);
                    }
                } catch (IOException | IllegalArgumentException e) {
                    assertTrue(e.getMessage().contains(bad.toString()), what + ": the message does not name the file: "
                            + e.getMessage());
                    Map<String, float[]> after = snapshot(target);
                    for (String name : before.keySet()) {
                        assertEquals(Arrays.toString(before.get(name)), Arrays.toString(after.get(name)),
                                what + ": a refused load changed " + name);
                    }
                } catch (RuntimeException | Error e) {
                    throw new AssertionError(what + ": " + e, e);
                }
            }
        }
    }

    /** Writes a damaged copy of {@code raw} to {@code bad}; says how. */
    private static String corrupt(SplittableRandom r, byte[] raw, Path bad) throws IOException {
        byte[] out = raw.clone();
        String how;
        switch (r.nextInt(5)) {
            case 0 -> {
                int bit = r.nextInt(8 * out.length);
                out[bit / 8] ^= (byte) (1 << (bit % 8));
                how = "bit " + bit + " flipped";
            }
            case 1 -> {
                int at = r.nextInt(out.length);
                out[at] = (byte) r.nextInt(256);
                how = "byte " + at + " replaced";
            }
            case 2 -> {
                int n = r.nextInt(out.length);
                out = Arrays.copyOf(out, n);
                how = "truncated to " + n;
            }
            case 3 -> {
                out = Arrays.copyOf(out, out.length + 1 + r.nextInt(16));
                how = "bytes appended";
            }
            default -> {
                int from = r.nextInt(out.length);
                int to = Math.min(out.length, from + 1 + r.nextInt(32));
                Arrays.fill(out, from, to, (byte) (r.nextBoolean() ? 0 : ' '));
                how = "bytes " + from + ".." + to + " overwritten";
            }
        }
        Files.write(bad, out);
        return how;
    }

    /** Random shapes, lengths and targets for the helpers around a layer: the head, the losses, the last step. */
    @ParameterizedTest
    @MethodSource("devices")
    void randomMisuseOfTheHelpersIsRefusedOrAnsweredRight(String deviceName) {
        Device device = deviceName.equals("cpu") ? Device.cpu() : Device.cuda();
        SplittableRandom r = new SplittableRandom(SEED + 2);
        long end = System.nanoTime() + BUDGET_NANOS;
        for (int c = 0; c < MAX_CASES && System.nanoTime() < end; c++) {
            int[] shape = new int[1 + r.nextInt(4)];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = r.nextInt(4);
            }
            float[] v = new float[(int) sizeOf(shape)];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) r.nextDouble(-1, 1);
            }
            String what = "case " + c + ": shape " + Arrays.toString(shape);
            try (Tensor t = Tensor.of(device, v, shape)) {
                switch (r.nextInt(3)) {
                    case 0 -> linearCase(r, device, t, v, what);
                    case 1 -> lastStepCase(r, t, v, what);
                    default -> crossEntropyCase(r, t, what);
                }
            }
        }
    }

    /** Runs {@code call}; a refusal must be an IAE/ISE whose message starts with {@code name} (null: must not be refused). */
    private static <T> T expect(String name, java.util.function.Supplier<T> call, String what) {
        try {
            T result = call.get();
            assertTrue(name == null, what + ": expected a refusal naming " + name);
            return result;
        } catch (IllegalArgumentException | IllegalStateException e) {
            assertTrue(name != null, what + ": a valid call was refused: " + e.getMessage());
            assertTrue(e.getMessage().startsWith(name), what + ": expected a message naming " + name + ", got: "
                    + e.getMessage());
            return null;
        } catch (RuntimeException | Error e) {
            throw new AssertionError(what + ": " + e, e);
        }
    }

    private static void linearCase(SplittableRandom r, Device device, Tensor x, float[] v, String what) {
        int in = 1 + r.nextInt(3);
        int out = 1 + r.nextInt(3);
        int[] shape = x.shape();
        boolean valid = shape.length >= 2 && shape[shape.length - 1] == in;
        try (org.rnn4j.train.Linear head = new org.rnn4j.train.Linear(in, out, true, r.nextLong(), device);
             Tensor y = expect(valid ? null : "x", () -> head.forward(x), what + ", Linear(" + in + ", " + out + ")")) {
            if (y == null) {
                return;
            }
            float[] w = head.parameters().get("weight").toHost();
            float[] b = head.parameters().get("bias").toHost();
            float[] got = y.toHost();
            double[] want = new double[got.length];
            for (int row = 0; row < got.length / out; row++) {
                for (int o = 0; o < out; o++) {
                    double s = b[o];
                    for (int i = 0; i < in; i++) {
                        s += (double) v[row * in + i] * w[o * in + i];
                    }
                    want[row * out + o] = s;
                }
            }
            Close.assertClose(what + ": Linear output", want, got, 1e-6, 1e-5);
        }
    }

    private static void lastStepCase(SplittableRandom r, Tensor y, float[] v, String what) {
        boolean batchFirst = r.nextBoolean();
        int[] shape = y.shape();
        boolean rank3 = shape.length == 3;
        int steps = rank3 ? shape[batchFirst ? 1 : 0] : 0;
        int batch = rank3 ? shape[batchFirst ? 0 : 1] : 0;
        int[] lengths = null;
        boolean lengthsValid = true;
        if (r.nextBoolean()) {
            lengths = new int[Math.max(0, batch + (r.nextInt(6) == 0 ? 1 : 0))];
            for (int b = 0; b < lengths.length; b++) {
                lengths[b] = r.nextInt(steps + 2);
                lengthsValid &= lengths[b] >= 1 && lengths[b] <= steps;
            }
            lengthsValid &= lengths.length == batch;
        }
        String name = !rank3 || steps < 1 ? "y" : !lengthsValid ? "lengths" : null;
        int[] len = lengths;
        try (Tensor last = expect(name, () -> LastStep.gather(y, len, batchFirst), what + ", lengths "
                + Arrays.toString(lengths) + ", batchFirst " + batchFirst)) {
            if (last == null) {
                return;
            }
            int features = shape[2];
            float[] want = new float[batch * features];
            for (int b = 0; b < batch; b++) {
                int t = (lengths == null ? steps : lengths[b]) - 1;
                int row = batchFirst ? b * steps + t : t * batch + b;
                System.arraycopy(v, row * features, want, b * features, features);
            }
            Close.assertClose(what + ": last step", want, last.toHost(), 0, 0);
        }
    }

    private static void crossEntropyCase(SplittableRandom r, Tensor logits, String what) {
        boolean batchFirst = r.nextBoolean();
        int[] shape = logits.shape();
        boolean rank3 = shape.length == 3;
        int rows = rank3 ? shape[0] * shape[1] : 0;
        int classes = rank3 ? shape[2] : 0;
        int[] targets = new int[r.nextInt(8) == 0 ? rows + 1 : rows];
        boolean targetsValid = targets.length == rows;
        for (int i = 0; i < targets.length; i++) {
            targets[i] = r.nextInt(classes + 2) - 1; // -1 (ignored) .. C (out of range)
            targetsValid &= targets[i] < classes;
        }
        String name = !rank3 ? "logits" : classes < 1 ? "logits" : targets.length != rows ? "targets"
                : !targetsValid ? "targets[" : null;
        try (org.rnn4j.train.LossResult loss = expect(name,
                () -> org.rnn4j.train.Losses.crossEntropyPerStep(logits, targets, null, batchFirst),
                what + ", targets " + Arrays.toString(targets))) {
            if (loss != null) {
                assertTrue(Double.isFinite(loss.value()) && loss.value() >= 0, what + ": loss " + loss.value());
            }
        }
    }

    private static Map<String, float[]> snapshot(HasParameters m) {
        Map<String, float[]> out = new java.util.LinkedHashMap<>();
        m.parameters().forEach((k, v) -> out.put(k, v.toHost()));
        return out;
    }
}
