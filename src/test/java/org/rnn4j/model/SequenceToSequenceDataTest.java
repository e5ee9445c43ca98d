package org.rnn4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link SequenceDataset#sequenceToSequence} and {@link SequenceDataset#vectorToSequence}: what they keep, and what they refuse by name. */
class SequenceToSequenceDataTest {

    @Test
    void theFactoriesCopyTheirInputsAndKeepEachTargetsOwnLength() {
        int[] source = {3, 4, 5};
        int[] target = {5, 4};
        float[] vector = {0.5f, -1};
        SequenceDataset ids = SequenceDataset.sequenceToSequence(List.of(source, new int[] {7}), List.of(target, new int[0]));
        SequenceDataset vectors = SequenceDataset.vectorToSequence(List.of(vector), List.of(target));
        source[0] = 9;
        target[0] = 9;
        vector[0] = 9;
        assertTrue(ids.hasTargetSequences() && ids.hasTokens() && vectors.hasTargetSequences() && !vectors.hasTokens());
        assertArrayEquals(new int[] {3, 4, 5}, ids.tokens(0));
        assertArrayEquals(new int[] {5, 4}, ids.targetSequence(0));
        assertArrayEquals(new int[0], ids.targetSequence(1), "an empty target: the model learns to end at once");
        assertArrayEquals(new int[] {3, 1}, ids.lengths(), "a source's length is its own");
        assertArrayEquals(new float[] {0.5f, -1}, vectors.features(0));
        assertEquals(2, vectors.featureSize());
        assertArrayEquals(new int[] {1}, vectors.lengths(), "a vector is one step");
        SequenceDataset picked = ids.subset(new int[] {1, 0});
        assertArrayEquals(new int[] {5, 4}, picked.targetSequence(1), "subset keeps the targets with their sources");
        assertFalse(SequenceDataset.classification(List.of(new int[] {1}), new int[] {0}).hasTargetSequences());
        assertThrows(IllegalStateException.class, () -> SequenceDataset.ofTokens(List.of(new int[] {1})).targetSequence(0));
    }

    @Test
    void badInputsAreRefusedByName() {
        List<int[]> two = List.of(new int[] {3}, new int[] {4, 5});
        assertMessage("sources: expected a list of sequences, got null", () -> SequenceDataset.sequenceToSequence(null, two));
        assertMessage("targets: expected 2 entries (one per sequence), got null", () -> SequenceDataset.sequenceToSequence(two, null));
        assertMessage("targets: expected 2 entries (one per sequence), got 1",
                () -> SequenceDataset.sequenceToSequence(two, List.of(new int[] {3})));
        assertMessage("sources[1]: expected at least 1 token(s), got 0",
                () -> SequenceDataset.sequenceToSequence(List.of(new int[] {3}, new int[0]), two));
        assertMessage("sources[0][1]: expected a token id >= 0, got -2",
                () -> SequenceDataset.sequenceToSequence(List.of(new int[] {3, -2}, new int[] {1}), two));
        assertMessage("targets[1][0]: expected a token id >= 0, got -1",
                () -> SequenceDataset.sequenceToSequence(two, List.of(new int[] {3}, new int[] {-1})));
        assertMessage("targets[0]: expected at least 0 token(s), got null",
                () -> SequenceDataset.sequenceToSequence(two, Arrays.asList(null, new int[] {3})));
        assertMessage("sequences: expected at least one sequence, got none",
                () -> SequenceDataset.sequenceToSequence(List.of(), List.of()));

        assertMessage("vectors: expected a list of feature vectors, got null", () -> SequenceDataset.vectorToSequence(null, two));
        assertMessage("vectors[1]: expected 2 features (the first's width), got 3",
                () -> SequenceDataset.vectorToSequence(List.of(new float[2], new float[3]), two));
        assertMessage("vectors[0]: expected at least one feature, got 0",
                () -> SequenceDataset.vectorToSequence(List.of(new float[0], new float[0]), two));
        assertMessage("vectors[1]: expected 2 features (the first's width), got null",
                () -> SequenceDataset.vectorToSequence(Arrays.asList(new float[2], null), two));
        assertMessage("vectors[1][1]: expected a finite value, got NaN",
                () -> SequenceDataset.vectorToSequence(List.of(new float[2], new float[] {0, Float.NaN}), two));
        assertMessage("targets: expected 2 entries (one per sequence), got 1",
                () -> SequenceDataset.vectorToSequence(List.of(new float[2], new float[2]), List.of(new int[] {3})));
        List<int[]> negative = new ArrayList<>(two);
        negative.set(0, new int[] {-5});
        assertMessage("targets[0][0]: expected a token id >= 0, got -5",
                () -> SequenceDataset.vectorToSequence(List.of(new float[2], new float[2]), negative));
        assertMessage("weights: sample weights apply to classification and tagging datasets",
                () -> SequenceDataset.sequenceToSequence(two, two).withSampleWeights(new double[] {1, 1}));
    }

    private static void assertMessage(String start, org.junit.jupiter.api.function.Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().startsWith(start), () -> "expected a message starting \"" + start + "\", got \"" + e.getMessage() + "\"");
    }
}
