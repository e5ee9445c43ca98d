package org.rnn4j.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.jna.Function;
import com.sun.jna.NativeLibrary;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.rnn4j.BackwardResult;
import org.rnn4j.Device;
import org.rnn4j.Devices;
import org.rnn4j.ForwardResult;
import org.rnn4j.Gru;
import org.rnn4j.Lstm;
import org.rnn4j.RecurrentLayer;
import org.rnn4j.Rnn;
import org.rnn4j.Tensor;

/**
 * CUDA graphs of the layers' time loops ({@code Engine.replayable}): a region seen once runs eagerly, the
 * second time it is captured, then replayed with one {@code cuGraphLaunch}; the results are the eager
 * path's bits, and the stand-in's counters show the graph path was taken (graph launches and graph nodes,
 * launches independent of the sequence length).
 */
class GraphsTest {

    private static CudaEngine engine() {
        CudaEngine e = engineOfLongLivedBuffers();
        // a graph is replayed where a region's buffers come back at the same addresses, as the caching pool
        // gives them; with every buffer its own allocation they do not
        assumeTrue(!"1".equals(System.getenv(CudaEngine.NO_CACHING_ENV)), "no pool caching: addresses never repeat");
        return e;
    }

    /** The engine with graphs on, for regions on buffers that live across calls (replayed with or without the pool's caching). */
    private static CudaEngine engineOfLongLivedBuffers() {
        String unusable = Devices.cudaUnusableReason();
        assumeTrue(unusable == null, () -> "no usable CUDA device: " + unusable);
        CudaEngine e = (CudaEngine) Device.cuda().engine();
        assumeTrue(e.graphsUnusableReason() == null, () -> "graphs not usable: " + e.graphsUnusableReason());
        e.setGraphsEnabled(true);   // the default (CudaEngine.GRAPHS_PROPERTY); a test may have turned them off
        e.setRecurrentAlgorithm("graph");   // the persistent kernel would take small-batch LSTMs
        return e;
    }

    @AfterEach
    void graphsBackToTheDefault() {
        if (Devices.cudaUnusableReason() == null) {
            ((CudaEngine) Device.cuda().engine()).setGraphsEnabled(true);
            ((CudaEngine) Device.cuda().engine()).setRecurrentAlgorithm("auto");
        }
    }

    private static long count(String name) {
        Function f;
        try {
            f = NativeLibrary.getInstance("libcuda.so.1").getFunction("rnn4j_standin_count");
        } catch (UnsatisfiedLinkError e) {
            assumeTrue(false, "not the stand-in driver: no counters");
            return 0;
        }
        return f.invokeLong(new Object[] {name});
    }

    /** One training step's outputs and gradients, copied to the host (StreamsTest's too). */
    static List<float[]> step(RecurrentLayer layer, Tensor x, int[] lengths, Tensor dY) {
        List<float[]> out = new ArrayList<>();
        layer.zeroGrad();
        try (ForwardResult r = layer.forward(x, lengths, null, null);
             BackwardResult g = layer.backward(r, dY, null, null)) {
            out.add(r.output().toHost());
            out.add(r.hN().toHost());
            out.add(g.dX().toHost());
            out.add(g.dh0().toHost());
            for (Map.Entry<String, Tensor> e : layer.gradients().entrySet()) {
                out.add(e.getValue().toHost());
            }
        }
        return out;
    }

    private static void sameBitsEagerAndReplayed(Supplier<RecurrentLayer> build, int steps, int batch, int in, int outF,
                                                 int[] lengths) {
        CudaEngine e = engine();
        Device gpu = Device.cuda();
        SplittableRandom r = new SplittableRandom(9);
        float[] xs = new float[steps * batch * in];
        float[] dys = new float[steps * batch * outF];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) r.nextDouble(-1, 1);
        }
        for (int i = 0; i < dys.length; i++) {
            dys[i] = (float) r.nextDouble(-1, 1);
        }
        try (RecurrentLayer layer = build.get();
             Tensor x = Tensor.of(gpu, xs, steps, batch, in); Tensor dY = Tensor.of(gpu, dys, steps, batch, outF)) {
            layer.train();
            e.setGraphsEnabled(false);
            List<float[]> eager = step(layer, x, lengths, dY);
            e.setGraphsEnabled(true);
            long launches = count("cuGraphLaunch");
            for (int i = 0; i < 3; i++) {   // seen, captured and launched, replayed
                List<float[]> graphed = step(layer, x, lengths, dY);
                for (int k = 0; k < eager.size(); k++) {
                    assertArrayEquals(eager.get(k), graphed.get(k), layer + ": result " + k + " of step " + i);
                }
            }
            assertTrue(count("cuGraphLaunch") > launches, "the graph path was taken");
            // new data in the same buffers: the replay reads it (graphs hold pointers, not values)
            for (int i = 0; i < xs.length; i++) {
                xs[i] = -0.5f * xs[i] + 0.25f;
            }
            x.copyFrom(xs);
            long before = count("cuGraphLaunch");
            List<float[]> replayed = step(layer, x, lengths, dY);
            assertTrue(count("cuGraphLaunch") > before, "replayed on new data");
            e.setGraphsEnabled(false);
            List<float[]> eagerAgain = step(layer, x, lengths, dY);
            for (int k = 0; k < eagerAgain.size(); k++) {
                assertArrayEquals(eagerAgain.get(k), replayed.get(k), layer + ": result " + k + " on new data");
            }
        }
    }

    @Test
    void aBidirectionalLstmWithLengthsReplaysTheEagerBits() {
        sameBitsEagerAndReplayed(() -> Lstm.builder(5, 7).bidirectional(true).numLayers(2).seed(1).build(Device.cuda()),
                6, 3, 5, 14, new int[] {6, 2, 4});
    }

    @Test
    void projectedPeepholeLstmAndBothGrusAndTheRnnReplayTheEagerBits() {
        sameBitsEagerAndReplayed(() -> Lstm.builder(4, 6).projSize(3).peepholes(true).seed(2).build(Device.cuda()),
                5, 2, 4, 3, null);
        sameBitsEagerAndReplayed(() -> Gru.builder(4, 6).seed(3).build(Device.cuda()), 5, 2, 4, 6, new int[] {5, 3});
        sameBitsEagerAndReplayed(() -> Gru.builder(4, 6).resetAfter(false).seed(4).build(Device.cuda()), 5, 2, 4, 6, null);
        sameBitsEagerAndReplayed(() -> Rnn.reluBuilder(4, 6).seed(5).build(Device.cuda()), 5, 2, 4, 6, null);
    }

    /** Calls of a replayed training step: {graph launches, kernel launches, graph nodes run}. */
    private static long[] replayedStep(int steps) {
        Device gpu = Device.cuda();
        try (RecurrentLayer layer = Lstm.builder(4, 8).seed(3).build(gpu);
             Tensor x = Tensor.zeros(gpu, steps, 2, 4); Tensor dY = Tensor.zeros(gpu, steps, 2, 8)) {
            layer.train();
            for (int i = 0; i < 2; i++) {
                step(layer, x, null, dY);
            }
            long[] before = {count("cuGraphLaunch"), count("cuLaunchKernel"), count("graph nodes")};
            step(layer, x, null, dY);
            return new long[] {count("cuGraphLaunch") - before[0], count("cuLaunchKernel") - before[1],
                count("graph nodes") - before[2]};
        }
    }

    @Test
    void aReplayedStepIsTwoGraphLaunchesAndItsLaunchesDoNotGrowWithTheSequence() {
        engine();
        long[] short4 = replayedStep(4);
        long[] long12 = replayedStep(12);
        assertEquals(2, short4[0], "graph launches: the forward and the backward time loop");
        assertEquals(2, long12[0], "graph launches");
        assertEquals(short4[1], long12[1], "eager launches do not grow with the sequence");
        assertEquals(4 * 8, long12[2] - short4[2], "graph nodes: a GEMM and a cell per step, forward and backward");
    }

    /**
     * Another thread's work while a region is captured runs at once on the engine's stream and is not part of
     * the graph: the capture is on a stream only the capturing thread uses.
     */
    @Test
    void aCaptureRecordsOnlyItsOwnThreadsWork() throws Exception {
        CudaEngine e = engine();
        int n = 64;
        java.util.concurrent.CountDownLatch inCapture = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch otherDone = new java.util.concurrent.CountDownLatch(1);
        boolean[] pause = {false};
        try (org.rnn4j.engine.Buffer mine = e.allocate(org.rnn4j.DType.F32, n);
             org.rnn4j.engine.Buffer theirs = e.allocate(org.rnn4j.DType.F32, n)) {
            Runnable region = () -> {
                e.fill(mine, 0, n, 2f);
                if (pause[0]) {
                    pause[0] = false;
                    inCapture.countDown();
                    try {
                        otherDone.await();
                    } catch (InterruptedException ie) {
                        throw new IllegalStateException(ie);
                    }
                }
            };
            Object shape = List.of("test region", n);
            org.rnn4j.engine.Buffer[] used = {mine};
            e.replayable(shape, used, region);   // seen once: eager
            pause[0] = true;
            float[][] seen = new float[1][];
            Throwable[] failed = new Throwable[1];
            Thread other = new Thread(() -> {
                try {
                    inCapture.await();
                    e.fill(theirs, 0, n, 5f);
                    seen[0] = new float[n];
                    e.download(theirs, 0, seen[0], 0, n);
                } catch (Throwable t) {
                    failed[0] = t;
                } finally {
                    otherDone.countDown();
                }
            }, "other-user");
            other.start();
            long captures = count("cuStreamBeginCapture_v2");
            long launches = count("cuGraphLaunch");
            e.replayable(shape, used, region);   // captured (the other thread fills and reads meanwhile), then launched
            other.join();
            assertEquals(null, failed[0], "the other thread's calls during the capture");
            assertEquals(captures + 1, count("cuStreamBeginCapture_v2"), "captured");
            float[] fives = new float[n];
            java.util.Arrays.fill(fives, 5f);
            assertArrayEquals(fives, seen[0], "the other thread's fill ran, not captured");
            e.fill(theirs, 0, n, 7f);
            e.replayable(shape, used, region);   // replayed: its graph must not hold the other thread's fill
            assertEquals(launches + 2, count("cuGraphLaunch"), "launched after the capture, then replayed");
            float[] back = new float[n];
            e.download(theirs, 0, back, 0, n);
            float[] sevens = new float[n];
            java.util.Arrays.fill(sevens, 7f);
            assertArrayEquals(sevens, back, "the replay left the other thread's buffer alone");
            e.download(mine, 0, back, 0, n);
            float[] twos = new float[n];
            java.util.Arrays.fill(twos, 2f);
            assertArrayEquals(twos, back, "the graph's own work");
        }
    }

    /**
     * A region of one shape on more buffer sets than {@link CudaEngine#MAX_GRAPHS_PER_SHAPE}: the first sets are
     * instantiated, the later ones move the least recent graph to their pointers ({@code cuGraphExecUpdate_v2}), and
     * every replay writes where its own call says, never where the graph was first captured.
     */
    @Test
    void newPointersUpdateAnInstantiatedGraph() {
        CudaEngine e = engine();
        int rows = 3;
        int cols = 5;
        int sets = CudaEngine.MAX_GRAPHS_PER_SHAPE + 2;
        float[] values = new float[rows * cols];
        for (int i = 0; i < values.length; i++) {
            values[i] = i + 0.5f;
        }
        float[] zeros = new float[rows * cols];
        Object shape = List.of("copy rows", rows, cols);
        List<org.rnn4j.engine.Buffer> dsts = new ArrayList<>();
        try (org.rnn4j.engine.Buffer src = e.allocate(org.rnn4j.DType.F32, rows * cols)) {
            e.upload(values, 0, src, 0, values.length);
            for (int i = 0; i < sets; i++) {
                dsts.add(e.allocate(org.rnn4j.DType.F32, rows * cols));
            }
            long instantiated = count("cuGraphInstantiateWithFlags");
            long updated = count("cuGraphExecUpdate_v2");
            long launches = count("cuGraphLaunch");
            for (org.rnn4j.engine.Buffer dst : dsts) {
                for (int sighting = 0; sighting < 3; sighting++) {   // eager, captured, replayed
                    e.upload(zeros, 0, dst, 0, zeros.length);
                    e.replayable(shape, new org.rnn4j.engine.Buffer[] {src, dst},
                            () -> e.copyRows(rows, cols, src, 0, cols, dst, 0, cols, false));
                    float[] back = new float[rows * cols];
                    e.download(dst, 0, back, 0, back.length);
                    assertArrayEquals(values, back, "buffer set " + dsts.indexOf(dst) + ", sighting " + sighting);
                }
            }
            assertEquals(CudaEngine.MAX_GRAPHS_PER_SHAPE, count("cuGraphInstantiateWithFlags") - instantiated,
                    "instantiations: one per buffer set up to the per-shape bound");
            assertEquals(sets - CudaEngine.MAX_GRAPHS_PER_SHAPE, count("cuGraphExecUpdate_v2") - updated,
                    "updates: the buffer sets beyond it");
            assertEquals(2L * sets, count("cuGraphLaunch") - launches, "launched after each capture, then replayed");
            // the updated graphs write only where their last capture said: the first set's graph went to another set
            for (org.rnn4j.engine.Buffer dst : dsts) {
                e.upload(zeros, 0, dst, 0, zeros.length);
            }
            org.rnn4j.engine.Buffer last = dsts.get(sets - 1);
            e.replayable(shape, new org.rnn4j.engine.Buffer[] {src, last},
                    () -> e.copyRows(rows, cols, src, 0, cols, last, 0, cols, false));
            for (int i = 0; i < sets; i++) {
                float[] back = new float[rows * cols];
                e.download(dsts.get(i), 0, back, 0, back.length);
                assertArrayEquals(i == sets - 1 ? values : zeros, back, "buffer set " + i + " after replaying the last");
            }
        } finally {
            for (org.rnn4j.engine.Buffer d : dsts) {
                d.close();
            }
        }
    }

    /**
     * A region whose buffer moved (a new one allocated, the old one freed) is not replayed on the old pointer:
     * every buffer is part of the key, so it runs on the new one.
     */
    @Test
    void aGraphIsNeverReplayedOnABufferFreedSinceItsCapture() {
        CudaEngine e = engine();
        int n = 32;
        Object shape = List.of("copy rows", 1, n);
        try (org.rnn4j.engine.Buffer dst = e.allocate(org.rnn4j.DType.F32, n)) {
            org.rnn4j.engine.Buffer first = e.allocate(org.rnn4j.DType.F32, n);
            e.fill(first, 0, n, 1f);
            for (int i = 0; i < 3; i++) {   // eager, captured, replayed
                e.replayable(shape, new org.rnn4j.engine.Buffer[] {first, dst},
                        () -> e.copyRows(1, n, first, 0, n, dst, 0, n, false));
            }
            try (org.rnn4j.engine.Buffer moved = e.allocate(org.rnn4j.DType.F32, n)) {
                e.fill(moved, 0, n, 2f);
                first.close();
                e.replayable(shape, new org.rnn4j.engine.Buffer[] {moved, dst},
                        () -> e.copyRows(1, n, moved, 0, n, dst, 0, n, false));
                float[] back = new float[n];
                e.download(dst, 0, back, 0, n);
                float[] twos = new float[n];
                java.util.Arrays.fill(twos, 2f);
                assertArrayEquals(twos, back, "copied from the buffer passed, not the freed one");
            }
        }
    }

    /**
     * Threads training their own layers on the one shared engine, with graphs: each gets its single-threaded eager
     * bits. A region replays where its buffers come back at the same addresses, and with threads sharing the pool
     * that depends on their interleaving, so a round may replay nothing: rounds repeat, each checked bit for bit,
     * until one has taken the graph path (almost always the first).
     */
    @Test
    void threadsSharingTheEngineGetTheEagerBits() throws Exception {
        CudaEngine e = engine();
        int threads = 3;
        int steps = 5;
        List<List<float[]>> eager = new ArrayList<>();
        e.setGraphsEnabled(false);
        for (int t = 0; t < threads; t++) {
            eager.add(trainedBits(t, steps));
        }
        e.setGraphsEnabled(true);
        long replays = 0;
        for (int round = 0; round < 8 && replays == 0; round++) {
            long launches = count("cuGraphLaunch");
            List<List<float[]>> shared = concurrentlyTrainedBits(threads, steps);
            replays = count("cuGraphLaunch") - launches;
            for (int t = 0; t < threads; t++) {
                for (int k = 0; k < eager.get(t).size(); k++) {
                    assertArrayEquals(eager.get(t).get(k), shared.get(t).get(k),
                            "round " + round + ", thread " + t + ", result " + k);
                }
            }
        }
        assertTrue(replays > 0, "the graph path was taken in one of 8 rounds");
    }

    /** {@link #trainedBits} of seeds 0 to {@code threads - 1}, each on its own thread, all at once. */
    private static List<List<float[]>> concurrentlyTrainedBits(int threads, int steps) throws InterruptedException {
        List<List<float[]>> shared = new ArrayList<>();
        List<Throwable> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        List<Thread> running = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            int seed = t;
            shared.add(null);
            Thread th = new Thread(() -> {
                try {
                    List<float[]> bits = trainedBits(seed, steps);
                    synchronized (shared) {
                        shared.set(seed, bits);
                    }
                } catch (Throwable x) {
                    failures.add(x);
                }
            }, "trainer-" + t);
            running.add(th);
            th.start();
        }
        for (Thread th : running) {
            th.join();
        }
        assertEquals(List.of(), failures, "failures on the trainer threads");
        return shared;   // join: every trainer's write is visible
    }

    /** A layer of {@code seed} after {@code steps} training steps (plain SGD on its gradients): its last step's results and weights. */
    private static List<float[]> trainedBits(int seed, int steps) {
        Device gpu = Device.cuda();
        SplittableRandom r = new SplittableRandom(seed);
        float[] xs = new float[6 * 3 * 5];
        float[] dys = new float[6 * 3 * 7];
        for (int i = 0; i < xs.length; i++) {
            xs[i] = (float) r.nextDouble(-1, 1);
        }
        for (int i = 0; i < dys.length; i++) {
            dys[i] = (float) r.nextDouble(-1, 1);
        }
        try (RecurrentLayer layer = Gru.builder(5, 7).seed(seed).build(gpu);
             Tensor x = Tensor.of(gpu, xs, 6, 3, 5); Tensor dY = Tensor.of(gpu, dys, 6, 3, 7)) {
            layer.train();
            List<float[]> last = null;
            for (int s = 0; s < steps; s++) {
                last = step(layer, x, new int[] {6, 4, 2}, dY);
                for (Map.Entry<String, Tensor> p : layer.parameters().entrySet()) {
                    float[] w = p.getValue().toHost();
                    float[] g = layer.gradients().get(p.getKey()).toHost();
                    for (int i = 0; i < w.length; i++) {
                        w[i] -= 0.1f * g[i];
                    }
                    layer.setParameter(p.getKey(), w);
                }
            }
            for (Tensor p : layer.parameters().values()) {
                last.add(p.toHost());
            }
            return last;
        }
    }

    /**
     * An optimizer step with clipping (the fit loop's) is one replayable region: after two steps each step is one
     * graph launch and no eager kernel launch, and a replay uses the current step's
     * learning rate and bias corrections (written to device memory before the launch, never baked into the graph),
     * so the parameters are the eager path's bits at every step of a changing learning rate.
     */
    @Test
    void anOptimizerStepWithClippingIsOneGraphLaunchAndReplaysEachStepsValues() {
        CudaEngine e = engineOfLongLivedBuffers();   // parameters, gradients and optimizer state live across steps
        for (boolean adam : new boolean[] {true, false}) {
            e.setGraphsEnabled(false);
            List<float[]> eager = optimizerSteps(adam, null);
            e.setGraphsEnabled(true);
            long[] perStep = new long[2];
            List<float[]> graphed = optimizerSteps(adam, perStep);
            for (int k = 0; k < eager.size(); k++) {
                assertArrayEquals(eager.get(k), graphed.get(k), (adam ? "Adam" : "SGD") + ": parameters after step " + k);
            }
            assertEquals(1, perStep[0], "graph launches of a replayed step");
            assertEquals(0, perStep[1], "eager launches of a replayed step (the finite check's reductions are nodes too)");
        }
    }

    /**
     * Eight steps of Adam (or SGD with momentum) with clipping on three tensors, the learning rate changed before
     * each: the parameters after each step; {@code perStep} (when given) gets the graph launches and the eager
     * kernel launches of the last step.
     */
    private static List<float[]> optimizerSteps(boolean adam, long[] perStep) {
        Device gpu = Device.cuda();
        List<Tensor> params = new ArrayList<>();
        List<Tensor> grads = new ArrayList<>();
        SplittableRandom r = new SplittableRandom(17);
        int[] sizes = {300, 7, 40};
        for (int n : sizes) {
            float[] w = new float[n];
            for (int i = 0; i < n; i++) {
                w[i] = (float) r.nextDouble(-1, 1);
            }
            params.add(Tensor.of(gpu, w, n));
            grads.add(Tensor.zeros(gpu, n));
        }
        org.rnn4j.HasParameters module = new org.rnn4j.HasParameters() {
            @Override
            public Map<String, Tensor> parameters() {
                return named(params);
            }

            @Override
            public Map<String, Tensor> gradients() {
                return named(grads);
            }
        };
        List<float[]> out = new ArrayList<>();
        try (org.rnn4j.train.Optimizer opt = adam ? new org.rnn4j.train.Adam(List.of(module), 0.01)
                : new org.rnn4j.train.Sgd(List.of(module), 0.1, 0.9, 0.01, false)) {
            opt.setGlobalClipNorm(0.5);
            for (int step = 0; step < 8; step++) {
                for (Tensor g : grads) {
                    float[] v = new float[(int) g.size()];
                    for (int i = 0; i < v.length; i++) {
                        v[i] = (float) r.nextDouble(-1, 1) * (step % 3 == 2 ? 0.001f : 1f);   // some steps below the norm
                    }
                    g.copyFrom(v);
                }
                opt.setLearningRate(0.01 * (1 + step));
                long graphs = count("cuGraphLaunch");
                long launches = count("cuLaunchKernel");
                opt.step();
                if (perStep != null) {
                    perStep[0] = count("cuGraphLaunch") - graphs;
                    perStep[1] = count("cuLaunchKernel") - launches;
                }
                for (Tensor p : params) {
                    out.add(p.toHost());
                }
            }
        } finally {
            params.forEach(Tensor::close);
            grads.forEach(Tensor::close);
        }
        return out;
    }

    /** {@code p0, p1, ...} for the tensors in order. */
    private static Map<String, Tensor> named(List<Tensor> tensors) {
        Map<String, Tensor> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i < tensors.size(); i++) {
            m.put("p" + i, tensors.get(i));
        }
        return m;
    }

    @Test
    void turnedOffNothingIsCapturedOrReplayed() {
        CudaEngine e = engine();
        e.setGraphsEnabled(false);
        long launches = count("cuGraphLaunch");
        long captures = count("cuStreamBeginCapture_v2");
        replayedStep(4);
        assertEquals(launches, count("cuGraphLaunch"), "graph launches with graphs off");
        assertEquals(captures, count("cuStreamBeginCapture_v2"), "captures with graphs off");
    }
}
