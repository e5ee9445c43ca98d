package org.rnn4j.cpu;

import static org.rnn4j.cpu.CpuEngine.floats;
import static org.rnn4j.cpu.CpuEngine.ints;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.rnn4j.DType;
import org.rnn4j.engine.Buffer;
import org.rnn4j.engine.StepArgs;

/**
 * The LSTM, GRU (reset-after) and tanh-RNN forward cell steps of {@link CpuCells}, and the LSTM backward, with their
 * sigmoids and tanhs on the Vector API. Those are the cost (an exp is the most work a unit does, the rest a few
 * float operations), so a step stages its pre-activations in a scratch row and applies sigmoid and tanh there in
 * one vector loop ({@link #activate}): {@link CpuCells#sigmoid} and {@link CpuCells#tanh} operation for operation
 * on float lanes (the same fmas, each exactly rounded, the same 2^k through the exponent bits), so every element
 * gets the scalar twin's bits, a ragged tail simply runs the scalar functions, and a unit's result does not depend
 * on the range of units a call covers. The pre-activations are staged with float vectors, exact float operations
 * in CpuCells' order, so the whole step equals the scalar twin bit for bit ({@code CellStepsTwinTest}). The
 * inference loop's block steps ({@link #lstmBlock}, relu RNN included) do the same per element over one block of
 * units of every sample. No method takes or returns a vector: where C2 does not inline such a method, the vector is
 * boxed. Samples past their length, the per-sample relu RNN step and the RNN backward (no exp) run the scalar code.
 */
final class VectorCells implements CellSteps {

    /**
     * The one float species: a second one (say a half-width float vector) made the JIT's type profiles of
     * {@code FloatVector}'s own methods see two vector classes, after which C2 no longer intrinsified the GEMM
     * kernel's loads and stores (boxed vectors, 10x slower products whenever cells had run in the same JVM).
     */
    private static final VectorSpecies<Float> FP = FloatVector.SPECIES_PREFERRED;
    private static final int FL = FP.length();

    /** A thread's two rows of floats: pre-activations and tanh c. */
    private static final class Scratch {
        float[] z = new float[0];
        float[] tc = new float[0];
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    /** This thread's scratch, its rows at least {@code n} floats. */
    private static Scratch scratch(int n) {
        Scratch s = SCRATCH.get();
        if (s.z.length < n) {
            s.z = new float[n];
            s.tc = new float[n];
        }
        return s;
    }

    /** What {@link #activate} applies to a vector. */
    private static final byte NONE = 0, SIGMOID = 1, TANH = 2;
    private static final byte[] ALL_SIGMOID = {SIGMOID}, ALL_TANH = {TANH};
    /** Per gate, what a block step's activation passes apply: LSTM i, f, g then c (in g's slot), o; GRU r, z then n. */
    private static final byte[] LSTM_IFG = {SIGMOID, SIGMOID, TANH, NONE}, LSTM_CO = {NONE, NONE, TANH, SIGMOID};
    private static final byte[] GRU_RZ = {SIGMOID, SIGMOID, NONE}, GRU_N = {NONE, NONE, TANH};

    /** {@code x[i] = CpuCells.sigmoid(x[i])} for {@code from <= i < to}, bit for bit. */
    static void sigmoid(float[] x, int from, int to) {
        activate(x, from, to, ALL_SIGMOID, 1);
    }

    /** {@code x[i] = CpuCells.tanh(x[i])} for {@code from <= i < to}, bit for bit. */
    static void tanh(float[] x, int from, int to) {
        activate(x, from, to, ALL_TANH, 1);
    }

    /**
     * {@link CpuCells#sigmoid} or {@link CpuCells#tanh} in place on {@code from <= i < to}, their shared core written
     * out here once: the v-th vector from {@code from} gets {@code kinds[v / run % kinds.length]} (none, sigmoid or
     * tanh; a block step's gates are {@code run} vectors wide), a ragged tail the scalar function of the kind where
     * it starts. The loop is inside so that C2 compiles it
     * whole, constants hoisted (the body is too big to inline into a caller, and a call per vector cost more than
     * the vector); its two cases differ in scalars and in the last few operations.
     */
    private static void activate(float[] x, int from, int to, byte[] kinds, int run) {
        int i = from, k = 0, left = run;
        for (; i + FL <= to; i += FL) {
            byte kind = kinds[k];
            if (--left == 0) {
                left = run;
                k = k + 1 == kinds.length ? 0 : k + 1;
            }
            if (kind == NONE) {
                continue;
            }
            boolean tanh = kind == TANH;
            FloatVector v = FloatVector.fromArray(FP, x, i);
            FloatVector a = v.abs();
            // y = −|x| (sigmoid) or −2|x| (tanh), both exact
            FloatVector y = a.mul(tanh ? -2f : -1f).max(tanh ? CpuCells.TANH_FLOOR : CpuCells.SIGMOID_FLOOR);
            FloatVector t = y.fma(CpuCells.LOG2E, CpuCells.ROUND);
            FloatVector kv = t.sub(CpuCells.ROUND);
            FloatVector r = kv.fma(FloatVector.broadcast(FP, -CpuCells.LN2_LO),
                    kv.fma(FloatVector.broadcast(FP, -CpuCells.LN2_HI), y));
            FloatVector p = FloatVector.broadcast(FP, CpuCells.C7).fma(r, FloatVector.broadcast(FP, CpuCells.C6));
            p = p.fma(r, FloatVector.broadcast(FP, CpuCells.C5));
            p = p.fma(r, FloatVector.broadcast(FP, CpuCells.C4));
            p = p.fma(r, FloatVector.broadcast(FP, CpuCells.C3));
            p = p.fma(r, FloatVector.broadcast(FP, CpuCells.C2));
            FloatVector q = r.mul(r).fma(p, r);
            FloatVector scale = t.reinterpretAsInts().add(tanh ? 127 : CpuCells.SIGMOID_EXP_BIAS)
                    .lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
            if (tanh) {
                FloatVector u = scale.fma(q, scale.sub(1f));
                FloatVector th = u.neg().div(u.add(2f));   // >= +0: the sign bit of x is or-ed in (Math.copySign)
                IntVector sign = v.reinterpretAsInts().and(0x80000000);
                FloatVector signed = th.reinterpretAsInts().or(sign).reinterpretAsFloats();
                signed.blend(v, a.compare(VectorOperators.LT, 1e-4f)).intoArray(x, i);
            } else {
                FloatVector e = scale.fma(q, scale).mul(CpuCells.TWO_M24);
                FloatVector one = FloatVector.broadcast(FP, 1f);
                e.blend(one, v.compare(VectorOperators.GE, 0f)).div(e.add(1f)).intoArray(x, i);
            }
        }
        byte kind = kinds[k];
        for (; i < to && kind != NONE; i++) {
            x[i] = kind == TANH ? CpuCells.tanh(x[i]) : CpuCells.sigmoid(x[i]);
        }
    }

    /**
     * {@code z[zo + j] = (xp[xo + j] + hp[ho + j]) + (bih[j + bo] + bhh[j + bo]) + w[wo + j] · c[co + j]} for
     * {@code j < n}, {@link CpuCells}' pre-activation in its order of float operations: the bias term only when
     * {@code bih != null} ({@code bhh == null}: bih holds the sum already, the block steps' biasSum), the peephole
     * term only when {@code c != null} (then {@code w == null} means a weight of 0, which CpuCells adds as
     * {@code 0f · c}). {@code hp} may be {@code z} at {@code ho == zo} (a block step's product, staged in place).
     */
    private static void stage(float[] z, int zo, float[] xp, int xo, float[] hp, int ho, float[] bih, float[] bhh, int bo,
                              float[] w, int wo, float[] c, int co, int n) {
        int j = 0;
        for (; j + FL <= n; j += FL) {
            FloatVector v = FloatVector.fromArray(FP, xp, xo + j).add(FloatVector.fromArray(FP, hp, ho + j));
            if (bih != null) {
                FloatVector bias = FloatVector.fromArray(FP, bih, bo + j);
                v = v.add(bhh == null ? bias : bias.add(FloatVector.fromArray(FP, bhh, bo + j)));
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
                v += bhh == null ? bih[bo + j] : bih[bo + j] + bhh[bo + j];
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
        sigmoid(z, j0, j1);
        sigmoid(z, h + j0, h + j1);
        tanh(z, 2 * h + j0, 2 * h + j1);
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
        sigmoid(z, 3 * h + j0, 3 * h + j1);
        tanh(tc, j0, j1);
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
        sigmoid(z, j0, j1);
        sigmoid(z, h + j0, h + j1);
        for (int j = j0; j < j1; j++) {
            hn[j] = hp[hr + 2 * h + j] + (bhh == null ? 0f : bhh[2 * h + j]);
            z[2 * h + j] = xp[xr + 2 * h + j] + (bih == null ? 0f : bih[2 * h + j]) + z[j] * hn[j];
        }
        tanh(z, 2 * h + j0, 2 * h + j1);
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
        tanh(z, j0, j1);
        if (hNext != null) {
            System.arraycopy(z, j0, hNext, hn0 + j0, j1 - j0);
        }
        System.arraycopy(z, j0, out, o0 + j0, j1 - j0);
    }

    @Override
    public int lanes() {
        return FL;
    }

    /**
     * One block of every sample in passes over all samples, so that each vector loop runs B times longer than a
     * sample's: (1) the four pre-activations into z, i and f with their peephole term; (2) sigmoid i, f and tanh g;
     * (3) c, kept in g's slot, and o's peephole term; (4) sigmoid o and tanh c; (5) h = o · tanh c. Each element
     * sees lstmForward's float operations in its order (the bias sum is its {@code bih + bhh}); a sample past its
     * length runs CpuCells, which reads neither z nor xp. The activation passes run over the whole of z, the rows
     * of such samples and the units past the layer's last one included (values never stored): one loop each.
     */
    @Override
    public void lstmBlock(StepArgs a, float[] z, int nb, int j0, int j1, float[] biasSum) {
        int h = a.hidden, n = j1 - j0, width = 4 * nb;
        int[] lengths = ints(a.lengths);
        float[] xp = floats(a.xp), peep = floats(a.peep), cPrev = floats(a.cPrev), cNext = floats(a.cNext);
        float[] hNext = floats(a.hNext), out = floats(a.out);
        FloatVector zero = FloatVector.zero(FP);
        for (int s = 0; s < a.batch; s++) {
            if (!CpuCells.valid(lengths, s, a.step)) {
                CpuCells.lstmForward(a, s, j0, j1);
                continue;
            }
            int xr = (int) a.xpOff + s * width, zr = s * width, cp = (int) a.cPrevOff + s * h + j0;
            for (int gate = 0; gate < 4; gate++) {
                int zo = zr + gate * nb, col = gate * h + j0;
                stage(z, zo, xp, xr + gate * nb, z, zo, biasSum, null, col, peep, col, gate < 2 ? cPrev : null, cp, n);
            }
        }
        activate(z, 0, a.batch * width, LSTM_IFG, nb / FL);
        FloatVector one = FloatVector.broadcast(FP, 1f);
        float clip = a.cellClip;
        for (int s = 0; s < a.batch; s++) {
            if (!CpuCells.valid(lengths, s, a.step)) {
                continue;
            }
            int zr = s * width, cp = (int) a.cPrevOff + s * h + j0, cn = (int) a.cNextOff + s * h + j0;
            for (int u = 0; u < n; u += FL) {
                FloatVector i = FloatVector.fromArray(FP, z, zr + u);
                FloatVector f = a.coupled ? one.sub(i) : FloatVector.fromArray(FP, z, zr + nb + u);
                FloatVector g = FloatVector.fromArray(FP, z, zr + 2 * nb + u);
                FloatVector c = f.mul(FloatVector.fromArray(FP, cPrev, cp + u)).add(i.mul(g));
                if (clip > 0) {
                    c = c.min(clip).max(-clip);
                }
                c.intoArray(cNext, cn + u);
                c.intoArray(z, zr + 2 * nb + u);
                FloatVector w = peep == null ? zero : FloatVector.fromArray(FP, peep, 2 * h + j0 + u);
                FloatVector.fromArray(FP, z, zr + 3 * nb + u).add(w.mul(c)).intoArray(z, zr + 3 * nb + u);
            }
        }
        activate(z, 0, a.batch * width, LSTM_CO, nb / FL);
        for (int s = 0; s < a.batch; s++) {
            if (!CpuCells.valid(lengths, s, a.step)) {
                continue;
            }
            int zr = s * width, hn = (int) a.hNextOff + s * h + j0, o0 = (int) a.outOff + s * a.outLd + j0;
            for (int u = 0; u < n; u += FL) {
                FloatVector hv = FloatVector.fromArray(FP, z, zr + 3 * nb + u)
                        .mul(FloatVector.fromArray(FP, z, zr + 2 * nb + u));
                hv.intoArray(hNext, hn + u);
                hv.intoArray(out, o0 + u);
            }
        }
    }

    /**
     * {@link #lstmBlock}'s passes for gruForward: r and z pre-activations, sigmoid; then
     * {@code n = tanh((x_n + b_in) + r ⊙ (h_n + b_hn))}, kept in n's slot; then
     * {@code h = (1 − z) ⊙ n + z ⊙ h_prev}.
     */
    @Override
    public void gruBlock(StepArgs a, float[] z, int nb, int j0, int j1, float[] biasSum) {
        int h = a.hidden, n = j1 - j0, width = 3 * nb;
        int[] lengths = ints(a.lengths);
        float[] xp = floats(a.xp), bih = floats(a.bih), bhh = floats(a.bhh), hPrev = floats(a.hPrev);
        float[] hNext = floats(a.hNext), out = floats(a.out);
        FloatVector zero = FloatVector.zero(FP);
        for (int s = 0; s < a.batch; s++) {
            if (!CpuCells.valid(lengths, s, a.step)) {
                CpuCells.gruForward(a, s, j0, j1);
                continue;
            }
            int xr = (int) a.xpOff + s * width, zr = s * width;
            for (int gate = 0; gate < 2; gate++) {
                int zo = zr + gate * nb;
                stage(z, zo, xp, xr + gate * nb, z, zo, biasSum, null, gate * h + j0, null, 0, null, 0, n);
            }
        }
        activate(z, 0, a.batch * width, GRU_RZ, nb / FL);
        for (int s = 0; s < a.batch; s++) {
            if (!CpuCells.valid(lengths, s, a.step)) {
                continue;
            }
            int xr = (int) a.xpOff + s * width + 2 * nb, zr = s * width;
            for (int u = 0; u < n; u += FL) {
                int col = 2 * h + j0 + u;
                FloatVector hn = FloatVector.fromArray(FP, z, zr + 2 * nb + u)
                        .add(bhh == null ? zero : FloatVector.fromArray(FP, bhh, col));
                FloatVector xn = FloatVector.fromArray(FP, xp, xr + u)
                        .add(bih == null ? zero : FloatVector.fromArray(FP, bih, col));
                xn.add(FloatVector.fromArray(FP, z, zr + u).mul(hn)).intoArray(z, zr + 2 * nb + u);
            }
        }
        activate(z, 0, a.batch * width, GRU_N, nb / FL);
        FloatVector one = FloatVector.broadcast(FP, 1f);
        for (int s = 0; s < a.batch; s++) {
            if (!CpuCells.valid(lengths, s, a.step)) {
                continue;
            }
            int zr = s * width, hp0 = (int) a.hPrevOff + s * h + j0;
            int hn0 = (int) a.hNextOff + s * h + j0, o0 = (int) a.outOff + s * a.outLd + j0;
            for (int u = 0; u < n; u += FL) {
                FloatVector zg = FloatVector.fromArray(FP, z, zr + nb + u);
                FloatVector hv = one.sub(zg).mul(FloatVector.fromArray(FP, z, zr + 2 * nb + u))
                        .add(zg.mul(FloatVector.fromArray(FP, hPrev, hp0 + u)));
                hv.intoArray(hNext, hn0 + u);
                hv.intoArray(out, o0 + u);
            }
        }
    }

    /** {@link #lstmBlock}'s passes for rnnForward: the pre-activation, then tanh (or relu, {@code max(p, 0)}, as stored). */
    @Override
    public void rnnBlock(StepArgs a, float[] z, int nb, int j0, int j1, float[] biasSum) {
        int h = a.hidden, n = j1 - j0;
        int[] lengths = ints(a.lengths);
        float[] xp = floats(a.xp), hNext = floats(a.hNext), out = floats(a.out);
        for (int s = 0; s < a.batch; s++) {
            if (!CpuCells.valid(lengths, s, a.step)) {
                CpuCells.rnnForward(a, s, j0, j1);
                continue;
            }
            int zr = s * nb;
            stage(z, zr, xp, (int) a.xpOff + s * nb, z, zr, biasSum, null, j0, null, 0, null, 0, n);
        }
        if (!a.relu) {
            activate(z, 0, a.batch * nb, ALL_TANH, 1);
        }
        for (int s = 0; s < a.batch; s++) {
            if (CpuCells.valid(lengths, s, a.step)) {
                int zr = s * nb, hn0 = (int) a.hNextOff + s * h + j0, o0 = (int) a.outOff + s * a.outLd + j0;
                for (int u = 0; u < n; u += FL) {
                    FloatVector v = FloatVector.fromArray(FP, z, zr + u);
                    if (a.relu) {
                        v = v.max(0f);
                    }
                    v.intoArray(hNext, hn0 + u);
                    v.intoArray(out, o0 + u);
                }
            }
        }
    }

    /** Each step on one sample of 64 units, and each block step on its first block of them. */
    @Override
    public Runnable warmUpStep() {
        int h = 64;
        // the inference loop's block steps too: the first block of each cell, with bias, on z rows of G·NB floats
        int lstm = InferenceLoop.blockUnits(4), gru = InferenceLoop.blockUnits(3), rnn = InferenceLoop.blockUnits(1);
        int zRow = Math.max(4 * lstm, Math.max(3 * gru, rnn));
        StepArgs a = new StepArgs();
        a.batch = 1;
        a.hidden = h;
        a.xp = filled(Math.max(4 * h, zRow), 0.1f);   // a row of the per-sample steps, or a block's tile
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
        float[] biasSum = new float[4 * h];
        float[] z = new float[zRow];
        return () -> {
            lstmForward(a, 0, 0, h);
            gruForward(a, 0, 0, h);
            lstmBackward(a, 0);
            rnnForward(a, 0, 0, h);
            lstmBlock(a, z, lstm, 0, Math.min(h, lstm), biasSum);
            gruBlock(a, z, gru, 0, Math.min(h, gru), biasSum);
            rnnBlock(a, z, rnn, 0, Math.min(h, rnn), biasSum);
        };
    }

    private static Buffer filled(int n, float v) {
        CpuBuffer buf = new CpuBuffer(DType.F32, n);
        java.util.Arrays.fill(buf.floats, v);
        return buf;
    }
}
