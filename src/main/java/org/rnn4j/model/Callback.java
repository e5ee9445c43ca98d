package org.rnn4j.model;

import java.util.Map;

/**
 * Hooks into {@link SequenceModel#fit}, as Keras's {@code Callback} and Lightning's callbacks: every method
 * has an empty default, so an implementation overrides the ones it needs. Epochs and batches count from 1;
 * the epoch number continues across {@code fit} calls and resumed runs (Keras's {@code initial_epoch}).
 * {@link TrainingRun#stop()} ends the run after the current batch. The built-ins are {@link EarlyStopping},
 * {@link ModelCheckpoint}, {@link ProgressBar} and {@link CsvLogger}; they run in the order given to
 * {@link FitOptions#callbacks}, after those the shorthands ({@link FitOptions#earlyStopping},
 * {@link FitOptions#progress}, {@link FitOptions#checkpoints}) add, in that order.
 *
 * <p>A callback that keeps state across epochs (a best value, a counter) returns it from {@link #state} and
 * takes it back in {@link #restore}: checkpoints carry it, so a resumed run behaves as one that never stopped.
 */
public interface Callback {

    /** Before the first epoch of this {@code fit}. */
    default void onTrainBegin(TrainingRun run) {
    }

    /** Before epoch {@code epoch}. */
    default void onEpochBegin(TrainingRun run, int epoch) {
    }

    /** Before batch {@code batch} of the epoch. */
    default void onBatchBegin(TrainingRun run, int batch) {
    }

    /** After batch {@code batch}'s optimizer step; {@code metrics} are the epoch's running training metrics. */
    default void onBatchEnd(TrainingRun run, int batch, Map<String, Double> metrics) {
    }

    /** After an epoch and its validation; {@link History.Epoch#metric} reads {@code loss}, {@code val_loss}, .... */
    default void onEpochEnd(TrainingRun run, History.Epoch epoch) {
    }

    /** After the last epoch of this {@code fit} (also after a stop). */
    default void onTrainEnd(TrainingRun run) {
    }

    /** What must survive a checkpoint (default none); the key {@code class} is the checkpoint's own and refused. */
    default Map<String, String> state() {
        return Map.of();
    }

    /**
     * Takes back what {@link #state()} returned, when a run resumes from a checkpoint: after
     * {@link #onTrainBegin}, before the checkpoint's weights are put in place. Check everything before changing
     * anything; an {@code IllegalArgumentException} refuses the resume, naming the key.
     */
    default void restore(Map<String, String> state) {
    }
}
