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

/**
 * What the one training loop ({@link Trainer}, behind {@link SequenceModel#fit} and {@link Seq2Seq#fit}) needs of a
 * model: its modules, the padded batch of some of a dataset's sequences and one step's loss and gradients over it,
 * the running metrics of an epoch, evaluation, its files, and the training state it keeps between {@code fit}s.
 * Each model has an adapter of its own that implements it over its package-private methods, so that none of them
 * becomes public.
 *
 * @param <B> the model's padded batch
 */
interface Trainable<B extends Trainable.PaddedBatch> extends HasParameters {

    /** A padded batch as the loop sees it: how many sequences, padded to how many steps. */
    interface PaddedBatch {
        int batch();

        int steps();
    }

    /** The running metrics of one pass over data: a batch's mean loss, its weight and (when asked for) the output. */
    interface RunningMetrics<B> {
        void add(double loss, double weight, float[] out, B batch);

        Map<String, Double> values();
    }

    /** The model as callbacks see it ({@link TrainingRun#model()}). */
    HasParameters model();

    Device device();

    /** Every trained module, for the optimizer and clipping. */
    ModuleGroup group();

    /** What {@code fit} continues from, or {@code null} before the first (and after {@code resetTraining}). */
    Trainer.Continuation continuation();

    /** Replaces the training state, releasing the previous one's optimizer. */
    void continuation(Trainer.Continuation next);

    /** Refuses, before any work, the options this model cannot train with (the loop checks the rest). */
    void checkOptions(FitOptions o);

    /** The batch of sequences {@code idx} of {@code data}, checked against the model. */
    B batch(String name, SequenceDataset data, int[] idx, boolean needTargets);

    /**
     * One training step's forward and backward over {@code batch}, adding to the gradients: the mean loss, its count
     * and weight, and (when {@code withOutput}) what {@link #runningMetrics} reads of the output, on the host.
     */
    SequenceModel.StepResult trainStep(B batch, long dropoutSeed, SequenceModel.State carry, boolean withOutput,
                                       float[] classWeights);

    /** The running metrics of a training epoch, with the caller's {@code custom} metrics. */
    RunningMetrics<B> runningMetrics(List<Metric> custom);

    /** Whether {@link #runningMetrics} reads the step's output (else {@link #trainStep} need not copy it to the host). */
    boolean needsOutput(List<Metric> custom);

    /** The names of {@link #runningMetrics}' values ({@code validation} false) or of {@link #evaluate}'s (true), in order. */
    List<String> metricNames(List<Metric> custom, boolean validation);

    /** Whether larger values of the metric {@code name} (without {@code val_}) are better. */
    boolean higherIsBetter(String name, List<Metric> custom);

    /** The metrics on {@code data} in inference mode (validation after each epoch). */
    Map<String, Double> evaluate(SequenceDataset data, int batchSize, List<Metric> custom);

    /** Why a checkpoint's {@code metadata} describes another model than this one, or {@code null} when it is this one. */
    String configurationMismatch(String where, Map<String, String> metadata);

    /** The counts of training forwards that seed the dropout masks, by checkpoint key; restored on resume. */
    Map<String, Long> dropoutCalls();

    void restoreDropoutCalls(Map<String, Long> calls);

    /** The configuration, weights and the loop's {@code extraTensors} and {@code extraMetadata} in one file. */
    void save(Path file, Map<String, Tensor> extraTensors, Map<String, String> extraMetadata) throws IOException;

    /** Copies the tensors {@code prefix + name} of {@code contents} into the parameters, after checking them all. */
    void loadWeights(Path file, SafeTensors.Contents contents, String prefix);

    /** What training a batch of {@code batch × steps} needs, or {@code null} where the model has no estimate. */
    SequenceModel.MemoryEstimate memoryEstimate(int batch, int steps);
}
