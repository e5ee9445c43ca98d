package org.rnn4j.cpu;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.lang.reflect.Method;
import java.util.Random;
import java.util.function.BiConsumer;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.rnn4j.DType;
import org.rnn4j.engine.Buffer;
import org.rnn4j.engine.StepArgs;

/**
 * The Vector API cell steps (LSTM, GRU, tanh RNN, and the inference loop's block steps) and their sigmoid/tanh
 * against their scalar twins in {@link CpuCells}: the same bits ({@link CellMathTest} holds the scalar ones to
 * double).
 */
class CellStepsTwinTest {

    private static final boolean MODULE = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();

    /** The widest float vector there is (AVX-512): the tail tests cover every length up to three of them. */
    private static final int MAX_LANES = 16;

    private static CellSteps vector() throws ReflectiveOperationException {
        return (CellSteps) Class.forName("org.rnn4j.cpu.VectorCells").getDeclaredConstructor().newInstance();
    }

    /**
     * VectorCells' sigmoid and tanh over every 251st float bit pattern (all exponents, both signs) and the special
     * values, in calls of every length from 0 to three vectors and at every offset, so that each element is seen by
     * the vector body and by the scalar tail: the same bits as CpuCells' (NaN as NaN).
     */
    @Test
    void sigmoidAndTanhGiveTheScalarBits() throws Exception {
        assumeTrue(MODULE, "jdk.incubator.vector not in this JVM");
        Class<?> c = Class.forName("org.rnn4j.cpu.VectorCells");
        Method sigmoid = c.getDeclaredMethod("sigmoid", float[].class, int.class, int.class);
        Method tanh = c.getDeclaredMethod("tanh", float[].class, int.class, int.class);
        float[] special = {0f, -0f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MIN_VALUE,
            -Float.MIN_VALUE, Float.MIN_NORMAL, Float.MAX_VALUE, -Float.MAX_VALUE, 1e-4f, -1e-4f, 9.99e-5f, -9.99e-5f,
            10f, -10f, 20f, -104f, -103.9f, -87.5f, 88f, 0.17328679f, -0.34657359f, 1f, -1f};
        int chunk = 4096;
        float[] x = new float[chunk];
        int n = 0;
        for (long b = 0; b < (1L << 32) + special.length; b += b < (1L << 32) ? 251 : 1) {
            x[n++] = b < (1L << 32) ? Float.intBitsToFloat((int) b) : special[(int) (b - (1L << 32))];
            if (n == chunk || b + 1 == (1L << 32) + special.length) {
                compare(sigmoid, CpuCells::sigmoid, x, 0, n);
                compare(tanh, CpuCells::tanh, x, 0, n);
                n = 0;
            }
        }
        float[] mixed = new float[MAX_LANES * 4];
        Random r = new Random(7);
        for (int i = 0; i < mixed.length; i++) {
            mixed[i] = i < special.length ? special[i] : (r.nextFloat() * 2 - 1) * 12f;
        }
        for (int len = 0; len <= 3 * MAX_LANES; len++) {
            for (int from = 0; from <= MAX_LANES; from++) {
                compare(sigmoid, CpuCells::sigmoid, mixed, from, from + len);
                compare(tanh, CpuCells::tanh, mixed, from, from + len);
            }
        }
    }

    /** {@code vector(x[from, to))} element by element against {@code scalar}; x itself is left as it was. */
    private static void compare(Method vector, UnaryOperator<Float> scalar, float[] x, int from, int to)
            throws ReflectiveOperationException {
        float[] got = x.clone();
        vector.invoke(null, got, from, to);
        for (int i = 0; i < x.length; i++) {
            float want = i >= from && i < to ? scalar.apply(x[i]) : x[i];
            if (Float.floatToIntBits(want) != Float.floatToIntBits(got[i])) {
                fail(vector.getName() + "(" + x[i] + ") [" + from + ", " + to + ") element " + i + ": " + got[i]
                        + ", the scalar twin gives " + want);
            }
        }
    }

    @Test
    void lstmStepsMatchTheScalarTwin() throws Exception {
        assumeTrue(MODULE, "jdk.incubator.vector not in this JVM");
        CellSteps v = vector();
        Random r = new Random(4);
        for (int trial = 0; trial < 64; trial++) {
            int h = trial % 8 == 7 ? 13 : 8 * (1 + r.nextInt(8));
            int batch = 1 + r.nextInt(5);
            boolean peep = (trial & 1) != 0, coupled = (trial & 2) != 0, bias = (trial & 4) != 0;
            float clip = (trial & 8) != 0 ? 0.7f : 0f;
            long seed = r.nextLong();
            StepArgs va = lstmArgs(new Random(seed), batch, h, 3f, peep, coupled, clip, bias);
            StepArgs sa = lstmArgs(new Random(seed), batch, h, 3f, peep, coupled, clip, bias);
            for (int b = 0; b < batch; b++) {
                v.lstmForward(va, b);
                CpuCells.lstmForward(sa, b);
                v.lstmBackward(va, b);
                CpuCells.lstmBackward(sa, b);
            }
            String what = "LSTM h=" + h + " peep=" + peep + " coupled=" + coupled + " clip=" + clip + " bias=" + bias;
            same(what + " c", floats(sa.cNext), floats(va.cNext));
            same(what + " h", floats(sa.hNext), floats(va.hNext));
            same(what + " out", floats(sa.out), floats(va.out));
            same(what + " saved", floats(sa.saved), floats(va.saved));
            same(what + " dc", floats(sa.dc), floats(va.dc));
            same(what + " dG", floats(sa.dGx), floats(va.dGx));
        }
    }

    @Test
    void rnnStepsMatchTheScalarTwin() throws Exception {
        assumeTrue(MODULE, "jdk.incubator.vector not in this JVM");
        CellSteps v = vector();
        Random r = new Random(5);
        for (int trial = 0; trial < 32; trial++) {
            int h = trial % 8 == 7 ? 13 : 8 * (1 + r.nextInt(8));
            int batch = 1 + r.nextInt(5);
            boolean relu = (trial & 1) != 0;
            long seed = r.nextLong();
            StepArgs va = rnnArgs(new Random(seed), batch, h, relu);
            StepArgs sa = rnnArgs(new Random(seed), batch, h, relu);
            run(batch, va, v::rnnForward);
            run(batch, sa, CpuCells::rnnForward);
            String what = (relu ? "relu" : "tanh") + " RNN h=" + h;
            same(what + " h", floats(sa.hNext), floats(va.hNext));
            same(what + " out", floats(sa.out), floats(va.out));
        }
    }

    @Test
    void gruForwardMatchesTheScalarTwin() throws Exception {
        assumeTrue(MODULE, "jdk.incubator.vector not in this JVM");
        CellSteps v = vector();
        Random r = new Random(6);
        for (int trial = 0; trial < 32; trial++) {
            int h = trial % 8 == 7 ? 13 : 8 * (1 + r.nextInt(8));
            int batch = 1 + r.nextInt(5);
            boolean bias = (trial & 1) != 0, keepSaved = (trial & 2) != 0;
            long seed = r.nextLong();
            StepArgs va = gruArgs(new Random(seed), batch, h, bias, keepSaved);
            StepArgs sa = gruArgs(new Random(seed), batch, h, bias, keepSaved);
            run(batch, va, v::gruForward);
            run(batch, sa, CpuCells::gruForward);
            String what = "GRU h=" + h + " bias=" + bias + " saved=" + keepSaved;
            same(what + " h", floats(sa.hNext), floats(va.hNext));
            same(what + " out", floats(sa.out), floats(va.out));
            if (keepSaved) {
                same(what + " saved", floats(sa.saved), floats(va.saved));
            }
        }
    }

    /** Values that take the activations' and the state update's special paths: signed zeros, NaN, infinities. */
    private static final float[] EDGE = {0f, -0f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY,
        Float.MIN_VALUE, -Float.MIN_VALUE, 1e-4f, -1e-4f, 9.99e-5f, -9.99e-5f, 50f, -50f, 1e30f, -1e30f};

    /**
     * The inference loop's block steps (lstmBlock, gruBlock, rnnBlock: the recurrent product read from the block's z
     * and the projection from a tile laid out like it, every sample at once) against CpuCells on each sample with hp
     * scattered from the same z: the same bits in h, c and every output word (a sentinel shows a stray store), over
     * random blocks, batches, offsets and lengths, with and without bias, peepholes, clip, coupled gates, tanh and
     * relu, and one case in two sprinkled with signed zeros, NaN and infinities.
     */
    @Test
    void blockStepsGiveTheScalarBits() throws Exception {
        assumeTrue(MODULE, "jdk.incubator.vector not in this JVM");
        CellSteps v = vector();
        int lanes = v.lanes();
        Random r = new Random(11);
        for (int iter = 0; iter < 3000; iter++) {
            int cell = iter % 4;   // LSTM, GRU, tanh RNN, relu RNN
            int g = cell == 0 ? 4 : cell == 1 ? 3 : 1;
            int nb = InferenceLoop.blockUnits(g);
            int blocks = 1 + r.nextInt(3);
            int h = (blocks - 1) * nb + lanes * (1 + r.nextInt(nb / lanes));   // the last block a multiple of the lanes
            int j0 = r.nextInt(blocks) * nb, j1 = Math.min(h, j0 + nb);
            int b = 1 + r.nextInt(5), gh = g * h;
            boolean edge = r.nextBoolean(), bias = r.nextBoolean();
            StepArgs a = new StepArgs();
            a.batch = b;
            a.hidden = h;
            a.step = r.nextInt(3);
            if (r.nextBoolean()) {
                CpuBuffer len = new CpuBuffer(DType.I32, b);
                for (int s = 0; s < b; s++) {
                    len.ints[s] = 1 + r.nextInt(3);
                }
                a.lengths = len;
            }
            a.xp = filled(r, 2 * b * gh + 7, edge);
            a.xpOff = 7;
            a.bih = bias ? filled(r, gh, edge) : null;
            a.bhh = bias ? filled(r, gh, edge) : null;
            a.peep = cell == 0 && r.nextBoolean() ? filled(r, 3 * h, edge) : null;
            a.hNextOff = (long) b * h;
            a.cNextOff = (long) b * h;
            a.cellClip = cell == 0 && r.nextBoolean() ? 0.5f + r.nextFloat() : 0f;
            a.coupled = cell == 0 && r.nextBoolean();
            a.relu = cell == 3;
            a.outLd = h + r.nextInt(3);
            a.outOff = 3;
            float[] product = floats(filled(r, b * g * nb, edge));
            float[] biasSum = null;
            if (bias) {
                biasSum = new float[gh];
                for (int i = 0; i < gh; i++) {
                    biasSum[i] = floats(a.bih)[i] + floats(a.bhh)[i];
                }
            }
            float[] state = floats(filled(r, 2 * b * h, edge)), cstate = floats(filled(r, 2 * b * h, edge));
            float[] sentinel = new float[3 + b * a.outLd + 5];
            java.util.Arrays.fill(sentinel, 12345f);
            StepArgs scalar = withState(a, state, cstate, sentinel, cell == 0);
            CpuBuffer hp = new CpuBuffer(DType.F32, b * gh);
            java.util.Arrays.fill(hp.floats, Float.NaN);
            for (int s = 0; s < b; s++) {
                for (int gate = 0; gate < g; gate++) {
                    System.arraycopy(product, s * g * nb + gate * nb, hp.floats, s * gh + gate * h + j0, j1 - j0);
                }
            }
            scalar.hp = hp;
            for (int s = 0; s < b; s++) {
                switch (cell) {
                    case 0 -> CpuCells.lstmForward(scalar, s, j0, j1);
                    case 1 -> CpuCells.gruForward(scalar, s, j0, j1);
                    default -> CpuCells.rnnForward(scalar, s, j0, j1);
                }
            }
            StepArgs block = withState(a, state, cstate, sentinel, cell == 0);
            // the block steps read the projection as the inference loop lays it out: a tile shaped like z
            CpuBuffer tile = new CpuBuffer(DType.F32, 5 + b * g * nb);
            java.util.Arrays.fill(tile.floats, Float.NaN);
            for (int s = 0; s < b; s++) {
                for (int gate = 0; gate < g; gate++) {
                    System.arraycopy(floats(a.xp), 7 + s * gh + gate * h + j0, tile.floats,
                            5 + s * g * nb + gate * nb, j1 - j0);
                }
            }
            block.xp = tile;
            block.xpOff = 5;
            float[] z = product.clone();
            switch (cell) {
                case 0 -> v.lstmBlock(block, z, nb, j0, j1, biasSum);
                case 1 -> v.gruBlock(block, z, nb, j0, j1, biasSum);
                default -> v.rnnBlock(block, z, nb, j0, j1, biasSum);
            }
            String what = "cell " + cell + ", H " + h + ", units [" + j0 + ", " + j1 + "), B " + b + ", bias " + bias
                    + ", peepholes " + (a.peep != null) + ", clip " + a.cellClip + ", coupled " + a.coupled
                    + ", lengths " + (a.lengths != null) + ", edge values " + edge;
            same(what + ", h", floats(scalar.hPrev), floats(block.hPrev));
            if (cell == 0) {
                same(what + ", c", floats(scalar.cPrev), floats(block.cPrev));
            }
            same(what + ", output", floats(scalar.out), floats(block.out));
        }
    }

    /** {@code a} with its own copies of the states (previous and next slots in one buffer) and of the output. */
    private static StepArgs withState(StepArgs a, float[] h, float[] c, float[] out, boolean lstm) {
        StepArgs s = a.copy();
        s.hPrev = copy(h);
        s.hNext = s.hPrev;
        s.cPrev = lstm ? copy(c) : null;
        s.cNext = s.cPrev;
        s.out = copy(out);
        return s;
    }

    private static CpuBuffer copy(float[] v) {
        CpuBuffer buf = new CpuBuffer(DType.F32, v.length);
        System.arraycopy(v, 0, buf.floats, 0, v.length);
        return buf;
    }

    /** Uniform in [-3, 3), one value in six from EDGE (mostly the signed zeros) where {@code edge}. */
    private static Buffer filled(Random r, int n, boolean edge) {
        CpuBuffer buf = new CpuBuffer(DType.F32, n);
        for (int i = 0; i < n; i++) {
            buf.floats[i] = edge && r.nextInt(6) == 0 ? EDGE[r.nextInt(r.nextBoolean() ? 2 : EDGE.length)]
                    : (r.nextFloat() * 2 - 1) * 3f;
        }
        return buf;
    }

    private static void run(int batch, StepArgs a, BiConsumer<StepArgs, Integer> step) {
        for (int b = 0; b < batch; b++) {
            step.accept(a, b);
        }
    }

    /** The same bits (NaN as NaN). */
    private static void same(String what, float[] want, float[] got) {
        for (int i = 0; i < want.length; i++) {
            if (Float.floatToIntBits(want[i]) != Float.floatToIntBits(got[i])) {
                fail(what + ": element " + i + " is " + got[i] + ", the scalar twin gives " + want[i]);
            }
        }
    }

    private static StepArgs lstmArgs(Random r, int batch, int h, float scale, boolean peep, boolean coupled,
                                     float clip, boolean bias) {
        StepArgs a = new StepArgs();
        a.batch = batch;
        a.hidden = h;
        a.step = 2;
        a.lengths = lengths(batch);
        a.xp = random(r, batch * 4 * h, scale);
        a.hp = random(r, batch * 4 * h, scale);
        a.bih = bias ? random(r, 4 * h, 1f) : null;
        a.bhh = bias ? random(r, 4 * h, 1f) : null;
        a.peep = peep ? random(r, 3 * h, 1f) : null;
        a.cPrev = random(r, batch * h, 2f);
        a.cNext = random(r, batch * h, 1f);
        a.hPrev = random(r, batch * h, 1f);
        a.hNext = random(r, batch * h, 1f);
        a.out = random(r, batch * (h + 3), 1f);
        a.outLd = h + 3;
        a.saved = random(r, batch * 4 * h, 1f);
        a.dh = random(r, batch * h, 1f);
        a.dc = random(r, batch * h, 1f);
        a.dGx = random(r, batch * 4 * h, 1f);
        a.dGh = a.dGx;
        a.cellClip = clip;
        a.coupled = coupled;
        return a;
    }

    private static StepArgs rnnArgs(Random r, int batch, int h, boolean relu) {
        StepArgs a = new StepArgs();
        a.batch = batch;
        a.hidden = h;
        a.step = 2;
        a.lengths = lengths(batch);
        a.xp = random(r, batch * h, 3f);
        a.hp = random(r, batch * h, 3f);
        a.bih = random(r, h, 1f);
        a.bhh = random(r, h, 1f);
        a.hPrev = random(r, batch * h, 1f);
        a.hNext = random(r, batch * h, 1f);
        a.out = random(r, batch * h, 1f);
        a.outLd = h;
        a.dh = random(r, batch * h, 1f);
        a.dGx = random(r, batch * h, 1f);
        a.dGh = a.dGx;
        a.relu = relu;
        return a;
    }

    private static StepArgs gruArgs(Random r, int batch, int h, boolean bias, boolean keepSaved) {
        StepArgs a = new StepArgs();
        a.batch = batch;
        a.hidden = h;
        a.step = 2;
        a.lengths = lengths(batch);
        a.xp = random(r, batch * 3 * h, 3f);
        a.hp = random(r, batch * 3 * h, 3f);
        a.bih = bias ? random(r, 3 * h, 1f) : null;
        a.bhh = bias ? random(r, 3 * h, 1f) : null;
        a.hPrev = random(r, batch * h, 1f);
        a.hNext = random(r, batch * h, 1f);
        a.out = random(r, batch * (h + 2), 1f);
        a.outLd = h + 2;
        a.saved = keepSaved ? random(r, batch * 4 * h, 1f) : null;
        return a;
    }

    /** Sample 0 is past its length at step 2; the others are valid. */
    private static Buffer lengths(int batch) {
        CpuBuffer len = new CpuBuffer(DType.I32, batch);
        for (int b = 0; b < batch; b++) {
            len.ints[b] = b == 0 ? 2 : 5;
        }
        return len;
    }

    private static Buffer random(Random r, int n, float scale) {
        CpuBuffer buf = new CpuBuffer(DType.F32, n);
        for (int i = 0; i < n; i++) {
            buf.floats[i] = (r.nextFloat() * 2 - 1) * scale;
        }
        return buf;
    }

    private static float[] floats(Buffer b) {
        return ((CpuBuffer) b).floats;
    }
}
