package org.rnn4j.model;

import java.io.IOException;
import java.nio.file.Path;
import org.rnn4j.HasParameters;

/** The running {@code fit}, as a {@link Callback} sees it. */
public interface TrainingRun {

    /** The model being trained: a {@link SequenceModel} or a {@link Seq2Seq}. */
    HasParameters model();

    /** Epochs finished, counted over the model's training (it continues across {@code fit} calls). */
    int epoch();

    /** The epoch this {@code fit} trains up to. */
    int epochs();

    /** Optimizer steps taken, counted as {@link #epoch()}. */
    long step();

    /** Batches in each epoch of this {@code fit}. */
    int batchesPerEpoch();

    /** The learning rate of the latest step (of the next one before the first). */
    double learningRate();

    /** Training sequences per second in the current epoch so far. */
    double sequencesPerSecond();

    /** Whether this {@code fit} has validation data (so that {@code val_} metrics exist). */
    boolean hasValidation();

    /**
     * Whether a larger value of {@code metric} ({@code loss}, {@code val_accuracy}, a custom metric's name
     * with or without {@code val_}) is better: accuracy and metrics that say so, not losses and errors.
     *
     * @throws IllegalArgumentException for a name no metric of this run has
     */
    boolean higherIsBetter(String metric);

    /** Ends the run after the current batch (Keras's {@code stop_training}). */
    void stop();

    /** Whether {@link #stop()} was called. */
    boolean stopRequested();

    /**
     * Writes a checkpoint that {@link FitOptions#resumeFrom} continues from: configuration, weights,
     * optimizer state, steps, schedule and callback state, and the weight snapshots.
     */
    void saveCheckpoint(Path file) throws IOException;

    /** Copies the current weights, on the device, under {@code name} (checkpoints carry it). */
    void snapshotWeights(String name);

    /** Puts the weights saved under {@code name} back; {@code false} when there is no such snapshot. */
    boolean restoreWeights(String name);

    /** Prints a line where the progress goes ({@link FitOptions#progress}), or nowhere. */
    void log(String line);
}
