package org.rnn4j.demo;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.rnn4j.BackwardResult;
import org.rnn4j.Device;
import org.rnn4j.ForwardResult;
import org.rnn4j.HasParameters;
import org.rnn4j.Lstm;
import org.rnn4j.RecurrentLayer;
import org.rnn4j.Tensor;
import org.rnn4j.train.Checkpoint;
import org.rnn4j.train.Embedding;
import org.rnn4j.train.Linear;
import org.rnn4j.train.LossResult;
import org.rnn4j.train.Losses;
import org.rnn4j.train.ModuleGroup;

/**
 * The character-level language model of the poem demo: {@link Embedding} {@code [V, E]} → LSTM
 * ({@code E → H}, {@code layers} deep) → {@link Linear} head {@code H → V}, trained with softmax
 * cross-entropy at every step. Its parameters are named as a PyTorch module with submodules
 * {@code embedding}, {@code lstm} and {@code head} would name them; the checkpoint carries the
 * vocabulary and sizes in its metadata, so {@link #load} needs nothing else.
 */
public final class PoemModel implements AutoCloseable {

    static final String META_VOCAB = "rnn4j.demo.vocab";
    static final String META_EMBED = "rnn4j.demo.embedding_dim";
    static final String META_HIDDEN = "rnn4j.demo.hidden_size";
    static final String META_LAYERS = "rnn4j.demo.num_layers";
    static final String META_KIND = "rnn4j.demo";

    private final CharVocab vocab;
    private final Device device;
    private final Embedding embedding;
    private final RecurrentLayer lstm;
    private final Linear head;
    private final ModuleGroup group;

    public PoemModel(CharVocab vocab, int embed, int hidden, int layers, double dropout, long seed, Device device) {
        this.vocab = vocab;
        this.device = device;
        this.embedding = new Embedding(vocab.size(), embed, seed, device);
        this.lstm = Lstm.builder(embed, hidden).numLayers(layers).dropout(layers > 1 ? dropout : 0)
                .seed(seed + 1).build(device);
        this.head = new Linear(hidden, vocab.size(), true, seed + 2, device);
        Map<String, HasParameters> modules = new LinkedHashMap<>();
        modules.put("embedding", embedding);
        modules.put("lstm", lstm);
        modules.put("head", head);
        this.group = ModuleGroup.of(modules);
    }

    public CharVocab vocab() {
        return vocab;
    }

    public Device device() {
        return device;
    }

    /** All parameters as one module ({@code embedding.weight}, {@code lstm.weight_ih_l0}, {@code head.bias}, ...). */
    public HasParameters parameters() {
        return group;
    }

    /** The modules, for an optimizer and clipping. */
    public List<HasParameters> modules() {
        return List.of(embedding, lstm, head);
    }

    public int hiddenSize() {
        return lstm.config().hiddenSize();
    }

    public int layers() {
        return lstm.config().numLayers();
    }

    public int embeddingDim() {
        return embedding.dim();
    }

    /**
     * One forward and backward pass over {@code [T, B]} windows, accumulating gradients.
     *
     * @param inputs {@code T·B} ids, index {@code t·B + b}
     * @param targets the next character of each position, same indexing
     * @return the mean cross-entropy (nats per character)
     */
    public double trainStep(int[] inputs, int[] targets, int steps, int batch) {
        lstm.train();
        try (Tensor x = embedding.forward(inputs, steps, batch);
             ForwardResult fwd = lstm.forward(x);
             Tensor logits = head.forward(fwd.output());
             LossResult loss = Losses.crossEntropyPerStep(logits, targets, null);
             Tensor dOut = head.backward(fwd.output(), loss.gradient());
             BackwardResult back = lstm.backward(fwd, dOut, null, null)) {
            embedding.backward(inputs, back.dX());
            return loss.value();
        }
    }

    /**
     * The summed cross-entropy (nats) and the number of positions over {@code [T, B]} windows with
     * per-sample lengths, in inference mode.
     */
    public double[] evaluate(int[] inputs, int[] targets, int[] lengths, int steps, int batch) {
        lstm.eval();
        try (Tensor x = embedding.forward(inputs, steps, batch);
             ForwardResult fwd = lstm.forward(x, lengths, null, null);
             Tensor logits = head.forward(fwd.output());
             LossResult loss = Losses.crossEntropyPerStep(logits, targets, lengths)) {
            return new double[] {loss.value() * loss.count(), loss.count()};
        } finally {
            lstm.train();
        }
    }

    /**
     * Continues {@code prefix} by {@code length} characters, sampled one at a time from the softmax of
     * the last step's logits divided by {@code temperature} (0 or less: always the most likely), on
     * the host; {@code <unk>} is never sampled. Stops early at {@code stop} when it is not {@code 0}.
     * Deterministic for a given seed. Returns the prefix followed by the continuation.
     */
    public String generate(String prefix, int length, double temperature, long seed, char stop) {
        if (prefix == null || prefix.isEmpty()) {
            throw new IllegalArgumentException("prefix: expected at least one character, got an empty prefix");
        }
        lstm.eval();
        SplittableRandom rnd = new SplittableRandom(seed);
        StringBuilder out = new StringBuilder(prefix);
        int[] ids = vocab.encode(prefix);
        Tensor h = null;
        Tensor c = null;
        try {
            int[] feed = ids;
            for (int i = 0; i < length; i++) {
                float[] last;
                try (Tensor x = embedding.forward(feed, feed.length, 1);
                     ForwardResult fwd = lstm.forward(x, null, h, c);
                     Tensor logits = head.forward(fwd.output())) {
                    float[] all = logits.toHost();
                    int classes = vocab.size();
                    last = java.util.Arrays.copyOfRange(all, all.length - classes, all.length);
                    closeAll(h, c);
                    h = fwd.hN().copyTo(device);
                    c = fwd.cN().copyTo(device);
                }
                int next = sample(last, temperature, rnd);
                String ch = vocab.decode(next);
                out.append(ch);
                if (stop != 0 && ch.charAt(0) == stop) {
                    break;
                }
                feed = new int[] {next};
            }
        } finally {
            closeAll(h, c);
            lstm.train();
        }
        return out.toString();
    }

    private static int sample(float[] logits, double temperature, SplittableRandom rnd) {
        int best = 1;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best]) {
                best = i;
            }
        }
        if (temperature <= 0) {
            return best;
        }
        double[] p = new double[logits.length];
        double sum = 0;
        for (int i = 1; i < logits.length; i++) { // id 0 is <unk>: never sampled
            p[i] = Math.exp((logits[i] - logits[best]) / temperature);
            sum += p[i];
        }
        double u = rnd.nextDouble() * sum;
        for (int i = 1; i < p.length; i++) {
            u -= p[i];
            if (u <= 0) {
                return i;
            }
        }
        return best;
    }

    private static void closeAll(Tensor... ts) {
        for (Tensor t : ts) {
            if (t != null) {
                t.close();
            }
        }
    }

    /** Writes a safetensors checkpoint with the vocabulary and sizes in its metadata. */
    public void save(Path file) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            java.nio.file.Files.createDirectories(parent);
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put(META_KIND, "tang-poems char-LSTM");
        meta.put(META_VOCAB, vocab.serialize());
        meta.put(META_EMBED, Integer.toString(embedding.dim()));
        meta.put(META_HIDDEN, Integer.toString(hiddenSize()));
        meta.put(META_LAYERS, Integer.toString(layers()));
        Checkpoint.save(file, group, meta);
    }

    /** A model rebuilt from a checkpoint written by {@link #save}, on {@code device}. */
    public static PoemModel load(Path file, Device device) throws IOException {
        Map<String, String> meta = Checkpoint.read(file).metadata();
        for (String key : List.of(META_VOCAB, META_EMBED, META_HIDDEN, META_LAYERS)) {
            if (meta == null || !meta.containsKey(key)) {
                throw new IllegalArgumentException("checkpoint: expected a poem-demo checkpoint with metadata '" + key
                        + "', " + file + " has none (was it written by 'rnn4j demo poems'?)");
            }
        }
        CharVocab vocab = CharVocab.deserialize(meta.get(META_VOCAB));
        PoemModel m = new PoemModel(vocab, Integer.parseInt(meta.get(META_EMBED)),
                Integer.parseInt(meta.get(META_HIDDEN)), Integer.parseInt(meta.get(META_LAYERS)), 0, 0, device);
        try {
            Checkpoint.load(file, m.group);
            return m;
        } catch (IOException | RuntimeException e) {
            m.close();
            throw e;
        }
    }

    @Override
    public void close() {
        embedding.close();
        lstm.close();
        head.close();
    }
}
