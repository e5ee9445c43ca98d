package org.rnn4j.cpu;

import static org.rnn4j.cpu.CpuEngine.floats;
import static org.rnn4j.cpu.CpuEngine.ints;

import org.rnn4j.engine.StepArgs;

/**
 * The fused pointwise cell steps of the CPU engine, one sample (row b) at a time: the readable
 * statement of what {@code kernels/lstm.cu}, {@code gru.cu} and {@code rnn.cu} compute. Buffers and
 * shapes are those of {@link StepArgs}; gate blocks are named, rows are {@code G·H} wide.
 */
final class CpuCells {
    private CpuCells() {
    }

    // LSTM gate blocks (PyTorch / cuDNN order)
    private static final int I = 0;
    private static final int F = 1;
    private static final int G = 2;
    private static final int O = 3;
    // GRU gate blocks
    private static final int R = 0;
    private static final int Z = 1;
    private static final int N = 2;
    /** GRU's fourth saved slot: W_hn h + b_hn (reset-after) or r ⊙ h_prev (reset-before). */
    private static final int EXTRA = 3;

    /*
     * sigmoid and tanh in float arithmetic only, one exp-like core shared by both and repeated operation for
     * operation with FloatVector lanes in VectorCells (fma is exactly rounded in both, so the twins agree bit for
     * bit). The core evaluates e^y for y <= 0 only, so nothing overflows: y = k·ln2 + r (Cody-Waite, ln2 split in
     * two floats), e^r − 1 on |r| <= ln2/2 by the Taylor polynomial to r^7 (Horner, fma), 2^k written into a
     * float's exponent bits. Measured against double over every float bit pattern (CellMathTest): within 2.5 ulp
     * (sigmoid 2.40, tanh 2.50 at worst).
     */

    /** log2 e, to find k = round(y·log2 e). */
    static final float LOG2E = 1.44269504f;
    /** {@code ln 2 = LN2_HI + LN2_LO}, LN2_HI with 15 significant bits, so {@code k·LN2_HI} is exact for {@code |k| < 512}. */
    static final float LN2_HI = 0.693145751953125f;
    /** The rest of ln 2 below {@link #LN2_HI}. */
    static final float LN2_LO = 1.42860677e-6f;
    /** 1.5·2^23: {@code fma(y, LOG2E, ROUND)} rounds y·log2 e to the integer k, its bits {@code ROUND}'s plus k. */
    static final float ROUND = 12582912f;
    /** Taylor coefficients of {@code (e^r − 1 − r) / r²}: 1/2!, 1/3!, …, 1/7!. */
    static final float C2 = 0.5f, C3 = 1f / 6, C4 = 1f / 24, C5 = 1f / 120, C6 = 1f / 720, C7 = 1f / 5040;
    /** sigmoid's e^y is formed as {@code 2^(k+24)·(1 + q)} (normal for {@code k >= −150}), then scaled by 2^−24. */
    static final int SIGMOID_EXP_BIAS = 127 + 24;
    /** 2^−24, the scale that takes sigmoid's e^y into the subnormals where it belongs there. */
    static final float TWO_M24 = 0x1p-24f;
    /** sigmoid's y floor: below it {@code sigmoid(x) < 2^−150} rounds to 0. */
    static final float SIGMOID_FLOOR = -104f;
    /** tanh's y = −2|x| floor: below it {@code tanh|x| > 1 − 2^−25} rounds to 1. */
    static final float TANH_FLOOR = -20f;

    /** {@code e^r − 1} for {@code |r| <= ln2/2}, r reduced from {@code y = k·ln2 + r}. */
    private static float expm1Reduced(float r) {
        float p = Math.fma(C7, r, C6);
        p = Math.fma(p, r, C5);
        p = Math.fma(p, r, C4);
        p = Math.fma(p, r, C3);
        p = Math.fma(p, r, C2);
        return Math.fma(r * r, p, r);
    }

    /** {@code 1 / (1 + e^−x)}, as {@code e/(1+e)} with {@code e = e^x} for {@code x < 0}: relative accuracy at both ends. */
    static float sigmoid(float x) {
        float y = Math.max(-Math.abs(x), SIGMOID_FLOOR);
        float t = Math.fma(y, LOG2E, ROUND);
        float k = t - ROUND;
        float r = Math.fma(k, -LN2_LO, Math.fma(k, -LN2_HI, y));
        float q = expm1Reduced(r);
        float scale = Float.intBitsToFloat((Float.floatToRawIntBits(t) + SIGMOID_EXP_BIAS) << 23);  // 2^(k+24)
        float e = Math.fma(scale, q, scale) * TWO_M24;                                            // e^y
        return (x >= 0f ? 1f : e) / (1f + e);
    }

    /**
     * {@code tanh|x| = −u / (u + 2)} with {@code u = e^(−2|x|) − 1}, the sign of x put back; x itself for
     * {@code |x| < 1e-4} ({@code tanh x = x − x³/3} rounds to x there).
     */
    static float tanh(float x) {
        if (Math.abs(x) < 1e-4f) {
            return x;
        }
        float y = Math.max(-2f * Math.abs(x), TANH_FLOOR);
        float t = Math.fma(y, LOG2E, ROUND);
        float k = t - ROUND;
        float r = Math.fma(k, -LN2_LO, Math.fma(k, -LN2_HI, y));
        float q = expm1Reduced(r);
        float scale = Float.intBitsToFloat((Float.floatToRawIntBits(t) + 127) << 23);  // 2^k, exact − 1 for k >= −24
        float u = Math.fma(scale, q, scale - 1f);
        return Math.copySign(-u / (u + 2f), x);
    }

    static boolean valid(int[] lengths, int b, int step) {
        return lengths == null || step < lengths[b];
    }

    /** {@code xp + hp + bih + bhh} of gate block k, unit j, sample b. */
    private static float pre(float[] xp, int xpRow, float[] hp, int hpRow, float[] bih, float[] bhh, int k, int h, int j) {
        int col = k * h + j;
        float v = xp[xpRow + col] + hp[hpRow + col];
        if (bih != null) {
            v += bih[col] + bhh[col];
        }
        return v;
    }

    // ------------------------------------------------------------------ LSTM

    static void lstmForward(StepArgs a, int b) {
        lstmForward(a, b, 0, a.hidden);
    }

    /** Units {@code j0 <= j < j1} of sample b only (the inference path runs the cell per block of units). */
    static void lstmForward(StepArgs a, int b, int j0, int j1) {
        int h = a.hidden;
        float[] xp = floats(a.xp), hp = floats(a.hp), bih = floats(a.bih), bhh = floats(a.bhh), peep = floats(a.peep);
        float[] cPrev = floats(a.cPrev), cNext = floats(a.cNext), hPrev = floats(a.hPrev), hNext = floats(a.hNext);
        float[] out = floats(a.out), saved = floats(a.saved);
        boolean v = valid(ints(a.lengths), b, a.step);
        int xr = (int) a.xpOff + b * 4 * h, hr = (int) a.hpOff + b * 4 * h;
        int sr = (int) a.savedOff + b * 4 * h;
        for (int j = j0; j < j1; j++) {
            int cIdx = b * h + j;
            float cp = cPrev[(int) a.cPrevOff + cIdx];
            if (!v) {
                cNext[(int) a.cNextOff + cIdx] = cp;
                if (hNext != null) {
                    hNext[(int) a.hNextOff + cIdx] = hPrev[(int) a.hPrevOff + cIdx];
                }
                out[(int) a.outOff + b * a.outLd + j] = 0f;
                if (saved != null) {
                    for (int k = 0; k < 4; k++) {
                        saved[sr + k * h + j] = 0f;
                    }
                }
                continue;
            }
            float pi = peep == null ? 0f : peep[j];
            float pf = peep == null ? 0f : peep[h + j];
            float po = peep == null ? 0f : peep[2 * h + j];
            float i = sigmoid(pre(xp, xr, hp, hr, bih, bhh, I, h, j) + pi * cp);
            float f = a.coupled ? 1f - i : sigmoid(pre(xp, xr, hp, hr, bih, bhh, F, h, j) + pf * cp);
            float g = tanh(pre(xp, xr, hp, hr, bih, bhh, G, h, j));
            float c = f * cp + i * g;
            if (a.cellClip > 0) {
                c = Math.max(-a.cellClip, Math.min(a.cellClip, c));
            }
            float o = sigmoid(pre(xp, xr, hp, hr, bih, bhh, O, h, j) + po * c);
            float hv = o * tanh(c);
            cNext[(int) a.cNextOff + cIdx] = c;
            if (hNext != null) {
                hNext[(int) a.hNextOff + cIdx] = hv;
            }
            out[(int) a.outOff + b * a.outLd + j] = hv;
            if (saved != null) {
                saved[sr + I * h + j] = i;
                saved[sr + F * h + j] = f;
                saved[sr + G * h + j] = g;
                saved[sr + O * h + j] = o;
            }
        }
    }

    static void lstmBackward(StepArgs a, int b) {
        int h = a.hidden;
        float[] peep = floats(a.peep), saved = floats(a.saved), cPrev = floats(a.cPrev), cNext = floats(a.cNext);
        float[] dh = floats(a.dh), dc = floats(a.dc), dG = floats(a.dGx);
        int gr = (int) a.dGxOff + b * 4 * h;
        if (!valid(ints(a.lengths), b, a.step)) {
            java.util.Arrays.fill(dG, gr, gr + 4 * h, 0f);
            return;
        }
        int sr = (int) a.savedOff + b * 4 * h;
        for (int j = 0; j < h; j++) {
            int cIdx = b * h + j;
            float i = saved[sr + I * h + j], f = saved[sr + F * h + j];
            float g = saved[sr + G * h + j], o = saved[sr + O * h + j];
            float cp = cPrev[(int) a.cPrevOff + cIdx];
            float c = cNext[(int) a.cNextOff + cIdx];
            float pi = peep == null ? 0f : peep[j];
            float pf = peep == null ? 0f : peep[h + j];
            float po = peep == null ? 0f : peep[2 * h + j];
            float dhv = dh[(int) a.dhOff + cIdx];
            float tc = tanh(c);
            float dpreO = dhv * tc * o * (1f - o);
            float dcTot = dc[(int) a.dcOff + cIdx] + dhv * o * (1f - tc * tc) + po * dpreO;
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
            dc[(int) a.dcOff + cIdx] = dcTot * f + pi * dpreI + pf * dpreF;
            dG[gr + I * h + j] = dpreI;
            dG[gr + F * h + j] = dpreF;
            dG[gr + G * h + j] = dpreG;
            dG[gr + O * h + j] = dpreO;
        }
    }

    // ------------------------------------------------------------------ GRU, reset-after

    static void gruForward(StepArgs a, int b) {
        gruForward(a, b, 0, a.hidden);
    }

    /** Units {@code j0 <= j < j1} of sample b only (the inference path runs the cell per block of units). */
    static void gruForward(StepArgs a, int b, int j0, int j1) {
        int h = a.hidden;
        float[] xp = floats(a.xp), hp = floats(a.hp), bih = floats(a.bih), bhh = floats(a.bhh);
        float[] hPrev = floats(a.hPrev), hNext = floats(a.hNext), out = floats(a.out), saved = floats(a.saved);
        boolean v = valid(ints(a.lengths), b, a.step);
        int xr = (int) a.xpOff + b * 3 * h, hr = (int) a.hpOff + b * 3 * h, sr = (int) a.savedOff + b * 4 * h;
        for (int j = j0; j < j1; j++) {
            int sIdx = b * h + j;
            float hpv = hPrev[(int) a.hPrevOff + sIdx];
            if (!v) {
                if (hNext != null) {
                    hNext[(int) a.hNextOff + sIdx] = hpv;
                }
                out[(int) a.outOff + b * a.outLd + j] = 0f;
                if (saved != null) {
                    for (int k = 0; k < 4; k++) {
                        saved[sr + k * h + j] = 0f;
                    }
                }
                continue;
            }
            float r = sigmoid(pre(xp, xr, hp, hr, bih, bhh, R, h, j));
            float z = sigmoid(pre(xp, xr, hp, hr, bih, bhh, Z, h, j));
            float hn = hp[hr + N * h + j] + (bhh == null ? 0f : bhh[N * h + j]);
            float n = tanh(xp[xr + N * h + j] + (bih == null ? 0f : bih[N * h + j]) + r * hn);
            float hv = (1f - z) * n + z * hpv;
            if (hNext != null) {
                hNext[(int) a.hNextOff + sIdx] = hv;
            }
            out[(int) a.outOff + b * a.outLd + j] = hv;
            if (saved != null) {
                saved[sr + R * h + j] = r;
                saved[sr + Z * h + j] = z;
                saved[sr + N * h + j] = n;
                saved[sr + EXTRA * h + j] = hn;
            }
        }
    }

    static void gruBackward(StepArgs a, int b) {
        int h = a.hidden;
        float[] hPrev = floats(a.hPrev), saved = floats(a.saved), dh = floats(a.dh);
        float[] dGx = floats(a.dGx), dGh = floats(a.dGh), dhPrev = floats(a.dhPrev);
        int xr = (int) a.dGxOff + b * 3 * h, hr = (int) a.dGhOff + b * 3 * h;
        if (!valid(ints(a.lengths), b, a.step)) {
            java.util.Arrays.fill(dGx, xr, xr + 3 * h, 0f);
            java.util.Arrays.fill(dGh, hr, hr + 3 * h, 0f);
            return;
        }
        int sr = (int) a.savedOff + b * 4 * h;
        for (int j = 0; j < h; j++) {
            int sIdx = b * h + j;
            float r = saved[sr + R * h + j], z = saved[sr + Z * h + j];
            float n = saved[sr + N * h + j], hn = saved[sr + EXTRA * h + j];
            float hpv = hPrev[(int) a.hPrevOff + sIdx];
            float dhv = dh[(int) a.dhOff + sIdx];
            float dpreN = dhv * (1f - z) * (1f - n * n);
            float dpreR = dpreN * hn * r * (1f - r);
            float dpreZ = dhv * (hpv - n) * z * (1f - z);
            dGx[xr + R * h + j] = dpreR;
            dGx[xr + Z * h + j] = dpreZ;
            dGx[xr + N * h + j] = dpreN;
            dGh[hr + R * h + j] = dpreR;
            dGh[hr + Z * h + j] = dpreZ;
            dGh[hr + N * h + j] = dpreN * r;
            dhPrev[(int) a.dhPrevOff + sIdx] += dhv * z;
        }
    }

    // ------------------------------------------------------------------ GRU, reset-before (two phases each way)

    static void gruResetBeforeGates(StepArgs a, int b) {
        int h = a.hidden;
        float[] xp = floats(a.xp), hp = floats(a.hp), bih = floats(a.bih), bhh = floats(a.bhh);
        float[] hPrev = floats(a.hPrev), saved = floats(a.saved);
        boolean v = valid(ints(a.lengths), b, a.step);
        int xr = (int) a.xpOff + b * 3 * h, hr = (int) a.hpOff + b * 3 * h, sr = (int) a.savedOff + b * 4 * h;
        for (int j = 0; j < h; j++) {
            if (!v) {
                saved[sr + R * h + j] = 0f;
                saved[sr + Z * h + j] = 0f;
                saved[sr + EXTRA * h + j] = 0f;
                continue;
            }
            float r = sigmoid(pre(xp, xr, hp, hr, bih, bhh, R, h, j));
            saved[sr + R * h + j] = r;
            saved[sr + Z * h + j] = sigmoid(pre(xp, xr, hp, hr, bih, bhh, Z, h, j));
            saved[sr + EXTRA * h + j] = r * hPrev[(int) a.hPrevOff + b * h + j];
        }
    }

    static void gruResetBeforeOutput(StepArgs a, int b) {
        int h = a.hidden;
        float[] xp = floats(a.xp), hp = floats(a.hp), bih = floats(a.bih), bhh = floats(a.bhh);
        float[] hPrev = floats(a.hPrev), hNext = floats(a.hNext), out = floats(a.out), saved = floats(a.saved);
        boolean v = valid(ints(a.lengths), b, a.step);
        int xr = (int) a.xpOff + b * 3 * h, hr = (int) a.hpOff + b * 3 * h, sr = (int) a.savedOff + b * 4 * h;
        for (int j = 0; j < h; j++) {
            int sIdx = b * h + j;
            float hpv = hPrev[(int) a.hPrevOff + sIdx];
            if (!v) {
                saved[sr + N * h + j] = 0f;
                if (hNext != null) {
                    hNext[(int) a.hNextOff + sIdx] = hpv;
                }
                out[(int) a.outOff + b * a.outLd + j] = 0f;
                continue;
            }
            float n = tanh(pre(xp, xr, hp, hr, bih, bhh, N, h, j));
            float z = saved[sr + Z * h + j];
            float hv = (1f - z) * n + z * hpv;
            saved[sr + N * h + j] = n;
            if (hNext != null) {
                hNext[(int) a.hNextOff + sIdx] = hv;
            }
            out[(int) a.outOff + b * a.outLd + j] = hv;
        }
    }

    static void gruResetBeforeBackwardOutput(StepArgs a, int b) {
        int h = a.hidden;
        float[] hPrev = floats(a.hPrev), saved = floats(a.saved), dh = floats(a.dh);
        float[] dGx = floats(a.dGx), dGh = floats(a.dGh), dhPrev = floats(a.dhPrev);
        int xr = (int) a.dGxOff + b * 3 * h, hr = (int) a.dGhOff + b * 3 * h;
        if (!valid(ints(a.lengths), b, a.step)) {
            java.util.Arrays.fill(dGx, xr, xr + 3 * h, 0f);
            java.util.Arrays.fill(dGh, hr, hr + 3 * h, 0f);
            return;
        }
        int sr = (int) a.savedOff + b * 4 * h;
        for (int j = 0; j < h; j++) {
            int sIdx = b * h + j;
            float z = saved[sr + Z * h + j], n = saved[sr + N * h + j];
            float hpv = hPrev[(int) a.hPrevOff + sIdx];
            float dhv = dh[(int) a.dhOff + sIdx];
            float dpreN = dhv * (1f - z) * (1f - n * n);
            float dpreZ = dhv * (hpv - n) * z * (1f - z);
            dGx[xr + Z * h + j] = dpreZ;
            dGx[xr + N * h + j] = dpreN;
            dGh[hr + Z * h + j] = dpreZ;
            dGh[hr + N * h + j] = dpreN;
            dhPrev[(int) a.dhPrevOff + sIdx] += dhv * z;
        }
    }

    static void gruResetBeforeBackwardGates(StepArgs a, int b) {
        if (!valid(ints(a.lengths), b, a.step)) {
            return; // phase 1 zeroed this sample's gradients
        }
        int h = a.hidden;
        float[] hPrev = floats(a.hPrev), saved = floats(a.saved), tmp = floats(a.tmp);
        float[] dGx = floats(a.dGx), dGh = floats(a.dGh), dhPrev = floats(a.dhPrev);
        int xr = (int) a.dGxOff + b * 3 * h, hr = (int) a.dGhOff + b * 3 * h, sr = (int) a.savedOff + b * 4 * h;
        for (int j = 0; j < h; j++) {
            int sIdx = b * h + j;
            float r = saved[sr + R * h + j];
            float dRh = tmp[(int) a.tmpOff + sIdx]; // d(r ⊙ h_prev)
            float dpreR = dRh * hPrev[(int) a.hPrevOff + sIdx] * r * (1f - r);
            dGx[xr + R * h + j] = dpreR;
            dGh[hr + R * h + j] = dpreR;
            dhPrev[(int) a.dhPrevOff + sIdx] += dRh * r;
        }
    }

    // ------------------------------------------------------------------ vanilla RNN

    static void rnnForward(StepArgs a, int b) {
        rnnForward(a, b, 0, a.hidden);
    }

    /** Units {@code j0 <= j < j1} of sample b only (the inference path runs the cell per block of units). */
    static void rnnForward(StepArgs a, int b, int j0, int j1) {
        int h = a.hidden;
        float[] xp = floats(a.xp), hp = floats(a.hp), bih = floats(a.bih), bhh = floats(a.bhh);
        float[] hPrev = floats(a.hPrev), hNext = floats(a.hNext), out = floats(a.out);
        boolean v = valid(ints(a.lengths), b, a.step);
        int xr = (int) a.xpOff + b * h, hr = (int) a.hpOff + b * h;
        for (int j = j0; j < j1; j++) {
            int sIdx = b * h + j;
            float hv;
            if (v) {
                float p = pre(xp, xr, hp, hr, bih, bhh, 0, h, j);
                hv = a.relu ? Math.max(p, 0f) : tanh(p);
            } else {
                hv = hPrev[(int) a.hPrevOff + sIdx];
            }
            if (hNext != null) {
                hNext[(int) a.hNextOff + sIdx] = hv;
            }
            out[(int) a.outOff + b * a.outLd + j] = v ? hv : 0f;
        }
    }

    static void rnnBackward(StepArgs a, int b) {
        int h = a.hidden;
        float[] hNext = floats(a.hNext), dh = floats(a.dh), dG = floats(a.dGx);
        boolean v = valid(ints(a.lengths), b, a.step);
        int gr = (int) a.dGxOff + b * h;
        for (int j = 0; j < h; j++) {
            int sIdx = b * h + j;
            if (!v) {
                dG[gr + j] = 0f;
                continue;
            }
            float hv = hNext[(int) a.hNextOff + sIdx];
            float d = a.relu ? (hv > 0f ? 1f : 0f) : 1f - hv * hv;
            dG[gr + j] = dh[(int) a.dhOff + sIdx] * d;
        }
    }
}
