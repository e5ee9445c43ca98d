package org.rnn4j.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.rnn4j.CellType;
import org.rnn4j.RecurrentConfig;

/**
 * {@link ReferenceRnn} against PyTorch's float64 forward (y, h_n, c_n) on every conformance vector,
 * and {@link ReferenceRnn#parameterShapes} against PyTorch's state_dict names, order and shapes.
 * The vectors are deterministic files; nothing here is random.
 */
class ReferenceConformanceTest {

    static List<ConformanceCase> cases() {
        return ConformanceCase.all();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void forwardMatchesTorch(ConformanceCase c) {
        ReferenceRnn.Result r = c.referenceForward();
        // Tolerance: 1e-10 relative (absolute floor 1e-13 for values near 0). Both sides are float64 and
        // differ only in summation order, ~1e-16 relative; 1e-10 leaves no room for any semantic difference.
        assertClose(c + " y", c.y(), r.y(), 1e-10, 1e-13);
        assertClose(c + " hN", c.hN(), r.hN(), 1e-10, 1e-13);
        if (c.config().cell() == CellType.LSTM) {
            assertClose(c + " cN", c.cN(), r.cN(), 1e-10, 1e-13);
        } else {
            assertNull(r.cN(), c + ": cN must be null unless LSTM");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void paddedStepsAreZero(ConformanceCase c) {
        // Exact: PackedSequence padding (pad_packed_sequence) writes exact zeros, and so must the reference.
        if (c.lengths() == null) {
            return;
        }
        ReferenceRnn.Result r = c.referenceForward();
        int f = c.config().outputSize();
        for (int t = 0; t < c.steps(); t++) {
            for (int b = 0; b < c.batch(); b++) {
                for (int j = 0; j < f; j++) {
                    int i = (t * c.batch() + b) * f + j;
                    if (t >= c.lengths()[b]) {
                        assertEquals(0.0, c.y()[i], c + ": torch y not zero at padded t=" + t + " b=" + b);
                        assertEquals(0.0, r.y()[i], c + ": reference y not zero at padded t=" + t + " b=" + b);
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void parameterShapesMatchStateDict(ConformanceCase c) {
        // Exact: names, state_dict order and shapes; each flat parameter has the shape's element count.
        Map<String, int[]> expected = c.shapes();
        Map<String, int[]> got = ReferenceRnn.parameterShapes(c.config());
        assertEquals(new ArrayList<>(expected.keySet()), new ArrayList<>(got.keySet()), c + ": parameter names/order");
        assertEquals(new ArrayList<>(c.params().keySet()), new ArrayList<>(got.keySet()), c + ": params order");
        for (Map.Entry<String, int[]> e : expected.entrySet()) {
            assertArrayEquals(e.getValue(), got.get(e.getKey()), c + ": shape of " + e.getKey());
            int n = 1;
            for (int d : e.getValue()) {
                n *= d;
            }
            assertEquals(n, c.params().get(e.getKey()).length, c + ": element count of " + e.getKey());
        }
    }

    @Test
    void vectorsCoverTheAgreedCases() {
        // Exact: guards against the suite passing vacuously on a missing or partial resource folder.
        List<ConformanceCase> all = cases();
        assertTrue(all.size() >= 18, "expected >= 18 conformance vectors, found " + all.size());
        boolean[] seen = new boolean[12];
        for (ConformanceCase c : all) {
            RecurrentConfig k = c.config();
            seen[k.cell().ordinal()] = true;                      // 0..3: every cell type
            seen[4] |= k.numLayers() == 2;
            seen[5] |= k.bidirectional();
            seen[6] |= !k.bias();
            seen[7] |= k.projSize() > 0;
            seen[8] |= c.lengths() != null && min(c.lengths()) == 1 && !sorted(c.lengths());
            seen[9] |= k.peepholes() && k.cellClip() > 0 && k.coupledInputForget();
            seen[10] |= k.cell() == CellType.GRU && !k.resetAfter();
            seen[11] |= c.batch() == 1 && k.hiddenSize() == 1 && k.inputSize() == 1;
            assertNotNull(c.grads().get("x"), c + ": grad.x");
        }
        for (int i = 0; i < seen.length; i++) {
            assertTrue(seen[i], "coverage item " + i + " missing from the conformance vectors");
        }
    }

    @Test
    void rejectsBadLengths() {
        // Exact: lengths outside [1, T] are an IllegalArgumentException.
        ConformanceCase c = cases().get(0);
        int[] bad = new int[c.batch()];
        java.util.Arrays.fill(bad, 1);
        bad[0] = c.steps() + 1;
        try {
            ReferenceRnn.forward(c.config(), c.params(), c.x(), c.steps(), c.batch(), bad, null, null, false, 0L);
            fail("length " + bad[0] + " > T accepted");
        } catch (IllegalArgumentException expected) {
            assertTrue(expected.getMessage().contains("lengths"));
        }
    }

    private static int min(int[] a) {
        int m = Integer.MAX_VALUE;
        for (int v : a) {
            m = Math.min(m, v);
        }
        return m;
    }

    private static boolean sorted(int[] a) {
        for (int i = 1; i < a.length; i++) {
            if (a[i] > a[i - 1]) {
                return false;
            }
        }
        return true;
    }

    /** |got − want| ≤ rtol·|want| + atol, element-wise, reporting the first offender. */
    static void assertClose(String what, double[] want, double[] got, double rtol, double atol) {
        assertNotNull(got, what + ": missing");
        assertEquals(want.length, got.length, what + ": length");
        for (int i = 0; i < want.length; i++) {
            double err = Math.abs(got[i] - want[i]);
            if (!(err <= rtol * Math.abs(want[i]) + atol)) {
                fail(what + "[" + i + "]: expected " + want[i] + ", got " + got[i] + " (|diff| " + err + ")");
            }
        }
    }
}
