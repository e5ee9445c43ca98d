package org.rnn4j.model;

import java.io.IOException;
import java.nio.file.Files;
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
import org.rnn4j.DeviceInts;
import org.rnn4j.ForwardResult;
import org.rnn4j.HasParameters;
import org.rnn4j.Precision;
import org.rnn4j.RecurrentConfig;
import org.rnn4j.RecurrentLayer;
import org.rnn4j.Tensor;
import org.rnn4j.engine.Buffer;
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
 * A sequence model as Keras or PyTorch users build one: an optional token {@link Embedding} (or dense
 * features), a {@link RecurrentLayer} stack, optional dropout, and a {@link Linear} head, for one of the
 * four {@link Task} shapes; with {@link #fit}, {@link #evaluate}, {@link #predict} and, for a language
 * model, {@link #generate}.
 *
 * <pre>{@code
 * try (SequenceModel model = SequenceModel.builder(Task.CLASSIFICATION)
 *         .embedding(vocab, 32)
 *         .recurrent(Lstm.builder(32, 64).bidirectional(true))
 *         .outputs(classes)
 *         .build(Device.best())) {
 *     History h = model.fit(train, validation, new FitOptions().epochs(5).adam(3e-3));
 *     Map<String, Double> test = model.evaluate(testSet, 64);
 * }
 * }</pre>
 *
 * <p>Many-to-one classification reads the last layer's final state {@code h_n}: the last valid step
 * of each sequence and, for a bidirectional stack, the reverse direction's state after step 0, both
 * concatenated. Per-step tasks read the output at every valid step only (padded steps never reach the
 * head or the loss). Everything runs through the public layer API and the {@link Engine} primitives,
 * so the model runs on either device and its weights, activations and gradients stay there between
 * steps; only token ids, targets and the scalar loss (and, for accuracy and errors, the head's output)
 * cross to the host. Parameters are named as a PyTorch module with submodules {@code embedding},
 * {@code rnn} and {@code head} names them. Not thread-safe: a call that overlaps another thread's call of the
 * same model fails with an {@link IllegalStateException} naming both (a call nested in another on the same
 * thread, as a {@code fit} callback may make, is fine).
 */
public final class SequenceModel implements HasParameters, AutoCloseable {

    /** The most tokens one {@link #generate} call returns (2^24). */
    public static final int MAX_GENERATED = 1 << 24;

    private final ModelConfig cfg;
    private final Device device;
    private final Engine engine;
    private final Embedding embedding;
    private final RecurrentLayer rnn;
    private final Linear head;
    private final ModuleGroup group;
    private Trainer.Continuation training;   // what fit continues from: optimizer state, epoch and step counts
    /** Fails a call that overlaps another thread's (predict beside trainOnBatch would see training mode). */
    private final ExclusiveUse use = new ExclusiveUse(this);
    private boolean closed;
    private final WholeSteps wholeSteps = new WholeSteps();
    /** The last reason given for a training step that could not run as one graph (said once per reason change). */
    private String wholeStepSaid;
    private static final System.Logger LOG = System.getLogger("org.rnn4j.model");

    /** Builds the model described by {@code cfg} on {@code device}, with freshly initialised weights. */
    public SequenceModel(ModelConfig cfg, Device device) {
        if (cfg == null) {
            throw new IllegalArgumentException("cfg: expected a model configuration, got null");
        }
        if (device == null) {
            throw new IllegalArgumentException("device: expected a device, got null");
        }
        this.cfg = cfg;
        this.device = device;
        this.engine = device.engine();
        Embedding e = null;
        RecurrentLayer r = null;
        try {
            e = cfg.tokens() ? new Embedding(cfg.vocabSize(), cfg.embeddingDim(), cfg.padding(), cfg.seed(), device) : null;
            r = new RecurrentLayer(cfg.recurrent(), device);
            this.head = new Linear(cfg.featureSize(), cfg.outputs(), true, cfg.seed() + 1, device);
        } catch (RuntimeException ex) {
            if (e != null) {
                e.close();
            }
            if (r != null) {
                r.close();
            }
            throw ex;
        }
        this.embedding = e;
        this.rnn = r;
        Map<String, HasParameters> modules = new LinkedHashMap<>();
        if (embedding != null) {
            modules.put("embedding", embedding);
        }
        modules.put("rnn", rnn);
        modules.put("head", head);
        this.group = ModuleGroup.of(modules);
    }

    /** A builder for a model of the given task shape. */
    public static Builder builder(Task task) {
        return new Builder(task);
    }

    public ModelConfig config() {
        return cfg;
    }

    public Device device() {
        return device;
    }

    /** The recurrent stack (its own API stays available: parameters by PyTorch name, train/eval, ...). */
    public RecurrentLayer recurrent() {
        return rnn;
    }

    /** The token embedding, or {@code null} for dense inputs. */
    public Embedding embedding() {
        return embedding;
    }

    public Linear head() {
        return head;
    }

    /** {@code embedding.weight}, {@code rnn.weight_ih_l0}, ..., {@code head.bias} (live tensors). */
    @Override
    public Map<String, Tensor> parameters() {
        return group.parameters();
    }

    @Override
    public Map<String, Tensor> gradients() {
        return group.gradients();
    }

    /** {@link ModelConfig#toMetadata()}: what {@link #load} rebuilds the model from. */
    @Override
    public Map<String, String> configMetadata() {
        return cfg.toMetadata();
    }

    /** The configuration's mismatches ({@link ModelConfig#mismatches}): what {@code Checkpoint.load} refuses. */
    @Override
    public List<String> configMismatches(Map<String, String> metadata, String prefix) {
        return cfg.mismatches(metadata, prefix);
    }

    // ================================================================== training API

    /**
     * Trains on {@code train}, evaluating on {@code validation} (may be {@code null}) after each epoch;
     * see {@link FitOptions} for batching, the optimizer, clipping, schedules, callbacks, metrics, weights,
     * checkpoints and resuming.
     *
     * <p>A second {@code fit} continues the first, as in Keras: the optimizer's state (Adam's moments, its step
     * count), the epoch and step counts (so {@link FitOptions#epochs} is the epoch to train up to, as Keras's
     * {@code epochs} with {@code initial_epoch}) and with them the schedule's position go on (a schedule that
     * learns, such as {@code reduceOnPlateau}, keeps what it learnt when the same one is passed again); another
     * optimizer is refused; {@link #resetTraining()} starts over (the weights stay). {@link FitOptions#resumeFrom}
     * replaces that state with a checkpoint's.
     *
     * @throws IllegalArgumentException when the data does not fit the model (names the sequence), or the options
     *         cannot continue this model's training (another optimizer; no epochs left)
     * @throws IllegalStateException when the loss becomes NaN or infinite (names the step)
     * @throws OutOfMemoryError when the Java heap runs out, saying for which batch and the estimated need
     * @throws IOException when a checkpoint cannot be written or the one to resume from cannot be read
     */
    public History fit(SequenceDataset train, SequenceDataset validation, FitOptions options) throws IOException {
        requireOpen();
        try (ExclusiveUse.Held u = use.enter("fit")) {
            return fitUnguarded(train, validation, options);
        }
    }

    private History fitUnguarded(SequenceDataset train, SequenceDataset validation, FitOptions options) throws IOException {
        check("train", train, true);
        if (validation != null) {
            check("validation", validation, true);
        }
        if (options == null) {
            throw new IllegalArgumentException("options: expected fit options, got null");
        }
        options.schedule.checkBase(options.learningRate);
        return new Trainer<>(new SequenceModelTraining(this), train, validation, options).run();
    }

    /** Forgets the optimizer state and the epoch and step counts, so that the next {@code fit} starts over (the weights stay). */
    public void resetTraining() {
        requireOpen();
        try (ExclusiveUse.Held u = use.enter("resetTraining")) {
            continuation(null);
        }
    }

    /** Epochs trained so far (what the next {@code fit} continues from; 0 after {@link #resetTraining()}). */
    public int epochsTrained() {
        return training == null ? 0 : training.epoch;
    }

    /** Optimizer steps taken so far, counted as {@link #epochsTrained()}. */
    public long stepsTrained() {
        return training == null ? 0 : training.step;
    }

    Trainer.Continuation continuation() {
        return training;
    }

    /** Replaces the training state, releasing the previous one's optimizer. */
    void continuation(Trainer.Continuation next) {
        if (training != null && training != next) {
            training.close();
        }
        training = next;
    }

    /**
     * One training step for a custom loop (Keras's {@code train_on_batch}): a forward and backward pass over
     * all of {@code batch} at once, in training mode, adding to the parameters' gradients. Zero them, clip
     * and step with an optimizer over {@code List.of(model)} around it.
     *
     * @param dropoutSeed seeds the head dropout's mask (use a different one per step)
     * @return the mean loss over the batch's positions
     */
    public double trainOnBatch(SequenceDataset batch, long dropoutSeed) {
        return trainOnAll("batch", batch, dropoutSeed).loss();
    }

    /** {@link #trainStep} over every sequence of {@code data} as one batch (trainOnBatch, ModelGradients). */
    StepResult trainOnAll(String name, SequenceDataset data, long dropoutSeed) {
        requireOpen();
        try (ExclusiveUse.Held u = use.enter("trainOnBatch")) {
            if (data == null) {
                throw new IllegalArgumentException(name + ": expected a dataset, got null");
            }
            int[] all = java.util.stream.IntStream.range(0, data.size()).toArray();
            return trainStep(batch(name, data, all, true), dropoutSeed, null, false, null);
        }
    }

    /**
     * The metrics on {@code data} in inference mode: loss and accuracy, perplexity or RMSE and MAE, and the
     * given custom {@code metrics}. With sample weights in {@code data} the loss is their weighted mean.
     */
    public Map<String, Double> evaluate(SequenceDataset data, int batchSize, Metric... metrics) {
        requireOpen();
        try (ExclusiveUse.Held u = use.enter("evaluate")) {
            return evaluateUnguarded(data, batchSize, metrics);
        }
    }

    private Map<String, Double> evaluateUnguarded(SequenceDataset data, int batchSize, Metric... metrics) {
        check("data", data, true);
        positive("batchSize", batchSize);
        if (metrics == null) {
            throw new IllegalArgumentException("metrics: expected custom metrics (may be none), got null");
        }
        return evaluate(data, batchSize, Metrics.checked(List.of(metrics)));
    }

    Map<String, Double> evaluate(SequenceDataset data, int batchSize, List<Metric> custom) {
        Metrics metrics = new Metrics(cfg.task(), custom);
        boolean withOutput = Metrics.needsOutput(cfg.task(), custom);
        boolean wasTraining = rnn.isTraining();
        rnn.eval();
        try {
            for (int[] idx : Batches.byLength(data, batchSize)) {
                Batches.Batch b = batch("data", data, idx, true);
                try (Pass pass = new Pass(b, false, 0, null, null);
                     LossResult loss = pass.loss(null)) {
                    metrics.add(loss.value(), loss.weight(), withOutput ? pass.out.toHost() : null, b);
                }
            }
        } finally {
            if (wasTraining) {
                rnn.train();
            }
        }
        return metrics.values();
    }

    /**
     * The model's output for each sequence, in inference mode: class probabilities (softmax) for
     * classification, tagging and language models, values for regression. Element {@code i} has one row
     * for a many-to-one task and one row per step otherwise; each row has {@link ModelConfig#outputs()} values.
     */
    public List<float[][]> predict(SequenceDataset data, int batchSize) {
        requireOpen();
        try (ExclusiveUse.Held u = use.enter("predict")) {
            return predictUnguarded(data, batchSize);
        }
    }

    private List<float[][]> predictUnguarded(SequenceDataset data, int batchSize) {
        check("data", data, false);
        positive("batchSize", batchSize);
        float[][][] out = new float[data.size()][][];
        boolean wasTraining = rnn.isTraining();
        rnn.eval();
        try {
            for (int[] idx : Batches.byLength(data, batchSize)) {
                predictInto(batch("data", data, idx, false), idx, out, null);
            }
        } finally {
            if (wasTraining) {
                rnn.train();
            }
        }
        return List.of(out);
    }

    /**
     * Writes the predictions of batch {@code b} (sequences {@code idx} of the data) into {@code out}; with
     * {@code carry} (a {@link ModelStream}'s states) the stack starts from its states and they become the batch's
     * final ones.
     */
    private void predictInto(Batches.Batch b, int[] idx, float[][][] out, State carry) {
        int width = cfg.outputs();
        try (Pass pass = new Pass(b, false, 0, carry == null ? null : carry.h, carry == null ? null : carry.c)) {
            int rows = pass.out.dim(0);
            if (cfg.task().classes()) {
                engine.maskedSoftmax(rows, width, 1, null, pass.out.buffer(), 0, pass.out.buffer(), 0);
            }
            float[] host = pass.out.toHost();
            if (!cfg.task().perStep()) {
                for (int j = 0; j < b.batch(); j++) {
                    out[idx[j]] = new float[][] {Arrays.copyOfRange(host, j * width, (j + 1) * width)};
                }
            } else {
                for (int j = 0; j < b.batch(); j++) {
                    out[idx[j]] = new float[b.lengths()[j]][];
                }
                for (int r = 0; r < rows; r++) {
                    int t = b.positions()[r] / b.batch();
                    int j = b.positions()[r] % b.batch();
                    out[idx[j]][t] = Arrays.copyOfRange(host, r * width, (r + 1) * width);
                }
            }
            if (carry != null) {
                carry.replace(pass.fwd);
            }
        }
    }

    /** A batch of {@code batch} streams whose states carry from one prediction to the next: see {@link ModelStream}. */
    public ModelStream stream(int batch) {
        requireOpen();
        return new ModelStream(this, batch);
    }

    /** {@link #predict} of {@code data}, sequence {@code i} continuing stream {@code i} of {@code carry}. */
    List<float[][]> predictCarried(SequenceDataset data, State carry) {
        requireOpen();
        try (ExclusiveUse.Held u = use.enter("predict")) {
            check("data", data, false);
            float[][][] out = new float[data.size()][][];
            boolean wasTraining = rnn.isTraining();
            rnn.eval();
            try {
                int[] all = java.util.stream.IntStream.range(0, data.size()).toArray();
                predictInto(batch("data", data, all, false), all, out, carry);
            } finally {
                if (wasTraining) {
                    rnn.train();
                }
            }
            return List.of(out);
        }
    }

    /** The most likely class of every row of {@link #predict}: one per sequence, or one per step. */
    public List<int[]> predictClasses(SequenceDataset data, int batchSize) {
        if (!cfg.task().classes()) {
            throw new IllegalStateException("predictClasses: a " + cfg.task() + " model predicts values, not classes; use predict");
        }
        List<int[]> out = new ArrayList<>();
        for (float[][] rows : predict(data, batchSize)) {
            int[] c = new int[rows.length];
            for (int t = 0; t < rows.length; t++) {
                c[t] = argmax(rows[t], 0, rows[t].length);
            }
            out.add(c);
        }
        return out;
    }

    /**
     * Continues {@code prefix} by up to {@code length} tokens (a language model only), each drawn from the
     * softmax of the logits divided by {@code temperature}, or the most likely one when
     * {@code temperature <= 0} (greedy). The padding id is never drawn. Deterministic for a seed; the
     * states are carried from token to token on the device.
     *
     * @return the new tokens (without the prefix)
     */
    public int[] generate(int[] prefix, int length, double temperature, long seed) {
        requireOpen();
        try (ExclusiveUse.Held u = use.enter("generate")) {
            return generateUnguarded(prefix, length, temperature, seed);
        }
    }

    private int[] generateUnguarded(int[] prefix, int length, double temperature, long seed) {
        if (cfg.task() != Task.LANGUAGE_MODEL) {
            throw new IllegalStateException("generate: expected a LANGUAGE_MODEL, this model is a " + cfg.task());
        }
        if (prefix == null || prefix.length == 0) {
            throw new IllegalArgumentException("prefix: expected at least one token, got " + (prefix == null ? "null" : "none"));
        }
        if (length < 0 || length > MAX_GENERATED) {
            throw new IllegalArgumentException("length: expected a count in [0, " + MAX_GENERATED + "] (the tokens are "
                    + "returned in one array), got " + length);
        }
        for (int i = 0; i < prefix.length; i++) {
            if (prefix[i] < 0 || prefix[i] >= cfg.vocabSize()) {
                throw new IllegalArgumentException("prefix[" + i + "]: expected a token id in [0, " + cfg.vocabSize()
                        + "), got " + prefix[i]);
            }
        }
        if (Double.isNaN(temperature) || temperature == Double.POSITIVE_INFINITY) {
            throw new IllegalArgumentException("temperature: expected a finite number (<= 0 for greedy), got " + temperature);
        }
        SplittableRandom rnd = new SplittableRandom(seed);
        int[] generated = new int[length];
        boolean wasTraining = rnn.isTraining();
        rnn.eval();
        Tensor h = null;
        Tensor c = null;
        try {
            int[] feed = prefix;
            int width = cfg.featureSize();
            for (int i = 0; i < length; i++) {
                float[] logits;
                try (Tensor x = embedding.forward(feed, feed.length, 1);
                     ForwardResult fwd = rnn.forward(x, null, h, c);
                     Tensor last = Tensor.zeros(device, 1, width)) {
                    engine.copy(fwd.output().buffer(), (long) (feed.length - 1) * width, last.buffer(), 0, width);
                    try (Tensor out = head.forward(last)) {
                        logits = out.toHost();
                    }
                    Tensor nextH = fwd.hN().copyTo(device);
                    closeAll(h, c);
                    h = nextH;
                    c = fwd.cN() == null ? null : fwd.cN().copyTo(device);
                }
                generated[i] = sample(logits, temperature, cfg.padding(), rnd);
                feed = new int[] {generated[i]};
            }
        } finally {
            closeAll(h, c);
            if (wasTraining) {
                rnn.train();
            }
        }
        return generated;
    }

    // ================================================================== checkpoints

    /**
     * Writes the configuration and weights to one safetensors file ({@code torch}'s
     * {@code safetensors.torch.load_file} reads it; the names are {@code embedding.weight},
     * {@code rnn.weight_ih_l0}, {@code head.weight}, ...). {@link #load} rebuilds the model from it alone.
     */
    public void save(Path file) throws IOException {
        save(file, Map.of(), Map.of());
    }

    /** {@link #save(Path)} with extra metadata entries of the caller's (e.g. a vocabulary), read back with {@link Checkpoint#read}. */
    public void save(Path file, Map<String, String> metadata) throws IOException {
        if (metadata == null) {
            throw new IllegalArgumentException("metadata: expected a map (may be empty), got null");
        }
        for (String key : metadata.keySet()) {
            if (key == null || key.startsWith(ModelConfig.PREFIX) || key.startsWith("rnn4j.train.") || key.equals("format")
                    || configMetadata().containsKey(key)) {
                throw new IllegalArgumentException("metadata: the key '" + key + "' is reserved (save writes the "
                        + "model's configuration, 'rnn4j.model.*' and 'rnn.*', fit its training state, 'rnn4j.train.*', "
                        + "and 'format'): name it otherwise");
            }
        }
        save(file, Map.of(), metadata);
    }

    /** {@link #save(Path)} with extra tensors (optimizer state, best weights) and metadata (training state). */
    void save(Path file, Map<String, Tensor> extraTensors, Map<String, String> extraMetadata) throws IOException {
        requireOpen();
        try (ExclusiveUse.Held u = use.enter("save")) {
            saveUnguarded(file, extraTensors, extraMetadata);
        }
    }

    private void saveUnguarded(Path file, Map<String, Tensor> extraTensors, Map<String, String> extraMetadata)
            throws IOException {
        if (file == null) {
            throw new IllegalArgumentException("file: expected a path, got null");
        }
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Map<String, Tensor> tensors = new LinkedHashMap<>(parameters());
        tensors.putAll(extraTensors);
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.putAll(configMetadata());
        meta.putAll(extraMetadata);
        Checkpoint.save(file, tensors, meta);
    }

    /** A model rebuilt on {@code device} from a file written by {@link #save} or by {@code fit}'s checkpoints. */
    public static SequenceModel load(Path file, Device device) throws IOException {
        SafeTensors.Contents contents = Checkpoint.read(file);
        ModelConfig cfg;
        try {
            cfg = ModelConfig.fromMetadata(contents.metadata());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
        SequenceModel m = new SequenceModel(cfg, device);
        try {
            m.loadWeights(file, contents, "");
            return m;
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /**
     * Copies the tensors {@code prefix + name} of {@code contents} into the parameters, after checking that
     * every one is present with its shape (nothing is copied otherwise).
     */
    void loadWeights(Path file, SafeTensors.Contents contents, String prefix) {
        loadWeights(file, contents, prefix, parameters());
    }

    /** {@link #loadWeights(Path, SafeTensors.Contents, String)} into {@code params} (a {@link Seq2Seq}'s too). */
    static void loadWeights(Path file, SafeTensors.Contents contents, String prefix, Map<String, Tensor> params) {
        List<String> problems = weightMismatches(contents, prefix, params);
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(file + ": does not match the model, which is left unchanged: " + problems);
        }
        for (Map.Entry<String, Tensor> e : params.entrySet()) {
            e.getValue().copyFrom(contents.tensors().get(prefix + e.getKey()).data());
        }
    }

    /** Each of {@code targets} that {@code contents} lacks under {@code prefix + name}, or holds in another shape. */
    static List<String> weightMismatches(SafeTensors.Contents contents, String prefix, Map<String, Tensor> targets) {
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : targets.entrySet()) {
            SafeTensors.HostTensor t = contents.tensors().get(prefix + e.getKey());
            if (t == null) {
                problems.add("missing " + prefix + e.getKey());
            } else if (!Arrays.equals(t.shape(), e.getValue().shape())) {
                problems.add(prefix + e.getKey() + " has shape " + Arrays.toString(t.shape()) + ", expected "
                        + Arrays.toString(e.getValue().shape()));
            } else if (t.firstNonFinite() >= 0) {
                problems.add(prefix + e.getKey() + " holds " + t.data()[t.firstNonFinite()] + " at flat index "
                        + t.firstNonFinite() + " (non-finite values)");
            }
        }
        return problems;
    }

    // ================================================================== summary

    /**
     * A table of the layers, their output shapes ({@code T} steps, {@code B} sequences, {@code N} valid
     * positions), parameter counts and bytes (float32), with totals.
     */
    public String summary() {
        requireOpen();
        StringBuilder s = new StringBuilder();
        String row = "%-34s %-16s %12s %14s%n";
        s.append(String.format(Locale.ROOT, row, "layer", "output shape", "parameters", "bytes"));
        s.append("-".repeat(79)).append('\n');
        long total = 0;
        if (embedding != null) {
            total += line(s, row, embedding.toString().replace(" on " + device, ""), "[T, B, " + cfg.embeddingDim() + "]",
                    embedding);
        }
        total += line(s, row, rnn.config().toString(), "[T, B, " + cfg.featureSize() + "]", rnn);
        String featShape = cfg.task().perStep() ? "[N, " + cfg.featureSize() + "]" : "[B, " + cfg.featureSize() + "]";
        s.append(String.format(Locale.ROOT, row, cfg.task().perStep() ? "valid steps" : "h_n of the last layer",
                featShape, "0", "0"));
        if (cfg.dropout() > 0) {
            s.append(String.format(Locale.ROOT, row, "Dropout(" + cfg.dropout() + ")", featShape, "0", "0"));
        }
        total += line(s, row, "Linear(" + cfg.featureSize() + " -> " + cfg.outputs() + ")",
                cfg.task().perStep() ? "[N, " + cfg.outputs() + "]" : "[B, " + cfg.outputs() + "]", head);
        s.append("-".repeat(79)).append('\n');
        s.append(String.format(Locale.ROOT, "%s on %s: %,d parameters, %,d bytes (%,d more for gradients, "
                + "twice that for Adam's moments)%n", cfg.task(), device, total, 4 * total, 4 * total));
        String algorithms = device.engine().recurrentAlgorithms();   // empty on the CPU and before a first forward
        if (!algorithms.isEmpty()) {
            s.append("recurrent algorithms chosen on ").append(device).append(" so far:\n").append(algorithms);
        }
        return s.toString();
    }

    /**
     * {@link #summary()} followed by what training a batch of {@code batch} sequences of {@code steps} steps
     * needs on the model's device: see {@link #memoryEstimate}.
     */
    public String summary(int batch, int steps) {
        MemoryEstimate m = memoryEstimate(batch, steps);
        return summary() + String.format(Locale.ROOT, "training a batch of %d × %d steps needs about %,d bytes: "
                        + "parameters %,d, gradients %,d, Adam's moments %,d (SGD with momentum half, without none), "
                        + "activations %,d%n", batch, steps, m.total(), m.parameters(), m.gradients(), m.optimizer(),
                m.activations());
    }

    /**
     * Bytes that training needs on the device, float32: parameters, their gradients, the optimizer's state
     * (Adam's two moments; SGD with momentum needs half of it, without momentum none) and the activations of
     * one training step at its peak (what the forward keeps for BPTT, the input projections, and the backward's
     * workspaces), for {@code batch} sequences padded to {@code steps}. An estimate from the layer's buffer
     * shapes (a test holds it within 20% of the bytes a CPU step allocates); the engine's caching allocator may hold more.
     *
     * @param parameters bytes of the weights
     * @param gradients bytes of their gradients
     * @param optimizer bytes of Adam's moments
     * @param activations peak bytes of one step's activations
     */
    public record MemoryEstimate(long parameters, long gradients, long optimizer, long activations) {
        /** The sum. */
        public long total() {
            return parameters + gradients + optimizer + activations;
        }
    }

    /** See {@link MemoryEstimate}. */
    public MemoryEstimate memoryEstimate(int batch, int steps) {
        requireOpen();
        positive("batch", batch);
        positive("steps", steps);
        long params = 0;
        for (Tensor t : parameters().values()) {
            params += t.size();
        }
        // Floats of one step at its peak: what the forward keeps for BPTT, plus the larger of the forward's
        // transients (input projections, undropped outputs) and the backward's workspaces (input and output
        // gradients, one direction's scratch), as RecurrentLayer allocates them; then the embedding and the head.
        RecurrentConfig rc = rnn.config();
        long tb = (long) steps * batch;
        long h = rc.hiddenSize();
        long st = rc.stateSize();
        long gh = (long) rc.cell().gates() * h;
        long outF = rc.outputSize();
        int dirs = rc.directions();
        boolean lstm = rc.cell() == org.rnn4j.CellType.LSTM;
        boolean gated = lstm || rc.cell() == org.rnn4j.CellType.GRU;
        boolean resetAfterGru = rc.cell() == org.rnn4j.CellType.GRU && rc.resetAfter();
        long kept = tb * rc.inputSize() + tb * outF;     // the masked input copy, the output
        long forward = tb * outF;                         // the last layer's time-major output
        long backward = tb * outF + tb * rc.inputSize()   // the output gradient, the input gradient
                + tb * (st * dirs + gh * (resetAfterGru ? 2 : 1));   // one direction's scratch (dH, dG, reversed dY)
        for (int k = 0; k < rc.numLayers(); k++) {
            long in = rc.layerInputSize(k);
            boolean dropped = rc.dropout() > 0 && k < rc.numLayers() - 1;
            if (k < rc.numLayers() - 1) {
                kept += tb * outF;                        // the next layer's input (dropped out, or as is)
                forward += dropped ? tb * outF : 0;       // the output before dropout
            }
            backward += tb * in * dirs;                   // the layer's input gradient (and the reverse share)
            for (int d = 0; d < dirs; d++) {
                kept += (tb + batch) * st + (lstm ? (tb + batch) * h : 0) + (gated ? tb * 4 * h : 0)
                        + (rc.projSize() > 0 ? tb * h : 0) + (d == 1 ? tb * in : 0);   // states, gates, reversed input
                forward += tb * gh + (d == 1 ? tb * st : 0);   // input projection, reversed output
            }
        }
        long rows = cfg.task().perStep() ? tb : batch;
        long model = (cfg.tokens() ? tb * (1 + cfg.embeddingDim()) : tb * rc.inputSize())   // ids and embeddings, or features
                + 2 * rows * (cfg.featureSize() + cfg.outputs());   // the head's input, output and their gradients
        long f = model + kept + Math.max(forward, backward + (cfg.task().perStep() ? tb * outF : 0));
        return new MemoryEstimate(4 * params, 4 * params, 8 * params, 4 * f);
    }

    private static long line(StringBuilder s, String row, String name, String shape, HasParameters m) {
        long n = 0;
        for (Tensor t : m.parameters().values()) {
            n += t.size();
        }
        s.append(String.format(Locale.ROOT, row, name.length() > 34 ? name.substring(0, 31) + "..." : name, shape,
                String.format(Locale.ROOT, "%,d", n), String.format(Locale.ROOT, "%,d", 4 * n)));
        return n;
    }

    // ================================================================== one pass

    /**
     * The padded batch of sequences {@code idx} of {@code d}, checked against the model ({@link Batches#make}),
     * with targets equal to the ignore index set to −1 (ignored).
     */
    Batches.Batch batch(String name, SequenceDataset d, int[] idx, boolean needTargets) {
        Batches.Batch b = Batches.make(cfg, name, d, idx, needTargets);
        if (cfg.ignoreIndex() != ModelConfig.NO_IGNORE) {
            for (int[] targets : new int[][] {b.labels(), b.stepTargets()}) {
                if (targets != null) {
                    for (int i = 0; i < targets.length; i++) {
                        if (targets[i] == cfg.ignoreIndex()) {
                            targets[i] = -1;
                        }
                    }
                }
            }
        }
        return b;
    }

    ModuleGroup group() {
        return group;
    }

    /**
     * One training step's forward and backward over a batch, accumulating gradients: returns the mean
     * loss, its count and (when the metric needs it) the head's output on the host. With {@code carry},
     * the forward starts from its states and they are replaced by this batch's final states. With
     * {@code classWeights} (one per class) or sample weights in the batch, the loss is their weighted mean.
     */
    StepResult trainStep(Batches.Batch b, long dropoutSeed, State carry, boolean withOutput, float[] classWeights) {
        rnn.train();
        // where graphs are off the step runs eagerly on inputs of its own: the graphs' path is checked against it
        String eager = engine.capturesGraphs() ? wholeStepRefusal(b, carry, classWeights) : "";
        if (eager == null) {
            return wholeSteps.run(b, dropoutSeed, withOutput);
        }
        if (!eager.isEmpty() && !eager.equals(wholeStepSaid)) {
            wholeStepSaid = eager;
            LOG.log(System.Logger.Level.INFO, "rnn4j: " + this + ": training steps run as layer graphs, not as one "
                    + "graph per step: " + eager);
        }
        try (Pass pass = new Pass(b, true, dropoutSeed, carry == null ? null : carry.h, carry == null ? null : carry.c);
             LossResult loss = pass.loss(classWeights)) {
            pass.backward(loss.gradient());
            if (carry != null) {
                carry.replace(pass.fwd);
            }
            return new StepResult(loss.value(), loss.count(), loss.weight(), withOutput ? pass.out.toHost() : null);
        }
    }

    /**
     * Why a training step cannot run as one {@link Engine#replayableStep} (a CUDA graph of the whole step), or null
     * when it can: everything it reads from the host must be uploaded before it and nothing read back inside it.
     */
    private String wholeStepRefusal(Batches.Batch b, State carry, float[] classWeights) {
        if (carry != null) {
            return "stateful training carries each step's final states into the next";
        }
        if (rnn.precision() == Precision.BF16) {
            return "a BF16 layer checks on the host at every step whether its FP32 weights changed";
        }
        if (rnn.checksFinite()) {
            return "checkFinite reads the inputs back on the host";
        }
        if (!cfg.task().classes()) {
            return "the mean squared error reads its sum on the host";
        }
        if (classWeights != null || b.weights() != null) {
            return "a weighted loss groups its rows by weight on the host";
        }
        return null;
    }

    /** One step's mean loss, the number of terms and their total weight (the count without weights), and the output. */
    record StepResult(double loss, long count, double weight, float[] out) {
    }

    /** Final states carried from batch to batch (stateful training), detached copies. */
    static final class State implements AutoCloseable {
        Tensor h;
        Tensor c;

        void replace(ForwardResult fwd) {
            Tensor nh = fwd.hN().copyTo(fwd.hN().device());
            Tensor nc;
            try {
                nc = fwd.cN() == null ? null : fwd.cN().copyTo(fwd.cN().device());
            } catch (RuntimeException e) {
                nh.close();
                throw e;
            }
            close();
            h = nh;
            c = nc;
        }

        @Override
        public void close() {
            closeAll(h, c);
            h = null;
            c = null;
        }
    }

    /**
     * What a batch's pass reads from the host, on the device: uploaded before any launch of the pass, and
     * {@link #set} again in place for the next batch of the same shape (a replayed step graph reads them).
     */
    private final class StepInputs implements AutoCloseable {
        final DeviceInts ids;         // [T·B] token ids, or null
        final Tensor x;               // [T, B, F] features, or null
        final DeviceInts lengths;     // [B]
        final DeviceInts positions;   // [N] valid positions t·B + b, per-step tasks; else null
        final DeviceInts targets;     // [B] labels or [N] step targets (−1: ignored), class tasks with targets; else null
        // the dropout seeds of a step graph's step (2 int32 each), written before it; null: passed to the kernels
        final DeviceInts headSeed;
        final DeviceInts layerSeed;

        StepInputs(Batches.Batch b) {
            this(b, false);
        }

        /** {@code seeds}: with device memory for the dropout seeds ({@link #setSeeds}). */
        StepInputs(Batches.Batch b, boolean seeds) {
            List<AutoCloseable> made = new ArrayList<>();
            try {
                ids = b.ids() == null ? null : track(made, DeviceInts.of(device, b.ids()));
                x = b.ids() != null ? null : track(made, Tensor.of(device, b.x(), b.steps(), b.batch(), cfg.inputFeatures()));
                lengths = track(made, DeviceInts.of(device, b.lengths()));
                positions = cfg.task().perStep() ? track(made, DeviceInts.of(device, b.positions())) : null;
                int[] t = classTargets(b);
                targets = t == null ? null : track(made, DeviceInts.of(device, t));
                headSeed = seeds ? track(made, DeviceInts.of(device, new int[2])) : null;
                layerSeed = seeds ? track(made, DeviceInts.of(device, new int[2])) : null;
            } catch (RuntimeException e) {
                for (AutoCloseable c : made) {
                    closeQuietly(c);
                }
                throw e;
            }
        }

        /** Uploads batch {@code b}, of the shape these inputs were made for, in place. */
        void set(Batches.Batch b) {
            if (ids != null) {
                ids.set(b.ids());
            } else {
                x.copyFrom(b.x());
            }
            lengths.set(b.lengths());
            if (positions != null) {
                positions.set(b.positions());
            }
            if (targets != null) {
                targets.set(classTargets(b));
            }
        }

        /** Writes the head's dropout seed of this step and the stack's next one. */
        void setSeeds(long head) {
            headSeed.set(new int[] {(int) head, (int) (head >>> 32)});
            rnn.stageDropoutSeed(layerSeed);
        }

        /** The device memory of these inputs: what a pass reads from them (a graph's key), and what close frees. */
        List<Tensor> tensors() {
            List<Tensor> l = new ArrayList<>();
            for (DeviceInts d : new DeviceInts[] {ids, lengths, positions, targets, headSeed, layerSeed}) {
                if (d != null) {
                    l.add(d.tensor());
                }
            }
            if (x != null) {
                l.add(x);
            }
            return l;
        }

        @Override
        public void close() {
            closeAll(tensors().toArray(new Tensor[0]));
        }
    }

    /** The class targets a batch's loss reads (labels, or a class per valid position), or null. */
    private int[] classTargets(Batches.Batch b) {
        return !cfg.task().classes() ? null : cfg.task() == Task.CLASSIFICATION ? b.labels() : b.stepTargets();
    }

    /** The tensors of one forward pass through embedding, stack, feature selection, dropout and head. */
    private final class Pass implements AutoCloseable {
        final Batches.Batch b;
        final StepInputs in;
        final boolean ownsInputs;
        final boolean training;
        final long seed;
        final List<Tensor> owned = new ArrayList<>();
        ForwardResult fwd;
        Tensor feat;        // [B, D·S] or [N, D·S], after dropout
        Tensor out;         // [B, C] or [N, C|O]

        Pass(Batches.Batch b, boolean training, long seed, Tensor h0, Tensor c0) {
            this(b, new StepInputs(b), true, training, seed, h0, c0);
        }

        /** A pass over inputs uploaded already ({@code ownsInputs}: closed with the pass). */
        Pass(Batches.Batch b, StepInputs in, boolean ownsInputs, boolean training, long seed, Tensor h0, Tensor c0) {
            this.b = b;
            this.in = in;
            this.ownsInputs = ownsInputs;
            this.training = training;
            this.seed = seed;
            try {
                Tensor x = embedding != null ? own(embedding.forwardStaged(in.ids, b.steps(), b.batch())) : in.x;
                fwd = rnn.forwardStaged(x, in.lengths, in.layerSeed, h0, c0);
                feat = own(features());
                if (training && cfg.dropout() > 0) {
                    headDropout(feat);
                }
                out = own(head.forward(feat));
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }

        private Tensor own(Tensor t) {
            owned.add(t);
            return t;
        }

        /** The head's dropout of {@code t} in place (its backward too: the same mask), seeded from the device where staged. */
        private void headDropout(Tensor t) {
            Buffer base = in.headSeed == null ? null : in.headSeed.tensor().buffer();
            engine.dropout(t.size(), cfg.dropout(), base, 0, base == null ? seed : 0, t.buffer(), 0, t.buffer(), 0);
        }

        /** The head's input: the last layer's {@code h_n} per sequence, or the output at each valid step. */
        private Tensor features() {
            RecurrentConfig rc = rnn.config();
            int dirs = rc.directions();
            int s = rc.stateSize();
            int width = cfg.featureSize();
            if (!cfg.task().perStep()) {
                Tensor f = Tensor.zeros(device, b.batch(), width);
                long off = (long) (rc.numLayers() - 1) * dirs * b.batch() * s;
                // hN[(L−1)·D + d, b, :] → f[b, d·S : (d+1)·S]
                engine.swapLeadingAxes(dirs, b.batch(), s, fwd.hN().buffer(), off, f.buffer(), 0);
                return f;
            }
            int n = in.positions.size();
            Tensor f = Tensor.zeros(device, n, width);
            engine.gatherRows(n, width, in.positions.tensor().buffer(), 0, fwd.output().buffer(), 0, f.buffer(), 0);
            return f;
        }

        LossResult loss(float[] classWeights) {
            return switch (cfg.task()) {
                case CLASSIFICATION, TAGGING, LANGUAGE_MODEL -> {
                    int[] targets = classTargets(b);
                    if (classWeights == null && b.weights() == null) {
                        yield in.targets != null ? Losses.crossEntropyLastStep(out, in.targets)
                                : Losses.crossEntropyLastStep(out, targets);
                    }
                    // row r's weight: its target's class weight times its sequence's sample weight
                    float[] w = new float[targets.length];
                    for (int r = 0; r < w.length; r++) {
                        int seq = cfg.task().perStep() ? b.positions()[r] % b.batch() : r;
                        w[r] = (classWeights == null || targets[r] < 0 ? 1f : classWeights[targets[r]])
                                * (b.weights() == null ? 1f : b.weights()[seq]);
                    }
                    yield Losses.crossEntropyWeighted(out, targets, w);
                }
                case REGRESSION, SEQUENCE_REGRESSION -> {
                    try (Tensor target = Tensor.of(device, b.values(), out.shape())) {
                        yield Losses.mse(out, target);
                    }
                }
            };
        }

        /** Backpropagates {@code dOut} through head, dropout, feature selection, stack and embedding. */
        void backward(Tensor dOut) {
            RecurrentConfig rc = rnn.config();
            try (Tensor dFeat = head.backward(feat, dOut)) {
                if (cfg.dropout() > 0) {
                    headDropout(dFeat);
                }
                BackwardResult back;
                if (!cfg.task().perStep()) {
                    int dirs = rc.directions();
                    int s = rc.stateSize();
                    try (Tensor dhN = Tensor.zeros(device, rc.numLayers() * dirs, b.batch(), s)) {
                        long off = (long) (rc.numLayers() - 1) * dirs * b.batch() * s;
                        engine.swapLeadingAxes(b.batch(), dirs, s, dFeat.buffer(), 0, dhN.buffer(), off);
                        back = rnn.backward(fwd, null, dhN, null);
                    }
                } else {
                    try (Tensor dY = Tensor.zeros(device, b.steps(), b.batch(), cfg.featureSize())) {
                        engine.scatterAddRows(in.positions.size(), cfg.featureSize(), in.positions.tensor().buffer(), 0,
                                dFeat.buffer(), 0, dY.buffer(), 0);
                        back = rnn.backward(fwd, dY, null, null);
                    }
                }
                try (BackwardResult r = back) {
                    if (embedding != null) {
                        embedding.backwardStaged(in.ids, r.dX());
                    }
                }
            }
        }

        @Override
        public void close() {
            if (fwd != null) {
                fwd.close();
            }
            for (Tensor t : owned) {
                t.close();
            }
            if (ownsInputs) {
                in.close();
            }
        }
    }

    /**
     * Training steps as one {@link Engine#replayableStep} each (on CUDA: one graph launch per step once a batch shape
     * repeats). Each batch shape gets inputs of its own, uploaded in place before the step, and a loss sum and output
     * that the step copies out, so that a replay needs nothing of the host but those uploads and one read.
     */
    private final class WholeSteps implements AutoCloseable {
        /** The shapes kept: the CUDA engine keeps as many step graphs. */
        static final int MAX_SHAPES = 4;
        private final LinkedHashMap<List<Object>, Slot> slots = new LinkedHashMap<>(8, 0.75f, true);

        /** One batch shape's inputs and outputs. */
        private final class Slot implements AutoCloseable {
            final StepInputs in;
            final Tensor lossSum;
            final Tensor out;   // the head's output, for metrics that read it; null without

            Slot(Batches.Batch b, boolean withOutput, int[] outShape) {
                in = new StepInputs(b, true);
                Tensor sum = null;
                try {
                    sum = Tensor.zeros(device, 1);
                    out = withOutput ? Tensor.zeros(device, outShape) : null;
                } catch (RuntimeException e) {
                    closeQuietly(sum);
                    in.close();
                    throw e;
                }
                lossSum = sum;
            }

            @Override
            public void close() {
                in.close();
                closeAll(lossSum, out);
            }
        }

        StepResult run(Batches.Batch b, long dropoutSeed, boolean withOutput) {
            int[] targets = classTargets(b);
            long count = 0;
            for (int t : targets) {
                count += t >= 0 ? 1 : 0;
            }
            int rows = cfg.task().perStep() ? b.positions().length : b.batch();
            int[] outShape = {rows, cfg.outputs()};
            // every size, and the loss's 1/count, follows from these
            List<Object> shape = List.of(cfg, b.steps(), b.batch(), rows, count, withOutput);
            Slot slot = slots.get(shape);
            if (slot == null) {
                slot = new Slot(b, withOutput, outShape);
                slots.put(shape, slot);
                if (slots.size() > MAX_SHAPES) {
                    var eldest = slots.entrySet().iterator();
                    Slot evicted = eldest.next().getValue();
                    eldest.remove();
                    evicted.close();
                }
            } else {
                slot.in.set(b);
            }
            Slot s = slot;
            s.in.setSeeds(dropoutSeed);
            List<Buffer> buffers = new ArrayList<>();
            for (Map<String, Tensor> m : List.of(group.parameters(), group.gradients())) {
                m.values().forEach(t -> buffers.add(t.buffer()));
            }
            s.in.tensors().forEach(t -> buffers.add(t.buffer()));
            buffers.add(s.lossSum.buffer());
            if (s.out != null) {
                buffers.add(s.out.buffer());
            }
            // a replay runs none of the pass's host checks: Batches.make checked the batch against the model (ids,
            // lengths, targets), and the rest follows from the shape
            Map<String, Tensor> params = group.parameters();
            long[] versions = Tensor.versionsForReading(SequenceModel.this, params, "trainStep");
            long forwards = rnn.dropoutCalls();
            boolean ran = engine.replayableStep(shape, buffers.toArray(new Buffer[0]), () -> {
                rnn.restoreDropoutCalls(forwards);   // a failed capture runs this again
                try (Pass pass = new Pass(b, s.in, false, true, dropoutSeed, null, null);
                     LossResult loss = pass.loss(null)) {
                    pass.backward(loss.gradient());
                    if (loss.sumOnDevice() != null) {
                        engine.copy(loss.sumOnDevice().buffer(), 0, s.lossSum.buffer(), 0, 1);
                    } else {
                        engine.fill(s.lossSum.buffer(), 0, 1, 0f);
                    }
                    if (s.out != null) {
                        engine.copy(pass.out.buffer(), 0, s.out.buffer(), 0, pass.out.size());
                    }
                }
            });
            if (!ran) {   // a replay: what the step does on the host
                rnn.restoreDropoutCalls(forwards + 1);
                group.gradients().values().forEach(Tensor::bufferForWrite);
            }
            Tensor.requireVersions(SequenceModel.this, params, versions, "trainStep");
            double loss = count == 0 ? 0 : s.lossSum.toHost()[0] / (double) count;
            return new StepResult(loss, count, count, s.out == null ? null : s.out.toHost());
        }

        @Override
        public void close() {
            slots.values().forEach(Slot::close);
            slots.clear();
        }
    }

    // ================================================================== checks and helpers

    /** Checks that all of {@code data} fits this model (its kind, ids, widths, values and targets) before any work. */
    private void check(String name, SequenceDataset data, boolean needTargets) {
        Batches.check(cfg, name, data, null, needTargets);
    }

    static void positive(String name, int v) {
        if (v < 1) {
            throw new IllegalArgumentException(name + ": expected >= 1, got " + v);
        }
    }

    /** The index of the largest of {@code v[off .. off+n)} (the first on ties). */
    static int argmax(float[] v, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (v[off + i] > v[off + best]) {
                best = i;
            }
        }
        return best;
    }

    private static int sample(float[] logits, double temperature, int banned, SplittableRandom rnd) {
        int best = banned == 0 ? 1 : 0;
        for (int i = 0; i < logits.length; i++) {
            if (i != banned && logits[i] > logits[best]) {
                best = i;
            }
        }
        if (temperature <= 0) {
            return best;
        }
        double[] p = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < logits.length; i++) {
            p[i] = i == banned ? 0 : Math.exp((logits[i] - logits[best]) / temperature);
            sum += p[i];
        }
        double u = rnd.nextDouble() * sum;
        for (int i = 0; i < p.length; i++) {
            u -= p[i];
            if (u <= 0 && p[i] > 0) {
                return i;
            }
        }
        return best;
    }

    static void closeAll(Tensor... ts) {
        for (Tensor t : ts) {
            if (t != null) {
                t.close();
            }
        }
    }

    /** Adds {@code c} to {@code made} (what a constructor closes if it fails part-way) and returns it. */
    static <T extends AutoCloseable> T track(List<AutoCloseable> made, T c) {
        made.add(c);
        return c;
    }

    /** Closes {@code c} (null: nothing) after a failure: the first exception is the one to report. */
    static void closeQuietly(AutoCloseable c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (Exception ignored) {
            // the failure being handled is reported instead
        }
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("SequenceModel(" + cfg.task() + ") is closed");
        }
    }

    /** Releases every parameter, gradient and workspace. */
    @Override
    public void close() {
        try (ExclusiveUse.Held u = use.enter("close")) {
            if (closed) {
                return;
            }
            closed = true;
            wholeSteps.close();
            continuation(null);
            if (embedding != null) {
                embedding.close();
            }
            rnn.close();
            head.close();
        }
    }

    /** Zeroes every gradient (never while another thread is in a call of this model). */
    @Override
    public void zeroGrad() {
        try (ExclusiveUse.Held u = use.enter("zeroGrad")) {
            group.zeroGrad();
        }
    }

    @Override
    public String toString() {
        return "SequenceModel(" + cfg + ") on " + device;
    }

    // ================================================================== builder

    /**
     * The seed a model with seed {@code modelSeed} gives a recurrent stack whose builder has none (the
     * embedding takes {@code modelSeed}, the head {@code modelSeed + 1}).
     */
    public static long stackSeed(long modelSeed) {
        return modelSeed * 0x9E3779B97F4A7C15L + 0x632BE59BD9B4E019L;
    }

    /** Builds a {@link ModelConfig} and the model, e.g. {@code builder(TAGGING).embedding(v, 32).recurrent(Lstm.builder(32, 64)).outputs(9)}. */
    public static final class Builder {
        private final Task task;
        private int vocab;
        private int embeddingDim;
        private int padding = Embedding.NO_PADDING;
        private int features;
        private RecurrentConfig recurrent;
        private boolean recurrentSeeded;
        private double dropout;
        private int outputs;
        private long seed;
        private int ignoreIndex = ModelConfig.NO_IGNORE;

        Builder(Task task) {
            if (task == null) {
                throw new IllegalArgumentException("task: expected a task, got null");
            }
            this.task = task;
        }

        /** Token inputs through an embedding {@code [vocab, dim]} (a language model's outputs default to {@code vocab}). */
        public Builder embedding(int vocab, int dim) {
            return embedding(vocab, dim, Embedding.NO_PADDING);
        }

        /** Token inputs with a padding id whose embedding stays zero (PyTorch's {@code padding_idx}). */
        public Builder embedding(int vocab, int dim, int padding) {
            this.vocab = vocab;
            this.embeddingDim = dim;
            this.padding = padding;
            return this;
        }

        /** Dense inputs of {@code n} features per step. */
        public Builder features(int n) {
            this.features = n;
            return this;
        }

        /** The recurrent stack, e.g. {@code Lstm.builder(32, 64).numLayers(2)}; its input size must be the embedding dim or feature count. */
        public Builder recurrent(RecurrentConfig.Builder<?> builder) {
            if (builder == null) {
                throw new IllegalArgumentException("builder: expected a recurrent layer builder, got null");
            }
            this.recurrent = builder.config();
            this.recurrentSeeded = builder.hasSeed();
            return this;
        }

        /** Dropout on the head's input in training, in [0, 1) (default 0). */
        public Builder dropout(double p) {
            this.dropout = p;
            return this;
        }

        /** Classes (classification, tagging) or values per step (regression). */
        public Builder outputs(int n) {
            this.outputs = n;
            return this;
        }

        /**
         * Seeds the embedding, the head, the head dropout and, unless its builder was given a {@code seed} of its
         * own, the recurrent stack (from {@link SequenceModel#stackSeed}), so that models of one shape with different seeds
         * start different throughout. Default 0.
         */
        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /**
         * A class target (label or tag) that counts nowhere, not in the loss or the metrics (PyTorch's
         * {@code ignore_index}; e.g. −100 for the sub-word pieces of a tagged word). Classification and tagging.
         */
        public Builder ignoreIndex(int index) {
            this.ignoreIndex = index;
            return this;
        }

        /** The configuration, validated. */
        public ModelConfig config() {
            int out = outputs == 0 && task == Task.LANGUAGE_MODEL ? vocab : outputs;
            RecurrentConfig rc = recurrent;
            if (rc != null && !recurrentSeeded) {
                Map<String, String> m = new LinkedHashMap<>(rc.toMetadata());
                m.put("seed", Long.toString(stackSeed(seed)));
                rc = RecurrentConfig.fromMetadata(m, "");
            }
            return new ModelConfig(task, vocab, embeddingDim, padding, features, rc, (float) dropout, out, seed, ignoreIndex);
        }

        public SequenceModel build(Device device) {
            return new SequenceModel(config(), device);
        }
    }
}
