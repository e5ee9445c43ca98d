package org.rnn4j.model.usage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.rnn4j.Close;
import org.rnn4j.Device;
import org.rnn4j.Gru;
import org.rnn4j.Lstm;
import org.rnn4j.model.FitOptions;
import org.rnn4j.model.History;
import org.rnn4j.model.LrSchedule;
import org.rnn4j.model.Metric;
import org.rnn4j.model.SequenceDataset;
import org.rnn4j.model.SequenceModel;
import org.rnn4j.model.Task;

/**
 * What a user's code outside {@code org.rnn4j.model} can do (this package would not compile otherwise):
 * custom schedules and metrics, the dataset's labels and lengths, stratified splits, weights, an ignore
 * index, dense-feature tagging and classification, and memory estimates.
 */
class PublicTrainingApiTest {
    private final Device cpu = Device.cpu();

    /** Ids 1..5; label 1 when token 1 occurs more often than token 2 (never tied); a third of them class 1 or so. */
    private static SequenceDataset majority(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<int[]> seqs = new ArrayList<>();
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            int[] s;
            int diff;
            do {
                s = rnd.ints(3 + rnd.nextInt(10), 1, 6).toArray();
                diff = (int) (Arrays.stream(s).filter(t -> t == 1).count() - Arrays.stream(s).filter(t -> t == 2).count());
            } while (diff == 0);
            seqs.add(s);
            labels[i] = diff > 0 ? 1 : 0;
        }
        return SequenceDataset.classification(seqs, labels);
    }

    private SequenceModel classifier(int ignoreIndex) {
        SequenceModel.Builder b = SequenceModel.builder(Task.CLASSIFICATION).embedding(6, 8, 0)
                .recurrent(Lstm.builder(8, 12).seed(3)).outputs(2).seed(4);
        return (ignoreIndex == Integer.MIN_VALUE ? b : b.ignoreIndex(ignoreIndex)).build(cpu);
    }

    /** F1 of class 1, from the predicted classes of the rows. */
    static final class F1 implements Metric {
        long tp;
        long fp;
        long fn;

        @Override
        public String name() {
            return "f1";
        }

        @Override
        public boolean higherIsBetter() {
            return true;
        }

        @Override
        public void reset() {
            tp = 0;
            fp = 0;
            fn = 0;
        }

        @Override
        public void update(Rows rows) {
            for (int r = 0; r < rows.count(); r++) {
                int p = rows.predictedClass(r);
                int t = rows.classes()[r];
                tp += p == 1 && t == 1 ? 1 : 0;
                fp += p == 1 && t != 1 ? 1 : 0;
                fn += p != 1 && t == 1 ? 1 : 0;
            }
        }

        @Override
        public double value() {
            return tp == 0 ? 0 : 2.0 * tp / (2.0 * tp + fp + fn);
        }
    }

    @Test
    void aCustomMetricMatchesOneComputedFromTheLabels() throws Exception {
        SequenceDataset[] parts = majority(200, 1).splitStratified(0.3, 5);
        try (SequenceModel m = classifier(Integer.MIN_VALUE)) {
            History h = m.fit(parts[0], parts[1], new FitOptions().epochs(3).batchSize(16).adam(1e-2).metrics(new F1()));
            assertTrue(h.last().train().containsKey("f1") && h.last().validation().containsKey("f1"), h.last()::toString);
            double f1 = m.evaluate(parts[1], 16, new F1()).get("f1");
            assertEquals(h.last().metric("val_f1"), f1, "evaluate after fit computes the last epoch's validation value");
            int[] labels = parts[1].labels();
            List<int[]> predicted = m.predictClasses(parts[1], 16);
            long tp = 0;
            long fp = 0;
            long fn = 0;
            for (int i = 0; i < labels.length; i++) {
                int p = predicted.get(i)[0];
                tp += p == 1 && labels[i] == 1 ? 1 : 0;
                fp += p == 1 && labels[i] == 0 ? 1 : 0;
                fn += p == 0 && labels[i] == 1 ? 1 : 0;
            }
            assertTrue(tp > 0, "the model predicts class 1 sometimes");
            assertEquals(2.0 * tp / (2.0 * tp + fp + fn), f1, 1e-12);
        }
    }

    @Test
    void aCustomScheduleDrivesTheRate() throws Exception {
        LrSchedule halving = new LrSchedule() {
            @Override
            public double rate(double base, long step, int epoch) {
                return base / (1 + step);
            }
        };
        SequenceDataset data = majority(48, 2);   // 3 batches of 16 per epoch
        try (SequenceModel m = classifier(Integer.MIN_VALUE)) {
            History h = m.fit(data, null, new FitOptions().epochs(2).batchSize(16).adam(0.1).schedule(halving));
            assertEquals(0.1 / 3, h.epochs().get(0).learningRate(), 1e-12, "step 2's rate");
            assertEquals(0.1 / 6, h.last().learningRate(), 1e-12, "step 5's rate");
        }
        assertTrue(halving.toString().startsWith(PublicTrainingApiTest.class.getName()), halving::toString);
    }

    @Test
    void labelsLengthsAndAStratifiedSplit() {
        SequenceDataset d = majority(120, 3);
        int[] labels = d.labels();
        int[] lengths = d.lengths();
        assertEquals(120, labels.length);
        for (int i = 0; i < d.size(); i++) {
            assertEquals(d.length(i), lengths[i]);
            assertEquals(labels[i], d.label(i));
        }
        labels[0] = 99;
        assertTrue(d.label(0) != 99, "labels() is a copy");
        long ones = Arrays.stream(d.labels()).filter(c -> c == 1).count();
        SequenceDataset[] parts = d.splitStratified(0.25, 11);
        long heldOnes = Arrays.stream(parts[1].labels()).filter(c -> c == 1).count();
        assertEquals(Math.round(ones * 0.25), heldOnes);
        assertEquals(Math.round((120 - ones) * 0.25), parts[1].size() - heldOnes);
        assertEquals(120, parts[0].size() + parts[1].size());
        // every sequence lands in exactly one part: compare the multisets of (length, label)
        List<String> all = new ArrayList<>();
        List<String> split = new ArrayList<>();
        for (int i = 0; i < d.size(); i++) {
            all.add(d.length(i) + ":" + d.label(i));
        }
        for (SequenceDataset p : parts) {
            for (int i = 0; i < p.size(); i++) {
                split.add(p.length(i) + ":" + p.label(i));
            }
        }
        all.sort(null);
        split.sort(null);
        assertEquals(all, split);
        assertArrayEquals(parts[1].labels(), d.splitStratified(0.25, 11)[1].labels(), "seeded");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> d.tags(0));
        assertTrue(e.getMessage().contains("label targets"), e.getMessage());
    }

    @Test
    void zeroSampleWeightsAreAsIfTheSequencesWereNotThere() {
        SequenceDataset d = majority(12, 4);
        double[] w = new double[12];
        int[] kept = {0, 2, 3, 7, 8, 11};
        for (int i : kept) {
            w[i] = 1;
        }
        SequenceDataset weighted = d.withSampleWeights(w);
        assertArrayEquals(new float[] {1, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 1}, weighted.sampleWeights());
        Map<String, float[]> a = gradients(weighted);
        Map<String, float[]> b = gradients(d.subset(kept));
        for (String p : a.keySet()) {
            Close.assertClose(p, b.get(p), a.get(p), 1e-6, 1e-5);
        }
        try (SequenceModel m = classifier(Integer.MIN_VALUE)) {
            assertEquals(m.evaluate(d.subset(kept), 4).get("loss"), m.evaluate(weighted, 5).get("loss"), 1e-6,
                    "evaluate weighs the loss too");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> org.rnn4j.model.ModelGradients.accumulate(m, weighted, 1));
            assertTrue(e.getMessage().contains("without sample weights") && e.getMessage().contains("sample weights)"),
                    e.getMessage());
        }
        // weight 2 on every sequence is the plain mean again
        double[] two = new double[12];
        Arrays.fill(two, 2);
        Map<String, float[]> c = gradients(d.withSampleWeights(two));
        Map<String, float[]> plain = gradients(d);
        for (String p : c.keySet()) {
            Close.assertClose(p, plain.get(p), c.get(p), 1e-6, 1e-5);
        }
        assertThrows(IllegalArgumentException.class, () -> d.withSampleWeights(new double[] {1}));
        double[] bad = new double[12];
        bad[3] = Double.NaN;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> d.withSampleWeights(bad));
        assertTrue(e.getMessage().startsWith("weights[3]"), e.getMessage());
    }

    private Map<String, float[]> gradients(SequenceDataset batch) {
        try (SequenceModel m = classifier(Integer.MIN_VALUE)) {
            m.trainOnBatch(batch, 1);
            Map<String, float[]> g = new java.util.LinkedHashMap<>();
            m.gradients().forEach((k, v) -> g.put(k, v.toHost()));
            return g;
        }
    }

    @Test
    void aZeroClassWeightIsTheIgnoreIndex() throws Exception {
        SequenceDataset data = majority(64, 5);
        // SGD, not Adam: the two losses' gradients are equal up to rounding, and Adam's g/(√v + ε) can scale an
        // element's rounding difference by up to lr/ε = 1e6 where |g| ≲ ε. With Adam, the cells' float
        // sigmoid/tanh put one weight_hh element 3e-5 apart after one epoch (every other within 7e-7); SGD's
        // update lr·g keeps the difference at rounding size
        FitOptions o = new FitOptions().epochs(2).batchSize(16).sgd(0.1, 0.9).seed(3);
        Map<String, float[]> weighted;
        Map<String, float[]> ignoring;
        Map<String, float[]> plain;
        try (SequenceModel m = classifier(Integer.MIN_VALUE)) {
            m.fit(data, null, o.classWeights(1, 0));
            weighted = host(m);
        }
        try (SequenceModel m = classifier(1)) {
            m.fit(data, null, new FitOptions().epochs(2).batchSize(16).sgd(0.1, 0.9).seed(3));
            ignoring = host(m);
            // accuracy counts only the rows whose target is not ignored: all of class 0
            int[] labels = data.labels();
            List<int[]> predicted = m.predictClasses(data, 16);
            long zeros = 0;
            long right = 0;
            for (int i = 0; i < labels.length; i++) {
                if (labels[i] == 0) {
                    zeros++;
                    right += predicted.get(i)[0] == 0 ? 1 : 0;
                }
            }
            assertEquals((double) right / zeros, m.evaluate(data, 16).get("accuracy"), 1e-12);
        }
        try (SequenceModel m = classifier(Integer.MIN_VALUE)) {
            m.fit(data, null, new FitOptions().epochs(2).batchSize(16).sgd(0.1, 0.9).seed(3));
            plain = host(m);
        }
        for (String p : weighted.keySet()) {
            Close.assertClose(p, ignoring.get(p), weighted.get(p), 1e-5, 1e-4);
        }
        assertFalse(Arrays.equals(plain.get("head.bias"), weighted.get("head.bias")), "the weights change the training");
    }

    private static Map<String, float[]> host(SequenceModel m) {
        Map<String, float[]> w = new java.util.LinkedHashMap<>();
        m.parameters().forEach((k, v) -> w.put(k, v.toHost()));
        return w;
    }

    @Test
    void tagsEqualToTheIgnoreIndexCountNowhere() throws Exception {
        // tag 1 where the token is larger than the one before; every third step is ignored (−100)
        SplittableRandom rnd = new SplittableRandom(6);
        List<int[]> seqs = new ArrayList<>();
        List<int[]> tags = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            int[] s = rnd.ints(2 + rnd.nextInt(10), 0, 8).toArray();
            int[] g = new int[s.length];
            for (int t = 0; t < s.length; t++) {
                g[t] = t % 3 == 2 ? -100 : t > 0 && s[t] > s[t - 1] ? 1 : 0;
            }
            seqs.add(s);
            tags.add(g);
        }
        SequenceDataset data = SequenceDataset.tagging(seqs, tags);
        SequenceModel.Builder b = SequenceModel.builder(Task.TAGGING).embedding(8, 4)
                .recurrent(Gru.builder(4, 8).seed(1)).outputs(2).seed(2);
        try (SequenceModel plain = b.build(cpu)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> plain.evaluate(data, 8));
            assertTrue(e.getMessage().contains("tag 2") && e.getMessage().contains("-100"), e.getMessage());
        }
        try (SequenceModel m = b.ignoreIndex(-100).build(cpu)) {
            m.fit(data, null, new FitOptions().epochs(2).batchSize(8).adam(1e-2));
            List<int[]> predicted = m.predictClasses(data, 8);
            long counted = 0;
            long right = 0;
            for (int i = 0; i < data.size(); i++) {
                int[] g = data.tags(i);
                for (int t = 0; t < g.length; t++) {
                    if (g[t] != -100) {
                        counted++;
                        right += predicted.get(i)[t] == g[t] ? 1 : 0;
                    }
                }
            }
            assertEquals((double) right / counted, m.evaluate(data, 8).get("accuracy"), 1e-12);
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SequenceModel.builder(Task.REGRESSION)
                .features(1).recurrent(Lstm.builder(1, 2)).outputs(1).ignoreIndex(-100).build(cpu));
        assertTrue(e.getMessage().startsWith("ignoreIndex"), e.getMessage());
    }

    @Test
    void denseFeatureSequencesAreTaggedAndClassified() throws Exception {
        // per step: tag 1 where x > 0; per sequence: class 1 where the sum of x is positive
        SplittableRandom rnd = new SplittableRandom(7);
        List<float[][]> xs = new ArrayList<>();
        List<int[]> tags = new ArrayList<>();
        int[] labels = new int[200];
        for (int i = 0; i < labels.length; i++) {
            float[][] x = new float[3 + rnd.nextInt(8)][2];
            int[] g = new int[x.length];
            double sum = 0;
            for (int t = 0; t < x.length; t++) {
                x[t][0] = (float) rnd.nextDouble(-1, 1);
                x[t][1] = (float) rnd.nextDouble(-1, 1);
                g[t] = x[t][0] > 0 ? 1 : 0;
                sum += x[t][0];
            }
            xs.add(x);
            tags.add(g);
            labels[i] = sum > 0 ? 1 : 0;
        }
        SequenceDataset tagged = SequenceDataset.taggingOfFeatures(xs, tags);
        assertTrue(tagged.hasTags() && !tagged.hasTokens() && tagged.featureSize() == 2);
        try (SequenceModel m = SequenceModel.builder(Task.TAGGING).features(2).recurrent(Lstm.builder(2, 8).seed(1))
                .outputs(2).seed(2).build(cpu)) {
            m.fit(tagged, null, new FitOptions().epochs(8).batchSize(16).adam(2e-2));
            assertTrue(m.evaluate(tagged, 32).get("accuracy") > 0.95, () -> m.evaluate(tagged, 32).toString());
        }
        SequenceDataset classified = SequenceDataset.classificationOfFeatures(xs, labels);
        try (SequenceModel m = SequenceModel.builder(Task.CLASSIFICATION).features(2).recurrent(Lstm.builder(2, 8).seed(1))
                .outputs(2).seed(2).build(cpu)) {
            m.fit(classified, null, new FitOptions().epochs(10).batchSize(16).adam(2e-2));
            assertTrue(m.evaluate(classified, 32).get("accuracy") > 0.85, () -> m.evaluate(classified, 32).toString());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SequenceDataset.taggingOfFeatures(xs, tags.subList(0, 3)));
        assertTrue(e.getMessage().startsWith("tags: expected 200 entries"), e.getMessage());
    }

    @Test
    void summaryEstimatesTrainingMemory() {
        try (SequenceModel m = classifier(Integer.MIN_VALUE)) {
            SequenceModel.MemoryEstimate small = m.memoryEstimate(8, 10);
            SequenceModel.MemoryEstimate large = m.memoryEstimate(16, 20);
            long params = m.parameters().values().stream().mapToLong(t -> t.size()).sum();
            assertEquals(4 * params, small.parameters());
            assertEquals(4 * params, small.gradients());
            assertEquals(8 * params, small.optimizer(), "Adam's two moments");
            assertTrue(large.activations() > 3.5 * small.activations() && large.activations() < 4.5 * small.activations(),
                    "activations grow with batch × steps");
            String s = m.summary(16, 20);
            assertTrue(s.contains(String.format("%,d bytes", large.total())) && s.contains("activations"), s);
            Set<String> keys = new HashSet<>(List.of("parameters", "gradients"));
            assertTrue(keys.stream().allMatch(s::contains), s);
            assertThrows(IllegalArgumentException.class, () -> m.memoryEstimate(0, 5));
        }
    }
}
