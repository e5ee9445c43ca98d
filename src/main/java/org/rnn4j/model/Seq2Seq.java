package org.rnn4j.model;

import static org.rnn4j.model.SequenceModel.closeQuietly;
import static org.rnn4j.model.SequenceModel.track;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.rnn4j.BackwardResult;
import org.rnn4j.Device;
import org.rnn4j.ForwardResult;
import org.rnn4j.HasParameters;
import org.rnn4j.RecurrentConfig;
import org.rnn4j.RecurrentLayer;
import org.rnn4j.Tensor;
import org.rnn4j.TensorOps;
import org.rnn4j.engine.Engine;
import org.rnn4j.engine.ExclusiveUse;
import org.rnn4j.train.Checkpoint;
import org.rnn4j.train.Embedding;
import org.rnn4j.train.Linear;
import org.rnn4j.train.LossResult;
import org.rnn4j.train.Losses;
import org.rnn4j.train.ModuleGroup;
import org.rnn4j.train.SafeTensors;

/**
 * An encoder–decoder (sequence to sequence) model over token ids, as Keras's {@code lstm_seq2seq} and PyTorch's
 * seq2seq tutorial build it: a source embedding and any recurrent stack as the encoder, whose final states
 * become the decoder's initial states; a target embedding and a recurrent stack as the decoder, trained with
 * teacher forcing (it reads the true previous token); optionally Luong attention over the encoder's outputs;
 * a linear layer to the target vocabulary. The two embeddings may be one table ({@link Builder#shareEmbeddings}).
 *
 * <p><b>Bridge</b> ({@link Bridge}): by default ({@link Bridge#SUM}) a bidirectional encoder's two directions are
 * <em>summed</em> per layer ({@code h0[l] = h_n[l fwd] + h_n[l bwd]}, likewise {@code c}), so the decoder has the
 * encoder's layers and hidden size and no extra parameters. {@link Bridge#CONCAT_PROJECT} concatenates each layer's
 * directions and projects them to the decoder's width ({@code h0[l] = tanh(W_h [h_n[l fwd]; h_n[l bwd]] + b_h)},
 * likewise {@code c} with its own {@code W_c}; one projection for all layers, as OpenNMT's bridge), so the decoder
 * needs only the encoder's number of layers. An LSTM state {@code c} passes only from an LSTM encoder to an LSTM
 * decoder (otherwise the decoder's {@code c0} is zero).
 *
 * <p><b>Attention</b> (Luong et al. 2015, global, after the decoder step): scores {@code s = h_t · k_s} with keys
 * {@code k = y_enc} ({@link Attention#DOT}) or {@code k = W_a y_enc} ({@link Attention#GENERAL}), or Bahdanau's additive
 * score {@code s = vᵀ tanh(W_k y_enc + W_q h_t)} ({@link Attention#BAHDANAU}, on the decoder's output h_t as Luong
 * places it, rather than on h_{t−1} with the context fed back as input); weights
 * {@code α = softmax(s)} over the source's own length only (padding is never read); context
 * {@code c_t = Σ α_s y_enc,s}; output {@code tanh(W_c [c_t; h_t])} into the vocabulary layer.
 *
 * <p><b>Tokens.</b> Targets are given without start and end tokens; the decoder reads {@code start, y_1 … y_n}
 * and learns {@code y_1 … y_n, end}. The loss is the mean cross-entropy over those {@code n + 1} valid steps of
 * every sample; padding on either side is never read.
 *
 * <p><b>From a vector</b> ({@link #fromVectors}, one-to-many, as image captioning's "show and tell"): the source is one
 * feature vector {@code v} per sample ({@link Features}) instead of an id sequence, and there is no encoder. With
 * {@link Conditioning#INIT_STATE} the decoder starts from {@code h0 = tanh(W_h v + b_h)} (module {@code init_h}, one
 * {@code [L·H, F]} projection giving each of the decoder's L layers its own state; an LSTM decoder's {@code c0} likewise
 * from {@code init_c}); with {@link Conditioning#EVERY_STEP} it starts from zeros and reads {@code [embedding(y_{t−1}); v]}
 * at every step (Keras's {@code RepeatVector} and {@code concatenate}), so its input size is the target embedding's
 * plus F; {@link Conditioning#BOTH} does both. Training, greedy and beam decoding, sampling, evaluation and the
 * checkpoint are those of the id model, through the {@link Features} overloads; attention needs a source sequence and
 * is refused.
 *
 * <p><b>Training</b>: {@link #fit} runs {@link SequenceModel#fit}'s loop (the same {@link FitOptions}, callbacks,
 * checkpoints and resuming) over a {@link SequenceDataset#sequenceToSequence} or {@link SequenceDataset#vectorToSequence}
 * dataset; {@link #lossAndGradients} is one step for a loop of one's own.
 *
 * <p>Not thread-safe, as {@link SequenceModel}: a call that overlaps another thread's call of the same model fails with
 * an {@link IllegalStateException} naming both (a call nested in another on the same thread, as a {@code fit} callback
 * may make, is fine).
 */
public final class Seq2Seq implements HasParameters, AutoCloseable {

    /** Luong's multiplicative scores, Bahdanau's additive one, or none (the decoder sees the source only through its initial state). */
    public enum Attention { NONE, DOT, GENERAL, BAHDANAU }

    /** How the encoder's final states become the decoder's initial ones (see the class comment); {@link #SUM} by default. */
    public enum Bridge { SUM, CONCAT_PROJECT }

    /** How a {@link #fromVectors} model's feature vector reaches the decoder (see the class comment); {@link #INIT_STATE} by default. */
    public enum Conditioning {
        INIT_STATE, EVERY_STEP, BOTH;

        boolean initialisesState() {
            return this != EVERY_STEP;
        }

        boolean feedsEveryStep() {
            return this != INIT_STATE;
        }
    }

    /**
     * The sources of a {@link #fromVectors} model: one feature vector per sample (a type of its own, since Java cannot
     * overload {@code List<float[]>} against the id model's {@code List<int[]>}). The list is copied; the vectors are
     * checked against the model (width, finite) when it uses them.
     */
    public static final class Features {
        private final List<float[]> vectors;

        private Features(List<float[]> vectors) {
            this.vectors = vectors;
        }

        public static Features of(List<float[]> vectors) {
            if (vectors == null) {
                throw new IllegalArgumentException("features: expected a list of feature vectors, got null");
            }
            return new Features(new ArrayList<>(vectors));
        }

        public static Features of(float[]... vectors) {
            if (vectors == null) {
                throw new IllegalArgumentException("features: expected feature vectors, got null");
            }
            return of(Arrays.asList(vectors));
        }

        public int size() {
            return vectors.size();
        }
    }

    private final Device device;
    private final Engine engine;
    private final int sourceVocab;       // 0 for a vector model
    private final int featureSize;       // a vector model's F; 0 for an id model
    private final Conditioning conditioning;   // null for an id model
    private final int targetVocab;
    private final int startToken;
    private final int endToken;
    private final Attention attention;
    private final Bridge bridge;
    private final Embedding sourceEmbedding;
    private final Embedding targetEmbedding;
    private final RecurrentLayer encoder;
    private final RecurrentLayer decoder;
    private final Linear bridgeH;          // CONCAT_PROJECT: [h fwd; h bwd] → decoder h; null otherwise
    private final Linear bridgeC;          // CONCAT_PROJECT between LSTMs: [c fwd; c bwd] → decoder c; null otherwise
    private final Linear initH;            // vector model, INIT_STATE or BOTH: v → every layer's h0; null otherwise
    private final Linear initC;            // the same for an LSTM decoder's c0; null otherwise
    private final Linear keyProjection;    // GENERAL W_a, BAHDANAU W_k: y_enc → decoder hidden; null otherwise
    private final Linear queryProjection;  // BAHDANAU W_q: h → decoder hidden; null otherwise
    private final Linear scoreVector;      // BAHDANAU v: → one score; null otherwise
    private final Linear combine;   // W_c, [context; h] → decoder hidden; null without attention
    private final Linear output;    // → target vocabulary
    private final ModuleGroup modules;
    private Trainer.Continuation training;   // what fit continues from: optimizer state, epoch and step counts
    /** Fails a call that overlaps another thread's, as {@link SequenceModel}'s (the layers' workspaces and gradients are shared). */
    private final ExclusiveUse use = new ExclusiveUse(this);

    private Seq2Seq(Builder b, Device device) {
        this.device = device;
        this.engine = device.engine();
        this.sourceVocab = b.sourceVocab;
        this.featureSize = b.featureSize;
        this.conditioning = b.featureSize > 0 ? b.conditioning : null;
        this.targetVocab = b.targetVocab;
        this.startToken = b.startToken;
        this.endToken = b.endToken;
        this.attention = b.attention;
        this.bridge = b.bridge;
        RecurrentConfig enc = b.encoder;   // null for a vector model
        RecurrentConfig dec = b.decoder;
        int encOut = enc == null ? 0 : enc.outputSize();   // both directions
        int decHidden = dec.outputSize();
        boolean vector = featureSize > 0;
        boolean init = vector && conditioning.initialisesState();
        int embedding = dec.inputSize() - (vector && conditioning.feedsEveryStep() ? featureSize : 0);
        Map<String, HasParameters> parts = new LinkedHashMap<>();
        List<AutoCloseable> made = new ArrayList<>();
        try {
            sourceEmbedding = vector ? null : track(made, new Embedding(sourceVocab, enc.inputSize(), b.seed, device));
            targetEmbedding = b.shareEmbeddings ? sourceEmbedding : track(made, new Embedding(targetVocab, embedding, b.seed + 1, device));
            encoder = vector ? null : track(made, new RecurrentLayer(enc, device));
            decoder = track(made, new RecurrentLayer(dec, device));
            initH = init ? track(made, new Linear(featureSize, dec.numLayers() * decHidden, true, b.seed + 9, device)) : null;
            initC = init && dec.cell() == org.rnn4j.CellType.LSTM
                    ? track(made, new Linear(featureSize, dec.numLayers() * dec.hiddenSize(), true, b.seed + 10, device)) : null;
            int dirs = vector || !enc.bidirectional() ? 1 : 2;
            boolean project = !vector && bridge == Bridge.CONCAT_PROJECT;
            bridgeH = project ? track(made, new Linear(encOut, decHidden, true, b.seed + 7, device)) : null;
            bridgeC = project && passesCellState(enc, dec)
                    ? track(made, new Linear(dirs * enc.hiddenSize(), dec.hiddenSize(), true, b.seed + 8, device)) : null;
            boolean additive = attention == Attention.BAHDANAU;
            keyProjection = attention == Attention.GENERAL || additive
                    ? track(made, new Linear(encOut, decHidden, false, b.seed + 2, device)) : null;
            queryProjection = additive ? track(made, new Linear(decHidden, decHidden, true, b.seed + 5, device)) : null;
            scoreVector = additive ? track(made, new Linear(decHidden, 1, false, b.seed + 6, device)) : null;
            combine = attention == Attention.NONE ? null : track(made, new Linear(encOut + decHidden, decHidden, true, b.seed + 3, device));
            output = track(made, new Linear(decHidden, targetVocab, true, b.seed + 4, device));
        } catch (RuntimeException | Error e) {
            for (AutoCloseable c : made) {
                closeQuietly(c);
            }
            throw e;
        }
        if (targetEmbedding == sourceEmbedding) {
            parts.put("embedding", sourceEmbedding);
        } else {
            if (!vector) {
                parts.put("source_embedding", sourceEmbedding);
            }
            parts.put("target_embedding", targetEmbedding);
        }
        if (!vector) {
            parts.put("encoder", encoder);
        }
        parts.put("decoder", decoder);
        if (initH != null) {
            parts.put("init_h", initH);
        }
        if (initC != null) {
            parts.put("init_c", initC);
        }
        if (bridgeH != null) {
            parts.put("bridge_h", bridgeH);
        }
        if (bridgeC != null) {
            parts.put("bridge_c", bridgeC);
        }
        if (keyProjection != null) {
            parts.put("attention_keys", keyProjection);
        }
        if (queryProjection != null) {
            parts.put("attention_query", queryProjection);
            parts.put("attention_v", scoreVector);
        }
        if (combine != null) {
            parts.put("attention_combine", combine);
        }
        parts.put("output", output);
        this.modules = ModuleGroup.of(parts);
    }

    /** Whether the encoder's final {@code c} reaches the decoder: only from an LSTM to an LSTM. */
    private static boolean passesCellState(RecurrentConfig enc, RecurrentConfig dec) {
        return enc.cell() == org.rnn4j.CellType.LSTM && dec.cell() == org.rnn4j.CellType.LSTM;
    }

    public static Builder builder(int sourceVocab, int targetVocab) {
        if (sourceVocab < 1) {
            throw new IllegalArgumentException("sourceVocab: expected >= 1 ids, got " + sourceVocab);
        }
        return new Builder(sourceVocab, 0, targetVocab);
    }

    /**
     * A one-to-many model: a decoder conditioned on a feature vector of {@code featureSize} per sample (see the class
     * comment); give it a {@link Builder#decoder}, {@link Builder#conditioning} and {@link Builder#tokens}, no encoder.
     */
    public static Builder fromVectors(int featureSize, int targetVocab) {
        if (featureSize < 1) {
            throw new IllegalArgumentException("featureSize: expected >= 1 features per vector, got " + featureSize);
        }
        return new Builder(0, featureSize, targetVocab);
    }

    /** The configuration of a {@link Seq2Seq}; {@link #build} checks it as a whole. */
    public static final class Builder {
        private final int sourceVocab;
        private final int featureSize;
        private final int targetVocab;
        private Conditioning conditioning = Conditioning.INIT_STATE;
        private RecurrentConfig encoder;
        private RecurrentConfig decoder;
        private Attention attention = Attention.NONE;
        private Bridge bridge = Bridge.SUM;
        private int startToken = -1;
        private int endToken = -1;
        private long seed = 1;
        private boolean shareEmbeddings;

        private Builder(int sourceVocab, int featureSize, int targetVocab) {
            if (targetVocab < 2) {
                throw new IllegalArgumentException("targetVocab: expected >= 2 ids (the tokens and an end token), got " + targetVocab);
            }
            this.sourceVocab = sourceVocab;
            this.featureSize = featureSize;
            this.targetVocab = targetVocab;
        }

        /**
         * A {@link #fromVectors} model's conditioning: {@link Conditioning#INIT_STATE} (the default), {@link Conditioning#EVERY_STEP}
         * (the decoder's input size is then the target embedding's plus the feature size) or {@link Conditioning#BOTH}.
         */
        public Builder conditioning(Conditioning conditioning) {
            this.conditioning = conditioning;
            return this;
        }

        /** The encoder: any recurrent stack; its input size is the source embedding's size. */
        public Builder encoder(RecurrentConfig.Builder<?> encoder) {
            this.encoder = encoder == null ? null : encoder.config();
            return this;
        }

        /**
         * The decoder: unidirectional, with the encoder's layers and (with the {@link Bridge#SUM} bridge) its hidden size per
         * direction; its input size is the target embedding's.
         */
        public Builder decoder(RecurrentConfig.Builder<?> decoder) {
            this.decoder = decoder == null ? null : decoder.config();
            return this;
        }

        public Builder attention(Attention attention) {
            this.attention = attention;
            return this;
        }

        /** How the encoder's final states reach the decoder: {@link Bridge#SUM} (the default) or {@link Bridge#CONCAT_PROJECT}. */
        public Builder bridge(Bridge bridge) {
            this.bridge = bridge;
            return this;
        }

        /** The target ids the decoder starts from and learns to end with (they may be the same id). */
        public Builder tokens(int startToken, int endToken) {
            this.startToken = startToken;
            this.endToken = endToken;
            return this;
        }

        /**
         * One embedding table for the source and the target ids (module {@code embedding}, its gradient the sum of both
         * sides'), as OpenNMT's {@code share_embeddings} for a vocabulary both sides use; the default keeps two
         * ({@code source_embedding}, {@code target_embedding}). Needs equal vocabularies and the encoder's input size
         * equal to the decoder's.
         */
        public Builder shareEmbeddings(boolean share) {
            this.shareEmbeddings = share;
            return this;
        }

        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        public Seq2Seq build(Device device) {
            if (device == null) {
                throw new IllegalArgumentException("device: expected a device, got null");
            }
            if (featureSize > 0) {
                checkVectorModel();
                return new Seq2Seq(this, device);
            }
            if (encoder == null || decoder == null) {
                throw new IllegalArgumentException((encoder == null ? "encoder" : "decoder")
                        + ": expected a recurrent layer builder, got null");
            }
            RecurrentConfig enc = encoder;
            RecurrentConfig dec = decoder;
            if (dec.bidirectional()) {
                throw new IllegalArgumentException("decoder: expected a unidirectional layer (it generates left to right), got a bidirectional one");
            }
            if (enc.batchFirst() || dec.batchFirst()) {
                throw new IllegalArgumentException("encoder, decoder: expected time-major layers (Seq2Seq lays out its own tensors), got batchFirst");
            }
            if (bridge == null) {
                throw new IllegalArgumentException("bridge: expected SUM or CONCAT_PROJECT, got null");
            }
            if (dec.numLayers() != enc.numLayers() || bridge == Bridge.SUM
                    && (dec.hiddenSize() != enc.hiddenSize() || dec.projSize() != enc.projSize())) {
                throw new IllegalArgumentException("decoder: expected the encoder's " + enc.numLayers() + " layers of hidden size "
                        + enc.hiddenSize() + " (its final states become the decoder's initial ones), got " + dec.numLayers()
                        + " layers of " + dec.hiddenSize() + (bridge == Bridge.SUM ? " (Bridge.CONCAT_PROJECT projects other sizes)" : ""));
            }
            if (attention == null) {
                throw new IllegalArgumentException("attention: expected NONE, DOT, GENERAL or BAHDANAU, got null");
            }
            if (attention == Attention.DOT && enc.outputSize() != dec.outputSize()) {
                throw new IllegalArgumentException("attention: DOT needs encoder outputs of the decoder's size; a bidirectional encoder's are "
                        + enc.outputSize() + " wide against " + dec.outputSize() + ": use GENERAL");
            }
            if (shareEmbeddings && (sourceVocab != targetVocab || enc.inputSize() != dec.inputSize())) {
                throw new IllegalArgumentException("shareEmbeddings: expected equal vocabularies and equal encoder and decoder input "
                        + "sizes (one table serves both), got vocabularies " + sourceVocab + " and " + targetVocab
                        + ", input sizes " + enc.inputSize() + " and " + dec.inputSize());
            }
            checkTokens();
            return new Seq2Seq(this, device);
        }

        private void checkVectorModel() {
            if (shareEmbeddings) {
                throw new IllegalArgumentException("shareEmbeddings: expected false for a fromVectors model (there are no source ids), got true");
            }
            if (encoder != null) {
                throw new IllegalArgumentException("encoder: expected none for a fromVectors model (its feature vectors are the source), got "
                        + encoder);
            }
            if (decoder == null) {
                throw new IllegalArgumentException("decoder: expected a recurrent layer builder, got null");
            }
            if (decoder.bidirectional() || decoder.batchFirst()) {
                throw new IllegalArgumentException("decoder: expected a unidirectional, time-major layer, got "
                        + (decoder.bidirectional() ? "a bidirectional one" : "batchFirst"));
            }
            if (conditioning == null) {
                throw new IllegalArgumentException("conditioning: expected INIT_STATE, EVERY_STEP or BOTH, got null");
            }
            if (bridge != Bridge.SUM) {
                throw new IllegalArgumentException("bridge: expected the default SUM for a fromVectors model (there is no encoder to bridge), got "
                        + bridge);
            }
            if (attention != Attention.NONE) {
                throw new IllegalArgumentException("attention: expected NONE for a fromVectors model (attention needs a source sequence), got "
                        + attention);
            }
            if (conditioning.feedsEveryStep() && decoder.inputSize() <= featureSize) {
                throw new IllegalArgumentException("decoder: expected an input size above the feature size " + featureSize
                        + " (it reads [embedding; features] with " + conditioning + "), got " + decoder.inputSize());
            }
            checkTokens();
        }

        private void checkTokens() {
            for (int[] t : new int[][] {{startToken, 0}, {endToken, 1}}) {
                if (t[0] < 0 || t[0] >= targetVocab) {
                    throw new IllegalArgumentException((t[1] == 0 ? "startToken" : "endToken") + ": expected a target id in [0, "
                            + targetVocab + ") (set with tokens(start, end)), got " + t[0]);
                }
            }
        }
    }

    public Device device() {
        return device;
    }

    @Override
    public Map<String, Tensor> parameters() {
        return modules.parameters();
    }

    @Override
    public Map<String, Tensor> gradients() {
        return modules.gradients();
    }

    // ------------------------------------------------------------------ files and description

    private static final String META = "seq2seq.";

    /** Saves the weights (safetensors, PyTorch's names under each module's prefix) and the whole configuration. */
    public void save(Path file) throws IOException {
        save(file, Map.of(), Map.of());
    }

    /**
     * The model {@link #save} (or a {@link #fit} checkpoint) wrote, rebuilt on {@code device} from the file alone.
     *
     * @throws IllegalArgumentException when the file is not a Seq2Seq checkpoint, or its tensors do not match its configuration
     */
    public static Seq2Seq load(Path file, Device device) throws IOException {
        SafeTensors.Contents contents = Checkpoint.read(file);
        if (!contents.metadata().containsKey(META + "attention")) {
            throw new IllegalArgumentException("file: expected a Seq2Seq checkpoint (" + META + "* metadata), got " + file
                    + " without it");
        }
        Seq2Seq model = fromConfigMetadata(contents.metadata(), device);
        try {
            model.loadWeights(file, contents, "");
            return model;
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
    }

    /**
     * A model with the configuration {@link #configMetadata()} describes (any further entries are ignored) and freshly
     * initialised weights, on {@code device}: how Spark's executors build their replicas.
     */
    public static Seq2Seq fromConfigMetadata(Map<String, String> meta, Device device) {
        if (meta == null || !meta.containsKey(META + "attention")) {
            throw new IllegalArgumentException("meta: expected a Seq2Seq's configuration (" + META + "* entries), got "
                    + (meta == null ? "null" : "none"));
        }
        boolean vector = meta.containsKey(META + "feature_size");
        Builder b = (vector ? fromVectors(intMeta(meta, "feature_size"), intMeta(meta, "target_vocab"))
                        .conditioning(enumMeta(meta, "conditioning", Conditioning.class, null))
                : builder(intMeta(meta, "source_vocab"), intMeta(meta, "target_vocab")))
                .attention(enumMeta(meta, "attention", Attention.class, null))
                .bridge(enumMeta(meta, "bridge", Bridge.class, Bridge.SUM))   // files before the bridge choice summed
                .tokens(intMeta(meta, "start_token"), intMeta(meta, "end_token"))
                .shareEmbeddings(Boolean.parseBoolean(meta.get(META + "share_embeddings")));
        b.encoder = vector ? null : RecurrentConfig.fromMetadata(meta, "encoder.");
        b.decoder = RecurrentConfig.fromMetadata(meta, "decoder.");
        return b.build(device);
    }

    /** The constant named by {@code key}, or {@code absent} when the file has none ({@code null}: required). */
    private static <E extends Enum<E>> E enumMeta(Map<String, String> meta, String key, Class<E> type, E absent) {
        String v = meta.get(META + key);
        if (v == null && absent != null) {
            return absent;
        }
        for (E e : type.getEnumConstants()) {
            if (e.name().equals(v)) {
                return e;
            }
        }
        throw new IllegalArgumentException("file: expected " + META + key + " to be one of "
                + Arrays.toString(type.getEnumConstants()) + ", got " + v);
    }

    private static int intMeta(Map<String, String> meta, String key) {
        String v = meta.get(META + key);
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("file: expected an integer " + META + key + ", got " + v);
        }
    }

    /** One line per module (its parameters and their count), then the total, as Keras's {@code summary()}. */
    public String summary() {
        StringBuilder sb = new StringBuilder(featureSize > 0
                ? String.format(Locale.ROOT, "Seq2Seq: %d features -> %s decoder, conditioning %s, target vocabulary %d%n",
                        featureSize, decoder.config(), conditioning, targetVocab)
                : String.format(Locale.ROOT, "Seq2Seq: %s encoder -> %s decoder, bridge %s, attention %s, "
                        + "vocabularies %d -> %d%n", encoder.config(), decoder.config(), bridge, attention, sourceVocab, targetVocab));
        long total = 0;
        for (Map.Entry<String, HasParameters> m : modules.modules().entrySet()) {
            long count = m.getValue().parameters().values().stream().mapToLong(Tensor::size).sum();
            total += count;
            sb.append(String.format(Locale.ROOT, "  %-20s %,12d%n", m.getKey(), count));
        }
        return sb.append(String.format(Locale.ROOT, "  %-20s %,12d parameters%n", "total", total)).toString();
    }

    // ------------------------------------------------------------------ training

    /**
     * Forward with teacher forcing and backward: adds the gradients of the mean per-token cross-entropy to
     * {@link #gradients()} (they accumulate until {@link #zeroGrad()}) and returns that loss.
     *
     * @param sources source id sequences, each of length >= 1, ids in {@code [0, sourceVocab)}
     * @param targets target id sequences (without start and end tokens), ids in {@code [0, targetVocab)}
     */
    public double lossAndGradients(List<int[]> sources, List<int[]> targets) {
        return lossAndGradients(sources, targets, 0, 0);
    }

    /**
     * As {@link #lossAndGradients(List, List)} with scheduled sampling (Bengio et al. 2015) in its parallel form
     * (Duckworth et al. 2019): a first teacher-forced pass predicts every step's most likely token; then each
     * decoder input after the start token is, with probability {@code samplingRate} (drawn from {@code seed}), the
     * model's own prediction of the previous token instead of the true one, and the loss and gradients come from
     * a second pass over those inputs (no gradient flows through the choice). Rate 0 is teacher forcing; callers
     * raise the rate over training as they see fit.
     */
    public double lossAndGradients(List<int[]> sources, List<int[]> targets, double samplingRate, long seed) {
        checkSamplingRate(samplingRate);
        requireTargets(targets);
        return lossAndGradients(batch(sources, targets), samplingRate, seed);
    }

    /** As {@link #lossAndGradients(List, List)} for a {@link #fromVectors} model: one feature vector per target sequence. */
    public double lossAndGradients(Features features, List<int[]> targets) {
        return lossAndGradients(features, targets, 0, 0);
    }

    /** As {@link #lossAndGradients(List, List, double, long)} for a {@link #fromVectors} model. */
    public double lossAndGradients(Features features, List<int[]> targets, double samplingRate, long seed) {
        checkSamplingRate(samplingRate);
        requireTargets(targets);
        return lossAndGradients(vectorBatch(features, targets), samplingRate, seed);
    }

    /** Training and evaluation need targets; elsewhere a null {@code targets} means decoding without them. */
    private static void requireTargets(List<int[]> targets) {
        if (targets == null) {
            throw new IllegalArgumentException("targets: expected one target sequence per source, got null");
        }
    }

    private static void checkSamplingRate(double samplingRate) {
        if (!(samplingRate >= 0 && samplingRate <= 1)) {
            throw new IllegalArgumentException("samplingRate: expected a probability in [0, 1], got " + samplingRate);
        }
    }

    private double lossAndGradients(Batch batch, double samplingRate, long seed) {
        try (ExclusiveUse.Held u = use.enter("lossAndGradients")) {
            return lossAndGradientsUnguarded(batch, samplingRate, seed);
        }
    }

    private double lossAndGradientsUnguarded(Batch batch, double samplingRate, long seed) {
        if (encoder != null) {
            encoder.train();
        }
        decoder.train();
        List<Tensor> owned = new ArrayList<>();
        try (Encoded enc = encode(batch)) {
            int[] inputs = samplingRate == 0 ? batch.decoderInputs : sampledInputs(enc, batch, samplingRate, seed);
            return teacherForced(enc, batch, inputs, owned);
        } finally {
            owned.forEach(Tensor::close);
        }
    }

    /** The decoder over {@code inputs}, attention, loss and the whole backward; the loss. */
    private double teacherForced(Encoded enc, Batch batch, int[] inputs, List<Tensor> owned) {
        try (ForwardResult dec = decoder.forward(decoderInput(inputs, batch.targetSteps, batch.size, enc.everyStep(), owned),
                batch.targetLengths, enc.h0.state(), enc.c0())) {
            Attended att = attend(enc.sourceOutputs(), batch.sourceLengths, dec.output(), owned);
            Tensor logits = own(owned, output.forward(att.features));
            try (LossResult loss = Losses.crossEntropyPerStep(logits, batch.decoderTargets, batch.targetLengths, false)) {
                Tensor dFeatures = own(owned, output.backward(att.features, loss.gradient()));
                Tensor[] dEncDec = attendBackward(enc, dec.output(), att, dFeatures, owned);
                try (BackwardResult dDec = decoder.backward(dec, dEncDec[1], null, null)) {
                    targetEmbedding.backward(inputs, embeddingGradient(dDec.dX(), enc.everyStep(), owned));
                    if (encoder == null) {
                        initStateBackward(enc, dDec, owned);
                        return loss.value();
                    }
                    Tensor dhN = bridgeBackward(enc.h0, bridgeH, dDec.dh0(), enc.forward.hN(), owned);
                    Tensor dcN = enc.c0 == null ? null : bridgeBackward(enc.c0, bridgeC, dDec.dc0(), enc.forward.cN(), owned);
                    try (BackwardResult dEnc = encoder.backward(enc.forward, dEncDec[0], dhN, dcN)) {
                        sourceEmbedding.backward(batch.sourceIds, dEnc.dX());
                    }
                }
                return loss.value();
            }
        }
    }

    /** The decoder inputs of scheduled sampling: true tokens, each after the first replaced with probability {@code rate} by the prediction. */
    private int[] sampledInputs(Encoded enc, Batch batch, double rate, long seed) {
        List<Tensor> owned = new ArrayList<>();
        decoder.eval();   // a prediction pass: nothing saved for a backward
        try (ForwardResult dec = decoder.forward(decoderInput(batch.decoderInputs, batch.targetSteps, batch.size, enc.everyStep(), owned),
                batch.targetLengths, enc.h0.state(), enc.c0())) {
            Attended att = attend(enc.sourceOutputs(), batch.sourceLengths, dec.output(), owned);
            float[] logits = own(owned, output.forward(att.features)).toHost();   // [T, B, V]
            SplittableRandom rnd = new SplittableRandom(seed);
            int[] inputs = batch.decoderInputs.clone();
            for (int t = 1; t < batch.targetSteps; t++) {
                for (int b = 0; b < batch.size; b++) {
                    if (t < batch.targetLengths[b] && rnd.nextDouble() < rate) {
                        int row = ((t - 1) * batch.size + b) * targetVocab;
                        int best = 0;
                        for (int v = 1; v < targetVocab; v++) {
                            best = logits[row + v] > logits[row + best] ? v : best;
                        }
                        inputs[t * batch.size + b] = best;
                    }
                }
            }
            return inputs;
        } finally {
            decoder.train();
            owned.forEach(Tensor::close);
        }
    }

    // ------------------------------------------------------------------ fit

    /**
     * Trains on {@code train} ({@link SequenceDataset#sequenceToSequence}, or {@link SequenceDataset#vectorToSequence}
     * for a {@link #fromVectors} model), evaluating on {@code validation} (may be {@code null}) after each epoch, in
     * the loop behind {@link SequenceModel#fit} with all of its {@link FitOptions}: batching (shuffled from the seed,
     * bucketed by source length), the optimizer, clipping, schedules, early stopping, callbacks, checkpoints and
     * {@link FitOptions#resumeFrom resuming} (a resumed run computes the same numbers as one that never stopped), a
     * second {@code fit} continuing the first, {@link #resetTraining()}. Steps use teacher forcing.
     *
     * <p>Metrics: {@code loss}, the mean per-token cross-entropy (teacher-forced, weighted by each batch's tokens);
     * on validation also {@link #evaluate(SequenceDataset, int) evaluate}'s {@code token_accuracy}, {@code exact_match}
     * and {@code bleu} of greedy decoding (so early stopping may monitor {@code val_exact_match}). Options that read a
     * {@link SequenceModel}'s outputs are refused: custom {@link FitOptions#metrics}, {@link FitOptions#classWeights},
     * {@link FitOptions#stateful}.
     *
     * @throws IllegalArgumentException when the data does not fit the model (names the example and the id), or the
     *         options do not apply to a Seq2Seq or cannot continue its training
     * @throws IllegalStateException when the loss becomes NaN or infinite (names the step)
     * @throws IOException when a checkpoint cannot be written or the one to resume from cannot be read
     */
    public History fit(SequenceDataset train, SequenceDataset validation, FitOptions options) throws IOException {
        checkData("train", train);
        if (validation != null) {
            checkData("validation", validation);
        }
        if (options == null) {
            throw new IllegalArgumentException("options: expected fit options, got null");
        }
        options.schedule.checkBase(options.learningRate);
        checkBatchesFit("train", train, options.batchSize);
        if (validation != null) {
            checkBatchesFit("validation", validation, options.batchSize);
        }
        try (ExclusiveUse.Held u = use.enter("fit")) {
            return new Trainer<>(new Training(), train, validation, options).run();
        }
    }

    /** Forgets the optimizer state and the epoch and step counts, so that the next {@code fit} starts over (the weights stay). */
    public void resetTraining() {
        try (ExclusiveUse.Held u = use.enter("resetTraining")) {
            continuation(null);
        }
    }

    /** Epochs trained so far by {@link #fit} (what the next one continues from; 0 after {@link #resetTraining()}). */
    public int epochsTrained() {
        return training == null ? 0 : training.epoch;
    }

    /** Optimizer steps taken so far by {@link #fit}, counted as {@link #epochsTrained()}. */
    public long stepsTrained() {
        return training == null ? 0 : training.step;
    }

    private void continuation(Trainer.Continuation next) {
        if (training != null && training != next) {
            training.close();
        }
        training = next;
    }

    /**
     * The metrics on {@code data} in inference mode: {@code loss}, the teacher-forced mean per-token cross-entropy,
     * and {@code token_accuracy}, {@code exact_match} and {@code bleu} ({@link SequenceMetrics}) of greedy decoding up
     * to {@code 2n + 1} tokens for the longest target of n tokens (a longer output cannot match; BLEU counts an
     * output cut there).
     */
    public Map<String, Double> evaluate(SequenceDataset data, int batchSize) {
        checkData("data", data);
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize: expected >= 1, got " + batchSize);
        }
        checkBatchesFit("data", data, batchSize);
        return evaluateChecked(data, batchSize);
    }

    /**
     * Refuses, before the first batch, data whose longest source or target would not fit a batch of
     * {@code batchSize} rows (as each batch is checked when it is made), so a fit never stops after it has trained.
     */
    private void checkBatchesFit(String name, SequenceDataset data, int batchSize) {
        int rows = Math.min(batchSize, data.size());
        int sourceSteps = 0, targetSteps = 0;
        for (int i = 0; i < data.size(); i++) {
            sourceSteps = data.hasTokens() ? Math.max(sourceSteps, data.tokens(i).length) : 1;
            targetSteps = Math.max(targetSteps, data.tagRow(i).length + 1);   // + the end token
        }
        try {
            checkSourceFits(sourceSteps, rows);
            checkTargetFits(targetSteps, rows, sourceSteps);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(name + ": " + e.getMessage(), e);
        }
    }

    private Map<String, Double> evaluateChecked(SequenceDataset data, int batchSize) {
        try (ExclusiveUse.Held u = use.enter("evaluate")) {
            return evaluateUnguarded(data, batchSize);
        }
    }

    private Map<String, Double> evaluateUnguarded(SequenceDataset data, int batchSize) {
        int n = data.size(), longest = 0;
        List<int[]> expected = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            expected.add(data.tagRow(i));
            longest = Math.max(longest, data.tagRow(i).length);
        }
        int[][] predicted = new int[n][];
        double lossSum = 0;
        long tokens = 0;
        for (int[] idx : Batches.byLength(data, batchSize)) {
            Batch b = batch("data", data, idx);
            long count = b.tokens();
            lossSum += inferenceLoss(b) * count;
            tokens += count;
            List<Translation> out = beamSearch(b, 1, 2 * longest + 1, 0);
            for (int j = 0; j < idx.length; j++) {
                predicted[idx[j]] = out.get(j).tokens();
            }
        }
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("loss", lossSum / tokens);
        m.putAll(tokenScores(Arrays.asList(predicted), expected));
        return m;
    }

    /** The teacher-forced mean per-token cross-entropy of {@code batch} in inference mode: the forward of {@link #teacherForced}. */
    private double inferenceLoss(Batch batch) {
        if (encoder != null) {
            encoder.eval();
        }
        decoder.eval();
        List<Tensor> owned = new ArrayList<>();
        try (Encoded enc = encode(batch);
             ForwardResult dec = decoder.forward(decoderInput(batch.decoderInputs, batch.targetSteps, batch.size, enc.everyStep(), owned),
                     batch.targetLengths, enc.h0.state(), enc.c0())) {
            Attended att = attend(enc.sourceOutputs(), batch.sourceLengths, dec.output(), owned);
            try (LossResult loss = Losses.crossEntropyPerStep(own(owned, output.forward(att.features)), batch.decoderTargets,
                    batch.targetLengths, false)) {
                return loss.value();
            }
        } finally {
            owned.forEach(Tensor::close);
        }
    }

    /**
     * Refuses {@code data} unless it holds target sequences for this kind of model with every id in its vocabulary
     * and every vector of its width, naming the first problem ({@code name.targets[i][t]: ...}): what {@link #fit}
     * and {@link #evaluate(SequenceDataset, int)} check before any work.
     */
    public void checkData(String name, SequenceDataset data) {
        if (data == null) {
            throw new IllegalArgumentException(name + ": expected a dataset, got null");
        }
        boolean vector = featureSize > 0;
        if (!data.hasTargetSequences() || data.hasTokens() == vector) {
            throw new IllegalArgumentException(name + ": expected " + (vector ? "SequenceDataset.vectorToSequence" : "SequenceDataset.sequenceToSequence")
                    + " data for this " + (vector ? "fromVectors" : "id-sequence") + " model, got " + data);
        }
        if (vector && data.featureSize() != featureSize) {
            throw new IllegalArgumentException(name + ": expected vectors of " + featureSize + " features, got " + data.featureSize());
        }
        for (int i = 0; i < data.size(); i++) {
            if (!vector) {
                checkIds(name + ".sources[" + i + "]", data.tokens(i), sourceVocab, 1);
            }
            checkIds(name + ".targets[" + i + "]", data.tagRow(i), targetVocab, 0);
        }
    }

    /** The batch of examples {@code idx} of {@code data} (checked by {@link #checkData}). */
    private Batch batch(String name, SequenceDataset data, int[] idx) {
        List<int[]> targets = new ArrayList<>(idx.length);
        List<int[]> sources = new ArrayList<>(idx.length);
        List<float[]> vectors = new ArrayList<>(idx.length);
        for (int i : idx) {
            targets.add(data.tagRow(i));
            if (data.hasTokens()) {
                sources.add(data.tokens(i));
            } else {
                vectors.add(data.features(i));
            }
        }
        try {
            return featureSize > 0 ? vectorBatch(new Features(vectors), targets) : batch(sources, targets);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(name + ": " + e.getMessage(), e);
        }
    }

    /** The configuration {@link #save} writes, the modules' included: what {@link #load} rebuilds the model from. */
    @Override
    public Map<String, String> configMetadata() {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put(META + "source_vocab", Integer.toString(sourceVocab));
        if (featureSize > 0) {
            meta.put(META + "feature_size", Integer.toString(featureSize));
            meta.put(META + "conditioning", conditioning.name());
        }
        meta.put(META + "target_vocab", Integer.toString(targetVocab));
        meta.put(META + "start_token", Integer.toString(startToken));
        meta.put(META + "end_token", Integer.toString(endToken));
        meta.put(META + "attention", attention.name());
        meta.put(META + "bridge", bridge.name());
        if (targetEmbedding == sourceEmbedding) {
            meta.put(META + "share_embeddings", "true");   // files without it have two tables
        }
        meta.putAll(modules.configMetadata());
        return meta;
    }

    /**
     * Where {@code metadata} (keys under {@code prefix}) describes another Seq2Seq than this one, one line per field
     * ({@code seq2seq.start_token: file 2, model 1}; the modules' as their own checks word them): what
     * {@code Checkpoint.load} refuses, since tensors of the same names and shapes (a reset-before GRU's and a
     * reset-after one's, other start and end tokens) would load into a model that computes something else. A field
     * the file does not have (PyTorch's files) is no mismatch.
     */
    @Override
    public List<String> configMismatches(Map<String, String> metadata, String prefix) {
        Map<String, String> mine = configMetadata();
        List<String> out = new ArrayList<>();
        metadata.forEach((k, theirs) -> {
            String key = k.startsWith(prefix) ? k.substring(prefix.length()) : null;
            if (key != null && key.startsWith(META) && !theirs.trim().equals(mine.get(key))) {
                out.add(k + ": file " + theirs + ", model " + mine.getOrDefault(key, "none"));
            }
        });
        out.addAll(modules.configMismatches(metadata, prefix));
        return out;
    }

    /** The weights under their names and {@code extraTensors}, with the configuration and {@code extraMetadata}. */
    private void save(Path file, Map<String, Tensor> extraTensors, Map<String, String> extraMetadata) throws IOException {
        if (file == null) {
            throw new IllegalArgumentException("file: expected a path, got null");
        }
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            java.nio.file.Files.createDirectories(parent);
        }
        try (ExclusiveUse.Held u = use.enter("save")) {
            Checkpoint.save(file, this, extraTensors, extraMetadata);
        }
    }

    private void loadWeights(Path file, SafeTensors.Contents contents, String prefix) {
        SequenceModel.loadWeights(file, contents, prefix, parameters());
    }

    /** This model behind {@link Trainable}, for the training loop. */
    private final class Training implements Trainable<Batch> {
        private static final String ENCODER_DROPOUT = "encoder_dropout_calls";
        private static final String DECODER_DROPOUT = "decoder_dropout_calls";

        @Override
        public HasParameters model() {
            return Seq2Seq.this;
        }

        @Override
        public Map<String, Tensor> parameters() {
            return Seq2Seq.this.parameters();
        }

        @Override
        public Map<String, Tensor> gradients() {
            return Seq2Seq.this.gradients();
        }

        @Override
        public Device device() {
            return device;
        }

        @Override
        public ModuleGroup group() {
            return modules;
        }

        @Override
        public Trainer.Continuation continuation() {
            return training;
        }

        @Override
        public void continuation(Trainer.Continuation next) {
            Seq2Seq.this.continuation(next);
        }

        @Override
        public void checkOptions(FitOptions o) {
            String refused = !o.metrics.isEmpty() ? "metrics: custom metrics read a SequenceModel's output rows"
                    : o.classWeights != null ? "classWeights: class weights weigh a SequenceModel's classes"
                    : o.stateful ? "stateful: a Seq2Seq starts each example from its own encoding" : null;
            if (refused != null) {
                throw new IllegalArgumentException(refused + "; a Seq2Seq's fit takes none (it reports loss, and on "
                        + "validation token_accuracy, exact_match and bleu)");
            }
        }

        @Override
        public Batch batch(String name, SequenceDataset data, int[] idx, boolean needTargets) {
            return Seq2Seq.this.batch(name, data, idx);
        }

        /** Teacher forcing; the dropout seed is unused (the layers' dropout masks follow their own counts, which checkpoints keep). */
        @Override
        public SequenceModel.StepResult trainStep(Batch batch, long dropoutSeed, SequenceModel.State carry, boolean withOutput,
                                                  float[] classWeights) {
            double loss = lossAndGradients(batch, 0, 0);
            return new SequenceModel.StepResult(loss, batch.tokens(), batch.tokens(), null);
        }

        @Override
        public RunningMetrics<Batch> runningMetrics(List<Metric> custom) {
            return new RunningMetrics<>() {
                private double lossSum;
                private double weight;

                @Override
                public void add(double loss, double w, float[] out, Batch b) {
                    lossSum += loss * w;
                    weight += w;
                }

                @Override
                public Map<String, Double> values() {
                    return Map.of("loss", weight == 0 ? Double.NaN : lossSum / weight);
                }
            };
        }

        @Override
        public boolean needsOutput(List<Metric> custom) {
            return false;
        }

        @Override
        public List<String> metricNames(List<Metric> custom, boolean validation) {
            return validation ? List.of("loss", "token_accuracy", "exact_match", "bleu") : List.of("loss");
        }

        @Override
        public boolean higherIsBetter(String name, List<Metric> custom) {
            return !name.equals("loss");
        }

        @Override
        public Map<String, Double> evaluate(SequenceDataset data, int batchSize, List<Metric> custom) {
            return evaluateChecked(data, batchSize);
        }

        @Override
        public String configurationMismatch(String where, Map<String, String> metadata) {
            List<String> differences = new ArrayList<>();
            Seq2Seq.this.configMetadata().forEach((k, v) -> {   // not HasParameters' default, which Training inherits
                if (!v.equals(metadata.get(k))) {
                    differences.add(k + ": file " + metadata.get(k) + ", this model " + v);
                }
            });
            return differences.isEmpty() ? null : where + " holds another model than this Seq2Seq: " + differences;
        }

        @Override
        public Map<String, Long> dropoutCalls() {
            Map<String, Long> calls = new LinkedHashMap<>();
            if (encoder != null) {
                calls.put(ENCODER_DROPOUT, encoder.dropoutCalls());
            }
            calls.put(DECODER_DROPOUT, decoder.dropoutCalls());
            return calls;
        }

        @Override
        public void restoreDropoutCalls(Map<String, Long> calls) {
            if (encoder != null) {
                encoder.restoreDropoutCalls(calls.get(ENCODER_DROPOUT));
            }
            decoder.restoreDropoutCalls(calls.get(DECODER_DROPOUT));
        }

        @Override
        public void save(Path file, Map<String, Tensor> extraTensors, Map<String, String> extraMetadata) throws IOException {
            Seq2Seq.this.save(file, extraTensors, extraMetadata);
        }

        @Override
        public void loadWeights(Path file, SafeTensors.Contents contents, String prefix) {
            Seq2Seq.this.loadWeights(file, contents, prefix);
        }

        @Override
        public SequenceModel.MemoryEstimate memoryEstimate(int batch, int steps) {
            return null;
        }
    }

    // ------------------------------------------------------------------ decoding

    /**
     * One decoded sequence: its tokens (without the end token), the attention weights of each output token over
     * the source's own length (empty rows without attention), and its score: the sum of the tokens' log
     * probabilities (the end token's included when it was produced) divided by {@code length^lengthPenalty}.
     */
    public record Translation(int[] tokens, float[][] attention, double score) {
    }

    /** Greedy decoding: {@link #beamSearch} with one beam, the most likely token fed back at each step. */
    public List<Translation> translate(List<int[]> sources, int maxLength) {
        return beamSearch(sources, 1, maxLength, 0);
    }

    /** Greedy decoding of a {@link #fromVectors} model: one sequence per feature vector. */
    public List<Translation> translate(Features features, int maxLength) {
        return beamSearch(features, 1, maxLength, 0);
    }

    /**
     * Beam search, batched over the sources and deterministic: each sample keeps the {@code beamWidth} best partial
     * sequences by summed log probability; a sequence ends with the end token (or at {@code maxLength} tokens);
     * a sample stops when it has {@code beamWidth} ended sequences, and the best of them by
     * {@code score / length^lengthPenalty} (Hugging Face's {@code length_penalty}; 0 compares raw sums) is returned.
     * Ties go to the lower beam, then the lower token id.
     */
    public List<Translation> beamSearch(List<int[]> sources, int beamWidth, int maxLength, double lengthPenalty) {
        return beamSearch(batch(sources, null), beamWidth, maxLength, lengthPenalty);
    }

    /** {@link #beamSearch(List, int, int, double)} for a {@link #fromVectors} model. */
    public List<Translation> beamSearch(Features features, int beamWidth, int maxLength, double lengthPenalty) {
        return beamSearch(vectorBatch(features, null), beamWidth, maxLength, lengthPenalty);
    }

    private List<Translation> beamSearch(Batch batch, int beamWidth, int maxLength, double lengthPenalty) {
        if (beamWidth < 1) {
            throw new IllegalArgumentException("beamWidth: expected >= 1 beams, got " + beamWidth);
        }
        long widest = Tensor.MAX_ELEMENTS / ((long) batch.size * targetVocab);   // the logits of all rows [B·k, V] are one tensor
        if (beamWidth > widest) {
            throw new IllegalArgumentException("beamWidth: expected at most " + widest + " beams for " + batch.size
                    + " sources of a " + targetVocab + "-token vocabulary (the logits of all beams are one tensor), got " + beamWidth);
        }
        if (!Double.isFinite(lengthPenalty)) {
            throw new IllegalArgumentException("lengthPenalty: expected a finite exponent, got " + lengthPenalty);
        }
        return decode(batch, beamWidth, maxLength, size -> new Beams(size, beamWidth, lengthPenalty));
    }

    /**
     * Temperature sampling (generation): each next token drawn from {@code softmax(logits / temperature)} until the end
     * token or {@code maxLength} tokens; below 1 the draws lean to the likely tokens, above 1 to the unlikely ones.
     * Deterministic for a seed: sample {@code i} draws from the {@code i}-th stream split from {@code seed}. The score
     * is the sum of the model's own log probabilities (temperature 1) of the drawn tokens, the end token's included.
     *
     * @throws IllegalArgumentException for a temperature that is not a finite number {@code > 0} ({@link #translate} is greedy)
     */
    public List<Translation> sample(List<int[]> sources, int maxLength, double temperature, long seed) {
        return sample(batch(sources, null), maxLength, temperature, seed);
    }

    /** {@link #sample(List, int, double, long)} for a {@link #fromVectors} model (e.g. several captions of one image). */
    public List<Translation> sample(Features features, int maxLength, double temperature, long seed) {
        return sample(vectorBatch(features, null), maxLength, temperature, seed);
    }

    private List<Translation> sample(Batch batch, int maxLength, double temperature, long seed) {
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature: expected a finite temperature > 0 (translate(...) is greedy), got "
                    + temperature);
        }
        return decode(batch, 1, maxLength, size -> new Sampling(size, temperature, seed));
    }

    /** The decoding loop of {@link #beamSearch} and {@link #sample}: {@code width} decoder rows per source, {@code search} choosing the tokens. */
    private List<Translation> decode(Batch batch, int width, int maxLength, java.util.function.IntFunction<Search> search) {
        try (ExclusiveUse.Held u = use.enter("decode")) {
            return decodeUnguarded(batch, width, maxLength, search);
        }
    }

    private List<Translation> decodeUnguarded(Batch batch, int width, int maxLength, java.util.function.IntFunction<Search> search) {
        if (maxLength < 1) {
            throw new IllegalArgumentException("maxLength: expected >= 1 output tokens, got " + maxLength);
        }
        if (maxLength > SequenceModel.MAX_GENERATED) {   // as generate: a decoding that long is a mistake, not a request
            throw new IllegalArgumentException("maxLength: expected at most " + SequenceModel.MAX_GENERATED + " output tokens, got "
                    + maxLength);
        }
        int k = width, rows = batch.size * k;
        checkSourceFits(batch.sourceSteps, rows);   // the encoder's outputs are repeated for each source's beams
        if (encoder != null) {
            encoder.eval();
        }
        decoder.eval();
        Search chooser = search.apply(batch.size);
        List<Tensor> held = new ArrayList<>();
        try (Encoded enc = encode(batch)) {
            // every sample's encoder outputs and initial states repeated for its k beams (row b·k + j)
            int[] srcLengths = batch.sourceLengths == null ? null : new int[rows];
            int[] repeat = new int[rows];
            for (int r = 0; r < rows; r++) {
                if (srcLengths != null) {
                    srcLengths[r] = batch.sourceLengths[r / k];
                }
                repeat[r] = r / k;
            }
            Tensor encOut = enc.sourceOutputs() == null ? null : own(held, gatherSamples(enc.sourceOutputs(), repeat));
            Tensor featureRows = enc.everyStep() == null ? null : own(held, gatherSamples(enc.everyStep(), repeat));
            Tensor h = own(held, gatherSamples(enc.h0.state(), repeat));
            Tensor c = enc.c0 == null ? null : own(held, gatherSamples(enc.c0(), repeat));
            int[] previous = new int[rows];
            Arrays.fill(previous, startToken);
            for (int step = 0; step < maxLength && !chooser.allDone(); step++) {
                List<Tensor> owned = new ArrayList<>();
                try (ForwardResult dec = decoder.forward(decoderInput(previous, 1, rows, featureRows, owned), null, h, c)) {
                    Attended att = attend(encOut, srcLengths, dec.output(), owned);
                    float[] logits = own(owned, output.forward(att.features)).toHost();        // [1, rows, V]
                    float[] alpha = att.weights == null ? null : att.weights.toHost();         // [rows, 1, S]
                    int[] parents = chooser.advance(logits, targetVocab, endToken, step + 1 == maxLength,
                            r -> alpha == null ? new float[0]
                                    : Arrays.copyOfRange(alpha, r * batch.sourceSteps, r * batch.sourceSteps + srcLengths[r]));
                    System.arraycopy(chooser.lastTokens(), 0, previous, 0, rows);
                    held.remove(h);
                    h.close();
                    h = own(held, gatherSamples(dec.hN(), parents));
                    if (dec.cN() != null) {   // an LSTM decoder carries c, whether or not the encoder gave it one
                        if (c != null) {
                            held.remove(c);
                            c.close();
                        }
                        c = own(held, gatherSamples(dec.cN(), parents));
                    }
                } finally {
                    owned.forEach(Tensor::close);
                }
            }
        } finally {
            held.forEach(Tensor::close);
        }
        return chooser.best();
    }

    /**
     * Decodes {@code sources} ({@code beamWidth} 1 is greedy) and scores the results against {@code targets}:
     * {@code token_accuracy}, {@code exact_match} and {@code bleu} as {@link SequenceMetrics} defines them.
     */
    public Map<String, Double> evaluate(List<int[]> sources, List<int[]> targets, int beamWidth, int maxLength) {
        requireTargets(targets);
        batch(sources, targets);   // checks counts and ids before any work
        return scores(beamSearch(sources, beamWidth, maxLength, 1.0), targets);
    }

    /** {@link #evaluate(List, List, int, int)} for a {@link #fromVectors} model (captioning's exact match and BLEU). */
    public Map<String, Double> evaluate(Features features, List<int[]> targets, int beamWidth, int maxLength) {
        requireTargets(targets);
        vectorBatch(features, targets);   // checks counts, vectors and ids before any work
        return scores(beamSearch(features, beamWidth, maxLength, 1.0), targets);
    }

    private static Map<String, Double> scores(List<Translation> translations, List<int[]> targets) {
        return tokenScores(translations.stream().map(Translation::tokens).toList(), targets);
    }

    private static Map<String, Double> tokenScores(List<int[]> predicted, List<int[]> targets) {
        Map<String, Double> out = new LinkedHashMap<>();
        out.put("token_accuracy", SequenceMetrics.tokenAccuracy(predicted, targets));
        out.put("exact_match", SequenceMetrics.exactMatch(predicted, targets));
        out.put("bleu", SequenceMetrics.bleu(predicted, targets));
        return out;
    }

    /** {@code out[:, r, :] = state[:, rows[r], :]} for a {@code [D, N, F]} tensor: beams repeated or reordered, one gather. */
    private Tensor gatherSamples(Tensor state, int[] rows) {
        int d = state.dim(0), n = state.dim(1), f = state.dim(2);
        int[] index = new int[d * rows.length];
        for (int i = 0; i < d; i++) {
            for (int r = 0; r < rows.length; r++) {
                index[i * rows.length + r] = i * n + rows[r];
            }
        }
        Tensor out = Tensor.zeros(device, d, rows.length, f);
        try (Tensor idx = Tensor.ofInts(device, index, index.length)) {
            engine.gatherRows(index.length, f, idx.buffer(), 0, state.buffer(), 0, out.buffer(), 0);
            return out;
        } catch (RuntimeException | Error e) {
            out.close();
            throw e;
        }
    }

    // ------------------------------------------------------------------ the pieces

    /** A batch laid out time-major: source ids {@code [S, B]}, decoder inputs and targets {@code [T, B]} with T = longest target + 1. */
    private record Batch(int size, int sourceSteps, int[] sourceIds, int[] sourceLengths,
                         int targetSteps, int[] decoderInputs, int[] decoderTargets, int[] targetLengths,
                         float[] features)    // a vector model's [B, F] instead of the source ids
            implements Trainable.PaddedBatch {
        @Override
        public int batch() {
            return size;
        }

        @Override
        public int steps() {
            return Math.max(sourceSteps, targetSteps);
        }

        /** The target steps the loss averages over: every target's tokens and its end token. */
        long tokens() {
            long n = 0;
            for (int length : targetLengths) {
                n += length;
            }
            return n;
        }
    }

    private Batch batch(List<int[]> sources, List<int[]> targets) {
        if (featureSize > 0) {
            throw new IllegalArgumentException("sources: expected Seq2Seq.Features (this model was built with fromVectors), got id sequences");
        }
        if (sources == null || sources.isEmpty()) {
            throw new IllegalArgumentException("sources: expected at least one sequence, got " + (sources == null ? "null" : "none"));
        }
        if (targets != null && targets.size() != sources.size()) {
            throw new IllegalArgumentException("targets: expected one per source (" + sources.size() + "), got " + targets.size());
        }
        int b = sources.size();
        int[] srcLen = new int[b];
        int s = 0;
        for (int i = 0; i < b; i++) {
            srcLen[i] = checkIds("sources[" + i + "]", sources.get(i), sourceVocab, 1);
            s = Math.max(s, srcLen[i]);
        }
        checkSourceFits(s, b);
        int[] srcIds = new int[s * b];
        for (int i = 0; i < b; i++) {
            for (int t = 0; t < srcLen[i]; t++) {
                srcIds[t * b + i] = sources.get(i)[t];
            }
        }
        return withTargets(new Batch(b, s, srcIds, srcLen, 0, null, null, null, null), targets);
    }

    private Batch vectorBatch(Features features, List<int[]> targets) {
        if (featureSize == 0) {
            throw new IllegalArgumentException("features: expected id sequences (this model was built with builder, not fromVectors), got Features");
        }
        if (features == null || features.size() == 0) {
            throw new IllegalArgumentException("features: expected at least one vector, got " + (features == null ? "null" : "none"));
        }
        int b = features.size();
        if (targets != null && targets.size() != b) {
            throw new IllegalArgumentException("targets: expected one per feature vector (" + b + "), got " + targets.size());
        }
        float[] flat = new float[b * featureSize];
        for (int i = 0; i < b; i++) {
            float[] v = features.vectors.get(i);
            if (v == null || v.length != featureSize) {
                throw new IllegalArgumentException("features[" + i + "]: expected " + featureSize + " features, got "
                        + (v == null ? "null" : Integer.toString(v.length)));
            }
            for (int j = 0; j < featureSize; j++) {
                if (!Float.isFinite(v[j])) {
                    throw new IllegalArgumentException("features[" + i + "][" + j + "]: expected a finite feature, got " + v[j]);
                }
            }
            System.arraycopy(v, 0, flat, i * featureSize, featureSize);
        }
        return withTargets(new Batch(b, 0, null, null, 0, null, null, null, flat), targets);
    }

    /** {@code source} with the decoder's inputs and targets for {@code targets} (none when null), after checking their ids. */
    private Batch withTargets(Batch source, List<int[]> targets) {
        if (targets == null) {
            return source;
        }
        int b = source.size;
        int[] tgtLen = new int[b];
        int steps = 0;
        for (int i = 0; i < b; i++) {
            tgtLen[i] = checkIds("targets[" + i + "]", targets.get(i), targetVocab, 0) + 1;   // + the end token
            steps = Math.max(steps, tgtLen[i]);
        }
        checkTargetFits(steps, b, source.sourceSteps);
        int[] inputs = new int[steps * b];
        int[] expected = new int[steps * b];
        for (int i = 0; i < b; i++) {
            int[] y = targets.get(i);
            for (int t = 0; t < tgtLen[i]; t++) {
                inputs[t * b + i] = t == 0 ? startToken : y[t - 1];
                expected[t * b + i] = t < y.length ? y[t] : endToken;
            }
        }
        return new Batch(b, source.sourceSteps, source.sourceIds, source.sourceLengths, steps, inputs, expected, tgtLen, source.features);
    }

    /**
     * Refuses sources whose encoder tensors would not fit one tensor ({@link Tensor#MAX_ELEMENTS}), before any work:
     * the embedded sources, the encoder's per-step gates and outputs and the attention keys, over {@code steps} padded
     * steps of {@code rows} rows (each source's beams in a search).
     */
    private void checkSourceFits(int steps, long rows) {
        if (encoder == null) {
            return;
        }
        RecurrentConfig e = encoder.config();
        long width = Math.max(Math.max(e.inputSize(), decoder.config().hiddenSize()), (long) e.cell().gates() * e.hiddenSize() * e.directions());
        checkFits("sources", "source steps", steps, rows, width, "the encoder's gates, its input or the attention keys");
    }

    /**
     * As {@link #checkSourceFits} for the teacher-forced target side: the decoder's input and gates, the combined
     * attention features and the logits over {@code steps} target steps, and the attention scores against
     * {@code sourceSteps} source steps.
     */
    private void checkTargetFits(int steps, long rows, int sourceSteps) {
        RecurrentConfig d = decoder.config();
        long width = Math.max(Math.max(d.inputSize(), targetVocab), (long) d.cell().gates() * d.hiddenSize());
        if (encoder != null) {
            width = Math.max(width, (long) encoder.config().hiddenSize() * encoder.config().directions() + d.hiddenSize());
        }
        checkFits("targets", "target steps", steps, rows, width, "the decoder's gates, its input, the attention features or the logits");
        if (attention != Attention.NONE) {
            checkFits("targets", "target steps", steps, rows, sourceSteps, "the attention scores over the source steps");
        }
    }

    private static void checkFits(String name, String what, int steps, long rows, long width, String tensors) {
        long n = Math.min((long) steps * rows, Tensor.MAX_ELEMENTS + 1);   // each factor < 2^31: no overflow
        n = Math.min(n * Math.min(width, Tensor.MAX_ELEMENTS + 1), Tensor.MAX_ELEMENTS + 1);
        if (n > Tensor.MAX_ELEMENTS) {
            throw new IllegalArgumentException(name + ": expected a padded batch whose tensors hold at most " + Tensor.MAX_ELEMENTS
                    + " values, got " + steps + " " + what + " × " + rows + " rows × " + width + " (" + tensors
                    + ") (use shorter sequences or smaller batches)");
        }
    }

    private static int checkIds(String name, int[] ids, int vocab, int minLength) {
        if (ids == null || ids.length < minLength) {
            throw new IllegalArgumentException(name + ": expected a sequence of at least " + minLength + " ids, got "
                    + (ids == null ? "null" : "an empty one"));
        }
        for (int t = 0; t < ids.length; t++) {
            if (ids[t] < 0 || ids[t] >= vocab) {
                throw new IllegalArgumentException(name + "[" + t + "]: expected an id in [0, " + vocab + "), got " + ids[t]);
            }
        }
        return ids.length;
    }

    /**
     * The encoder's forward and the decoder's initial states bridged from it, or a vector model's features {@code [1, B, F]}
     * and the initial states projected from them; closes them all.
     */
    private final class Encoded implements AutoCloseable {
        final Batch batch;
        final Tensor embedded;        // the source ids embedded, or the features
        final ForwardResult forward;  // null for a vector model
        final Bridged h0;
        final Bridged c0;   // null unless the state c passes (or a vector model projects it)

        Encoded(Batch batch) {
            this.batch = batch;
            Tensor e = null;
            ForwardResult f = null;
            Bridged h = null;
            try {
                if (batch.features != null) {
                    e = Tensor.of(device, batch.features, 1, batch.size, featureSize);
                    RecurrentConfig dec = decoder.config();
                    h = initH != null ? initState(e, initH, dec.outputSize())
                            : new Bridged(Tensor.zeros(device, dec.numLayers(), batch.size, dec.outputSize()), null);
                    this.c0 = initC == null ? null : initState(e, initC, dec.hiddenSize());
                } else {
                    e = sourceEmbedding.forward(batch.sourceIds, batch.sourceSteps, batch.size);
                    f = encoder.forward(e, batch.sourceLengths, null, null);
                    h = bridge(f.hN(), bridgeH);
                    this.c0 = passesCellState(encoder.config(), decoder.config()) ? bridge(f.cN(), bridgeC) : null;
                }
            } catch (RuntimeException | Error ex) {
                for (AutoCloseable c : new AutoCloseable[] {h, f, e}) {
                    closeQuietly(c);
                }
                throw ex;
            }
            this.embedded = e;
            this.forward = f;
            this.h0 = h;
        }

        Tensor c0() {
            return c0 == null ? null : c0.state;
        }

        /** The encoder's outputs {@code [S, B, He]} attention reads; null for a vector model. */
        Tensor sourceOutputs() {
            return forward == null ? null : forward.output();
        }

        /** The features {@code [1, B, F]} the decoder reads beside each token ({@link Conditioning#feedsEveryStep}); null otherwise. */
        Tensor everyStep() {
            return conditioning != null && conditioning.feedsEveryStep() ? embedded : null;
        }

        @Override
        public void close() {
            for (AutoCloseable c : new AutoCloseable[] {c0, h0, forward, embedded}) {
                closeQuietly(c);
            }
        }
    }

    /** A vector model's initial state {@code [L, B, W]}: {@code tanh(projection(features))}, whose {@code L·W} outputs are layer-major. */
    private Bridged initState(Tensor features, Linear projection, int width) {
        int layers = decoder.config().numLayers(), batch = features.dim(1);
        List<Tensor> owned = new ArrayList<>();
        try {
            Tensor perLayer = own(owned, TensorOps.reshape(own(owned, projection.forward(features)), batch, layers, width));
            return new Bridged(TensorOps.tanh(own(owned, TensorOps.transposeLeading(perLayer))), null);
        } finally {
            owned.forEach(Tensor::close);
        }
    }

    /** The backward of {@link #initState} for {@code h0} and {@code c0}: adds the projections' gradients (features take none). */
    private void initStateBackward(Encoded enc, BackwardResult dDec, List<Tensor> owned) {
        initStateBackward(initH, enc.h0, dDec.dh0(), enc.embedded, owned);
        initStateBackward(initC, enc.c0, dDec.dc0(), enc.embedded, owned);
    }

    private void initStateBackward(Linear projection, Bridged init, Tensor dState, Tensor features, List<Tensor> owned) {
        if (projection == null || dState == null) {
            return;
        }
        Tensor state = init.state;                                                                // [L, B, W]
        Tensor dPre = own(owned, TensorOps.transposeLeading(own(owned, TensorOps.tanhBackward(state, dState))));   // [B, L, W]
        own(owned, projection.backward(features, own(owned, TensorOps.reshape(dPre, 1, state.dim(1), state.dim(0) * state.dim(2)))));
    }

    /** The decoder's input for {@code ids} ({@code [steps, rows]}): their embeddings, beside {@code featureRows [1, rows, F]} at every step when given. */
    private Tensor decoderInput(int[] ids, int steps, int rows, Tensor featureRows, List<Tensor> owned) {
        Tensor embedded = own(owned, targetEmbedding.forward(ids, steps, rows));
        if (featureRows == null) {
            return embedded;
        }
        Tensor[] copies = new Tensor[steps];
        Arrays.fill(copies, featureRows);
        return own(owned, TensorOps.concat(2, embedded, steps == 1 ? featureRows : own(owned, TensorOps.concat(0, copies))));
    }

    /** The embedding's part of the decoder input's gradient {@code dX} (all of it unless features were fed beside it). */
    private Tensor embeddingGradient(Tensor dX, Tensor featureRows, List<Tensor> owned) {
        if (featureRows == null) {
            return dX;
        }
        Tensor[] parts = TensorOps.split(dX, 2, dX.dim(2) - featureSize, featureSize);
        owned.addAll(Arrays.asList(parts));
        return parts[0];
    }

    private Encoded encode(Batch batch) {
        return new Encoded(batch);
    }

    /** A decoder's initial state {@code [L, B, Hd]} and, for {@link Bridge#CONCAT_PROJECT}, the projection's input. */
    private record Bridged(Tensor state, Tensor sideBySide) implements AutoCloseable {
        @Override
        public void close() {
            closeQuietly(sideBySide);
            closeQuietly(state);
        }
    }

    /**
     * An encoder state {@code [L·dirs, B, W]} bridged to the decoder's {@code [L, B, ·]}: the sum of each layer's
     * directions (a copy when there is one), or {@code tanh(projection([fwd; bwd]))}.
     */
    private Bridged bridge(Tensor state, Linear projection) {
        int dirs = encoder.config().bidirectional() ? 2 : 1;
        int layers = state.dim(0) / dirs;
        if (projection == null) {
            long block = (long) state.dim(1) * state.dim(2);
            Tensor out = Tensor.zeros(device, layers, state.dim(1), state.dim(2));
            for (int l = 0; l < layers; l++) {
                engine.copy(state.buffer(), l * dirs * block, out.buffer(), l * block, block);
                if (dirs == 2) {
                    engine.axpby(block, 1f, state.buffer(), (l * 2 + 1) * block, 1f, out.buffer(), l * block);
                }
            }
            return new Bridged(out, null);
        }
        List<Tensor> owned = new ArrayList<>();
        Tensor sideBySide = null;
        try {
            Tensor[] rows = new Tensor[layers];   // layer l: [dirs, B, W] → [B, dirs, W] → [1, B, dirs·W]
            for (int l = 0; l < layers; l++) {
                Tensor directions = own(owned, TensorOps.transposeLeading(own(owned, TensorOps.slice(state, 0, l * dirs, dirs))));
                rows[l] = own(owned, TensorOps.reshape(directions, 1, state.dim(1), dirs * state.dim(2)));
            }
            sideBySide = TensorOps.concat(0, rows);
            return new Bridged(TensorOps.tanh(own(owned, projection.forward(sideBySide))), sideBySide);
        } catch (RuntimeException | Error e) {
            closeQuietly(sideBySide);
            throw e;
        } finally {
            owned.forEach(Tensor::close);
        }
    }

    /** The backward of {@link #bridge}: the gradient of the encoder's state {@code state} from that of the bridged one. */
    private Tensor bridgeBackward(Bridged bridged, Linear projection, Tensor dBridged, Tensor state, List<Tensor> owned) {
        int dirs = encoder.config().bidirectional() ? 2 : 1;
        Tensor out = own(owned, Tensor.zeros(device, state.shape()));
        if (projection == null) {   // each direction's state gradient is the bridged state's
            long block = (long) state.dim(1) * state.dim(2);
            for (int l = 0; l < state.dim(0); l++) {
                engine.copy(dBridged.buffer(), (l / dirs) * block, out.buffer(), l * block, block);
            }
            return out;
        }
        Tensor dSideBySide = own(owned, projection.backward(bridged.sideBySide, own(owned, TensorOps.tanhBackward(bridged.state, dBridged))));
        for (int l = 0; l < dSideBySide.dim(0); l++) {
            Tensor row = own(owned, TensorOps.reshape(own(owned, TensorOps.slice(dSideBySide, 0, l, 1)), state.dim(1), dirs, state.dim(2)));
            TensorOps.addSliceInto(out, 0, l * dirs, own(owned, TensorOps.transposeLeading(row)));
        }
        return out;
    }

    /** What the attention step saved for its backward; tensors belong to the caller's list. */
    private record Attended(Tensor features, Tensor weights, Tensor values, Tensor combined, Scores scores) {
    }

    /** Scores {@code [B, T, S]} and what their backward needs: multiplicative queries and keys, or the additive ones and energies. */
    private record Scores(Tensor scores, Tensor queries, Tensor keys, List<Tensor> energies) {
    }

    /**
     * Attention over the encoder's outputs {@code encOut [S, B, He]} (sample b valid for {@code s < sourceLengths[b]})
     * for decoder outputs {@code h [T, B, Hd]}: features {@code [T, B, Hd]} for the output layer.
     */
    private Attended attend(Tensor encOut, int[] sourceLengths, Tensor h, List<Tensor> owned) {
        if (attention == Attention.NONE) {
            return new Attended(h, null, null, null, null);
        }
        Tensor values = own(owned, TensorOps.transposeLeading(encOut));                         // [B, S, He]
        Scores scores = attention == Attention.BAHDANAU ? additiveScores(encOut, h, owned) : multiplicativeScores(encOut, values, h, owned);
        Tensor weights = own(owned, TensorOps.maskedSoftmax(scores.scores, sourceLengths));      // [B, T, S]
        Tensor context = own(owned, TensorOps.transposeLeading(own(owned, TensorOps.bmm(weights, false, values, false))));
        Tensor combined = own(owned, TensorOps.concat(2, context, h));                          // [T, B, He + Hd]
        Tensor features = own(owned, TensorOps.tanh(own(owned, combine.forward(combined))));
        return new Attended(features, weights, values, combined, scores);
    }

    /** Luong: {@code s[b, t, ·] = q_t · K_b} with {@code q = h}, {@code K = y_enc} or {@code W_a y_enc}, one batched product. */
    private Scores multiplicativeScores(Tensor encOut, Tensor values, Tensor h, List<Tensor> owned) {
        Tensor keys = attention == Attention.GENERAL
                ? own(owned, TensorOps.transposeLeading(own(owned, keyProjection.forward(encOut))))  // [B, S, Hd]
                : values;
        Tensor queries = own(owned, TensorOps.transposeLeading(h));                             // [B, T, Hd]
        return new Scores(own(owned, TensorOps.bmm(queries, false, keys, true)), queries, keys, null);
    }

    /** Bahdanau: per decoder step t, {@code E_t = tanh(W_k y_enc + W_q h_t)} {@code [S, B, A]} and {@code s[·, t, ·] = v · E_t}. */
    private Scores additiveScores(Tensor encOut, Tensor h, List<Tensor> owned) {
        Tensor keys = own(owned, keyProjection.forward(encOut));                                // [S, B, A]
        Tensor queries = own(owned, queryProjection.forward(h));                                // [T, B, A]
        int steps = h.dim(0), batch = h.dim(1), sourceSteps = encOut.dim(0);
        List<Tensor> energies = new ArrayList<>();
        Tensor[] rows = new Tensor[steps];
        for (int t = 0; t < steps; t++) {
            Tensor energy = own(owned, TensorOps.tanh(own(owned, TensorOps.add(keys, own(owned, TensorOps.select(queries, t))))));
            energies.add(energy);
            Tensor e = own(owned, scoreVector.forward(energy));                                 // [S, B, 1]
            rows[t] = own(owned, TensorOps.reshape(own(owned, TensorOps.transposeLeading(e)), batch, 1, sourceSteps));
        }
        Tensor scores = steps == 1 ? rows[0] : own(owned, TensorOps.concat(1, rows));
        return new Scores(scores, queries, keys, energies);
    }

    /** The gradients of the encoder's outputs and of the decoder's outputs, from that of the features. */
    private Tensor[] attendBackward(Encoded enc, Tensor h, Attended a, Tensor dFeatures, List<Tensor> owned) {
        Tensor encOut = enc.sourceOutputs();
        if (attention == Attention.NONE) {
            return new Tensor[] {encOut == null ? null : own(owned, Tensor.zeros(device, encOut.shape())), dFeatures};
        }
        Tensor dPre = own(owned, TensorOps.tanhBackward(a.features, dFeatures));
        Tensor dCombined = own(owned, combine.backward(a.combined, dPre));
        Tensor[] parts = TensorOps.split(dCombined, 2, encOut.dim(2), h.dim(2));               // dContext, dh
        owned.addAll(Arrays.asList(parts));
        Tensor dContextB = own(owned, TensorOps.transposeLeading(parts[0]));                    // [B, T, He]
        Tensor[] dWV = TensorOps.bmmBackward(a.weights, false, a.values, false, dContextB);     // dWeights, dValues
        owned.addAll(Arrays.asList(dWV));
        Tensor dScores = own(owned, TensorOps.maskedSoftmaxBackward(a.weights, dWV[0], enc.batch.sourceLengths));
        Tensor[] dKeysH = attention == Attention.BAHDANAU
                ? additiveScoresBackward(encOut, h, a.scores, dScores, owned)
                : multiplicativeScoresBackward(encOut, a.scores, dScores, owned);
        Tensor dh = own(owned, TensorOps.add(parts[1], dKeysH[1]));
        Tensor dValues = own(owned, TensorOps.transposeLeading(dWV[1]));                        // [S, B, He]
        Tensor dEnc = own(owned, TensorOps.add(dValues, dKeysH[0]));
        return new Tensor[] {dEnc, dh};
    }

    /** {@code {dEncOut through the keys, dh}}. */
    private Tensor[] multiplicativeScoresBackward(Tensor encOut, Scores sc, Tensor dScores, List<Tensor> owned) {
        Tensor[] dQK = TensorOps.bmmBackward(sc.queries, false, sc.keys, true, dScores);        // dQueries, dKeys
        owned.addAll(Arrays.asList(dQK));
        Tensor dh = own(owned, TensorOps.transposeLeading(dQK[0]));
        Tensor dKeys = own(owned, TensorOps.transposeLeading(dQK[1]));                          // [S, B, ·]
        return new Tensor[] {attention == Attention.GENERAL ? own(owned, keyProjection.backward(encOut, dKeys)) : dKeys, dh};
    }

    private Tensor[] additiveScoresBackward(Tensor encOut, Tensor h, Scores sc, Tensor dScores, List<Tensor> owned) {
        int steps = h.dim(0), batch = h.dim(1), sourceSteps = encOut.dim(0), width = sc.keys.dim(2);
        Tensor dKeys = own(owned, Tensor.zeros(device, sc.keys.shape()));                       // [S, B, A]
        Tensor dQueries = own(owned, Tensor.zeros(device, sc.queries.shape()));                 // [T, B, A]
        for (int t = 0; t < steps; t++) {
            Tensor dRow = own(owned, TensorOps.slice(dScores, 1, t, 1));                        // [B, 1, S]
            Tensor de = own(owned, TensorOps.transposeLeading(own(owned, TensorOps.reshape(dRow, batch, sourceSteps, 1))));
            Tensor energy = sc.energies.get(t);
            Tensor dEnergy = own(owned, scoreVector.backward(energy, de));                      // [S, B, A]
            Tensor dSum = own(owned, TensorOps.tanhBackward(energy, dEnergy));
            TensorOps.addSliceInto(dKeys, 0, 0, dSum);
            TensorOps.addSelectedInto(dQueries, t, own(owned, TensorOps.sumLeading(dSum, batch, width)));
        }
        return new Tensor[] {own(owned, keyProjection.backward(encOut, dKeys)), own(owned, queryProjection.backward(h, dQueries))};
    }

    private static Tensor own(List<Tensor> owned, Tensor t) {
        owned.add(t);
        return t;
    }

    /** Zeroes every gradient (never while another thread is in a call of this model). */
    @Override
    public void zeroGrad() {
        try (ExclusiveUse.Held u = use.enter("zeroGrad")) {
            modules.zeroGrad();
        }
    }

    @Override
    public void close() {
        try (ExclusiveUse.Held u = use.enter("close")) {
            continuation(null);
            for (AutoCloseable c : new AutoCloseable[] {output, combine, scoreVector, queryProjection, keyProjection, initC, initH, bridgeC, bridgeH, decoder, encoder,
                    targetEmbedding == sourceEmbedding ? null : targetEmbedding, sourceEmbedding}) {
                closeQuietly(c);
            }
        }
    }

    @Override
    public String toString() {
        return (featureSize > 0 ? "Seq2Seq(" + featureSize + " features -> " : "Seq2Seq(" + encoder.config() + " -> ")
                + decoder.config() + ") on " + device;
    }
}
