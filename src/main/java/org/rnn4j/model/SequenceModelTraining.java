package org.rnn4j.model;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.rnn4j.Device;
import org.rnn4j.HasParameters;
import org.rnn4j.Tensor;
import org.rnn4j.train.ModuleGroup;
import org.rnn4j.train.SafeTensors;

/** A {@link SequenceModel} as the training loop sees it: its package-private methods behind {@link Trainable}. */
final class SequenceModelTraining implements Trainable<Batches.Batch> {
    private final SequenceModel model;

    SequenceModelTraining(SequenceModel model) {
        this.model = model;
    }

    @Override
    public HasParameters model() {
        return model;
    }

    @Override
    public Map<String, Tensor> parameters() {
        return model.parameters();
    }

    @Override
    public Map<String, Tensor> gradients() {
        return model.gradients();
    }

    @Override
    public Device device() {
        return model.device();
    }

    @Override
    public ModuleGroup group() {
        return model.group();
    }

    @Override
    public Trainer.Continuation continuation() {
        return model.continuation();
    }

    @Override
    public void continuation(Trainer.Continuation next) {
        model.continuation(next);
    }

    @Override
    public void checkOptions(FitOptions o) {
        ModelConfig cfg = model.config();
        if (o.classWeights != null && (!cfg.task().classes() || o.classWeights.length != cfg.outputs())) {
            throw new IllegalArgumentException("classWeights: expected " + (cfg.task().classes() ? cfg.outputs()
                    + " weights (one per class)" : "none for a " + cfg.task() + " model") + ", got " + o.classWeights.length);
        }
    }

    @Override
    public Batches.Batch batch(String name, SequenceDataset data, int[] idx, boolean needTargets) {
        return model.batch(name, data, idx, needTargets);
    }

    @Override
    public SequenceModel.StepResult trainStep(Batches.Batch batch, long dropoutSeed, SequenceModel.State carry,
                                              boolean withOutput, float[] classWeights) {
        return model.trainStep(batch, dropoutSeed, carry, withOutput, classWeights);
    }

    @Override
    public RunningMetrics<Batches.Batch> runningMetrics(List<Metric> custom) {
        return new Metrics(model.config().task(), custom);
    }

    @Override
    public boolean needsOutput(List<Metric> custom) {
        return Metrics.needsOutput(model.config().task(), custom);
    }

    @Override
    public List<String> metricNames(List<Metric> custom, boolean validation) {
        return Metrics.names(model.config().task(), custom);
    }

    @Override
    public boolean higherIsBetter(String name, List<Metric> custom) {
        return Metrics.higherIsBetter(name, custom);
    }

    @Override
    public Map<String, Double> evaluate(SequenceDataset data, int batchSize, List<Metric> custom) {
        return model.evaluate(data, batchSize, custom);
    }

    @Override
    public String configurationMismatch(String where, Map<String, String> metadata) {
        ModelConfig saved;
        try {
            saved = ModelConfig.fromMetadata(metadata);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
        }
        return saved.toMetadata().equals(model.config().toMetadata()) ? null
                : where + " holds a model configured as " + saved + ", this model is " + model.config();
    }

    @Override
    public Map<String, Long> dropoutCalls() {
        return Map.of("rnn_dropout_calls", model.recurrent().dropoutCalls());
    }

    @Override
    public void restoreDropoutCalls(Map<String, Long> calls) {
        model.recurrent().restoreDropoutCalls(calls.get("rnn_dropout_calls"));
    }

    @Override
    public void save(Path file, Map<String, Tensor> extraTensors, Map<String, String> extraMetadata) throws IOException {
        model.save(file, extraTensors, extraMetadata);
    }

    @Override
    public void loadWeights(Path file, SafeTensors.Contents contents, String prefix) {
        model.loadWeights(file, contents, prefix);
    }

    @Override
    public SequenceModel.MemoryEstimate memoryEstimate(int batch, int steps) {
        return model.memoryEstimate(batch, steps);
    }
}
