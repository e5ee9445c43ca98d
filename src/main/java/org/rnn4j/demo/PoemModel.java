package org.rnn4j.demo;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rnn4j.Device;
import org.rnn4j.Lstm;
import org.rnn4j.model.SequenceDataset;
import org.rnn4j.model.SequenceModel;
import org.rnn4j.model.Task;
import org.rnn4j.train.Checkpoint;

/**
 * The character-level language model of the poem demo: a {@link SequenceModel} language model
 * (embedding {@code [V, E]} → LSTM {@code E → H}, {@code layers} deep → linear head {@code H → V}) and its
 * character vocabulary. Id 0 ({@code <unk>}) is the embedding's padding id, so it is never generated.
 * The checkpoint carries the vocabulary in its metadata, so {@link #load} needs nothing else.
 */
public final class PoemModel implements AutoCloseable {

    static final String META_VOCAB = "rnn4j.demo.vocab";
    static final String META_KIND = "rnn4j.demo";

    private final CharVocab vocab;
    private final SequenceModel model;

    public PoemModel(CharVocab vocab, int embed, int hidden, int layers, double dropout, long seed, Device device) {
        this(vocab, SequenceModel.builder(Task.LANGUAGE_MODEL).embedding(vocab.size(), embed, 0)
                .recurrent(Lstm.builder(embed, hidden).numLayers(layers).dropout(layers > 1 ? dropout : 0).seed(seed + 1))
                .seed(seed).build(device));
    }

    private PoemModel(CharVocab vocab, SequenceModel model) {
        this.vocab = vocab;
        this.model = model;
    }

    public CharVocab vocab() {
        return vocab;
    }

    /** The model itself (for an optimizer, clipping, {@code summary()}). */
    public SequenceModel model() {
        return model;
    }

    /**
     * One forward and backward pass over windows of characters (each predicts its characters 2..n from
     * 1..n−1), accumulating gradients; returns the mean cross-entropy (nats per character).
     */
    public double trainStep(List<int[]> windows, long seed) {
        return model.trainOnBatch(SequenceDataset.languageModel(windows), seed);
    }

    /**
     * The mean cross-entropy over every character of the validation poems but their first: each poem is
     * one sequence from a zero state, in inference mode.
     */
    public double validationLoss(List<int[]> poems) {
        return model.evaluate(SequenceDataset.languageModel(poems), 32).get("loss");
    }

    /**
     * Continues {@code prefix} by up to {@code length} characters, each sampled from the softmax of the
     * logits divided by {@code temperature} (0 or less: always the most likely); cut after {@code stop}
     * when it is not {@code 0}. Deterministic for a given seed. Returns the prefix and the continuation.
     */
    public String generate(String prefix, int length, double temperature, long seed, char stop) {
        if (prefix == null || prefix.isEmpty()) {
            throw new IllegalArgumentException("prefix: expected at least one character, got an empty prefix");
        }
        if (length < 0) {
            throw new IllegalArgumentException("length: expected >= 0, got " + length);
        }
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature: expected a finite value >= 0, got " + temperature);
        }
        StringBuilder out = new StringBuilder(prefix);
        for (int id : model.generate(vocab.encode(prefix), length, temperature, seed)) {
            String ch = vocab.decode(id);
            out.append(ch);
            if (stop != 0 && ch.charAt(0) == stop) {
                break;
            }
        }
        return out.toString();
    }

    /** Writes a safetensors checkpoint with the model's configuration and the vocabulary in its metadata. */
    public void save(Path file) throws IOException {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put(META_KIND, "tang-poems char-LSTM");
        meta.put(META_VOCAB, vocab.serialize());
        model.save(file, meta);
    }

    /** A model rebuilt from a checkpoint written by {@link #save}, on {@code device}. */
    public static PoemModel load(Path file, Device device) throws IOException {
        Map<String, String> meta = Checkpoint.read(file).metadata();
        if (meta == null || !meta.containsKey(META_VOCAB)) {
            throw new IllegalArgumentException("checkpoint: expected a poem-demo checkpoint with metadata '" + META_VOCAB
                    + "', " + file + " has none (was it written by 'rnn4j demo poems'?)");
        }
        CharVocab vocab = CharVocab.deserialize(meta.get(META_VOCAB));
        return new PoemModel(vocab, SequenceModel.load(file, device));
    }

    @Override
    public void close() {
        model.close();
    }
}
