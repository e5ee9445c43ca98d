package org.rnn4j.model;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.rnn4j.HasParameters;
import org.rnn4j.Tensor;
import org.rnn4j.train.Adam;
import org.rnn4j.train.Checkpoint;
import org.rnn4j.train.Clipping;
import org.rnn4j.train.Optimizer;
import org.rnn4j.train.SafeTensors;
import org.rnn4j.train.Sgd;

/**
 * The loop behind {@link SequenceModel#fit}. Everything a step depends on is a function of the seed,
 * the epoch and the step (the batch order, the dropout masks) or is saved in a checkpoint (weights,
 * optimizer state and step count, schedule state, early-stopping state and best weights), so a run
 * resumed from a checkpoint computes the same numbers as one that never stopped. One exception: the
 * recurrent stack's own inter-layer dropout draws its masks from a counter inside the layer, which a
 * rebuilt layer starts again from zero.
 */
final class Trainer {
    private static final String T = "rnn4j.train.";
    private static final String OPT = "optimizer.";
    private static final String BEST = "best.";

    private final SequenceModel model;
    private final SequenceDataset train;
    private final SequenceDataset validation;
    private final FitOptions o;
    private final Progress progress;

    // the state a checkpoint carries
    private int epoch;            // epochs finished
    private long step;            // optimizer steps taken
    private double bestLoss = Double.POSITIVE_INFINITY;
    private int bestEpoch;
    private int badEpochs;
    private Map<String, Tensor> best;   // device copies of the best weights (early stopping), or null

    Trainer(SequenceModel model, SequenceDataset train, SequenceDataset validation, FitOptions o) {
        this.model = model;
        this.train = train;
        this.validation = validation;
        this.o = o;
        this.progress = new Progress(o.progress);
        if (o.stateful && train.size() % o.batchSize != 0) {
            throw new IllegalArgumentException("train: expected a multiple of batchSize=" + o.batchSize
                    + " sequences for stateful training (each batch continues the previous one), got " + train.size());
        }
    }

    History run() throws IOException {
        List<HasParameters> modules = List.of(model.group());
        List<History.Epoch> epochs = new ArrayList<>();
        boolean stopped = false;
        try (Optimizer opt = optimizer(modules);
             SequenceModel.State carry = o.stateful ? new SequenceModel.State() : null) {
            if (o.resumeFrom != null) {
                resume(opt);
            } else {
                o.schedule.reset();
            }
            while (epoch < o.epochs && !stopped) {
                long start = System.nanoTime();
                List<int[]> plan = o.stateful ? Batches.inOrder(train, o.batchSize)
                        : Batches.shuffled(train, o.batchSize, o.bucketing, o.seed, epoch);
                if (carry != null) {
                    carry.close();
                }
                Metrics metrics = new Metrics(model.config().task());
                long sequences = 0;
                for (int i = 0; i < plan.size(); i++) {
                    Batches.Batch b = model.batch("train", train, plan.get(i), true);
                    opt.setLearningRate(o.schedule.rate(o.learningRate, step, epoch));
                    opt.zeroGrad();
                    SequenceModel.StepResult r = model.trainStep(b, dropoutSeed(step), carry, true);
                    if (!Double.isFinite(r.loss())) {
                        throw new IllegalStateException(String.format(Locale.ROOT,
                                "loss: expected a finite value, got %s at epoch %d step %d (learning rate %g); "
                                        + "lower the learning rate or clip harder", r.loss(), epoch + 1, step + 1,
                                opt.learningRate()));
                    }
                    if (o.clipNorm > 0) {
                        Clipping.clipGlobalNorm(modules, o.clipNorm);
                    }
                    opt.step();
                    step++;
                    metrics.add(r.loss(), r.count(), r.out(), b);
                    sequences += b.batch();
                    progress.step(epoch + 1, o.epochs, i + 1, plan.size(), metrics.values(), rate(sequences, start));
                }
                Map<String, Double> trainMetrics = metrics.values();
                Map<String, Double> valMetrics = validation == null ? Map.of() : model.evaluate(validation, o.batchSize);
                double monitored = validation == null ? trainMetrics.get("loss") : valMetrics.get("loss");
                o.schedule.epochEnd(monitored);
                epoch++;
                if (monitored < bestLoss) {
                    bestLoss = monitored;
                    bestEpoch = epoch;
                    badEpochs = 0;
                    if (o.patience >= 0 && o.restoreBest) {
                        snapshotBest();
                    }
                } else if (o.patience >= 0 && ++badEpochs > o.patience) {
                    stopped = true;
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                epochs.add(new History.Epoch(epoch, opt.learningRate(), trainMetrics, valMetrics, seconds,
                        rate(sequences, start)));
                progress.epochEnd(epoch, o.epochs, plan.size(), trainMetrics, rate(sequences, start), valMetrics,
                        opt.learningRate());
                if (o.checkpointDir != null && (epoch % o.checkpointEvery == 0 || epoch == o.epochs || stopped)) {
                    Path file = o.checkpointDir.resolve(String.format(Locale.ROOT, "epoch-%04d.safetensors", epoch));
                    saveCheckpoint(file, opt);
                    progress.println("saved " + file);
                }
            }
            if (best != null && o.restoreBest && bestEpoch != epoch) {
                for (Map.Entry<String, Tensor> e : model.parameters().entrySet()) {
                    Tensor src = best.get(e.getKey());
                    src.engine().copy(src.buffer(), 0, e.getValue().bufferForWrite(), 0, src.size());
                }
                progress.println("restored the weights of epoch " + bestEpoch + " (loss " + bestLoss + ")");
            }
        } finally {
            releaseBest();
        }
        return new History(List.copyOf(epochs), bestEpoch, stopped);
    }

    /** A dropout seed per optimizer step, a pure function of the run's seed. */
    private long dropoutSeed(long s) {
        return o.seed * 0xD1B54A32D192ED03L + s * 0x9E3779B97F4A7C15L + 1;
    }

    private static double rate(long sequences, long startNanos) {
        return sequences / Math.max(1e-9, (System.nanoTime() - startNanos) / 1e9);
    }

    private Optimizer optimizer(List<HasParameters> modules) {
        return switch (o.optimizer) {
            case ADAM -> new Adam(modules, o.learningRate);
            case ADAMW -> new Adam(modules, o.learningRate, 0.9, 0.999, 1e-8, o.weightDecay, true);
            case SGD -> new Sgd(modules, o.learningRate, o.momentum, 0, false);
        };
    }

    private void snapshotBest() {
        if (best == null) {
            best = new LinkedHashMap<>();
            for (Map.Entry<String, Tensor> e : model.parameters().entrySet()) {
                best.put(e.getKey(), Tensor.zeros(e.getValue().device(), e.getValue().shape()));
            }
        }
        for (Map.Entry<String, Tensor> e : model.parameters().entrySet()) {
            Tensor dst = best.get(e.getKey());
            dst.engine().copy(e.getValue().buffer(), 0, dst.buffer(), 0, dst.size());
        }
    }

    private void releaseBest() {
        if (best != null) {
            best.values().forEach(Tensor::close);
            best = null;
        }
    }

    // ------------------------------------------------------------------ checkpoints

    private void saveCheckpoint(Path file, Optimizer opt) throws IOException {
        Map<String, Tensor> extra = new LinkedHashMap<>();
        opt.state().forEach((k, v) -> extra.put(OPT + k, v));
        if (best != null) {
            best.forEach((k, v) -> extra.put(BEST + k, v));
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put(T + "epoch", Integer.toString(epoch));
        meta.put(T + "step", Long.toString(step));
        meta.put(T + "optimizer", o.optimizer.name());
        meta.put(T + "optimizer_steps", Long.toString(opt.steps()));
        meta.put(T + "seed", Long.toString(o.seed));
        meta.put(T + "learning_rate", Double.toString(o.learningRate));
        meta.put(T + "momentum", Double.toString(o.momentum));
        meta.put(T + "weight_decay", Double.toString(o.weightDecay));
        meta.put(T + "clip_norm", Double.toString(o.clipNorm));
        meta.put(T + "batch_size", Integer.toString(o.batchSize));
        meta.put(T + "best_loss", Double.toString(bestLoss));
        meta.put(T + "best_epoch", Integer.toString(bestEpoch));
        meta.put(T + "bad_epochs", Integer.toString(badEpochs));
        meta.put(T + "schedule", o.schedule.toString());
        o.schedule.state().forEach((k, v) -> meta.put(T + "schedule." + k, v));
        model.save(file, extra, meta);
    }

    /**
     * Restores the run saved in {@code o.resumeFrom}. Everything is read and checked before anything changes
     * (weights, optimizer state, schedule, counters): the configuration and the options must be the run's
     * (one rule: a difference is refused, naming it; no value is taken from the file in place of the
     * options'), and the training state must be in range and consistent with itself and with the data.
     */
    private void resume(Optimizer opt) throws IOException {
        Path file = o.resumeFrom;
        SafeTensors.Contents contents = Checkpoint.read(file);
        Map<String, String> meta = contents.metadata();
        String where = "resumeFrom: " + file;
        ModelConfig saved;
        try {
            saved = ModelConfig.fromMetadata(meta);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
        }
        if (!saved.toMetadata().equals(model.config().toMetadata())) {
            throw new IllegalArgumentException(where + " holds a model configured as " + saved
                    + ", this model is " + model.config());
        }
        if (meta.get(T + "step") == null) {
            throw new IllegalArgumentException(where + " holds weights only, no training state "
                    + "(expected a checkpoint written by fit's checkpoints option)");
        }
        SavedState s = new SavedState(where, meta);
        s.same("optimizer", "optimizer", o.optimizer.name());
        s.same("schedule", "schedule", o.schedule.toString());
        s.same("seed", "seed", Long.toString(o.seed));
        s.same("learning_rate", "learning rate", Double.toString(o.learningRate));
        s.same("momentum", "momentum", Double.toString(o.momentum));
        s.same("weight_decay", "weight decay", Double.toString(o.weightDecay));
        s.same("clip_norm", "clip norm", Double.toString(o.clipNorm));
        s.same("batch_size", "batch size", Integer.toString(o.batchSize));
        int savedEpoch = (int) s.integer("epoch", 1, Integer.MAX_VALUE);
        if (savedEpoch >= o.epochs) {
            throw new IllegalArgumentException(where + " has finished epoch " + savedEpoch + ", and epochs(" + o.epochs
                    + ") asks for no more: expected epochs > " + savedEpoch + " to continue it");
        }
        long batchesPerEpoch = (train.size() + o.batchSize - 1) / o.batchSize;
        long savedStep = s.integer("step", 0, Long.MAX_VALUE);
        if (savedStep != savedEpoch * batchesPerEpoch) {
            throw new IllegalArgumentException(where + ": " + T + "step: expected " + savedEpoch + " epochs × "
                    + batchesPerEpoch + " batches = " + savedEpoch * batchesPerEpoch + " steps (" + train.size()
                    + " sequences in batches of " + o.batchSize + "), got " + savedStep
                    + ": the file was edited, or the training data is not the run's");
        }
        if (s.integer("optimizer_steps", 0, Long.MAX_VALUE) != savedStep) {
            throw new IllegalArgumentException(where + ": " + T + "optimizer_steps: expected the step count " + savedStep
                    + ", got " + meta.get(T + "optimizer_steps"));
        }
        int savedBestEpoch = (int) s.integer("best_epoch", 0, savedEpoch);
        int savedBadEpochs = (int) s.integer("bad_epochs", 0, savedEpoch - savedBestEpoch);
        double savedBestLoss = s.decimal("best_loss");
        if (savedBestEpoch > 0 ? !Double.isFinite(savedBestLoss) : savedBestLoss != Double.POSITIVE_INFINITY) {
            throw new IllegalArgumentException(where + ": " + T + "best_loss: expected " + (savedBestEpoch > 0
                    ? "a finite loss (best epoch " + savedBestEpoch + ")" : "Infinity (no best epoch)") + ", got " + savedBestLoss);
        }
        Map<String, Tensor> state = opt.state();
        List<String> problems = new ArrayList<>(SequenceModel.weightMismatches(contents, OPT, state));
        boolean hasBest = false;
        for (String name : contents.tensors().keySet()) {
            hasBest |= name.startsWith(BEST);
        }
        if (hasBest) {
            problems.addAll(SequenceModel.weightMismatches(contents, BEST, model.parameters()));
        }
        problems.addAll(SequenceModel.weightMismatches(contents, "", model.parameters()));
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(where + ": does not match the model and optimizer, which are left unchanged: "
                    + problems);
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
        // from here on nothing can fail
        model.loadWeights(file, contents, "");
        for (Map.Entry<String, Tensor> e : state.entrySet()) {
            e.getValue().copyFrom(contents.tensors().get(OPT + e.getKey()).data());
        }
        opt.restoreSteps(savedStep);
        epoch = savedEpoch;
        step = savedStep;
        bestLoss = savedBestLoss;
        bestEpoch = savedBestEpoch;
        badEpochs = savedBadEpochs;
        if (hasBest) {
            snapshotBest();
            for (Map.Entry<String, Tensor> e : best.entrySet()) {
                e.getValue().copyFrom(contents.tensors().get(BEST + e.getKey()).data());
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
