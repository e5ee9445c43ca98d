package org.rnn4j.cpu;

import static org.rnn4j.cpu.CpuEngine.floats;
import static org.rnn4j.cpu.CpuEngine.ints;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.rnn4j.DType;
import org.rnn4j.engine.Buffer;
import org.rnn4j.engine.StepArgs;

/**
 * The LSTM, GRU (reset-after) and tanh-RNN forward cell steps of {@link CpuCells}, and the LSTM backward, with their
 * exps on the Vector API. The exps are the cost
 * (a {@link Math#exp} is 10-20 ns, the rest of a unit a few float operations), so a step stages its
 * pre-activations in a per-thread scratch row and applies sigmoid and tanh there in two small vector loops,
 * the way {@link CpuCells} computes them, in double through exp ({@code 1/(1+e^-x)}, {@code 1-2/(e^2x+1)}, x
 * itself for {@code |x| < 1e-4}) with the Vector API's double {@code EXP} (Intel SVML on x86, within 1 ulp of double)
 * in place of {@link Math#exp}; every other operation is {@link CpuCells}' own, in the same order. Results are
 * therefore the scalar twin's up to the rare float rounding that a 1-ulp double difference can flip
 * ({@code CellStepsTwinTest}). Every element goes through the vector exp (a ragged tail zero-padded to a
 * vector), so a unit's result does not depend on the range of units a call covers (the inference path runs the
 * cell per block of units). The pre-activations are staged with float vectors, exact float operations in
 * CpuCells' order. The vector loops are kept tiny on purpose: C2 inlines and intrinsifies them
 * whole, where vectors passed between larger methods would be boxed. Samples past their length, the relu RNN
 * and the RNN backward (no exp) run the scalar code.
 */
final class VectorCells implements CellSteps {

    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    private static final int N = D.length();
    /**
     * The staging loops' floats (exact float operations, any width gives the same bits). The only float species:
     * a second one (a half-width float vector to convert to and from D) made the JIT's type profiles of
     * {@code FloatVector}'s own methods see two vector classes, after which C2 no longer intrinsified the GEMM
     * kernel's loads and stores (boxed vectors, 10x slower products whenever cells had run in the same JVM).
     */
    private static final VectorSpecies<Float> FP = FloatVector.SPECIES_PREFERRED;
    private static final int FL = FP.length();
    /** The float lanes that a double vector's D2F conversion at part -1 fills (N = FL / 2: both species full width). */
    private static final VectorMask<Float> UPPER_HALF = VectorMask.fromLong(FP, ((1L << FL) - 1) & ~((1L << N) - 1));

    /** A thread's rows: two of floats (pre-activations, tanh c) and one of doubles (an activation's operands). */
    private static final class Scratch {
        float[] z = new float[0];
        float[] tc = new float[0];
        double[] wide = new double[0];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** This thread's scratch, its rows at least {@code n} floats (and n plus a vector of doubles). */
    private static Scratch scratch(int n) {
        Scratch s = SCRATCH.get();
        if (s.z.length < n) {
            s.z = new float[n];
            s.tc = new float[n];
            s.wide = new double[n + N];
        }
        return s;
    }

    /**
     * {@code x[i] = CpuCells.sigmoid(x[i])} for {@code from <= i < to}, every element through the vector exp (a
     * ragged tail zero-padded to a vector), so an element's result does not depend on the range it is part of.
     */
    static void sigmoid(Scratch s, float[] x, int from, int to) {
        activate(s.wide, x, from, to, false);
    }

    /** {@code x[i] = CpuCells.tanh(x[i])} for {@code from <= i < to}, every element through the vector exp as {@link #sigmoid}. */
    static void tanh(Scratch s, float[] x, int from, int to) {
        activate(s.wide, x, from, to, true);
    }

    /**
     * Widens x[from, to) into {@code d} (exact), applies the activation there in vectors of D, and rounds back to
     * float (to nearest, as a D2F conversion does).
     */
    private static void activate(double[] d, float[] x, int from, int to, boolean tanh) {
        int n = to - from, padded = (n + N - 1) / N * N;
        int k = 0;
        for (; k + FL <= n; k += FL) {   // a float vector widens into two double vectors (FL = 2N)
            FloatVector f = FloatVector.fromArray(FP, x, from + k);
            ((DoubleVector) f.convert(VectorOperators.F2D, 0)).intoArray(d, k);
            ((DoubleVector) f.convert(VectorOperators.F2D, 1)).intoArray(d, k + N);
        }
        for (; k < n; k++) {
            d[k] = x[from + k];
        }
        java.util.Arrays.fill(d, n, padded, 0.0);
        for (int i = 0; i < padded; i += N) {
            if (tanh) {
                tanhVector(d, i);
            } else {
                sigmoidVector(d, i);
            }
        }
        for (k = 0; k + FL <= n; k += FL) {   // two double vectors round into the lower and upper half of a float one
            FloatVector lo = (FloatVector) DoubleVector.fromArray(D, d, k).convert(VectorOperators.D2F, 0);
            FloatVector hi = (FloatVector) DoubleVector.fromArray(D, d, k + N).convert(VectorOperators.D2F, -1);
            lo.blend(hi, UPPER_HALF).intoArray(x, from + k);
        }
        for (; k < n; k++) {
            x[from + k] = (float) d[k];
        }
    }

    private static void sigmoidVector(double[] d, int i) {
        DoubleVector s = DoubleVector.fromArray(D, d, i).neg().lanewise(VectorOperators.EXP).add(1.0);
        DoubleVector.broadcast(D, 1.0).div(s).intoArray(d, i);
    }

    /** x itself where {@code |x| < 1e-4f} (CpuCells' float threshold, widened exactly), else 1 - 2/(e^2x + 1). */
    private static void tanhVector(double[] d, int i) {
        DoubleVector v = DoubleVector.fromArray(D, d, i);
        DoubleVector e = v.mul(2.0).lanewise(VectorOperators.EXP);
        DoubleVector t = DoubleVector.broadcast(D, 1.0).sub(DoubleVector.broadcast(D, 2.0).div(e.add(1.0)));
        t.blend(v, v.abs().compare(VectorOperators.LT, (double) 1e-4f)).intoArray(d, i);
    }

    /**
     * {@code z[zo + j] = (xp[xo + j] + hp[ho + j]) + (bih[j + bo] + bhh[j + bo]) + w[wo + j] · c[co + j]} for
     * {@code j < n}, {@link CpuCells}' pre-activation in its order of float operations: the bias term only when
     * {@code bih != null}, the peephole term only when {@code c != null} (then {@code w == null} means a weight
     * of 0, which CpuCells adds as {@code 0f · c}).
     */
    private static void stage(float[] z, int zo, float[] xp, int xo, float[] hp, int ho, float[] bih, float[] bhh, int bo,
                              float[] w, int wo, float[] c, int co, int n) {
        int j = 0;
        for (; j + FL <= n; j += FL) {
            FloatVector v = FloatVector.fromArray(FP, xp, xo + j).add(FloatVector.fromArray(FP, hp, ho + j));
            if (bih != null) {
                v = v.add(FloatVector.fromArray(FP, bih, bo + j).add(FloatVector.fromArray(FP, bhh, bo + j)));
            }
            if (c != null) {
                FloatVector wv = w == null ? FloatVector.zero(FP) : FloatVector.fromArray(FP, w, wo + j);
                v = v.add(wv.mul(FloatVector.fromArray(FP, c, co + j)));
            }
            v.intoArray(z, zo + j);
        }
        for (; j < n; j++) {
            float v = xp[xo + j] + hp[ho + j];
            if (bih != null) {
                v += bih[bo + j] + bhh[bo + j];
            }
            if (c != null) {
                v += (w == null ? 0f : w[wo + j]) * c[co + j];
            }
            z[zo + j] = v;
        }
    }

    private static boolean valid(StepArgs a, int b) {
        return CpuCells.valid(ints(a.lengths), b, a.step);
    }

    @Override
    public void lstmForward(StepArgs a, int b, int j0, int j1) {
        if (!valid(a, b)) {
            CpuCells.lstmForward(a, b, j0, j1);
            return;
        }
        int h = a.hidden, n = j1 - j0;
        float[] xp = floats(a.xp), hp = floats(a.hp), bih = floats(a.bih), bhh = floats(a.bhh), peep = floats(a.peep);
        float[] cPrev = floats(a.cPrev), cNext = floats(a.cNext), hNext = floats(a.hNext);
        float[] out = floats(a.out), saved = floats(a.saved);
        int xr = (int) a.xpOff + b * 4 * h, hr = (int) a.hpOff + b * 4 * h, sr = (int) a.savedOff + b * 4 * h;
        int cp0 = (int) a.cPrevOff + b * h, cn0 = (int) a.cNextOff + b * h, hn0 = (int) a.hNextOff + b * h;
        int o0 = (int) a.outOff + b * a.outLd;
        Scratch s = scratch(4 * h);
        float[] z = s.z, tc = s.tc;
        // z = [i | f | g | o] pre-activations; i, f, g activated in place, o once c is known (peephole)
        stage(z, j0, xp, xr + j0, hp, hr + j0, bih, bhh, j0, peep, j0, cPrev, cp0 + j0, n);
        stage(z, h + j0, xp, xr + h + j0, hp, hr + h + j0, bih, bhh, h + j0, peep, h + j0, cPrev, cp0 + j0, n);
        stage(z, 2 * h + j0, xp, xr + 2 * h + j0, hp, hr + 2 * h + j0, bih, bhh, 2 * h + j0, null, 0, null, 0, n);
        sigmoid(s, z, j0, j1);
        sigmoid(s, z, h + j0, h + j1);
        tanh(s, z, 2 * h + j0, 2 * h + j1);
        for (int j = j0; j < j1; j++) {
            float i = z[j], f = a.coupled ? 1f - i : z[h + j], g = z[2 * h + j];
            float c = f * cPrev[cp0 + j] + i * g;
            if (a.cellClip > 0) {
                c = Math.max(-a.cellClip, Math.min(a.cellClip, c));
            }
            z[h + j] = f;
            cNext[cn0 + j] = c;
            tc[j] = c;
        }
        stage(z, 3 * h + j0, xp, xr + 3 * h + j0, hp, hr + 3 * h + j0, bih, bhh, 3 * h + j0, peep, 2 * h + j0,
                tc, j0, n);
        sigmoid(s, z, 3 * h + j0, 3 * h + j1);
        tanh(s, tc, j0, j1);
        int j = j0;
        for (; j + FL <= j1; j += FL) {
            FloatVector hv = FloatVector.fromArray(FP, z, 3 * h + j).mul(FloatVector.fromArray(FP, tc, j));
            if (hNext != null) {
                hv.intoArray(hNext, hn0 + j);
            }
            hv.intoArray(out, o0 + j);
        }
        for (; j < j1; j++) {
            float hv = z[3 * h + j] * tc[j];
            if (hNext != null) {
                hNext[hn0 + j] = hv;
            }
            out[o0 + j] = hv;
        }
        if (saved != null) {
            for (int k = 0; k < 4; k++) {
                System.arraycopy(z, k * h + j0, saved, sr + k * h + j0, n);
            }
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
        Scratch s = scratch(h);
        float[] tcs = s.z;
        System.arraycopy(cNext, cn0, tcs, 0, h);
        tanh(s, tcs, 0, h);
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

    /**
     * CpuCells.gruForward (reset-after) with r, z and n activated in vectors: r and z staged as the LSTM's gates,
     * then {@code n = tanh((x_n + b_in) + r ⊙ (h_n + b_hn))} in CpuCells' order of float operations.
     */
    @Override
    public void gruForward(StepArgs a, int b, int j0, int j1) {
        if (!valid(a, b)) {
            CpuCells.gruForward(a, b, j0, j1);
            return;
        }
        int h = a.hidden, n = j1 - j0;
        float[] xp = floats(a.xp), hp = floats(a.hp), bih = floats(a.bih), bhh = floats(a.bhh);
        float[] hPrev = floats(a.hPrev), hNext = floats(a.hNext), out = floats(a.out), saved = floats(a.saved);
        int xr = (int) a.xpOff + b * 3 * h, hr = (int) a.hpOff + b * 3 * h, sr = (int) a.savedOff + b * 4 * h;
        int hp0 = (int) a.hPrevOff + b * h, hn0 = (int) a.hNextOff + b * h, o0 = (int) a.outOff + b * a.outLd;
        Scratch s = scratch(3 * h);
        float[] z = s.z, hn = s.tc;
        // z = [r | z | n] pre-activations
        stage(z, j0, xp, xr + j0, hp, hr + j0, bih, bhh, j0, null, 0, null, 0, n);
        stage(z, h + j0, xp, xr + h + j0, hp, hr + h + j0, bih, bhh, h + j0, null, 0, null, 0, n);
        sigmoid(s, z, j0, j1);
        sigmoid(s, z, h + j0, h + j1);
        for (int j = j0; j < j1; j++) {
            hn[j] = hp[hr + 2 * h + j] + (bhh == null ? 0f : bhh[2 * h + j]);
            z[2 * h + j] = xp[xr + 2 * h + j] + (bih == null ? 0f : bih[2 * h + j]) + z[j] * hn[j];
        }
        tanh(s, z, 2 * h + j0, 2 * h + j1);
        for (int j = j0; j < j1; j++) {
            float zg = z[h + j], ng = z[2 * h + j];
            float hv = (1f - zg) * ng + zg * hPrev[hp0 + j];
            if (hNext != null) {
                hNext[hn0 + j] = hv;
            }
            out[o0 + j] = hv;
        }
        if (saved != null) {
            for (int k = 0; k < 3; k++) {
                System.arraycopy(z, k * h + j0, saved, sr + k * h + j0, n);
            }
            System.arraycopy(hn, j0, saved, sr + 3 * h + j0, n);
        }
    }

    @Override
    public void rnnForward(StepArgs a, int b, int j0, int j1) {
        if (a.relu || !valid(a, b)) {
            CpuCells.rnnForward(a, b, j0, j1);
            return;
        }
        int h = a.hidden;
        float[] xp = floats(a.xp), hp = floats(a.hp), bih = floats(a.bih), bhh = floats(a.bhh);
        float[] hNext = floats(a.hNext), out = floats(a.out);
        int xr = (int) a.xpOff + b * h, hr = (int) a.hpOff + b * h, hn0 = (int) a.hNextOff + b * h;
        int o0 = (int) a.outOff + b * a.outLd;
        Scratch s = scratch(h);
        float[] z = s.z;
        stage(z, j0, xp, xr + j0, hp, hr + j0, bih, bhh, j0, null, 0, null, 0, j1 - j0);
        tanh(s, z, j0, j1);
        if (hNext != null) {
            System.arraycopy(z, j0, hNext, hn0 + j0, j1 - j0);
        }
        System.arraycopy(z, j0, out, o0 + j0, j1 - j0);
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
            lstmForward(a, 0, 0, h);
            gruForward(a, 0, 0, h);
            lstmBackward(a, 0);
            rnnForward(a, 0, 0, h);
        };
    }

    private static Buffer filled(int n, float v) {
        CpuBuffer buf = new CpuBuffer(DType.F32, n);
        java.util.Arrays.fill(buf.floats, v);
        return buf;
    }
}
