package org.rnn4j.model;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.rnn4j.HasParameters;
import org.rnn4j.Tensor;
import org.rnn4j.cuda.CudaException;
import org.rnn4j.train.Adam;
import org.rnn4j.train.Checkpoint;
import org.rnn4j.train.Optimizer;
import org.rnn4j.train.SafeTensors;
import org.rnn4j.train.Sgd;

/**
 * The loop behind {@link SequenceModel#fit} and {@link Seq2Seq#fit}, over what a {@link Trainable} gives it.
 * Everything a step depends on is a function of the seed, the epoch and the step (the batch order, the head's
 * dropout masks), or of the recurrent stacks' counts of training forwards (their inter-layer dropout masks), or
 * is saved in a checkpoint (weights, optimizer state and step count, those dropout counts, schedule state, callback
 * state and weight snapshots), so a run resumed from a checkpoint computes the same numbers as one that never
 * stopped. What a model keeps between {@code fit} calls is a {@link Continuation}.
 */
final class Trainer<B extends Trainable.PaddedBatch> implements TrainingRun {
    private static final String T = "rnn4j.train.";
    private static final String CALLBACK = T + "callback.";
    private static final String OPT = "optimizer.";
    private static final String SNAPSHOT = "snapshot.";

    /** What a model carries from one {@code fit} to the next: the optimizer with its state, the counts. */
    static final class Continuation implements AutoCloseable {
        final Optimizer optimizer;
        final FitOptions.OptimizerKind kind;
        final double weightDecay;
        final double momentum;
        int epoch;            // epochs finished
        long step;            // optimizer steps taken
        double bestLoss = Double.POSITIVE_INFINITY;   // the monitored loss, for History.bestEpoch
        int bestEpoch;
        int startEpoch;       // where the current fit began: its steps all have its batch size
        long startStep;
        int lastEpochSteps;   // steps of the last epoch (fewer than the batches when stopped inside it)

        Continuation(Trainable<?> model, FitOptions o) {
            List<HasParameters> modules = List.of(model.group());
            this.optimizer = switch (o.optimizer) {
                case ADAM -> new Adam(modules, o.learningRate);
                case ADAMW -> new Adam(modules, o.learningRate, 0.9, 0.999, 1e-8, o.weightDecay, true);
                case SGD -> new Sgd(modules, o.learningRate, o.momentum, 0, false);
            };
            this.kind = o.optimizer;
            this.weightDecay = o.weightDecay;
            this.momentum = o.momentum;
        }

        /** Whether {@code o} asks for this optimizer, so that its state can go on. */
        boolean sameOptimizer(FitOptions o) {
            return kind == o.optimizer && weightDecay == o.weightDecay && momentum == o.momentum;
        }

        static String describe(FitOptions.OptimizerKind kind, double weightDecay, double momentum) {
            return kind + (kind == FitOptions.OptimizerKind.ADAMW ? " (weight decay " + weightDecay + ")"
                    : kind == FitOptions.OptimizerKind.SGD ? " (momentum " + momentum + ")" : "");
        }

        @Override
        public void close() {
            optimizer.close();
        }
    }

    private final Trainable<B> model;
    private final SequenceDataset train;
    private final SequenceDataset validation;
    private final FitOptions o;
    private final List<Callback> callbacks = new ArrayList<>();
    private final Map<String, Map<String, Tensor>> snapshots = new LinkedHashMap<>();
    private Continuation s;
    private Map<String, String> resumedMeta;   // the checkpoint's metadata, for the callbacks' state
    private Runnable pendingResume;            // puts a checked checkpoint in place, once the callbacks have their state
    private boolean stop;
    private int batchesPerEpoch;
    private long epochStart;
    private long sequences;
    private B current;

    Trainer(Trainable<B> model, SequenceDataset train, SequenceDataset validation, FitOptions o) {
        this.model = model;
        this.train = train;
        this.validation = validation;
        this.o = o;
        if (o.stateful && train.size() % o.batchSize != 0) {
            throw new IllegalArgumentException("train: expected a multiple of batchSize=" + o.batchSize
                    + " sequences for stateful training (each batch continues the previous one), got " + train.size());
        }
        model.checkOptions(o);
        callbacks.addAll(o.callbacks);
        if (o.patience >= 0) {
            callbacks.add(new EarlyStopping(validation != null ? "val_loss" : "loss").patience(o.patience)
                    .restoreBestWeights(o.restoreBest));
        }
        if (o.progress != null) {
            callbacks.add(new ProgressBar(o.progress));
        }
        if (o.checkpoints != null) {
            callbacks.add(o.checkpoints);
        }
    }

    History run() throws IOException {
        List<History.Epoch> epochs = new ArrayList<>();
        try (SequenceModel.State carry = o.stateful ? new SequenceModel.State() : null) {
            start();
            if (o.epochs <= s.epoch) {
                throw new IllegalArgumentException("epochs: expected more than the " + s.epoch + " epochs this model has "
                        + "trained (fit continues the count, as Keras's initial_epoch: ask for epochs(" + (s.epoch + o.epochs)
                        + ") to train " + o.epochs + " more, or call resetTraining() to start over), got " + o.epochs);
            }
            batchesPerEpoch = (train.size() + o.batchSize - 1) / o.batchSize;
            callbacks.forEach(c -> c.onTrainBegin(this));
            if (pendingResume != null) {
                restoreCallbacks();
                pendingResume.run();
                pendingResume = null;
                model.continuation(s);
            }
            boolean withOutput = model.needsOutput(o.metrics);
            Optimizer opt = s.optimizer;
            opt.setGlobalClipNorm(o.clipNorm);
            while (s.epoch < o.epochs && !stop) {
                int epoch = s.epoch;
                callbacks.forEach(c -> c.onEpochBegin(this, epoch + 1));
                epochStart = System.nanoTime();
                sequences = 0;
                List<int[]> plan = o.stateful ? Batches.inOrder(train, o.batchSize)
                        : Batches.shuffled(train, o.batchSize, o.bucketing, o.seed, epoch);
                if (carry != null) {
                    carry.close();
                }
                Trainable.RunningMetrics<B> metrics = model.runningMetrics(o.metrics);
                int stepsThisEpoch = 0;
                for (int i = 0; i < plan.size() && !stop; i++) {
                    int batch = i + 1;
                    current = model.batch("train", train, plan.get(i), true);
                    callbacks.forEach(c -> c.onBatchBegin(this, batch));
                    opt.setLearningRate(o.schedule.rate(o.learningRate, s.step, epoch));
                    opt.zeroGrad();
                    SequenceModel.StepResult r = model.trainStep(current, dropoutSeed(s.step), carry, withOutput,
                            o.classWeights);
                    if (!Double.isFinite(r.loss())) {
                        throw new IllegalStateException(String.format(Locale.ROOT,
                                "loss: expected a finite value, got %s at epoch %d step %d (learning rate %g); "
                                        + "lower the learning rate or clip harder", r.loss(), epoch + 1, s.step + 1,
                                opt.learningRate()));
                    }
                    opt.step();   // clips first, on the device (setGlobalClipNorm above)
                    s.step++;
                    stepsThisEpoch++;
                    metrics.add(r.loss(), r.weight(), r.out(), current);
                    sequences += current.batch();
                    Map<String, Double> running = metrics.values();
                    callbacks.forEach(c -> c.onBatchEnd(this, batch, running));
                }
                current = null;
                s.lastEpochSteps = stepsThisEpoch;
                Map<String, Double> trainMetrics = metrics.values();
                Map<String, Double> valMetrics = validation == null ? Map.of()
                        : model.evaluate(validation, o.batchSize, o.metrics);
                double monitored = validation == null ? trainMetrics.get("loss") : valMetrics.get("loss");
                o.schedule.epochEnd(monitored);
                s.epoch++;
                if (monitored < s.bestLoss) {
                    s.bestLoss = monitored;
                    s.bestEpoch = s.epoch;
                }
                double seconds = (System.nanoTime() - epochStart) / 1e9;
                History.Epoch done = new History.Epoch(s.epoch, opt.learningRate(), trainMetrics, valMetrics, seconds,
                        sequencesPerSecond());
                epochs.add(done);
                callbacks.forEach(c -> c.onEpochEnd(this, done));
            }
            callbacks.forEach(c -> c.onTrainEnd(this));
        } catch (UncheckedIOException e) {
            throw e.getCause();
        } catch (OutOfMemoryError e) {
            OutOfMemoryError described = new OutOfMemoryError("Java heap: " + whereAndHowMuch()
                    + "; the JVM's maximum heap is " + Runtime.getRuntime().maxMemory() + " bytes (raise -Xmx or lower "
                    + "batchSize or the sequence length)");
            described.initCause(e);
            throw described;
        } catch (CudaException e) {
            if (!"CUDA_ERROR_OUT_OF_MEMORY".equals(e.status())) {
                throw e;
            }
            CudaException described = new CudaException(e.call(), e.status(), "device memory of " + model.device() + ": "
                    + whereAndHowMuch() + " (lower batchSize or the sequence length); " + e.getMessage());
            described.initCause(e);
            throw described;
        } finally {
            if (pendingResume != null && s != null) {   // a refused resume: the model keeps its own state
                s.close();
            }
            snapshots.values().forEach(m -> m.values().forEach(Tensor::close));
            snapshots.clear();
        }
        return new History(List.copyOf(epochs), s.bestEpoch, stop);
    }

    /** Where fit ran out of memory and what {@link SequenceModel#memoryEstimate} says the batch needs. */
    private String whereAndHowMuch() {
        if (current == null) {
            return String.format(Locale.ROOT, "fit ran out of memory at epoch %d step %d, outside a training batch",
                    s == null ? 1 : s.epoch + 1, s == null ? 1 : s.step + 1);
        }
        SequenceModel.MemoryEstimate m = model.memoryEstimate(current.batch(), current.steps());
        if (m == null) {
            return String.format(Locale.ROOT, "fit ran out of memory at epoch %d step %d, on a batch of %d sequences × %d steps",
                    s.epoch + 1, s.step + 1, current.batch(), current.steps());
        }
        long optimizer = s.kind == FitOptions.OptimizerKind.SGD ? (s.momentum > 0 ? m.optimizer() / 2 : 0) : m.optimizer();
        return String.format(Locale.ROOT, "fit ran out of memory at epoch %d step %d, on a batch of %d sequences × %d steps; "
                        + "training it needs about %,d bytes (parameters and gradients %,d, optimizer state %,d, "
                        + "activations %,d: SequenceModel.summary(%d, %d))", s.epoch + 1, s.step + 1, current.batch(),
                current.steps(), m.parameters() + m.gradients() + optimizer + m.activations(),
                m.parameters() + m.gradients(), optimizer, m.activations(), current.batch(), current.steps());
    }

    /** Takes the model's training state: a checkpoint's, the previous fit's, or a fresh one. */
    private void start() throws IOException {
        Continuation previous = model.continuation();
        if (o.resumeFrom != null) {
            Continuation c = new Continuation(model, o);
            try {
                pendingResume = resume(c);
            } catch (IOException | RuntimeException e) {
                c.close();
                throw e;
            }
            s = c;   // the model takes it once the checkpoint is in place
            return;
        } else if (previous == null) {
            model.continuation(new Continuation(model, o));
            o.schedule.reset();
        } else if (!previous.sameOptimizer(o)) {
            throw new IllegalArgumentException("options: this model's training continues with "
                    + Continuation.describe(previous.kind, previous.weightDecay, previous.momentum) + ", the options ask for "
                    + Continuation.describe(o.optimizer, o.weightDecay, o.momentum)
                    + "; call resetTraining() to start over with another optimizer");
        }
        s = model.continuation();
        s.startEpoch = s.epoch;
        s.startStep = s.step;
    }

    /** A dropout seed per optimizer step, a pure function of the run's seed. */
    private long dropoutSeed(long step) {
        return o.seed * 0xD1B54A32D192ED03L + step * 0x9E3779B97F4A7C15L + 1;
    }

    // ------------------------------------------------------------------ TrainingRun

    @Override
    public HasParameters model() {
        return model.model();
    }

    @Override
    public int epoch() {
        return s.epoch;
    }

    @Override
    public int epochs() {
        return o.epochs;
    }

    @Override
    public long step() {
        return s.step;
    }

    @Override
    public int batchesPerEpoch() {
        return batchesPerEpoch;
    }

    @Override
    public double learningRate() {
        return s.optimizer.learningRate();
    }

    @Override
    public double sequencesPerSecond() {
        return sequences / Math.max(1e-9, (System.nanoTime() - epochStart) / 1e9);
    }

    @Override
    public boolean hasValidation() {
        return validation != null;
    }

    @Override
    public boolean higherIsBetter(String metric) {
        if (metric == null) {
            throw new IllegalArgumentException("metric: expected a metric name, got null");
        }
        boolean val = metric.startsWith("val_");
        String name = val ? metric.substring(4) : metric;
        List<String> names = model.metricNames(o.metrics, false);
        List<String> valNames = validation == null ? List.of() : model.metricNames(o.metrics, true);
        if (!(val ? valNames : names).contains(name)) {
            List<String> all = new ArrayList<>(names);
            valNames.forEach(n -> all.add("val_" + n));
            throw new IllegalArgumentException("metric: expected one of " + all + " for this fit, got '" + metric + "'");
        }
        return model.higherIsBetter(name, o.metrics);
    }

    @Override
    public void stop() {
        stop = true;
    }

    @Override
    public boolean stopRequested() {
        return stop;
    }

    @Override
    public void snapshotWeights(String name) {
        if (name == null || name.isEmpty() || name.contains(",")) {
            throw new IllegalArgumentException("name: expected a name without commas, got " + (name == null ? "null" : "'" + name + "'"));
        }
        Map<String, Tensor> copy = snapshots.get(name);
        if (copy == null) {
            copy = new LinkedHashMap<>();
            snapshots.put(name, copy);
            for (Map.Entry<String, Tensor> e : model.parameters().entrySet()) {
                copy.put(e.getKey(), Tensor.zeros(e.getValue().device(), e.getValue().shape()));
            }
        }
        for (Map.Entry<String, Tensor> e : model.parameters().entrySet()) {
            Tensor dst = copy.get(e.getKey());
            dst.engine().copy(e.getValue().buffer(), 0, dst.buffer(), 0, dst.size());
        }
    }

    @Override
    public boolean restoreWeights(String name) {
        Map<String, Tensor> copy = snapshots.get(name);
        if (copy == null) {
            return false;
        }
        for (Map.Entry<String, Tensor> e : model.parameters().entrySet()) {
            Tensor src = copy.get(e.getKey());
            src.engine().copy(src.buffer(), 0, e.getValue().bufferForWrite(), 0, src.size());
        }
        return true;
    }

    @Override
    public void log(String line) {
        PrintStream out = o.progress;
        if (out != null) {
            out.println(line);
        }
    }

    // ------------------------------------------------------------------ checkpoints

    @Override
    public void saveCheckpoint(Path file) throws IOException {
        Map<String, Tensor> extra = new LinkedHashMap<>();
        s.optimizer.state().forEach((k, v) -> extra.put(OPT + k, v));
        snapshots.forEach((name, copy) -> copy.forEach((k, v) -> extra.put(SNAPSHOT + name + "." + k, v)));
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put(T + "epoch", Integer.toString(s.epoch));
        meta.put(T + "step", Long.toString(s.step));
        meta.put(T + "optimizer", o.optimizer.name());
        meta.put(T + "optimizer_steps", Long.toString(s.optimizer.steps()));
        meta.put(T + "seed", Long.toString(o.seed));
        meta.put(T + "learning_rate", Double.toString(o.learningRate));
        meta.put(T + "momentum", Double.toString(o.momentum));
        meta.put(T + "weight_decay", Double.toString(o.weightDecay));
        meta.put(T + "clip_norm", Double.toString(o.clipNorm));
        meta.put(T + "batch_size", Integer.toString(o.batchSize));
        meta.put(T + "bucketing", Boolean.toString(o.bucketing));
        meta.put(T + "stateful", Boolean.toString(o.stateful));
        meta.put(T + "class_weights", classWeights(o));
        meta.put(T + "monitored", monitored());
        // where this run of batch_size-sized steps began (a continued fit may have used another batch size before)
        meta.put(T + "fit_start_epoch", Integer.toString(s.startEpoch));
        meta.put(T + "fit_start_step", Long.toString(s.startStep));
        meta.put(T + "last_epoch_steps", Integer.toString(s.lastEpochSteps));
        meta.put(T + "best_loss", Double.toString(s.bestLoss));
        meta.put(T + "best_epoch", Integer.toString(s.bestEpoch));
        model.dropoutCalls().forEach((k, v) -> meta.put(T + k, Long.toString(v)));
        meta.put(T + "snapshots", String.join(",", snapshots.keySet()));
        meta.put(T + "schedule", o.schedule.toString());
        o.schedule.state().forEach((k, v) -> meta.put(T + "schedule." + k, v));
        for (int i = 0; i < callbacks.size(); i++) {
            Map<String, String> state = callbacks.get(i).state();
            if (!state.isEmpty()) {
                if (state.containsKey("class")) {   // it would overwrite the class the resume checks
                    throw new IllegalStateException("callback " + i + " (" + callbacks.get(i).getClass().getName()
                            + "): state() returned the key 'class', which the checkpoint keeps for the callback's class;"
                            + " expected other keys");
                }
                String at = CALLBACK + i + ".";
                meta.put(at + "class", callbacks.get(i).getClass().getName());
                state.forEach((k, v) -> meta.put(at + k, v));
            }
        }
        model.save(file, extra, meta);
    }

    /**
     * Reads and checks the run saved in {@code o.resumeFrom} into {@code c}'s counters, and returns what puts
     * the rest in place (weights, optimizer state, dropout count, snapshots), run once the callbacks have taken
     * their state. Everything is checked before the model changes: the configuration and the options must be
     * the run's (one rule: a difference is refused, naming it; no value is taken from the file in place of the
     * options'), and the training state must be in range and consistent with itself and with the data.
     */
    private Runnable resume(Continuation c) throws IOException {
        Path file = o.resumeFrom;
        SafeTensors.Contents contents = Checkpoint.read(file);
        Map<String, String> meta = contents.metadata();
        String where = "resumeFrom: " + file;
        String otherModel = model.configurationMismatch(where, meta);
        if (otherModel != null) {
            throw new IllegalArgumentException(otherModel);
        }
        if (meta.get(T + "step") == null) {
            throw new IllegalArgumentException(where + " holds weights only, no training state "
                    + "(expected a checkpoint written by fit's checkpoints option)");
        }
        SavedState st = new SavedState(where, meta);
        st.same("optimizer", "optimizer", o.optimizer.name());
        st.same("schedule", "schedule", o.schedule.toString());
        st.same("seed", "seed", Long.toString(o.seed));
        st.same("learning_rate", "learning rate", Double.toString(o.learningRate));
        st.same("momentum", "momentum", Double.toString(o.momentum));
        st.same("weight_decay", "weight decay", Double.toString(o.weightDecay));
        st.same("clip_norm", "clip norm", Double.toString(o.clipNorm));
        st.same("batch_size", "batch size", Integer.toString(o.batchSize));
        st.sameIfSaved("bucketing", "bucketing", Boolean.toString(o.bucketing));
        st.sameIfSaved("stateful", "stateful", Boolean.toString(o.stateful));
        st.sameIfSaved("class_weights", "class weights", classWeights(o));
        st.sameIfSaved("monitored", "the monitored loss (val_loss with validation data, else loss)", monitored());
        int savedEpoch = (int) st.integer("epoch", 1, Integer.MAX_VALUE);
        if (savedEpoch >= o.epochs) {
            throw new IllegalArgumentException(where + " has finished epoch " + savedEpoch + ", and epochs(" + o.epochs
                    + ") asks for no more: expected epochs > " + savedEpoch + " to continue it");
        }
        long batches = (train.size() + o.batchSize - 1) / o.batchSize;
        long savedStep = st.integer("step", 0, Long.MAX_VALUE);
        int startEpoch = (int) st.optionalInteger("fit_start_epoch", 0, savedEpoch - 1, 0);
        long startStep = st.optionalInteger("fit_start_step", 0, savedStep, 0);
        int lastSteps = (int) st.optionalInteger("last_epoch_steps", 1, batches, batches);
        long expected = startStep + (savedEpoch - startEpoch - 1) * batches + lastSteps;
        if (savedStep != expected) {
            throw new IllegalArgumentException(where + ": " + T + "step: expected " + startStep + " + "
                    + (savedEpoch - startEpoch - 1) + " epochs × " + batches + " batches + " + lastSteps + " = " + expected
                    + " steps (" + train.size() + " sequences in batches of " + o.batchSize + "), got " + savedStep
                    + ": the file was edited, or the training data is not the run's");
        }
        if (st.integer("optimizer_steps", 0, Long.MAX_VALUE) != savedStep) {
            throw new IllegalArgumentException(where + ": " + T + "optimizer_steps: expected the step count " + savedStep
                    + ", got " + meta.get(T + "optimizer_steps"));
        }
        int savedBestEpoch = (int) st.integer("best_epoch", 0, savedEpoch);
        double savedBestLoss = st.decimal("best_loss");
        if (savedBestEpoch > 0 ? !Double.isFinite(savedBestLoss) : savedBestLoss != Double.POSITIVE_INFINITY) {
            throw new IllegalArgumentException(where + ": " + T + "best_loss: expected " + (savedBestEpoch > 0
                    ? "a finite loss (best epoch " + savedBestEpoch + ")" : "Infinity (no best epoch)") + ", got " + savedBestLoss);
        }
        Map<String, Long> dropoutCalls = new LinkedHashMap<>();
        model.dropoutCalls().keySet().forEach(k -> dropoutCalls.put(k, st.optionalInteger(k, 0, Long.MAX_VALUE, 0)));
        Map<String, Tensor> state = c.optimizer.state();
        List<String> problems = new ArrayList<>(SequenceModel.weightMismatches(contents, OPT, state));
        String names = meta.getOrDefault(T + "snapshots", "");
        List<String> snapshotNames = names.isEmpty() ? List.of() : List.of(names.split(","));
        for (String name : snapshotNames) {
            problems.addAll(SequenceModel.weightMismatches(contents, SNAPSHOT + name + ".", model.parameters()));
        }
        problems.addAll(SequenceModel.weightMismatches(contents, "", model.parameters()));
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(where + ": does not match the model and optimizer, which are left unchanged: "
                    + problems);
        }
        // a saved state that no callback would take back: callback.<i>.class names it (a state's own keys may end in
        // .class too, so only an index of digits counts)
        for (Map.Entry<String, String> e : meta.entrySet()) {
            String k = e.getKey();
            if (k.startsWith(CALLBACK) && k.endsWith(".class")) {
                String index = k.substring(CALLBACK.length(), k.length() - ".class".length());
                if (index.matches("\\d{1,9}") && Integer.parseInt(index) >= callbacks.size()) {
                    throw new IllegalArgumentException(where + " saved the state of callback " + index + " as a "
                            + e.getValue() + ", the options have no callback there (" + callbacks.size() + " callbacks)");
                }
            }
        }
        for (int i = 0; i < callbacks.size(); i++) {
            String cls = meta.get(CALLBACK + i + ".class");
            if (cls != null && !cls.equals(callbacks.get(i).getClass().getName())) {
                throw new IllegalArgumentException(where + " saved the state of callback " + i + " as a " + cls
                        + ", the options have a " + callbacks.get(i).getClass().getName() + " there");
            }
        }
        Map<String, String> sched = new LinkedHashMap<>();
        meta.forEach((k, v) -> {
            if (k.startsWith(T + "schedule.")) {
                sched.put(k.substring((T + "schedule.").length()), v);
            }
        });
        try {
            o.schedule.restore(sched);   // checks everything before it changes anything
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + ": " + T + "schedule." + e.getMessage(), e);
        }
        c.epoch = savedEpoch;
        c.step = savedStep;
        c.startEpoch = startEpoch;
        c.startStep = startStep;
        c.lastEpochSteps = lastSteps;
        c.bestLoss = savedBestLoss;
        c.bestEpoch = savedBestEpoch;
        resumedMeta = meta;
        return () -> {   // from here on nothing can fail
            model.loadWeights(file, contents, "");
            for (Map.Entry<String, Tensor> e : state.entrySet()) {
                e.getValue().copyFrom(contents.tensors().get(OPT + e.getKey()).data());
            }
            c.optimizer.restoreSteps(savedStep);
            model.restoreDropoutCalls(dropoutCalls);
            for (String name : snapshotNames) {
                snapshotWeights(name);
                for (Map.Entry<String, Tensor> e : snapshots.get(name).entrySet()) {
                    e.getValue().copyFrom(contents.tensors().get(SNAPSHOT + name + "." + e.getKey()).data());
                }
            }
        };
    }

    /** What the schedule and the best epoch follow: {@code val_loss} with validation data, else {@code loss}. */
    private String monitored() {
        return validation == null ? "loss" : "val_loss";
    }

    /** The class weights as a checkpoint records them: {@code [1.0, 2.0]}, or {@code none}. */
    private static String classWeights(FitOptions o) {
        return o.classWeights == null ? "none" : java.util.Arrays.toString(o.classWeights);
    }

    /**
     * Gives each callback the state the checkpoint saved for it, after its {@code onTrainBegin} and before the
     * model changes; a state a callback refuses is refused naming its key.
     */
    private void restoreCallbacks() {
        for (int i = 0; i < callbacks.size(); i++) {
            String at = CALLBACK + i + ".";
            if (resumedMeta.get(at + "class") == null) {
                continue;
            }
            Map<String, String> state = new LinkedHashMap<>();
            resumedMeta.forEach((k, v) -> {
                if (k.startsWith(at) && !k.equals(at + "class")) {
                    state.put(k.substring(at.length()), v);
                }
            });
            try {
                callbacks.get(i).restore(state);
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("resumeFrom: " + o.resumeFrom + ": " + at + e.getMessage(), e);
            }
        }
    }

    /** The training-state entries of a checkpoint, read with errors that name the key, the value and the file. */
    private record SavedState(String where, Map<String, String> meta) {
        String get(String key) {
            String v = meta.get(T + key);
            if (v == null) {
                throw new IllegalArgumentException(where + ": " + T + key + ": expected a value in the training state, "
                        + "got none (the file was edited or written by an older rnn4j)");
            }
            return v;
        }

        /** {@link #same}, where the file has the key (files from before it was saved do not). */
        void sameIfSaved(String key, String what, String options) {
            if (meta.containsKey(T + key)) {
                same(key, what, options);
            }
        }

        /** Refuses a run whose option {@code what} differs from the options'. */
        void same(String key, String what, String options) {
            String v = get(key);
            if (!v.equals(options)) {
                throw new IllegalArgumentException(where + " was trained with " + what + " " + v + " (" + T + key
                        + "), the options ask for " + options + ": a resumed run repeats the run's options");
            }
        }

        long integer(String key, long min, long max) {
            String v = get(key);
            long n;
            try {
                n = Long.parseLong(v.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(where + ": " + T + key + ": expected an integer, got '" + v + "'");
            }
            if (n < min || n > max) {
                throw new IllegalArgumentException(where + ": " + T + key + ": expected an integer in [" + min + ", " + max
                        + "], got " + n);
            }
            return n;
        }

        /** {@link #integer}, or {@code absent} for a file from before the key existed. */
        long optionalInteger(String key, long min, long max, long absent) {
            return meta.containsKey(T + key) ? integer(key, min, max) : absent;
        }

        double decimal(String key) {
            String v = get(key);
            try {
                return Double.parseDouble(v.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(where + ": " + T + key + ": expected a number, got '" + v + "'");
            }
        }
    }
}
