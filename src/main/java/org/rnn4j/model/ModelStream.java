package org.rnn4j.model;

import java.util.ArrayList;
import java.util.List;
import org.rnn4j.RecurrentConfig;
import org.rnn4j.RecurrentStream;
import org.rnn4j.engine.ExclusiveUse;

/**
 * Stateful inference with a {@link SequenceModel} (Keras's {@code stateful=True} with {@code predict}): a batch of
 * streams whose recurrent states carry from one call to the next, for time series that arrive a step or a chunk at
 * a time (forecasting) and online tagging. Sequence {@code i} of each {@link #predict} continues stream {@code i},
 * so the predictions of a sequence fed in chunks are, bit for bit, those of {@link SequenceModel#predict} on the
 * whole sequence: per step (tagging, language models, sequence regression) the rows of each chunk's steps; for a
 * many-to-one task the one row for the sequence so far. {@link #step} is the one-step form.
 *
 * <p>The states start at zero; {@link #reset()} zeroes them, {@link #reset(int...)} those of the chosen streams
 * (one that ended, whose slot a new one takes). They are not weights: {@link SequenceModel#save} does not write
 * them and a loaded model's streams start at zero (as in Keras). A bidirectional stack cannot stream (its reverse
 * direction starts at the sequence's end). Not thread-safe: a call overlapping another on this stream or its model
 * fails with an {@link IllegalStateException}.
 */
public final class ModelStream implements AutoCloseable {
    private final SequenceModel model;
    private final int batch;
    private final SequenceModel.State state = new SequenceModel.State();
    private final ExclusiveUse use = new ExclusiveUse(this);
    private boolean closed;

    ModelStream(SequenceModel model, int batch) {
        RecurrentConfig rc = model.recurrent().config();
        if (rc.directions() != 1) {
            throw new IllegalArgumentException("model: expected a unidirectional recurrent stack, got " + rc
                    + ": a bidirectional stack cannot stream, since its reverse direction starts at the end of the "
                    + "sequence, which has not arrived yet; predict the whole sequence instead");
        }
        if (batch < 1) {
            throw new IllegalArgumentException("batch: expected >= 1 streams, got " + batch);
        }
        this.model = model;
        this.batch = batch;
    }

    /** The number of streams. */
    public int batch() {
        return batch;
    }

    /**
     * The predictions for the next chunk of each stream, as {@link SequenceModel#predict} returns them; sequence
     * {@code i} of {@code chunk} (exactly {@link #batch()} of them, each at least one step, lengths may differ)
     * continues stream {@code i}.
     *
     * @throws IllegalArgumentException for another number of sequences or input that does not fit the model
     *         (before any work; the states are left as they were)
     */
    public List<float[][]> predict(SequenceDataset chunk) {
        requireOpen();
        if (chunk == null) {
            throw new IllegalArgumentException("chunk: expected a dataset of " + batch + " sequences, got null");
        }
        if (chunk.size() != batch) {
            throw new IllegalArgumentException("chunk: expected " + batch + " sequences (one per stream), got "
                    + chunk.size());
        }
        try (ExclusiveUse.Held u = use.enter("predict")) {
            return model.predictCarried(chunk, state);
        }
    }

    /** One step of dense features per stream ({@code features[i]} for stream {@code i}): one output row per stream. */
    public float[][] step(float[][] features) {
        requireOpen();
        if (features == null || features.length != batch) {
            throw new IllegalArgumentException("features: expected " + batch + " rows (one per stream), got "
                    + (features == null ? "null" : features.length));
        }
        List<float[][]> seqs = new ArrayList<>(features.length);
        for (float[] row : features) {
            seqs.add(new float[][] {row});
        }
        return lastRows(predict(SequenceDataset.ofFeatures(seqs)));
    }

    /** One token per stream: one output row per stream (a tagger's tag probabilities, a language model's next token). */
    public float[][] step(int[] tokens) {
        requireOpen();
        if (tokens == null || tokens.length != batch) {
            throw new IllegalArgumentException("tokens: expected " + batch + " tokens (one per stream), got "
                    + (tokens == null ? "null" : tokens.length));
        }
        List<int[]> seqs = new ArrayList<>(tokens.length);
        for (int t : tokens) {
            seqs.add(new int[] {t});
        }
        return lastRows(predict(SequenceDataset.ofTokens(seqs)));
    }

    private static float[][] lastRows(List<float[][]> rows) {
        float[][] out = new float[rows.size()][];
        for (int i = 0; i < out.length; i++) {
            out[i] = rows.get(i)[rows.get(i).length - 1];
        }
        return out;
    }

    /** Zeroes every stream's state. */
    public void reset() {
        requireOpen();
        try (ExclusiveUse.Held u = use.enter("reset")) {
            state.close();
        }
    }

    /**
     * Zeroes the states of the given streams (each in {@code [0, batch)}); the others carry on.
     *
     * @throws IllegalArgumentException for an index out of range (nothing is reset)
     */
    public void reset(int... streams) {
        requireOpen();
        RecurrentStream.checkStreams(streams, batch);
        try (ExclusiveUse.Held u = use.enter("reset")) {
            RecurrentStream.zeroStreams(state.h, streams);
            RecurrentStream.zeroStreams(state.c, streams);
        }
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException(this + " is closed");
        }
    }

    /** Releases the states (the model stays open). */
    @Override
    public void close() {
        try (ExclusiveUse.Held u = use.enter("close")) {
            closed = true;
            state.close();
        }
    }

    @Override
    public String toString() {
        return "ModelStream(" + batch + " streams of " + model + ")";
    }
}
