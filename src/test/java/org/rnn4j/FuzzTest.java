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

    // ================================================================== the model layer

    /**
     * What the model-layer fuzzers saw: inputs tried, and how each bad one was met (a clear refusal naming
     * the problem, a vague one, the wrong exception type, or silence); good inputs must be answered.
     * Appended to the file named by the environment variable {@code RNN4J_FUZZ_REPORT} when set (tests print nothing).
     */
    private static final class Tally {
        final String name;
        int tried;
        int answered;
        int clear;
        int vague;
        int wrongType;
        int silent;
        final List<String> problems = new ArrayList<>();

        Tally(String name) {
            this.name = name;
        }

        /** Runs {@code call}; {@code expected} is null for a good input, else a substring the refusal must name. */
        void run(String what, String expected, ThrowingRunnable call) {
            run(what, expected, false, call);
        }

        /**
         * As {@link #run(String, String, ThrowingRunnable)}; with {@code mayPass} a bad input may also be
         * answered (the call itself asserts that the answer is right).
         */
        void run(String what, String expected, boolean mayPass, ThrowingRunnable call) {
            tried++;
            try {
                call.run();
                if (expected == null || mayPass) {
                    answered++;
                } else {
                    silent++;
                    problems.add(what + ": accepted, expected a refusal naming '" + expected + "'");
                }
            } catch (IllegalArgumentException | IllegalStateException | IOException e) {
                if (expected == null) {
                    wrongType++;
                    problems.add(what + ": a good input was refused: " + e);
                } else if (String.valueOf(e.getMessage()).contains(expected)) {
                    clear++;
                } else {
                    vague++;
                    problems.add(what + ": refused without naming '" + expected + "': " + e.getMessage());
                }
            } catch (AssertionError e) {
                silent++;   // answered, but wrongly
                problems.add(what + ": " + e.getMessage());
            } catch (RuntimeException | Error e) {
                wrongType++;
                problems.add(what + ": " + e);
            }
        }

        void check() throws IOException {
            String line = String.format(java.util.Locale.ROOT, "%s: %d inputs tried, %d answered, %d refused clearly, "
                    + "%d vaguely, %d with the wrong type, %d accepted silently%n", name, tried, answered, clear, vague,
                    wrongType, silent);
            String report = System.getenv("RNN4J_FUZZ_REPORT");
            if (report != null) {
                Files.writeString(Path.of(report), line, java.nio.file.StandardOpenOption.CREATE,
                        java.nio.file.StandardOpenOption.APPEND);
            }
            assertTrue(problems.isEmpty(), line + String.join("\n", problems.subList(0, Math.min(10, problems.size()))));
        }
    }

    interface ThrowingRunnable {
        void run() throws IOException;
    }

    private static org.rnn4j.model.SequenceModel.Builder randomModel(SplittableRandom r) {
        org.rnn4j.model.Task task = org.rnn4j.model.Task.values()[r.nextInt(org.rnn4j.model.Task.values().length)];
        boolean tokens = task == org.rnn4j.model.Task.LANGUAGE_MODEL || r.nextBoolean();
        int in = 2 + r.nextInt(2);
        org.rnn4j.model.SequenceModel.Builder b = org.rnn4j.model.SequenceModel.builder(task);
        if (tokens) {
            b.embedding(3 + r.nextInt(4), in, r.nextBoolean() ? 0 : -1);
        } else {
            b.features(in);
        }
        RecurrentConfig.Builder<?> rnn = r.nextBoolean() ? Lstm.builder(in, 2 + r.nextInt(2)).cellClip(r.nextInt(3))
                : Gru.builder(in, 2 + r.nextInt(2)).resetAfter(r.nextBoolean());
        return b.recurrent(rnn.seed(r.nextLong())).dropout(r.nextBoolean() ? 0 : 0.25)
                .outputs(task == org.rnn4j.model.Task.LANGUAGE_MODEL ? 0   // a classifier has two classes at least
                        : task.classes() ? 2 + r.nextInt(2) : 1 + r.nextInt(3)).seed(r.nextLong());
    }

    /** Sequences fitting {@code cfg}, or with one defect, as {@link org.rnn4j.spark.Sequence}s (the Spark path). */
    private record FuzzData(List<org.rnn4j.spark.Sequence> sequences, String expected) {
    }

    private static FuzzData randomData(SplittableRandom r, org.rnn4j.model.ModelConfig cfg) {
        int defect = r.nextInt(10);   // 0..5 a defect, else none
        int n = 1 + r.nextInt(4);
        int bad = r.nextInt(n);
        int features = cfg.tokens() ? 2 : cfg.inputFeatures();
        org.rnn4j.model.Task task = cfg.task();
        if (defect == 4) {   // another task's sequences
            task = task == org.rnn4j.model.Task.TAGGING ? org.rnn4j.model.Task.CLASSIFICATION : org.rnn4j.model.Task.TAGGING;
        }
        boolean tokens = defect == 3 ? !cfg.tokens() : cfg.tokens();
        if (defect == 5 && !cfg.tokens()) {
            features++;
        }
        List<org.rnn4j.spark.Sequence> out = new ArrayList<>();
        String expected = null;
        for (int i = 0; i < n; i++) {
            int len = 2 + r.nextInt(3);
            int vocab = Math.max(cfg.vocabSize(), 3);
            int[] ids = r.ints(len, 0, vocab).toArray();
            float[][] x = new float[len][features];
            float[][] y = new float[len][cfg.outputs() + (defect == 2 ? 1 : 0)];
            int classes = cfg.outputs();
            int label = r.nextInt(classes);
            int[] tags = r.ints(len, 0, classes).toArray();
            if (i == bad && defect == 0 && tokens) {
                ids[r.nextInt(len)] = vocab;
                expected = "expected a token id";
            }
            if (i == bad && defect == 1 && task == cfg.task()
                    && (task == org.rnn4j.model.Task.CLASSIFICATION || task == org.rnn4j.model.Task.TAGGING)) {
                label = r.nextBoolean() ? -1 : classes;
                tags[r.nextInt(len)] = label;
                expected = "expected a class";
            }
            out.add(switch (task) {
                case CLASSIFICATION -> tokens ? org.rnn4j.spark.Sequence.classification(ids, label)
                        : org.rnn4j.spark.Sequence.classificationOfFeatures(x, label);
                case TAGGING -> org.rnn4j.spark.Sequence.tagging(ids, tags);
                case LANGUAGE_MODEL -> org.rnn4j.spark.Sequence.languageModel(ids);
                case REGRESSION, SEQUENCE_REGRESSION -> org.rnn4j.spark.Sequence.regression(x, y);
            });
        }
        // the kind of data comes first (inputs, width, targets), then the value defect planted above
        org.rnn4j.model.Task dataTask = task == org.rnn4j.model.Task.SEQUENCE_REGRESSION ? org.rnn4j.model.Task.REGRESSION : task;
        boolean dataTokens = task == org.rnn4j.model.Task.CLASSIFICATION ? tokens : !task.name().contains("REGRESSION");
        if (dataTokens != cfg.tokens()) {
            expected = "as inputs";
        } else if (!cfg.tokens() && features != cfg.inputFeatures()) {
            expected = "features per step";
        } else if (dataTask != cfg.task()) {
            expected = "targets for a " + cfg.task();
        } else if (defect == 2 && dataTask == org.rnn4j.model.Task.REGRESSION) {
            expected = "target values";
        }
        return new FuzzData(out, expected);
    }

    @ParameterizedTest
    @MethodSource("devices")
    void randomMisuseOfTheModelLayerAndSparksDataPathIsRefusedClearlyOrAnswered(String deviceName) throws IOException {
        Device device = deviceName.equals("cpu") ? Device.cpu() : Device.cuda();
        SplittableRandom r = new SplittableRandom(SEED + 3);
        org.apache.spark.api.java.JavaSparkContext sc = org.rnn4j.spark.SparkTestContext.shared();
        long end = System.nanoTime() + 2 * BUDGET_NANOS;
        Tally model = new Tally("model layer (" + deviceName + ")");
        Tally spark = new Tally("Spark data path (" + deviceName + ")");
        for (int c = 0; c < MAX_CASES && System.nanoTime() < end; c++) {
            org.rnn4j.model.ModelConfig cfg = randomModel(r).config();
            FuzzData data = randomData(r, cfg);
            String what = "case " + c + ": " + cfg + " on " + data.sequences();
            int seed = c;
            try (org.rnn4j.model.SequenceModel m = new org.rnn4j.model.SequenceModel(cfg, device)) {
                org.rnn4j.model.SequenceDataset ds;
                try {
                    ds = org.rnn4j.spark.Sequence.toDataset(data.sequences());
                } catch (IllegalArgumentException e) {
                    continue;   // a dataset that SequenceDataset itself refuses (covered by its own tests)
                }
                String expected = data.expected();
                int call = r.nextInt(5);
                model.run(what + " call " + call, expected, () -> {
                    switch (call) {
                        case 0 -> m.fit(ds, null, new org.rnn4j.model.FitOptions().epochs(1).batchSize(2).seed(seed));
                        case 1 -> assertTrue(Double.isFinite(m.trainOnBatch(ds, seed)), "loss");
                        case 2 -> m.evaluate(ds, 2).values().forEach(v -> assertTrue(Double.isFinite(v), "metric " + v));
                        case 3 -> assertTrue(Double.isFinite(org.rnn4j.model.ModelGradients.accumulate(m, ds, seed).mean()));
                        default -> {
                            org.rnn4j.model.ModelGradients.check(cfg, "data", ds);
                            m.predict(ds, 2);
                        }
                    }
                });
                if (c % 8 == 0) {
                    // the whole Spark path: the driver's check job, then training on the executors
                    Map<String, float[]> before = snapshot(m);
                    spark.run(what, expected, () -> org.rnn4j.spark.SequenceModelTrainer.fit(sc, m,
                            sc.parallelize(data.sequences(), 2), new org.rnn4j.spark.TrainOptions().batchSize(2).steps(1)));
                    if (expected != null) {
                        Map<String, float[]> after = snapshot(m);
                        before.forEach((k, v) -> Close.assertClose(what + ": refused, yet " + k + " changed", v,
                                after.get(k), 0, 0));
                    }
                }
            }
        }
        model.check();
        spark.check();
    }

    /**
     * A saved model's header, damaged: random single-bit flips of the length and JSON, and edits that
     * keep the JSON valid (a metadata value changed, an entry dropped, two tensor names swapped, a shape
     * changed). Every one is refused, or loads the identical model.
     */
    @ParameterizedTest
    @MethodSource("devices")
    void headerBitFlipsAndFieldEditsAreRefusedOrLoadTheIdenticalModel(String deviceName) throws IOException {
        Device device = deviceName.equals("cpu") ? Device.cpu() : Device.cuda();
        SplittableRandom r = new SplittableRandom(SEED + 4);
        long end = System.nanoTime() + BUDGET_NANOS;
        Tally tally = new Tally("checkpoint header (" + deviceName + ")");
        Path good = dir.resolve("model.safetensors");
        Path bad = dir.resolve("edited.safetensors");
        for (int c = 0; c < MAX_CASES && System.nanoTime() < end; c++) {
            try (org.rnn4j.model.SequenceModel m = randomModel(r).build(device)) {
                m.save(good);
                byte[] raw = Files.readAllBytes(good);
                long n = java.nio.ByteBuffer.wrap(raw, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
                String header = new String(raw, 8, (int) n, java.nio.charset.StandardCharsets.UTF_8);
                byte[] data = Arrays.copyOfRange(raw, 8 + (int) n, raw.length);
                String how;
                byte[] out;
                if (r.nextBoolean()) {
                    out = raw.clone();
                    int bit = r.nextInt(8 * (8 + (int) n));
                    out[bit / 8] ^= (byte) (1 << (bit % 8));
                    how = "header bit " + bit + " flipped";
                } else {
                    String[] edit = editHeader(r, header);
                    how = edit[0];
                    out = withHeader(edit[1], data);
                }
                if (Arrays.equals(out, raw)) {
                    continue;   // an edit that changed nothing
                }
                Files.write(bad, out);
                String what = "case " + c + " (" + how + "): " + m.config();
                tally.run(what, bad.toString(), true, () -> {
                    try (org.rnn4j.model.SequenceModel loaded = org.rnn4j.model.SequenceModel.load(bad, device)) {
                        // it loaded: then it must be the identical model (else AssertionError: counted as wrong)
                        assertEquals(m.config().toMetadata(), loaded.config().toMetadata(), what + ": configuration");
                        Map<String, float[]> want = snapshot(m);
                        Map<String, float[]> got = snapshot(loaded);
                        for (String k : want.keySet()) {
                            Close.assertClose(what + ": " + k, want.get(k), got.get(k), 0, 0);
                        }
                    }
                });
            }
        }
        tally.check();
    }

    /** A JSON-preserving edit of a safetensors header: {how, new header}. */
    private static String[] editHeader(SplittableRandom r, String header) {
        java.util.regex.Matcher meta = java.util.regex.Pattern.compile("\"([^\"]+)\":\"([^\"]*)\"").matcher(header);
        List<int[]> entries = new ArrayList<>();
        while (meta.find()) {
            entries.add(new int[] {meta.start(), meta.end(), meta.start(2), meta.end(2)});
        }
        java.util.regex.Matcher names = java.util.regex.Pattern.compile("\"([^\"]+)\":\\{\"dtype\"").matcher(header);
        List<int[]> tensors = new ArrayList<>();
        while (names.find()) {
            tensors.add(new int[] {names.start(1), names.end(1)});
        }
        switch (r.nextInt(4)) {
            case 0 -> {
                int[] e = entries.get(r.nextInt(entries.size()));
                String old = header.substring(e[2], e[3]);
                String[] choices = {"", "0", "1", "-3", "999", "NaN", "true", "false", "0.5", old + "0", "LSTM", "GRU"};
                String now = choices[r.nextInt(choices.length)];
                now = now.equals(old) ? old + "0" : now;
                return new String[] {"value '" + old + "' -> '" + now + "'",
                        header.substring(0, e[2]) + now + header.substring(e[3])};
            }
            case 1 -> {
                int[] e = entries.get(r.nextInt(entries.size()));
                String cut = header.substring(e[0], e[1]);
                String rest = header.substring(0, e[0]) + header.substring(e[1]);
                return new String[] {"entry " + cut + " removed", rest.replace(",,", ",").replace("{,", "{").replace(",}", "}")};
            }
            case 2 -> {
                if (tensors.size() < 2) {
                    return new String[] {"unchanged", header};
                }
                int i = r.nextInt(tensors.size());
                int j = (i + 1 + r.nextInt(tensors.size() - 1)) % tensors.size();
                int[] a = tensors.get(i);
                int[] b = tensors.get(j);
                if (a[0] > b[0]) {
                    int[] t = a;
                    a = b;
                    b = t;
                }
                String na = header.substring(a[0], a[1]);
                String nb = header.substring(b[0], b[1]);
                return new String[] {"names " + na + " <-> " + nb, header.substring(0, a[0]) + nb
                        + header.substring(a[1], b[0]) + na + header.substring(b[1])};
            }
            default -> {
                java.util.regex.Matcher shape = java.util.regex.Pattern.compile("\"shape\":\\[(\\d+)").matcher(header);
                List<int[]> dims = new ArrayList<>();
                while (shape.find()) {
                    dims.add(new int[] {shape.start(1), shape.end(1)});
                }
                int[] d = dims.get(r.nextInt(dims.size()));
                int v = Integer.parseInt(header.substring(d[0], d[1]));
                return new String[] {"a dimension " + v + " -> " + (v + 1),
                        header.substring(0, d[0]) + (v + 1) + header.substring(d[1])};
            }
        }
    }

    /** A safetensors file with {@code header} (trimmed, re-padded to 8 bytes, its length re-written) before {@code data}. */
    private static byte[] withHeader(String header, byte[] data) {
        byte[] h = header.trim().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        int padded = (h.length + 7) / 8 * 8;
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8 + padded + data.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putLong(padded).put(h);
        for (int i = h.length; i < padded; i++) {
            b.put((byte) ' ');
        }
        return b.put(data).array();
    }

    private static Map<String, float[]> snapshot(HasParameters m) {
        Map<String, float[]> out = new java.util.LinkedHashMap<>();
        m.parameters().forEach((k, v) -> out.put(k, v.toHost()));
        return out;
    }
}
