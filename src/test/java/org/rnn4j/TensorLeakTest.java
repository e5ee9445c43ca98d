package org.rnn4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.rnn4j.engine.Buffer;
import org.rnn4j.engine.Engine;
import org.rnn4j.train.Adam;
import org.rnn4j.train.Embedding;
import org.rnn4j.train.Linear;

/** Tensors own their memory on every path: a failed upload frees the block it was going into; sizes are checked. */
class TensorLeakTest {

    /** A CPU engine whose uploads fail (as a failed host-to-device copy would), recording every buffer it allocates. */
    private static final class FailingUploads {
        final List<Buffer> allocated = new ArrayList<>();
        final Device device = Device.cpu().withEngine(real -> {
            return (Engine) Proxy.newProxyInstance(Engine.class.getClassLoader(), new Class<?>[] {Engine.class},
                    (proxy, method, args) -> {
                        if (method.getName().equals("upload")) {
                            throw new IllegalStateException("upload failed (simulated)");
                        }
                        try {
                            Object r = method.invoke(real, args);
                            if (r instanceof Buffer b) {
                                allocated.add(b);
                            }
                            return r;
                        } catch (InvocationTargetException e) {
                            throw e.getCause();
                        }
                    });
        });
    }

    @Test
    void aFailedUploadFreesTheNewTensor() {
        FailingUploads f = new FailingUploads();
        assertThrows(IllegalStateException.class, () -> Tensor.of(f.device, new float[] {1f, 2f}, 2));
        assertThrows(IllegalStateException.class, () -> Tensor.ofInts(f.device, new int[] {1, 2, 3}, 3));
        assertEquals(2, f.allocated.size());
        for (Buffer b : f.allocated) {
            assertTrue(b.isClosed(), "the tensor's buffer was not freed");
        }
    }

    @Test
    void nullsAndOversizedShapesAreNamed() {
        Device cpu = Device.cpu();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(null, 2));
        assertEquals("device: expected a device, got null", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Tensor.of(cpu, null, 2));
        assertEquals("data: expected an array of values, got null", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(cpu, (int[]) null));
        assertEquals("shape: expected dimensions, got null", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(cpu, 1 << 16, 1 << 16));
        assertTrue(e.getMessage().startsWith("shape: [65536, 65536] has more elements than a tensor holds")
                && e.getMessage().endsWith("it would need 17179869184 bytes"), e.getMessage());
        // a product that overflows a long is still a clear refusal
        e = assertThrows(IllegalArgumentException.class,
                () -> Tensor.zeros(cpu, Integer.MAX_VALUE, Integer.MAX_VALUE, Integer.MAX_VALUE, 0, -1));
        assertTrue(e.getMessage().startsWith("shape: expected dimensions >= 0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Tensor.zeros(cpu, Integer.MAX_VALUE, Integer.MAX_VALUE, Integer.MAX_VALUE));
        assertTrue(e.getMessage().startsWith("shape: [2147483647, 2147483647, 2147483647] has more elements"), e.getMessage());
    }

    /**
     * A forward that starts while another thread's copyFrom is halfway through a weight (version bumped, contents half
     * old) is refused by name; it used to run on the mixed weights and be accepted (ConcurrentRacesTest failed so on a
     * loaded machine, the writer preempted between its bump and its copy), and the CPU's inference path kept W_hh's
     * panels of those contents under the new version.
     */
    @Test
    void aForwardStartedDuringAWriteIsRefused() {
        for (boolean eval : new boolean[] {false, true}) {
            try (RecurrentLayer layer = Lstm.builder(3, 4).seed(1).build(Device.cpu());
                 Tensor x = Tensor.of(Device.cpu(), new float[] {1f, 2f, 3f, 4f, 5f, 6f}, 2, 1, 3)) {
                if (eval) {
                    layer.eval();
                }
                Tensor w = layer.parameters().get("weight_hh_l0");
                w.beginWrite();   // what copyFrom on another thread is doing at this moment
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> layer.forward(x).close());
                assertTrue(e.getMessage().contains("[weight_hh_l0] were being written"), e.getMessage());
                w.endWrite();
                layer.forward(x).close();
            }
        }
    }

    @Test
    void aLinearForwardOrBackwardStartedDuringAWriteIsRefused() {
        try (Linear head = new Linear(3, 2, true, 1, Device.cpu());
             Tensor x = Tensor.of(Device.cpu(), new float[] {1f, 2f, 3f, 4f, 5f, 6f}, 2, 3);
             Tensor dY = Tensor.of(Device.cpu(), new float[] {1f, -1f, 0.5f, 2f}, 2, 2)) {
            Tensor bias = head.parameters().get("bias");
            bias.beginWrite();   // what copyFrom on another thread is doing at this moment
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> head.forward(x).close());
            assertTrue(e.getMessage().contains("[bias] were being written") && e.getMessage().contains("forward"),
                    e.getMessage());
            bias.endWrite();
            head.forward(x).close();
            Tensor weight = head.parameters().get("weight");
            weight.beginWrite();
            e = assertThrows(IllegalStateException.class, () -> head.backward(x, dY).close());
            assertTrue(e.getMessage().contains("[weight] were being written") && e.getMessage().contains("backward"),
                    e.getMessage());
            weight.endWrite();
        }
    }

    @Test
    void anEmbeddingForwardStartedDuringAWriteIsRefused() {
        try (Embedding table = new Embedding(5, 3, 1, Device.cpu())) {
            Tensor w = table.parameters().get("weight");
            w.beginWrite();   // what copyFrom on another thread is doing at this moment
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> table.forward(new int[] {1, 4}, 2, 1).close());
            assertTrue(e.getMessage().contains("[weight] were being written"), e.getMessage());
            w.endWrite();
            table.forward(new int[] {1, 4}, 2, 1).close();
        }
    }

    /** An optimizer step marks its parameters as being written until it has waited for its updates. */
    @Test
    void aForwardDuringAnOptimizerStepIsRefused() {
        List<RuntimeException> seen = new ArrayList<>();
        RecurrentLayer[] layer = new RecurrentLayer[1];
        Tensor[] input = new Tensor[1];
        Device device = Device.cpu().withEngine(real -> (Engine) Proxy.newProxyInstance(Engine.class.getClassLoader(),
                new Class<?>[] {Engine.class}, (proxy, method, args) -> {
                    if (method.getName().equals("adamStep") && seen.isEmpty()) {
                        try {   // another thread's forward, at the moment the update runs
                            layer[0].forward(input[0]).close();
                            seen.add(new IllegalStateException("forward ran"));
                        } catch (RuntimeException e) {
                            seen.add(e);
                        }
                    }
                    try {
                        return method.invoke(real, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                }));
        try (RecurrentLayer l = Gru.builder(3, 2).seed(1).build(device);
             Tensor x = Tensor.of(device, new float[] {1f, 2f, 3f}, 1, 1, 3);
             Adam adam = new Adam(List.of(l), 1e-2)) {
            layer[0] = l;
            input[0] = x;
            adam.step();
            assertEquals(1, seen.size());
            assertTrue(seen.get(0).getMessage().contains("were being written"), seen.get(0).getMessage());
            l.forward(x).close();   // after the step
        }
    }

    @Test
    void inPlaceWritesBumpTheVersion() {
        try (Tensor t = Tensor.of(Device.cpu(), new float[] {1f, 2f}, 2)) {
            assertEquals(0, t.version());
            t.fill(3f);
            t.copyFrom(new float[] {4f, 5f});
            t.bufferForWrite();
            assertEquals(5, t.version(), "fill and copyFrom bump before and after their write");
            t.toHost();
            t.buffer();
            assertEquals(5, t.version(), "reads do not count");
        }
    }
}
