package org.rnn4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rnn4j.Device;
import org.rnn4j.Devices;
import org.rnn4j.Gru;
import org.rnn4j.Lstm;
import org.rnn4j.Tensor;
import org.rnn4j.train.Adam;

/**
 * {@link Seq2Seq#fromVectors} (one-to-many): captions of attribute vectors on attribute combinations it never saw,
 * with the vector as the initial state and fed at every step; gradients of the projections and of the decoder's
 * feature inputs against finite differences; a training step and sampling on CUDA (the stand-in without a GPU) equal
 * the CPU's; save and load; bad input refused by name before any work.
 */
class Seq2SeqFromVectorsTest {
    static final int START = 1, END = 2;
    static final int SIZES = 3, COLORS = 6, SHAPES = 6, FEATURES = SIZES + COLORS + SHAPES;
    static final int SIZE0 = 3, COLOR0 = SIZE0 + SIZES, SHAPE0 = COLOR0 + COLORS, VOCAB = SHAPE0 + SHAPES;

    /** Attributes one-hot: {@code [size | color | shape]}. */
    static float[] attributes(int size, int color, int shape) {
        float[] v = new float[FEATURES];
        v[size] = 1;
        v[SIZES + color] = 1;
        v[SIZES + COLORS + shape] = 1;
        return v;
    }

    /** "small red circle", "red square" (the middle size is not said), "large blue circle": two or three tokens. */
    static int[] caption(int size, int color, int shape) {
        return size == 1 ? new int[] {COLOR0 + color, SHAPE0 + shape} : new int[] {SIZE0 + size, COLOR0 + color, SHAPE0 + shape};
    }

    /** Colors and shapes never seen together in training: every pair whose color and shape have the same index, in every size. */
    static boolean unseenPair(int color, int shape) {
        return color == shape;
    }

    /** Triples never seen in training, though each of their pairs is (in another size): about one in seven of the rest. */
    static boolean unseenTriple(int size, int color, int shape) {
        return !unseenPair(color, shape) && (size + 2 * color + shape) % 7 == 0;
    }

    /**
     * Trained on the other combinations (about 76 of 108), greedy and beam decoding caption the unseen triples with
     * either conditioning; fed at every step, the decoder also names the unseen color-shape pairs. From the initial state
     * alone it does not (0.67 measured: it learns that shape i never follows color i), so that is not asserted.
     */
    @Test
    void captionsAttributeCombinationsItNeverSawWithEitherConditioning() {
        List<int[]> seen = new ArrayList<>(), pairs = new ArrayList<>(), triples = new ArrayList<>();
        for (int z = 0; z < SIZES; z++) {
            for (int c = 0; c < COLORS; c++) {
                for (int s = 0; s < SHAPES; s++) {
                    (unseenPair(c, s) ? pairs : unseenTriple(z, c, s) ? triples : seen).add(new int[] {z, c, s});
                }
            }
        }
        for (Seq2Seq.Conditioning conditioning : List.of(Seq2Seq.Conditioning.INIT_STATE, Seq2Seq.Conditioning.EVERY_STEP)) {
            int embedding = 8, input = conditioning == Seq2Seq.Conditioning.INIT_STATE ? embedding : embedding + FEATURES;
            Random rnd = new Random(3);
            try (Seq2Seq model = Seq2Seq.fromVectors(FEATURES, VOCAB).decoder(Lstm.builder(input, 32).seed(4))
                    .conditioning(conditioning).tokens(START, END).seed(5).build(Device.cpu());
                 Adam adam = new Adam(List.of(model), 1e-2)) {
                for (int step = 0; step < 600; step++) {
                    List<float[]> vectors = new ArrayList<>();
                    List<int[]> captions = new ArrayList<>();
                    for (int i = 0; i < 16; i++) {
                        int[] a = seen.get(rnd.nextInt(seen.size()));
                        vectors.add(attributes(a[0], a[1], a[2]));
                        captions.add(caption(a[0], a[1], a[2]));
                    }
                    model.zeroGrad();
                    model.lossAndGradients(Seq2Seq.Features.of(vectors), captions);
                    adam.step();
                }
                for (List<int[]> unseen : conditioning == Seq2Seq.Conditioning.INIT_STATE ? List.of(triples) : List.of(triples, pairs)) {
                    Seq2Seq.Features features = Seq2Seq.Features.of(unseen.stream().map(a -> attributes(a[0], a[1], a[2])).toList());
                    List<int[]> captions = unseen.stream().map(a -> caption(a[0], a[1], a[2])).toList();
                    double greedy = model.evaluate(features, captions, 1, 5).get("exact_match");
                    double beam = model.evaluate(features, captions, 3, 5).get("exact_match");
                    String label = conditioning + (unseen == pairs ? ", unseen pairs" : ", unseen triples");
                    assertTrue(greedy >= 0.9 && beam >= 0.9, label + ": exact match greedy " + greedy + ", beam " + beam);
                    List<Seq2Seq.Translation> out = model.translate(features, 5);
                    int i = unseen.size() / 2;
                    int[] a = unseen.get(i);
                    assertArrayEquals(caption(a[0], a[1], a[2]), out.get(i).tokens(), label);
                }
            }
        }
    }

    static Seq2Seq.Builder small(Seq2Seq.Conditioning conditioning, boolean gru) {
        int input = conditioning == Seq2Seq.Conditioning.INIT_STATE ? 4 : 4 + FEATURES;
        return Seq2Seq.fromVectors(FEATURES, VOCAB).decoder(gru ? Gru.builder(input, 6).numLayers(2).seed(4) : Lstm.builder(input, 6).numLayers(2).seed(4))
                .conditioning(conditioning).tokens(START, END).seed(5);
    }

    static Seq2Seq.Features randomFeatures(Random rnd, int count) {
        List<float[]> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            float[] v = new float[FEATURES];
            for (int j = 0; j < FEATURES; j++) {
                v[j] = (float) rnd.nextGaussian();
            }
            out.add(v);
        }
        return Seq2Seq.Features.of(out);
    }

    static List<int[]> randomCaptions(Random rnd, int count) {
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            out.add(rnd.ints(rnd.nextInt(4), 3, VOCAB).toArray());
        }
        return out;
    }

    /**
     * Both projections ({@code init_h}, {@code init_c}: each layer's block of a two-layer LSTM) and the decoder's input
     * weights, whose columns past the embedding read the features at every step, against central differences
     * (Seq2SeqTest's check).
     */
    @Test
    void projectionAndEveryStepFeatureGradientsMatchFiniteDifferences() {
        Seq2Seq.Features features = randomFeatures(new Random(6), 3);
        List<int[]> captions = randomCaptions(new Random(7), 3);
        try (Seq2Seq model = small(Seq2Seq.Conditioning.BOTH, false).build(Device.cpu())) {
            assertTrue(model.parameters().containsKey("init_h.weight") && model.parameters().containsKey("init_c.weight"),
                    model.parameters().keySet().toString());
            Seq2SeqTest.assertGradientsMatchFiniteDifferences(model, m -> m.lossAndGradients(features, captions),
                    name -> name.startsWith("init_"), name -> name.startsWith("init_") || name.startsWith("decoder.weight_ih_l0"),
                    "BOTH");
        }
    }

    @Test
    void aTrainingStepAndSamplingOnCudaEqualTheCpus() {
        String unusable = Devices.cudaUnusableReason();
        assumeTrue(unusable == null, () -> "no usable CUDA device: " + unusable);
        Seq2Seq.Features features = randomFeatures(new Random(4), 3);
        List<int[]> captions = randomCaptions(new Random(5), 3);
        for (Seq2Seq.Conditioning conditioning : Seq2Seq.Conditioning.values()) {
            for (boolean gru : new boolean[] {false, true}) {
                Seq2SeqTest.assertCudaStepEqualsCpus(small(conditioning, gru), m -> m.lossAndGradients(features, captions),
                        m -> m.sample(features, 6, 1.0, 3), conditioning + (gru ? ", GRU" : ", LSTM"));
            }
        }
    }

    @Test
    void saveAndLoadFromTheFileAloneGiveTheSameCaptionsAndNothingLeaks(@TempDir Path dir) throws Exception {
        Seq2Seq.Features features = randomFeatures(new Random(8), 5);
        Path file = dir.resolve("captioner.safetensors");
        try (Seq2Seq model = small(Seq2Seq.Conditioning.BOTH, false).build(Device.cpu())) {
            model.lossAndGradients(features, randomCaptions(new Random(9), 5));   // the first call may create the layers' caches
            model.beamSearch(features, 2, 6, 0.5);
            long open = Tensor.openCount();
            model.lossAndGradients(features, randomCaptions(new Random(9), 5));
            model.beamSearch(features, 2, 6, 0.5);
            model.sample(features, 6, 0.7, 1);
            double sampled = model.lossAndGradients(features, randomCaptions(new Random(9), 5), 0.5, 7);   // scheduled sampling
            assertEquals(open, Tensor.openCount(), "every intermediate tensor closed");
            assertEquals(sampled, model.lossAndGradients(features, randomCaptions(new Random(9), 5), 0.5, 7), "deterministic for a seed");
            assertTrue(Double.isFinite(sampled) && sampled > 0, "scheduled-sampling loss " + sampled);
            model.save(file);
            List<Seq2Seq.Translation> before = model.beamSearch(features, 2, 6, 0.5);
            String summary = model.summary();
            assertTrue(summary.contains("conditioning BOTH") && summary.contains("init_c") && !summary.contains("encoder  "), summary);
            try (Seq2Seq loaded = Seq2Seq.load(file, Device.cpu())) {
                Seq2SeqTest.assertSameTranslations(before, loaded.beamSearch(features, 2, 6, 0.5));
                assertEquals(summary, loaded.summary());
            }
        }
    }

    @Test
    void badInputIsRefusedByNameBeforeAnyWork() {
        assertMessage("featureSize: expected >= 1 features per vector, got 0", () -> Seq2Seq.fromVectors(0, VOCAB));
        assertMessage("encoder: expected none for a fromVectors model", () -> small(Seq2Seq.Conditioning.INIT_STATE, false)
                .encoder(Lstm.builder(4, 6)).build(Device.cpu()));
        assertMessage("attention: expected NONE for a fromVectors model", () -> small(Seq2Seq.Conditioning.INIT_STATE, false)
                .attention(Seq2Seq.Attention.DOT).build(Device.cpu()));
        assertMessage("bridge: expected the default SUM for a fromVectors model", () -> small(Seq2Seq.Conditioning.INIT_STATE, false)
                .bridge(Seq2Seq.Bridge.CONCAT_PROJECT).build(Device.cpu()));
        assertMessage("conditioning: expected INIT_STATE, EVERY_STEP or BOTH, got null", () -> small(Seq2Seq.Conditioning.INIT_STATE, false)
                .conditioning(null).build(Device.cpu()));
        assertMessage("decoder: expected an input size above the feature size " + FEATURES, () -> Seq2Seq.fromVectors(FEATURES, VOCAB)
                .decoder(Lstm.builder(FEATURES, 6)).conditioning(Seq2Seq.Conditioning.EVERY_STEP).tokens(START, END).build(Device.cpu()));
        assertMessage("endToken: expected a target id in [0, " + VOCAB + ")", () -> Seq2Seq.fromVectors(FEATURES, VOCAB)
                .decoder(Lstm.builder(4, 6)).tokens(START, VOCAB).build(Device.cpu()));
        assertMessage("features: expected a list of feature vectors, got null", () -> Seq2Seq.Features.of((List<float[]>) null));
        try (Seq2Seq model = small(Seq2Seq.Conditioning.BOTH, false).build(Device.cpu());
             Seq2Seq ids = Seq2SeqTest.reverser(Seq2Seq.Attention.NONE, false).build(Device.cpu())) {
            Seq2Seq.Features two = randomFeatures(new Random(1), 2);
            float[] nan = attributes(0, 0, 0);
            nan[4] = Float.NaN;
            long open = Tensor.openCount();
            assertMessage("targets: expected one per feature vector (2), got 1", () -> model.lossAndGradients(two, List.of(new int[] {3})));
            assertMessage("features[1]: expected " + FEATURES + " features, got 3",
                    () -> model.lossAndGradients(Seq2Seq.Features.of(attributes(0, 0, 0), new float[3]), List.of(new int[0], new int[0])));
            assertMessage("features[0][4]: expected a finite feature, got NaN", () -> model.translate(Seq2Seq.Features.of(nan), 4));
            assertMessage("features[0]: expected " + FEATURES + " features, got null", () -> model.translate(Seq2Seq.Features.of(new float[][] {null}), 4));
            assertMessage("targets[1][0]: expected an id in [0, " + VOCAB + "), got " + VOCAB,
                    () -> model.lossAndGradients(two, List.of(new int[] {3}, new int[] {VOCAB})));
            assertMessage("targets[0]: expected a sequence of at least 0 ids, got null",
                    () -> model.lossAndGradients(two, java.util.Arrays.asList(null, new int[] {3})));
            assertMessage("features: expected at least one vector, got none", () -> model.lossAndGradients(Seq2Seq.Features.of(), List.of()));
            assertMessage("features: expected at least one vector, got null", () -> model.translate((Seq2Seq.Features) null, 4));
            assertMessage("maxLength: expected >= 1 output tokens, got 0", () -> model.translate(two, 0));
            assertMessage("beamWidth: expected >= 1 beams, got 0", () -> model.beamSearch(two, 0, 5, 0));
            assertMessage("temperature: expected a finite temperature > 0", () -> model.sample(two, 5, 0, 1));
            assertMessage("samplingRate: expected a probability in [0, 1], got -0.5",
                    () -> model.lossAndGradients(two, randomCaptions(new Random(2), 2), -0.5, 0));
            assertMessage("sources: expected Seq2Seq.Features (this model was built with fromVectors)",
                    () -> model.translate(List.of(new int[] {3}), 4));
            assertMessage("features: expected id sequences (this model was built with builder, not fromVectors)",
                    () -> ids.translate(two, 4));
            assertEquals(open, Tensor.openCount(), "no tensor made by a refused call");
        }
    }

    private static void assertMessage(String start, org.junit.jupiter.api.function.Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().startsWith(start), () -> "expected '" + start + "...', got '" + e.getMessage() + "'");
    }
}
