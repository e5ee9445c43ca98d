package org.rnn4j.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.rnn4j.DType;
import org.rnn4j.Device;
import org.rnn4j.Devices;
import org.rnn4j.ForwardResult;
import org.rnn4j.Gru;
import org.rnn4j.Lstm;
import org.rnn4j.RecurrentLayer;
import org.rnn4j.Rnn;
import org.rnn4j.Tensor;
import org.rnn4j.engine.Buffer;

/**
 * The side stream ({@code Engine.concurrently}): a layer's weight gradients beside its input gradient and the two
 * directions of a bidirectional layer beside each other give the one-stream path's bits, eager and replayed from
 * graphs. pom.xml runs this class once more with the stand-in's streams deferred and once adversarial (each
 * stream's un-waited work in the worst legal order), where a missing fork or join wait reads a stale value.
 */
class StreamsTest {

    private static CudaEngine engine() {
        String unusable = Devices.cudaUnusableReason();
        assumeTrue(unusable == null, () -> "no usable CUDA device: " + unusable);
        CudaEngine e = (CudaEngine) Device.cuda().engine();
        e.setStreams(2);
        assumeTrue(e.streams() == 2, "no second stream on this engine");
        return e;
    }

    @AfterEach
    void backToTheDefaults() {
        if (Devices.cudaUnusableReason() == null) {
            CudaEngine e = (CudaEngine) Device.cuda().engine();
            e.setStreams(2);
            e.setGraphsEnabled(true);
            e.setRecurrentAlgorithm("auto");
        }
    }

    private static List<float[]> step(RecurrentLayer layer, Tensor x, int[] lengths, Tensor dY) {
        return GraphsTest.step(layer, x, lengths, dY);
    }

    private static void assertSameBits(List<float[]> expected, List<float[]> actual, String what) {
        assertEquals(expected.size(), actual.size(), what);
        for (int k = 0; k < expected.size(); k++) {
            assertArrayEquals(expected.get(k), actual.get(k), what + ": result " + k);
        }
    }

    /** Two streams, eager and then captured and replayed, against one stream eager: the same bits each step. */
    private static void sameBitsOnOneAndTwoStreams(Supplier<RecurrentLayer> build, int steps, int batch, int in, int outF,
                                                   int[] lengths) {
        CudaEngine e = engine();
        e.setRecurrentAlgorithm("graph");   // the persistent kernel would take small-batch LSTMs
        Device gpu = Device.cuda();
        SplittableRandom r = new SplittableRandom(11);
        try (RecurrentLayer layer = build.get(); Tensor x = Tensor.of(gpu, uniform(r, steps * batch * in), steps, batch, in);
             Tensor dY = Tensor.of(gpu, uniform(r, steps * batch * outF), steps, batch, outF)) {
            layer.train();
            e.setGraphsEnabled(false);
            e.setStreams(1);
            List<float[]> oneStream = step(layer, x, lengths, dY);
            e.setStreams(2);
            assertSameBits(oneStream, step(layer, x, lengths, dY), layer + ", two streams, eager");
            e.setGraphsEnabled(true);
            for (int i = 0; i < 3; i++) {   // seen, captured and launched, replayed
                assertSameBits(oneStream, step(layer, x, lengths, dY), layer + ", two streams, graphs, step " + i);
            }
            e.setStreams(1);
            assertSameBits(oneStream, step(layer, x, lengths, dY), layer + ", one stream, graphs");
        }
    }

    private static float[] uniform(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextDouble(-1, 1);
        }
        return v;
    }

    @Test
    void stackedUniAndBidirectionalLstmsWithLengthsGiveTheOneStreamBits() {
        // three layers: the bottom one's BPTT reuses the top one's scratch set, after the join of its weight gradients
        sameBitsOnOneAndTwoStreams(() -> Lstm.builder(5, 7).numLayers(3).seed(1).build(Device.cuda()),
                6, 3, 5, 7, new int[] {6, 2, 4});
        sameBitsOnOneAndTwoStreams(() -> Lstm.builder(5, 7).bidirectional(true).numLayers(2).seed(2).build(Device.cuda()),
                6, 3, 5, 14, new int[] {6, 2, 4});
    }

    @Test
    void projectedPeepholeLstmBothGrusAndBothRnnsGiveTheOneStreamBits() {
        sameBitsOnOneAndTwoStreams(() -> Lstm.builder(4, 6).projSize(3).peepholes(true).bidirectional(true).seed(3)
                .build(Device.cuda()), 5, 2, 4, 6, new int[] {5, 3});
        sameBitsOnOneAndTwoStreams(() -> Gru.builder(4, 6).bidirectional(true).numLayers(2).seed(4).build(Device.cuda()),
                5, 2, 4, 12, new int[] {5, 3});
        sameBitsOnOneAndTwoStreams(() -> Gru.builder(4, 6).resetAfter(false).bidirectional(true).seed(5)
                .build(Device.cuda()), 5, 2, 4, 12, null);
        sameBitsOnOneAndTwoStreams(() -> Rnn.reluBuilder(4, 6).numLayers(2).seed(6).build(Device.cuda()), 5, 2, 4, 6, null);
        sameBitsOnOneAndTwoStreams(() -> Rnn.builder(4, 6).bidirectional(true).seed(7).build(Device.cuda()),
                5, 2, 4, 12, new int[] {2, 5});
    }

    /** Waits between streams in one backward of a 2-layer bidirectional LSTM (the stand-in's counter). */
    private static long waitsInABackward(CudaEngine e) {
        Device gpu = Device.cuda();
        try (RecurrentLayer layer = Lstm.builder(4, 6).bidirectional(true).numLayers(2).seed(8).build(gpu);
             Tensor x = Tensor.zeros(gpu, 5, 2, 4); Tensor dY = Tensor.zeros(gpu, 5, 2, 12)) {
            layer.train();
            try (ForwardResult r = layer.forward(x, null, null, null)) {
                long before = StandinCounters.count("cuStreamWaitEvent");
                layer.backward(r, dY, null, null).close();
                return StandinCounters.count("cuStreamWaitEvent") - before;
            }
        }
    }

    @Test
    void theBackwardQueuesOnTheSideStreamAndOneStreamQueuesNothingThere() {
        CudaEngine e = engine();
        assumeTrue(StandinCounters.available(), "not the stand-in driver: no counters");
        e.setGraphsEnabled(false);
        // per layer a fork and a join of the reverse direction beside the forward one (each direction's weight
        // gradients beside its input gradient nest in them, on the same stream), and each allocation on the side
        // stream waits once more
        assertTrue(waitsInABackward(e) >= 4, "the side stream was forked and joined");
        e.setStreams(1);
        assertEquals(1, e.streams());
        assertEquals(0, waitsInABackward(e), "one stream: no waits between streams");
        assertThrows(IllegalArgumentException.class, () -> e.setStreams(3));
    }

    /**
     * A branch captured inside a region becomes the graph's parallel branch with the fork and the join as its
     * edges: replayed, the side part reads what was queued before the region and what is queued after reads the
     * side part's result (with a missing edge, the adversarial stand-in runs them the other way round).
     */
    @Test
    void aBranchCapturedInARegionKeepsItsForkAndJoinInTheReplays() {
        CudaEngine e = engine();
        e.setGraphsEnabled(true);
        assumeTrue(e.graphsEnabled(), "graphs not usable here");
        int n = 300;
        try (Buffer x = e.allocate(DType.F32, n); Buffer y = e.allocate(DType.F32, n);
             Buffer z = e.allocate(DType.F32, n)) {
            Object shape = List.of("streams test region", n);
            Buffer[] used = {x, y, z};
            float[] got = new float[n];
            for (int i = 1; i <= 4; i++) {   // eager, captured, replayed twice
                e.fill(x, 0, n, i);
                e.replayable(shape, used, () -> e.concurrently(
                        () -> e.axpby(n, 2f, x, 0, 0f, y, 0),   // y = 2x
                        () -> e.fill(z, 0, n, 3f)));
                e.axpby(n, 1f, y, 0, 1f, z, 0);   // z = y + z
                e.download(z, 0, got, 0, n);
                for (int k = 0; k < n; k++) {
                    assertEquals(2f * i + 3f, got[k], "call " + i + ", element " + k);
                }
            }
        }
    }
}
