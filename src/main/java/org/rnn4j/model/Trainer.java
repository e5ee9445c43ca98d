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
                    Batches.Batch b = model.batch(train, plan.get(i));
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
        meta.put(T + "best_loss", Double.toString(bestLoss));
        meta.put(T + "best_epoch", Integer.toString(bestEpoch));
        meta.put(T + "bad_epochs", Integer.toString(badEpochs));
        meta.put(T + "schedule", o.schedule.toString());
        o.schedule.state().forEach((k, v) -> meta.put(T + "schedule." + k, v));
        model.save(file, extra, meta);
    }

    private void resume(Optimizer opt) throws IOException {
        Path file = o.resumeFrom;
        SafeTensors.Contents contents = Checkpoint.read(file);
        Map<String, String> meta = contents.metadata();
        ModelConfig saved;
        try {
            saved = ModelConfig.fromMetadata(meta);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("resumeFrom: " + file + ": " + e.getMessage(), e);
        }
        if (!saved.toMetadata().equals(model.config().toMetadata())) {
            throw new IllegalArgumentException("resumeFrom: " + file + " holds a model configured as " + saved
                    + ", this model is " + model.config());
        }
        if (meta.get(T + "step") == null) {
            throw new IllegalArgumentException("resumeFrom: " + file + " holds weights only, no training state "
                    + "(expected a checkpoint written by fit's checkpoints option)");
        }
        String kind = meta.get(T + "optimizer");
        if (!o.optimizer.name().equals(kind)) {
            throw new IllegalArgumentException("resumeFrom: " + file + " was trained with " + kind + ", the options ask for "
                    + o.optimizer);
        }
        if (!o.schedule.toString().equals(meta.get(T + "schedule"))) {
            throw new IllegalArgumentException("resumeFrom: " + file + " was trained with schedule " + meta.get(T + "schedule")
                    + ", the options ask for " + o.schedule);
        }
        if (Long.parseLong(meta.get(T + "seed")) != o.seed) {
            throw new IllegalArgumentException("resumeFrom: " + file + " was trained with seed " + meta.get(T + "seed")
                    + ", the options ask for " + o.seed);
        }
        Map<String, Tensor> state = opt.state();
        for (Map.Entry<String, Tensor> e : state.entrySet()) {
            SafeTensors.HostTensor t = contents.tensors().get(OPT + e.getKey());
            if (t == null || t.data().length != e.getValue().size()) {
                throw new IllegalArgumentException("resumeFrom: " + file + ": expected optimizer state '" + OPT + e.getKey()
                        + "' of " + e.getValue().size() + " values, got " + (t == null ? "none" : t.data().length));
            }
        }
        model.loadWeights(file, contents, "");
        for (Map.Entry<String, Tensor> e : state.entrySet()) {
            e.getValue().copyFrom(contents.tensors().get(OPT + e.getKey()).data());
        }
        opt.restoreSteps(Long.parseLong(meta.get(T + "optimizer_steps")));
        epoch = Integer.parseInt(meta.get(T + "epoch"));
        step = Long.parseLong(meta.get(T + "step"));
        bestLoss = Double.parseDouble(meta.get(T + "best_loss"));
        bestEpoch = Integer.parseInt(meta.get(T + "best_epoch"));
        badEpochs = Integer.parseInt(meta.get(T + "bad_epochs"));
        Map<String, String> sched = new LinkedHashMap<>();
        meta.forEach((k, v) -> {
            if (k.startsWith(T + "schedule.")) {
                sched.put(k.substring((T + "schedule.").length()), v);
            }
        });
        o.schedule.restore(sched);
        if (contents.tensors().containsKey(BEST + model.parameters().keySet().iterator().next())) {
            snapshotBest();
            for (Map.Entry<String, Tensor> e : best.entrySet()) {
                e.getValue().copyFrom(contents.tensors().get(BEST + e.getKey()).data());
            }
        }
    }
}
