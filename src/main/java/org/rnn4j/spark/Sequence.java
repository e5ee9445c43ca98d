package org.rnn4j.spark;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import org.rnn4j.model.SequenceDataset;

/**
 * One training sequence for {@link SequenceModelTrainer}, an element of an RDD: token ids or feature
 * vectors and the target of the model's task, or a source and target sequence for a {@code Seq2Seq}. The factories
 * mirror {@link SequenceDataset}'s.
 */
public final class Sequence implements Serializable {
    private static final long serialVersionUID = 1L;

    private enum Kind { CLASSIFICATION, CLASSIFICATION_OF_FEATURES, TAGGING, REGRESSION, LANGUAGE_MODEL, SEQUENCE_TO_SEQUENCE,
        VECTOR_TO_SEQUENCE }

    private final Kind kind;
    private final int[] tokens;
    private final float[][] features;
    private final int label;
    private final int[] tags;
    private final float[][] values;

    private Sequence(Kind kind, int[] tokens, float[][] features, int label, int[] tags, float[][] values) {
        this.kind = kind;
        this.tokens = tokens;
        this.features = features;
        this.label = label;
        this.tags = tags;
        this.values = values;
    }

    /** Token ids with one class (many-to-one classification). */
    public static Sequence classification(int[] tokens, int label) {
        return new Sequence(Kind.CLASSIFICATION, notNull("tokens", tokens).clone(), null, label, null, null);
    }

    /** Feature vectors {@code [length][F]} with one class. */
    public static Sequence classificationOfFeatures(float[][] features, int label) {
        return new Sequence(Kind.CLASSIFICATION_OF_FEATURES, null, copy("features", features), label, null, null);
    }

    /** Token ids with a class per token (tagging). */
    public static Sequence tagging(int[] tokens, int[] tags) {
        return new Sequence(Kind.TAGGING, notNull("tokens", tokens).clone(), null, 0, notNull("tags", tags).clone(), null);
    }

    /** Feature vectors {@code [length][F]} with a target vector per step {@code [length][O]} (forecasting). */
    public static Sequence regression(float[][] inputs, float[][] targets) {
        return new Sequence(Kind.REGRESSION, null, copy("inputs", inputs), 0, null, copy("targets", targets));
    }

    /** Token ids for a next-token language model (at least two). */
    public static Sequence languageModel(int[] tokens) {
        return new Sequence(Kind.LANGUAGE_MODEL, notNull("tokens", tokens).clone(), null, 0, null, null);
    }

    /** Source token ids with a target token sequence of its own length, for a {@code Seq2Seq} (as {@link SequenceDataset#sequenceToSequence}). */
    public static Sequence sequenceToSequence(int[] source, int[] target) {
        return new Sequence(Kind.SEQUENCE_TO_SEQUENCE, notNull("source", source).clone(), null, 0, notNull("target", target).clone(), null);
    }

    /** A feature vector with a target token sequence, for a {@code Seq2Seq.fromVectors} model (as {@link SequenceDataset#vectorToSequence}). */
    public static Sequence vectorToSequence(float[] vector, int[] target) {
        return new Sequence(Kind.VECTOR_TO_SEQUENCE, null, copy("vector", new float[][] {vector}), 0, notNull("target", target).clone(), null);
    }

    /**
     * The sequences as one {@link SequenceDataset}, validated by it.
     *
     * @throws IllegalArgumentException when the list is empty or mixes kinds of sequences
     */
    public static SequenceDataset toDataset(List<Sequence> sequences) {
        if (sequences == null || sequences.isEmpty()) {
            throw new IllegalArgumentException("sequences: expected at least one sequence, got none");
        }
        Kind kind = sequences.get(0).kind;
        List<int[]> tok = new ArrayList<>();
        List<float[][]> feat = new ArrayList<>();
        List<int[]> tag = new ArrayList<>();
        List<float[][]> val = new ArrayList<>();
        int[] labels = new int[sequences.size()];
        for (int i = 0; i < sequences.size(); i++) {
            Sequence s = sequences.get(i);
            if (s.kind != kind) {
                throw new IllegalArgumentException("sequences[" + i + "]: expected a " + kind + " sequence like the first, got "
                        + s.kind);
            }
            tok.add(s.tokens);
            feat.add(s.features);
            tag.add(s.tags);
            val.add(s.values);
            labels[i] = s.label;
        }
        return switch (kind) {
            case CLASSIFICATION -> SequenceDataset.classification(tok, labels);
            case CLASSIFICATION_OF_FEATURES -> SequenceDataset.classificationOfFeatures(feat, labels);
            case TAGGING -> SequenceDataset.tagging(tok, tag);
            case REGRESSION -> SequenceDataset.regression(feat, val);
            case LANGUAGE_MODEL -> SequenceDataset.languageModel(tok);
            case SEQUENCE_TO_SEQUENCE -> SequenceDataset.sequenceToSequence(tok, tag);
            case VECTOR_TO_SEQUENCE -> SequenceDataset.vectorToSequence(feat.stream().map(f -> f[0]).toList(), tag);
        };
    }

    /** The token ids (the source of a sequence-to-sequence example), without a copy. */
    int[] tokens() {
        return tokens;
    }

    /** A vector-to-sequence example's vector, without a copy. */
    float[] vector() {
        return features[0];
    }

    /** A sequence-to-sequence example's target tokens, without a copy. */
    int[] target() {
        return tags;
    }

    private static <T> T notNull(String name, T v) {
        if (v == null) {
            throw new IllegalArgumentException(name + ": expected an array, got null");
        }
        return v;
    }

    private static float[][] copy(String name, float[][] rows) {
        notNull(name, rows);
        float[][] out = new float[rows.length][];
        for (int i = 0; i < rows.length; i++) {
            out[i] = notNull(name + "[" + i + "]", rows[i]).clone();
        }
        return out;
    }

    @Override
    public String toString() {
        int length = tokens != null ? tokens.length : features.length;
        return "Sequence(" + kind.name().toLowerCase(java.util.Locale.ROOT) + ", " + length + " steps)";
    }
}
