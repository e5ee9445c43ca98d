package org.rnn4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.jna.Function;
import com.sun.jna.NativeLibrary;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.rnn4j.BackwardResult;
import org.rnn4j.Device;
import org.rnn4j.Devices;
import org.rnn4j.ForwardResult;
import org.rnn4j.Lstm;
import org.rnn4j.RecurrentLayer;
import org.rnn4j.Tensor;

/**
 * What the engine asks of the driver per training step, counted by the stand-in (its
 * {@code rnn4j_standin_count}): the context is made current once per thread, not per call; a step's
 * calls grow by two launches and two SGEMMs per time step and nothing else; zeroing is a fixed handful
 * of memsets however long the sequence. Skipped on a real driver (no counters there).
 */
class HostPathTest {
    private static String unusable;

    @BeforeAll
    static void probe() {
        unusable = Devices.cudaUnusableReason();
    }

    private static Function counter(String name) {
        assumeTrue(unusable == null, () -> "no usable CUDA device: " + unusable);
        Device.cuda().engine();   // loads libcuda.so.1
        try {
            return NativeLibrary.getInstance("libcuda.so.1").getFunction(name);
        } catch (UnsatisfiedLinkError e) {
            assumeTrue(false, "not the stand-in driver: no " + name);
            return null;
        }
    }

    private static long count(String api) {
        return counter("rnn4j_standin_count").invokeLong(new Object[] {api});
    }

    /**
     * Calls of one LSTM training step of {@code steps} steps (its input and output gradient allocated
     * first), by API: {cuCtxSetCurrent, launches, SGEMMs, memsets}.
     */
    private static long[] trainingStepCalls(RecurrentLayer layer, int steps) {
        Device gpu = Device.cuda();
        long[] before = {count("cuCtxSetCurrent"), count("cuLaunchKernel"), count("cublasSgemm_v2"),
            count("cuMemsetD32Async")};
        try (Tensor x = Tensor.zeros(gpu, steps, 2, 4); Tensor dY = Tensor.zeros(gpu, steps, 2, 8)) {
            try (ForwardResult r = layer.forward(x); BackwardResult g = layer.backward(r, dY, null, null)) {
                gpu.engine().synchronize();
            }
            return new long[] {count("cuCtxSetCurrent") - before[0], count("cuLaunchKernel") - before[1],
                count("cublasSgemm_v2") - before[2], count("cuMemsetD32Async") - before[3]};
        }
    }

    @Test
    void aTrainingStepSetsNoContextAndGrowsByTwoLaunchesAndTwoGemmsPerStep() {
        counter("rnn4j_standin_count");
        CudaEngine e = (CudaEngine) Device.cuda().engine();
        e.setRecurrentAlgorithm("standard");   // the per-step path is what this counts (not the persistent kernel)
        try (RecurrentLayer layer = Lstm.builder(4, 8).seed(3).build(Device.cuda())) {
            layer.train();
            trainingStepCalls(layer, 3);   // the first call on this thread may set the context
            long[] short3 = trainingStepCalls(layer, 3);
            long[] long9 = trainingStepCalls(layer, 9);
            assertEquals(0, short3[0], "cuCtxSetCurrent in a step on the thread that made it current");
            assertEquals(0, long9[0], "cuCtxSetCurrent");
            assertEquals(2 * 6, long9[1] - short3[1], "launches: one cell forward and one backward per step");
            assertEquals(2 * 6, long9[2] - short3[2], "SGEMMs: one recurrent product forward and one backward per step");
            assertEquals(short3[3], long9[3], "memsets do not grow with the sequence");
            // x and dY here, then the layer's: the state slots h and c, dh0, dc0 and the running dc; every
            // buffer it writes in full is allocated without zeroing (Engine.allocateUninitialized)
            assertEquals(2 + 5, short3[3], "memsets of a step");
        } finally {
            e.setRecurrentAlgorithm("auto");
        }
    }

    @Test
    void anotherThreadMakesTheContextCurrentOnceThenNotAgain() throws InterruptedException {
        counter("rnn4j_standin_count");
        try (RecurrentLayer layer = Lstm.builder(4, 8).seed(3).build(Device.cuda())) {
            layer.train();
            trainingStepCalls(layer, 2);
            long[][] onThread = new long[2][];
            Thread t = new Thread(() -> {
                onThread[0] = trainingStepCalls(layer, 2);
                onThread[1] = trainingStepCalls(layer, 2);
            });
            t.start();
            t.join();
            assertEquals(1, onThread[0][0], "cuCtxSetCurrent on the new thread's first step");
            assertEquals(0, onThread[1][0], "cuCtxSetCurrent on its second");
        }
    }
}
