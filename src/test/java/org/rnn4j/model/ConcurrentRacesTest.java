package org.rnn4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.rnn4j.BackwardResult;
import org.rnn4j.Device;
import org.rnn4j.ForwardResult;
import org.rnn4j.Lstm;
import org.rnn4j.RecurrentLayer;
import org.rnn4j.Tensor;
import org.rnn4j.train.Embedding;
import org.rnn4j.train.Linear;
import org.rnn4j.train.Optimizer;
import org.rnn4j.train.Sgd;

/**
 * Races the first guard missed, each run {@value #TRIALS} times with both threads released by one barrier:
 * every trial either refuses (an IllegalStateException naming the threads or the written parameters) or
 * gives exactly the answer of some order of the two calls, one after the other.
 */
class ConcurrentRacesTest {
    private static final int TRIALS = 40;
    private final Device cpu = Device.cpu();

    /** Runs {@code a} and {@code b} on two threads released together; returns what each threw (or null). */
    private static Throwable[] race(Runnable a, Runnable b) throws InterruptedException {
        CyclicBarrier start = new CyclicBarrier(2);
        Throwable[] thrown = new Throwable[2];
        Runnable[] work = {a, b};
        Thread[] threads = new Thread[2];
        for (int i = 0; i < 2; i++) {
            int k = i;
            threads[i] = new Thread(() -> {
                try {
                    start.await();
                    work[k].run();
                } catch (Throwable t) {
                    thrown[k] = t;
                }
            }, "racer-" + (char) ('a' + i));
            threads[i].start();
        }
        for (Thread t : threads) {
            t.join();
        }
        for (Throwable t : thrown) {
            if (t != null && !(t instanceof IllegalStateException)) {
                throw new AssertionError("expected no error or an IllegalStateException, got " + t, t);
            }
        }
        return thrown;
    }

    private static float[] uniform(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextDouble(-1, 1);
        }
        return v;
    }

    private static Map<String, float[]> host(Map<String, Tensor> ts) {
        Map<String, float[]> out = new LinkedHashMap<>();
        ts.forEach((k, v) -> out.put(k, v.toHost()));
        return out;
    }

    private static Map<String, float[]> gradsOf(RecurrentLayer layer, float[] w, Tensor x) {
        layer.setParameter("weight_hh_l0", w);
        layer.zeroGrad();
        try (ForwardResult f = layer.forward(x); BackwardResult b = layer.backward(f, f.output(), null, null)) {
            return host(layer.gradients());
        }
    }

    @Test
    void aWriteDuringForwardIsNeverBackpropagated() throws InterruptedException {
        SplittableRandom r = new SplittableRandom(1);
        try (RecurrentLayer layer = Lstm.builder(16, 32).seed(2).build(cpu);
             Tensor x = Tensor.of(cpu, uniform(r, 60 * 8 * 16), 60, 8, 16)) {
            float[] w0 = layer.parameters().get("weight_hh_l0").toHost();
            float[] w1 = uniform(r, w0.length);
            Map<String, float[]> withW1 = gradsOf(layer, w1, x);
            int accepted = 0;
            for (int trial = 0; trial < TRIALS; trial++) {
                layer.setParameter("weight_hh_l0", w0);
                layer.zeroGrad();
                AtomicReference<ForwardResult> fwd = new AtomicReference<>();
                Throwable[] t = race(() -> fwd.set(layer.forward(x)),
                        () -> layer.parameters().get("weight_hh_l0").copyFrom(w1));
                if (t[0] != null) {
                    assertTrue(t[0].getMessage().contains("weight_hh_l0"), t[0].getMessage());
                    continue;
                }
                try (ForwardResult f = fwd.get()) {
                    try (BackwardResult b = layer.backward(f, f.output(), null, null)) {
                        accepted++;
                    } catch (IllegalStateException refused) {
                        continue;
                    }
                }
                // accepted: the write came before the forward, which then ran on w1 throughout
                Map<String, float[]> got = host(layer.gradients());
                int tr = trial;
                withW1.forEach((k, v) -> assertArrayEquals(v, got.get(k), 0f, "trial " + tr + ": " + k));
            }
            assertTrue(accepted < TRIALS, "every trial wrote before the forward: the race was not run");
        }
    }

    @Test
    void aWriteDuringBackwardIsRefusedAndTheResultSpent() throws InterruptedException {
        SplittableRandom r = new SplittableRandom(2);
        try (RecurrentLayer layer = Lstm.builder(16, 32).seed(2).build(cpu);
             Tensor x = Tensor.of(cpu, uniform(r, 60 * 8 * 16), 60, 8, 16)) {
            float[] w0 = layer.parameters().get("weight_hh_l0").toHost();
            float[] w1 = uniform(r, w0.length);
            Map<String, float[]> withW0 = gradsOf(layer, w0, x);
            for (int trial = 0; trial < TRIALS; trial++) {
                layer.setParameter("weight_hh_l0", w0);
                layer.zeroGrad();
                try (ForwardResult f = layer.forward(x)) {
                    Throwable[] t = race(() -> layer.backward(f, f.output(), null, null).close(),
                            () -> layer.parameters().get("weight_hh_l0").copyFrom(w1));
                    if (t[0] != null) {
                        assertTrue(t[0].getMessage().contains("weight_hh_l0"), t[0].getMessage());
                        // spent: a retry is refused rather than adding (mixed) gradients again
                        assertThrows(IllegalStateException.class, () -> layer.backward(f, f.output(), null, null));
                        continue;
                    }
                }
                // accepted: the write came after the backward, which ran on w0 throughout
                Map<String, float[]> got = host(layer.gradients());
                int tr = trial;
                withW0.forEach((k, v) -> assertArrayEquals(v, got.get(k), 0f, "trial " + tr + ": " + k));
            }
        }
    }

    @Test
    void zeroGradOfAnOptimizerNeverTearsTheGradients() throws InterruptedException {
        SplittableRandom r = new SplittableRandom(3);
        try (RecurrentLayer layer = Lstm.builder(16, 32).seed(2).build(cpu);
             Tensor x = Tensor.of(cpu, uniform(r, 40 * 8 * 16), 40, 8, 16);
             Optimizer opt = new Sgd(List.of(layer), 0.1)) {
            Map<String, float[]> once = gradsOf(layer, layer.parameters().get("weight_hh_l0").toHost(), x);
            try (ForwardResult f = layer.forward(x)) {
                layer.backward(f, f.output(), null, null).close();
            }
            Map<String, float[]> twice = host(layer.gradients());
            for (int trial = 0; trial < TRIALS; trial++) {
                layer.zeroGrad();
                try (ForwardResult f = layer.forward(x)) {
                    layer.backward(f, f.output(), null, null).close();   // gradients = once
                }
                race(() -> {
                    try (ForwardResult f = layer.forward(x)) {
                        layer.backward(f, f.output(), null, null).close();
                    }
                }, opt::zeroGrad);
                // in some order, one after the other: every gradient is 0, once or twice `once`, all alike
                Map<String, float[]> got = host(layer.gradients());
                float[] probe = got.get("weight_hh_l0");
                float[] first = once.get("weight_hh_l0");
                float factor = probe[0] == 0 && first[0] != 0 ? 0 : Math.round(probe[0] / first[0]);
                int tr = trial;
                once.forEach((k, v) -> assertArrayEquals(factor == 0 ? new float[v.length] : factor == 1 ? v : twice.get(k),
                        got.get(k), 0f, "trial " + tr + ": " + k + " (x" + factor + ")"));
            }
        }
    }

    @Test
    void twoThreadsInOneEmbeddingNeverLoseAnUpdate() throws InterruptedException {
        SplittableRandom r = new SplittableRandom(4);
        int[] ids = r.ints(100_000, 0, 50).toArray();
        try (Embedding e = new Embedding(50, 16, 1, cpu); Tensor d = Tensor.of(cpu, uniform(r, 100_000 * 16), 100_000, 16)) {
            e.backward(ids, d);
            float[] once = e.gradients().get("weight").toHost();
            e.backward(ids, d);
            float[] twice = e.gradients().get("weight").toHost();
            for (int trial = 0; trial < TRIALS; trial++) {
                e.zeroGrad();
                Throwable[] t = race(() -> e.backward(ids, d), () -> e.backward(ids, d));
                int done = (t[0] == null ? 1 : 0) + (t[1] == null ? 1 : 0);
                float[] want = done == 2 ? twice : once;
                assertArrayEquals(want, e.gradients().get("weight").toHost(), 0f, "trial " + trial + ", " + done + " done");
            }
        }
    }

    @Test
    void predictBesideTrainOnBatchIsRefusedOrInInferenceMode() throws InterruptedException {
        SequenceDataset data = TaskData.majority(64, 6, 1);
        try (SequenceModel m = SequenceModel.builder(Task.CLASSIFICATION).embedding(6, 8)
                .recurrent(Lstm.builder(8, 16).numLayers(2).dropout(0.5).seed(3)).dropout(0.5).outputs(2).seed(4).build(cpu)) {
            List<float[][]> want = m.predict(data, 4);
            for (int trial = 0; trial < TRIALS; trial++) {
                AtomicReference<List<float[][]>> got = new AtomicReference<>();
                int seed = trial;
                Throwable[] t = race(() -> got.set(m.predict(data, 4)), () -> m.trainOnBatch(data, seed));
                if (t[0] != null || t[1] != null) {
                    Throwable e = t[0] != null ? t[0] : t[1];
                    assertTrue(e.getMessage().contains("racer-a") && e.getMessage().contains("racer-b"), e.getMessage());
                }
                if (got.get() != null) {
                    for (int i = 0; i < want.size(); i++) {
                        assertArrayEquals(want.get(i)[0], got.get().get(i)[0], 0f, "trial " + trial + " sequence " + i);
                    }
                }
            }
        }
    }

    @Test
    void linearBackwardRefusesWeightsWrittenSinceForward() {
        try (Linear lin = new Linear(3, 2, true, 1, cpu);
             Tensor x = Tensor.of(cpu, new float[] {1, 2, 3}, 1, 3);
             Tensor dy = Tensor.of(cpu, new float[] {1, 1}, 1, 2);
             Tensor y = lin.forward(x)) {
            lin.parameters().get("weight").copyFrom(new float[] {1, 1, 1, 1, 1, 1});
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> lin.backward(x, dy));
            assertTrue(e.getMessage().contains("Run forward again"), e.getMessage());
            lin.forward(x).close();
            lin.backward(x, dy).close();
        }
    }
}
