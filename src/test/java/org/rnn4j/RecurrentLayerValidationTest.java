package org.rnn4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/** Bad input is refused before any work, with a message naming the argument, the expectation and the value. */
class RecurrentLayerValidationTest {
    private final Device cpu = Device.cpu();
    private RecurrentLayer lstm;

    @BeforeEach
    void setUp() {
        lstm = Lstm.builder(3, 4).numLayers(2).bidirectional(true).seed(1).build(cpu);
    }

    @AfterEach
    void tearDown() {
        lstm.close();
    }

    private static void refused(Class<? extends Throwable> type, Executable call, String... fragments) {
        Throwable e = assertThrows(type, call);
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), () -> "message '" + e.getMessage() + "' lacks '" + f + "'");
        }
    }

    @Test
    void wrongRankOrFeatureSizeIsRefused() {
        try (Tensor rank2 = Tensor.zeros(cpu, 5, 3); Tensor wide = Tensor.zeros(cpu, 5, 2, 7)) {
            refused(IllegalArgumentException.class, () -> lstm.forward(rank2), "x", "[T, B, 3]", "[5, 3]");
            refused(IllegalArgumentException.class, () -> lstm.forward(wide), "x", "[T, B, 3]", "[5, 2, 7]");
        }
    }

    @Test
    void emptySequenceIsRefused() {
        try (Tensor empty = Tensor.zeros(cpu, 0, 2, 3)) {
            refused(IllegalArgumentException.class, () -> lstm.forward(empty), "x", "T, B >= 1");
        }
    }

    @Test
    void lengthsOutsideRangeOrOfWrongCountAreRefused() {
        try (Tensor x = Tensor.zeros(cpu, 5, 2, 3)) {
            refused(IllegalArgumentException.class, () -> lstm.forward(x, new int[] {5}, null, null),
                    "lengths", "2 entries", "got 1");
            refused(IllegalArgumentException.class, () -> lstm.forward(x, new int[] {5, 0}, null, null),
                    "lengths[1]", "[1, 5]", "got 0");
            refused(IllegalArgumentException.class, () -> lstm.forward(x, new int[] {6, 1}, null, null),
                    "lengths[0]", "[1, 5]", "got 6");
        }
    }

    @Test
    void initialStatesOfWrongShapeAreRefused() {
        try (Tensor x = Tensor.zeros(cpu, 5, 2, 3); Tensor h0 = Tensor.zeros(cpu, 4, 2, 5);
             Tensor c0 = Tensor.zeros(cpu, 2, 2, 4)) {
            refused(IllegalArgumentException.class, () -> lstm.forward(x, null, h0, null), "h0", "[4, 2, 4]", "[4, 2, 5]");
            refused(IllegalArgumentException.class, () -> lstm.forward(x, null, null, c0), "c0", "[4, 2, 4]", "[2, 2, 4]");
        }
    }

    @Test
    void cellStateForACellWithoutOneIsRefused() {
        try (RecurrentLayer gru = Gru.builder(3, 4).build(cpu); Tensor x = Tensor.zeros(cpu, 2, 1, 3);
             Tensor c0 = Tensor.zeros(cpu, 1, 1, 4)) {
            refused(IllegalArgumentException.class, () -> gru.forward(x, null, null, c0), "c0", "only LSTM");
        }
    }

    @Test
    void closedTensorIsRefused() {
        Tensor x = Tensor.zeros(cpu, 5, 2, 3);
        x.close();
        refused(IllegalStateException.class, () -> lstm.forward(x), "x", "closed");
        refused(IllegalStateException.class, x::toHost, "closed");
    }

    @Test
    void intTensorAsInputIsRefused() {
        try (Tensor x = Tensor.zerosInt(cpu, 5, 2, 3)) {
            refused(IllegalArgumentException.class, () -> lstm.forward(x), "x", "F32", "I32");
        }
    }

    @Test
    void nonFiniteInputIsRefusedWhenAsked() {
        float[] data = new float[5 * 2 * 3];
        data[7] = Float.NaN;
        try (Tensor x = Tensor.of(cpu, data, 5, 2, 3)) {
            try (ForwardResult unchecked = lstm.forward(x)) {
                float[] y = unchecked.output().toHost();
                boolean nan = false;
                for (float v : y) {
                    nan |= Float.isNaN(v);
                }
                assertTrue(nan, "without the check the NaN propagates to the output");
            }
            lstm.checkFinite(true);
            refused(IllegalArgumentException.class, () -> lstm.forward(x), "x", "finite", "NaN");
        }
    }

    @Test
    void backwardChecksItsArguments() {
        try (Tensor x = Tensor.zeros(cpu, 5, 2, 3); Tensor dY = Tensor.zeros(cpu, 5, 2, 7);
             ForwardResult fwd = lstm.forward(x)) {
            refused(IllegalArgumentException.class, () -> lstm.backward(fwd, dY, null, null), "dY", "[5, 2, 8]", "[5, 2, 7]");
            refused(IllegalArgumentException.class, () -> lstm.backward(null, null, null, null), "fwd");
            try (RecurrentLayer other = Lstm.builder(3, 4).build(cpu)) {
                refused(IllegalArgumentException.class, () -> other.backward(fwd, null, null, null), "fwd", "another layer");
            }
        }
    }

    @Test
    void backwardAfterEvalForwardIsRefused() {
        lstm.eval();
        try (Tensor x = Tensor.zeros(cpu, 5, 2, 3); ForwardResult fwd = lstm.forward(x)) {
            assertFalse(fwd.canBackward());
            refused(IllegalStateException.class, () -> lstm.backward(fwd, null, null, null), "fwd", "eval");
        }
    }

    @Test
    void configurationIsValidated() {
        refused(IllegalArgumentException.class, () -> Lstm.builder(0, 4).config(), "inputSize", ">= 1", "0");
        refused(IllegalArgumentException.class, () -> Lstm.builder(3, 4).projSize(4).config(), "projSize", "hiddenSize=4", "4");
        refused(IllegalArgumentException.class, () -> Gru.builder(3, 4).dropout(1.0).config(), "dropout", "[0, 1)");
        refused(IllegalArgumentException.class, () -> Lstm.builder(3, 4).cellClip(-1).config(), "cellClip");
        refused(IllegalArgumentException.class, () -> Rnn.builder(3, 4).numLayers(0).config(), "numLayers");
    }

    @Test
    void unknownParameterNameIsRefused() {
        refused(IllegalArgumentException.class, () -> lstm.parameter("weight_ih_l7"), "name", "weight_ih_l0", "weight_ih_l7");
        refused(IllegalArgumentException.class, () -> lstm.setParameter("weight_ih_l0", new float[3]), "values", "48", "got 3");
    }

    @Test
    void parametersUsePyTorchNamesAndShapes() {
        try (RecurrentLayer l = Lstm.builder(3, 5).projSize(2).bidirectional(true).build(cpu)) {
            assertEquals(List.of("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_hr_l0",
                    "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse",
                    "weight_hr_l0_reverse"), List.copyOf(l.parameters().keySet()));
            assertEquals(List.of(20, 2), List.of(l.parameter("weight_hh_l0").dim(0), l.parameter("weight_hh_l0").dim(1)));
            assertEquals(List.of(2, 5), List.of(l.parameter("weight_hr_l0").dim(0), l.parameter("weight_hr_l0").dim(1)));
        }
    }

    @Test
    void closedLayerRefusesWork() {
        RecurrentLayer l = Rnn.builder(3, 4).build(cpu);
        l.close();
        try (Tensor x = Tensor.zeros(cpu, 2, 1, 3)) {
            refused(IllegalStateException.class, () -> l.forward(x), "closed");
        }
    }

    @Test
    void bestDeviceSaysWhatItPicked() {
        Device best = Device.best();
        assertTrue(best.selectionNote().startsWith("best available"), best.selectionNote());
        refused(IllegalArgumentException.class, () -> Device.parse("tpu"), "device", "cpu, cuda", "tpu");
    }

    @Test
    void nonLstmResultHasNoCellState() {
        try (RecurrentLayer gru = Gru.builder(3, 4).build(cpu); Tensor x = Tensor.zeros(cpu, 2, 1, 3);
             ForwardResult r = gru.forward(x)) {
            assertNull(r.cN());
        }
    }
}
