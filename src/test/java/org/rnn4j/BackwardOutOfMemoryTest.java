package org.rnn4j;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Running out of device memory inside {@code backward} leaves the parameter gradients as they were, and
 * the same forward result can then be backpropagated (no gradient added twice). The stand-in's memory
 * cap is filled with 256 KiB tensors and a few are given back before each backward, sweeping the
 * budget across everything the backward allocates.
 */
class BackwardOutOfMemoryTest {
    private static final int CHUNK = 1 << 16;   // floats: 256 KiB

    private static boolean outOfMemory(RuntimeException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (String.valueOf(t.getMessage()).contains("OUT_OF_MEMORY")) {
                return true;
            }
        }
        return false;
    }

    /** Fills the device with 16 MiB tensors ({@code bulk}), then with {@link #CHUNK}s ({@code chunks}). */
    private static void fill(Device device, List<Tensor> bulk, List<Tensor> chunks) {
        for (int size : new int[] {64 * CHUNK, CHUNK}) {
            while (true) {
                try {
                    (size == CHUNK ? chunks : bulk).add(Tensor.zeros(device, size));
                } catch (RuntimeException e) {
                    if (!outOfMemory(e)) {
                        throw e;
                    }
                    break;
                }
            }
        }
    }

    private static Map<String, float[]> grads(RecurrentLayer layer) {
        Map<String, float[]> out = new LinkedHashMap<>();
        layer.gradients().forEach((k, v) -> out.put(k, v.toHost()));
        return out;
    }

    @Test
    void outOfMemoryInBackwardAddsNoGradientAndTheRetryAddsThemOnce() {
        String reason = Devices.cudaUnusableReason();
        assumeTrue(reason == null, reason);
        Device device = Device.cuda();
        int steps = 40;
        int batch = 16;
        SplittableRandom r = new SplittableRandom(3);
        float[] x = NoSilentWrongAnswersTest.uniform(r, steps * batch * 32);
        float[] dy = NoSilentWrongAnswersTest.uniform(r, steps * batch * 128);
        List<Tensor> bulk = new ArrayList<>();
        List<Tensor> chunks = new ArrayList<>();
        int failures = 0;
        try (RecurrentLayer layer = Lstm.builder(32, 64).numLayers(2).bidirectional(true).seed(5).build(device);
             Tensor xt = Tensor.of(device, x, steps, batch, 32);
             Tensor dyt = Tensor.of(device, dy, steps, batch, 128)) {
            Map<String, float[]> expected;
            try (ForwardResult f = layer.forward(xt, null, null, null)) {
                layer.backward(f, dyt, null, null).close();
                expected = grads(layer);
            }
            for (int budget = 0; budget <= 24; budget++) {
                layer.zeroGrad();
                try (ForwardResult f = layer.forward(xt, null, null, null)) {
                    fill(device, bulk, chunks);
                    for (int i = 0; i < budget && !chunks.isEmpty(); i++) {
                        chunks.remove(chunks.size() - 1).close();
                    }
                    try {
                        layer.backward(f, dyt, null, null).close();
                    } catch (RuntimeException e) {
                        if (!outOfMemory(e)) {
                            throw e;
                        }
                        failures++;
                        chunks.forEach(Tensor::close);
                        chunks.clear();
                        for (Map.Entry<String, float[]> g : grads(layer).entrySet()) {
                            Close.assertClose("budget " + budget + ": " + g.getKey() + " after the failed backward",
                                    new float[g.getValue().length], g.getValue(), 0, 0);
                        }
                        layer.backward(f, dyt, null, null).close();
                    }
                    chunks.forEach(Tensor::close);
                    chunks.clear();
                    Map<String, float[]> got = grads(layer);
                    int b = budget;
                    expected.forEach((k, v) -> Close.assertClose("budget " + b + ": " + k, v, got.get(k), 1e-6, 1e-6));
                }
            }
        } finally {
            chunks.forEach(Tensor::close);
            bulk.forEach(Tensor::close);
        }
        assertTrue(failures > 0, "no budget made backward run out of memory: the test did not test anything");
    }

    @Test
    void constructorsAndLoadersThatRunOutOfMemoryLeakNothing(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws java.io.IOException {
        String reason = Devices.cudaUnusableReason();
        assumeTrue(reason == null, reason);
        Device device = Device.cuda();
        org.rnn4j.cuda.CudaEngine engine = (org.rnn4j.cuda.CudaEngine) device.engine();
        java.nio.file.Path file = dir.resolve("m.safetensors");
        java.util.function.Supplier<org.rnn4j.model.SequenceModel.Builder> model = () -> org.rnn4j.model.SequenceModel
                .builder(org.rnn4j.model.Task.CLASSIFICATION).embedding(4000, 256).recurrent(Lstm.builder(256, 256))
                .outputs(4000);
        try (org.rnn4j.model.SequenceModel m = model.get().build(Device.cpu())) {
            m.save(file);
        }
        List<Tensor> bulk = new ArrayList<>();
        List<Tensor> chunks = new ArrayList<>();
        int failures = 0;
        try {
            // each needs about 4 MiB per tensor, 10 tensors; give back 0 .. 48 chunks of 256 KiB
            for (int budget = 0; budget <= 48; budget += 3) {
                fill(device, bulk, chunks);
                for (int i = 0; i < budget && !chunks.isEmpty(); i++) {
                    chunks.remove(chunks.size() - 1).close();
                }
                long before = engine.bytesInUse();
                for (int what = 0; what < 3; what++) {
                    try {
                        switch (what) {
                            case 0 -> new org.rnn4j.train.Linear(1024, 1024, true, 1, device).close();
                            case 1 -> org.rnn4j.model.SequenceModel.load(file, device).close();
                            default -> model.get().build(device).close();
                        }
                    } catch (RuntimeException e) {
                        if (!outOfMemory(e)) {
                            throw e;
                        }
                        failures++;
                    }
                    assertTrue(before == engine.bytesInUse(), "budget " + budget + ", case " + what + ": "
                            + (engine.bytesInUse() - before) + " bytes left allocated");
                }
                chunks.forEach(Tensor::close);
                chunks.clear();
            }
        } finally {
            chunks.forEach(Tensor::close);
            bulk.forEach(Tensor::close);
        }
        assertTrue(failures > 0, "nothing ran out of memory: the test did not test anything");
    }
}
