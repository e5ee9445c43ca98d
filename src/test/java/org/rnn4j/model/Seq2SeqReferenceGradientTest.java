package org.rnn4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.rnn4j.Device;
import org.rnn4j.Devices;
import org.rnn4j.Lstm;
import org.rnn4j.RecurrentConfig;
import org.rnn4j.Tensor;
import org.rnn4j.reference.FiniteDifference;
import org.rnn4j.reference.ReferenceRnn;

/**
 * A whole {@link Seq2Seq} training loss written again in double precision from the class's definition (embeddings,
 * a bidirectional LSTM encoder on {@link ReferenceRnn}, its two directions summed into the decoder's initial h and
 * c, Luong general attention masked to each source's length, {@code tanh(W_c [context; h])}, the vocabulary layer,
 * the mean cross-entropy over every valid target step and end token): the model's loss equals it, and the model's
 * float gradients of the attention, the encoder and the embeddings equal central finite differences of it.
 */
class Seq2SeqReferenceGradientTest {
    private static final int START = 1, END = 2, VOCAB = 10, E = 4, H = 5;

    @Test
    void attentionAndEncoderGradientsMatchFiniteDifferencesOfTheDoubleReference() {
        RecurrentConfig enc = Lstm.builder(E, H).bidirectional(true).seed(3).config();
        RecurrentConfig dec = Lstm.builder(E, H).seed(4).config();
        Random rnd = new Random(11);
        List<int[]> src = Seq2SeqTest.randomSequences(rnd, 3, 1, 5);
        List<int[]> tgt = Seq2SeqTest.randomSequences(rnd, 3, 0, 4);
        try (Seq2Seq model = Seq2Seq.builder(VOCAB, VOCAB).encoder(Lstm.builder(E, H).bidirectional(true).seed(3))
                .decoder(Lstm.builder(E, H).seed(4)).attention(Seq2Seq.Attention.GENERAL).tokens(START, END).seed(5)
                .build(Device.cpu())) {
            for (Tensor w : model.parameters().values()) {   // larger weights: gradients well above float noise
                float[] v = w.toHost();
                for (int i = 0; i < v.length; i++) {
                    v[i] *= 3;
                }
                w.copyFrom(v);
            }
            Map<String, double[]> params = new HashMap<>();
            model.parameters().forEach((k, v) -> params.put(k, Devices.toDouble(v.toHost())));
            model.zeroGrad();
            double loss = model.lossAndGradients(src, tgt);
            assertEquals(reference(enc, dec, params, src, tgt), loss, 1e-5 * Math.max(1, Math.abs(loss)), "loss");
            int checked = 0;
            for (String name : List.of("attention_keys.weight", "attention_combine.weight", "attention_combine.bias",
                    "encoder.weight_hh_l0_reverse", "encoder.weight_ih_l0", "source_embedding.weight", "target_embedding.weight")) {
                float[] grad = model.gradients().get(name).toHost();
                double[] numeric = FiniteDifference.gradient(at -> {
                    Map<String, double[]> p = new HashMap<>(params);
                    p.put(name, at);
                    return reference(enc, dec, p, src, tgt);
                }, params.get(name));
                double largest = 0;
                for (int i = 0; i < grad.length; i++) {
                    largest = Math.max(largest, Math.abs(numeric[i]));
                    assertEquals(numeric[i], grad[i], 2e-5 + 1e-3 * Math.abs(numeric[i]), name + "[" + i + "]");
                }
                assertTrue(largest > 1e-3, name + ": numeric gradients of at most " + largest + " check nothing");
                checked++;
            }
            assertEquals(7, checked);
        }
    }

    /** The teacher-forced mean per-token cross-entropy, in double precision. */
    private static double reference(RecurrentConfig enc, RecurrentConfig dec, Map<String, double[]> p, List<int[]> src, List<int[]> tgt) {
        int b = src.size(), s = 0, t = 0;
        int[] srcLen = new int[b], tgtLen = new int[b];
        for (int i = 0; i < b; i++) {
            srcLen[i] = src.get(i).length;
            tgtLen[i] = tgt.get(i).length + 1;
            s = Math.max(s, srcLen[i]);
            t = Math.max(t, tgtLen[i]);
        }
        double[] xs = new double[s * b * E], xt = new double[t * b * E];
        for (int i = 0; i < b; i++) {
            for (int k = 0; k < s; k++) {
                embed(p.get("source_embedding.weight"), k < srcLen[i] ? src.get(i)[k] : 0, xs, (k * b + i) * E);
            }
            for (int k = 0; k < t; k++) {
                int input = k == 0 ? START : k - 1 < tgt.get(i).length ? tgt.get(i)[k - 1] : END;
                embed(p.get("target_embedding.weight"), input, xt, (k * b + i) * E);
            }
        }
        ReferenceRnn.Result e = ReferenceRnn.forward(enc, prefixed(p, "encoder."), xs, s, b, srcLen, null, null, true, 0);
        double[] h0 = new double[b * H], c0 = new double[b * H];
        for (int j = 0; j < b * H; j++) {   // SUM bridge: forward + reverse direction
            h0[j] = e.hN()[j] + e.hN()[b * H + j];
            c0[j] = e.cN()[j] + e.cN()[b * H + j];
        }
        ReferenceRnn.Result d = ReferenceRnn.forward(dec, prefixed(p, "decoder."), xt, t, b, tgtLen, h0, c0, true, 0);
        int he = 2 * H;
        double[] wa = p.get("attention_keys.weight"), wc = p.get("attention_combine.weight"), bc = p.get("attention_combine.bias");
        double[] wo = p.get("output.weight"), bo = p.get("output.bias");
        double sum = 0;
        int tokens = 0;
        for (int i = 0; i < b; i++) {
            double[][] keys = new double[srcLen[i]][];
            for (int k = 0; k < srcLen[i]; k++) {
                keys[k] = linear(wa, null, e.y(), (k * b + i) * he, he, H);
            }
            for (int step = 0; step < tgtLen[i]; step++) {
                int at = (step * b + i) * H;
                double[] score = new double[srcLen[i]];
                double max = Double.NEGATIVE_INFINITY;
                for (int k = 0; k < srcLen[i]; k++) {
                    for (int j = 0; j < H; j++) {
                        score[k] += d.y()[at + j] * keys[k][j];
                    }
                    max = Math.max(max, score[k]);
                }
                double z = 0;
                for (int k = 0; k < srcLen[i]; k++) {
                    score[k] = Math.exp(score[k] - max);
                    z += score[k];
                }
                double[] combined = new double[he + H];   // [context; h]
                for (int k = 0; k < srcLen[i]; k++) {
                    for (int j = 0; j < he; j++) {
                        combined[j] += score[k] / z * e.y()[(k * b + i) * he + j];
                    }
                }
                System.arraycopy(d.y(), at, combined, he, H);
                double[] features = linear(wc, bc, combined, 0, he + H, H);
                for (int j = 0; j < H; j++) {
                    features[j] = Math.tanh(features[j]);
                }
                double[] logits = linear(wo, bo, features, 0, H, VOCAB);
                int expected = step < tgt.get(i).length ? tgt.get(i)[step] : END;
                double m = Double.NEGATIVE_INFINITY, zl = 0;
                for (double l : logits) {
                    m = Math.max(m, l);
                }
                for (double l : logits) {
                    zl += Math.exp(l - m);
                }
                sum += m + Math.log(zl) - logits[expected];
                tokens++;
            }
        }
        return sum / tokens;
    }

    private static void embed(double[] table, int id, double[] into, int at) {
        System.arraycopy(table, id * E, into, at, E);
    }

    /** {@code W x + b} for {@code W [out, in]} (PyTorch's layout) and {@code x = v[at .. at + in)}. */
    private static double[] linear(double[] w, double[] bias, double[] v, int at, int in, int out) {
        double[] y = new double[out];
        for (int o = 0; o < out; o++) {
            double a = bias == null ? 0 : bias[o];
            for (int j = 0; j < in; j++) {
                a += w[o * in + j] * v[at + j];
            }
            y[o] = a;
        }
        return y;
    }

    private static Map<String, double[]> prefixed(Map<String, double[]> p, String prefix) {
        Map<String, double[]> out = new HashMap<>();
        p.forEach((k, v) -> {
            if (k.startsWith(prefix)) {
                out.put(k.substring(prefix.length()), v);
            }
        });
        return out;
    }
}
