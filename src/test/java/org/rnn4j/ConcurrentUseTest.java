package org.rnn4j;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.rnn4j.engine.ExclusiveUse;

/** Two threads on one layer: the overlapping call fails naming both; no gradient update is ever lost. */
class ConcurrentUseTest {

    @Test
    void anOverlappingCallFailsNamingBothThreadsAndOperations() throws InterruptedException {
        ExclusiveUse use = new ExclusiveUse("LSTM(I=3, H=4) on cpu");
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Thread holder = new Thread(() -> {
            try (ExclusiveUse.Held h = use.enter("backward")) {
                entered.countDown();
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "trainer-1");
        holder.start();
        entered.await();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> use.enter("forward"));
        assertEquals("LSTM(I=3, H=4) on cpu: forward on thread '" + Thread.currentThread().getName()
                + "' while backward on thread 'trainer-1' is running; it is not thread-safe: give each thread its own, "
                + "or synchronize the calls", e.getMessage());
        release.countDown();
        holder.join();
        use.enter("forward").close(); // free again
    }

    @Test
    void twoThreadsTrainingOneLayerNeverLoseAnUpdate() throws InterruptedException {
        Device cpu = Device.cpu();
        int rounds = 30;
        SplittableRandom r = new SplittableRandom(1);
        float[] xv = new float[20 * 8 * 16];
        for (int i = 0; i < xv.length; i++) {
            xv[i] = (float) r.nextDouble(-1, 1);
        }
        AtomicInteger backwards = new AtomicInteger();
        List<Throwable> refused = new CopyOnWriteArrayList<>();
        float[] got;
        try (RecurrentLayer layer = Lstm.builder(16, 32).build(cpu); Tensor x = Tensor.of(cpu, xv, 20, 8, 16)) {
            Runnable train = () -> {
                for (int i = 0; i < rounds; i++) {
                    try (ForwardResult f = layer.forward(x)) {
                        layer.backward(f, f.output(), null, null).close();
                        backwards.incrementAndGet();
                    } catch (IllegalStateException e) {
                        refused.add(e);
                    }
                }
            };
            Thread a = new Thread(train, "trainer-a");
            Thread b = new Thread(train, "trainer-b");
            a.start();
            b.start();
            a.join();
            b.join();
            got = layer.gradients().get("weight_hh_l0").toHost();
        }
        for (Throwable e : refused) {
            assertTrue(e.getMessage().startsWith("LSTM(I=16, H=32) on cpu: ") && e.getMessage().contains("thread 'trainer-"),
                    e.getMessage());
        }
        // the same number of backward passes, one after the other
        try (RecurrentLayer layer = Lstm.builder(16, 32).build(cpu); Tensor x = Tensor.of(cpu, xv, 20, 8, 16)) {
            for (int i = 0; i < backwards.get(); i++) {
                try (ForwardResult f = layer.forward(x)) {
                    layer.backward(f, f.output(), null, null).close();
                }
            }
            assertArrayEquals(layer.gradients().get("weight_hh_l0").toHost(), got, 0f,
                    backwards.get() + " backward passes, " + refused.size() + " refused");
        }
    }
}
