package org.rnn4j.demo;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.rnn4j.Device;
import org.rnn4j.HasParameters;
import org.rnn4j.Tensor;

/**
 * A learned embedding table, PyTorch's {@code nn.Embedding}: {@code weight [V, E]}, initialised
 * N(0, 1) from a seed. Forward gathers one row per token id and backward scatter-adds the output
 * gradient into the rows (the engine's gatherRows / scatterAddRows), so the table and its gradient
 * stay on the device; only the token ids are uploaded.
 */
public final class Embedding implements HasParameters, AutoCloseable {

    private final int vocab;
    private final int dim;
    private final Device device;
    private final Tensor weight;
    private final Tensor grad;

    public Embedding(int vocab, int dim, long seed, Device device) {
        if (vocab < 1 || dim < 1) {
            throw new IllegalArgumentException("vocab, dim: expected >= 1, got " + vocab + ", " + dim);
        }
        this.vocab = vocab;
        this.dim = dim;
        this.device = device;
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] w = new float[vocab * dim];
        for (int i = 0; i < w.length; i++) {
            // Box-Muller: N(0, 1) as nn.Embedding
            double u = 1.0 - rnd.nextDouble();
            double v = rnd.nextDouble();
            w[i] = (float) (Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
        }
        this.weight = Tensor.of(device, w, vocab, dim);
        this.grad = Tensor.zeros(device, vocab, dim);
    }

    public int vocabSize() {
        return vocab;
    }

    public int dim() {
        return dim;
    }

    /** {@code out[t, b, :] = weight[ids[t·B + b], :]}, shape {@code [T, B, E]}; the caller closes it. */
    public Tensor forward(int[] ids, int steps, int batch) {
        check(ids, steps, batch);
        Tensor out = Tensor.zeros(device, steps, batch, dim);
        try (Tensor idx = Tensor.ofInts(device, ids, ids.length)) {
            device.engine().gatherRows(ids.length, dim, idx.buffer(), 0, weight.buffer(), 0, out.buffer(), 0);
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return out;
    }

    /** {@code grad[ids[i], :] += dOut[i, :]} for every position, in order (gradients accumulate). */
    public void backward(int[] ids, Tensor dOut) {
        try (Tensor idx = Tensor.ofInts(device, ids, ids.length)) {
            device.engine().scatterAddRows(ids.length, dim, idx.buffer(), 0, dOut.buffer(), 0, grad.buffer(), 0);
        }
    }

    private void check(int[] ids, int steps, int batch) {
        if (ids.length != steps * batch) {
            throw new IllegalArgumentException("ids: expected " + steps * batch + " ids for [" + steps + ", "
                    + batch + "], got " + ids.length);
        }
        for (int id : ids) {
            if (id < 0 || id >= vocab) {
                throw new IllegalArgumentException("ids: expected ids in [0, " + vocab + "), got " + id);
            }
        }
    }

    @Override
    public Map<String, Tensor> parameters() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("weight", weight);
        return Collections.unmodifiableMap(m);
    }

    @Override
    public Map<String, Tensor> gradients() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("weight", grad);
        return Collections.unmodifiableMap(m);
    }

    @Override
    public void close() {
        weight.close();
        grad.close();
    }
}
