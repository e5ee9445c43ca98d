package org.rnn4j.model;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.rnn4j.RecurrentConfig;
import org.rnn4j.train.Checkpoint;
import org.rnn4j.train.Embedding;

/**
 * Everything that defines a {@link SequenceModel}'s shape, validated when built and written into its
 * checkpoints' metadata (keys {@code rnn4j.model.*}, the recurrent stack's under {@code rnn.*} as
 * {@link Checkpoint} writes them), so that {@link SequenceModel#load} rebuilds it from the file alone.
 *
 * @param task the task shape
 * @param vocabSize token ids are in {@code [0, vocabSize)}; 0 for dense feature inputs
 * @param embeddingDim the embedding size (the recurrent input size), 0 for feature inputs
 * @param padding the embedding's padding id, or {@link Embedding#NO_PADDING}
 * @param inputFeatures features per step of dense inputs, 0 for token inputs
 * @param recurrent the recurrent stack (time-major)
 * @param dropout dropout on the recurrent features before the head, in [0, 1)
 * @param outputs classes (classification, tagging, language model: the vocabulary) or values per step (regression)
 * @param seed seeds the embedding, the head and the head dropout
 * @param ignoreIndex a class target (label or tag) that counts nowhere: not in the loss, its gradient or
 *        the metrics (PyTorch's {@code ignore_index}, e.g. −100); {@link #NO_IGNORE} for none
 */
public record ModelConfig(Task task, int vocabSize, int embeddingDim, int padding, int inputFeatures,
                          RecurrentConfig recurrent, float dropout, int outputs, long seed, int ignoreIndex) {

    /** {@link #ignoreIndex()} when every target counts. */
    public static final int NO_IGNORE = Integer.MIN_VALUE;

    static final String PREFIX = "rnn4j.model.";
    static final String RNN = "rnn.";
    /** The keys that change what a model with given weights computes. */
    private static final List<String> SEMANTIC_KEYS = List.of("task", "vocab_size", "embedding_dim", "padding",
            "input_features", "outputs");

    public ModelConfig {
        if (ignoreIndex != NO_IGNORE && !(task == Task.CLASSIFICATION || task == Task.TAGGING)) {
            throw new IllegalArgumentException("ignoreIndex: applies to CLASSIFICATION and TAGGING targets, this model is a "
                    + task);
        }
        if (task == null) {
            throw new IllegalArgumentException("task: expected a task, got null");
        }
        if (recurrent == null) {
            throw new IllegalArgumentException("recurrent: expected a recurrent layer configuration, got null");
        }
        if (vocabSize < 0 || (vocabSize == 0 && embeddingDim != 0)) {
            throw new IllegalArgumentException("vocabSize: expected >= 1 (embedding(vocab, dim)), got " + vocabSize);
        }
        if (inputFeatures < 0) {
            throw new IllegalArgumentException("inputFeatures: expected >= 1 (features(n)), got " + inputFeatures);
        }
        boolean tokens = vocabSize > 0;
        if (tokens == (inputFeatures > 0)) {
            throw new IllegalArgumentException("inputs: expected either token ids (embedding(vocab, dim)) or features "
                    + "(features(n)), got " + (tokens ? "both: embedding(" + vocabSize + ", " + embeddingDim
                    + ") and features(" + inputFeatures + ")" : "neither"));
        }
        int in = tokens ? embeddingDim : inputFeatures;
        if (tokens && embeddingDim < 1) {
            throw new IllegalArgumentException("embeddingDim: expected >= 1, got " + embeddingDim);
        }
        if (recurrent.inputSize() != in) {
            throw new IllegalArgumentException("recurrent: expected inputSize " + in + " (the "
                    + (tokens ? "embedding dim" : "input features") + "), got " + recurrent.inputSize());
        }
        if (recurrent.batchFirst()) {
            throw new IllegalArgumentException("recurrent: expected a time-major layer (batchFirst false), got batchFirst true");
        }
        if (padding != Embedding.NO_PADDING && (!tokens || padding < 0 || padding >= vocabSize)) {
            throw new IllegalArgumentException("padding: expected -1 (none) or an id in [0, " + vocabSize
                    + ") with token inputs, got " + padding);
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException("dropout: expected a probability in [0, 1), got " + dropout);
        }
        if (outputs < 1) {
            throw new IllegalArgumentException("outputs: expected >= 1, got " + outputs);
        }
        if (task == Task.LANGUAGE_MODEL) {
            if (!tokens) {
                throw new IllegalArgumentException("task: a LANGUAGE_MODEL reads token ids; expected embedding(vocab, dim), got features");
            }
            if (outputs != vocabSize) {
                throw new IllegalArgumentException("outputs: expected the vocabulary size " + vocabSize
                        + " for a LANGUAGE_MODEL, got " + outputs);
            }
            if (padding != Embedding.NO_PADDING && vocabSize < 2) {
                throw new IllegalArgumentException("vocabSize: expected at least 2 for a LANGUAGE_MODEL with a padding id "
                        + "(the padding id is never generated), got " + vocabSize);
            }
            if (recurrent.bidirectional()) {
                throw new IllegalArgumentException("recurrent: expected a unidirectional layer for a LANGUAGE_MODEL "
                        + "(a reverse direction would read the token it predicts), got bidirectional");
            }
        }
        if (task.classes() && outputs < 2) {   // a softmax over one class is 1 whatever the input: nothing would be learned
            throw new IllegalArgumentException("outputs: expected >= 2 classes for " + task + " (a softmax over one class is "
                    + "always 1; a single score is a REGRESSION), got " + outputs);
        }
    }

    /** Whether the inputs are token ids (through an embedding). */
    public boolean tokens() {
        return vocabSize > 0;
    }

    /** Width of the features the head reads: the recurrent output size (both directions). */
    public int featureSize() {
        return recurrent.outputSize();
    }

    /** The metadata entries that describe this configuration. */
    public Map<String, String> toMetadata() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(PREFIX + "task", task.name());
        m.put(PREFIX + "vocab_size", Integer.toString(vocabSize));
        m.put(PREFIX + "embedding_dim", Integer.toString(embeddingDim));
        m.put(PREFIX + "padding", Integer.toString(padding));
        m.put(PREFIX + "input_features", Integer.toString(inputFeatures));
        m.put(PREFIX + "dropout", Float.toString(dropout));
        m.put(PREFIX + "outputs", Integer.toString(outputs));
        m.put(PREFIX + "seed", Long.toString(seed));
        if (ignoreIndex != NO_IGNORE) {
            m.put(PREFIX + "ignore_index", Integer.toString(ignoreIndex));
        }
        recurrent.toMetadata().forEach((k, v) -> m.put(RNN + k, v));
        return m;
    }

    /**
     * The keys of {@code metadata} that describe a different model than this one, naming each field and
     * both values (the recurrent stack's as {@link RecurrentConfig#mismatches} says); empty when they agree
     * or the file does not say. {@code dropout} and {@code seed} act in training and initialisation only and
     * are not compared (as the stack's are not).
     */
    public List<String> mismatches(Map<String, String> metadata, String prefix) {
        List<String> out = new ArrayList<>();
        Map<String, String> mine = toMetadata();
        for (String key : SEMANTIC_KEYS) {
            String theirs = metadata.get(prefix + PREFIX + key);
            if (theirs != null && !theirs.trim().equals(mine.get(PREFIX + key))) {
                out.add(prefix + PREFIX + key + ": file " + theirs + ", model " + mine.get(PREFIX + key));
            }
        }
        out.addAll(recurrent.mismatches(metadata, prefix + RNN));
        return out;
    }

    /**
     * The configuration recorded by {@link #toMetadata()}.
     *
     * @throws IllegalArgumentException naming the first missing or malformed key
     */
    public static ModelConfig fromMetadata(Map<String, String> meta) {
        if (meta == null || !meta.containsKey(PREFIX + "task")) {
            throw new IllegalArgumentException("metadata: expected a SequenceModel checkpoint (key '" + PREFIX
                    + "task'), got " + (meta == null ? "no metadata" : "keys " + meta.keySet()));
        }
        Task task = Task.valueOf(get(meta, PREFIX + "task"));
        return new ModelConfig(task, integer(meta, PREFIX + "vocab_size"), integer(meta, PREFIX + "embedding_dim"),
                integer(meta, PREFIX + "padding"), integer(meta, PREFIX + "input_features"),
                RecurrentConfig.fromMetadata(meta, RNN),
                Float.parseFloat(get(meta, PREFIX + "dropout")), integer(meta, PREFIX + "outputs"),
                Long.parseLong(get(meta, PREFIX + "seed")),
                meta.containsKey(PREFIX + "ignore_index") ? integer(meta, PREFIX + "ignore_index") : NO_IGNORE);
    }

    private static String get(Map<String, String> meta, String key) {
        String v = meta.get(key);
        if (v == null) {
            throw new IllegalArgumentException("metadata: expected key '" + key + "' in a SequenceModel checkpoint, got none");
        }
        return v;
    }

    private static int integer(Map<String, String> meta, String key) {
        try {
            return Integer.parseInt(get(meta, key));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("metadata '" + key + "': expected an integer, got '" + meta.get(key) + "'");
        }
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%s: %s -> %s%s -> Linear(%d -> %d)%s", task,
                tokens() ? "Embedding(" + vocabSize + ", " + embeddingDim + ")" : inputFeatures + " features", recurrent,
                dropout > 0 ? " -> Dropout(" + dropout + ")" : "", featureSize(), outputs,
                ignoreIndex != NO_IGNORE ? ", ignoring target " + ignoreIndex : "");
    }
}
