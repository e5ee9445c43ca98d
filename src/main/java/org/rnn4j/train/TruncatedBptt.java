package org.rnn4j.train;

import org.rnn4j.BackwardResult;
import org.rnn4j.ForwardResult;
import org.rnn4j.RecurrentLayer;
import org.rnn4j.Tensor;

/**
 * Stateful training over a long sequence in chunks of k steps (truncated BPTT): each chunk's forward
 * starts from the previous chunk's final states, and its backward stops at the chunk boundary. The
 * carried states are copies of {@code hN}/{@code cN} (detached: the chunk that produced them may be
 * closed), and {@link #backward} passes no {@code dhN}/{@code dcN} and drops {@code dh0}/{@code dc0},
 * so no gradient crosses a boundary. Parameter gradients accumulate over chunks until zeroed.
 *
 * <pre>{@code
 * RecurrentLayer lstm = Lstm.builder(8, 32).build(device);
 * Linear head = new Linear(32, 10, true, 1, device);
 * Adam opt = new Adam(List.of(lstm, head), 1e-3);
 * try (TruncatedBptt tbptt = new TruncatedBptt(lstm, 35)) {
 *     for (int epoch = 0; epoch < epochs; epoch++) {
 *         tbptt.reset();                                           // a new pass starts from zero states
 *         for (int start = 0; start < steps; start += tbptt.chunkLength()) {
 *             opt.zeroGrad();
 *             try (Tensor x = TruncatedBptt.slice(sequence, start, tbptt.chunkLength(), false);
 *                  ForwardResult fwd = tbptt.forward(x);
 *                  Tensor logits = head.forward(fwd.output());
 *                  LossResult loss = Losses.crossEntropyPerStep(logits, targetsOf(start), null, false);
 *                  Tensor dY = head.backward(fwd.output(), loss.gradient())) {
 *                 tbptt.backward(fwd, dY).close();                     // stops at the chunk's start
 *                 Clipping.clipGlobalNorm(List.of(lstm, head), 1.0);
 *                 opt.step();
 *             }
 *         }
 *     }
 * }
 * }</pre>
 * Not thread-safe; one instance per stream of chunks.
 */
public final class TruncatedBptt implements AutoCloseable {
    private final RecurrentLayer layer;
    private final int chunk;
    private Tensor h;
    private Tensor c;

    /**
     * @param layer the recurrent stack to run
     * @param chunkLength k, the number of steps per chunk (≥ 1); {@link #forward} accepts shorter chunks too
     */
    public TruncatedBptt(RecurrentLayer layer, int chunkLength) {
        if (layer == null) {
            throw new IllegalArgumentException("layer: expected a recurrent layer, got null");
        }
        TrainChecks.positive("chunkLength", chunkLength);
        this.layer = layer;
        this.chunk = chunkLength;
    }

    public int chunkLength() {
        return chunk;
    }

    public RecurrentLayer layer() {
        return layer;
    }

    /** The carried hidden state {@code [layers·D, B, S]}, or {@code null} at the start. */
    public Tensor hidden() {
        return h;
    }

    /** The carried LSTM cell state {@code [layers·D, B, H]}, or {@code null} at the start or for GRU/RNN. */
    public Tensor cell() {
        return c;
    }

    /** Forgets the carried states: the next chunk starts from zeros (a new sequence, or a new batch of streams). */
    public void reset() {
        closeState();
    }

    /** {@link #forward(Tensor, int[])} with every sample valid for the whole chunk. */
    public ForwardResult forward(Tensor x) {
        return forward(x, null);
    }

    /**
     * Runs one chunk from the carried states (zeros at the start) and carries its final states on.
     * The batch size must stay the same between {@link #reset()}s.
     *
     * @param x the chunk, in the layer's layout ({@code [k, B, I]} or batch-first {@code [B, k, I]})
     * @param lengths per-sample valid lengths within the chunk, or {@code null}
     * @return the layer's result, owned by the caller
     */
    public ForwardResult forward(Tensor x, int[] lengths) {
        boolean batchFirst = layer.config().batchFirst();
        if (h != null && x != null && x.rank() == 3 && x.dim(batchFirst ? 0 : 1) != h.dim(1)) {
            throw new IllegalArgumentException("x: expected a chunk of " + h.dim(1) + " samples, as the previous chunks "
                    + "whose states are carried, got " + x.dim(batchFirst ? 0 : 1) + " (shape "
                    + java.util.Arrays.toString(x.shape()) + "); call reset() before changing the batch size");
        }
        ForwardResult fwd = layer.forward(x, lengths, h, c);
        try {
            Tensor nextH = fwd.hN().copyTo(fwd.hN().device());
            Tensor nextC;
            try {
                nextC = fwd.cN() == null ? null : fwd.cN().copyTo(fwd.cN().device());
            } catch (RuntimeException e) {
                nextH.close();
                throw e;
            }
            closeState();
            h = nextH;
            c = nextC;
            return fwd;
        } catch (RuntimeException e) {
            fwd.close();
            throw e;
        }
    }

    /**
     * BPTT within the chunk only: {@code layer.backward(fwd, dY, null, null)}; parameter gradients
     * accumulate in the layer. The returned {@code dh0}/{@code dc0} are the gradients that truncation
     * drops; callers usually just close the result (or use {@code dX} for an upstream layer).
     */
    public BackwardResult backward(ForwardResult fwd, Tensor dY) {
        return layer.backward(fwd, dY, null, null);
    }

    /**
     * Steps {@code [start, start + length)} of a sequence as a new tensor (clipped to the end), in
     * the same layout: time-major {@code [T, B, F]} is one copy, batch-first {@code [B, T, F]} one copy per sample.
     */
    public static Tensor slice(Tensor seq, int start, int length, boolean batchFirst) {
        TrainChecks.usable("seq", seq, null);
        if (seq.rank() != 3) {
            throw new IllegalArgumentException("seq: expected shape " + (batchFirst ? "[B, T, F]" : "[T, B, F]")
                    + ", got " + java.util.Arrays.toString(seq.shape()));
        }
        int steps = seq.dim(batchFirst ? 1 : 0);
        int batch = seq.dim(batchFirst ? 0 : 1);
        int features = seq.dim(2);
        if (start < 0 || start >= steps) {
            throw new IllegalArgumentException("start: expected a step in [0, " + steps + "), got " + start);
        }
        TrainChecks.positive("length", length);
        int len = Math.min(length, steps - start);
        Tensor out = Tensor.zeros(seq.device(), batchFirst ? new int[] {batch, len, features}
                : new int[] {len, batch, features});
        try {
            if (!batchFirst) {
                seq.engine().copy(seq.buffer(), (long) start * batch * features, out.buffer(), 0,
                        (long) len * batch * features);
            } else {
                for (int b = 0; b < batch; b++) {
                    seq.engine().copy(seq.buffer(), ((long) b * steps + start) * features, out.buffer(),
                            (long) b * len * features, (long) len * features);
                }
            }
            return out;
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
    }

    private void closeState() {
        if (h != null) {
            h.close();
            h = null;
        }
        if (c != null) {
            c.close();
            c = null;
        }
    }

    /** Releases the carried states (not the layer). */
    @Override
    public void close() {
        closeState();
    }

    @Override
    public String toString() {
        return "TruncatedBptt(k=" + chunk + ", " + layer.config()
                + (h == null ? ", no state" : ", carrying state") + ")";
    }
}
