package org.rnn4j;

import java.util.Arrays;
import org.rnn4j.engine.ExclusiveUse;

/**
 * A batch of streams through one unidirectional {@link RecurrentLayer} whose states are carried from call to call
 * (Keras's {@code stateful=True}, PyTorch's {@code LSTMCell} loop): time series arriving a step or a chunk at a time,
 * online tagging. Each {@link #step} runs the layer in inference mode (nothing saved, no dropout, whatever the
 * layer's own mode) over the chunk from the carried states and keeps the final ones, so that feeding a sequence in
 * chunks of any size gives the same bits as one {@link RecurrentLayer#forward} over all of it: the per-step products
 * and cells are the same calls, and the engines' GEMMs sum each output element in an order that depends only on
 * the inner dimension, not on how many rows (steps) one call has.
 *
 * <p>The states start at zero; {@link #reset()} zeroes all of them and {@link #reset(int...)} the chosen streams
 * (a stream that ended, whose slot a new one takes). {@link #hidden()} and {@link #cell()} copy them out and
 * {@link #setState} sets them, for users who keep states of their own (or use {@code forward(x, lengths, h0, c0)},
 * which takes and returns them). A stream is not a weight: it belongs to no checkpoint.
 *
 * <p>Not thread-safe, as the layer: a call overlapping another one on this stream, or on its layer, fails with an
 * {@link IllegalStateException} naming both threads. Closing it releases the states; the layer stays open.
 */
public final class RecurrentStream implements AutoCloseable {
    private final RecurrentLayer layer;
    private final RecurrentConfig cfg;
    private final int batch;
    private final ExclusiveUse use = new ExclusiveUse(this);
    /** [layers, B, S] and (LSTM) [layers, B, H], or null for zeros (the state before any step). */
    private Tensor h;
    private Tensor c;
    private boolean closed;

    RecurrentStream(RecurrentLayer layer, int batch) {
        this.layer = layer;
        this.cfg = layer.config();
        if (cfg.directions() != 1) {
            throw new IllegalArgumentException("layer: expected a unidirectional layer, got " + cfg + ": a bidirectional "
                    + "layer cannot stream, since its reverse direction starts at the end of the sequence, which has "
                    + "not arrived yet; run forward over the whole sequence");
        }
        if (batch < 1) {
            throw new IllegalArgumentException("batch: expected >= 1 streams, got " + batch);
        }
        this.batch = batch;
    }

    /** The number of streams. */
    public int batch() {
        return batch;
    }

    public RecurrentLayer layer() {
        return layer;
    }

    /** {@link #step(Tensor, int[])} with every stream advancing by all of the chunk's steps. */
    public Tensor step(Tensor x) {
        return step(x, null);
    }

    /**
     * Advances the streams by the chunk {@code x}, {@code [T, B, I]} (or {@code [B, T, I]} batch-first) with
     * {@code B} = {@link #batch()} and any {@code T >= 1}, and returns its output, shaped as
     * {@link ForwardResult#output()} (the caller closes it).
     *
     * @param lengths how many of the chunk's steps each stream has, in {@code [1, T]}, or {@code null} for all T:
     *        a stream's state after the call is the one after its last valid step, and its output is zero beyond it
     * @throws IllegalArgumentException for a chunk of another batch size or width (before any work)
     * @throws IllegalStateException when the stream or its layer is closed
     */
    public Tensor step(Tensor x, int[] lengths) {
        requireOpen();
        try (ExclusiveUse.Held u = use.enter("step")) {
            if (x != null && x.rank() == 3) {
                int b = x.dim(cfg.batchFirst() ? 0 : 1);
                if (b != batch) {
                    throw new IllegalArgumentException("x: expected " + batch + " streams (the stream's batch) on axis "
                            + (cfg.batchFirst() ? 0 : 1) + ", got " + b + " in " + Arrays.toString(x.shape()));
                }
            }
            ForwardResult r = layer.forwardInference(x, lengths, h, c);
            // the result holds nothing else in inference: its final states become the carried ones
            closeStates();
            h = r.hN();
            c = r.cN();
            return r.output();
        }
    }

    /** Zeroes every stream's state. */
    public void reset() {
        requireOpen();
        try (ExclusiveUse.Held u = use.enter("reset")) {
            closeStates();
        }
    }

    /**
     * Zeroes the states of the given streams (each in {@code [0, batch)}), the others carry on.
     *
     * @throws IllegalArgumentException for an index out of range (nothing is reset)
     */
    public void reset(int... streams) {
        requireOpen();
        checkStreams(streams, batch);
        try (ExclusiveUse.Held u = use.enter("reset")) {
            zeroStreams(h, streams);
            zeroStreams(c, streams);
        }
    }

    /**
     * Refuses stream indices outside {@code [0, batch)}, naming the first.
     *
     * @throws IllegalArgumentException for {@code null} or an index out of range
     */
    public static void checkStreams(int[] streams, int batch) {
        if (streams == null) {
            throw new IllegalArgumentException("streams: expected stream indices, got null");
        }
        for (int i = 0; i < streams.length; i++) {
            if (streams[i] < 0 || streams[i] >= batch) {
                throw new IllegalArgumentException("streams[" + i + "]: expected a stream index in [0, " + batch
                        + "), got " + streams[i]);
            }
        }
    }

    /**
     * Zeroes the rows of {@code streams} in every layer of carried states {@code [layers, batch, width]}
     * ({@code null}: zeros already); the indices are checked by {@link #checkStreams}.
     */
    public static void zeroStreams(Tensor states, int... streams) {
        if (states == null) {
            return;
        }
        checkStreams(streams, states.dim(1));
        int batch = states.dim(1);
        int width = states.dim(2);
        for (int k = 0; k < states.dim(0); k++) {
            for (int b : streams) {
                states.engine().fill(states.bufferForWrite(), ((long) k * batch + b) * width, width, 0f);
            }
        }
    }

    /** A copy of the hidden states {@code [layers, B, S]} (the caller closes it). */
    public Tensor hidden() {
        requireOpen();
        try (ExclusiveUse.Held u = use.enter("hidden")) {
            return h == null ? Tensor.zeros(layer.device(), cfg.numLayers(), batch, cfg.stateSize())
                    : h.copyTo(layer.device());
        }
    }

    /** A copy of the LSTM cell states {@code [layers, B, H]}, or {@code null} for GRU and RNN. */
    public Tensor cell() {
        requireOpen();
        if (cfg.cell() != CellType.LSTM) {
            return null;
        }
        try (ExclusiveUse.Held u = use.enter("cell")) {
            return c == null ? Tensor.zeros(layer.device(), cfg.numLayers(), batch, cfg.hiddenSize())
                    : c.copyTo(layer.device());
        }
    }

    /**
     * Replaces the states with copies of {@code h} {@code [layers, B, S]} and {@code c} {@code [layers, B, H]}
     * (LSTM; {@code null} for zeros, and {@code null} for GRU and RNN).
     *
     * @throws IllegalArgumentException for a wrong shape or device (the states are left as they were)
     */
    public void setState(Tensor h, Tensor c) {
        requireOpen();
        Checks.optionalShape("h", h, layer.device(), cfg.numLayers(), batch, cfg.stateSize());
        if (h == null) {
            throw new IllegalArgumentException("h: expected a tensor [" + cfg.numLayers() + ", " + batch + ", "
                    + cfg.stateSize() + "], got null (reset() zeroes the states)");
        }
        if (cfg.cell() == CellType.LSTM) {
            Checks.optionalShape("c", c, layer.device(), cfg.numLayers(), batch, cfg.hiddenSize());
        } else if (c != null) {
            throw new IllegalArgumentException("c: expected null for " + cfg.cell() + " (only LSTM has a cell state), got "
                    + c.describe());
        }
        try (ExclusiveUse.Held u = use.enter("setState")) {
            Tensor nh = h.copyTo(layer.device());
            Tensor nc;
            try {
                nc = c == null ? null : c.copyTo(layer.device());
            } catch (RuntimeException e) {
                nh.close();
                throw e;
            }
            closeStates();
            this.h = nh;
            this.c = nc;
        }
    }

    private void closeStates() {
        for (Tensor t : new Tensor[] {h, c}) {
            if (t != null) {
                t.close();
            }
        }
        h = null;
        c = null;
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException(this + " is closed");
        }
    }

    /** Releases the states (the layer stays open). */
    @Override
    public void close() {
        try (ExclusiveUse.Held u = use.enter("close")) {
            closed = true;
            closeStates();
        }
    }

    @Override
    public String toString() {
        return "RecurrentStream(" + batch + " streams of " + layer + ")";
    }
}
