package org.rnn4j.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.rnn4j.BackwardResult;
import org.rnn4j.CellType;
import org.rnn4j.Close;
import org.rnn4j.Device;
import org.rnn4j.Devices;
import org.rnn4j.ForwardResult;
import org.rnn4j.Gru;
import org.rnn4j.Lstm;
import org.rnn4j.RecurrentConfig;
import org.rnn4j.RecurrentLayer;
import org.rnn4j.Rnn;
import org.rnn4j.Tensor;
import org.rnn4j.engine.Recurrence;

/**
 * The persistent algorithm ({@code kernels/persistent.cu}, {@link PersistentRecurrence}) and the algorithm
 * choice ({@link AlgorithmChoice}): forced persistent, an LSTM's, a GRU's (both forms) and an RNN's (tanh, relu)
 * forward and backward are the standard path's
 * bits on the stand-in (its SGEMM sums in the kernel's order) and match the CPU engine at the parity tests'
 * tolerance (what holds on a GPU, whose cuBLAS sums in another order); features it does not cover, grids that
 * do not fit and a driver that refuses the grid fall back to the standard path with the same results.
 */
class PersistentRecurrenceTest {

    private static CudaEngine engine() {
        String unusable = Devices.cudaUnusableReason();
        assumeTrue(unusable == null, () -> "no usable CUDA device: " + unusable);
        return (CudaEngine) Device.cuda().engine();
    }

    @AfterEach
    void backToAuto() {
        if (Devices.cudaUnusableReason() == null) {
            CudaEngine e = (CudaEngine) Device.cuda().engine();
            e.setRecurrentAlgorithm("auto");
            e.useAlgorithms(null);
        }
    }

    private static long launches(Kernel k) {
        return StandinCounters.available() ? StandinCounters.count(k.symbol) : -1;
    }

    /** A training step (forward, backward) and an inference forward, every result copied to the host. */
    private static Map<String, float[]> run(Device d, RecurrentConfig cfg, int steps, int batch, int[] lengths, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int states = cfg.numLayers() * cfg.directions();
        boolean lstm = cfg.cell() == CellType.LSTM;
        Map<String, float[]> out = new LinkedHashMap<>();
        try (RecurrentLayer l = new RecurrentLayer(cfg, d);
             Tensor x = Tensor.of(d, random(r, steps * batch * cfg.inputSize()), steps, batch, cfg.inputSize());
             Tensor h0 = Tensor.of(d, random(r, states * batch * cfg.stateSize()), states, batch, cfg.stateSize());
             Tensor c0 = lstm ? Tensor.of(d, random(r, states * batch * cfg.hiddenSize()), states, batch, cfg.hiddenSize()) : null;
             Tensor dy = Tensor.of(d, random(r, steps * batch * cfg.outputSize()), steps, batch, cfg.outputSize());
             Tensor dh = Tensor.of(d, random(r, states * batch * cfg.stateSize()), states, batch, cfg.stateSize());
             Tensor dc = lstm ? Tensor.of(d, random(r, states * batch * cfg.hiddenSize()), states, batch, cfg.hiddenSize()) : null;
             ForwardResult f = l.forward(x, lengths, h0, c0);
             BackwardResult g = l.backward(f, dy, dh, dc)) {
            out.put("y", f.output().toHost());
            out.put("hN", f.hN().toHost());
            if (lstm) {
                out.put("cN", f.cN().toHost());
                out.put("dc0", g.dc0().toHost());
            }
            out.put("dX", g.dX().toHost());
            out.put("dh0", g.dh0().toHost());
            l.gradients().forEach((name, t) -> out.put("d" + name, t.toHost()));
            l.eval();
            try (ForwardResult inf = l.forward(x, lengths, h0, c0)) {
                out.put("eval y", inf.output().toHost());
                out.put("eval hN", inf.hN().toHost());
            }
        }
        return out;
    }

    private static float[] random(SplittableRandom r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) r.nextDouble(-1, 1);
        }
        return a;
    }

    /** The persistent kernel of {@code cfg}'s cell for {@code pass}. */
    private static Kernel persistentKernel(RecurrentConfig cfg, Recurrence.Pass pass) {
        Recurrence loop = new Recurrence();
        loop.cell = cfg.cell();
        loop.resetAfter = cfg.resetAfter();
        loop.pass = pass;
        return PersistentRecurrence.kernel(loop);
    }

    /** Persistent (forced) against standard (forced) on CUDA and against the CPU engine; both persistent kernels ran. */
    private static void persistentMatches(RecurrentConfig cfg, int steps, int batch, int[] lengths) {
        CudaEngine e = engine();
        Device gpu = Device.cuda();
        e.setRecurrentAlgorithm("standard");
        Map<String, float[]> standard = run(gpu, cfg, steps, batch, lengths, 5);
        e.setRecurrentAlgorithm("persistent");
        Kernel forward = persistentKernel(cfg, Recurrence.Pass.FORWARD);
        Kernel backward = persistentKernel(cfg, Recurrence.Pass.BACKWARD);
        long fwd = launches(forward);
        long bwd = launches(backward);
        Map<String, float[]> persistent = run(gpu, cfg, steps, batch, lengths, 5);
        Map<String, float[]> cpu = run(Device.cpu(), cfg, steps, batch, lengths, 5);
        if (StandinCounters.available()) {
            // forward: the training and the inference pass of every layer-direction; backward: each once
            int loops = cfg.numLayers() * cfg.directions();
            assertEquals(2L * loops, launches(forward) - fwd, cfg + ": persistent forwards");
            assertEquals(loops, launches(backward) - bwd, cfg + ": persistent backwards");
        }
        for (Map.Entry<String, float[]> r : cpu.entrySet()) {
            Close.assertParity(cfg + " " + r.getKey() + " vs CPU", r.getValue(), persistent.get(r.getKey()));
            if (StandinCounters.available()) {   // the stand-in's SGEMM adds in the kernels' order
                assertArrayEquals(standard.get(r.getKey()), persistent.get(r.getKey()), cfg + " " + r.getKey()
                        + ": persistent and standard bits differ");
            }
        }
    }

    @Test
    void anLstmOverOddShapesMatchesTheStandardPathAndTheCpu() {
        persistentMatches(Lstm.builder(3, 5).seed(1).config(), 4, 1, null);
        persistentMatches(Lstm.builder(4, 33).numLayers(2).bidirectional(true).seed(2).config(), 6, 3, new int[] {6, 2, 4});
        persistentMatches(Lstm.builder(2, 1).bias(false).seed(3).config(), 3, 2, new int[] {1, 3});
    }

    @Test
    void cellClipAndTheCoupledGateRunPersistentToo() {
        persistentMatches(Lstm.builder(3, 7).cellClip(0.5).coupledInputForget(true).seed(4).config(), 5, 3,
                new int[] {5, 1, 3});
    }

    @Test
    void aGruInBothFormsMatchesTheStandardPathAndTheCpu() {
        for (boolean resetAfter : new boolean[] {true, false}) {
            persistentMatches(Gru.builder(3, 5).resetAfter(resetAfter).seed(21).config(), 4, 1, null);
            persistentMatches(Gru.builder(4, 33).resetAfter(resetAfter).numLayers(2).bidirectional(true).seed(22).config(),
                    6, 3, new int[] {6, 2, 4});
            persistentMatches(Gru.builder(2, 1).resetAfter(resetAfter).bias(false).seed(23).config(), 3, 2, new int[] {1, 3});
        }
    }

    @Test
    void anRnnWithTanhAndReluMatchesTheStandardPathAndTheCpu() {
        persistentMatches(Rnn.builder(3, 5).seed(24).config(), 4, 1, null);
        persistentMatches(Rnn.reluBuilder(4, 33).numLayers(2).bidirectional(true).seed(25).config(), 6, 3,
                new int[] {6, 2, 4});
        persistentMatches(Rnn.builder(4, 17).bidirectional(true).seed(26).config(), 5, 20,
                new int[] {5, 1, 3, 5, 2, 4, 5, 1, 3, 5, 2, 4, 5, 1, 3, 5, 2, 4, 5, 1});
        persistentMatches(Rnn.reluBuilder(2, 1).bias(false).seed(27).config(), 3, 2, new int[] {1, 3});
    }

    /** What the persistent kernels do not cover runs the standard path, with the same bits. */
    @Test
    void peepholesAndProjectionFallBackToTheStandardPath() {
        CudaEngine e = engine();
        Device gpu = Device.cuda();
        for (Function<Integer, RecurrentConfig> build : java.util.List.<Function<Integer, RecurrentConfig>>of(
                h -> Lstm.builder(3, h).peepholes(true).seed(6).config(),
                h -> Lstm.builder(3, h).projSize(2).seed(7).config())) {
            RecurrentConfig cfg = build.apply(6);
            e.setRecurrentAlgorithm("standard");
            Map<String, float[]> standard = run(gpu, cfg, 4, 2, new int[] {4, 2}, 9);
            e.setRecurrentAlgorithm("persistent");
            long before = launches(Kernel.PERSISTENT_LSTM_FORWARD) + launches(Kernel.PERSISTENT_LSTM_BACKWARD);
            Map<String, float[]> forced = run(gpu, cfg, 4, 2, new int[] {4, 2}, 9);
            assertEquals(before, launches(Kernel.PERSISTENT_LSTM_FORWARD) + launches(Kernel.PERSISTENT_LSTM_BACKWARD),
                    cfg + ": no persistent launch");
            standard.forEach((k, v) -> assertArrayEquals(v, forced.get(k), cfg + " " + k));
            String report = e.recurrentAlgorithms();
            assertTrue(report.contains("is not eligible here (persistent kernels"), report);
        }
    }

    /** A hidden size whose W_hh slices fit no co-resident grid is not eligible, and says why. */
    @Test
    void aGridThatDoesNotFitTheDeviceIsNotEligible() {
        CudaEngine e = engine();
        assumeTrue(StandinCounters.available(), "the stand-in's 132 multiprocessors and 228 KiB per SM");
        e.setRecurrentAlgorithm("persistent");
        Device gpu = Device.cuda();
        RecurrentConfig cfg = Lstm.builder(1, 2048).seed(10).config();
        long before = launches(Kernel.PERSISTENT_LSTM_FORWARD);
        try (RecurrentLayer l = new RecurrentLayer(cfg, gpu); Tensor x = Tensor.zeros(gpu, 2, 1, 1)) {
            l.eval();
            l.forward(x).close();
        }
        assertEquals(before, launches(Kernel.PERSISTENT_LSTM_FORWARD), "no launch");
        String report = e.recurrentAlgorithms();
        assertTrue(report.contains("H=2048") && report.contains("no co-resident grid"), report);
    }

    /**
     * A driver that refuses the grid (CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE, as a GPU may where its occupancy
     * said it fits): the standard path runs, the results are its, and the key remembers the fallback.
     */
    @Test
    void aCooperativeLaunchTooLargeFallsBackToTheStandardPath() {
        CudaEngine e = engine();
        assumeTrue(StandinCounters.available(), "the stand-in fits 132 multiprocessors' worth of blocks");
        Device gpu = Device.cuda();
        // 2048 CTAs of one unit: LSTM 32 KiB each, 6 per SM (the stand-in's 132 hold 792); GRU 24 KiB, 9 per SM (1188)
        for (RecurrentConfig cfg : java.util.List.of(Lstm.builder(3, 2048).seed(11).config(),
                Gru.builder(3, 2048).resetAfter(false).seed(11).config())) {
            e.useAlgorithms(null);
            e.setRecurrentAlgorithm("standard");
            Map<String, float[]> standard = run(gpu, cfg, 2, 1, null, 12);
            // occupancy answers for 1000 multiprocessors
            e.useAlgorithms(PersistentRecurrence.forDevice(e, 1000, 232448));
            e.setRecurrentAlgorithm("persistent");
            Map<String, float[]> refused = run(gpu, cfg, 2, 1, null, 12);
            standard.forEach((k, v) -> assertArrayEquals(v, refused.get(k), cfg + " " + k));
            String report = e.recurrentAlgorithms();
            assertTrue(report.contains(cfg.cell() + (cfg.cell() == CellType.GRU ? " reset-before" : "") + " forward H=2048")
                    && report.contains("CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE"), report);
        }
    }

    /** The auto choice: the heuristic on the stand-in (persistent at small batch), measuring when forced on. */
    @Test
    void theChoiceIsReportedAndABadForcedValueIsRefusedByName() {
        CudaEngine e = engine();
        Device gpu = Device.cuda();
        e.setRecurrentAlgorithm("auto");
        run(gpu, Lstm.builder(3, 9).seed(13).config(), 3, 2, null, 14);
        String report = e.recurrentAlgorithms();
        assertTrue(report.contains("LSTM forward H=9 B=2 T=3 fp32: "), report);
        if (StandinCounters.available()) {
            assertTrue(report.contains("LSTM forward H=9 B=2 T=3 fp32: persistent (heuristic"), report);
        }
        // GRU and RNN: the same choice, reported per cell and form
        run(gpu, Gru.builder(3, 9).resetAfter(false).seed(13).config(), 3, 2, null, 14);
        run(gpu, Rnn.reluBuilder(3, 9).seed(13).config(), 3, 2, null, 14);
        report = e.recurrentAlgorithms();
        for (String key : new String[] {"GRU reset-before forward H=9 B=2 T=3 fp32: ", "GRU reset-before backward H=9 B=2 T=3 fp32: ",
            "RNN_RELU forward H=9 B=2 T=3 fp32: ", "RNN_RELU backward H=9 B=2 T=3 fp32: "}) {
            assertTrue(report.contains(key + (StandinCounters.available() ? "persistent (heuristic" : "")), report);
        }
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> e.setRecurrentAlgorithm("fastest"));
        assertTrue(bad.getMessage().contains("algorithm") && bad.getMessage().contains("'fastest'")
                && bad.getMessage().contains("persistent"), bad.getMessage());
        assertThrows(IllegalArgumentException.class, () -> AlgorithmChoice.parse("cudnn", "-D" + AlgorithmChoice.PROPERTY));
    }

    /** Measuring (forced on: on the stand-in the times are host time, meaningless) picks one and keeps the results. */
    @Test
    void measuringRunsEveryEligibleAlgorithmAndKeepsTheResults() {
        CudaEngine e = engine();
        Device gpu = Device.cuda();
        RecurrentConfig cfg = Lstm.builder(3, 8).bidirectional(true).seed(15).config();
        e.setRecurrentAlgorithm("standard");
        Map<String, float[]> standard = run(gpu, cfg, 4, 3, new int[] {4, 1, 3}, 16);
        String old = System.getProperty(AlgorithmChoice.MEASURE_PROPERTY);
        System.setProperty(AlgorithmChoice.MEASURE_PROPERTY, "on");
        try {
            e.useAlgorithms(PersistentRecurrence.forDevice(e, 132, 232448));
        } finally {
            if (old == null) {
                System.clearProperty(AlgorithmChoice.MEASURE_PROPERTY);
            } else {
                System.setProperty(AlgorithmChoice.MEASURE_PROPERTY, old);
            }
        }
        long fwd = launches(Kernel.PERSISTENT_LSTM_FORWARD);
        Map<String, float[]> measured = run(gpu, cfg, 4, 3, new int[] {4, 1, 3}, 16);
        String report = e.recurrentAlgorithms();
        assertTrue(report.contains("LSTM forward H=8 B=3 T=4 fp32: ") && report.contains("(measured standard ")
                && report.contains(" persistent "), report);
        if (StandinCounters.available()) {
            assertTrue(launches(Kernel.PERSISTENT_LSTM_FORWARD) - fwd >= 3, "persistent was timed");
            standard.forEach((k, v) -> assertArrayEquals(v, measured.get(k), k));
        } else {
            standard.forEach((k, v) -> Close.assertParity(k, v, measured.get(k)));
        }
        assertFalse(report.contains("forced"), report);
    }
}
