package org.rnn4j.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.rnn4j.Device;
import org.rnn4j.ForwardResult;
import org.rnn4j.Lstm;
import org.rnn4j.RecurrentLayer;
import org.rnn4j.Tensor;

/** The CPU engine's thread count: {@code rnn4j.threads}, {@link CpuEngine#setThreads}, bad values refused. */
class CpuThreadsTest {

    @AfterEach
    void restore() {
        System.clearProperty("rnn4j.threads");
        CpuGemm.clearThreads();
    }

    @Test
    void aBadPropertyIsRefusedNamingItAndTheValue() {
        for (String bad : new String[] {"abc", "0", "-2", "", "1.5", "99999999999"}) {
            System.setProperty("rnn4j.threads", bad);
            String expected = "system property rnn4j.threads: expected a whole number >= 1 (the CPU engine's threads), "
                    + "got '" + bad + "'";
            assertEquals(expected, assertThrows(IllegalArgumentException.class, Device::cpu).getMessage());
            assertEquals(expected, assertThrows(IllegalArgumentException.class, CpuEngine::threads).getMessage());
            float[] a = new float[256 * 256], c = new float[256 * 256];   // large enough to be split over threads
            assertEquals(expected, assertThrows(IllegalArgumentException.class,
                    () -> CpuGemm.sgemm(false, false, 256, 256, 256, 1, a, 0, 256, a, 0, 256, 0, c, 0, 256)).getMessage());
        }
    }

    @Test
    void thePropertyDecidesUntilSetThreadsOverridesIt() {
        assertEquals(Runtime.getRuntime().availableProcessors(), CpuEngine.threads());
        System.setProperty("rnn4j.threads", " 3 ");
        assertEquals(3, CpuEngine.threads());
        assertEquals(3, Integer.parseInt(Device.cpu().engine().describe().replaceAll("^cpu: pure Java, (\\d+) threads.*", "$1")));
        CpuEngine.setThreads(1);
        assertEquals(1, CpuEngine.threads());
        System.setProperty("rnn4j.threads", "abc");   // no longer consulted
        assertEquals(1, CpuEngine.threads());
        assertEquals("threads: expected >= 1, got 0",
                assertThrows(IllegalArgumentException.class, () -> CpuEngine.setThreads(0)).getMessage());
        assertEquals(1, CpuEngine.threads());
    }

    /** Products and cell steps large enough to run in parallel give the same bits on 1, 2 and 3 threads. */
    @Test
    void resultsDoNotDependOnTheThreadCount() {
        Device cpu = Device.cpu();
        int t = 6, b = 64, in = 32, h = 256;   // b * h = 16384 units: the cell steps run on the pool
        SplittableRandom r = new SplittableRandom(5);
        float[] xv = new float[t * b * in];
        for (int i = 0; i < xv.length; i++) {
            xv[i] = (float) r.nextDouble(-1, 1);
        }
        float[][] reference = null;
        for (int threads = 1; threads <= 3; threads++) {
            CpuEngine.setThreads(threads);
            try (RecurrentLayer layer = Lstm.builder(in, h).seed(9).build(cpu); Tensor x = Tensor.of(cpu, xv, t, b, in);
                 ForwardResult f = layer.forward(x)) {
                layer.backward(f, f.output(), null, null).close();
                float[][] got = {f.output().toHost(), layer.gradients().get("weight_hh_l0").toHost()};
                if (reference == null) {
                    reference = got;
                } else {
                    assertArrayEquals(reference[0], got[0], 0f, threads + " threads: output");
                    assertArrayEquals(reference[1], got[1], 0f, threads + " threads: weight_hh_l0 gradient");
                }
            }
        }
    }
}
