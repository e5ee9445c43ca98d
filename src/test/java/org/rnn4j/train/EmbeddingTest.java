package org.rnn4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.rnn4j.Device;
import org.rnn4j.Tensor;

class EmbeddingTest {
    private final Device cpu = Device.cpu();

    @Test
    void paddingRowIsZeroAndGetsNoGradient() {
        try (Embedding e = new Embedding(5, 3, 0, 1, cpu)) {
            float[] w = e.parameters().get("weight").toHost();
            assertArrayEquals(new float[3], java.util.Arrays.copyOfRange(w, 0, 3));
            int[] ids = {0, 2, 2, 0};   // [T=2, B=2]
            try (Tensor out = e.forward(ids, 2, 2);
                 Tensor d = Tensor.of(cpu, new float[] {1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4}, 2, 2, 3)) {
                assertArrayEquals(new float[3], java.util.Arrays.copyOfRange(out.toHost(), 0, 3));
                e.backward(ids, d);
            }
            float[] g = e.gradients().get("weight").toHost();
            assertArrayEquals(new float[] {0, 0, 0, 0, 0, 0, 5, 5, 5}, java.util.Arrays.copyOfRange(g, 0, 9));
        }
    }

    @Test
    void forwardAndBackwardNameABadId() {
        try (Embedding e = new Embedding(4, 2, 1, cpu);
             Tensor d = Tensor.zeros(cpu, 2, 1, 2)) {
            IllegalArgumentException f = assertThrows(IllegalArgumentException.class, () -> e.forward(new int[] {1, 4}, 2, 1));
            assertTrue(f.getMessage().contains("ids[1]") && f.getMessage().contains("got 4"), f.getMessage());
            // backward checks too: on CUDA an unchecked id is a write outside the gradient buffer
            IllegalArgumentException b = assertThrows(IllegalArgumentException.class, () -> e.backward(new int[] {-1, 0}, d));
            assertTrue(b.getMessage().contains("ids[0]") && b.getMessage().contains("got -1"), b.getMessage());
            assertThrows(IllegalArgumentException.class, () -> e.backward(new int[] {0, 1, 2}, d));
            assertEquals(0.0, e.gradients().get("weight").toHost()[0]);
            assertThrows(IllegalArgumentException.class, () -> new Embedding(4, 2, 4, 1, cpu));
        }
    }
}
