package org.rnn4j.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.SplittableRandom;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.rnn4j.DType;
import org.rnn4j.Device;
import org.rnn4j.Devices;
import org.rnn4j.engine.Buffer;
import org.rnn4j.engine.Engine;

/**
 * Where the CUDA engine promises the CPU engine's floats bit for bit: clamp and the scale paths at
 * signed zeros, NaN and ∞, and the fixed-order column sums (two phases, ROW_CHUNK rows per chunk) and
 * scatter-add at sizes around the chunk boundaries. {@code assertArrayEquals} on floats compares bits.
 * Runs on the stand-in driver in every build (on a GPU with {@code -Drnn4j.cuda.libs=}).
 */
class CudaExactnessTest {
    private static final float NAN = Float.NaN;
    private static final float INF = Float.POSITIVE_INFINITY;
    private static String unusable;

    @BeforeAll
    static void probe() {
        unusable = Devices.cudaUnusableReason();
    }

    private final Engine cpu = Device.cpu().engine();

    private static Engine gpu() {
        assumeTrue(unusable == null, () -> "no usable CUDA device: " + unusable);
        return Device.cuda().engine();
    }

    private static Buffer of(Engine e, float... v) {
        Buffer b = e.allocate(DType.F32, v.length);
        e.upload(v, 0, b, 0, v.length);
        return b;
    }

    private static Buffer ofInts(Engine e, int... v) {
        Buffer b = e.allocate(DType.I32, v.length);
        e.upload(v, 0, b, 0, v.length);
        return b;
    }

    private static float[] host(Engine e, Buffer b) {
        float[] out = new float[(int) b.length()];
        e.download(b, 0, out, 0, out.length);
        return out;
    }

    /** Runs {@code op} on both engines over copies of {@code init} and compares the results bit for bit. */
    private void sameBits(String what, float[] init, BiConsumer<Engine, Buffer> op) {
        Engine gpu = gpu();
        try (Buffer c = of(cpu, init); Buffer g = of(gpu, init)) {
            op.accept(cpu, c);
            op.accept(gpu, g);
            assertArrayEquals(host(cpu, c), host(gpu, g), what);
        }
    }

    @Test
    void clampAgreesAtSignedZerosAndNaN() {
        float[] x = {-0f, 0f, -2f, 2f, NAN, -INF, INF, 0.5f};
        sameBits("clamp [0, 1]", x, (e, b) -> e.clamp(b.length(), b, 0, 0f, 1f));
        sameBits("clamp [-1, -0]", x, (e, b) -> e.clamp(b.length(), b, 0, -1f, -0f));
        sameBits("clamp [-0, 0]", x, (e, b) -> e.clamp(b.length(), b, 0, -0f, 0f));
        sameBits("clamp [NaN, 1]", x, (e, b) -> e.clamp(b.length(), b, 0, NAN, 1f));
    }

    @Test
    void scalingAgreesAtSignedZerosNaNAndInfinity() {
        float[] c = {-0f, 0f, NAN, INF, -INF, 3f, -1f, 1e-45f};
        sameBits("axpby beta 0 (a scale)", c, (e, b) -> e.axpby(b.length(), -2f, b, 0, 0f, b, 0));
        for (float beta : new float[] {2f, -1f, 0f, 1f, 0.5f}) {
            // k == 0: C = beta·C; a and b may hold anything, they are not read
            sameBits("gemm k == 0, beta " + beta, c, (e, b) -> {
                try (Buffer any = of(e, INF, NAN)) {
                    e.gemm(false, false, 2, 4, 0, 1f, any, 0, 1, any, 0, 4, beta, b, 0, 4);
                }
            });
            // alpha == 0: C = beta·C; 0·∞ in A·B must not turn C into NaN
            sameBits("gemm alpha == 0, beta " + beta, c, (e, b) -> {
                try (Buffer inf = of(e, INF, -INF, NAN, INF, INF, INF, INF, INF, INF, INF, INF, INF)) {
                    e.gemm(false, false, 2, 4, 1, 0f, inf, 0, 1, inf, 0, 4, beta, b, 0, 4);
                }
            });
        }
        // padded C (ldc > n): the scale goes row by row and leaves the padding alone
        sameBits("gemm k == 0, ldc > n", c, (e, b) -> {
            try (Buffer any = of(e, 1f)) {
                e.gemm(false, false, 2, 3, 0, 1f, any, 0, 1, any, 0, 3, -2f, b, 0, 4);
            }
        });
    }

    private static float[] random(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (r.nextDouble() * 2 - 1);
        }
        return v;
    }

    @Test
    void columnSumsAgreeBitForBitAroundTheChunkBoundaries() {
        Engine gpu = gpu();
        SplittableRandom r = new SplittableRandom(9);
        int chunk = Engine.ROW_CHUNK;
        for (int rows : new int[] {1, chunk - 1, chunk, chunk + 1, 5 * chunk + 3}) {
            for (int cols : new int[] {1, 7, 300}) {
                int ld = cols + 2;
                float[] src = random(r, 3 + rows * ld);
                float[] dst = random(r, 1 + cols);
                try (Buffer sc = of(cpu, src); Buffer sg = of(gpu, src); Buffer dc = of(cpu, dst); Buffer dg = of(gpu, dst)) {
                    cpu.sumRows(rows, cols, sc, 3, ld, dc, 1);
                    gpu.sumRows(rows, cols, sg, 3, ld, dg, 1);
                    assertArrayEquals(host(cpu, dc), host(gpu, dg), "sumRows rows " + rows + " cols " + cols);
                }
                int h = cols;
                float[] dG = random(r, 2 + rows * 4 * h);
                float[] cPrev = random(r, rows * h);
                float[] c = random(r, 1 + rows * h);
                float[] dPeep = random(r, 3 * h);
                try (Buffer gc = of(cpu, dG); Buffer gg = of(gpu, dG); Buffer pc = of(cpu, cPrev); Buffer pg = of(gpu, cPrev);
                     Buffer cc = of(cpu, c); Buffer cg = of(gpu, c); Buffer dc = of(cpu, dPeep); Buffer dg = of(gpu, dPeep)) {
                    cpu.lstmPeepholeGrad(rows, h, gc, 2, pc, 0, cc, 1, dc, 0);
                    gpu.lstmPeepholeGrad(rows, h, gg, 2, pg, 0, cg, 1, dg, 0);
                    assertArrayEquals(host(cpu, dc), host(gpu, dg), "lstmPeepholeGrad rows " + rows + " hidden " + h);
                }
            }
        }
    }

    @Test
    void scatterAddAgreesBitForBitWithRepeatedIndices() {
        Engine gpu = gpu();
        SplittableRandom r = new SplittableRandom(10);
        for (int rows : new int[] {1, 3, 1000}) {
            for (int cols : new int[] {1, 5, 300}) {
                int vocab = 1 + rows / 3;   // most indices repeat
                int[] idx = new int[rows + 1];
                for (int i = 0; i < idx.length; i++) {
                    idx[i] = r.nextInt(vocab);
                }
                float[] src = random(r, rows * cols);
                float[] table = random(r, vocab * cols);
                try (Buffer ic = ofInts(cpu, idx); Buffer ig = ofInts(gpu, idx); Buffer sc = of(cpu, src); Buffer sg = of(gpu, src);
                     Buffer tc = of(cpu, table); Buffer tg = of(gpu, table)) {
                    cpu.scatterAddRows(rows, cols, ic, 1, sc, 0, tc, 0);
                    gpu.scatterAddRows(rows, cols, ig, 1, sg, 0, tg, 0);
                    assertArrayEquals(host(cpu, tc), host(gpu, tg), "scatterAddRows rows " + rows + " cols " + cols);
                }
            }
        }
    }

    @Test
    void theWorkspaceOfTheColumnSumsComesBackToThePool() {
        CudaEngine gpu = (CudaEngine) gpu();
        try (Buffer src = gpu.allocate(DType.F32, 1000L * 64); Buffer dst = gpu.allocate(DType.F32, 64)) {
            gpu.sumRows(1000, 64, src, 0, 64, dst, 0);
            long inUse = gpu.bytesInUse();
            long cached = gpu.bytesCached();
            for (int i = 0; i < 5; i++) {
                gpu.sumRows(1000, 64, src, 0, 64, dst, 0);
            }
            gpu.synchronize();
            assertEquals(inUse, gpu.bytesInUse());
            assertEquals(cached, gpu.bytesCached());
        }
    }

    /** The two bias gradients of one gate gradient: one phase 1, each destination exactly its own sumRows. */
    @Test
    void columnSumsIntoTwoDestinationsAreEachTheirOwnSumBitForBit() {
        Engine gpu = gpu();
        SplittableRandom r = new SplittableRandom(11);
        int rows = 130;
        int cols = 9;
        float[] src = new float[rows * cols];
        for (int i = 0; i < src.length; i++) {
            src[i] = (float) r.nextDouble(-3, 3);
        }
        float[] first = {1f, -2f, 0.5f, 7f, 0f, -0f, 3f, 1e-3f, 9f};
        float[] second = {-4f, 2f, 0f, 1f, 8f, -1f, 0.25f, 5f, -9f};
        try (Buffer s = of(gpu, src); Buffer a = of(gpu, first); Buffer b = of(gpu, second);
             Buffer a1 = of(gpu, first); Buffer b1 = of(gpu, second)) {
            gpu.sumRows(rows, cols, s, 0, cols, a, 0, b, 0);
            gpu.sumRows(rows, cols, s, 0, cols, a1, 0);
            gpu.sumRows(rows, cols, s, 0, cols, b1, 0);
            assertArrayEquals(host(gpu, a1), host(gpu, a), "first destination");
            assertArrayEquals(host(gpu, b1), host(gpu, b), "second destination");
        }
    }

    /** Clipping's global norm: one launch per tensor, one copy, one synchronize, the same double as the loop. */
    @Test
    void sumSquaresOfManyBuffersIsTheLoopOfSingleSumsBitForBit() {
        Engine gpu = gpu();
        SplittableRandom r = new SplittableRandom(5);
        int[] sizes = {3, 0, 70_000, 1, 257};
        Buffer[] xs = new Buffer[sizes.length];
        long[] ns = new long[sizes.length];
        try {
            for (int t = 0; t < sizes.length; t++) {
                float[] v = new float[Math.max(sizes[t], 1)];
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) r.nextDouble(-2, 2);
                }
                xs[t] = of(gpu, v);
                ns[t] = sizes[t];
            }
            double loop = 0;
            for (int t = 0; t < xs.length; t++) {
                loop += gpu.sumSquares(ns[t], xs[t], 0);
            }
            assertEquals(loop, gpu.sumSquares(xs, ns), 0.0);
            assertEquals(0.0, gpu.sumSquares(new Buffer[0], new long[0]), 0.0);
        } finally {
            for (Buffer b : xs) {
                if (b != null) {
                    b.close();
                }
            }
        }
    }
}
