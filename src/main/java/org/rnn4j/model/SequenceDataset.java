package org.rnn4j.model;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Variable-length sequences and their targets, kept on the host until a batch is formed. Inputs are
 * token ids (for a model with an embedding) or feature vectors; targets are one class per sequence,
 * one class per step, one vector per step, or none (the next token for a language model, nothing for
 * {@link SequenceModel#predict}). The arrays are copied, so later changes to them do not leak in.
 */
public final class SequenceDataset {

    /** What the targets are. */
    enum Targets { NONE, LABEL, TAGS, VALUES, VALUE, NEXT_TOKEN }

    private final Targets targets;
    private final int features;   // 0 for tokens
    private final int outputs;    // regression target width, else 0
    private final List<int[]> tokens;
    private final List<float[]> inputs;
    private final int[] labels;
    private final List<int[]> tags;
    private final List<float[]> values;

    private SequenceDataset(Targets targets, int features, int outputs, List<int[]> tokens, List<float[]> inputs,
                            int[] labels, List<int[]> tags, List<float[]> values) {
        this.targets = targets;
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
        return new SequenceDataset(Targets.LABEL, 0, 0, t, null, labels.clone(), null, null);
    }

    /** Feature sequences ({@code [length][F]} each) with one class per sequence. */
    public static SequenceDataset classificationOfFeatures(List<float[][]> features, int[] labels) {
        int f = width("features", features);
        List<float[]> x = copyRows("features", features, f);
        sameCount("labels", labels == null ? -1 : labels.length, x.size());
        return new SequenceDataset(Targets.LABEL, f, 0, null, x, labels.clone(), null, null);
    }

    /** Token sequences with one class per token (tagging); {@code tags.get(i)} is as long as {@code tokens.get(i)}. */
    public static SequenceDataset tagging(List<int[]> tokens, List<int[]> tags) {
        List<int[]> t = copyTokens("tokens", tokens, 1);
        sameCount("tags", tags == null ? -1 : tags.size(), t.size());
        List<int[]> g = new ArrayList<>();
        for (int i = 0; i < t.size(); i++) {
            int[] row = tags.get(i);
            sameCount("tags[" + i + "]", row == null ? -1 : row.length, t.get(i).length);
            g.add(row.clone());
        }
        return new SequenceDataset(Targets.TAGS, 0, 0, t, null, null, Collections.unmodifiableList(g), null);
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
        return new SequenceDataset(Targets.VALUES, f, o, null, x, null, null, y);
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
        return new SequenceDataset(Targets.VALUE, f, o, null, x, null, null, copyRows("targets", rows, o));
    }

    /** Token sequences for a next-token language model: each of length ≥ 2 is input {@code [0, n−1)} and target {@code [1, n)}. */
    public static SequenceDataset languageModel(List<int[]> sequences) {
        return new SequenceDataset(Targets.NEXT_TOKEN, 0, 0, copyTokens("sequences", sequences, 2), null, null, null, null);
    }

    /** Token sequences without targets, for {@link SequenceModel#predict}. */
    public static SequenceDataset ofTokens(List<int[]> tokens) {
        return new SequenceDataset(Targets.NONE, 0, 0, copyTokens("tokens", tokens, 1), null, null, null, null);
    }

    /** Feature sequences ({@code [length][F]} each) without targets, for {@link SequenceModel#predict}. */
    public static SequenceDataset ofFeatures(List<float[][]> features) {
        int f = width("features", features);
        return new SequenceDataset(Targets.NONE, f, 0, null, copyRows("features", features, f), null, null, null);
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

    Targets targets() {
        return targets;
    }

    int[] tokens(int i) {
        return tokens.get(i);
    }

    float[] features(int i) {
        return inputs.get(i);
    }

    int label(int i) {
        return labels[i];
    }

    int[] tags(int i) {
        return tags.get(i);
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
        return new SequenceDataset(targets, features, outputs, t, x, l, tags == null ? null : pick(tags, indices),
                values == null ? null : pick(values, indices));
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

    @Override
    public String toString() {
        return "SequenceDataset(" + size() + " sequences of " + (tokens != null ? "tokens" : features + " features")
                + ", targets " + targets.name().toLowerCase(java.util.Locale.ROOT) + ")";
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
