package org.rnn4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.rnn4j.cuda.AlgorithmChoice;
import org.rnn4j.cuda.CudaEngine;

/**
 * The CUDA engine against the CPU engine on random configurations of every cell and option, odd sizes
 * (hidden 1, 5, 33, 257; batch 1, 3), per-sample lengths, stacked and bidirectional: outputs, final
 * states (training and inference), dX, dh0, dc0 and every parameter gradient. Tolerance: relative L2 error ≤ 1e-4 per tensor,
 * and every element within atol 1e-4·max|cpu| + rtol 1e-3. Each case runs on CUDA with the configured recurrent
 * algorithm ({@value AlgorithmChoice#PROPERTY}, by default the engine's choice: at these batches the persistent
 * kernel where it covers the cell) and, where a loop ran persistent, again with the standard per-step path
 * forced, so that both stay checked. Skipped, with the reason, without a usable GPU.
 */
class GpuParityTest {
    private static String unusable;

    @BeforeAll
    static void probe() {
        unusable = Devices.cudaUnusableReason();
    }

    private static Device gpu() {
        assumeTrue(unusable == null, () -> "no usable CUDA device: " + unusable);
        return Device.cuda();
    }

    record Case(String name, RecurrentConfig config, int steps, int batch, boolean lengths, boolean states) {
        @Override
        public String toString() {
            return name + " " + config + " T=" + steps + " B=" + batch + (lengths ? " lengths" : "")
                    + (states ? " h0" : "");
        }
    }

    static List<Arguments> cases() {
        int[] hiddens = {1, 5, 33, 257};
        int[] batches = {1, 3};
        List<Function<Integer, RecurrentConfig.Builder<?>>> cells = List.of(
                h -> Rnn.builder(7, h),
                h -> Rnn.reluBuilder(7, h),
                h -> Lstm.builder(7, h),
                h -> Lstm.builder(7, h).peepholes(true).cellClip(0.6),
                h -> Lstm.builder(7, h).coupledInputForget(true).unitForgetBias(true),
                h -> Lstm.builder(7, h + 1).projSize(Math.max(1, h / 2)),
                h -> Gru.builder(7, h),
                h -> Gru.builder(7, h).resetAfter(false));
        List<Arguments> out = new ArrayList<>();
        SplittableRandom r = new SplittableRandom(77);
        for (int c = 0; c < cells.size(); c++) {
            for (int v = 0; v < 4; v++) {
                int h = hiddens[(c + v) % hiddens.length];
                int b = batches[v % 2];
                RecurrentConfig cfg = cells.get(c).apply(h)
                        .numLayers(1 + v % 2).bidirectional(v >= 2).batchFirst(v == 3).bias(v != 1)
                        .seed(r.nextLong()).config();
                out.add(Arguments.of(new Case("case" + c + "." + v, cfg, 2 + r.nextInt(9), b, v != 0, v % 2 == 1)));
            }
        }
        return out;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void cudaMatchesCpu(Case c) {
        Device gpu = gpu();
        RecurrentConfig cfg = c.config();
        SplittableRandom r = new SplittableRandom(cfg.seed());
        int steps = c.steps();
        int batch = c.batch();
        int[] lengths = null;
        if (c.lengths()) {
            lengths = new int[batch];
            for (int b = 0; b < batch; b++) {
                lengths[b] = b == batch - 1 ? steps : 1 + r.nextInt(steps);
            }
        }
        int states = cfg.numLayers() * cfg.directions();
        int[] xShape = cfg.batchFirst() ? new int[] {batch, steps, cfg.inputSize()} : new int[] {steps, batch, cfg.inputSize()};
        int[] yShape = cfg.batchFirst() ? new int[] {batch, steps, cfg.outputSize()} : new int[] {steps, batch, cfg.outputSize()};
        float[] x = random(r, steps * batch * cfg.inputSize());
        float[] h0 = c.states() ? random(r, states * batch * cfg.stateSize()) : null;
        float[] c0 = c.states() && cfg.cell() == CellType.LSTM ? random(r, states * batch * cfg.hiddenSize()) : null;
        float[] dy = random(r, steps * batch * cfg.outputSize());
        float[] dh = random(r, states * batch * cfg.stateSize());
        float[] dc = cfg.cell() == CellType.LSTM ? random(r, states * batch * cfg.hiddenSize()) : null;

        Run cpu = run(Device.cpu(), cfg, xShape, yShape, x, lengths, h0, c0, dy, dh, dc, states, batch);
        CudaEngine engine = (CudaEngine) gpu.engine();
        String configured = System.getProperty(AlgorithmChoice.PROPERTY, "auto");
        engine.setRecurrentAlgorithm(configured);   // forgets the choices of earlier cases: the report is this case's
        Run cuda = run(gpu, cfg, xShape, yShape, x, lengths, h0, c0, dy, dh, dc, states, batch);
        for (Map.Entry<String, float[]> e : cpu.values().entrySet()) {
            Close.assertParity(c + " " + e.getKey(), e.getValue(), cuda.values().get(e.getKey()));
        }
        if (engine.recurrentAlgorithms().contains(": persistent (")) {
            engine.setRecurrentAlgorithm("standard");   // the per-step path, which a persistent choice left unchecked
            try {
                Run standard = run(gpu, cfg, xShape, yShape, x, lengths, h0, c0, dy, dh, dc, states, batch);
                for (Map.Entry<String, float[]> e : cpu.values().entrySet()) {
                    Close.assertParity(c + " [standard] " + e.getKey(), e.getValue(), standard.values().get(e.getKey()));
                }
            } finally {
                engine.setRecurrentAlgorithm(configured);
            }
        }
    }

    record Run(Map<String, float[]> values) {
    }

    private static Run run(Device d, RecurrentConfig cfg, int[] xShape, int[] yShape, float[] x, int[] lengths,
                           float[] h0, float[] c0, float[] dy, float[] dh, float[] dc, int states, int batch) {
        Map<String, float[]> out = new java.util.LinkedHashMap<>();
        try (RecurrentLayer l = new RecurrentLayer(cfg, d);
             Tensor xt = Tensor.of(d, x, xShape);
             Tensor h0t = h0 == null ? null : Tensor.of(d, h0, states, batch, cfg.stateSize());
             Tensor c0t = c0 == null ? null : Tensor.of(d, c0, states, batch, cfg.hiddenSize());
             ForwardResult f = l.forward(xt, lengths, h0t, c0t);
             Tensor dyt = Tensor.of(d, dy, yShape);
             Tensor dht = Tensor.of(d, dh, states, batch, cfg.stateSize());
             Tensor dct = dc == null ? null : Tensor.of(d, dc, states, batch, cfg.hiddenSize());
             BackwardResult g = l.backward(f, dyt, dht, dct)) {
            out.put("y", f.output().toHost());
            out.put("hN", f.hN().toHost());
            if (f.cN() != null) {
                out.put("cN", f.cN().toHost());
            }
            out.put("dX", g.dX().toHost());
            out.put("dh0", g.dh0().toHost());
            if (g.dc0() != null) {
                out.put("dc0", g.dc0().toHost());
            }
            l.gradients().forEach((name, t) -> out.put("d" + name, t.toHost()));
            l.eval();
            try (ForwardResult inf = l.forward(xt, lengths, h0t, c0t)) {
                out.put("eval y", inf.output().toHost());
                out.put("eval hN", inf.hN().toHost());
            }
        }
        return new Run(out);
    }

    private static float[] random(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextDouble(-1, 1);
        }
        return v;
    }

    @Test
    void dropoutMaskIsTheSameOnBothEngines() {
        Device gpu = gpu();
        float[] x = random(new SplittableRandom(5), 6 * 4 * 8);
        float[][] outs = new float[2][];
        Device[] devices = {Device.cpu(), gpu};
        for (int i = 0; i < 2; i++) {
            try (RecurrentLayer l = Gru.builder(8, 16).numLayers(3).dropout(0.5).seed(3).build(devices[i]);
                 Tensor xt = Tensor.of(devices[i], x, 6, 4, 8); ForwardResult f = l.forward(xt)) {
                outs[i] = f.output().toHost();
            }
        }
        Close.assertClose("dropout output", outs[0], outs[1], 1e-5, 1e-4);
    }

    @Test
    void deviceMemoryIsTheSameBeforeAndAfterHundredTrainingSteps() {
        Device gpu = gpu();
        CudaEngine engine = (CudaEngine) gpu.engine();
        try (RecurrentLayer l = Lstm.builder(32, 64).numLayers(2).bidirectional(true).build(gpu);
             Tensor x = Tensor.zeros(gpu, 20, 8, 32); Tensor dy = Tensor.zeros(gpu, 20, 8, 128)) {
            step(l, x, dy); // the pool warms up
            gpu.engine().synchronize();
            long before = engine.bytesInUse();
            long cachedBefore = engine.bytesCached() + before;
            for (int i = 0; i < 100; i++) {
                step(l, x, dy);
            }
            gpu.engine().synchronize();
            assertEquals(before, engine.bytesInUse(), "bytes in use after 100 training steps");
            assertEquals(cachedBefore, engine.bytesCached() + engine.bytesInUse(), "the pool did not grow");
        }
    }

    private static void step(RecurrentLayer l, Tensor x, Tensor dy) {
        try (ForwardResult f = l.forward(x, new int[] {20, 3, 7, 20, 1, 9, 20, 4}, null, null);
             BackwardResult g = l.backward(f, dy, null, null)) {
            assertTrue(g.dX().size() > 0);
        }
    }

    @Test
    void outOfMemoryNamesTheCallAndLeavesNothingAllocated() {
        Device gpu = gpu();
        CudaEngine engine = (CudaEngine) gpu.engine();
        // graphs off and on: the step graphs earlier tests left give their memory back now, not when the device fills
        engine.setGraphsEnabled(false);
        engine.setGraphsEnabled(true);
        gpu.engine().synchronize();
        long before = engine.bytesInUse();
        // the largest tensors there are, until the device is full (the first one under Maven's 2 GiB stand-in)
        List<Tensor> held = new ArrayList<>();
        RuntimeException e;
        try {
            while (true) {
                try {
                    held.add(Tensor.zeros(gpu, (int) Tensor.MAX_ELEMENTS));
                } catch (RuntimeException oom) {
                    e = oom;
                    break;
                }
            }
        } finally {
            held.forEach(Tensor::close);
        }
        assertTrue(e.getMessage().contains("cuMemAlloc"), e.getMessage());
        assertEquals(before, engine.bytesInUse());
    }

    @Test
    void describeNamesTheDeviceAndTheCublasBinding() {
        Device gpu = gpu();
        String d = gpu.engine().describe();
        assertTrue(d.startsWith("cuda:0"), d);
        assertTrue(d.contains("cuBLAS"), d);
        if (System.getenv("RNN4J_CUBLAS") != null && System.getenv("RNN4J_CUBLAS").contains("/")) {
            assertTrue(d.contains("via JNA"), d);   // a path forces the JNA binding
        }
    }

    @Test
    void tensorsRoundTripBitExactly() {
        Device gpu = gpu();
        float[] v = random(new SplittableRandom(9), 1000);
        try (Tensor t = Tensor.of(gpu, v, 10, 100); Tensor back = t.copyTo(Device.cpu())) {
            assertArrayEquals(v, back.toHost());
        }
    }

    /**
     * RecurrentLayer.checkFinite's device-side test: a finite tensor passes (also right after one
     * that did not: the flag is reset per call), a NaN or an infinity anywhere is found, on both engines.
     */
    @Test
    void nonFiniteValuesAreFoundAsOnTheCpu() {
        Device gpu = gpu();
        float[] v = random(new SplittableRandom(10), 70_000);   // 274 blocks of 256 threads
        for (Device d : List.of(Device.cpu(), gpu)) {
            for (int bad : new int[] {-1, 0, 69_999, 33_333, -1}) {
                float[] w = v.clone();
                if (bad >= 0) {
                    w[bad] = bad == 33_333 ? Float.NEGATIVE_INFINITY : Float.NaN;
                }
                try (Tensor t = Tensor.of(d, w, w.length)) {
                    assertEquals(bad >= 0, t.engine().hasNonFinite(t.size(), t.buffer(), 0), d + ", bad at " + bad);
                }
            }
        }
    }

    /**
     * Uploads larger than one half of the pinned staging buffer alternate between its two halves, waiting on
     * a half's event only before refilling it: under deferred streams (the cuda-jna-deferred execution) a
     * missing wait would overwrite a half before its copy ran, and the data would arrive wrong.
     */
    @Test
    void uploadsOverManyStagingChunksArriveWhole() {
        org.rnn4j.engine.Engine gpu = gpu().engine();
        int n = 3_000_003;   // 12 MB: six chunks of CudaEngine's 2 MiB staging halves
        float[] values = new float[n];
        int[] ints = new int[n];
        for (int i = 0; i < n; i++) {
            values[i] = i * 0.5f - 7f;
            ints[i] = i ^ 0x5a5a5a;
        }
        try (org.rnn4j.engine.Buffer f = gpu.allocateUninitialized(DType.F32, n);
             org.rnn4j.engine.Buffer k = gpu.allocateUninitialized(DType.I32, n)) {
            gpu.upload(values, 0, f, 0, n);
            gpu.upload(ints, 0, k, 0, n);
            float[] back = new float[n];
            int[] intsBack = new int[n];
            gpu.download(f, 0, back, 0, n);
            gpu.download(k, 0, intsBack, 0, n);
            assertArrayEquals(values, back, "floats");
            assertArrayEquals(ints, intsBack, "ints");
        }
    }
}
