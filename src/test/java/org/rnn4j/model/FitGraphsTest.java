package org.rnn4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.jna.Function;
import com.sun.jna.NativeLibrary;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.rnn4j.Device;
import org.rnn4j.Devices;
import org.rnn4j.Gru;
import org.rnn4j.Lstm;
import org.rnn4j.Tensor;
import org.rnn4j.cuda.CudaEngine;

/**
 * {@code fit} on the CUDA engine with graphs (the layers' time loops and the optimizer's clipped step replayed) and
 * without: the same losses and weights bit for bit over several epochs, with a learning-rate schedule that changes
 * every step, clipping that bites, dropout in the stack and the head, variable lengths, Adam and SGD; and with
 * graphs off (the engine's switch) nothing is captured or replayed.
 */
class FitGraphsTest {

    private static CudaEngine engine() {
        String unusable = Devices.cudaUnusableReason();
        assumeTrue(unusable == null, () -> "no usable CUDA device: " + unusable);
        CudaEngine e = (CudaEngine) Device.cuda().engine();
        assumeTrue(e.graphsUnusableReason() == null, () -> "graphs not usable: " + e.graphsUnusableReason());
        return e;
    }

    @AfterEach
    void graphsBackToTheDefault() {
        if (Devices.cudaUnusableReason() == null) {
            ((CudaEngine) Device.cuda().engine()).setGraphsEnabled(true);
        }
    }

    private static long graphLaunches() {
        Function f;
        try {
            f = NativeLibrary.getInstance("libcuda.so.1").getFunction("rnn4j_standin_count");
        } catch (UnsatisfiedLinkError e) {
            return -1;   // NVIDIA's driver: no counters
        }
        return f.invokeLong(new Object[] {"cuGraphLaunch"});
    }

    /** Each epoch's training loss, then every weight, after {@code fit}. */
    private static List<Object> trained(Supplier<SequenceModel> build, SequenceDataset data, FitOptions o)
            throws Exception {
        List<Object> out = new ArrayList<>();
        try (SequenceModel m = build.get()) {
            History h = m.fit(data, null, o);
            for (History.Epoch e : h.epochs()) {
                out.add(e.train().get("loss"));
            }
            for (Map.Entry<String, Tensor> e : m.parameters().entrySet()) {
                out.add(e.getValue().toHost());
            }
        }
        return out;
    }

    private static void sameBitsWithAndWithoutGraphs(Supplier<SequenceModel> build, SequenceDataset data, FitOptions o)
            throws Exception {
        CudaEngine e = engine();
        e.setGraphsEnabled(false);
        long before = graphLaunches();
        List<Object> eager = trained(build, data, o);
        assertEquals(before, graphLaunches(), "graph launches with graphs off");
        e.setGraphsEnabled(true);
        List<Object> graphed = trained(build, data, o);
        assertTrue(before < 0 || graphLaunches() > before, "the graph path was taken");
        assertEquals(eager.size(), graphed.size());
        for (int k = 0; k < eager.size(); k++) {
            if (eager.get(k) instanceof float[] w) {
                assertArrayEquals(w, (float[]) graphed.get(k), "weight tensor " + k);
            } else {
                assertEquals(eager.get(k), graphed.get(k), "loss of epoch " + (k + 1));
            }
        }
    }

    /** {@code fit}'s graph launches with graphs on, after {@link #sameBitsWithAndWithoutGraphs}'s check. */
    private static long launchesOfAGraphedFit(Supplier<SequenceModel> build, SequenceDataset data, FitOptions o)
            throws Exception {
        sameBitsWithAndWithoutGraphs(build, data, o);
        long before = graphLaunches();
        trained(build, data, o);
        return graphLaunches() - before;
    }

    /**
     * Without dropout a training step is one graph (forward, loss, backward: {@code replayableStep}) beside the
     * optimizer's: two launches a step once a batch shape repeats, where the layers' graphs alone take one per
     * layer-direction and pass. Variable lengths are data: the batches' length patterns differ, their shapes repeat.
     */
    @Test
    void aStepWithoutDropoutIsOneGraphAndTrainsToTheEagerBits() throws Exception {
        engine();
        assumeTrue(graphLaunches() >= 0, "counts need the stand-in driver");
        Device gpu = Device.cuda();
        int steps = 4 * 6;
        long launches = launchesOfAGraphedFit(() -> SequenceModel.builder(Task.CLASSIFICATION).embedding(6, 8, 0)
                        .recurrent(Lstm.builder(8, 12).numLayers(2).seed(3)).outputs(2).seed(4).build(gpu),
                TaskData.majority(48, 6, 1),
                new FitOptions().epochs(4).batchSize(8).adam(2e-2).seed(7).clipNorm(0.05));
        assertTrue(launches <= 2L * steps, "graph launches in " + steps + " steps: " + launches
                + " (more than two a step: the steps ran as layer graphs)");
        assertTrue(launches >= steps, "graph launches in " + steps + " steps: " + launches);
    }

    /** The same for a tagger over fixed-length windows, a bidirectional GRU's two streams inside the step's graph. */
    @Test
    void aBidirectionalTaggerStepIsOneGraphAndTrainsToTheEagerBits() throws Exception {
        engine();
        assumeTrue(graphLaunches() >= 0, "counts need the stand-in driver");
        Device gpu = Device.cuda();
        List<int[]> windows = new ArrayList<>();
        List<int[]> tags = new ArrayList<>();
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(9);
        for (int i = 0; i < 24; i++) {
            int[] w = new int[7];
            int[] g = new int[7];
            for (int t = 0; t < w.length; t++) {
                w[t] = 1 + rnd.nextInt(5);
                g[t] = t > 0 && w[t] > w[t - 1] ? 1 : 0;
            }
            windows.add(w);
            tags.add(g);
        }
        int steps = 3 * 3;
        long launches = launchesOfAGraphedFit(() -> SequenceModel.builder(Task.TAGGING).embedding(6, 4)
                        .recurrent(Gru.builder(4, 6).bidirectional(true).seed(1)).outputs(2).seed(2).build(gpu),
                SequenceDataset.tagging(windows, tags),
                new FitOptions().epochs(3).batchSize(8).sgd(0.5, 0.9).seed(5).clipNorm(0.1));
        assertTrue(launches <= 2L * steps, "graph launches in " + steps + " steps: " + launches);
        assertTrue(launches >= steps, "graph launches in " + steps + " steps: " + launches);
    }

    /**
     * A BF16 stack checks its FP32 masters' versions on the host at every step (to convert them again after an
     * update), and checkFinite reads its inputs back: their steps stay eager between the layers' graphs, the same
     * bits, and the engine's graphs stay usable.
     */
    @Test
    void stepsThatNeedTheHostMidwayStayEagerAndTrainToTheEagerBits() throws Exception {
        CudaEngine e = engine();
        Device gpu = Device.cuda();
        int steps = 3 * 3;
        long launches = launchesOfAGraphedFit(() -> SequenceModel.builder(Task.CLASSIFICATION).embedding(6, 8, 0)
                        .recurrent(Lstm.builder(8, 12).precision(org.rnn4j.Precision.BF16).seed(3)).outputs(2).seed(4)
                        .build(gpu),
                TaskData.majority(48, 6, 1), new FitOptions().epochs(3).batchSize(16).adam(2e-2).seed(7));
        assertTrue(launches < 0 || launches <= steps, "a BF16 stack's steps replay only the update: " + launches);
        Supplier<SequenceModel> checked = () -> {
            SequenceModel m = SequenceModel.builder(Task.CLASSIFICATION).embedding(6, 8, 0)
                    .recurrent(Lstm.builder(8, 12).seed(3)).outputs(2).seed(4).build(gpu);
            m.recurrent().checkFinite(true);
            return m;
        };
        sameBitsWithAndWithoutGraphs(checked, TaskData.majority(48, 6, 1),
                new FitOptions().epochs(2).batchSize(16).adam(2e-2).seed(7));
        assertEquals(null, e.graphsUnusableReason(), "graphs still usable after checkFinite steps");
    }

    /** Dropout in the stack and the head: a step graph reads each step's seeds from the device, new masks each replay. */
    @Test
    void adamWithACosineScheduleClippingAndDropoutTrainsToTheEagerBits() throws Exception {
        engine();
        Device gpu = Device.cuda();
        int steps = 3 * 3;
        long launches = launchesOfAGraphedFit(() -> SequenceModel.builder(Task.CLASSIFICATION).embedding(6, 8, 0)
                        .recurrent(Lstm.builder(8, 12).numLayers(2).dropout(0.3).seed(3)).dropout(0.2).outputs(2).seed(4)
                        .build(gpu),
                TaskData.majority(48, 6, 1),
                new FitOptions().epochs(3).batchSize(16).adam(2e-2).seed(7).clipNorm(0.05)
                        .schedule(LrSchedule.cosine(2, 9, 1e-4)));
        assertTrue(launches < 0 || launches <= 2L * steps, "graph launches in " + steps + " steps: " + launches);
    }

    @Test
    void sgdWithAStepScheduleOnAGruTaggerTrainsToTheEagerBits() throws Exception {
        engine();
        Device gpu = Device.cuda();
        sameBitsWithAndWithoutGraphs(() -> SequenceModel.builder(Task.TAGGING).embedding(8, 4)
                        .recurrent(Gru.builder(4, 6).bidirectional(true).seed(1)).dropout(0.1).outputs(2).seed(2).build(gpu),
                TaskData.rising(24, 8, 1),
                new FitOptions().epochs(3).batchSize(8).sgd(0.5, 0.9).seed(5).clipNorm(0.1)
                        .schedule(LrSchedule.step(1, 0.5)));
    }
}
