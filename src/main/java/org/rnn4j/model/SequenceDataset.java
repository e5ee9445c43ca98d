package org.rnn4j.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Variable-length sequences and their targets, kept on the host until a batch is formed. Inputs are
 * token ids (for a model with an embedding) or feature vectors; targets are one class per sequence,
 * one class per step, one vector per step, a token sequence of its own length (for a {@link Seq2Seq}), or
 * none (the next token for a language model, nothing for {@link SequenceModel#predict}). The arrays are
 * copied, so later changes to them do not leak in.
 */
public final class SequenceDataset {

    /** What the targets are. */
    enum Targets { NONE, LABEL, TAGS, VALUES, VALUE, NEXT_TOKEN, SEQUENCE }

    private final Targets targets;
    private final int features;   // 0 for tokens
    private final int outputs;    // regression target width, else 0
    private final List<int[]> tokens;
    private final List<float[]> inputs;
    private final int[] labels;
    private final List<int[]> tags;      // a class per step (TAGS), or the target token sequence (SEQUENCE)
    private final List<float[]> values;
    private final float[] weights;  // a sample weight per sequence, or null (all 1)

    private SequenceDataset(Targets targets, int features, int outputs, List<int[]> tokens, List<float[]> inputs,
                            int[] labels, List<int[]> tags, List<float[]> values, float[] weights) {
        this.targets = targets;
        this.weights = weights;
        this.features = features;
        this.outputs = outputs;
        this.tokens = tokens;
        this.inputs = inputs;
        this.labels = labels;
        this.tags = tags;
        this.values = values;
        if (size() == 0) {
            throw new IllegalArgumentException("sequences: expected at least one sequence, got none");
        }
    }

    // ------------------------------------------------------------------ factories

    /** Token sequences with one class per sequence (many-to-one classification). */
    public static SequenceDataset classification(List<int[]> tokens, int[] labels) {
        List<int[]> t = copyTokens("tokens", tokens, 1);
        sameCount("labels", labels == null ? -1 : labels.length, t.size());
        return new SequenceDataset(Targets.LABEL, 0, 0, t, null, labels.clone(), null, null, null);
    }

    /** Feature sequences ({@code [length][F]} each) with one class per sequence. */
    public static SequenceDataset classificationOfFeatures(List<float[][]> features, int[] labels) {
        int f = width("features", features);
        List<float[]> x = copyRows("features", features, f);
        sameCount("labels", labels == null ? -1 : labels.length, x.size());
        return new SequenceDataset(Targets.LABEL, f, 0, null, x, labels.clone(), null, null, null);
    }

    /** Token sequences with one class per token (tagging); {@code tags.get(i)} is as long as {@code tokens.get(i)}. */
    public static SequenceDataset tagging(List<int[]> tokens, List<int[]> tags) {
        List<int[]> t = copyTokens("tokens", tokens, 1);
        return new SequenceDataset(Targets.TAGS, 0, 0, t, null, null, copyTags(tags, t.stream().mapToInt(s -> s.length).toArray()),
                null, null);
    }

    /** A copy of {@code tags}, checked to hold one row per sequence, as long as that sequence. */
    private static List<int[]> copyTags(List<int[]> tags, int[] lengths) {
        sameCount("tags", tags == null ? -1 : tags.size(), lengths.length);
        List<int[]> g = new ArrayList<>();
        for (int i = 0; i < lengths.length; i++) {
            int[] row = tags.get(i);
            sameCount("tags[" + i + "]", row == null ? -1 : row.length, lengths[i]);
            g.add(row.clone());
        }
        return Collections.unmodifiableList(g);
    }

    /** Feature sequences ({@code [length][F]} each) with one class per step (tagging of dense inputs). */
    public static SequenceDataset taggingOfFeatures(List<float[][]> features, List<int[]> tags) {
        int f = width("features", features);
        List<float[]> x = copyRows("features", features, f);
        return new SequenceDataset(Targets.TAGS, f, 0, null, x, null, copyTags(tags, features.stream().mapToInt(s -> s.length).toArray()),
                null, null);
    }

    /**
     * Feature sequences with a target vector per step (forecasting): {@code inputs.get(i)} is
     * {@code [length][F]} and {@code targets.get(i)} is {@code [length][O]}.
     */
    public static SequenceDataset regression(List<float[][]> inputs, List<float[][]> targets) {
        int f = width("inputs", inputs);
        List<float[]> x = copyRows("inputs", inputs, f);
        int o = width("targets", targets);
        List<float[]> y = copyRows("targets", targets, o);
        sameCount("targets", y.size(), x.size());
        for (int i = 0; i < x.size(); i++) {
            sameCount("targets[" + i + "] (steps)", targets.get(i).length, inputs.get(i).length);
        }
        return new SequenceDataset(Targets.VALUES, f, o, null, x, null, null, y, null);
    }

    /**
     * Feature sequences ({@code [length][F]} each) with one target vector per sequence ({@code targets[i]},
     * all of one width): many-to-one regression.
     */
    public static SequenceDataset sequenceRegression(List<float[][]> inputs, float[][] targets) {
        int f = width("inputs", inputs);
        List<float[]> x = copyRows("inputs", inputs, f);
        sameCount("targets", targets == null ? -1 : targets.length, x.size());
        List<float[][]> rows = new ArrayList<>();
        for (float[] t : targets) {
            rows.add(new float[][] {t});
        }
        int o = width("targets", rows);
        return new SequenceDataset(Targets.VALUE, f, o, null, x, null, null, copyRows("targets", rows, o), null);
    }

    /** Token sequences for a next-token language model: each of length ≥ 2 is input {@code [0, n−1)} and target {@code [1, n)}. */
    public static SequenceDataset languageModel(List<int[]> sequences) {
        return new SequenceDataset(Targets.NEXT_TOKEN, 0, 0, copyTokens("sequences", sequences, 2), null, null, null, null, null);
    }

    /**
     * Source token sequences with a target token sequence each, of its own length (translation, normalisation: an
     * encoder–decoder {@link Seq2Seq}). Targets come without start and end tokens and may be empty (the model then
     * learns to end at once); sources have at least one token. Ids are {@code >= 0} here; {@code Seq2Seq.fit} checks
     * them against its vocabularies before any work.
     */
    public static SequenceDataset sequenceToSequence(List<int[]> sources, List<int[]> targets) {
        List<int[]> x = copyTokens("sources", sources, 1);
        sameCount("targets", targets == null ? -1 : targets.size(), x.size());
        return new SequenceDataset(Targets.SEQUENCE, 0, 0, x, null, null, copyTokens("targets", targets, 0), null, null);
    }

    /**
     * One feature vector per example with a target token sequence each (one-to-many, as image captioning: a
     * {@link Seq2Seq#fromVectors} model). The vectors are of one width and finite; the targets are as
     * {@link #sequenceToSequence}'s.
     */
    public static SequenceDataset vectorToSequence(List<float[]> vectors, List<int[]> targets) {
        if (vectors == null) {
            throw new IllegalArgumentException("vectors: expected a list of feature vectors, got null");
        }
        int f = vectors.isEmpty() || vectors.get(0) == null ? 0 : vectors.get(0).length;
        List<float[]> x = new ArrayList<>(vectors.size());   // each vector a sequence of one step
        for (int i = 0; i < vectors.size(); i++) {
            float[] v = vectors.get(i);
            if (v == null || v.length == 0 || v.length != f) {
                throw new IllegalArgumentException("vectors[" + i + "]: expected " + (f == 0 ? "at least one feature" : f + " features (the first's width)")
                        + ", got " + (v == null ? "null" : v.length));
            }
            for (int j = 0; j < f; j++) {
                if (!Float.isFinite(v[j])) {
                    throw new IllegalArgumentException("vectors[" + i + "][" + j + "]: expected a finite value, got " + v[j]);
                }
            }
            x.add(v.clone());
        }
        sameCount("targets", targets == null ? -1 : targets.size(), x.size());
        return new SequenceDataset(Targets.SEQUENCE, f, 0, null, Collections.unmodifiableList(x), null, copyTokens("targets", targets, 0), null, null);
    }

    /** Token sequences without targets, for {@link SequenceModel#predict}. */
    public static SequenceDataset ofTokens(List<int[]> tokens) {
        return new SequenceDataset(Targets.NONE, 0, 0, copyTokens("tokens", tokens, 1), null, null, null, null, null);
    }

    /** Feature sequences ({@code [length][F]} each) without targets, for {@link SequenceModel#predict}. */
    public static SequenceDataset ofFeatures(List<float[][]> features) {
        int f = width("features", features);
        return new SequenceDataset(Targets.NONE, f, 0, null, copyRows("features", features, f), null, null, null, null);
    }

    // ------------------------------------------------------------------ views

    /** Number of sequences. */
    public int size() {
        return tokens != null ? tokens.size() : inputs.size();
    }

    /** Input steps of sequence {@code i} (for a language model one fewer than its tokens). */
    public int length(int i) {
        int n = tokens != null ? tokens.get(i).length : inputs.get(i).length / features;
        return targets == Targets.NEXT_TOKEN ? n - 1 : n;
    }

    /** Whether the inputs are token ids (else feature vectors). */
    public boolean hasTokens() {
        return tokens != null;
    }

    /** Features per step, 0 for token inputs. */
    public int featureSize() {
        return features;
    }

    /** Width of a regression target (per step or per sequence), 0 otherwise. */
    public int targetSize() {
        return outputs;
    }

    /** The input length of every sequence ({@link #length(int)}), in dataset order. */
    public int[] lengths() {
        int[] out = new int[size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = length(i);
        }
        return out;
    }

    /** Whether the targets are one class per sequence ({@link #classification}). */
    public boolean hasLabels() {
        return targets == Targets.LABEL;
    }

    /** Whether the targets are one class per step ({@link #tagging}, {@link #taggingOfFeatures}). */
    public boolean hasTags() {
        return targets == Targets.TAGS;
    }

    /** The class of every sequence, in dataset order (a copy), e.g. for a confusion matrix against {@code predictClasses}. */
    public int[] labels() {
        requireTargets(Targets.LABEL, "labels");
        return labels.clone();
    }

    /** The class of sequence {@code i}. */
    public int label(int i) {
        requireTargets(Targets.LABEL, "label");
        return labels[i];
    }

    /** The class of every step of sequence {@code i} (a copy). */
    public int[] tags(int i) {
        requireTargets(Targets.TAGS, "tags");
        return tags.get(i).clone();
    }

    /** Whether the targets are token sequences ({@link #sequenceToSequence}, {@link #vectorToSequence}). */
    public boolean hasTargetSequences() {
        return targets == Targets.SEQUENCE;
    }

    /** The target token sequence of example {@code i} (a copy). */
    public int[] targetSequence(int i) {
        requireTargets(Targets.SEQUENCE, "targetSequence");
        return tags.get(i).clone();
    }

    /** The sample weight of every sequence (a copy), or {@code null} when none were given (all count 1). */
    public float[] sampleWeights() {
        return weights == null ? null : weights.clone();
    }

    /**
     * This dataset with a weight per sequence (Keras's {@code sample_weight}), for classification and tagging:
     * each sequence's terms of the loss count {@code weights[i]} times, the mean dividing by the sum of the
     * weights, in {@code fit} and {@code evaluate}. Accuracy and custom metrics stay unweighted.
     */
    public SequenceDataset withSampleWeights(double[] weights) {
        if (targets != Targets.LABEL && targets != Targets.TAGS) {
            throw new IllegalArgumentException("weights: sample weights apply to classification and tagging datasets, this is "
                    + this);
        }
        sameCount("weights", weights == null ? -1 : weights.length, size());
        float[] w = new float[size()];
        for (int i = 0; i < w.length; i++) {
            if (!(weights[i] >= 0) || Double.isInfinite(weights[i])) {
                throw new IllegalArgumentException("weights[" + i + "]: expected a finite weight >= 0, got " + weights[i]);
            }
            w[i] = (float) weights[i];
        }
        return new SequenceDataset(targets, features, outputs, tokens, inputs, labels, tags, values, w);
    }

    private void requireTargets(Targets want, String what) {
        if (targets != want) {
            throw new IllegalStateException(what + ": this dataset has " + targets.name().toLowerCase(java.util.Locale.ROOT)
                    + " targets, not " + want.name().toLowerCase(java.util.Locale.ROOT));
        }
    }

    Targets targets() {
        return targets;
    }

    int[] tokens(int i) {
        return tokens.get(i);
    }

    float[] features(int i) {
        return inputs.get(i);
    }

    /** Sequence {@code i}'s tags, or its target sequence, without a copy (for batching). */
    int[] tagRow(int i) {
        return tags.get(i);
    }

    /** The sample weight of sequence {@code i} (1 without weights). */
    float weight(int i) {
        return weights == null ? 1f : weights[i];
    }

    boolean weighted() {
        return weights != null;
    }

    float[] values(int i) {
        return values.get(i);
    }

    /** The sequences {@code indices} (in that order) as a new dataset of the same kind. */
    public SequenceDataset subset(int[] indices) {
        if (indices == null || indices.length == 0) {
            throw new IllegalArgumentException("indices: expected at least one index, got "
                    + (indices == null ? "null" : "none"));
        }
        for (int i : indices) {
            if (i < 0 || i >= size()) {
                throw new IllegalArgumentException("indices: expected indices in [0, " + size() + "), got " + i);
            }
        }
        List<int[]> t = tokens == null ? null : pick(tokens, indices);
        List<float[]> x = inputs == null ? null : pick(inputs, indices);
        int[] l = null;
        if (labels != null) {
            l = new int[indices.length];
            for (int j = 0; j < indices.length; j++) {
                l[j] = labels[indices[j]];
            }
        }
        float[] w = null;
        if (weights != null) {
            w = new float[indices.length];
            for (int j = 0; j < indices.length; j++) {
                w[j] = weights[indices[j]];
            }
        }
        return new SequenceDataset(targets, features, outputs, t, x, l, tags == null ? null : pick(tags, indices),
                values == null ? null : pick(values, indices), w);
    }

    /**
     * Splits off a seeded random {@code fraction} of the sequences: element 0 of the result holds the rest,
     * element 1 the held-out part (e.g. validation).
     */
    public SequenceDataset[] split(double fraction, long seed) {
        int held = (int) Math.round(size() * fraction);
        if (!(fraction > 0 && fraction < 1) || held < 1 || held >= size()) {
            throw new IllegalArgumentException("fraction: expected a value in (0, 1) leaving both parts non-empty for "
                    + size() + " sequences, got " + fraction);
        }
        int[] order = Batches.permutation(size(), new SplittableRandom(seed));
        return new SequenceDataset[] {subset(java.util.Arrays.copyOfRange(order, held, size())),
                subset(java.util.Arrays.copyOfRange(order, 0, held))};
    }

    /**
     * {@link #split} keeping each class's share in both parts (scikit-learn's {@code stratify=y}), for a
     * classification dataset: of the {@code n_c} sequences of class {@code c}, {@code round(n_c · fraction)}
     * go to the held-out part (element 1), chosen at random from {@code seed}; both parts come shuffled.
     */
    public SequenceDataset[] splitStratified(double fraction, long seed) {
        requireTargets(Targets.LABEL, "splitStratified");
        if (!(fraction > 0 && fraction < 1)) {
            throw new IllegalArgumentException("fraction: expected a value in (0, 1), got " + fraction);
        }
        java.util.Map<Integer, Integer> perClass = new java.util.HashMap<>();
        for (int c : labels) {
            perClass.merge(c, 1, Integer::sum);
        }
        java.util.Map<Integer, Integer> quota = new java.util.HashMap<>();
        int held = 0;
        for (java.util.Map.Entry<Integer, Integer> e : perClass.entrySet()) {
            int q = (int) Math.round(e.getValue() * fraction);
            quota.put(e.getKey(), q);
            held += q;
        }
        if (held < 1 || held >= size()) {
            throw new IllegalArgumentException("fraction: expected a value leaving both parts non-empty for classes of "
                    + new java.util.TreeMap<>(perClass) + " sequences, got " + fraction);
        }
        int[] order = Batches.permutation(size(), new SplittableRandom(seed));
        int[] out = new int[held];
        int[] rest = new int[size() - held];
        int o = 0;
        int r = 0;
        for (int i : order) {
            if (quota.merge(labels[i], -1, Integer::sum) >= 0) {
                out[o++] = i;
            } else {
                rest[r++] = i;
            }
        }
        return new SequenceDataset[] {subset(rest), subset(out)};
    }

    @Override
    public String toString() {
        return "SequenceDataset(" + size() + " sequences of " + (tokens != null ? "tokens" : features + " features")
                + ", targets " + targets.name().toLowerCase(java.util.Locale.ROOT) + (weights != null ? ", sample weights" : "") + ")";
    }

    // ------------------------------------------------------------------ checks and copies

    private static <T> List<T> pick(List<T> from, int[] indices) {
        List<T> out = new ArrayList<>(indices.length);
        for (int i : indices) {
            out.add(from.get(i));
        }
        return Collections.unmodifiableList(out);
    }

    private static List<int[]> copyTokens(String name, List<int[]> seqs, int minLength) {
        if (seqs == null) {
            throw new IllegalArgumentException(name + ": expected a list of sequences, got null");
        }
        List<int[]> out = new ArrayList<>(seqs.size());
        for (int i = 0; i < seqs.size(); i++) {
            int[] s = seqs.get(i);
            if (s == null || s.length < minLength) {
                throw new IllegalArgumentException(name + "[" + i + "]: expected at least " + minLength + " token(s), got "
                        + (s == null ? "null" : s.length));
            }
            for (int j = 0; j < s.length; j++) {
                if (s[j] < 0) {
                    throw new IllegalArgumentException(name + "[" + i + "][" + j + "]: expected a token id >= 0, got " + s[j]);
                }
            }
            out.add(s.clone());
        }
        return Collections.unmodifiableList(out);
    }

    private static int width(String name, List<float[][]> seqs) {
        if (seqs == null || seqs.isEmpty()) {
            throw new IllegalArgumentException(name + ": expected at least one sequence, got " + (seqs == null ? "null" : "none"));
        }
        float[][] first = seqs.get(0);
        if (first == null || first.length == 0 || first[0] == null || first[0].length == 0) {
            throw new IllegalArgumentException(name + "[0]: expected at least one step of at least one value");
        }
        return first[0].length;
    }

    /** Each {@code [length][width]} sequence flattened row-major; every row must be {@code width} wide and finite. */
    private static List<float[]> copyRows(String name, List<float[][]> seqs, int width) {
        List<float[]> out = new ArrayList<>(seqs.size());
        for (int i = 0; i < seqs.size(); i++) {
            float[][] s = seqs.get(i);
            if (s == null || s.length == 0) {
                throw new IllegalArgumentException(name + "[" + i + "]: expected at least one step, got "
                        + (s == null ? "null" : "none"));
            }
            float[] flat = new float[s.length * width];
            for (int t = 0; t < s.length; t++) {
                if (s[t] == null || s[t].length != width) {
                    throw new IllegalArgumentException(name + "[" + i + "][" + t + "]: expected " + width + " values, got "
                            + (s[t] == null ? "null" : s[t].length));
                }
                for (int j = 0; j < width; j++) {
                    if (!Float.isFinite(s[t][j])) {
                        throw new IllegalArgumentException(name + "[" + i + "][" + t + "][" + j
                                + "]: expected a finite value, got " + s[t][j]);
                    }
                }
                System.arraycopy(s[t], 0, flat, t * width, width);
            }
            out.add(flat);
        }
        return Collections.unmodifiableList(out);
    }

    private static void sameCount(String name, int given, int expected) {
        if (given != expected) {
            throw new IllegalArgumentException(name + ": expected " + expected + " entries (one per "
                    + (name.contains("[") ? "step" : "sequence") + "), got " + (given < 0 ? "null" : given));
        }
    }
}
