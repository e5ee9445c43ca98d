package org.rnn4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.rnn4j.train.Embedding;

/**
 * Inputs staged on the device ({@link DeviceInts}): a forward over them is the forward over the same {@code int[]},
 * their host copy is checked as an {@code int[]} would be, and a backward after they were set again is refused.
 */
class DeviceIntsTest {

    private static Tensor input(Device d, int steps, int batch, int in) {
        SplittableRandom r = new SplittableRandom(3);
        float[] x = new float[steps * batch * in];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextDouble(-1, 1);
        }
        return Tensor.of(d, x, steps, batch, in);
    }

    @Test
    void stagedLengthsGiveTheBitsOfTheArrayAndAreChecked() {
        Device cpu = Device.cpu();
        int[] lengths = {3, 1, 2};
        try (RecurrentLayer layer = Lstm.builder(2, 3).seed(1).build(cpu);
             Tensor x = input(cpu, 3, 3, 2);
             DeviceInts staged = DeviceInts.of(cpu, lengths);
             ForwardResult a = layer.forward(x, lengths, null, null);
             ForwardResult b = layer.forwardStaged(x, staged, null, null, null)) {
            assertArrayEquals(a.output().toHost(), b.output().toHost());
            assertArrayEquals(a.hN().toHost(), b.hN().toHost());
            staged.set(new int[] {3, 4, 1});
            IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                    () -> layer.forwardStaged(x, staged, null, null, null));
            assertTrue(bad.getMessage().startsWith("lengths[1]"), bad.getMessage());
        }
    }

    @Test
    void aBackwardAfterTheLengthsWereSetAgainIsRefused() {
        Device cpu = Device.cpu();
        try (RecurrentLayer layer = Lstm.builder(2, 3).seed(1).build(cpu);
             Tensor x = input(cpu, 3, 2, 2);
             DeviceInts staged = DeviceInts.of(cpu, new int[] {3, 2});
             ForwardResult f = layer.forwardStaged(x, staged, null, null, null)) {
            staged.set(new int[] {1, 3});
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> layer.backward(f, null, Tensor.zeros(cpu, 1, 2, 3), null));
            assertTrue(e.getMessage().contains("lengths"), e.getMessage());
        }
    }

    /** A staged dropout seed draws the masks of the host seed, forward and backward; a stale one is refused. */
    @Test
    void aStagedDropoutSeedDrawsTheSameMasksAndMustBeTheLayersNext() {
        Device cpu = Device.cpu();
        int[] lengths = {3, 2};
        try (RecurrentLayer a = Lstm.builder(2, 3).numLayers(3).dropout(0.4).seed(5).build(cpu);
             RecurrentLayer b = Lstm.builder(2, 3).numLayers(3).dropout(0.4).seed(5).build(cpu);
             Tensor x = input(cpu, 3, 2, 2);
             Tensor dY = Tensor.of(cpu, new float[3 * 2 * 3], 3, 2, 3);
             DeviceInts len = DeviceInts.of(cpu, lengths);
             DeviceInts seed = DeviceInts.of(cpu, new int[2])) {
            dY.fill(0.5f);
            for (int step = 0; step < 2; step++) {
                b.stageDropoutSeed(seed);
                try (ForwardResult fa = a.forward(x, lengths, null, null);
                     ForwardResult fb = b.forwardStaged(x, len, seed, null, null);
                     BackwardResult ga = a.backward(fa, dY, null, null);
                     BackwardResult gb = b.backward(fb, dY, null, null)) {
                    assertArrayEquals(fa.output().toHost(), fb.output().toHost(), "step " + step);
                    assertArrayEquals(ga.dX().toHost(), gb.dX().toHost(), "step " + step);
                }
            }
            // the seed staged before the last forward is no longer the layer's next one
            IllegalArgumentException stale = assertThrows(IllegalArgumentException.class,
                    () -> b.forwardStaged(x, len, seed, null, null));
            assertTrue(stale.getMessage().startsWith("dropoutSeed: "), stale.getMessage());
            b.stageDropoutSeed(seed);
            try (ForwardResult f = b.forwardStaged(x, len, seed, null, null)) {
                seed.set(new int[] {1, 2});
                IllegalStateException e = assertThrows(IllegalStateException.class,
                        () -> b.backward(f, dY, null, null));
                assertTrue(e.getMessage().contains("dropout seed"), e.getMessage());
            }
        }
    }

    @Test
    void stagedIdsAreCheckedAndLookedUpAsTheArray() {
        Device cpu = Device.cpu();
        int[] ids = {0, 4, 2, 1};
        try (Embedding emb = new Embedding(5, 3, 7, cpu);
             DeviceInts staged = DeviceInts.of(cpu, ids);
             Tensor a = emb.forward(ids, 2, 2);
             Tensor b = emb.forwardStaged(staged, 2, 2)) {
            assertArrayEquals(a.toHost(), b.toHost());
            staged.set(new int[] {0, 5, 2, 1});
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> emb.forwardStaged(staged, 2, 2));
            assertTrue(e.getMessage().startsWith("ids[1]"), e.getMessage());
        }
    }

    @Test
    void setRefusesAnotherCount() {
        try (DeviceInts d = DeviceInts.of(Device.cpu(), new int[] {1, 2})) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> d.set(new int[] {1}));
            assertTrue(e.getMessage().startsWith("values: expected 2"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> d.set(null));
        }
    }
}
