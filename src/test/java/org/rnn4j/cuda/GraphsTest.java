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
        String unusable = Devices.cudaUnusableReason();
        assumeTrue(unusable == null, () -> "no usable CUDA device: " + unusable);
        CudaEngine e = (CudaEngine) Device.cuda().engine();
        assumeTrue(e.graphsUnusableReason() == null, () -> "graphs not usable: " + e.graphsUnusableReason());
        // a graph is replayed where a region's buffers come back at the same addresses, as the caching pool
        // gives them; with every buffer its own allocation they do not
        assumeTrue(!"1".equals(System.getenv(CudaEngine.NO_CACHING_ENV)), "no pool caching: addresses never repeat");
        e.setGraphsEnabled(true);   // off by default (CudaEngine.GRAPHS_PROPERTY)
        e.setRecurrentAlgorithm("graph");   // the persistent kernel would take small-batch LSTMs
        return e;
    }

    @AfterEach
    void graphsBackToTheDefault() {
        if (Devices.cudaUnusableReason() == null) {
            ((CudaEngine) Device.cuda().engine()).setGraphsEnabled(false);
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

    /** One training step's outputs and gradients, copied to the host. */
    private static List<float[]> step(RecurrentLayer layer, Tensor x, int[] lengths, Tensor dY) {
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
