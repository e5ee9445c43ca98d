package org.rnn4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.rnn4j.engine.Engine;

/**
 * A stacked backward takes a second scratch set only where the engine overlaps when it begins; an engine that
 * starts overlapping halfway through (another thread's {@code setStreams(2)}) must not run the layers' weight
 * gradients beside the BPTT below them, which writes the one set they read.
 */
class OverlapDecisionTest {

    /**
     * The CPU engine, except that {@link Engine#overlaps} answers false {@code falseCalls} times and true after, and
     * {@link Engine#concurrently} runs its main part before its side part: a legal order on two streams, the worst
     * one for a side part that reads what the main part overwrites.
     */
    private static Device overlappingFrom(int falseCalls) {
        AtomicInteger asked = new AtomicInteger();
        return Device.cpu().withEngine(real -> (Engine) Proxy.newProxyInstance(Engine.class.getClassLoader(),
                new Class<?>[] {Engine.class}, (proxy, method, args) -> {
                    if (method.getName().equals("overlaps")) {
                        return asked.getAndIncrement() >= falseCalls;
                    }
                    if (method.getName().equals("concurrently")) {
                        ((Runnable) args[1]).run();
                        ((Runnable) args[0]).run();
                        return null;
                    }
                    try {
                        return method.invoke(real, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                }));
    }

    private static Map<String, float[]> gradients(Device device) {
        try (RecurrentLayer layer = Lstm.builder(3, 4).numLayers(3).seed(2).build(device);
             Tensor x = Tensor.of(device, new float[] {0.5f, -1f, 2f, 1f, 0f, -0.5f, 1.5f, 0.25f, -2f, 0.75f, 1f, -1f},
                     2, 2, 3)) {
            try (ForwardResult f = layer.forward(x);
                 Tensor dY = Tensor.of(device, new float[] {1f, -1f, 0.5f, 2f, 0f, 1f, -0.5f, 0.25f,
                         1f, 1f, -2f, 0.5f, 0.5f, -1f, 1f, 0f}, 2, 2, 4);
                 BackwardResult b = layer.backward(f, dY, null, null)) {
                Map<String, float[]> out = new LinkedHashMap<>();
                layer.gradients().forEach((k, v) -> out.put(k, v.toHost()));
                out.put("dX", b.dX().toHost());
                return out;
            }
        }
    }

    @Test
    void anOverlapSwitchedOnDuringABackwardLeavesItsGradientsAlone() {
        Map<String, float[]> want = gradients(Device.cpu());
        for (int falseCalls : new int[] {0, 1, 2, 4}) {   // overlapping from the start, or from later calls on
            Map<String, float[]> got = gradients(overlappingFrom(falseCalls));
            want.forEach((k, v) -> assertArrayEquals(v, got.get(k), k + " (overlaps() false " + falseCalls + " times)"));
        }
    }
}
