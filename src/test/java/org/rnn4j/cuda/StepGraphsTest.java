package org.rnn4j.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.jna.Function;
import com.sun.jna.NativeLibrary;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.rnn4j.DType;
import org.rnn4j.Device;
import org.rnn4j.Devices;
import org.rnn4j.engine.Buffer;

/**
 * Graphs of regions that allocate ({@link CudaEngine#replayableStep}, a whole training step): run eagerly and
 * recorded, captured on memory taken for them beforehand, then replayed without running the region's host code;
 * the memory a graph keeps is never handed out while the graph lives, and a capture that allocates otherwise than
 * its recording runs eagerly instead.
 */
class StepGraphsTest {
    private static final int N = 1000;

    private static CudaEngine engine() {
        String unusable = Devices.cudaUnusableReason();
        assumeTrue(unusable == null, () -> "no usable CUDA device: " + unusable);
        assumeTrue(!"1".equals(System.getenv(CudaEngine.NO_CACHING_ENV)), "no pool caching: addresses never repeat");
        CudaEngine e = (CudaEngine) Device.cuda().engine();
        assumeTrue(e.graphsUnusableReason() == null, () -> "graphs not usable: " + e.graphsUnusableReason());
        e.setGraphsEnabled(true);
        return e;
    }

    @AfterEach
    void graphsBackToTheDefault() {
        if (Devices.cudaUnusableReason() == null) {
            ((CudaEngine) Device.cuda().engine()).setGraphsEnabled(true);
        }
    }

    private static long graphLaunches() {
        try {
            Function f = NativeLibrary.getInstance("libcuda.so.1").getFunction("rnn4j_standin_count");
            return f.invokeLong(new Object[] {"cuGraphLaunch"});
        } catch (UnsatisfiedLinkError e) {
            return -1;
        }
    }

    /**
     * {@code out = 2·in + 1} through scratch of {@code scratchElements} the region allocates and frees; {@code test}
     * keys each test's region apart (the engine is shared, and buffers come back at the same addresses).
     */
    private static boolean step(String test, CudaEngine e, Buffer in, Buffer out, long scratchElements) {
        return e.replayableStep(List.of(test, "2x+1", N), new Buffer[] {in, out}, () -> {
            try (Buffer scratch = e.allocateUninitialized(DType.F32, scratchElements);
                 Buffer ones = e.allocate(DType.F32, N)) {
                e.fill(ones, 0, N, 1f);
                e.axpby(N, 2f, in, 0, 0f, scratch, 0);
                e.copy(ones, 0, out, 0, N);
                e.axpby(N, 1f, scratch, 0, 1f, out, 0);
            }
        });
    }

    private static float[] values(float base) {
        float[] v = new float[N];
        for (int i = 0; i < N; i++) {
            v[i] = base + i * 0.25f;
        }
        return v;
    }

    private static float[] expected(float[] in) {
        float[] v = new float[N];
        for (int i = 0; i < N; i++) {
            v[i] = 2f * in[i] + 1f;
        }
        return v;
    }

    private static float[] download(CudaEngine e, Buffer b) {
        float[] h = new float[N];
        e.download(b, 0, h, 0, N);
        return h;
    }

    @Test
    void aStepIsRecordedThenCapturedThenReplayedWithoutItsHostCode() {
        CudaEngine e = engine();
        try (Buffer in = e.allocate(DType.F32, N); Buffer out = e.allocate(DType.F32, N)) {
            long launches = graphLaunches();
            List<Boolean> ran = new ArrayList<>();
            for (int call = 0; call < 5; call++) {
                float[] x = values(call - 2);
                e.upload(x, 0, in, 0, N);
                ran.add(step("replayed", e, in, out, N));
                assertArrayEquals(expected(x), download(e, out), "call " + call);
            }
            assertEquals(List.of(true, true, false, false, false), ran, "eager, captured, then replayed");
            if (launches >= 0) {
                assertEquals(launches + 4, graphLaunches(), "one launch for the capture and one per replay");
            }
        }
    }

    @Test
    void memoryAStepGraphKeepsIsNotHandedOutWhileItLives() {
        CudaEngine e = engine();
        try (Buffer in = e.allocate(DType.F32, N); Buffer out = e.allocate(DType.F32, N)) {
            for (int call = 0; call < 2; call++) {   // recorded, captured: the graph now holds its scratch
                step("kept", e, in, out, N);
            }
            List<Buffer> others = new ArrayList<>();
            try {
                for (int k = 0; k < 16; k++) {   // the pool's free blocks of the scratch's size, and more
                    Buffer b = e.allocateUninitialized(DType.F32, N);
                    others.add(b);
                    e.fill(b, 0, N, 7f);
                }
                float[] x = values(3);
                e.upload(x, 0, in, 0, N);
                assertFalse(step("kept", e, in, out, N), "replayed");
                assertArrayEquals(expected(x), download(e, out));
                float[] sevens = new float[N];
                java.util.Arrays.fill(sevens, 7f);
                for (int k = 0; k < others.size(); k++) {
                    assertArrayEquals(sevens, download(e, others.get(k)), "buffer " + k + " allocated after the capture");
                }
            } finally {
                others.forEach(Buffer::close);
            }
        }
    }

    /** 64 MiB buffers allocated until the device is out of memory, all freed again: how many there were. */
    private static int buffersUntilOutOfMemory(CudaEngine e) {
        List<Buffer> held = new ArrayList<>();
        try {
            while (true) {
                try {
                    held.add(e.allocateUninitialized(DType.F32, 16L << 20));
                } catch (CudaException oom) {
                    assertEquals("CUDA_ERROR_OUT_OF_MEMORY", oom.status());
                    return held.size();
                }
            }
        } finally {
            held.forEach(Buffer::close);
            e.releaseCached();
        }
    }

    /** A device that runs out of memory gets the step graphs' memory back: they hold copies of their steps' memory. */
    @Test
    void stepGraphsGiveTheirMemoryBackWhenTheDeviceRunsOut() {
        CudaEngine e = engine();
        long scratch = 256L << 20;   // 1 GiB of floats, held by the step graph
        try (Buffer in = e.allocate(DType.F32, N); Buffer out = e.allocate(DType.F32, N)) {
            int without = buffersUntilOutOfMemory(e);
            step("oom", e, in, out, scratch);
            step("oom", e, in, out, scratch);   // captured: the graph holds the GiB
            int with = buffersUntilOutOfMemory(e);
            assertTrue(with >= without - 1, "64 MiB buffers: " + without + " without a step graph, " + with + " with one");
            float[] x = values(2);
            e.upload(x, 0, in, 0, N);
            assertTrue(step("oom", e, in, out, scratch), "step graphs are off after they were in the way: eager");
            assertArrayEquals(expected(x), download(e, out));
        } finally {
            e.setGraphsEnabled(true);   // step graphs on again for the other tests
        }
    }

    @Test
    void aCaptureThatAllocatesOtherwiseThanItsRecordingRunsEagerly() {
        CudaEngine e = engine();
        try (Buffer in = e.allocate(DType.F32, N); Buffer out = e.allocate(DType.F32, N)) {
            float[] x = values(1);
            e.upload(x, 0, in, 0, N);
            assertTrue(step("otherwise", e, in, out, N));
            e.upload(x, 0, out, 0, N);   // garbage in out: the capture must not leave it unwritten
            assertTrue(step("otherwise", e, in, out, 2 * N), "the capture asked for other memory: eager");
            assertArrayEquals(expected(x), download(e, out));
            assertTrue(step("otherwise", e, in, out, 2 * N), "captured on the new recording");
            assertFalse(step("otherwise", e, in, out, 2 * N), "replayed");
            assertArrayEquals(expected(x), download(e, out));
        }
    }
}
