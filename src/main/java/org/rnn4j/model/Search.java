package org.rnn4j.model;

import java.util.List;
import java.util.function.IntFunction;

/**
 * How {@link Seq2Seq}'s decoding loop chooses tokens ({@link Beams}, {@link Sampling}): the loop runs the decoder on
 * {@code width} rows per sample ({@code b·width + j}), hands each step's logits here, feeds {@link #lastTokens} back and
 * reorders the decoder's states by the parents {@link #advance} returns, until {@link #allDone}.
 */
abstract class Search {
    /** Whether each sample has its result. */
    protected final boolean[] done;
    /** The token each row feeds to the decoder next. */
    protected final int[] lastTokens;

    Search(int samples, int rows) {
        this.done = new boolean[samples];
        this.lastTokens = new int[rows];
    }

    /** Whether every sample has its result. */
    final boolean allDone() {
        for (boolean d : done) {
            if (!d) {
                return false;
            }
        }
        return true;
    }

    /** The token each row feeds to the decoder next. */
    final int[] lastTokens() {
        return lastTokens;
    }

    /**
     * One step from {@code logits [batch·width, vocab]}; {@code attention.apply(row)} is that row's attention over its
     * source. With {@code last} every live sequence ends here (the length limit). Returns the parent row of each row.
     */
    abstract int[] advance(float[] logits, int vocab, int endToken, boolean last, IntFunction<float[]> attention);

    /** Each sample's result. */
    abstract List<Seq2Seq.Translation> best();

    /** {@code log softmax(x[off : off + n])} in double. */
    static double[] logSoftmax(float[] x, int off, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, x[off + i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += Math.exp(x[off + i] - max);
        }
        double logSum = max + Math.log(sum);
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            out[i] = x[off + i] - logSum;
        }
        return out;
    }
}
