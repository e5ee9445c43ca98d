package org.rnn4j.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.IntFunction;

/**
 * Temperature sampling for {@link Seq2Seq#sample}: one decoder row per sample; each step draws every unfinished
 * sample's next token from {@code softmax(logits / temperature)} with that sample's own random stream (split from
 * the seed in sample order, so a sample's draws do not depend on the others' lengths).
 */
final class Sampling extends Search {
    private final double temperature;
    private final SplittableRandom[] streams;
    private final List<List<Integer>> tokens = new ArrayList<>();
    private final List<List<float[]>> attention = new ArrayList<>();
    private final double[] logProb;

    Sampling(int batch, double temperature, long seed) {
        super(batch, batch);
        this.temperature = temperature;
        this.streams = new SplittableRandom[batch];
        SplittableRandom root = new SplittableRandom(seed);
        for (int b = 0; b < batch; b++) {
            streams[b] = root.split();
            tokens.add(new ArrayList<>());
            attention.add(new ArrayList<>());
        }
        this.logProb = new double[batch];
    }

    @Override
    int[] advance(float[] logits, int vocab, int endToken, boolean last, IntFunction<float[]> attentionOf) {
        int[] parents = new int[done.length];
        for (int b = 0; b < done.length; b++) {
            parents[b] = b;
            if (done[b]) {
                continue;
            }
            double[] logProbs = logSoftmax(logits, b * vocab, vocab);
            int token = draw(logProbs, streams[b].nextDouble());
            logProb[b] += logProbs[token];
            if (token == endToken) {
                done[b] = true;
                continue;
            }
            tokens.get(b).add(token);
            attention.get(b).add(attentionOf.apply(b));
            lastTokens[b] = token;
            done[b] = last;
        }
        return parents;
    }

    /** The token whose share of {@code exp(logProbs / temperature)} (normalised) covers {@code u ∈ [0, 1)}. */
    private int draw(double[] logProbs, double u) {
        double max = Arrays.stream(logProbs).max().orElseThrow();
        double[] weight = new double[logProbs.length];
        double sum = 0;
        for (int v = 0; v < weight.length; v++) {
            weight[v] = Math.exp((logProbs[v] - max) / temperature);
            sum += weight[v];
        }
        double left = u * sum;
        int chosen = 0;
        for (int v = 0; v < weight.length; v++) {
            if (weight[v] > 0) {
                chosen = v;   // rounding may leave a sliver of left: it goes to the last drawable token
                left -= weight[v];
                if (left < 0) {
                    break;
                }
            }
        }
        return chosen;
    }

    @Override
    List<Seq2Seq.Translation> best() {
        List<Seq2Seq.Translation> out = new ArrayList<>();
        for (int b = 0; b < done.length; b++) {
            out.add(new Seq2Seq.Translation(tokens.get(b).stream().mapToInt(Integer::intValue).toArray(),
                    attention.get(b).toArray(new float[0][]), logProb[b]));
        }
        return out;
    }
}
