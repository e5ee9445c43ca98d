package org.rnn4j.model;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Locale;
import org.rnn4j.train.Checkpoint;

/**
 * Writes {@code dir/epoch-NNNN.safetensors} every {@code everyEpochs} epochs, after the last one and after
 * the epoch a stop was asked in: configuration, weights, optimizer state, schedule, steps and callback state,
 * enough for {@link FitOptions#resumeFrom} and for {@link SequenceModel#load}.
 */
public final class ModelCheckpoint implements Callback {
    private final Path dir;
    private final int everyEpochs;

    public ModelCheckpoint(Path dir, int everyEpochs) {
        if (dir == null) {
            throw new IllegalArgumentException("dir: expected a folder, got null");
        }
        if (everyEpochs < 1) {
            throw new IllegalArgumentException("everyEpochs: expected >= 1, got " + everyEpochs);
        }
        this.dir = dir;
        this.everyEpochs = everyEpochs;
    }

    /** Refuses, before the first step, a folder that is a file or cannot be written. */
    @Override
    public void onTrainBegin(TrainingRun run) {
        try {
            Checkpoint.requireWritableFolder("checkpoints", dir);
        } catch (IOException e) {
            throw new UncheckedIOException("checkpoints " + dir + ": " + e.getMessage(), e);
        }
    }

    /** The file of epoch {@code epoch}. */
    public Path file(int epoch) {
        return dir.resolve(String.format(Locale.ROOT, "epoch-%04d.safetensors", epoch));
    }

    @Override
    public void onEpochEnd(TrainingRun run, History.Epoch epoch) {
        int e = epoch.epoch();
        if (e % everyEpochs == 0 || e == run.epochs() || run.stopRequested()) {
            Path file = file(e);
            try {
                run.saveCheckpoint(file);
            } catch (IOException ex) {
                throw new UncheckedIOException("checkpoint " + file + ": " + ex.getMessage(), ex);
            }
            run.log("saved " + file);
        }
    }
}
