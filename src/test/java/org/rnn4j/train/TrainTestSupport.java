package org.rnn4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.rnn4j.Device;
import org.rnn4j.HasParameters;
import org.rnn4j.Tensor;

/** Shared helpers of the training tests: devices to run on, seeded data, one closeness assertion. */
final class TrainTestSupport {
    private TrainTestSupport() {
    }

    /** The CPU, plus CUDA device 0 where it is usable (the CUDA engine is exercised by the same tests). */
    static List<Device> devices() {
        List<Device> out = new ArrayList<>();
        out.add(Device.cpu());
        try {
            Device gpu = Device.cuda();
            gpu.engine();
            out.add(gpu);
        } catch (RuntimeException | LinkageError e) {
            // no usable GPU here: CPU only
        }
        return out;
    }

    static float[] uniform(long seed, int n, double lo, double hi) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextDouble(lo, hi);
        }
        return v;
    }

    /**
     * Checks {@code |got − want| <= atol + rtol·|want|} elementwise, lengths first; reports the first bad
     * index, both values and the maximum difference.
     */
    static void assertClose(String what, double[] want, float[] got, double atol, double rtol) {
        if (want.length != got.length) {
            fail(what + ": expected " + want.length + " values, got " + got.length);
        }
        int bad = -1;
        double maxDiff = 0;
        for (int i = 0; i < want.length; i++) {
            double d = Math.abs(got[i] - want[i]);
            if (!(d <= atol + rtol * Math.abs(want[i]))) {
                if (bad < 0) {
                    bad = i;
                }
            }
            maxDiff = Math.max(maxDiff, Double.isNaN(d) ? Double.POSITIVE_INFINITY : d);
        }
        if (bad >= 0) {
            fail(what + ": first mismatch at " + bad + ": expected " + want[bad] + ", got " + got[bad]
                    + " (max |diff| " + maxDiff + ", atol " + atol + ", rtol " + rtol + ")");
        }
    }

    static void assertClose(String what, float[] want, float[] got, double atol, double rtol) {
        assertClose(what, toDouble(want), got, atol, rtol);
    }

    static double[] toDouble(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            d[i] = v[i];
        }
        return d;
    }

    /** Host copies of all parameters, by name. */
    static Map<String, float[]> snapshot(HasParameters m) {
        Map<String, float[]> out = new LinkedHashMap<>();
        m.parameters().forEach((k, t) -> out.put(k, t.toHost()));
        return out;
    }

    static Map<String, float[]> gradSnapshot(HasParameters m) {
        Map<String, float[]> out = new LinkedHashMap<>();
        m.gradients().forEach((k, t) -> out.put(k, t.toHost()));
        return out;
    }

    /** Bit-exact equality of two snapshots. */
    static void assertSameParameters(Map<String, float[]> want, Map<String, float[]> got) {
        assertEquals(want.keySet(), got.keySet());
        for (String k : want.keySet()) {
            assertArrayEquals(want.get(k), got.get(k), 0f, k);
        }
    }

    /** A single parameter tensor with a gradient that the test sets, for optimizer and clipping tests. */
    static final class Param implements HasParameters, AutoCloseable {
        final Tensor value;
        final Tensor grad;
        private final String name;

        Param(Device device, String name, float[] init) {
            this.name = name;
            this.value = Tensor.of(device, init, init.length);
            this.grad = Tensor.zeros(device, init.length);
        }

        @Override
        public Map<String, Tensor> parameters() {
            return Map.of(name, value);
        }

        @Override
        public Map<String, Tensor> gradients() {
            return Map.of(name, grad);
        }

        @Override
        public void close() {
            value.close();
            grad.close();
        }
    }
}
