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
 * The LSTM and RNN cell steps of {@link CpuCells} on the Vector API, {@code N} units at a time: the same
 * float operations in the same order, and sigmoid and tanh computed as there, in double through exp
 * ({@code 1/(1+e^-x)}, {@code 1-2/(e^2x+1)}, x itself for |x| < 1e-4), with the Vector API's double
 * {@code EXP} (Intel SVML on x86, within 1 ulp of double) in place of {@link Math#exp}. Results are therefore
 * the scalar twin's up to the rare float rounding that a 1-ulp double difference can flip
 * ({@code CellStepsTwinTest} holds them within 1 float ulp and counts the differences). Rows whose hidden
 * size is not a multiple of {@code N}, and samples past their length, run the scalar code.
 */
final class VectorCells implements CellSteps {

    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    /** Floats with as many lanes as D has doubles (8 with AVX-512). */
    private static final VectorSpecies<Float> F = VectorSpecies.of(float.class,
            VectorShape.forBitSize(D.vectorBitSize() / 2));
    private static final int N = D.length();
    private static final FloatVector ZERO = FloatVector.zero(F);
    private static final FloatVector ONE = FloatVector.broadcast(F, 1f);
    private static final DoubleVector D_ONE = DoubleVector.broadcast(D, 1.0);
    private static final DoubleVector D_TWO = DoubleVector.broadcast(D, 2.0);

    private static FloatVector load(float[] x, int i) {
        return FloatVector.fromArray(F, x, i);
    }

    private static DoubleVector widen(FloatVector v) {
        return (DoubleVector) v.convertShape(VectorOperators.F2D, D, 0);
    }

    private static FloatVector narrow(DoubleVector v) {
        return (FloatVector) v.convertShape(VectorOperators.D2F, F, 0);
    }

    /** {@link CpuCells#sigmoid}, N lanes. */
    static FloatVector sigmoid(FloatVector x) {
        return narrow(D_ONE.div(D_ONE.add(widen(x.neg()).lanewise(VectorOperators.EXP))));
    }

    /** {@link CpuCells#tanh}, N lanes. */
    static FloatVector tanh(FloatVector x) {
        DoubleVector e = widen(x).mul(2.0).lanewise(VectorOperators.EXP);
        FloatVector t = narrow(D_ONE.sub(D_TWO.div(e.add(1.0))));
        return t.blend(x, x.abs().lt(1e-4f));
    }

    /** {@code xp + hp + (bih + bhh)} at column col of rows xr / hr, as {@code CpuCells.pre}. */
    private static FloatVector pre(float[] xp, int xr, float[] hp, int hr, float[] bih, float[] bhh, int col) {
        FloatVector v = load(xp, xr + col).add(load(hp, hr + col));
        return bih == null ? v : v.add(load(bih, col).add(load(bhh, col)));
    }

    private static boolean scalar(StepArgs a, int b) {
        return a.hidden % N != 0 || !CpuCells.valid(ints(a.lengths), b, a.step);
    }

    @Override
    public void lstmForward(StepArgs a, int b) {
        if (scalar(a, b)) {
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
        for (int j = 0; j < h; j += N) {
            FloatVector cp = load(cPrev, cp0 + j);
            FloatVector pi = peep == null ? ZERO : load(peep, j);
            FloatVector pf = peep == null ? ZERO : load(peep, h + j);
            FloatVector po = peep == null ? ZERO : load(peep, 2 * h + j);
            FloatVector i = sigmoid(pre(xp, xr, hp, hr, bih, bhh, j).add(pi.mul(cp)));
            FloatVector f = a.coupled ? ONE.sub(i) : sigmoid(pre(xp, xr, hp, hr, bih, bhh, h + j).add(pf.mul(cp)));
            FloatVector g = tanh(pre(xp, xr, hp, hr, bih, bhh, 2 * h + j));
            FloatVector c = f.mul(cp).add(i.mul(g));
            if (a.cellClip > 0) {
                c = c.min(a.cellClip).max(-a.cellClip);
            }
            FloatVector o = sigmoid(pre(xp, xr, hp, hr, bih, bhh, 3 * h + j).add(po.mul(c)));
            FloatVector hv = o.mul(tanh(c));
            c.intoArray(cNext, cn0 + j);
            if (hNext != null) {
                hv.intoArray(hNext, hn0 + j);
            }
            hv.intoArray(out, o0 + j);
            if (saved != null) {
                i.intoArray(saved, sr + j);
                f.intoArray(saved, sr + h + j);
                g.intoArray(saved, sr + 2 * h + j);
                o.intoArray(saved, sr + 3 * h + j);
            }
        }
    }

    @Override
    public void lstmBackward(StepArgs a, int b) {
        if (scalar(a, b)) {
            CpuCells.lstmBackward(a, b);
            return;
        }
        int h = a.hidden;
        float[] peep = floats(a.peep), saved = floats(a.saved), cPrev = floats(a.cPrev), cNext = floats(a.cNext);
        float[] dh = floats(a.dh), dc = floats(a.dc), dG = floats(a.dGx);
        int gr = (int) a.dGxOff + b * 4 * h, sr = (int) a.savedOff + b * 4 * h;
        int cp0 = (int) a.cPrevOff + b * h, cn0 = (int) a.cNextOff + b * h;
        int dh0 = (int) a.dhOff + b * h, dc0 = (int) a.dcOff + b * h;
        for (int j = 0; j < h; j += N) {
            FloatVector i = load(saved, sr + j), f = load(saved, sr + h + j);
            FloatVector g = load(saved, sr + 2 * h + j), o = load(saved, sr + 3 * h + j);
            FloatVector cp = load(cPrev, cp0 + j), c = load(cNext, cn0 + j);
            FloatVector pi = peep == null ? ZERO : load(peep, j);
            FloatVector pf = peep == null ? ZERO : load(peep, h + j);
            FloatVector po = peep == null ? ZERO : load(peep, 2 * h + j);
            FloatVector dhv = load(dh, dh0 + j);
            FloatVector tc = tanh(c);
            FloatVector dpreO = dhv.mul(tc).mul(o).mul(ONE.sub(o));
            FloatVector dcTot = load(dc, dc0 + j).add(dhv.mul(o).mul(ONE.sub(tc.mul(tc)))).add(po.mul(dpreO));
            if (a.cellClip > 0) {
                // the clamp passes no gradient where it clipped
                dcTot = dcTot.blend(ZERO, f.mul(cp).add(i.mul(g)).abs().compare(VectorOperators.GT, a.cellClip));
            }
            FloatVector di = dcTot.mul(g), dg = dcTot.mul(i), df = dcTot.mul(cp);
            FloatVector dpreF;
            if (a.coupled) {
                di = di.sub(df);
                dpreF = ZERO;
            } else {
                dpreF = df.mul(f).mul(ONE.sub(f));
            }
            FloatVector dpreI = di.mul(i).mul(ONE.sub(i));
            FloatVector dpreG = dg.mul(ONE.sub(g.mul(g)));
            dcTot.mul(f).add(pi.mul(dpreI)).add(pf.mul(dpreF)).intoArray(dc, dc0 + j);
            dpreI.intoArray(dG, gr + j);
            dpreF.intoArray(dG, gr + h + j);
            dpreG.intoArray(dG, gr + 2 * h + j);
            dpreO.intoArray(dG, gr + 3 * h + j);
        }
    }

    @Override
    public void rnnForward(StepArgs a, int b) {
        if (scalar(a, b)) {
            CpuCells.rnnForward(a, b);
            return;
        }
        int h = a.hidden;
        float[] xp = floats(a.xp), hp = floats(a.hp), bih = floats(a.bih), bhh = floats(a.bhh);
        float[] hNext = floats(a.hNext), out = floats(a.out);
        int xr = (int) a.xpOff + b * h, hr = (int) a.hpOff + b * h, hn0 = (int) a.hNextOff + b * h;
        int o0 = (int) a.outOff + b * a.outLd;
        for (int j = 0; j < h; j += N) {
            FloatVector p = pre(xp, xr, hp, hr, bih, bhh, j);
            FloatVector hv = a.relu ? p.max(0f) : tanh(p);
            if (hNext != null) {
                hv.intoArray(hNext, hn0 + j);
            }
            hv.intoArray(out, o0 + j);
        }
    }

    @Override
    public void rnnBackward(StepArgs a, int b) {
        if (scalar(a, b)) {
            CpuCells.rnnBackward(a, b);
            return;
        }
        int h = a.hidden;
        float[] hNext = floats(a.hNext), dh = floats(a.dh), dG = floats(a.dGx);
        int gr = (int) a.dGxOff + b * h, hn0 = (int) a.hNextOff + b * h, dh0 = (int) a.dhOff + b * h;
        for (int j = 0; j < h; j += N) {
            FloatVector hv = load(hNext, hn0 + j);
            FloatVector d = a.relu ? ZERO.blend(ONE, hv.compare(VectorOperators.GT, 0f)) : ONE.sub(hv.mul(hv));
            load(dh, dh0 + j).mul(d).intoArray(dG, gr + j);
        }
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
            rnnBackward(a, 0);
        };
    }

    private static Buffer filled(int n, float v) {
        CpuBuffer buf = new CpuBuffer(DType.F32, n);
        java.util.Arrays.fill(buf.floats, v);
        return buf;
    }
}
