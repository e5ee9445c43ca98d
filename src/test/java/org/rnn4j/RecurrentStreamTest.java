package org.rnn4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link RecurrentStream} against one {@link RecurrentLayer#forward} over the whole sequence, bit for bit, for every
 * cell and option, stacked, on both engines, fed in chunks of 1, 3 and T steps; and its refusals.
 */
class RecurrentStreamTest {
    private static final int T = 7;
    private static final int B = 3;
    private static final int I = 5;

    static List<Supplier<RecurrentConfig.Builder<?>>> cells() {
        return List.of(
                () -> Lstm.builder(I, 6),
                () -> Lstm.builder(I, 6).peepholes(true).cellClip(0.7),
                () -> Lstm.builder(I, 6).projSize(4),
                () -> Lstm.builder(I, 6).coupledInputForget(true),
                () -> Gru.builder(I, 6),
                () -> Gru.builder(I, 6).resetAfter(false),
                () -> Rnn.builder(I, 6),
                () -> Rnn.reluBuilder(I, 6));
    }

    static List<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (String device : Devices.names()) {
            for (int c = 0; c < cells().size(); c++) {
                for (int layers : new int[] {1, 2}) {
                    for (int chunk : new int[] {1, 3, T}) {
                        out.add(Arguments.of(device, c, layers, chunk));
                    }
                }
            }
        }
        return out;
    }

    private static float[] uniform(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextDouble(-1, 1);
        }
        return v;
    }

    @ParameterizedTest(name = "{0} cell {1} layers {2} chunk {3}")
    @MethodSource("cases")
    void chunksGiveTheWholeSequencesBits(String device, int cell, int layers, int chunk) {
        Device dev = Device.parse(device);
        float[] x = uniform(T * B * I, 11 + cell);
        long open = Tensor.openCount();
        // dropout and training mode: a stream still runs in inference, so it must match eval's forward
        try (RecurrentLayer layer = new RecurrentLayer(cells().get(cell).get().numLayers(layers).dropout(layers > 1 ? 0.3 : 0)
                .seed(5 + cell).config(), dev);
             Tensor xs = Tensor.of(dev, x, T, B, I)) {
            float[] whole;
            float[] hN;
            float[] cN;
            layer.eval();
            try (ForwardResult r = layer.forward(xs)) {
                whole = r.output().toHost();
                hN = r.hN().toHost();
                cN = r.cN() == null ? null : r.cN().toHost();
            }
            layer.train();
            int width = layer.config().outputSize();
            float[] streamed = new float[T * B * width];
            try (RecurrentStream s = layer.stream(B)) {
                for (int t0 = 0; t0 < T; t0 += chunk) {
                    int n = Math.min(chunk, T - t0);
                    try (Tensor part = Tensor.of(dev, Arrays.copyOfRange(x, t0 * B * I, (t0 + n) * B * I), n, B, I);
                         Tensor y = s.step(part)) {
                        System.arraycopy(y.toHost(), 0, streamed, t0 * B * width, n * B * width);
                    }
                }
                assertArrayEquals(whole, streamed, "outputs");
                try (Tensor h = s.hidden(); Tensor c = s.cell()) {
                    assertArrayEquals(hN, h.toHost(), "h");
                    if (cN == null) {
                        assertNull(c);
                    } else {
                        assertArrayEquals(cN, c.toHost(), "c");
                    }
                }
            }
            assertTrue(layer.isTraining(), "the stream leaves the layer's mode as it was");
        }
        assertEquals(open, Tensor.openCount(), "tensors left open");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("org.rnn4j.Devices#names")
    void resetOfOneStreamStartsItAfreshAndTheOthersCarryOn(String device) {
        Device dev = Device.parse(device);
        float[] x = uniform(T * B * I, 3);
        try (RecurrentLayer layer = Lstm.builder(I, 6).seed(2).build(dev);
             RecurrentStream s = layer.stream(B);
             Tensor first = Tensor.of(dev, Arrays.copyOfRange(x, 0, 3 * B * I), 3, B, I);
             Tensor rest = Tensor.of(dev, Arrays.copyOfRange(x, 3 * B * I, T * B * I), T - 3, B, I);
             Tensor y0 = s.step(first)) {
            s.reset(1);
            float[] got;
            try (Tensor y = s.step(rest)) {
                got = y.toHost();
            }
            // stream 1 sees only the rest from zero; streams 0 and 2 the whole sequence
            float[] fromZero;
            float[] carried;
            try (ForwardResult r = layer.eval().forward(rest)) {
                fromZero = r.output().toHost();
            }
            try (Tensor all = Tensor.of(dev, x, T, B, I); ForwardResult r = layer.forward(all)) {
                carried = Arrays.copyOfRange(r.output().toHost(), 3 * B * 6, T * B * 6);
            }
            for (int t = 0; t < T - 3; t++) {
                for (int b = 0; b < B; b++) {
                    float[] expected = b == 1 ? fromZero : carried;
                    int off = (t * B + b) * 6;
                    assertArrayEquals(Arrays.copyOfRange(expected, off, off + 6), Arrays.copyOfRange(got, off, off + 6),
                            "step " + t + " stream " + b);
                }
            }
            s.reset();
            try (Tensor h = s.hidden()) {
                assertArrayEquals(new float[B * 6], h.toHost());
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("org.rnn4j.Devices#names")
    void setStateEqualsForwardFromThoseStates(String device) {
        Device dev = Device.parse(device);
        try (RecurrentLayer layer = Lstm.builder(I, 6).numLayers(2).seed(9).build(dev).eval();
             RecurrentStream s = layer.stream(B);
             Tensor x = Tensor.of(dev, uniform(T * B * I, 4), T, B, I);
             Tensor h0 = Tensor.of(dev, uniform(2 * B * 6, 5), 2, B, 6);
             Tensor c0 = Tensor.of(dev, uniform(2 * B * 6, 6), 2, B, 6);
             ForwardResult r = layer.forward(x, null, h0, c0)) {
            s.setState(h0, c0);
            try (Tensor y = s.step(x); Tensor h = s.hidden(); Tensor c = s.cell()) {
                assertArrayEquals(r.output().toHost(), y.toHost());
                assertArrayEquals(r.hN().toHost(), h.toHost());
                assertArrayEquals(r.cN().toHost(), c.toHost());
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("org.rnn4j.Devices#names")
    void refusals(String device) {
        Device dev = Device.parse(device);
        long open = Tensor.openCount();
        try (RecurrentLayer bi = Gru.builder(I, 4).bidirectional(true).build(dev)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> bi.stream(1));
            assertTrue(e.getMessage().contains("bidirectional layer cannot stream"), e.getMessage());
        }
        try (RecurrentLayer layer = Lstm.builder(I, 4).build(dev).checkFinite(true);
             Tensor wrongBatch = Tensor.zeros(dev, 1, B + 1, I);
             Tensor wrongWidth = Tensor.zeros(dev, 1, B, I + 1);
             Tensor nan = Tensor.zeros(dev, 1, B, I);
             Tensor ok = Tensor.zeros(dev, 2, B, I);
             Tensor badH = Tensor.zeros(dev, 1, B, 5)) {
            assertThrows(IllegalArgumentException.class, () -> layer.stream(0));
            RecurrentStream s = layer.stream(B);
            assertMessage(assertThrows(IllegalArgumentException.class, () -> s.step(wrongBatch)), "x: expected 3 streams");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> s.step(wrongWidth)), "x: expected shape");
            nan.copyFrom(new float[] {Float.NaN, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
            assertMessage(assertThrows(IllegalArgumentException.class, () -> s.step(nan)), "x: expected finite");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> s.step(ok, new int[] {1, 3, 1})),
                    "lengths[1]");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> s.reset(0, B)), "streams[1]");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> s.setState(badH, null)), "h: expected shape");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> s.step(null)), "x: expected a tensor");
            try (Tensor y = s.step(ok, new int[] {1, 2, 1})) {
                assertEquals(List.of(2, B, 4), Arrays.stream(y.shape()).boxed().toList());
            }
            s.close();
            assertMessage(assertThrows(IllegalStateException.class, () -> s.step(ok)), "is closed");
            assertMessage(assertThrows(IllegalStateException.class, () -> s.hidden()), "is closed");
            RecurrentStream t = layer.stream(B);
            layer.close();
            assertMessage(assertThrows(IllegalStateException.class, () -> t.step(ok)), "is closed");
            t.close();
        }
        assertEquals(open, Tensor.openCount(), "tensors left open");
    }

    private static void assertMessage(RuntimeException e, String part) {
        assertTrue(e.getMessage().contains(part), () -> "expected '" + part + "' in: " + e.getMessage());
    }
}
