package org.rnn4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/**
 * {@link TensorOps}: every operation's forward against a double-precision reference written from its
 * definition, its backward against central finite differences of that reference (the CPU engine's float
 * gradients of {@code L = Σ w ⊙ op(inputs)}), and the CUDA engine (the stand-in without a GPU) against the CPU
 * engine, forward and backward, on the same inputs. Bad arguments: a named {@link IllegalArgumentException}.
 */
class TensorOpsTest {

    /** One operation: its inputs' shapes, a double reference, the forward and the backward through TensorOps. */
    record Op(String name, int[][] shapes, Function<double[][], double[]> reference,
              Function<Tensor[], Tensor> forward, Backward backward) {
        @Override
        public String toString() {
            return name;
        }
    }

    interface Backward {
        /** The gradients of the inputs from the inputs, the output and its gradient. */
        Tensor[] apply(Tensor[] inputs, Tensor out, Tensor dOut);
    }

    static final int[] LENGTHS = {5, 2, 1};

    static List<Op> ops() {
        List<Op> ops = new ArrayList<>();
        ops.add(new Op("concat axis 1", new int[][] {{2, 3, 4}, {2, 1, 4}, {2, 2, 4}},
                in -> {
                    double[] out = new double[2 * 6 * 4];
                    int[] sizes = {3, 1, 2};
                    for (int i = 0; i < 2; i++) {
                        int at = 0;
                        for (int p = 0; p < 3; p++) {
                            for (int j = 0; j < sizes[p]; j++, at++) {
                                for (int f = 0; f < 4; f++) {
                                    out[(i * 6 + at) * 4 + f] = in[p][(i * sizes[p] + j) * 4 + f];
                                }
                            }
                        }
                    }
                    return out;
                },
                in -> TensorOps.concat(1, in),
                (in, out, d) -> TensorOps.split(d, 1, 3, 1, 2)));
        ops.add(new Op("concat axis 0", new int[][] {{1, 3}, {2, 3}},
                in -> concat(in[0], in[1]),
                in -> TensorOps.concat(0, in),
                (in, out, d) -> TensorOps.split(d, 0, 1, 2)));
        ops.add(new Op("slice axis 1", new int[][] {{3, 5, 2}},
                in -> {
                    double[] out = new double[3 * 3 * 2];
                    for (int i = 0; i < 3; i++) {
                        for (int j = 0; j < 3; j++) {
                            for (int f = 0; f < 2; f++) {
                                out[(i * 3 + j) * 2 + f] = in[0][(i * 5 + 1 + j) * 2 + f];
                            }
                        }
                    }
                    return out;
                },
                in -> TensorOps.slice(in[0], 1, 1, 3),
                (in, out, d) -> {
                    Tensor g = Tensor.zeros(d.device(), 3, 5, 2);
                    TensorOps.addSliceInto(g, 1, 1, d);
                    return new Tensor[] {g};
                }));
        ops.add(new Op("select step 2", new int[][] {{4, 3, 2}},
                in -> Arrays.copyOfRange(in[0], 2 * 6, 3 * 6),
                in -> TensorOps.select(in[0], 2),
                (in, out, d) -> {
                    Tensor g = Tensor.zeros(d.device(), 4, 3, 2);
                    TensorOps.addSelectedInto(g, 2, d);
                    return new Tensor[] {g};
                }));
        ops.add(new Op("reshape", new int[][] {{2, 6}},
                in -> in[0].clone(),
                in -> TensorOps.reshape(in[0], 3, -1, 2),
                (in, out, d) -> new Tensor[] {TensorOps.reshape(d, 2, 6)}));
        ops.add(new Op("transpose leading", new int[][] {{3, 4, 2}},
                in -> {
                    double[] out = new double[24];
                    for (int i = 0; i < 3; i++) {
                        for (int j = 0; j < 4; j++) {
                            for (int f = 0; f < 2; f++) {
                                out[(j * 3 + i) * 2 + f] = in[0][(i * 4 + j) * 2 + f];
                            }
                        }
                    }
                    return out;
                },
                in -> TensorOps.transposeLeading(in[0]),
                (in, out, d) -> new Tensor[] {TensorOps.transposeLeading(d)}));
        ops.add(new Op("add broadcast", new int[][] {{3, 2, 4}, {2, 4}},
                in -> {
                    double[] out = new double[24];
                    for (int i = 0; i < 24; i++) {
                        out[i] = in[0][i] + in[1][i % 8];
                    }
                    return out;
                },
                in -> TensorOps.add(in[0], in[1]),
                (in, out, d) -> new Tensor[] {TensorOps.scale(d, 1f), TensorOps.sumLeading(d, 2, 4)}));
        ops.add(new Op("mul", new int[][] {{3, 5}, {3, 5}},
                in -> {
                    double[] out = new double[15];
                    for (int i = 0; i < 15; i++) {
                        out[i] = in[0][i] * in[1][i];
                    }
                    return out;
                },
                in -> TensorOps.mul(in[0], in[1]),
                (in, out, d) -> new Tensor[] {TensorOps.mul(d, in[1]), TensorOps.mul(d, in[0])}));
        ops.add(new Op("scale", new int[][] {{7}},
                in -> Arrays.stream(in[0]).map(v -> -2.5 * v).toArray(),
                in -> TensorOps.scale(in[0], -2.5f),
                (in, out, d) -> new Tensor[] {TensorOps.scale(d, -2.5f)}));
        ops.add(new Op("tanh", new int[][] {{4, 6}},
                in -> Arrays.stream(in[0]).map(Math::tanh).toArray(),
                in -> TensorOps.tanh(in[0]),
                (in, out, d) -> new Tensor[] {TensorOps.tanhBackward(out, d)}));
        ops.add(new Op("sigmoid", new int[][] {{4, 6}},
                in -> Arrays.stream(in[0]).map(v -> 1 / (1 + Math.exp(-v))).toArray(),
                in -> TensorOps.sigmoid(in[0]),
                (in, out, d) -> new Tensor[] {TensorOps.sigmoidBackward(out, d)}));
        ops.add(new Op("masked softmax", new int[][] {{3, 2, 5}},
                in -> maskedSoftmax(in[0], 3, 2, 5, LENGTHS),
                in -> TensorOps.maskedSoftmax(in[0], LENGTHS),
                (in, out, d) -> new Tensor[] {TensorOps.maskedSoftmaxBackward(out, d, LENGTHS)}));
        ops.add(new Op("softmax unmasked", new int[][] {{2, 3, 4}},
                in -> maskedSoftmax(in[0], 2, 3, 4, new int[] {4, 4}),
                in -> TensorOps.maskedSoftmax(in[0], null),
                (in, out, d) -> new Tensor[] {TensorOps.maskedSoftmaxBackward(out, d, null)}));
        for (int flags = 0; flags < 4; flags++) {
            boolean ta = (flags & 1) != 0, tb = (flags & 2) != 0;
            int batch = 2, m = 3, n = 4, k = 5;
            int[] aShape = ta ? new int[] {batch, k, m} : new int[] {batch, m, k};
            int[] bShape = tb ? new int[] {batch, n, k} : new int[] {batch, k, n};
            ops.add(new Op("bmm" + (ta ? " aT" : "") + (tb ? " bT" : ""), new int[][] {aShape, bShape},
                    in -> {
                        double[] out = new double[batch * m * n];
                        for (int p = 0; p < batch; p++) {
                            for (int i = 0; i < m; i++) {
                                for (int j = 0; j < n; j++) {
                                    double s = 0;
                                    for (int l = 0; l < k; l++) {
                                        double av = ta ? in[0][(p * k + l) * m + i] : in[0][(p * m + i) * k + l];
                                        double bv = tb ? in[1][(p * n + j) * k + l] : in[1][(p * k + l) * n + j];
                                        s += av * bv;
                                    }
                                    out[(p * m + i) * n + j] = s;
                                }
                            }
                        }
                        return out;
                    },
                    in -> TensorOps.bmm(in[0], ta, in[1], tb),
                    (in, out, d) -> TensorOps.bmmBackward(in[0], ta, in[1], tb, d)));
        }
        return ops;
    }

    static double[] concat(double[] a, double[] b) {
        double[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    static double[] maskedSoftmax(double[] x, int batch, int rowsPerSample, int cols, int[] lengths) {
        double[] out = new double[x.length];
        for (int r = 0; r < batch * rowsPerSample; r++) {
            int valid = lengths[r / rowsPerSample];
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int c = 0; c < valid; c++) {
                max = Math.max(max, x[r * cols + c]);
            }
            for (int c = 0; c < valid; c++) {
                sum += Math.exp(x[r * cols + c] - max);
            }
            for (int c = 0; c < valid; c++) {
                out[r * cols + c] = Math.exp(x[r * cols + c] - max) / sum;
            }
        }
        return out;
    }

    // ------------------------------------------------------------------ the checks

    private static double[][] inputs(Op op, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        double[][] in = new double[op.shapes().length][];
        for (int i = 0; i < in.length; i++) {
            in[i] = new double[Arrays.stream(op.shapes()[i]).reduce(1, (a, b) -> a * b)];
            for (int j = 0; j < in[i].length; j++) {
                in[i][j] = (float) rnd.nextDouble(-1.5, 1.5);   // representable in float: both sides see the same x
            }
        }
        return in;
    }

    /** Output and input gradients of {@code op} on {@code device} with loss weights {@code w}. */
    private static float[][] run(Op op, Device device, double[][] in, double[] w) {
        Tensor[] x = new Tensor[in.length];
        List<Tensor> all = new ArrayList<>();
        try {
            for (int i = 0; i < in.length; i++) {
                x[i] = Tensor.of(device, Devices.toFloat(in[i]), op.shapes()[i]);
                all.add(x[i]);
            }
            Tensor out = op.forward().apply(x);
            all.add(out);
            Tensor d = Tensor.of(device, Devices.toFloat(w), out.shape());
            all.add(d);
            Tensor[] grads = op.backward().apply(x, out, d);
            all.addAll(Arrays.asList(grads));
            float[][] result = new float[1 + grads.length][];
            result[0] = out.toHost();
            for (int i = 0; i < grads.length; i++) {
                assertArrayEquals(op.shapes()[i], grads[i].shape(), op + ": gradient " + i + " shape");
                result[1 + i] = grads[i].toHost();
            }
            return result;
        } finally {
            all.forEach(Tensor::close);
        }
    }

    private static double loss(Op op, double[][] in, double[] w) {
        double[] y = op.reference().apply(in);
        double s = 0;
        for (int i = 0; i < y.length; i++) {
            s += w[i] * y[i];
        }
        return s;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("ops")
    void forwardMatchesTheDoubleReferenceAndBackwardMatchesFiniteDifferences(Op op) {
        double[][] in = inputs(op, op.name().hashCode());
        double[] expected = op.reference().apply(in);
        double[] w = new SplittableRandom(3).doubles(expected.length, -1, 1).map(v -> (float) v).toArray();
        float[][] got = run(op, Device.cpu(), in, w);
        assertEquals(expected.length, got[0].length, op + ": output size");
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], got[0][i], 1e-6 + 1e-5 * Math.abs(expected[i]), op + ": output " + i);
        }
        double h = 1e-6;
        for (int p = 0; p < in.length; p++) {
            for (int i = 0; i < in[p].length; i++) {
                double keep = in[p][i];
                in[p][i] = keep + h;
                double up = loss(op, in, w);
                in[p][i] = keep - h;
                double down = loss(op, in, w);
                in[p][i] = keep;
                double numeric = (up - down) / (2 * h);
                assertEquals(numeric, got[1 + p][i], 1e-5 + 1e-4 * Math.abs(numeric),
                        op + ": d input " + p + " [" + i + "]");
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("ops")
    void cudaMatchesCpuForwardAndBackward(Op op) {
        String unusable = Devices.cudaUnusableReason();
        assumeTrue(unusable == null, () -> "no usable CUDA device: " + unusable);
        double[][] in = inputs(op, 11);
        double[] w = new SplittableRandom(5).doubles(op.reference().apply(in).length, -1, 1).toArray();
        float[][] cpu = run(op, Device.cpu(), in, w);
        float[][] gpu = run(op, Device.cuda(), in, w);
        for (int t = 0; t < cpu.length; t++) {
            for (int i = 0; i < cpu[t].length; i++) {
                assertEquals(cpu[t][i], gpu[t][i], 1e-6f + 1e-5f * Math.abs(cpu[t][i]),
                        op + (t == 0 ? ": output " : ": gradient " + (t - 1) + " ") + i);
            }
        }
    }

    /** Rows wider than a block (several columns per thread) and more rows than one block covers. */
    @Test
    void cudaMatchesCpuOnWideMaskedSoftmaxAndLargeCopies() {
        String unusable = Devices.cudaUnusableReason();
        assumeTrue(unusable == null, () -> "no usable CUDA device: " + unusable);
        int batch = 3, rows = 7, cols = 600;
        int[] lengths = {600, 257, 1};
        float[] x = new float[batch * rows * cols];
        SplittableRandom rnd = new SplittableRandom(9);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextDouble(-4, 4);
        }
        float[][] results = new float[2][];
        Device[] devices = {Device.cpu(), Device.cuda()};
        for (int d = 0; d < 2; d++) {
            try (Tensor t = Tensor.of(devices[d], x, batch, rows, cols);
                 Tensor y = TensorOps.maskedSoftmax(t, lengths);
                 Tensor dx = TensorOps.maskedSoftmaxBackward(y, t, lengths);
                 Tensor sliced = TensorOps.slice(t, 2, 100, 450);
                 Tensor joined = TensorOps.concat(2, sliced, y)) {
                results[d] = concatFloats(dx.toHost(), joined.toHost());
            }
        }
        for (int i = 0; i < results[0].length; i++) {
            assertEquals(results[0][i], results[1][i], 1e-7f + 1e-5f * Math.abs(results[0][i]), "element " + i);
        }
    }

    private static float[] concatFloats(float[] a, float[] b) {
        float[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void maskedEntriesAreNeverReadAndComeOutZero() {
        float[] x = {1, 2, Float.NaN, Float.POSITIVE_INFINITY, 0.5f, -1, 3, 4};
        try (Tensor t = Tensor.of(Device.cpu(), x, 2, 4);
             Tensor y = TensorOps.maskedSoftmax(t, new int[] {2, 4})) {
            float[] out = y.toHost();
            assertEquals(0f, out[2]);
            assertEquals(0f, out[3]);
            assertEquals(1.0, out[0] + out[1], 1e-6);
            assertTrue(out[1] > out[0]);
        }
    }

    @Test
    void badArgumentsAreRefusedByName() {
        Device cpu = Device.cpu();
        try (Tensor a = Tensor.zeros(cpu, 2, 3, 4); Tensor b = Tensor.zeros(cpu, 2, 5, 4); Tensor c = Tensor.zeros(cpu, 3, 3, 4)) {
            assertMessage("parts[1]: expected shape [2, 3, 4] except on axis 1", () -> TensorOps.concat(1, a, c));
            assertMessage("axis: expected an axis in [0, 3), got 3", () -> TensorOps.concat(3, a, b));
            assertMessage("sizes: expected sizes adding up to 3", () -> TensorOps.split(a, 1, 1, 1));
            assertMessage("start, length: expected a range within [0, 3)", () -> TensorOps.slice(a, 1, 2, 2));
            assertMessage("shape: expected 24 elements", () -> TensorOps.reshape(a, 5, -1));
            assertMessage("b: expected shape [2, 3, 4] or a trailing part of it, got [2, 5, 4]", () -> TensorOps.add(a, b));
            assertMessage("lengths[1]: expected a value in [1, 4], got 0", () -> TensorOps.maskedSoftmax(a, new int[] {1, 0}));
            assertMessage("lengths: expected 2 entries", () -> TensorOps.maskedSoftmax(a, new int[] {1}));
            assertMessage("b: expected op(b) with 4 rows", () -> TensorOps.bmm(a, false, b, false));
            assertMessage("a, b: expected [batch, ·, ·] each with the same batch", () -> TensorOps.bmm(a, false, c, true));
        }
    }

    private static void assertMessage(String start, org.junit.jupiter.api.function.Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().startsWith(start), () -> "expected a message starting with '" + start + "', got '"
                + e.getMessage() + "'");
    }
}
