package org.rnn4j.model;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Metrics of predicted token sequences against expected ones (translation, normalisation): token accuracy, exact
 * match and corpus BLEU. Sequences are id arrays without start or end tokens.
 */
public final class SequenceMetrics {
    private SequenceMetrics() {
    }

    /**
     * The share of expected positions, the end included, that the prediction gets right: position {@code t <= n} of
     * an expected sequence of n tokens is right when the prediction has the same token there (at {@code t == n}: ends
     * there), as a teacher-forced accuracy counts them.
     */
    public static double tokenAccuracy(List<int[]> predicted, List<int[]> expected) {
        check(predicted, expected);
        long right = 0, total = 0;
        for (int i = 0; i < expected.size(); i++) {
            int[] p = predicted.get(i), e = expected.get(i);
            for (int t = 0; t <= e.length; t++) {
                boolean same = t < e.length ? t < p.length && p[t] == e[t] : p.length == e.length;
                right += same ? 1 : 0;
            }
            total += e.length + 1;
        }
        return (double) right / total;
    }

    /** The share of predictions equal to their expected sequence. */
    public static double exactMatch(List<int[]> predicted, List<int[]> expected) {
        check(predicted, expected);
        int hits = 0;
        for (int i = 0; i < expected.size(); i++) {
            hits += Arrays.equals(predicted.get(i), expected.get(i)) ? 1 : 0;
        }
        return (double) hits / expected.size();
    }

    /**
     * Corpus BLEU-4 (Papineni et al. 2002) with one reference per prediction: the geometric mean of the clipped
     * 1- to 4-gram precisions summed over the corpus, times the brevity penalty {@code exp(1 − r/c)} when the
     * predictions' total length c is below the references' r; no smoothing (0 when some order has no match), as
     * NLTK's {@code corpus_bleu} by default.
     */
    public static double bleu(List<int[]> predicted, List<int[]> expected) {
        check(predicted, expected);
        long[] matches = new long[4], counts = new long[4];
        long predictedLength = 0, expectedLength = 0;
        for (int i = 0; i < expected.size(); i++) {
            int[] p = predicted.get(i), e = expected.get(i);
            predictedLength += p.length;
            expectedLength += e.length;
            for (int n = 1; n <= 4; n++) {
                Map<List<Integer>, Integer> reference = ngrams(e, n);
                for (Map.Entry<List<Integer>, Integer> g : ngrams(p, n).entrySet()) {
                    matches[n - 1] += Math.min(g.getValue(), reference.getOrDefault(g.getKey(), 0));
                }
                counts[n - 1] += Math.max(0, p.length - n + 1);
            }
        }
        double logSum = 0;
        for (int n = 0; n < 4; n++) {
            if (matches[n] == 0) {
                return 0;
            }
            logSum += Math.log((double) matches[n] / counts[n]);
        }
        double brevity = predictedLength >= expectedLength ? 1 : Math.exp(1 - (double) expectedLength / predictedLength);
        return brevity * Math.exp(logSum / 4);
    }

    private static Map<List<Integer>, Integer> ngrams(int[] s, int n) {
        Map<List<Integer>, Integer> out = new HashMap<>();
        for (int i = 0; i + n <= s.length; i++) {
            out.merge(Arrays.stream(s, i, i + n).boxed().toList(), 1, Integer::sum);
        }
        return out;
    }

    private static void check(List<int[]> predicted, List<int[]> expected) {
        if (predicted == null || expected == null || expected.isEmpty()) {
            throw new IllegalArgumentException("predicted, expected: expected sequences, got "
                    + (predicted == null || expected == null ? "null" : "none"));
        }
        if (predicted.size() != expected.size()) {
            throw new IllegalArgumentException("predicted: expected one per expected sequence (" + expected.size() + "), got "
                    + predicted.size());
        }
    }
}
