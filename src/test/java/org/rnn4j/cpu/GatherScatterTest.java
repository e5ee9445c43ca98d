package org.rnn4j.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import org.junit.jupiter.api.Test;
import org.rnn4j.Device;
import org.rnn4j.Tensor;
import org.rnn4j.engine.Engine;

/** Row gather and its scatter-add backward, with repeated indices and offsets. */
class GatherScatterTest {
    private final Device cpu = Device.cpu();

    @Test
    void gatherCopiesTheIndexedRows() {
        Engine e = cpu.engine();
        float[] table = {0, 1, 10, 11, 20, 21, 30, 31};            // 4 rows x 2
        try (Tensor t = Tensor.of(cpu, table, 4, 2); Tensor idx = Tensor.ofInts(cpu, new int[] {9, 3, 0, 3}, 4);
             Tensor out = Tensor.zeros(cpu, 3, 2)) {
            e.gatherRows(3, 2, idx.buffer(), 1, t.buffer(), 0, out.buffer(), 0);
            assertArrayEquals(new float[] {30, 31, 0, 1, 30, 31}, out.toHost());
        }
    }

    @Test
    void scatterAddAccumulatesRepeatedRowsInOrder() {
        Engine e = cpu.engine();
        try (Tensor table = Tensor.zeros(cpu, 4, 2); Tensor idx = Tensor.ofInts(cpu, new int[] {3, 0, 3}, 3);
             Tensor src = Tensor.of(cpu, new float[] {1, 2, 3, 4, 5, 6}, 3, 2)) {
            table.fill(1f);
            e.scatterAddRows(3, 2, idx.buffer(), 0, src.buffer(), 0, table.buffer(), 0);
            assertArrayEquals(new float[] {4, 5, 1, 1, 1, 1, 7, 9}, table.toHost());
        }
    }
}
