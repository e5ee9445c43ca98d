package org.rnn4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The caching pool over a fake device with a fixed capacity: no GPU needed. */
class DevicePoolTest {

    /** A device of {@code capacity} bytes that hands out increasing addresses and counts calls. */
    static final class FakeDevice implements DevicePool.Allocator {
        final long capacity;
        final Map<Long, Long> live = new HashMap<>();
        long used;
        long next = 0x7f0000000000L;
        int allocations;
        int frees;
        int failedAllocations;

        FakeDevice(long capacity) {
            this.capacity = capacity;
        }

        @Override
        public long allocate(long bytes) {
            if (used + bytes > capacity) {
                failedAllocations++;
                throw new DevicePool.OutOfMemory("cuMemAlloc(" + bytes + "): CUDA_ERROR_OUT_OF_MEMORY");
            }
            long a = next;
            next += bytes + 4096;
            used += bytes;
            live.put(a, bytes);
            allocations++;
            return a;
        }

        @Override
        public void free(long address) {
            Long bytes = live.remove(address);
            if (bytes == null) {
                throw new IllegalStateException("double free of " + address);
            }
            used -= bytes;
            frees++;
        }
    }

    @Test
    void sizeClassesRoundUpTo512ThenEightStepsPerPowerOfTwo() {
        assertEquals(512, DevicePool.sizeClass(0));
        assertEquals(512, DevicePool.sizeClass(1));
        assertEquals(512, DevicePool.sizeClass(512));
        assertEquals(1024, DevicePool.sizeClass(513));
        assertEquals(1 << 20, DevicePool.sizeClass((1 << 20) - 100));
        // (1 MiB, 2 MiB]: steps of 128 KiB
        assertEquals((1 << 20) + (128 << 10), DevicePool.sizeClass((1 << 20) + 1));
        assertEquals(2 << 20, DevicePool.sizeClass((2 << 20) - 1));
        // (64 MiB, 128 MiB]: steps of 8 MiB
        assertEquals(72L << 20, DevicePool.sizeClass((64L << 20) + 1));
        for (long bytes = 1; bytes < (1L << 34); bytes = bytes * 3 + 7) {
            long c = DevicePool.sizeClass(bytes);
            assertTrue(c >= bytes, "class " + c + " below request " + bytes);
            assertEquals(0, c % DevicePool.ALIGNMENT, "class " + c + " not aligned");
            assertTrue(c <= Math.max(DevicePool.ALIGNMENT, bytes + bytes / 8 + DevicePool.ALIGNMENT),
                    "class " + c + " wastes more than 12.5% of " + bytes);
        }
        assertThrows(IllegalArgumentException.class, () -> DevicePool.sizeClass(-1));
    }

    @Test
    void releasedBlocksAreReusedForTheSameClassWithoutNewAllocations() {
        FakeDevice dev = new FakeDevice(1 << 30);
        DevicePool pool = new DevicePool(dev);
        // one "training step": a fixed sequence of requests, released at its end
        for (int step = 0; step < 5; step++) {
            DevicePool.Block a = pool.acquire(1000);
            DevicePool.Block b = pool.acquire(1000);
            DevicePool.Block c = pool.acquire(3 << 20);
            assertNotEquals(a.address, b.address);
            assertEquals(1024 + 1024 + (3L << 20), pool.bytesInUse());
            pool.release(a);
            pool.release(b);
            pool.release(c);
            assertEquals(0, pool.bytesInUse());
            assertEquals(1024 + 1024 + (3L << 20), pool.bytesCached());
        }
        assertEquals(3, dev.allocations, "steps after the first must not allocate");
        assertEquals(3, pool.rawAllocations());
        assertEquals(0, dev.frees);
    }

    @Test
    void aBlockOfAnotherClassIsNotReused() {
        FakeDevice dev = new FakeDevice(1 << 30);
        DevicePool pool = new DevicePool(dev);
        DevicePool.Block small = pool.acquire(100);
        pool.release(small);
        DevicePool.Block big = pool.acquire(5000);
        assertEquals(2, dev.allocations);
        assertEquals(512, pool.bytesCached());
        pool.release(big);
        DevicePool.Block again = pool.acquire(200);   // same class as the first: reused
        assertSame(small, again);
        assertEquals(2, dev.allocations);
    }

    @Test
    void releasingTwiceIsRefused() {
        DevicePool pool = new DevicePool(new FakeDevice(1 << 20));
        DevicePool.Block b = pool.acquire(10);
        pool.release(b);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> pool.release(b));
        assertTrue(e.getMessage().contains("not in use"), e.getMessage());
    }

    @Test
    void releaseCachedFreesOnlyCachedBlocks() {
        FakeDevice dev = new FakeDevice(1 << 30);
        DevicePool pool = new DevicePool(dev);
        DevicePool.Block kept = pool.acquire(4096);
        DevicePool.Block dropped = pool.acquire(8192);
        pool.release(dropped);
        pool.releaseCached();
        assertEquals(1, dev.frees);
        assertEquals(0, pool.bytesCached());
        assertEquals(4096, pool.bytesInUse());
        assertTrue(dev.live.containsKey(kept.address));
        assertEquals(4096, dev.used);
    }

    @Test
    void outOfMemoryReleasesTheCacheAndRetriesOnce() {
        FakeDevice dev = new FakeDevice(10 * 1024);
        DevicePool pool = new DevicePool(dev);
        DevicePool.Block a = pool.acquire(4096);
        DevicePool.Block b = pool.acquire(4096);
        pool.release(a);
        pool.release(b);            // 8 KiB cached, 2 KiB free on the device
        DevicePool.Block c = pool.acquire(6000);   // class 6144: fails, cache released, retry succeeds
        assertEquals(1, dev.failedAllocations);
        assertEquals(2, dev.frees);
        assertEquals(0, pool.bytesCached());
        assertEquals(6144, pool.bytesInUse());
        assertEquals(6144, c.size);
    }

    @Test
    void outOfMemoryAfterTheRetryNamesTheCallTheRequestAndThePool() {
        FakeDevice dev = new FakeDevice(10 * 1024);
        DevicePool pool = new DevicePool(dev);
        DevicePool.Block held = pool.acquire(8000);     // 8192 in use
        DevicePool.Block cached = pool.acquire(1000);   // 1024, then cached
        pool.release(cached);
        CudaException e = assertThrows(CudaException.class, () -> pool.acquire(5000));
        assertEquals("cuMemAlloc", e.call());
        assertEquals("CUDA_ERROR_OUT_OF_MEMORY", e.status());
        String m = e.getMessage();
        assertTrue(m.contains("cuMemAlloc"), m);
        assertTrue(m.contains("5000 bytes"), m);
        assertTrue(m.contains("8192 bytes in use in 1 blocks"), m);
        assertTrue(m.contains("after releasing 1024 cached bytes"), m);
        assertEquals(2, dev.failedAllocations, "exactly one retry");
        assertEquals(8192, pool.bytesInUse());
        assertTrue(dev.live.containsKey(held.address));
    }

    @Test
    void outOfMemoryWithNothingCachedDoesNotRetry() {
        FakeDevice dev = new FakeDevice(1024);
        DevicePool pool = new DevicePool(dev);
        CudaException e = assertThrows(CudaException.class, () -> pool.acquire(4096));
        assertEquals(1, dev.failedAllocations);
        assertTrue(e.getMessage().contains("nothing cached"), e.getMessage());
    }

    @Test
    void closeFreesEverythingAndLaterReleasesDoNothing() {
        FakeDevice dev = new FakeDevice(1 << 30);
        DevicePool pool = new DevicePool(dev);
        DevicePool.Block inUse = pool.acquire(100);
        DevicePool.Block cached = pool.acquire(100_000);
        pool.release(cached);
        pool.close();
        assertTrue(dev.live.isEmpty());
        assertEquals(0, dev.used);
        assertEquals(0, pool.bytesInUse());
        assertEquals(0, pool.bytesCached());
        pool.release(inUse);   // a buffer closed after its engine: harmless
        pool.close();          // idempotent
        assertEquals(2, dev.frees);
        assertThrows(IllegalStateException.class, () -> pool.acquire(1));
    }
}
