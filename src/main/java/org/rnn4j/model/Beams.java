package org.rnn4j.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.function.IntFunction;

/**
 * The host side of a batched beam search ({@link Seq2Seq#beamSearch}): for each of {@code batch} samples, up to
 * {@code width} live hypotheses in rows {@code b·width + j} of the decoder's batch, and the ended ones. Each step
 * takes the decoder's logits for every row, extends every live hypothesis by every token, keeps the best
 * {@code width} that do not end (ending ones met before them are set aside as ended), and says which row each
 * new hypothesis continues, so that the caller reorders the decoder's states.
 */
final class Beams extends Search {

    /** A hypothesis: its tokens, one attention row per token, the sum of log probabilities, and whether it ended with the end token. */
    private record Hypothesis(int[] tokens, List<float[]> attention, double logProb, boolean ended) {
        int length() {
            return tokens.length + (ended ? 1 : 0);
        }
    }

    /** A scored extension: from live hypothesis {@code beam} by {@code token}. */
    private record Candidate(double score, int beam, int token) {
    }

    private static final Comparator<Candidate> BEST_FIRST = Comparator.comparingDouble(Candidate::score).reversed()
            .thenComparingInt(Candidate::beam).thenComparingInt(Candidate::token);

    private final int batch;
    private final int width;
    private final double lengthPenalty;
    private final Hypothesis[][] live;
    private final List<List<Hypothesis>> ended = new ArrayList<>();

    Beams(int batch, int width, double lengthPenalty) {
        super(batch, batch * width);
        this.batch = batch;
        this.width = width;
        this.lengthPenalty = lengthPenalty;
        this.live = new Hypothesis[batch][width];
        for (int b = 0; b < batch; b++) {
            live[b][0] = new Hypothesis(new int[0], List.of(), 0, false);   // one start per sample, not width copies
            ended.add(new ArrayList<>());
        }
    }

    @Override
    int[] advance(float[] logits, int vocab, int endToken, boolean last, IntFunction<float[]> attention) {
        int[] parents = new int[batch * width];
        for (int b = 0; b < batch; b++) {
            for (int j = 0; j < width; j++) {
                parents[b * width + j] = b * width + j;
            }
            if (done[b]) {
                continue;
            }
            List<Candidate> candidates = new ArrayList<>();
            for (int j = 0; j < width; j++) {
                if (live[b][j] != null) {
                    double[] logProbs = logSoftmax(logits, (b * width + j) * vocab, vocab);
                    for (int v = 0; v < vocab; v++) {
                        candidates.add(new Candidate(live[b][j].logProb + logProbs[v], j, v));
                    }
                }
            }
            candidates.sort(BEST_FIRST);
            Hypothesis[] next = new Hypothesis[width];
            int kept = 0;
            for (Candidate cand : candidates) {
                if (kept == width) {
                    break;
                }
                Hypothesis parent = live[b][cand.beam];
                int row = b * width + cand.beam;
                if (cand.token == endToken) {
                    ended.get(b).add(new Hypothesis(parent.tokens, parent.attention, cand.score, true));
                    continue;
                }
                int[] tokens = Arrays.copyOf(parent.tokens, parent.tokens.length + 1);
                tokens[parent.tokens.length] = cand.token;
                List<float[]> rows = new ArrayList<>(parent.attention);
                rows.add(attention.apply(row));
                next[kept] = new Hypothesis(tokens, rows, cand.score, false);
                parents[b * width + kept] = row;
                lastTokens[b * width + kept] = cand.token;
                kept++;
            }
            live[b] = next;
            if (last) {
                for (Hypothesis h : next) {
                    if (h != null) {
                        ended.get(b).add(h);
                    }
                }
            }
            done[b] = last || ended.get(b).size() >= width;
        }
        return parents;
    }

    /** Each sample's best ended hypothesis by {@code logProb / length^lengthPenalty}; the first of equals. */
    @Override
    List<Seq2Seq.Translation> best() {
        List<Seq2Seq.Translation> out = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            Hypothesis best = null;
            double bestScore = Double.NEGATIVE_INFINITY;
            for (Hypothesis h : ended.get(b)) {
                double score = h.logProb / Math.pow(Math.max(1, h.length()), lengthPenalty);
                if (best == null || score > bestScore) {
                    best = h;
                    bestScore = score;
                }
            }
            out.add(new Seq2Seq.Translation(best.tokens, best.attention.toArray(new float[0][]), bestScore));
        }
        return out;
    }
}
