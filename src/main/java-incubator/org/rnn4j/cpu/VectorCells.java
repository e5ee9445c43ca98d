package org.rnn4j.cpu;

import static org.rnn4j.cpu.CpuEngine.floats;
import static org.rnn4j.cpu.CpuEngine.ints;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;
import org.rnn4j.DType;
import org.rnn4j.engine.Buffer;
import org.rnn4j.engine.StepArgs;

/**
 * The LSTM and tanh-RNN cell steps of {@link CpuCells} with their exps on the Vector API. The exps are the cost
 * (a {@link Math#exp} is 10-20 ns, the rest of a unit a few float operations), so a step stages its
 * pre-activations in a per-thread scratch row and applies sigmoid and tanh there in two small vector loops,
 * the way {@link CpuCells} computes them, in double through exp ({@code 1/(1+e^-x)}, {@code 1-2/(e^2x+1)}, x
 * itself for {@code |x| < 1e-4}) with the Vector API's double {@code EXP} (Intel SVML on x86, within 1 ulp of double)
 * in place of {@link Math#exp}; every other operation is {@link CpuCells}' own, in the same order. Results are
 * therefore the scalar twin's up to the rare float rounding that a 1-ulp double difference can flip
 * ({@code CellStepsTwinTest}). The vector loops are kept tiny on purpose: C2 inlines and intrinsifies them
 * whole, where vectors passed between larger methods would be boxed. Samples past their length, the relu RNN
 * and the RNN backward (no exp) run the scalar code.
 */
final class VectorCells implements CellSteps {

    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    /** Floats with as many lanes as D has doubles (8 with AVX-512). */
    private static final VectorSpecies<Float> F = VectorSpecies.of(float.class,
            VectorShape.forBitSize(D.vectorBitSize() / 2));
    private static final int N = D.length();

    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[2][0]);

    /** Two per-thread rows of at least {@code n} floats. */
    private static float[][] scratch(int n) {
        float[][] s = SCRATCH.get();
        if (s[0].length < n) {
            s[0] = new float[n];
            s[1] = new float[n];
        }
        return s;
    }

    /** {@code x[i] = CpuCells.sigmoid(x[i])} for {@code from <= i < to}. */
    static void sigmoid(float[] x, int from, int to) {
        int i = from;
        for (; i + N <= to; i += N) {
            DoubleVector v = (DoubleVector) FloatVector.fromArray(F, x, i).convertShape(VectorOperators.F2D, D, 0);
            DoubleVector s = v.neg().lanewise(VectorOperators.EXP).add(1.0);
            ((FloatVector) DoubleVector.broadcast(D, 1.0).div(s).convertShape(VectorOperators.D2F, F, 0))
                    .intoArray(x, i);
        }
        for (; i < to; i++) {
            x[i] = CpuCells.sigmoid(x[i]);
        }
    }

    /** {@code x[i] = CpuCells.tanh(x[i])} for {@code from <= i < to}. */
    static void tanh(float[] x, int from, int to) {
        int i = from;
        for (; i + N <= to; i += N) {
            FloatVector f = FloatVector.fromArray(F, x, i);
            DoubleVector e = ((DoubleVector) f.convertShape(VectorOperators.F2D, D, 0)).mul(2.0)
                    .lanewise(VectorOperators.EXP);
            FloatVector t = (FloatVector) DoubleVector.broadcast(D, 1.0).sub(DoubleVector.broadcast(D, 2.0)
                    .div(e.add(1.0))).convertShape(VectorOperators.D2F, F, 0);
            t.blend(f, f.abs().compare(VectorOperators.LT, 1e-4f)).intoArray(x, i);
        }
        for (; i < to; i++) {
            x[i] = CpuCells.tanh(x[i]);
        }
    }

    /** {@code z[col] = xp + hp + (bih + bhh)} at column col, as {@code CpuCells.pre}. */
    private static float pre(float[] xp, int xr, float[] hp, int hr, float[] bih, float[] bhh, int col) {
        float v = xp[xr + col] + hp[hr + col];
        if (bih != null) {
            v += bih[col] + bhh[col];
        }
        return v;
    }

    private static boolean valid(StepArgs a, int b) {
        return CpuCells.valid(ints(a.lengths), b, a.step);
    }

    @Override
    public void lstmForward(StepArgs a, int b) {
        if (!valid(a, b)) {
            CpuCells.lstmForward(a, b);
            return;
        }
        int h = a.hidden;
        float[] xp = floats(a.xp), hp = floats(a.hp), bih = floats(a.bih), bhh = floats(a.bhh), peep = floats(a.peep);
        float[] cPrev = floats(a.cPrev), cNext = floats(a.cNext), hNext = floats(a.hNext);
        float[] out = floats(a.out), saved = floats(a.saved);
        int xr = (int) a.xpOff + b * 4 * h, hr = (int) a.hpOff + b * 4 * h, sr = (int) a.savedOff + b * 4 * h;
        int cp0 = (int) a.cPrevOff + b * h, cn0 = (int) a.cNextOff + b * h, hn0 = (int) a.hNextOff + b * h;
        int o0 = (int) a.outOff + b * a.outLd;
        float[][] s = scratch(4 * h);
        float[] z = s[0], tc = s[1];
        // z = [i | f | g | o] pre-activations; i, f, g activated in place, o once c is known (peephole)
        for (int j = 0; j < h; j++) {
            float cp = cPrev[cp0 + j];
            float pi = peep == null ? 0f : peep[j];
            float pf = peep == null ? 0f : peep[h + j];
            z[j] = pre(xp, xr, hp, hr, bih, bhh, j) + pi * cp;
            z[h + j] = pre(xp, xr, hp, hr, bih, bhh, h + j) + pf * cp;
            z[2 * h + j] = pre(xp, xr, hp, hr, bih, bhh, 2 * h + j);
        }
        sigmoid(z, 0, 2 * h);
        tanh(z, 2 * h, 3 * h);
        for (int j = 0; j < h; j++) {
            float i = z[j], f = a.coupled ? 1f - i : z[h + j], g = z[2 * h + j];
            float c = f * cPrev[cp0 + j] + i * g;
            if (a.cellClip > 0) {
                c = Math.max(-a.cellClip, Math.min(a.cellClip, c));
            }
            float po = peep == null ? 0f : peep[2 * h + j];
            z[h + j] = f;
            z[3 * h + j] = pre(xp, xr, hp, hr, bih, bhh, 3 * h + j) + po * c;
            cNext[cn0 + j] = c;
            tc[j] = c;
        }
        sigmoid(z, 3 * h, 4 * h);
        tanh(tc, 0, h);
        for (int j = 0; j < h; j++) {
            float o = z[3 * h + j];
            float hv = o * tc[j];
            if (hNext != null) {
                hNext[hn0 + j] = hv;
            }
            out[o0 + j] = hv;
        }
        if (saved != null) {
            System.arraycopy(z, 0, saved, sr, 4 * h);
        }
    }

    @Override
    public void lstmBackward(StepArgs a, int b) {
        if (!valid(a, b)) {
            CpuCells.lstmBackward(a, b);
            return;
        }
        int h = a.hidden;
        float[] peep = floats(a.peep), saved = floats(a.saved), cPrev = floats(a.cPrev), cNext = floats(a.cNext);
        float[] dh = floats(a.dh), dc = floats(a.dc), dG = floats(a.dGx);
        int gr = (int) a.dGxOff + b * 4 * h, sr = (int) a.savedOff + b * 4 * h;
        int cp0 = (int) a.cPrevOff + b * h, cn0 = (int) a.cNextOff + b * h;
        int dh0 = (int) a.dhOff + b * h, dc0 = (int) a.dcOff + b * h;
        float[] tcs = scratch(h)[0];
        System.arraycopy(cNext, cn0, tcs, 0, h);
        tanh(tcs, 0, h);
        // from here on CpuCells.lstmBackward, with tanh(c) read from tcs
        for (int j = 0; j < h; j++) {
            float i = saved[sr + j], f = saved[sr + h + j];
            float g = saved[sr + 2 * h + j], o = saved[sr + 3 * h + j];
            float cp = cPrev[cp0 + j];
            float pi = peep == null ? 0f : peep[j];
            float pf = peep == null ? 0f : peep[h + j];
            float po = peep == null ? 0f : peep[2 * h + j];
            float dhv = dh[dh0 + j];
            float tc = tcs[j];
            float dpreO = dhv * tc * o * (1f - o);
            float dcTot = dc[dc0 + j] + dhv * o * (1f - tc * tc) + po * dpreO;
            if (a.cellClip > 0 && Math.abs(f * cp + i * g) > a.cellClip) {
                dcTot = 0f; // the clamp passes no gradient where it clipped
            }
            float di = dcTot * g;
            float dg = dcTot * i;
            float df = dcTot * cp;
            float dpreF;
            if (a.coupled) {
                di -= df; // f = 1 - i
                dpreF = 0f;
            } else {
                dpreF = df * f * (1f - f);
            }
            float dpreI = di * i * (1f - i);
            float dpreG = dg * (1f - g * g);
            dc[dc0 + j] = dcTot * f + pi * dpreI + pf * dpreF;
            dG[gr + j] = dpreI;
            dG[gr + h + j] = dpreF;
            dG[gr + 2 * h + j] = dpreG;
            dG[gr + 3 * h + j] = dpreO;
        }
    }

    @Override
    public void rnnForward(StepArgs a, int b) {
        if (a.relu || !valid(a, b)) {
            CpuCells.rnnForward(a, b);
            return;
        }
        int h = a.hidden;
        float[] xp = floats(a.xp), hp = floats(a.hp), bih = floats(a.bih), bhh = floats(a.bhh);
        float[] hNext = floats(a.hNext), out = floats(a.out);
        int xr = (int) a.xpOff + b * h, hr = (int) a.hpOff + b * h, hn0 = (int) a.hNextOff + b * h;
        int o0 = (int) a.outOff + b * a.outLd;
        float[] z = scratch(h)[0];
        for (int j = 0; j < h; j++) {
            z[j] = pre(xp, xr, hp, hr, bih, bhh, j);
        }
        tanh(z, 0, h);
        if (hNext != null) {
            System.arraycopy(z, 0, hNext, hn0, h);
        }
        System.arraycopy(z, 0, out, o0, h);
    }

    /** Each step on one sample of 64 units. */
    @Override
    public Runnable warmUpStep() {
        int h = 64;
        StepArgs a = new StepArgs();
        a.batch = 1;
        a.hidden = h;
        a.xp = filled(4 * h, 0.1f);
        a.hp = filled(4 * h, -0.2f);
        a.saved = filled(4 * h, 0.3f);
        a.dGx = filled(4 * h, 0f);
        a.cPrev = filled(h, 0.5f);
        a.cNext = filled(h, 0f);
        a.hPrev = filled(h, 0.5f);
        a.hNext = filled(h, 0f);
        a.out = filled(h, 0f);
        a.outLd = h;
        a.dh = filled(h, 1f);
        a.dc = filled(h, 0f);
        return () -> {
            lstmForward(a, 0);
            lstmBackward(a, 0);
            rnnForward(a, 0);
        };
    }

    private static Buffer filled(int n, float v) {
        CpuBuffer buf = new CpuBuffer(DType.F32, n);
        java.util.Arrays.fill(buf.floats, v);
        return buf;
    }
}
