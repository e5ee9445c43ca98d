package org.rnn4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.rnn4j.Device;
import org.rnn4j.Devices;
import org.rnn4j.ForwardResult;
import org.rnn4j.Gru;
import org.rnn4j.Lstm;
import org.rnn4j.Precision;
import org.rnn4j.RecurrentLayer;
import org.rnn4j.RecurrentStream;
import org.rnn4j.Rnn;
import org.rnn4j.Tensor;
import org.rnn4j.TensorOps;

/**
 * What a new user gets wrong, a few hundred ways, on every usable device (the CUDA one is the stand-in without a
 * GPU): sizes that are zero, negative, NaN or infinite; nulls; tensors of the wrong shape, dtype or device, or closed;
 * ids out of range; empty lists; a stream fed another batch size; state of another shape; lengths of 0 or above T;
 * temperatures, beam widths and lengths out of range; calls after close; files that are truncated, corrupt or of
 * another model; system properties with bad values. Each is refused by name before any engine work, leaking nothing
 * ({@link Probe}). Valid edge cases (B = T = H = 1, a stream after reset) give the right answer.
 */
class NewUserProbeTest {
    static final int START = 1, END = 2, VOCAB = 6;

    static List<String> devices() {
        return Devices.names();
    }

    /** The devices, and on CUDA the layers' two other precisions (their GEMMs and BF16 weight copies are other code). */
    static List<String> devicesAndPrecisions() {
        List<String> out = new ArrayList<>(Devices.names());
        if (out.contains("cuda")) {
            out.addAll(List.of("cuda-tf32", "cuda-bf16"));
        }
        return out;
    }

    static Device base(String name) {
        return switch (name) {
            case "cpu" -> Device.cpu();
            case "cuda-tf32" -> Device.cuda().withPrecision(Precision.TF32);
            case "cuda-bf16" -> Device.cuda().withPrecision(Precision.BF16);
            default -> Device.cuda();
        };
    }

    /** The other device than {@code d}, or null when only one is usable. */
    static Device other(Device d) {
        List<String> names = Devices.names();
        return names.size() < 2 ? null : d.isCuda() ? Device.cpu() : Device.cuda();
    }

    static float[] uniform(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextDouble(-1, 1);
        }
        return v;
    }

    // ------------------------------------------------------------------ tensors and tensor operations

    @ParameterizedTest
    @MethodSource("devices")
    void tensorsAndTensorOps(String name) {
        Probe p = new Probe(base(name));
        Device d = p.device;
        long open = Tensor.openCount();
        SplittableRandom r = new SplittableRandom(1);
        try (Tensor x = Tensor.of(d, uniform(r, 24), 2, 3, 4); Tensor y = Tensor.of(d, uniform(r, 24), 2, 3, 4);
             Tensor row = Tensor.of(d, uniform(r, 4), 4); Tensor ints = Tensor.zerosInt(d, 2, 3, 4);
             Tensor m = Tensor.of(d, uniform(r, 12), 2, 3, 2); Tensor closed = Tensor.zeros(d, 2, 3, 4)) {
            closed.close();
            Device o = other(d);
            Tensor elsewhere = o == null ? null : Tensor.zeros(o, 2, 3, 4);
            try {
                // the tensor itself
                p.iae("zeros(null device)", "device", () -> Tensor.zeros(null, 2));
                p.iae("zeros(null shape)", "shape", () -> Tensor.zeros(d, (int[]) null));
                p.iae("zeros() rank 0", "shape", () -> Tensor.zeros(d));
                p.iae("zeros(-1)", "shape", () -> Tensor.zeros(d, 2, -1));
                p.iae("zeros(MIN_VALUE)", "shape", () -> Tensor.zeros(d, Integer.MIN_VALUE));
                p.named("zeros(2^31-1, 2^31-1)", "shape: [2147483647, 2147483647] has more elements than a tensor holds", () -> Tensor.zeros(d, Integer.MAX_VALUE, Integer.MAX_VALUE));
                p.iae("of(null data)", "data", () -> Tensor.of(d, null, 2));
                p.iae("of(3 values, shape [2])", "data", () -> Tensor.of(d, new float[3], 2));
                p.iae("of(0 values, shape [2])", "data", () -> Tensor.of(d, new float[0], 2));
                p.iae("ofInts(3 values, shape [4])", "data", () -> Tensor.ofInts(d, new int[3], 4));
                p.iae("ofInts(null)", "data", () -> Tensor.ofInts(d, null, 4));
                p.iae("copyFrom(null)", "data", () -> x.copyFrom(null));
                p.iae("copyFrom(wrong length)", "data", () -> x.copyFrom(new float[23]));
                p.iae("copyTo(null)", "target", () -> x.copyTo(null));
                p.iae("toHost of an int tensor", "dtype", ints::toHost);
                p.iae("toHostInts of a float tensor", "dtype", x::toHostInts);
                p.iae("fill of an int tensor", "dtype", () -> ints.fill(1f));
                p.iae("dim(3) of a rank-3 tensor", "axis", () -> x.dim(3));
                p.iae("dim(-1)", "axis", () -> x.dim(-1));
                p.closed("toHost after close", closed::toHost);
                p.closed("fill after close", () -> closed.fill(0f));
                p.closed("copyFrom after close", () -> closed.copyFrom(new float[24]));
                p.closed("copyTo after close", () -> closed.copyTo(d));
                p.closed("buffer after close", closed::buffer);

                // concat, split, slice
                p.iae("concat() of none", "parts", () -> TensorOps.concat(0));
                p.iae("concat(null array)", "parts", () -> TensorOps.concat(0, (Tensor[]) null));
                p.iae("concat(null part)", "parts[0]", () -> TensorOps.concat(0, (Tensor) null));
                p.iae("concat(x, null)", "parts[1]", () -> TensorOps.concat(0, x, null));
                p.iae("concat axis -1", "axis", () -> TensorOps.concat(-1, x, y));
                p.iae("concat axis 3", "axis", () -> TensorOps.concat(3, x, y));
                p.iae("concat of other shapes", "parts[1]", () -> TensorOps.concat(0, x, m));
                p.iae("concat of another rank", "parts[1]", () -> TensorOps.concat(0, x, row));
                p.iae("concat of an int part", "parts[1]", () -> TensorOps.concat(0, x, ints));
                p.closed("concat of a closed part", () -> TensorOps.concat(0, x, closed));
                p.iae("split(null)", "x", () -> TensorOps.split(null, 0, 1));
                p.iae("split sizes null", "sizes", () -> TensorOps.split(x, 0, (int[]) null));
                p.iae("split sizes none", "sizes", () -> TensorOps.split(x, 0));
                p.iae("split negative size", "sizes[0]", () -> TensorOps.split(x, 2, -1, 5));
                p.iae("split sizes too short", "sizes", () -> TensorOps.split(x, 2, 1, 2));
                p.iae("split sizes too long", "sizes", () -> TensorOps.split(x, 2, 3, 2));
                p.iae("split sizes overflowing int", "sizes", () -> TensorOps.split(x, 2, Integer.MAX_VALUE, Integer.MAX_VALUE, 6));
                p.iae("split axis 5", "axis", () -> TensorOps.split(x, 5, 2));
                p.iae("slice start -1", "start", () -> TensorOps.slice(x, 1, -1, 1));
                p.iae("slice length -1", "length", () -> TensorOps.slice(x, 1, 0, -1));
                p.iae("slice past the end", "start", () -> TensorOps.slice(x, 1, 2, 2));
                p.iae("slice start MAX_VALUE", "start", () -> TensorOps.slice(x, 1, Integer.MAX_VALUE, 1));
                p.iae("slice length MAX_VALUE", "length", () -> TensorOps.slice(x, 1, 1, Integer.MAX_VALUE));
                p.iae("slice axis -1", "axis", () -> TensorOps.slice(x, -1, 0, 1));
                p.iae("slice of null", "x", () -> TensorOps.slice(null, 0, 0, 1));
                p.closed("slice of a closed tensor", () -> TensorOps.slice(closed, 0, 0, 1));
                try (Tensor grad = Tensor.zeros(d, 2, 3, 4)) {
                    p.iae("addSliceInto d of another rank", "d", () -> TensorOps.addSliceInto(grad, 1, 0, row));
                    p.iae("addSliceInto d of another width", "d", () -> TensorOps.addSliceInto(grad, 1, 0, m));
                    p.iae("addSliceInto past the end", "start", () -> TensorOps.addSliceInto(grad, 0, 1, x));
                    p.iae("addSliceInto start -1", "start", () -> TensorOps.addSliceInto(grad, 0, -1, x));
                    p.iae("addSliceInto d null", "d", () -> TensorOps.addSliceInto(grad, 0, 0, null));
                    p.iae("addSliceInto grad null", "grad", () -> TensorOps.addSliceInto(null, 0, 0, x));
                    p.iae("addSliceInto axis 3", "axis", () -> TensorOps.addSliceInto(grad, 3, 0, x));
                    p.iae("addSelectedInto wrong shape", "d", () -> TensorOps.addSelectedInto(grad, 0, x));
                    try (Tensor step = TensorOps.select(x, 0)) {
                        p.iae("addSelectedInto index 2", "start", () -> TensorOps.addSelectedInto(grad, 2, step));
                        p.iae("addSelectedInto index -1", "start", () -> TensorOps.addSelectedInto(grad, -1, step));
                    }
                    p.iae("addSelectedInto rank 1 grad", "d", () -> TensorOps.addSelectedInto(row, 0, row));
                    if (elsewhere != null) {
                        p.iae("addSliceInto d on another device", "d", () -> TensorOps.addSliceInto(grad, 0, 0, elsewhere));
                    }
                }
                p.iae("select of rank 1", "x", () -> TensorOps.select(row, 0));
                p.iae("select index 2", "start", () -> TensorOps.select(x, 2));
                p.iae("select index -1", "start", () -> TensorOps.select(x, -1));

                // reshape, transpose
                p.iae("reshape null", "shape", () -> TensorOps.reshape(x, (int[]) null));
                p.iae("reshape to fewer elements", "shape", () -> TensorOps.reshape(x, 5, 4));
                p.iae("reshape two -1", "shape", () -> TensorOps.reshape(x, -1, -1));
                p.iae("reshape -2", "shape", () -> TensorOps.reshape(x, -2, -12));
                p.iae("reshape -1 not dividing", "shape", () -> TensorOps.reshape(x, -1, 5));
                p.iae("reshape -1 beside 0", "shape", () -> TensorOps.reshape(x, -1, 0));
                p.iae("reshape to rank 0", "shape", () -> TensorOps.reshape(x));
                p.iae("reshape overflowing", "shape", () -> TensorOps.reshape(x, 1 << 16, 1 << 16, 1 << 16, 1 << 16, 24));
                p.iae("transposeLeading rank 1", "x", () -> TensorOps.transposeLeading(row));
                p.iae("transposeLeading int tensor", "x", () -> TensorOps.transposeLeading(ints));

                // element-wise
                p.iae("add b of another shape", "b", () -> TensorOps.add(x, m));
                p.iae("add b larger than a", "b", () -> TensorOps.add(row, x));
                p.iae("add b null", "b", () -> TensorOps.add(x, null));
                p.iae("add a null", "a", () -> TensorOps.add(null, x));
                p.iae("mul b of another shape", "b", () -> TensorOps.mul(x, m));
                p.iae("tanhBackward dy of another shape", "dy", () -> TensorOps.tanhBackward(x, m));
                p.iae("tanhBackward dy broadcast", "dy", () -> TensorOps.tanhBackward(x, row));
                p.iae("sigmoidBackward dy null", "dy", () -> TensorOps.sigmoidBackward(x, null));
                p.iae("tanh of null", "x", () -> TensorOps.tanh(null));
                p.iae("sigmoid of an int tensor", "x", () -> TensorOps.sigmoid(ints));
                p.iae("scale of null", "x", () -> TensorOps.scale(null, 2f));
                p.iae("sumLeading to another shape", "trailing", () -> TensorOps.sumLeading(x, 3));
                p.iae("sumLeading to null", "trailing", () -> TensorOps.sumLeading(x, (int[]) null));
                p.iae("sumLeading to none", "trailing", () -> TensorOps.sumLeading(x));
                p.iae("sumLeading to a larger rank", "trailing", () -> TensorOps.sumLeading(row, 1, 4));
                if (elsewhere != null) {
                    p.iae("add b on another device", "b", () -> TensorOps.add(x, elsewhere));
                    p.iae("concat with a part on another device", "parts[1]", () -> TensorOps.concat(0, x, elsewhere));
                    p.iae("bmm b on another device", "b", () -> TensorOps.bmm(x, false, elsewhere, true));
                }

                // softmax and products
                p.iae("maskedSoftmax rank 1", "x", () -> TensorOps.maskedSoftmax(row, null));
                p.iae("maskedSoftmax lengths of another count", "lengths", () -> TensorOps.maskedSoftmax(x, new int[] {1}));
                p.iae("maskedSoftmax length 0", "lengths[1]", () -> TensorOps.maskedSoftmax(x, new int[] {1, 0}));
                p.iae("maskedSoftmax length > S", "lengths[0]", () -> TensorOps.maskedSoftmax(x, new int[] {5, 1}));
                p.iae("maskedSoftmax length -1", "lengths[0]", () -> TensorOps.maskedSoftmax(x, new int[] {-1, 1}));
                p.iae("maskedSoftmax of null", "x", () -> TensorOps.maskedSoftmax(null, null));
                p.iae("maskedSoftmaxBackward dy other shape", "dy", () -> TensorOps.maskedSoftmaxBackward(x, m, null));
                p.iae("maskedSoftmaxBackward length 0", "lengths[0]", () -> TensorOps.maskedSoftmaxBackward(x, y, new int[] {0, 1}));
                p.iae("bmm rank 1", "a, b", () -> TensorOps.bmm(row, false, x, false));
                try (Tensor one = TensorOps.slice(y, 0, 0, 1)) {
                    p.iae("bmm batch mismatch", "a, b", () -> TensorOps.bmm(x, false, one, true));
                }
                p.iae("bmm inner mismatch", "b", () -> TensorOps.bmm(x, false, y, false));
                p.iae("bmm transposed inner mismatch", "b", () -> TensorOps.bmm(m, true, x, true));
                p.iae("bmm null a", "a", () -> TensorOps.bmm(null, false, y, false));
                p.iae("bmm int b", "b", () -> TensorOps.bmm(x, false, ints, true));
                p.closed("bmm closed b", () -> TensorOps.bmm(x, false, closed, true));
                p.iae("bmmBackward dC other shape", "dC", () -> TensorOps.bmmBackward(x, false, y, true, x));
                p.iae("bmmBackward dC null", "dC", () -> TensorOps.bmmBackward(x, false, y, true, null));
            } finally {
                if (elsewhere != null) {
                    elsewhere.close();
                }
            }

            // right answers at the edges
            p.right("B=1 1x1 bmm", () -> {
                try (Tensor a = Tensor.of(d, new float[] {3f}, 1, 1, 1); Tensor b = Tensor.of(d, new float[] {-2f}, 1, 1, 1);
                     Tensor c = TensorOps.bmm(a, true, b, true)) {
                    assertArrayEquals(new float[] {-6f}, c.toHost());
                }
            });
            p.right("bmm with k = 0 is zeros", () -> {
                try (Tensor a = Tensor.zeros(d, 2, 3, 0); Tensor b = Tensor.zeros(d, 2, 0, 2);
                     Tensor c = TensorOps.bmm(a, false, b, false)) {
                    assertArrayEquals(new float[12], c.toHost());
                }
            });
            p.right("maskedSoftmax length 1 is one-hot", () -> {
                try (Tensor s = Tensor.of(d, new float[] {5f, -1f, 9f, 0f, 0f, 0f}, 2, 1, 3);
                     Tensor a = TensorOps.maskedSoftmax(s, new int[] {1, 3})) {
                    float third = 1f / 3;
                    assertArrayEquals(new float[] {1f, 0f, 0f, third, third, third}, a.toHost(), 1e-6f);
                }
            });
            p.right("concat then split gives the parts back", () -> {
                try (Tensor c = TensorOps.concat(2, x, m)) {
                    Tensor[] parts = TensorOps.split(c, 2, 4, 2);
                    try (Tensor a = parts[0]; Tensor b = parts[1]) {
                        assertArrayEquals(x.toHost(), a.toHost());
                        assertArrayEquals(m.toHost(), b.toHost());
                    }
                }
            });
            p.right("concat on the middle axis interleaves the blocks", () -> {
                try (Tensor a = Tensor.of(d, new float[] {1, 2, 3, 4}, 2, 1, 2); Tensor b = Tensor.of(d, new float[] {5, 6, 7, 8, 9, 10, 11, 12}, 2, 2, 2);
                     Tensor c = TensorOps.concat(1, a, b)) {
                    assertArrayEquals(new int[] {2, 3, 2}, c.shape());
                    assertArrayEquals(new float[] {1, 2, 5, 6, 7, 8, 3, 4, 9, 10, 11, 12}, c.toHost());
                }
            });
            p.right("reshape -1 infers and keeps the order", () -> {
                try (Tensor s = TensorOps.reshape(x, -1, 4)) {
                    assertArrayEquals(new int[] {6, 4}, s.shape());
                    assertArrayEquals(x.toHost(), s.toHost());
                }
            });
            p.right("transposeLeading twice is the identity and once moves [1][0] to [0][1]", () -> {
                try (Tensor t = TensorOps.transposeLeading(x); Tensor back = TensorOps.transposeLeading(t)) {
                    assertArrayEquals(new int[] {3, 2, 4}, t.shape());
                    assertArrayEquals(Arrays.copyOfRange(x.toHost(), 12, 16), Arrays.copyOfRange(t.toHost(), 4, 8));
                    assertArrayEquals(x.toHost(), back.toHost());
                }
            });
            p.right("an empty slice is empty", () -> {
                try (Tensor s = TensorOps.slice(x, 1, 3, 0)) {
                    assertArrayEquals(new int[] {2, 0, 4}, s.shape());
                }
            });
        }
        p.right("no tensor leaked", () -> assertEquals(open, Tensor.openCount()));
        p.check();
    }

    // ------------------------------------------------------------------ layers and their streams

    @ParameterizedTest
    @MethodSource("devicesAndPrecisions")
    void layersAndStreams(String name) {
        Probe p = new Probe(base(name));
        Device d = p.device;
        long open = Tensor.openCount();
        SplittableRandom r = new SplittableRandom(2);
        // configurations
        p.iae("Lstm input 0", "inputSize", () -> Lstm.builder(0, 4).build(d));
        p.iae("Lstm hidden 0", "hiddenSize", () -> Lstm.builder(3, 0).build(d));
        p.iae("Gru hidden -1", "hiddenSize", () -> Gru.builder(3, -1).build(d));
        p.iae("Rnn input -5", "inputSize", () -> Rnn.builder(-5, 4).build(d));
        p.iae("numLayers 0", "numLayers", () -> Lstm.builder(3, 4).numLayers(0).build(d));
        p.iae("dropout NaN", "dropout", () -> Gru.builder(3, 4).numLayers(2).dropout(Double.NaN).build(d));
        p.iae("dropout 1", "dropout", () -> Gru.builder(3, 4).numLayers(2).dropout(1).build(d));
        p.iae("dropout -0.1", "dropout", () -> Gru.builder(3, 4).numLayers(2).dropout(-0.1).build(d));
        p.iae("cellClip NaN", "cellClip", () -> Lstm.builder(3, 4).cellClip(Double.NaN).build(d));
        p.iae("cellClip -1", "cellClip", () -> Lstm.builder(3, 4).cellClip(-1).build(d));
        p.iae("projSize = hidden", "projSize", () -> Lstm.builder(3, 4).projSize(4).build(d));
        p.iae("projSize -1", "projSize", () -> Lstm.builder(3, 4).projSize(-1).build(d));
        p.iae("precision null", "precision", () -> Lstm.builder(3, 4).precision(null));
        p.iae("build(null device)", "device", () -> Lstm.builder(3, 4).build(null));
        if (!d.isCuda()) {
            p.iae("TF32 on the CPU", "precision", () -> Lstm.builder(3, 4).precision(Precision.TF32).build(d));
            p.iae("BF16 device on the CPU", "precision", () -> d.withPrecision(Precision.BF16));
        }
        p.iae("withPrecision(null)", "precision", () -> d.withPrecision(null));
        p.iae("Precision.parse(fp64)", "--precision", () -> Precision.parse("--precision", "fp64"));
        p.iae("Precision.parse(null)", "--precision", () -> Precision.parse("--precision", null));
        p.iae("Device.parse(null)", "spec", () -> Device.parse(null));
        p.iae("Device.parse(tpu)", "device", () -> Device.parse("tpu"));
        p.iae("Device.parse(cuda:x)", "device", () -> Device.parse("cuda:x"));
        p.iae("Device.parse(cuda:-1)", "ordinal", () -> Device.parse("cuda:-1"));
        p.iae("Device.cuda(-1)", "ordinal", () -> Device.cuda(-1));
        withProperty(Precision.PROPERTY, "fp16",
                () -> p.iae("-Drnn4j.precision=fp16", Precision.PROPERTY, () -> Lstm.builder(3, 4).build(d)));
        withProperty("rnn4j.threads", "zero",
                () -> p.iae("-Drnn4j.threads=zero", "rnn4j.threads", Device::cpu));
        withProperty("rnn4j.threads", "-2",
                () -> p.iae("-Drnn4j.threads=-2", "rnn4j.threads", Device::cpu));

        for (String cell : List.of("lstm", "gru", "rnn")) {
            try (RecurrentLayer layer = new RecurrentLayer((cell.equals("lstm") ? Lstm.builder(3, 4).numLayers(2)
                    : cell.equals("gru") ? Gru.builder(3, 4).numLayers(2) : Rnn.builder(3, 4).numLayers(2)).seed(3).config(), d);
                 Tensor x = Tensor.of(d, uniform(r, 5 * 2 * 3), 5, 2, 3); Tensor xWide = Tensor.of(d, uniform(r, 5 * 2 * 4), 5, 2, 4);
                 Tensor x3 = Tensor.of(d, uniform(r, 5 * 3 * 3), 5, 3, 3); Tensor flat = Tensor.of(d, uniform(r, 6), 2, 3);
                 Tensor empty = Tensor.zeros(d, 0, 2, 3); Tensor noBatch = Tensor.zeros(d, 5, 0, 3);
                 Tensor h0 = Tensor.zeros(d, 2, 2, 4); Tensor hBad = Tensor.zeros(d, 1, 2, 4); Tensor ints = Tensor.zerosInt(d, 5, 2, 3);
                 Tensor xClosed = Tensor.zeros(d, 5, 2, 3); Tensor nan = Tensor.of(d, new float[30], 5, 2, 3)) {
                xClosed.close();
                nan.copyFrom(withNaN(30));
                String c = cell + ": ";
                p.iae(c + "forward(null)", "x", () -> layer.forward(null));
                p.iae(c + "forward of another width", "x", () -> layer.forward(xWide));
                p.iae(c + "forward of rank 2", "x", () -> layer.forward(flat));
                p.iae(c + "forward T = 0", "x", () -> layer.forward(empty));
                p.iae(c + "forward B = 0", "x", () -> layer.forward(noBatch));
                p.iae(c + "forward of ints", "x", () -> layer.forward(ints));
                p.closed(c + "forward of a closed x", () -> layer.forward(xClosed));
                p.iae(c + "lengths of another count", "lengths", () -> layer.forward(x, new int[] {5}, null, null));
                p.iae(c + "length 0", "lengths[1]", () -> layer.forward(x, new int[] {5, 0}, null, null));
                p.iae(c + "length > T", "lengths[0]", () -> layer.forward(x, new int[] {6, 5}, null, null));
                p.iae(c + "h0 of one layer", "h0", () -> layer.forward(x, null, hBad, null));
                p.iae(c + "h0 of ints", "h0", () -> layer.forward(x, null, ints, null));
                if (!cell.equals("lstm")) {
                    p.iae(c + "c0 for a cell without one", "c0", () -> layer.forward(x, null, h0, h0));
                } else {
                    p.iae(c + "c0 of one layer", "c0", () -> layer.forward(x, null, h0, hBad));
                }
                Device o = other(d);
                if (o != null) {
                    try (Tensor xo = Tensor.zeros(o, 5, 2, 3); Tensor ho = Tensor.zeros(o, 2, 2, 4)) {
                        p.iae(c + "x on another device", "x", () -> layer.forward(xo));
                        p.iae(c + "h0 on another device", "h0", () -> layer.forward(x, null, ho, null));
                        try (RecurrentStream s = layer.stream(2)) {
                            p.iae(c + "stream step on another device", "x", () -> s.step(xo));
                            p.iae(c + "stream setState on another device", "h", () -> s.setState(ho, null));
                        }
                    }
                }
                layer.checkFinite(true);
                p.iaeAfterChecks(c + "NaN input with checkFinite", "x", () -> layer.forward(nan));
                layer.checkFinite(false);

                // the stream
                p.iae(c + "stream(0)", "batch", () -> layer.stream(0));
                p.iae(c + "stream(-1)", "batch", () -> layer.stream(-1));
                try (RecurrentStream s = layer.stream(2)) {
                    p.iae(c + "step(null)", "x", () -> s.step(null));
                    p.iae(c + "step of another batch", "x", () -> s.step(x3));
                    p.iae(c + "step of another width", "x", () -> s.step(xWide));
                    p.iae(c + "step of rank 2", "x", () -> s.step(flat));
                    p.iae(c + "step T = 0", "x", () -> s.step(empty));
                    p.iae(c + "step length 0", "lengths[0]", () -> s.step(x, new int[] {0, 1}));
                    p.iae(c + "step length > T", "lengths[1]", () -> s.step(x, new int[] {1, 6}));
                    p.iae(c + "step lengths of another count", "lengths", () -> s.step(x, new int[] {1, 1, 1}));
                    p.iae(c + "reset(-1)", "streams[0]", () -> s.reset(-1));
                    p.iae(c + "reset(batch)", "streams[1]", () -> s.reset(0, 2));
                    p.iae(c + "reset(null)", "streams", () -> s.reset((int[]) null));
                    p.iae(c + "setState(null)", "h", () -> s.setState(null, null));
                    p.iae(c + "setState of one layer", "h", () -> s.setState(hBad, null));
                    p.iae(c + "setState of ints", "h", () -> s.setState(ints, null));
                    if (cell.equals("lstm")) {
                        p.iae(c + "setState c of one layer", "c", () -> s.setState(h0, hBad));
                    } else {
                        p.iae(c + "setState c for a cell without one", "c", () -> s.setState(h0, h0));
                    }
                    try (Tensor state3 = Tensor.zeros(d, 2, 3, 4)) {
                        p.iae(c + "setState of another batch (another stream's state)", "h", () -> s.setState(state3, null));
                    }
                    // right answers: chunks equal one forward; reset equals a fresh stream; a stream of one of everything
                    p.right(c + "chunks of 1, 3 and 1 steps give forward's bits", () -> {
                        s.reset();
                        float[] whole;
                        try (ForwardResult f = layer.forward(x)) {
                            whole = f.output().toHost();
                        }
                        float[] chunks = new float[whole.length];
                        int at = 0;
                        for (int[] range : new int[][] {{0, 1}, {1, 3}, {4, 1}}) {
                            try (Tensor part = TensorOps.slice(x, 0, range[0], range[1]); Tensor out = s.step(part)) {
                                float[] v = out.toHost();
                                System.arraycopy(v, 0, chunks, at, v.length);
                                at += v.length;
                            }
                        }
                        assertArrayEquals(whole, chunks);
                    });
                    p.right(c + "a chunk with lengths {1, 3} leaves each stream at its own last valid step", () -> {
                        s.reset();
                        try (Tensor three = TensorOps.slice(x, 0, 0, 3); Tensor one = TensorOps.slice(x, 0, 0, 1)) {
                            s.step(three, new int[] {1, 3}).close();
                            try (Tensor h = s.hidden(); ForwardResult f1 = layer.forward(one); ForwardResult f3 = layer.forward(three)) {
                                float[] got = h.toHost(), after1 = f1.hN().toHost(), after3 = f3.hN().toHost();
                                for (int l = 0; l < 2; l++) {
                                    for (int j = 0; j < 4; j++) {
                                        assertEquals(after1[l * 8 + j], got[l * 8 + j], "stream 0 after its 1 step");
                                        assertEquals(after3[l * 8 + 4 + j], got[l * 8 + 4 + j], "stream 1 after its 3 steps");
                                    }
                                }
                            }
                        }
                    });
                    p.right(c + "a step after reset() equals a fresh stream's", () -> {
                        try (Tensor first = TensorOps.slice(x, 0, 0, 1); RecurrentStream fresh = layer.stream(2);
                             Tensor a = fresh.step(first)) {
                            s.step(x).close();
                            s.reset();
                            try (Tensor b = s.step(first)) {
                                assertArrayEquals(a.toHost(), b.toHost());
                            }
                        }
                    });
                    p.right(c + "reset(1) zeroes stream 1 only", () -> {
                        try (Tensor first = TensorOps.slice(x, 0, 0, 1); RecurrentStream fresh = layer.stream(2);
                             Tensor a = fresh.step(first)) {
                            s.reset();
                            s.step(x).close();
                            float[] before;
                            try (Tensor h = s.hidden()) {
                                before = h.toHost();
                            }
                            s.reset(1);
                            try (Tensor h = s.hidden()) {
                                float[] after = h.toHost();
                                for (int l = 0; l < 2; l++) {
                                    for (int j = 0; j < 4; j++) {
                                        assertEquals(before[l * 8 + j], after[l * 8 + j], "stream 0 carries on");
                                        assertEquals(0f, after[l * 8 + 4 + j], "stream 1 is zero");
                                    }
                                }
                            }
                        }
                    });
                }
                RecurrentStream s = layer.stream(2);
                s.close();
                s.close();   // twice is fine
                p.closed(c + "step after close", () -> s.step(x));
                p.closed(c + "reset after close", () -> s.reset());
                p.closed(c + "reset(0) after close", () -> s.reset(0));
                p.closed(c + "hidden after close", s::hidden);
                p.closed(c + "setState after close", () -> s.setState(h0, null));
            }
        }
        try (RecurrentLayer bi = Lstm.builder(3, 4).bidirectional(true).build(d)) {
            p.iae("stream of a bidirectional layer", "layer", () -> bi.stream(1));
        }
        RecurrentLayer closedLayer = Gru.builder(3, 4).build(d);
        RecurrentStream orphan = closedLayer.stream(1);
        closedLayer.close();
        try (Tensor x = Tensor.zeros(d, 1, 1, 3)) {
            p.closed("forward of a closed layer", () -> closedLayer.forward(x));
            p.closed("stream of a closed layer", () -> closedLayer.stream(1));
            p.closed("step of a stream whose layer is closed", () -> orphan.step(x));
        }
        orphan.close();

        p.right("B = T = H = I = 1: an RNN step is tanh(w x + b + u h + c), a stream's two steps equal forward", () -> {
            try (RecurrentLayer one = Rnn.builder(1, 1).seed(9).build(d); Tensor x = Tensor.of(d, new float[] {0.5f, -2f}, 2, 1, 1);
                 ForwardResult f = one.forward(x); RecurrentStream s = one.stream(1)) {
                double w = one.parameter("weight_ih_l0").toHost()[0], u = one.parameter("weight_hh_l0").toHost()[0];
                double b = one.parameter("bias_ih_l0").toHost()[0] + one.parameter("bias_hh_l0").toHost()[0];
                double h1 = Math.tanh(w * 0.5 + b), h2 = Math.tanh(w * -2 + u * h1 + b);
                float tolerance = one.precision() == Precision.BF16 ? 2e-2f : one.precision() == Precision.TF32 ? 2e-3f : 1e-6f;
                assertArrayEquals(new float[] {(float) h1, (float) h2}, f.output().toHost(), tolerance);
                float[] steps = new float[2];
                for (int t = 0; t < 2; t++) {
                    try (Tensor xt = TensorOps.slice(x, 0, t, 1); Tensor y = s.step(xt)) {
                        steps[t] = y.toHost()[0];
                    }
                }
                assertArrayEquals(f.output().toHost(), steps);
            }
        });
        p.right("no tensor leaked", () -> assertEquals(open, Tensor.openCount()));
        p.check();
    }

    // ------------------------------------------------------------------ sequence models, datasets, options, streams

    @ParameterizedTest
    @MethodSource("devices")
    void sequenceModelsDatasetsOptionsAndStreams(String name, @TempDir Path dir) throws IOException {
        Probe p = new Probe(base(name));
        Device d = p.device;
        long open = Tensor.openCount();
        List<int[]> tokens = List.of(new int[] {1, 2, 3}, new int[] {4});
        List<float[][]> feats = List.<float[][]>of(new float[][] {{1, 2}, {3, 4}}, new float[][] {{5, 6}});
        // datasets
        p.iae("classification(null)", "tokens", () -> SequenceDataset.classification(null, new int[] {0}));
        p.iae("classification of none", "sequences", () -> SequenceDataset.classification(List.of(), new int[0]));
        p.iae("classification labels null", "labels", () -> SequenceDataset.classification(tokens, null));
        p.iae("classification one label for two", "labels", () -> SequenceDataset.classification(tokens, new int[] {0}));
        p.iae("classification of an empty sequence", "tokens[1]", () -> SequenceDataset.classification(List.of(new int[] {1}, new int[0]), new int[] {0, 1}));
        p.iae("classification of a null sequence", "tokens[0]", () -> SequenceDataset.classification(Arrays.asList((int[]) null), new int[] {0}));
        p.iae("tagging tags of another length", "tags[0]", () -> SequenceDataset.tagging(tokens, List.of(new int[] {0, 1}, new int[] {0})));
        p.iae("tagging tags null", "tags", () -> SequenceDataset.tagging(tokens, null));
        p.iae("tagging one tag row for two", "tags", () -> SequenceDataset.tagging(tokens, List.of(new int[] {0, 1, 2})));
        p.iae("ofFeatures ragged rows", "features", () -> SequenceDataset.ofFeatures(List.<float[][]>of(new float[][] {{1, 2}, {3}})));
        p.iae("ofFeatures widths differ across sequences", "features", () -> SequenceDataset.ofFeatures(List.<float[][]>of(new float[][] {{1, 2}}, new float[][] {{1}})));
        p.iae("ofFeatures NaN", "features", () -> SequenceDataset.ofFeatures(List.<float[][]>of(new float[][] {{1, Float.NaN}})));
        p.iae("ofFeatures infinity", "features", () -> SequenceDataset.ofFeatures(List.<float[][]>of(new float[][] {{Float.POSITIVE_INFINITY, 1}})));
        p.iae("ofFeatures of no steps", "features", () -> SequenceDataset.ofFeatures(List.<float[][]>of(new float[0][])));
        p.iae("ofFeatures of zero-width rows", "features", () -> SequenceDataset.ofFeatures(List.<float[][]>of(new float[][] {{}})));
        p.iae("regression targets of another count", "targets", () -> SequenceDataset.regression(feats, List.<float[][]>of(new float[][] {{1}, {2}})));
        p.iae("regression targets of other steps", "targets[1]", () -> SequenceDataset.regression(feats, List.<float[][]>of(new float[][] {{1}, {2}}, new float[][] {{1}, {2}})));
        p.iae("regression NaN target", "targets", () -> SequenceDataset.regression(feats, List.<float[][]>of(new float[][] {{1}, {Float.NaN}}, new float[][] {{1}})));
        p.iae("sequenceRegression targets null", "targets", () -> SequenceDataset.sequenceRegression(feats, null));
        p.iae("sequenceRegression one target for two", "targets", () -> SequenceDataset.sequenceRegression(feats, new float[][] {{1}}));
        p.iae("languageModel of a 1-token sequence", "sequences[0]", () -> SequenceDataset.languageModel(List.of(new int[] {1})));
        SequenceDataset labelled = SequenceDataset.classification(tokens, new int[] {0, 1});
        p.iae("withSampleWeights of another count", "weights", () -> labelled.withSampleWeights(new double[] {1}));
        p.iae("withSampleWeights NaN", "weights[1]", () -> labelled.withSampleWeights(new double[] {1, Double.NaN}));
        p.iae("withSampleWeights -1", "weights[0]", () -> labelled.withSampleWeights(new double[] {-1, 1}));
        p.iae("withSampleWeights null", "weights", () -> labelled.withSampleWeights(null));
        p.iae("subset none", "indices", () -> labelled.subset(new int[0]));
        p.iae("subset null", "indices", () -> labelled.subset(null));
        p.iae("subset index 2", "indices", () -> labelled.subset(new int[] {2}));
        p.iae("subset index -1", "indices", () -> labelled.subset(new int[] {-1}));
        p.iae("split NaN", "fraction", () -> labelled.split(Double.NaN, 1));
        p.iae("split 0", "fraction", () -> labelled.split(0, 1));
        p.iae("split 1", "fraction", () -> labelled.split(1, 1));
        p.iae("split 0.5 of 1 each class", "fraction", () -> labelled.split(0.01, 1));
        p.iae("splitStratified 1.5", "fraction", () -> labelled.splitStratified(1.5, 1));

        // options and schedules
        FitOptions o = new FitOptions();
        p.iae("epochs 0", "epochs", () -> o.epochs(0));
        p.iae("batchSize -1", "batchSize", () -> o.batchSize(-1));
        p.iae("adam NaN", "lr", () -> o.adam(Double.NaN));
        p.iae("adam 0", "lr", () -> o.adam(0));
        p.iae("adam -1", "lr", () -> o.adam(-1));
        p.iae("adam 1e-50 (0 in float32)", "lr", () -> o.adam(1e-50));
        p.iae("adam infinity", "lr", () -> o.adam(Double.POSITIVE_INFINITY));
        p.iae("adamW decay -1", "weightDecay", () -> o.adamW(1e-3, -1));
        p.iae("adamW decay NaN", "weightDecay", () -> o.adamW(1e-3, Double.NaN));
        p.iae("sgd momentum 1", "momentum", () -> o.sgd(0.1, 1));
        p.iae("sgd momentum NaN", "momentum", () -> o.sgd(0.1, Double.NaN));
        p.iae("sgd momentum -0.5", "momentum", () -> o.sgd(0.1, -0.5));
        p.iae("clipNorm NaN", "clipNorm", () -> o.clipNorm(Double.NaN));
        p.iae("clipNorm -1", "clipNorm", () -> o.clipNorm(-1));
        p.iae("clipNorm infinity", "clipNorm", () -> o.clipNorm(Double.POSITIVE_INFINITY));
        p.iae("schedule null", "schedule", () -> o.schedule(null));
        p.iae("earlyStopping -1", "patience", () -> o.earlyStopping(-1, true));
        p.iae("checkpoints null dir", "dir", () -> o.checkpoints(null, 1));
        p.iae("checkpoints every 0", "everyEpochs", () -> o.checkpoints(dir, 0));
        p.iae("classWeights none", "weights", () -> o.classWeights());
        p.iae("classWeights NaN", "weights[0]", () -> o.classWeights(Double.NaN));
        p.iae("classWeights -1", "weights[1]", () -> o.classWeights(1, -1));
        p.iae("classWeights all 0", "weights", () -> o.classWeights(0, 0));
        p.iae("callbacks null", "callbacks", () -> o.callbacks((Callback[]) null));
        p.iae("metrics null", "metrics", () -> o.metrics((Metric[]) null));
        p.iae("step every 0", "everyEpochs", () -> LrSchedule.step(0, 0.5));
        p.iae("step gamma NaN", "gamma", () -> LrSchedule.step(1, Double.NaN));
        p.iae("step gamma 0", "gamma", () -> LrSchedule.step(1, 0));
        p.iae("step gamma 2", "gamma", () -> LrSchedule.step(1, 2));
        p.iae("cosine warmup = total", "warmupSteps", () -> LrSchedule.cosine(10, 10, 0));
        p.iae("cosine warmup -1", "warmupSteps", () -> LrSchedule.cosine(-1, 10, 0));
        p.iae("cosine total 0", "totalSteps", () -> LrSchedule.cosine(0, 0, 0));
        p.iae("cosine minLr NaN", "minLr", () -> LrSchedule.cosine(0, 10, Double.NaN));
        p.iae("cosine minLr -1", "minLr", () -> LrSchedule.cosine(0, 10, -1));
        p.iae("cosine minLr infinity", "minLr", () -> LrSchedule.cosine(0, 10, Double.POSITIVE_INFINITY));
        p.iae("plateau factor 1", "factor", () -> LrSchedule.reduceOnPlateau(1, 2, 0));
        p.iae("plateau factor NaN", "factor", () -> LrSchedule.reduceOnPlateau(Double.NaN, 2, 0));
        p.iae("plateau patience -1", "patience", () -> LrSchedule.reduceOnPlateau(0.5, -1, 0));
        p.iae("plateau minLr NaN", "minLr", () -> LrSchedule.reduceOnPlateau(0.5, 1, Double.NaN));
        LrSchedule plateau = LrSchedule.reduceOnPlateau(0.5, 1, 0);
        p.iae("plateau restore of garbage", "scale", () -> plateau.restore(java.util.Map.of("scale", "x", "best", "1", "bad_epochs", "0")));
        p.right("cosine at step 0 without warmup is the base rate; at the end minLr", () -> {
            LrSchedule c = LrSchedule.cosine(0, 10, 0.1);
            assertEquals(1.0, c.rate(1.0, 0, 0), 1e-12);
            assertEquals(0.1, c.rate(1.0, 10, 0), 1e-12);
        });

        // the model
        p.iae("builder(null task)", "task", () -> SequenceModel.builder(null));
        p.iae("embedding vocab 0", "vocab", () -> SequenceModel.builder(Task.CLASSIFICATION).embedding(0, 4).recurrent(Lstm.builder(4, 4)).outputs(2).build(d));
        p.iae("embedding dim 0", "embeddingDim", () -> SequenceModel.builder(Task.CLASSIFICATION).embedding(5, 0).recurrent(Lstm.builder(4, 4)).outputs(2).build(d));
        p.iae("features 0", "features", () -> SequenceModel.builder(Task.CLASSIFICATION).features(0).recurrent(Lstm.builder(4, 4)).outputs(2).build(d));
        p.iae("outputs 0", "outputs", () -> SequenceModel.builder(Task.CLASSIFICATION).features(4).recurrent(Lstm.builder(4, 4)).outputs(0).build(d));
        p.iae("classification outputs 1", "outputs", () -> SequenceModel.builder(Task.CLASSIFICATION).features(4).recurrent(Lstm.builder(4, 4)).outputs(1).build(d));
        p.iae("recurrent input != features", "recurrent", () -> SequenceModel.builder(Task.CLASSIFICATION).features(3).recurrent(Lstm.builder(4, 4)).outputs(2).build(d));
        p.iae("model dropout NaN", "dropout", () -> SequenceModel.builder(Task.CLASSIFICATION).features(4).recurrent(Lstm.builder(4, 4)).dropout(Double.NaN).outputs(2).build(d));
        p.iae("model build(null)", "device", () -> SequenceModel.builder(Task.CLASSIFICATION).features(4).recurrent(Lstm.builder(4, 4)).outputs(2).build(null));
        p.iae("embedding padding 5 of vocab 5", "padding", () -> SequenceModel.builder(Task.TAGGING).embedding(5, 4, 5).recurrent(Lstm.builder(4, 4)).outputs(2).build(d));
        try (SequenceModel tagger = SequenceModel.builder(Task.TAGGING).embedding(5, 4).recurrent(Gru.builder(4, 3).numLayers(2)).outputs(3).seed(4).build(d);
             SequenceModel reg = SequenceModel.builder(Task.REGRESSION).features(2).recurrent(Lstm.builder(2, 3)).outputs(1).seed(4).build(d);
             SequenceModel lm = SequenceModel.builder(Task.LANGUAGE_MODEL).embedding(5, 4).recurrent(Lstm.builder(4, 3)).outputs(5).seed(4).build(d)) {
            SequenceDataset tagged = SequenceDataset.tagging(tokens, List.of(new int[] {0, 1, 2}, new int[] {1}));
            p.iae("predict(null)", "data", () -> tagger.predict(null, 2));
            p.iae("predict batchSize 0", "batchSize", () -> tagger.predict(tagged, 0));
            p.iae("predict token 5 of vocab 5", "data", () -> tagger.predict(SequenceDataset.ofTokens(List.of(new int[] {1, 5})), 2));
            p.iae("predict token -1", "tokens[0][0]", () -> tagger.predict(SequenceDataset.ofTokens(List.of(new int[] {-1})), 2));
            p.iae("predict features for a token model", "data", () -> tagger.predict(SequenceDataset.ofFeatures(feats), 2));
            p.iae("predict tokens for a feature model", "data", () -> reg.predict(SequenceDataset.ofTokens(tokens), 2));
            p.iae("predict features of width 3 for 2", "data", () -> reg.predict(SequenceDataset.ofFeatures(List.<float[][]>of(new float[][] {{1, 2, 3}})), 2));
            p.iae("evaluate tag 3 of 3 classes", "data", () -> tagger.evaluate(SequenceDataset.tagging(tokens, List.of(new int[] {0, 1, 3}, new int[] {1})), 2));
            p.iae("evaluate without targets", "data", () -> tagger.evaluate(SequenceDataset.ofTokens(tokens), 2));
            p.iae("evaluate batchSize 0", "batchSize", () -> tagger.evaluate(tagged, 0));
            p.iae("fit(null)", "train", () -> tagger.fit(null, null, new FitOptions()));
            p.iae("fit options null", "options", () -> tagger.fit(tagged, null, null));
            p.iae("fit class weights of another count", "classWeights", () -> tagger.fit(tagged, null, new FitOptions().classWeights(1, 1)));
            p.iae("fit validation of another kind", "validation", () -> tagger.fit(tagged, SequenceDataset.ofTokens(tokens), new FitOptions()));
            p.iae("trainOnBatch of labels for a tagger", "batch", () -> tagger.trainOnBatch(labelled, 1));
            p.badFile("fit resumeFrom a missing file", () -> tagger.fit(tagged, null, new FitOptions().resumeFrom(dir.resolve("none"))));
            p.badFile("fit resumeFrom a file of another model", () -> tagger.fit(tagged, null, new FitOptions().resumeFrom(s2sFile(dir, d))));
            // refused before the first step; the optimizer state fit made stays with the model until it closes
            p.badFile("fit checkpoints into a file", () -> {
                try (SequenceModel fresh = SequenceModel.builder(Task.TAGGING).embedding(5, 4).recurrent(Gru.builder(4, 3)).outputs(3).build(d)) {
                    fresh.fit(tagged, null, new FitOptions().epochs(1).batchSize(2).checkpoints(Files.write(dir.resolve("a-file"), new byte[1]), 1));
                }
            });
            tagger.resetTraining();
            try (SequenceModel bi = SequenceModel.builder(Task.TAGGING).embedding(5, 4).recurrent(Gru.builder(4, 3).bidirectional(true)).outputs(3).build(d)) {
                p.iae("fit stateful with a bidirectional stack", "stateful", () -> bi.fit(tagged, null, new FitOptions().stateful(true)));
                p.iae("stream of a bidirectional model", "model", () -> bi.stream(1));
            }

            p.iae("generate of a 0-length prefix", "prefix", () -> lm.generate(new int[0], 3, 1, 1));
            p.iae("generate prefix id 5", "prefix[1]", () -> lm.generate(new int[] {1, 5}, 3, 1, 1));
            p.iae("generate length -1", "length", () -> lm.generate(new int[] {1}, -1, 1, 1));
            p.iae("generate temperature NaN", "temperature", () -> lm.generate(new int[] {1}, 3, Double.NaN, 1));
            p.iae("generate temperature infinity", "temperature", () -> lm.generate(new int[] {1}, 3, Double.POSITIVE_INFINITY, 1));
            p.iae("memoryEstimate batch 0", "batch", () -> tagger.memoryEstimate(0, 5));
            p.iae("summary steps 0", "steps", () -> tagger.summary(2, 0));

            // the model's stream
            p.iae("stream(0)", "batch", () -> tagger.stream(0));
            try (ModelStream s = tagger.stream(2); ModelStream f = reg.stream(1)) {
                p.iae("stream predict(null)", "chunk", () -> s.predict(null));
                p.iae("stream predict of 1 for 2", "chunk", () -> s.predict(SequenceDataset.ofTokens(List.of(new int[] {1}))));
                p.iae("stream predict of 3 for 2", "chunk", () -> s.predict(SequenceDataset.ofTokens(List.of(new int[] {1}, new int[] {1}, new int[] {2}))));
                p.iae("stream step(null tokens)", "tokens", () -> s.step((int[]) null));
                p.iae("stream step of 1 token for 2", "tokens", () -> s.step(new int[] {1}));
                p.iae("stream step token 5", "data", () -> s.step(new int[] {1, 5}));
                p.iae("stream step features for a token model", "data", () -> s.step(new float[][] {{1, 2}, {3, 4}}));
                p.iae("stream step features of width 3", "data", () -> f.step(new float[][] {{1, 2, 3}}));
                p.iae("stream step features NaN", "features", () -> f.step(new float[][] {{1, Float.NaN}}));
                p.iae("stream step null row", "features", () -> f.step(new float[][] {null}));
                p.iae("stream reset(2)", "streams[0]", () -> s.reset(2));
                p.iae("stream reset(null)", "streams", () -> s.reset((int[]) null));
                p.right("a stream fed token by token gives predict's rows, and after reset() the same again", () -> {
                    List<float[][]> whole = tagger.predict(SequenceDataset.ofTokens(List.of(new int[] {1, 2, 3}, new int[] {4, 0, 2})), 2);
                    for (int round = 0; round < 2; round++) {
                        s.reset();
                        for (int t = 0; t < 3; t++) {
                            float[][] rows = s.step(new int[] {new int[] {1, 2, 3}[t], new int[] {4, 0, 2}[t]});
                            assertArrayEquals(whole.get(0)[t], rows[0], "stream 0 step " + t);
                            assertArrayEquals(whole.get(1)[t], rows[1], "stream 1 step " + t);
                        }
                    }
                });
            }
            p.right("a regression stream fed chunks of 2 and 1 steps gives predict's rows", () -> {
                float[][] a = {{1, 2}, {0.5f, -1}, {3, 0}}, b = {{-2, 1}, {0, 0}, {1, 1}};
                List<float[][]> whole = reg.predict(SequenceDataset.ofFeatures(List.of(a, b)), 2);
                try (ModelStream rs = reg.stream(2)) {
                    List<float[][]> first = rs.predict(SequenceDataset.ofFeatures(List.of(Arrays.copyOf(a, 2), Arrays.copyOf(b, 2))));
                    float[][] last = rs.step(new float[][] {a[2], b[2]});
                    for (int t = 0; t < 2; t++) {
                        assertArrayEquals(whole.get(0)[t], first.get(0)[t]);
                        assertArrayEquals(whole.get(1)[t], first.get(1)[t]);
                    }
                    assertArrayEquals(whole.get(0)[2], last[0]);
                    assertArrayEquals(whole.get(1)[2], last[1]);
                }
            });
            ModelStream s = tagger.stream(2);
            s.close();
            p.closed("stream predict after close", () -> s.predict(SequenceDataset.ofTokens(tokens)));
            p.closed("stream step after close", () -> s.step(new int[] {1, 2}));
            p.closed("stream step(null) after close", () -> s.step((int[]) null));
            p.closed("stream reset after close", () -> s.reset());
            // files
            Path good = dir.resolve("tagger.safetensors");
            tagger.save(good);
            byte[] bytes = Files.readAllBytes(good);
            p.badFile("load of a missing file", () -> SequenceModel.load(dir.resolve("missing"), d));
            p.badFile("load of a directory", () -> SequenceModel.load(dir, d));
            p.badFile("load of an empty file", () -> SequenceModel.load(Files.write(dir.resolve("empty"), new byte[0]), d));
            for (int cut : new int[] {4, 8, 9, 100, bytes.length / 2, bytes.length - 1}) {
                p.badFile("load of a file cut at " + cut, () -> SequenceModel.load(Files.write(dir.resolve("cut" + cut), Arrays.copyOf(bytes, cut)), d));
            }
            byte[] flipped = bytes.clone();
            flipped[flipped.length - 3] ^= 0x40;
            p.badFile("load of a flipped weight byte", () -> SequenceModel.load(Files.write(dir.resolve("flip"), flipped), d));
            byte[] huge = bytes.clone();
            huge[7] = 0x7f;   // a header length of 2^63-ish
            p.badFile("load of a header length near 2^63", () -> SequenceModel.load(Files.write(dir.resolve("huge"), huge), d));
            p.iae("load(null)", "file", () -> SequenceModel.load(null, d));
            p.iae("load onto null device", "device", () -> SequenceModel.load(good, null));
            p.iae("save(null)", "file", () -> tagger.save(null));
            Path s2s = s2sFile(dir, d);
            p.badFile("a Seq2Seq file loaded as a SequenceModel", () -> SequenceModel.load(s2s, d));
            p.badFile("a SequenceModel file loaded as a Seq2Seq", () -> Seq2Seq.load(good, d));
        }
        SequenceModel gone = SequenceModel.builder(Task.TAGGING).embedding(5, 4).recurrent(Gru.builder(4, 3)).outputs(3).build(d);
        ModelStream orphan = gone.stream(1);
        gone.close();
        p.closed("predict after close", () -> gone.predict(SequenceDataset.ofTokens(tokens), 2));
        p.closed("stream of a closed model", () -> gone.stream(1));
        p.closed("stream step after its model closed", () -> orphan.step(new int[] {1}));
        p.closed("save after close", () -> gone.save(dir.resolve("gone.safetensors")));
        orphan.close();
        p.right("no tensor leaked", () -> assertEquals(open, Tensor.openCount()));
        p.check();
    }

    /** A saved {@link #reverser} in {@code dir}. */
    static Path s2sFile(Path dir, Device d) throws IOException {
        Path s2s = dir.resolve("s2s.safetensors");
        try (Seq2Seq m = reverser(d)) {
            m.save(s2s);
        }
        return s2s;
    }

    // ------------------------------------------------------------------ Seq2Seq

    static Seq2Seq reverser(Device d) {
        return Seq2Seq.builder(VOCAB, VOCAB).encoder(Lstm.builder(4, 5).bidirectional(true).seed(3)).decoder(Lstm.builder(4, 5).seed(4))
                .bridge(Seq2Seq.Bridge.SUM).attention(Seq2Seq.Attention.GENERAL).tokens(START, END).seed(5).build(d);
    }

    @ParameterizedTest
    @MethodSource("devices")
    void seq2seq(String name, @TempDir Path dir) throws IOException {
        Probe p = new Probe(base(name));
        Device d = p.device;
        long open = Tensor.openCount();
        // builders
        p.iae("builder source vocab 0", "sourceVocab", () -> Seq2Seq.builder(0, 5));
        p.iae("builder target vocab 1", "targetVocab", () -> Seq2Seq.builder(5, 1));
        p.iae("fromVectors feature size 0", "featureSize", () -> Seq2Seq.fromVectors(0, 5));
        p.iae("fromVectors target vocab -1", "targetVocab", () -> Seq2Seq.fromVectors(3, -1));
        List<Object[]> builds = List.of(
                new Object[] {"no tokens set", "startToken", (Consumer<Seq2Seq.Builder>) b -> b.tokens(-1, -1)},
                new Object[] {"start token = vocab", "startToken", (Consumer<Seq2Seq.Builder>) b -> b.tokens(VOCAB, END)},
                new Object[] {"end token -2", "endToken", (Consumer<Seq2Seq.Builder>) b -> b.tokens(START, -2)},
                new Object[] {"no encoder", "encoder", (Consumer<Seq2Seq.Builder>) b -> b.encoder(null)},
                new Object[] {"no decoder", "decoder", (Consumer<Seq2Seq.Builder>) b -> b.decoder(null)},
                new Object[] {"bidirectional decoder", "decoder", (Consumer<Seq2Seq.Builder>) b -> b.decoder(Lstm.builder(4, 5).bidirectional(true))},
                new Object[] {"batch-first encoder", "encoder", (Consumer<Seq2Seq.Builder>) b -> b.encoder(Lstm.builder(4, 5).batchFirst(true))},
                new Object[] {"decoder of 2 layers for 1", "decoder", (Consumer<Seq2Seq.Builder>) b -> b.decoder(Lstm.builder(4, 5).numLayers(2))},
                new Object[] {"decoder hidden 6 for 5 with SUM", "decoder", (Consumer<Seq2Seq.Builder>) b -> b.decoder(Lstm.builder(4, 6))},
                new Object[] {"null attention", "attention", (Consumer<Seq2Seq.Builder>) b -> b.attention(null)},
                new Object[] {"null bridge", "bridge", (Consumer<Seq2Seq.Builder>) b -> b.bridge(null)},
                new Object[] {"DOT with a bidirectional encoder", "attention", (Consumer<Seq2Seq.Builder>) b -> b.attention(Seq2Seq.Attention.DOT)});
        for (Object[] c : builds) {
            @SuppressWarnings("unchecked")
            Consumer<Seq2Seq.Builder> edit = (Consumer<Seq2Seq.Builder>) c[2];
            p.iae("build: " + c[0], (String) c[1], () -> {
                Seq2Seq.Builder b = Seq2Seq.builder(VOCAB, VOCAB).encoder(Lstm.builder(4, 5).bidirectional(true))
                        .decoder(Lstm.builder(4, 5)).attention(Seq2Seq.Attention.GENERAL).tokens(START, END);
                edit.accept(b);
                b.build(d).close();
            });
        }
        p.iae("build(null)", "device", () -> Seq2Seq.builder(VOCAB, VOCAB).build(null));
        List<Object[]> vectorBuilds = List.of(
                new Object[] {"vector model with an encoder", "encoder", (Consumer<Seq2Seq.Builder>) b -> b.encoder(Lstm.builder(4, 5))},
                new Object[] {"vector model with attention", "attention", (Consumer<Seq2Seq.Builder>) b -> b.attention(Seq2Seq.Attention.DOT)},
                new Object[] {"vector model with CONCAT_PROJECT", "bridge", (Consumer<Seq2Seq.Builder>) b -> b.bridge(Seq2Seq.Bridge.CONCAT_PROJECT)},
                new Object[] {"vector model conditioning null", "conditioning", (Consumer<Seq2Seq.Builder>) b -> b.conditioning(null)},
                new Object[] {"EVERY_STEP with input = features", "decoder", (Consumer<Seq2Seq.Builder>) b -> b.conditioning(Seq2Seq.Conditioning.EVERY_STEP)},
                new Object[] {"vector model without tokens", "startToken", (Consumer<Seq2Seq.Builder>) b -> b.tokens(-1, END)},
                new Object[] {"vector model without decoder", "decoder", (Consumer<Seq2Seq.Builder>) b -> b.decoder(null)});
        for (Object[] c : vectorBuilds) {
            @SuppressWarnings("unchecked")
            Consumer<Seq2Seq.Builder> edit = (Consumer<Seq2Seq.Builder>) c[2];
            p.iae("build: " + c[0], (String) c[1], () -> {
                Seq2Seq.Builder b = Seq2Seq.fromVectors(4, VOCAB).decoder(Lstm.builder(4, 5)).tokens(START, END);
                edit.accept(b);
                b.build(d).close();
            });
        }
        p.iae("Features.of(null list)", "features", () -> Seq2Seq.Features.of((List<float[]>) null));
        p.iae("Features.of(null array)", "features", () -> Seq2Seq.Features.of((float[][]) null));

        List<int[]> src = List.of(new int[] {3, 4, 5}, new int[] {5});
        List<int[]> tgt = List.of(new int[] {5, 4, 3}, new int[] {5});
        try (Seq2Seq m = reverser(d); Seq2Seq v = Seq2Seq.fromVectors(3, VOCAB).decoder(Gru.builder(4, 5))
                .conditioning(Seq2Seq.Conditioning.BOTH).decoder(Gru.builder(7, 5)).tokens(START, END).seed(2).build(d)) {
            Seq2Seq.Features fs = Seq2Seq.Features.of(new float[] {1, 2, 3}, new float[] {0, -1, 0.5f});
            p.iae("loss: sources null", "sources", () -> m.lossAndGradients((List<int[]>) null, tgt));
            p.iae("loss: sources none", "sources", () -> m.lossAndGradients(List.of(), List.of()));
            p.iae("loss: targets null", "targets", () -> m.lossAndGradients(src, null));
            p.iae("loss: one target for two", "targets", () -> m.lossAndGradients(src, List.of(new int[] {3})));
            p.iae("loss: empty source", "sources[1]", () -> m.lossAndGradients(List.of(new int[] {3}, new int[0]), tgt));
            p.iae("loss: null source", "sources[0]", () -> m.lossAndGradients(Arrays.asList(null, new int[] {3}), tgt));
            p.iae("loss: source id -1", "sources[0][1]", () -> m.lossAndGradients(List.of(new int[] {3, -1}, new int[] {3}), tgt));
            p.iae("loss: source id = vocab", "sources[1][0]", () -> m.lossAndGradients(List.of(new int[] {3}, new int[] {VOCAB}), tgt));
            p.iae("loss: target id = vocab", "targets[0][2]", () -> m.lossAndGradients(src, List.of(new int[] {3, 4, VOCAB}, new int[] {3})));
            p.iae("loss: null target", "targets[1]", () -> m.lossAndGradients(src, Arrays.asList(new int[] {3}, null)));
            p.iae("loss: sampling rate NaN", "samplingRate", () -> m.lossAndGradients(src, tgt, Double.NaN, 1));
            p.iae("loss: sampling rate -0.1", "samplingRate", () -> m.lossAndGradients(src, tgt, -0.1, 1));
            p.iae("loss: sampling rate 1.5", "samplingRate", () -> m.lossAndGradients(src, tgt, 1.5, 1));
            p.iae("loss: features for an id model", "features", () -> m.lossAndGradients(fs, tgt));
            p.iae("loss: ids for a vector model", "sources", () -> v.lossAndGradients(src, tgt));
            p.iae("loss: features of width 2 for 3", "features[1]", () -> v.lossAndGradients(Seq2Seq.Features.of(new float[] {1, 2, 3}, new float[] {1, 2}), tgt));
            p.iae("loss: NaN feature", "features[0][1]", () -> v.lossAndGradients(Seq2Seq.Features.of(new float[] {1, Float.NaN, 3}, new float[] {1, 2, 3}), tgt));
            p.iae("loss: null feature vector", "features[0]", () -> v.lossAndGradients(Seq2Seq.Features.of(Arrays.asList(null, new float[3])), tgt));
            p.iae("loss: no features", "features", () -> v.lossAndGradients(Seq2Seq.Features.of(List.of()), List.of()));
            p.iae("loss: features null", "features", () -> v.lossAndGradients((Seq2Seq.Features) null, tgt));
            p.iae("loss: vector targets of another count", "targets", () -> v.lossAndGradients(fs, List.of(new int[] {3})));
            for (Seq2Seq model : List.of(m, v)) {
                String k = model == m ? "ids: " : "vectors: ";
                java.util.function.BiFunction<Integer, Integer, Object> beam = model == m
                        ? (w, len) -> m.beamSearch(src, w, len, 1.0) : (w, len) -> v.beamSearch(fs, w, len, 1.0);
                p.iae(k + "translate maxLength 0", "maxLength", () -> beam.apply(1, 0));
                p.iae(k + "translate maxLength -1", "maxLength", () -> beam.apply(1, -1));
                p.iae(k + "beam width 0", "beamWidth", () -> beam.apply(0, 5));
                p.iae(k + "beam width -3", "beamWidth", () -> beam.apply(-3, 5));
                p.iae(k + "beam width MAX_VALUE", "beamWidth", () -> beam.apply(Integer.MAX_VALUE, 5));
                p.iae(k + "beam width 2^30 (rows overflow int)", "beamWidth", () -> beam.apply(1 << 30, 5));
                p.iae(k + "maxLength MAX_VALUE", "maxLength", () -> beam.apply(1, Integer.MAX_VALUE));
            }
            p.iae("translate(null)", "sources", () -> m.translate((List<int[]>) null, 4));
            p.iae("translate source id 9", "sources[0][0]", () -> m.translate(List.of(new int[] {9}), 4));
            p.iae("lengthPenalty NaN", "lengthPenalty", () -> m.beamSearch(src, 2, 4, Double.NaN));
            p.iae("lengthPenalty infinity", "lengthPenalty", () -> m.beamSearch(src, 2, 4, Double.NEGATIVE_INFINITY));
            p.iae("sample temperature 0", "temperature", () -> m.sample(src, 4, 0, 1));
            p.iae("sample temperature -1", "temperature", () -> m.sample(src, 4, -1, 1));
            p.iae("sample temperature NaN", "temperature", () -> m.sample(src, 4, Double.NaN, 1));
            p.iae("sample temperature infinity", "temperature", () -> v.sample(fs, 4, Double.POSITIVE_INFINITY, 1));
            p.iae("sample maxLength 0", "maxLength", () -> v.sample(fs, 0, 1, 1));
            p.iae("evaluate targets of another count", "targets", () -> m.evaluate(src, List.of(new int[] {3}), 1, 4));
            p.iae("evaluate targets null", "targets", () -> m.evaluate(src, null, 1, 4));
            p.iae("evaluate target id -1", "targets[0][0]", () -> m.evaluate(src, List.of(new int[] {-1}, new int[] {3}), 1, 4));
            p.iae("evaluate beam 0", "beamWidth", () -> m.evaluate(src, tgt, 0, 4));
            p.iae("evaluate maxLength 0", "maxLength", () -> v.evaluate(fs, tgt, 1, 0));

            // right answers at the edges
            p.right("translate is beam search of width 1; a batch translates as its samples one by one", () -> {
                List<Seq2Seq.Translation> greedy = m.translate(src, 5);
                List<Seq2Seq.Translation> beam1 = m.beamSearch(src, 1, 5, 0);
                for (int i = 0; i < src.size(); i++) {
                    assertArrayEquals(greedy.get(i).tokens(), beam1.get(i).tokens());
                    List<Seq2Seq.Translation> alone = m.translate(List.of(src.get(i)), 5);
                    assertArrayEquals(greedy.get(i).tokens(), alone.get(0).tokens());
                    assertEquals(greedy.get(i).score(), alone.get(0).score(), 1e-4);
                }
            });
            p.right("maxLength 1 gives at most one token; a beam wider than the vocabulary still decodes", () -> {
                for (Seq2Seq.Translation t : m.beamSearch(src, 1, 1, 0)) {
                    assertTrue(t.tokens().length <= 1, Arrays.toString(t.tokens()));
                }
                List<Seq2Seq.Translation> wide = m.beamSearch(src, 3 * VOCAB, 4, 1.0);
                assertEquals(2, wide.size());
                for (Seq2Seq.Translation t : wide) {
                    assertTrue(Double.isFinite(t.score()), "score " + t.score());
                    for (int tok : t.tokens()) {
                        assertTrue(tok >= 0 && tok < VOCAB && tok != END, "token " + tok);
                    }
                }
            });
            p.right("B = 1, source and target of one token: the loss is finite and the mean over 2 steps", () -> {
                double loss = m.lossAndGradients(List.of(new int[] {3}), List.of(new int[] {4}));
                assertTrue(loss > 0 && Double.isFinite(loss), "loss " + loss);
                double empty = v.lossAndGradients(Seq2Seq.Features.of(new float[] {1, 2, 3}), List.of(new int[0]));
                assertTrue(empty > 0 && Double.isFinite(empty), "an empty target learns the end token: loss " + empty);
            });
            p.right("sampling is deterministic for a seed", () -> {
                List<Seq2Seq.Translation> a = v.sample(fs, 6, 1.5, 7), b = v.sample(fs, 6, 1.5, 7);
                for (int i = 0; i < 2; i++) {
                    assertArrayEquals(a.get(i).tokens(), b.get(i).tokens());
                }
            });

            // files
            Path good = dir.resolve("m.safetensors");
            m.save(good);
            byte[] bytes = Files.readAllBytes(good);
            p.badFile("load of a missing file", () -> Seq2Seq.load(dir.resolve("missing"), d));
            p.badFile("load of an empty file", () -> Seq2Seq.load(Files.write(dir.resolve("empty"), new byte[0]), d));
            for (int cut : new int[] {3, 8, 40, bytes.length / 3, bytes.length - 4}) {
                p.badFile("load of a file cut at " + cut, () -> Seq2Seq.load(Files.write(dir.resolve("cut" + cut), Arrays.copyOf(bytes, cut)), d));
            }
            byte[] flipped = bytes.clone();
            flipped[flipped.length - 10] ^= 0x01;
            p.badFile("load of a flipped weight bit", () -> Seq2Seq.load(Files.write(dir.resolve("flip"), flipped), d));
            Path vfile = dir.resolve("v.safetensors");
            v.save(vfile);
            // {file, key, value (null: removed)}: each edit keeps the digests valid, so only the checks of the values can refuse it
            String[][] edits = {
                    {"m", "seq2seq.attention", "LOUD"}, {"m", "seq2seq.attention", null}, {"m", "seq2seq.bridge", "WIDE"},
                    {"m", "seq2seq.target_vocab", "x"}, {"m", "seq2seq.target_vocab", "7"}, {"m", "seq2seq.source_vocab", "-1"},
                    {"m", "seq2seq.start_token", "99"}, {"m", "seq2seq.end_token", null}, {"m", "seq2seq.source_vocab", null},
                    {"v", "seq2seq.conditioning", null}, {"v", "seq2seq.conditioning", "SOMETIMES"}, {"v", "seq2seq.feature_size", "0"},
                    {"v", "seq2seq.feature_size", "4"}};
            for (String[] e : edits) {
                p.badFile("load of " + e[0] + " with " + e[1] + "=" + e[2], () -> {
                    Path f = dir.resolve("edit.safetensors");
                    Files.copy(e[0].equals("m") ? good : vfile, f, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                    ModelRefusalsTest.rewrite(f, meta -> {
                        if (e[2] == null) {
                            meta.remove(e[1]);
                        } else {
                            meta.put(e[1], e[2]);
                        }
                    }, List.of());
                    Seq2Seq.load(f, d).close();
                });
            }
            p.badFile("load with a tensor dropped", () -> {
                Path f = dir.resolve("drop.safetensors");
                Files.copy(good, f, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                ModelRefusalsTest.rewrite(f, meta -> { }, List.of("output.weight"));
                Seq2Seq.load(f, d).close();
            });
            p.iae("load(null)", "file", () -> Seq2Seq.load(null, d));
            p.iae("load onto null device", "device", () -> Seq2Seq.load(good, null));
            p.iae("save(null)", "file", () -> m.save(null));
            p.right("save and load give the same translations", () -> {
                try (Seq2Seq back = Seq2Seq.load(good, d)) {
                    List<Seq2Seq.Translation> a = m.beamSearch(src, 2, 5, 1), b = back.beamSearch(src, 2, 5, 1);
                    for (int i = 0; i < 2; i++) {
                        assertArrayEquals(a.get(i).tokens(), b.get(i).tokens());
                    }
                }
            });
        }
        // padding is never read, whatever the cells, bridge and attention: a batch of different lengths decodes as its
        // samples one by one, and its loss is their token-weighted mean
        List<int[]> ragged = List.of(new int[] {3, 4, 5, 3}, new int[] {5}, new int[] {4, 4});
        List<int[]> raggedTargets = List.of(new int[] {5}, new int[] {3, 4, 5}, new int[0]);
        List<Seq2Seq.Builder> configs = List.of(
                Seq2Seq.builder(VOCAB, VOCAB).encoder(Gru.builder(4, 5).bidirectional(true).seed(1)).decoder(Gru.builder(4, 6).seed(2))
                        .bridge(Seq2Seq.Bridge.CONCAT_PROJECT).attention(Seq2Seq.Attention.BAHDANAU),
                Seq2Seq.builder(VOCAB, VOCAB).encoder(Rnn.builder(4, 5).seed(1)).decoder(Lstm.builder(4, 5).seed(2)),
                Seq2Seq.builder(VOCAB, VOCAB).encoder(Lstm.builder(4, 5).numLayers(2).bidirectional(true).seed(1))
                        .decoder(Lstm.builder(4, 5).numLayers(2).seed(2)).bridge(Seq2Seq.Bridge.CONCAT_PROJECT).attention(Seq2Seq.Attention.GENERAL),
                Seq2Seq.builder(VOCAB, VOCAB).encoder(Lstm.builder(4, 5).seed(1)).decoder(Lstm.builder(4, 5).seed(2)).attention(Seq2Seq.Attention.DOT));
        for (int ci = 0; ci < configs.size(); ci++) {
            Seq2Seq.Builder b = configs.get(ci).tokens(START, END).seed(7);
            String k = "config " + ci + ": ";
            p.right(k + "a ragged batch translates, beam-searches and scores as its samples alone", () -> {
                try (Seq2Seq m = b.build(d)) {
                    List<Seq2Seq.Translation> greedy = m.translate(ragged, 6), beams = m.beamSearch(ragged, 3, 6, 1);
                    double batchLoss = m.lossAndGradients(ragged, raggedTargets);
                    double weighted = 0;
                    int tokens = 0;
                    for (int i = 0; i < ragged.size(); i++) {
                        List<int[]> one = List.of(ragged.get(i));
                        assertArrayEquals(m.translate(one, 6).get(0).tokens(), greedy.get(i).tokens(), "greedy " + i);
                        Seq2Seq.Translation alone = m.beamSearch(one, 3, 6, 1).get(0);
                        assertArrayEquals(alone.tokens(), beams.get(i).tokens(), "beam " + i);
                        assertEquals(alone.score(), beams.get(i).score(), 1e-4, "beam score " + i);
                        int n = raggedTargets.get(i).length + 1;
                        weighted += n * m.lossAndGradients(one, List.of(raggedTargets.get(i)));
                        tokens += n;
                    }
                    assertEquals(weighted / tokens, batchLoss, 1e-5 * Math.max(1, batchLoss), "the batch loss is the token-weighted mean");
                }
            });
        }
        for (Seq2Seq.Conditioning cond : Seq2Seq.Conditioning.values()) {
            p.right("vectors " + cond + ": a batch decodes as its vectors alone and its loss is their token-weighted mean", () -> {
                try (Seq2Seq v = Seq2Seq.fromVectors(3, VOCAB).decoder(Lstm.builder(cond == Seq2Seq.Conditioning.INIT_STATE ? 4 : 7, 5)
                        .numLayers(2).seed(2)).conditioning(cond).tokens(START, END).seed(3).build(d)) {
                    List<float[]> vectors = List.of(new float[] {1, -1, 0.5f}, new float[] {0, 2, -0.25f}, new float[] {-1, 0, 1});
                    Seq2Seq.Features all = Seq2Seq.Features.of(vectors);
                    List<Seq2Seq.Translation> beams = v.beamSearch(all, 2, 5, 1);
                    double batchLoss = v.lossAndGradients(all, raggedTargets), weighted = 0;
                    int tokens = 0;
                    for (int i = 0; i < 3; i++) {
                        Seq2Seq.Features one = Seq2Seq.Features.of(vectors.get(i));
                        assertArrayEquals(v.beamSearch(one, 2, 5, 1).get(0).tokens(), beams.get(i).tokens(), "beam " + i);
                        int n = raggedTargets.get(i).length + 1;
                        weighted += n * v.lossAndGradients(one, List.of(raggedTargets.get(i)));
                        tokens += n;
                    }
                    assertEquals(weighted / tokens, batchLoss, 1e-5 * Math.max(1, batchLoss));
                }
            });
        }
        Seq2Seq gone = reverser(d);
        gone.close();
        p.closed("translate after close", () -> gone.translate(src, 3));
        p.closed("loss after close", () -> gone.lossAndGradients(src, tgt));
        p.closed("save after close", () -> gone.save(dir.resolve("gone.safetensors")));
        p.right("no tensor leaked", () -> assertEquals(open, Tensor.openCount()));
        p.check();
    }

    static float[] withNaN(int n) {
        float[] v = new float[n];
        v[n / 2] = Float.NaN;
        return v;
    }

    /** Runs {@code body} with the system property set, restoring it after. */
    static void withProperty(String key, String value, Runnable body) {
        String before = System.getProperty(key);
        System.setProperty(key, value);
        try {
            body.run();
        } finally {
            if (before == null) {
                System.clearProperty(key);
            } else {
                System.setProperty(key, before);
            }
        }
    }
}
