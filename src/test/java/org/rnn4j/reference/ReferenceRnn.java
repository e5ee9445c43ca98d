package org.rnn4j.reference;

import java.util.LinkedHashMap;
import java.util.Map;
import org.rnn4j.CellType;
import org.rnn4j.RecurrentConfig;

/**
 * The scalar, double-precision reference forward pass of every recurrent layer rnn4j offers, written
 * straight from the equations in {@code DESIGN.md} with plain loops so that it reads as the specification.
 * It is the oracle the CPU and CUDA engines are checked against; it is itself checked against PyTorch
 * ({@link ReferenceConformanceTest}) and its finite-difference gradients against PyTorch's autograd
 * ({@link ReferenceGradientTest}).
 *
 * <p>Layouts (all flat, row-major, time-major):
 * <ul>
 *   <li>x: {@code [T, B, inputSize]}; y: {@code [T, B, dirs*S]} with S = {@link RecurrentConfig#stateSize()}
 *       and the feature axis {@code [forward S | backward S]};</li>
 *   <li>h0, hN: {@code [layers*dirs, B, S]}; c0, cN: {@code [layers*dirs, B, H]} (LSTM only), ordered
 *       {@code [l0 fwd, l0 bwd, l1 fwd, ...]};</li>
 *   <li>parameters by PyTorch name, see {@link #parameterShapes(RecurrentConfig)}.</li>
 * </ul>
 *
 * <p>Variable lengths follow PyTorch's {@code PackedSequence}: for sample b only steps
 * {@code t < lengths[b]} are computed; the forward direction runs t = 0 .. len-1, the reverse direction
 * t = len-1 .. 0 (it starts at the sample's own last valid step with the initial state); outputs at
 * {@code t >= lengths[b]} are zero and the final state is the state after the last step processed.
 *
 * <p>Dropout between layers is not modelled: a training-mode call on a config with dropout > 0 and
 * more than one layer is refused.
 */
public final class ReferenceRnn {
    private ReferenceRnn() {
    }

    /** y {@code [T, B, dirs*S]}, hN {@code [L*dirs, B, S]}, cN {@code [L*dirs, B, H]} (null unless LSTM). */
    public record Result(double[] y, double[] hN, double[] cN) {
    }

    /** The direction suffixes of parameter names: forward "", backward "_reverse". */
    private static final String[] SUFFIX = {"", "_reverse"};

    /**
     * Parameter names and shapes in PyTorch {@code state_dict} order: for each layer, for each direction,
     * {@code weight_ih, weight_hh, bias_ih, bias_hh, weight_hr} (as PyTorch), then {@code weight_peephole}
     * (rnn4j's extension, {@code [3H]} in order i, f, o).
     */
    public static Map<String, int[]> parameterShapes(RecurrentConfig cfg) {
        Map<String, int[]> shapes = new LinkedHashMap<>();
        int g = cfg.cell().gates();
        int h = cfg.hiddenSize();
        int s = cfg.stateSize();
        int p = cfg.projSize();
        boolean lstm = cfg.cell() == CellType.LSTM;
        for (int k = 0; k < cfg.numLayers(); k++) {
            int in = k == 0 ? cfg.inputSize() : cfg.directions() * s;
            for (int d = 0; d < cfg.directions(); d++) {
                String sfx = "_l" + k + SUFFIX[d];
                shapes.put("weight_ih" + sfx, new int[] {g * h, in});
                shapes.put("weight_hh" + sfx, new int[] {g * h, s});
                if (cfg.bias()) {
                    shapes.put("bias_ih" + sfx, new int[] {g * h});
                    shapes.put("bias_hh" + sfx, new int[] {g * h});
                }
                if (lstm && p > 0) {
                    shapes.put("weight_hr" + sfx, new int[] {p, h});
                }
                if (lstm && cfg.peepholes()) {
                    shapes.put("weight_peephole" + sfx, new int[] {3 * h});
                }
            }
        }
        return shapes;
    }

    /**
     * The forward pass.
     *
     * @param params     every parameter of {@link #parameterShapes}, by name, flat row-major
     * @param x          {@code [steps, batch, inputSize]}
     * @param lengths    per-sample valid lengths in [1, steps], or null for all {@code steps}
     * @param h0         {@code [layers*dirs, batch, S]} or null for zeros
     * @param c0         {@code [layers*dirs, batch, H]} or null for zeros (LSTM only)
     * @param training   only matters for dropout, which is not modelled (refused when it would apply)
     */
    public static Result forward(RecurrentConfig cfg, Map<String, double[]> params, double[] x, int steps, int batch,
                                 int[] lengths, double[] h0, double[] c0, boolean training, long dropoutSeedUnused) {
        int layers = cfg.numLayers();
        int dirs = cfg.directions();
        int hid = cfg.hiddenSize();
        int s = cfg.stateSize();
        boolean lstm = cfg.cell() == CellType.LSTM;
        if (training && cfg.dropout() > 0 && layers > 1) {
            throw new UnsupportedOperationException("ReferenceRnn does not model dropout; use dropout 0 or eval mode");
        }
        check("x", x.length, steps * batch * cfg.inputSize());
        if (h0 != null) {
            check("h0", h0.length, layers * dirs * batch * s);
        }
        if (c0 != null) {
            check("c0", c0.length, layers * dirs * batch * hid);
        }
        int[] len = new int[batch];
        for (int b = 0; b < batch; b++) {
            len[b] = lengths == null ? steps : lengths[b];
            if (len[b] < 1 || len[b] > steps) {
                throw new IllegalArgumentException("lengths[" + b + "]: expected in [1, " + steps + "], got " + len[b]);
            }
        }
        for (Map.Entry<String, int[]> e : parameterShapes(cfg).entrySet()) {
            double[] w = params.get(e.getKey());
            if (w == null) {
                throw new IllegalArgumentException("params: missing " + e.getKey());
            }
            int n = 1;
            for (int dim : e.getValue()) {
                n *= dim;
            }
            check(e.getKey(), w.length, n);
        }

        double[] hN = new double[layers * dirs * batch * s];
        double[] cN = lstm ? new double[layers * dirs * batch * hid] : null;
        double[] input = x;
        int inSize = cfg.inputSize();
        for (int k = 0; k < layers; k++) {
            double[] out = new double[steps * batch * dirs * s];
            for (int d = 0; d < dirs; d++) {
                int idx = k * dirs + d;
                String sfx = "_l" + k + SUFFIX[d];
                Weights w = new Weights(cfg, params, sfx);
                for (int b = 0; b < batch; b++) {
                    double[] h = new double[s];
                    double[] c = new double[hid];
                    for (int j = 0; j < s; j++) {
                        h[j] = h0 == null ? 0 : h0[(idx * batch + b) * s + j];
                    }
                    for (int j = 0; j < hid; j++) {
                        c[j] = c0 == null ? 0 : c0[(idx * batch + b) * hid + j];
                    }
                    for (int n = 0; n < len[b]; n++) {
                        int t = d == 0 ? n : len[b] - 1 - n;
                        double[] xt = new double[inSize];
                        for (int i = 0; i < inSize; i++) {
                            xt[i] = input[(t * batch + b) * inSize + i];
                        }
                        switch (cfg.cell()) {
                            case RNN_TANH, RNN_RELU -> h = rnnStep(cfg, w, xt, h);
                            case LSTM -> {
                                double[][] hc = lstmStep(cfg, w, xt, h, c);
                                h = hc[0];
                                c = hc[1];
                            }
                            case GRU -> h = gruStep(cfg, w, xt, h);
                        }
                        for (int j = 0; j < s; j++) {
                            out[(t * batch + b) * dirs * s + d * s + j] = h[j];
                        }
                    }
                    // Steps t >= len[b] stay zero in out; the final state is the last state computed.
                    System.arraycopy(h, 0, hN, (idx * batch + b) * s, s);
                    if (lstm) {
                        System.arraycopy(c, 0, cN, (idx * batch + b) * hid, hid);
                    }
                }
            }
            input = out;
            inSize = dirs * s;
        }
        return new Result(input, hN, cN);
    }

    // ---------------------------------------------------------------- cells

    /** h' = act(W_ih x + b_ih + W_hh h + b_hh). */
    private static double[] rnnStep(RecurrentConfig cfg, Weights w, double[] x, double[] h) {
        int hid = cfg.hiddenSize();
        double[] out = new double[hid];
        for (int j = 0; j < hid; j++) {
            double a = w.ih(j, x) + w.bih(j) + w.hh(j, h) + w.bhh(j);
            out[j] = cfg.cell() == CellType.RNN_RELU ? Math.max(0, a) : Math.tanh(a);
        }
        return out;
    }

    /**
     * Gate rows i, f, g, o. Peepholes: i, f see the previous c, o sees the new c. Coupled: f = 1 - i.
     * Cell clip after the update, before o. Projection: h' = W_hr (o * tanh(c')).
     */
    private static double[][] lstmStep(RecurrentConfig cfg, Weights w, double[] x, double[] h, double[] c) {
        int hid = cfg.hiddenSize();
        double clip = cfg.cellClip();
        double[] cNew = new double[hid];
        double[] m = new double[hid];
        for (int j = 0; j < hid; j++) {
            int ri = j;
            int rf = hid + j;
            int rg = 2 * hid + j;
            int ro = 3 * hid + j;
            double preI = w.ih(ri, x) + w.bih(ri) + w.hh(ri, h) + w.bhh(ri) + w.peep(0, j) * c[j];
            double preF = w.ih(rf, x) + w.bih(rf) + w.hh(rf, h) + w.bhh(rf) + w.peep(1, j) * c[j];
            double preG = w.ih(rg, x) + w.bih(rg) + w.hh(rg, h) + w.bhh(rg);
            double preO = w.ih(ro, x) + w.bih(ro) + w.hh(ro, h) + w.bhh(ro);
            double i = sigmoid(preI);
            double f = cfg.coupledInputForget() ? 1 - i : sigmoid(preF);
            double g = Math.tanh(preG);
            double cj = f * c[j] + i * g;
            if (clip > 0) {
                cj = Math.max(-clip, Math.min(clip, cj));
            }
            double o = sigmoid(preO + w.peep(2, j) * cj);
            cNew[j] = cj;
            m[j] = o * Math.tanh(cj);
        }
        int p = cfg.projSize();
        if (p == 0) {
            return new double[][] {m, cNew};
        }
        double[] hNew = new double[p];
        for (int r = 0; r < p; r++) {
            double a = 0;
            for (int j = 0; j < hid; j++) {
                a += w.hr[r * hid + j] * m[j];
            }
            hNew[r] = a;
        }
        return new double[][] {hNew, cNew};
    }

    /** Gate rows r, z, n; reset-after (default) or reset-before for the candidate n. */
    private static double[] gruStep(RecurrentConfig cfg, Weights w, double[] x, double[] h) {
        int hid = cfg.hiddenSize();
        double[] r = new double[hid];
        double[] z = new double[hid];
        for (int j = 0; j < hid; j++) {
            r[j] = sigmoid(w.ih(j, x) + w.bih(j) + w.hh(j, h) + w.bhh(j));
            z[j] = sigmoid(w.ih(hid + j, x) + w.bih(hid + j) + w.hh(hid + j, h) + w.bhh(hid + j));
        }
        double[] rh = new double[hid];
        for (int j = 0; j < hid; j++) {
            rh[j] = r[j] * h[j];
        }
        double[] out = new double[hid];
        for (int j = 0; j < hid; j++) {
            int rn = 2 * hid + j;
            double n;
            if (cfg.resetAfter()) {
                n = Math.tanh(w.ih(rn, x) + w.bih(rn) + r[j] * (w.hh(rn, h) + w.bhh(rn)));
            } else {
                n = Math.tanh(w.ih(rn, x) + w.bih(rn) + w.hh(rn, rh) + w.bhh(rn));
            }
            out[j] = (1 - z[j]) * n + z[j] * h[j];
        }
        return out;
    }

    private static double sigmoid(double a) {
        return 1 / (1 + Math.exp(-a));
    }

    private static void check(String name, int got, int expected) {
        if (got != expected) {
            throw new IllegalArgumentException(name + ": expected " + expected + " elements, got " + got);
        }
    }

    /** One direction of one layer's parameters, with row-times-vector helpers. */
    private static final class Weights {
        final double[] wih;
        final double[] whh;
        final double[] bih;
        final double[] bhh;
        final double[] hr;
        final double[] peep;
        final int in;
        final int s;
        final int hid;

        Weights(RecurrentConfig cfg, Map<String, double[]> p, String sfx) {
            wih = p.get("weight_ih" + sfx);
            whh = p.get("weight_hh" + sfx);
            bih = cfg.bias() ? p.get("bias_ih" + sfx) : null;
            bhh = cfg.bias() ? p.get("bias_hh" + sfx) : null;
            boolean lstm = cfg.cell() == CellType.LSTM;
            hr = lstm && cfg.projSize() > 0 ? p.get("weight_hr" + sfx) : null;
            peep = lstm && cfg.peepholes() ? p.get("weight_peephole" + sfx) : null;
            s = cfg.stateSize();
            hid = cfg.hiddenSize();
            in = wih.length / (cfg.cell().gates() * hid);
        }

        /** Row {@code row} of W_ih times x. */
        double ih(int row, double[] x) {
            double a = 0;
            for (int i = 0; i < in; i++) {
                a += wih[row * in + i] * x[i];
            }
            return a;
        }

        /** Row {@code row} of W_hh times h. */
        double hh(int row, double[] h) {
            double a = 0;
            for (int i = 0; i < s; i++) {
                a += whh[row * s + i] * h[i];
            }
            return a;
        }

        double bih(int row) {
            return bih == null ? 0 : bih[row];
        }

        double bhh(int row) {
            return bhh == null ? 0 : bhh[row];
        }

        /** Peephole weight of gate {@code gate} (0 = i, 1 = f, 2 = o) for unit j, 0 without peepholes. */
        double peep(int gate, int j) {
            return peep == null ? 0 : peep[gate * hid + j];
        }
    }
}
