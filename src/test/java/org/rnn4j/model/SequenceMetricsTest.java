package org.rnn4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link SequenceMetrics} against values worked out by hand from the definitions. */
class SequenceMetricsTest {

    @Test
    void bleuOfHandCountedCases() {
        int[] ref = {1, 2, 3, 4, 5};
        assertEquals(1.0, SequenceMetrics.bleu(List.of(ref), List.of(ref)), 1e-12);
        // precisions 4/5, 3/4, 2/3, 1/2, no brevity penalty
        assertEquals(Math.pow(0.8 * 0.75 * (2.0 / 3) * 0.5, 0.25),
                SequenceMetrics.bleu(List.of(new int[] {1, 2, 3, 4, 6}), List.of(ref)), 1e-12);
        // every precision 1, c = 4 < r = 5
        assertEquals(Math.exp(1 - 5.0 / 4), SequenceMetrics.bleu(List.of(new int[] {1, 2, 3, 4}), List.of(ref)), 1e-12);
        // clipped unigrams 1/4 and no bigram match: 0 without smoothing
        assertEquals(0.0, SequenceMetrics.bleu(List.of(new int[] {1, 1, 1, 1}), List.of(new int[] {1, 2, 3, 4})));
        // corpus counts add up before the ratios: unigrams (5 + 2) / (5 + 2), ... (2 + 0) / (2 + 0) for 4-grams
        assertEquals(1.0, SequenceMetrics.bleu(List.of(ref, new int[] {7, 8}), List.of(ref, new int[] {7, 8})), 1e-12);
    }

    @Test
    void tokenAccuracyCountsTheEndAndExactMatchWholeSequences() {
        List<int[]> expected = List.of(new int[] {1, 2, 3}, new int[] {4});
        List<int[]> predicted = List.of(new int[] {1, 2, 3, 9}, new int[] {4});
        // first: 3 tokens right, the end missed (4 positions); second: token and end right (2 positions)
        assertEquals(5.0 / 6, SequenceMetrics.tokenAccuracy(predicted, expected), 1e-12);
        assertEquals(0.5, SequenceMetrics.exactMatch(predicted, expected), 1e-12);
        // an empty prediction ends at position 0: neither the token nor the end at position 1 is right
        assertEquals(0.0, SequenceMetrics.tokenAccuracy(List.of(new int[] {}), List.of(new int[] {1})), 1e-12);
        assertEquals(0.5, SequenceMetrics.tokenAccuracy(List.of(new int[] {1, 1}), List.of(new int[] {1})), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> SequenceMetrics.exactMatch(List.of(), expected));
    }
}
