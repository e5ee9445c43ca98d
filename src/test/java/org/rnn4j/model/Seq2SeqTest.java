package org.rnn4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.rnn4j.Device;
import org.rnn4j.Devices;
import org.rnn4j.Gru;
import org.rnn4j.Lstm;
import org.rnn4j.Tensor;
import org.rnn4j.train.Adam;

/**
 * {@link Seq2Seq}: learns to reverse id sequences (which needs attention or a good bridge), a whole training step
 * on the CUDA engine (the stand-in without a GPU) equals the CPU's, padding is never read (a batch translates as
 * its samples one by one), and bad arguments are refused by name before any work.
 */
class Seq2SeqTest {
    static final int START = 1, END = 2, VOCAB = 10;   // content ids 3 .. 9

    static List<int[]> randomSequences(Random rnd, int count, int minLen, int maxLen) {
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            out.add(rnd.ints(minLen + rnd.nextInt(maxLen - minLen + 1), 3, VOCAB).toArray());
        }
        return out;
    }

    static int[] reversed(int[] s) {
        int[] r = new int[s.length];
        for (int i = 0; i < s.length; i++) {
            r[i] = s[s.length - 1 - i];
        }
        return r;
    }

    static Seq2Seq.Builder reverser(Seq2Seq.Attention attention, boolean bidirectional) {
        return Seq2Seq.builder(VOCAB, VOCAB)
                .encoder(Lstm.builder(8, 24).bidirectional(bidirectional).seed(3))
                .decoder(Lstm.builder(8, 24).seed(4))
                .attention(attention).tokens(START, END).seed(5);
    }

    @Test
    void learnsToReverseSequencesWithGeneralAttentionAndABidirectionalEncoder() {
        Random rnd = new Random(1);
        try (Seq2Seq model = reverser(Seq2Seq.Attention.GENERAL, true).build(Device.cpu());
             Adam adam = new Adam(List.of(model), 1e-2)) {
            double first = 0, last = 0;
            for (int step = 0; step < 300; step++) {
                List<int[]> src = randomSequences(rnd, 32, 2, 6);
                List<int[]> tgt = src.stream().map(Seq2SeqTest::reversed).toList();
                adam.zeroGrad();
                double loss = model.lossAndGradients(src, tgt);
                adam.step();
                if (step == 0) {
                    first = loss;
                }
                last = loss;
            }
            assertTrue(last < first / 10, "loss " + first + " -> " + last);
            List<int[]> test = randomSequences(new Random(99), 200, 2, 6);
            List<Seq2Seq.Translation> out = model.translate(test, 10);
            int exact = 0;
            for (int i = 0; i < test.size(); i++) {
                if (java.util.Arrays.equals(reversed(test.get(i)), out.get(i).tokens())) {
                    exact++;
                }
                assertEquals(out.get(i).tokens().length, out.get(i).attention().length, "one attention row per token");
                for (float[] row : out.get(i).attention()) {
                    assertEquals(test.get(i).length, row.length, "attention over the source's own length");
                    double sum = 0;
                    for (float w : row) {
                        sum += w;
                    }
                    assertEquals(1.0, sum, 1e-5);
                }
            }
            assertTrue(exact >= 180, "exact match " + exact + " / 200");
            Map<String, Double> metrics = model.evaluate(test, test.stream().map(Seq2SeqTest::reversed).toList(), 1, 10);
            assertEquals(exact / 200.0, metrics.get("exact_match"), 1e-12);
            assertTrue(metrics.get("token_accuracy") >= metrics.get("exact_match") && metrics.get("bleu") > 0.8, metrics.toString());

            List<Seq2Seq.Translation> beam = model.beamSearch(test, 3, 10, 1.0);
            int beamExact = 0;
            for (int i = 0; i < test.size(); i++) {
                beamExact += java.util.Arrays.equals(reversed(test.get(i)), beam.get(i).tokens()) ? 1 : 0;
            }
            assertTrue(beamExact >= exact - 2, "beam search exact match " + beamExact + " against greedy " + exact);
            // a greedy score is the sum of its tokens' log probabilities, the end token's included: the loss of that target
            for (int i = 0; i < 5; i++) {
                int[] tokens = out.get(i).tokens();
                double loss = model.lossAndGradients(List.of(test.get(i)), List.of(tokens));
                assertEquals(-loss * (tokens.length + 1), out.get(i).score(), 1e-4 * (tokens.length + 1), "sample " + i);
            }
        }
    }

    /**
     * Central differences of the loss (float, step 3e-2) against the backward at every entry of every attention
     * parameter and of the encoder's input weights, on a small model whose attention weights are scaled up so that
     * their gradients stand well above the differences' float resolution (about 4e-6 here); each tensor's largest numeric
     * gradient must exceed 2e-4, so that a missing term cannot hide below the tolerance.
     */
    @Test
    void attentionGradientsMatchFiniteDifferences() {
        List<int[]> src = randomSequences(new Random(6), 3, 1, 5);
        List<int[]> tgt = randomSequences(new Random(7), 3, 0, 4);
        for (Seq2Seq.Attention attention : List.of(Seq2Seq.Attention.DOT, Seq2Seq.Attention.GENERAL, Seq2Seq.Attention.BAHDANAU)) {
            try (Seq2Seq model = Seq2Seq.builder(VOCAB, VOCAB)
                    .encoder(Lstm.builder(4, 6).bidirectional(attention != Seq2Seq.Attention.DOT).seed(3))
                    .decoder(Lstm.builder(4, 6).seed(4)).attention(attention).tokens(START, END).seed(5).build(Device.cpu())) {
                assertGradientsMatchFiniteDifferences(model, src, tgt, name -> name.startsWith("attention_") || name.startsWith("encoder."),
                        name -> name.startsWith("attention_") || name.startsWith("encoder.weight_ih"), attention.toString());
            }
        }
    }

    /**
     * The same check for the concatenate-and-project bridge, alone on the path from the encoder to the decoder (no
     * attention): a two-layer bidirectional LSTM encoder of hidden size 4 into a decoder of hidden size 6, so every
     * layer's and direction's place in the concatenation and both projections ({@code h} and {@code c}) are checked.
     */
    @Test
    void concatProjectBridgeGradientsMatchFiniteDifferences() {
        List<int[]> src = randomSequences(new Random(16), 3, 1, 5);
        List<int[]> tgt = randomSequences(new Random(17), 3, 0, 4);
        try (Seq2Seq model = Seq2Seq.builder(VOCAB, VOCAB)
                .encoder(Lstm.builder(3, 4).numLayers(2).bidirectional(true).seed(3))
                .decoder(Lstm.builder(4, 6).numLayers(2).seed(4)).bridge(Seq2Seq.Bridge.CONCAT_PROJECT)
                .tokens(START, END).seed(5).build(Device.cpu())) {
            assertTrue(model.parameters().containsKey("bridge_h.weight") && model.parameters().containsKey("bridge_c.weight"),
                    model.parameters().keySet().toString());
            assertGradientsMatchFiniteDifferences(model, src, tgt, name -> name.startsWith("bridge_") || name.startsWith("encoder."),
                    name -> name.startsWith("bridge_") || name.startsWith("encoder.weight_ih"), "CONCAT_PROJECT");
        }
    }

    /**
     * Central differences of the loss (float, step 3e-2) against the backward at every entry of the parameters
     * {@code checked} names, after the parameters {@code scaled} names are scaled up by 4 so that their gradients stand
     * well above the differences' float resolution (about 4e-6 here); each tensor's largest numeric gradient must
     * exceed 2e-4, so that a missing term cannot hide below the tolerance.
     */
    static void assertGradientsMatchFiniteDifferences(Seq2Seq model, List<int[]> src, List<int[]> tgt,
                                                      java.util.function.Predicate<String> scaled,
                                                      java.util.function.Predicate<String> checked, String label) {
        assertGradientsMatchFiniteDifferences(model, m -> m.lossAndGradients(src, tgt), scaled, checked, label);
    }

    /** The same for any loss of the model that adds its gradients (a vector model's, say). */
    static void assertGradientsMatchFiniteDifferences(Seq2Seq model, java.util.function.ToDoubleFunction<Seq2Seq> lossAndGradients,
                                                      java.util.function.Predicate<String> scaled,
                                                      java.util.function.Predicate<String> checked, String label) {
        for (Map.Entry<String, Tensor> e : model.parameters().entrySet()) {
            if (scaled.test(e.getKey())) {
                float[] w = e.getValue().toHost();
                for (int i = 0; i < w.length; i++) {
                    w[i] *= 4;
                }
                e.getValue().copyFrom(w);
            }
        }
        model.zeroGrad();
        lossAndGradients.applyAsDouble(model);
        Map<String, float[]> grads = new java.util.HashMap<>();
        model.gradients().forEach((k, v) -> grads.put(k, v.toHost()));   // before the probes add theirs
        int tensors = 0;
        for (Map.Entry<String, Tensor> e : model.parameters().entrySet()) {
            if (!checked.test(e.getKey())) {
                continue;
            }
            tensors++;
            float[] grad = grads.get(e.getKey());
            float[] w = e.getValue().toHost();
            double largest = 0;
            for (int i = 0; i < w.length; i++) {
                float keep = w[i];
                w[i] = keep + 3e-2f;
                e.getValue().copyFrom(w);
                double up = lossAndGradients.applyAsDouble(model);
                w[i] = keep - 3e-2f;
                e.getValue().copyFrom(w);
                double down = lossAndGradients.applyAsDouble(model);
                w[i] = keep;
                e.getValue().copyFrom(w);
                double numeric = (up - down) / 6e-2;
                largest = Math.max(largest, Math.abs(numeric));
                assertEquals(numeric, grad[i], 4e-5 + 3e-2 * Math.abs(numeric), label + ": " + e.getKey() + "[" + i + "]");
            }
            assertTrue(largest > 2e-4, label + ": " + e.getKey() + " has numeric gradients of at most " + largest);
        }
        assertTrue(tensors > 0, label + ": no parameter checked");
    }

    @Test
    void theConcatProjectBridgeLearnsToReverseIntoAWiderDecoder() {
        Random rnd = new Random(9);
        try (Seq2Seq model = Seq2Seq.builder(VOCAB, VOCAB).encoder(Lstm.builder(8, 16).bidirectional(true).seed(3))
                .decoder(Lstm.builder(8, 32).seed(4)).bridge(Seq2Seq.Bridge.CONCAT_PROJECT)
                .attention(Seq2Seq.Attention.GENERAL).tokens(START, END).seed(5).build(Device.cpu());
             Adam adam = new Adam(List.of(model), 1e-2)) {
            double first = 0, last = 0;
            for (int step = 0; step < 200; step++) {
                List<int[]> s = randomSequences(rnd, 32, 2, 6);
                adam.zeroGrad();
                double loss = model.lossAndGradients(s, s.stream().map(Seq2SeqTest::reversed).toList());
                adam.step();
                first = step == 0 ? loss : first;
                last = loss;
            }
            assertTrue(last < first / 5, "loss " + first + " -> " + last);
            List<int[]> test = randomSequences(new Random(98), 100, 2, 6);
            double exact = model.evaluate(test, test.stream().map(Seq2SeqTest::reversed).toList(), 1, 10).get("exact_match");
            assertTrue(exact >= 0.8, "exact match " + exact);
        }
    }

    @Test
    void aWiderBeamFindsSequencesAtLeastAsLikelyAsGreedyDecoding() {
        try (Seq2Seq model = reverser(Seq2Seq.Attention.GENERAL, true).build(Device.cpu())) {
            List<int[]> src = randomSequences(new Random(8), 12, 1, 6);
            List<Seq2Seq.Translation> greedy = model.translate(src, 5);
            List<Seq2Seq.Translation> beam = model.beamSearch(src, 4, 5, 0);
            List<Seq2Seq.Translation> again = model.beamSearch(src, 4, 5, 0);
            for (int i = 0; i < src.size(); i++) {
                assertTrue(beam.get(i).score() >= greedy.get(i).score() - 1e-9,
                        "sample " + i + ": beam " + beam.get(i).score() + " < greedy " + greedy.get(i).score());
                assertArrayEquals(beam.get(i).tokens(), again.get(i).tokens(), "deterministic");
                assertTrue(beam.get(i).tokens().length <= 5);
            }
        }
    }

    /**
     * The length penalty only changes which ended hypothesis wins (the search itself ranks by summed log probability):
     * a larger exponent never picks a shorter one, and the score is the summed log probability over
     * {@code length^lengthPenalty} (the end token counted in the length).
     */
    @Test
    void aLargerLengthPenaltyNeverPicksAShorterSequenceAndDividesTheScore() {
        try (Seq2Seq model = reverser(Seq2Seq.Attention.BAHDANAU, true).build(Device.cpu());
             Adam adam = new Adam(List.of(model), 1e-2)) {
            Random rnd = new Random(9);
            for (int step = 0; step < 30; step++) {   // random targets of 0 to 6 tokens: many lengths compete
                adam.zeroGrad();
                model.lossAndGradients(randomSequences(rnd, 16, 1, 6), randomSequences(rnd, 16, 0, 6));
                adam.step();
            }
            List<int[]> src = randomSequences(rnd, 16, 1, 6);
            List<Seq2Seq.Translation> raw = model.beamSearch(src, 5, 8, 0);
            List<Seq2Seq.Translation> one = model.beamSearch(src, 5, 8, 1);
            List<Seq2Seq.Translation> two = model.beamSearch(src, 5, 8, 2);
            int longer = 0;
            StringBuilder lengths = new StringBuilder();
            for (int i = 0; i < src.size(); i++) {
                lengths.append(raw.get(i).tokens().length).append('/').append(one.get(i).tokens().length).append('/')
                        .append(two.get(i).tokens().length).append(' ');
                int[] a = raw.get(i).tokens(), b = one.get(i).tokens(), c = two.get(i).tokens();
                assertTrue(a.length <= b.length && b.length <= c.length, "sample " + i + ": lengths " + a.length + ", " + b.length + ", " + c.length);
                longer += c.length > a.length ? 1 : 0;
                if (java.util.Arrays.equals(a, b) && a.length < 7) {   // ended well before the maximum: + the end token
                    int length = a.length + 1;
                    assertEquals(raw.get(i).score() / length, one.get(i).score(), 1e-9 * Math.abs(raw.get(i).score()), "sample " + i);
                }
            }
            assertTrue(longer > 0, "no sample changed length with the penalty, the test shows nothing: " + lengths);
        }
    }

    @Test
    void scheduledSamplingIsDeterministicForASeedAndStillLearns() {
        List<int[]> src = randomSequences(new Random(3), 16, 2, 6);
        List<int[]> tgt = src.stream().map(Seq2SeqTest::reversed).toList();
        double[] losses = new double[2];
        for (int run = 0; run < 2; run++) {
            try (Seq2Seq model = reverser(Seq2Seq.Attention.DOT, false).build(Device.cpu())) {
                losses[run] = model.lossAndGradients(src, tgt, 0.5, 77);
                assertEquals(model.lossAndGradients(src, tgt), model.lossAndGradients(src, tgt, 0, 77), "rate 0 is teacher forcing");
            }
        }
        assertEquals(losses[0], losses[1], "the same seed samples the same inputs");
        Random rnd = new Random(4);
        try (Seq2Seq model = reverser(Seq2Seq.Attention.GENERAL, true).build(Device.cpu());
             Adam adam = new Adam(List.of(model), 1e-2)) {
            double first = 0, last = 0;
            for (int step = 0; step < 200; step++) {
                List<int[]> s = randomSequences(rnd, 32, 2, 6);
                adam.zeroGrad();
                double loss = model.lossAndGradients(s, s.stream().map(Seq2SeqTest::reversed).toList(), 0.25, step);
                adam.step();
                first = step == 0 ? loss : first;
                last = loss;
            }
            assertTrue(last < first / 5, "loss " + first + " -> " + last);
            assertTrue(model.lossAndGradients(src, tgt, 1, 5) > model.lossAndGradients(src, tgt) - 1e-9,
                    "the model's own inputs are no easier than the true ones");
        }
    }

    /**
     * Temperature sampling: one-token samples of a source repeated 6,000 times come out with the frequencies
     * {@code p(v)^(1/T) / Σ p(u)^(1/T)} (each sample's score is its token's log probability {@code log p(v)}), at
     * T = 0.5 and T = 2, within 5 standard deviations; a seed gives the same samples again, another seed others; a
     * tiny temperature is greedy decoding; a whole sample's score is minus the loss of its tokens.
     */
    @Test
    void temperatureSamplingDrawsFromTheSharpenedOrFlattenedDistributionAndIsDeterministicForASeed() {
        try (Seq2Seq model = reverser(Seq2Seq.Attention.GENERAL, true).build(Device.cpu())) {
            Tensor w = model.parameters().get("output.weight");
            float[] sharper = w.toHost();
            for (int i = 0; i < sharper.length; i++) {
                sharper[i] *= 6;   // an untrained model's distribution is close to uniform: make the temperature show
            }
            w.copyFrom(sharper);
            List<int[]> same = java.util.Collections.nCopies(6000, new int[] {3, 7, 5});
            for (double temperature : new double[] {0.5, 2}) {
                List<Seq2Seq.Translation> drawn = model.sample(same, 1, temperature, 11);
                double[] logP = new double[VOCAB];
                java.util.Arrays.fill(logP, Double.NaN);
                int[] count = new int[VOCAB];
                for (Seq2Seq.Translation t : drawn) {
                    int token = t.tokens().length == 0 ? END : t.tokens()[0];
                    count[token]++;
                    logP[token] = t.score();
                }
                double norm = 0;
                for (int v = 0; v < VOCAB; v++) {
                    assertTrue(count[v] > 0, "T=" + temperature + ": token " + v + " never drawn: " + java.util.Arrays.toString(count));
                    norm += Math.exp(logP[v] / temperature);
                }
                double largest = 0;
                double largestModel = 0;
                for (int v = 0; v < VOCAB; v++) {
                    double p = Math.exp(logP[v] / temperature) / norm;
                    double sd = Math.sqrt(6000 * p * (1 - p));
                    assertEquals(6000 * p, count[v], 5 * sd + 1, "T=" + temperature + ": token " + v);
                    largest = Math.max(largest, p);
                    largestModel = Math.max(largestModel, Math.exp(logP[v]));
                }
                assertTrue(temperature < 1 ? largest > largestModel + 0.02 : largest < largestModel - 0.02,
                        "T=" + temperature + ": largest share " + largest + " against the model's " + largestModel);
            }
            List<int[]> src = randomSequences(new Random(21), 8, 1, 6);
            List<Seq2Seq.Translation> a = model.sample(src, 8, 1.0, 5);
            List<Seq2Seq.Translation> b = model.sample(src, 8, 1.0, 5);
            List<Seq2Seq.Translation> other = model.sample(src, 8, 1.0, 6);
            boolean differs = false;
            for (int i = 0; i < src.size(); i++) {
                assertArrayEquals(a.get(i).tokens(), b.get(i).tokens(), "sample " + i + ": the same seed");
                assertEquals(a.get(i).score(), b.get(i).score());
                differs |= !java.util.Arrays.equals(a.get(i).tokens(), other.get(i).tokens());
                if (a.get(i).tokens().length < 8) {   // ended with the end token: its log probability is in the score
                    double loss = model.lossAndGradients(List.of(src.get(i)), List.of(a.get(i).tokens()));
                    assertEquals(-loss * (a.get(i).tokens().length + 1), a.get(i).score(), 1e-4 * (a.get(i).tokens().length + 1));
                }
            }
            assertTrue(differs, "another seed draws other samples");
            List<Seq2Seq.Translation> greedy = model.translate(src, 8);
            List<Seq2Seq.Translation> cold = model.sample(src, 8, 1e-6, 1);
            for (int i = 0; i < src.size(); i++) {
                assertArrayEquals(greedy.get(i).tokens(), cold.get(i).tokens(), "sample " + i + " at temperature 1e-6");
            }
            for (double bad : new double[] {0, -1, Double.NaN, Double.POSITIVE_INFINITY}) {
                assertMessage("temperature: expected a finite temperature > 0", () -> model.sample(src, 8, bad, 1));
            }
            assertMessage("maxLength: expected >= 1 output tokens, got 0", () -> model.sample(src, 0, 1, 1));
        }
    }

    @Test
    void aBatchIsSearchedAsItsSamplesOneByOne() {
        Random rnd = new Random(2);
        try (Seq2Seq model = reverser(Seq2Seq.Attention.BAHDANAU, false).build(Device.cpu())) {
            List<int[]> src = randomSequences(rnd, 5, 1, 7);
            List<Seq2Seq.Translation> together = model.beamSearch(src, 3, 6, 0.5);
            for (int i = 0; i < src.size(); i++) {
                Seq2Seq.Translation alone = model.beamSearch(List.of(src.get(i)), 3, 6, 0.5).get(0);
                assertEquals(alone.score(), together.get(i).score(), 1e-5, "sample " + i);
                assertArrayEquals(alone.tokens(), together.get(i).tokens(), "sample " + i);
                for (int t = 0; t < alone.attention().length; t++) {
                    assertArrayEquals(alone.attention()[t], together.get(i).attention()[t], 1e-6f, "sample " + i + " step " + t);
                }
            }
        }
    }

    @Test
    void aTrainingStepOnCudaEqualsTheCpus() {
        String unusable = Devices.cudaUnusableReason();
        assumeTrue(unusable == null, () -> "no usable CUDA device: " + unusable);
        for (Seq2Seq.Attention attention : Seq2Seq.Attention.values()) {
            assertCudaStepEqualsCpus(reverser(attention, attention != Seq2Seq.Attention.DOT), attention.toString());
        }
        assertCudaStepEqualsCpus(Seq2Seq.builder(VOCAB, VOCAB).encoder(Lstm.builder(8, 12).numLayers(2).bidirectional(true).seed(3))
                .decoder(Lstm.builder(8, 20).numLayers(2).seed(4)).bridge(Seq2Seq.Bridge.CONCAT_PROJECT)
                .attention(Seq2Seq.Attention.GENERAL).tokens(START, END).seed(5), "CONCAT_PROJECT, LSTM");
        assertCudaStepEqualsCpus(Seq2Seq.builder(VOCAB, VOCAB).encoder(Gru.builder(8, 12).bidirectional(true).seed(3))
                .decoder(Gru.builder(8, 16).seed(4)).bridge(Seq2Seq.Bridge.CONCAT_PROJECT).tokens(START, END).seed(5),
                "CONCAT_PROJECT, GRU");
    }

    private static void assertCudaStepEqualsCpus(Seq2Seq.Builder builder, String label) {
        List<int[]> src = randomSequences(new Random(4), 3, 1, 5);
        List<int[]> tgt = randomSequences(new Random(5), 3, 0, 4);
        assertCudaStepEqualsCpus(builder, m -> m.lossAndGradients(src, tgt), m -> m.sample(src, 6, 1.0, 3), label);
    }

    /** A training step ({@code lossAndGradients}) and a sampling ({@code samples}) of {@code builder}'s model on CUDA equal the CPU's. */
    static void assertCudaStepEqualsCpus(Seq2Seq.Builder builder, java.util.function.ToDoubleFunction<Seq2Seq> lossAndGradients,
                                         java.util.function.Function<Seq2Seq, List<Seq2Seq.Translation>> samples, String label) {
        Map<String, float[]> cpu = new java.util.LinkedHashMap<>();
        double cpuLoss;
        List<Seq2Seq.Translation> cpuSamples;
        try (Seq2Seq model = builder.build(Device.cpu())) {
            cpuLoss = lossAndGradients.applyAsDouble(model);
            model.gradients().forEach((k, v) -> cpu.put(k, v.toHost()));
            cpuSamples = samples.apply(model);
        }
        try (Seq2Seq model = builder.build(Device.cuda())) {
            List<Seq2Seq.Translation> gpuSamples = samples.apply(model);
            for (int i = 0; i < cpuSamples.size(); i++) {
                assertArrayEquals(cpuSamples.get(i).tokens(), gpuSamples.get(i).tokens(), label + ": sample " + i);
                assertEquals(cpuSamples.get(i).score(), gpuSamples.get(i).score(), 1e-4, label + ": sample " + i);
            }
            double gpuLoss = lossAndGradients.applyAsDouble(model);
            assertEquals(cpuLoss, gpuLoss, 1e-5 * Math.abs(cpuLoss), label + ": loss");
            assertEquals(cpu.keySet(), model.gradients().keySet(), label);
            for (Map.Entry<String, Tensor> e : model.gradients().entrySet()) {
                float[] want = cpu.get(e.getKey());
                float[] got = e.getValue().toHost();
                float scale = 0;
                for (float w : want) {
                    scale = Math.max(scale, Math.abs(w));
                }
                for (int i = 0; i < want.length; i++) {
                    assertEquals(want[i], got[i], 1e-4f * scale + 1e-3f * Math.abs(want[i]), label + ": " + e.getKey() + "[" + i + "]");
                }
            }
        }
    }

    @Test
    void aGruDecoderAfterAnLstmEncoderTrainsAndDecodesWithoutLeakingTensors() {
        try (Seq2Seq model = Seq2Seq.builder(VOCAB, VOCAB).encoder(Lstm.builder(4, 6)).decoder(Gru.builder(4, 6))
                .tokens(START, END).build(Device.cpu())) {
            List<int[]> src = List.of(new int[] {3, 4});
            List<int[]> tgt = List.of(new int[] {5});
            double loss = model.lossAndGradients(src, tgt);   // the first call may create the layers' caches
            model.translate(src, 4);
            assertTrue(loss > 0 && Double.isFinite(loss));
            long open = Tensor.openCount();
            model.lossAndGradients(src, tgt);
            model.translate(src, 4);
            assertEquals(open, Tensor.openCount(), "every intermediate tensor closed");
        }
    }

    @Test
    void saveAndLoadFromTheFileAloneGiveTheSameTranslationsAndSummaryCountsEveryParameter(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        List<int[]> src = randomSequences(new Random(12), 6, 1, 6);
        java.nio.file.Path file = dir.resolve("s2s.safetensors");
        try (Seq2Seq model = reverser(Seq2Seq.Attention.BAHDANAU, true).bridge(Seq2Seq.Bridge.CONCAT_PROJECT).build(Device.cpu())) {
            model.save(file);
            List<Seq2Seq.Translation> before = model.beamSearch(src, 2, 6, 0.5);
            long parameters = model.parameters().values().stream().mapToLong(Tensor::size).sum();
            String summary = model.summary();
            assertTrue(summary.contains("bridge CONCAT_PROJECT, attention BAHDANAU") && summary.contains("attention_query")
                    && summary.contains("bridge_c"), summary);
            assertTrue(summary.contains(String.format(java.util.Locale.ROOT, "%,12d parameters", parameters)), summary);
            try (Seq2Seq loaded = Seq2Seq.load(file, Device.cpu())) {
                assertSameTranslations(before, loaded.beamSearch(src, 2, 6, 0.5));
                assertEquals(summary, loaded.summary());
            }
        }
        java.nio.file.Path other = dir.resolve("layer.safetensors");
        try (org.rnn4j.RecurrentLayer layer = Lstm.builder(2, 3).build(Device.cpu())) {
            org.rnn4j.train.Checkpoint.save(other, layer);
        }
        assertMessage("file: expected a Seq2Seq checkpoint", () -> Seq2Seq.load(other, Device.cpu()));
    }

    /** The same tokens and the same scores, bit for bit. */
    static void assertSameTranslations(List<Seq2Seq.Translation> want, List<Seq2Seq.Translation> got) {
        assertEquals(want.size(), got.size());
        for (int i = 0; i < want.size(); i++) {
            assertArrayEquals(want.get(i).tokens(), got.get(i).tokens(), "translation " + i);
            assertEquals(want.get(i).score(), got.get(i).score(), "translation " + i);
        }
    }

    /**
     * {@code shareEmbeddings(true)}: one table (module {@code embedding}) whose gradient is the sum of the source's and
     * the target's (against finite differences), a training step on CUDA equal to the CPU's, and a file that rebuilds
     * the shared model alone; mismatched vocabularies or input sizes are refused by name.
     */
    @Test
    void sharedEmbeddingsAreOneTableTrainedFromBothSides(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.util.function.Supplier<Seq2Seq.Builder> shared = () -> Seq2Seq.builder(VOCAB, VOCAB)
                .encoder(Lstm.builder(4, 6).bidirectional(true).seed(3)).decoder(Lstm.builder(4, 6).seed(4))
                .attention(Seq2Seq.Attention.GENERAL).tokens(START, END).seed(5).shareEmbeddings(true);
        List<int[]> src = randomSequences(new Random(6), 3, 1, 5);
        List<int[]> tgt = randomSequences(new Random(7), 3, 0, 4);
        try (Seq2Seq model = shared.get().build(Device.cpu());
             Seq2Seq separate = shared.get().shareEmbeddings(false).build(Device.cpu())) {
            assertEquals(VOCAB * 4, model.parameters().get("embedding.weight").size());
            assertTrue(!model.parameters().containsKey("source_embedding.weight") && !model.parameters().containsKey("target_embedding.weight"),
                    model.parameters().keySet().toString());
            long count = model.parameters().values().stream().mapToLong(Tensor::size).sum();
            assertEquals(separate.parameters().values().stream().mapToLong(Tensor::size).sum() - VOCAB * 4, count);
            assertGradientsMatchFiniteDifferences(model, src, tgt, name -> name.startsWith("embedding"),
                    name -> name.startsWith("embedding"), "shared embedding");
            java.nio.file.Path file = dir.resolve("shared.safetensors");
            model.save(file);
            try (Seq2Seq loaded = Seq2Seq.load(file, Device.cpu())) {
                assertEquals(model.parameters().keySet(), loaded.parameters().keySet());
                assertSameTranslations(model.beamSearch(src, 2, 6, 0.5), loaded.beamSearch(src, 2, 6, 0.5));
            }
        }
        if (Devices.cudaUnusableReason() == null) {
            assertCudaStepEqualsCpus(shared.get(), "shared embeddings");
        }
        assertMessage("shareEmbeddings: expected equal vocabularies and equal encoder and decoder input sizes (one table serves both), "
                + "got vocabularies 10 and 12, input sizes 4 and 4", () -> Seq2Seq.builder(VOCAB, 12).encoder(Lstm.builder(4, 6))
                .decoder(Lstm.builder(4, 6)).tokens(START, END).shareEmbeddings(true).build(Device.cpu()));
        assertMessage("shareEmbeddings: expected equal vocabularies and equal encoder and decoder input sizes (one table serves both), "
                + "got vocabularies 10 and 10, input sizes 4 and 5", () -> Seq2Seq.builder(VOCAB, VOCAB).encoder(Lstm.builder(4, 6))
                .decoder(Lstm.builder(5, 6)).tokens(START, END).shareEmbeddings(true).build(Device.cpu()));
        assertMessage("shareEmbeddings: expected false for a fromVectors model", () -> Seq2Seq.fromVectors(3, VOCAB)
                .decoder(Lstm.builder(4, 6)).tokens(START, END).shareEmbeddings(true).build(Device.cpu()));
    }

    @ParameterizedTest
    @MethodSource("org.rnn4j.Devices#names")
    void badArgumentsAreRefusedByNameBeforeAnyWork(String deviceName) {
        Device device = Device.parse(deviceName);
        assertMessage("decoder: expected a unidirectional layer", () -> Seq2Seq.builder(VOCAB, VOCAB)
                .encoder(Lstm.builder(4, 6)).decoder(Lstm.builder(4, 6).bidirectional(true)).tokens(START, END).build(device));
        assertMessage("decoder: expected the encoder's 1 layers of hidden size 6", () -> Seq2Seq.builder(VOCAB, VOCAB)
                .encoder(Lstm.builder(4, 6)).decoder(Lstm.builder(4, 7)).tokens(START, END).build(device));
        assertMessage("attention: DOT needs encoder outputs of the decoder's size", () -> reverser(Seq2Seq.Attention.DOT, true)
                .build(device));
        assertMessage("attention: DOT needs encoder outputs of the decoder's size", () -> Seq2Seq.builder(VOCAB, VOCAB)
                .encoder(Lstm.builder(4, 6)).decoder(Lstm.builder(4, 8)).bridge(Seq2Seq.Bridge.CONCAT_PROJECT)
                .attention(Seq2Seq.Attention.DOT).tokens(START, END).build(device));
        assertMessage("decoder: expected the encoder's 1 layers", () -> Seq2Seq.builder(VOCAB, VOCAB)
                .encoder(Lstm.builder(4, 6)).decoder(Lstm.builder(4, 6).numLayers(2)).bridge(Seq2Seq.Bridge.CONCAT_PROJECT)
                .tokens(START, END).build(device));
        assertMessage("bridge: expected SUM or CONCAT_PROJECT, got null", () -> reverser(Seq2Seq.Attention.DOT, false).bridge(null)
                .build(device));
        assertMessage("endToken: expected a target id in [0, 10)", () -> Seq2Seq.builder(VOCAB, VOCAB)
                .encoder(Lstm.builder(4, 6)).decoder(Lstm.builder(4, 6)).tokens(START, 10).build(device));
        try (Seq2Seq model = reverser(Seq2Seq.Attention.GENERAL, true).build(device)) {
            Map<String, float[]> before = snapshot(model);
            long open = Tensor.openCount();
            List<int[]> two = List.of(new int[] {3}, new int[] {4});
            assertMessage("targets: expected one per source (2), got 1", () -> model.lossAndGradients(two, List.of(new int[] {3})));
            assertMessage("targets[1][0]: expected an id in [0, 10), got 10",
                    () -> model.lossAndGradients(two, List.of(new int[] {3}, new int[] {10})));
            assertMessage("sources[0]: expected a sequence of at least 1 ids, got an empty one",
                    () -> model.translate(List.of(new int[0]), 5));
            assertMessage("maxLength: expected >= 1 output tokens, got 0", () -> model.translate(two, 0));
            assertMessage("sources: expected at least one sequence", () -> model.translate(List.of(), 3));
            assertMessage("beamWidth: expected >= 1 beams, got 0", () -> model.beamSearch(two, 0, 5, 0));
            assertMessage("samplingRate: expected a probability in [0, 1], got 1.5",
                    () -> model.lossAndGradients(two, two, 1.5, 0));
            // attention over a batch with a zero-length source, in training and in a search
            assertMessage("sources[1]: expected a sequence of at least 1 ids, got an empty one",
                    () -> model.lossAndGradients(List.of(new int[] {3}, new int[0]), two));
            assertMessage("sources[1]: expected a sequence of at least 1 ids, got an empty one",
                    () -> model.beamSearch(List.of(new int[] {3}, new int[0]), 2, 5, 0));
            assertMessage("maxLength: expected >= 1 output tokens, got 0", () -> model.beamSearch(two, 2, 0, 0));
            assertMessage("maxLength: expected >= 1 output tokens, got -1", () -> model.sample(two, -1, 1.0, 0));
            assertMessage("beamWidth: expected >= 1 beams, got -3", () -> model.beamSearch(two, -3, 5, 0));
            assertMessage("lengthPenalty: expected a finite exponent, got NaN", () -> model.beamSearch(two, 2, 5, Double.NaN));
            // the attention scores [B, T, S] of 50,000 target steps against 50,000 source steps would not fit a tensor
            int[] longSource = new int[50_000], longTarget = new int[50_000];
            java.util.Arrays.fill(longSource, 3);
            java.util.Arrays.fill(longTarget, 4);
            assertMessage("targets: expected a padded batch whose tensors hold at most 2147483639 values, got 50001 target steps × 1 rows × 50000 "
                    + "(the attention scores over the source steps)", () -> model.lossAndGradients(List.of(longSource), List.of(longTarget)));
            assertNothingChanged(model, before, open);
        }
        // a missing end token (tokens(start, end) never called, or an end token outside the vocabulary)
        assertMessage("startToken: expected a target id in [0, 10) (set with tokens(start, end)), got -1", () -> Seq2Seq.builder(VOCAB, VOCAB)
                .encoder(Lstm.builder(4, 6)).decoder(Lstm.builder(4, 6)).build(device));
        assertMessage("endToken: expected a target id in [0, 10) (set with tokens(start, end)), got -1", () -> Seq2Seq.builder(VOCAB, VOCAB)
                .encoder(Lstm.builder(4, 6)).decoder(Lstm.builder(4, 6)).tokens(START, -1).build(device));
        // sources (or targets) longer than the encoder (or decoder) can take: 600,000 steps of 4,096-wide embeddings
        try (Seq2Seq wide = Seq2Seq.builder(VOCAB, VOCAB).encoder(Lstm.builder(4096, 8)).decoder(Lstm.builder(4096, 8))
                .attention(Seq2Seq.Attention.GENERAL).tokens(START, END).build(device)) {
            Map<String, float[]> before = snapshot(wide);
            long open = Tensor.openCount();
            int[] tooLong = new int[600_000], halfAsLong = new int[300_000];
            java.util.Arrays.fill(tooLong, 3);
            java.util.Arrays.fill(halfAsLong, 3);
            List<int[]> one = List.of(new int[] {3});
            assertMessage("sources: expected a padded batch whose tensors hold at most 2147483639 values, got 600000 source steps × 1 rows × 4096 "
                    + "(the encoder's gates, its input or the attention keys)", () -> wide.lossAndGradients(List.of(tooLong), one));
            assertMessage("sources: expected a padded batch whose tensors hold at most 2147483639 values, got 600000 source steps × 1 rows",
                    () -> wide.translate(List.of(tooLong), 3));
            // half as long fits one row, not the two beams of each source
            assertMessage("sources: expected a padded batch whose tensors hold at most 2147483639 values, got 300000 source steps × 2 rows",
                    () -> wide.beamSearch(List.of(halfAsLong), 2, 3, 0));
            assertMessage("targets: expected a padded batch whose tensors hold at most 2147483639 values, got 600001 target steps × 1 rows × 4096 "
                    + "(the decoder's gates, its input, the attention features or the logits)", () -> wide.lossAndGradients(one, List.of(tooLong)));
            // in fit and evaluate, before the first batch (the too-long source is in the second batch of one row)
            SequenceDataset late = SequenceDataset.sequenceToSequence(List.of(new int[] {3}, tooLong), List.of(new int[] {4}, new int[] {4}));
            assertMessage("train: sources: expected a padded batch whose tensors hold at most 2147483639 values, got 600000 source steps × 1 rows",
                    () -> wide.fit(late, null, new org.rnn4j.model.FitOptions().epochs(1).batchSize(1)));
            assertMessage("data: sources: expected a padded batch whose tensors hold at most 2147483639 values, got 600000 source steps × 1 rows",
                    () -> wide.evaluate(late, 1));
            assertEquals(0, wide.stepsTrained());
            assertNothingChanged(wide, before, open);
        }
    }

    static Map<String, float[]> snapshot(Seq2Seq model) {
        Map<String, float[]> out = new java.util.TreeMap<>();
        model.parameters().forEach((k, v) -> out.put(k, v.toHost()));
        model.gradients().forEach((k, v) -> out.put("grad " + k, v.toHost()));
        return out;
    }

    /** No weight or gradient changed and no tensor was left open: the refusals came before any work. */
    static void assertNothingChanged(Seq2Seq model, Map<String, float[]> before, long openBefore) {
        Map<String, float[]> after = snapshot(model);
        before.forEach((k, v) -> assertArrayEquals(v, after.get(k), 0f, k));
        assertEquals(openBefore, Tensor.openCount(), "tensors left open");
    }

    private static void assertMessage(String start, org.junit.jupiter.api.function.Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().startsWith(start), () -> "expected '" + start + "...', got '" + e.getMessage() + "'");
    }
}
