package org.rnn4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The caching pool (split, merge, reuse, out of memory) over a fake device with a fixed capacity: no GPU needed. */
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
    void withoutCachingEveryRequestIsItsOwnExactAllocationFreedOnRelease() {
        FakeDevice dev = new FakeDevice(1 << 20);
        DevicePool pool = new DevicePool(dev, false);
        DevicePool.Block a = pool.acquire(12);
        DevicePool.Block b = pool.acquire(12);
        assertEquals(Map.of(a.address, 12L, b.address, 12L), dev.live);   // no rounding, no shared segment
        assertEquals(24, pool.bytesInUse());
        pool.release(a);
        assertEquals(1, dev.frees);
        assertEquals(0, pool.bytesCached());
        DevicePool.Block c = pool.acquire(0);
        assertEquals(1L, dev.live.get(c.address));   // a zero-byte buffer still gets an address
        pool.release(b);
        pool.release(c);
        assertEquals(0, dev.used);
        assertEquals(0, pool.bytesInUse());
        assertEquals(0, pool.segments());
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

    private static final long MIB = 1L << 20;

    /** The blocks held must lie inside live segments of the fake device and must not overlap. */
    private static void assertDisjointInsideSegments(FakeDevice dev, List<DevicePool.Block> held) {
        List<DevicePool.Block> sorted = new ArrayList<>(held);
        sorted.sort((x, y) -> Long.compare(x.address, y.address));
        for (int i = 0; i < sorted.size(); i++) {
            DevicePool.Block b = sorted.get(i);
            Long segmentBytes = dev.live.get(b.segment);
            assertTrue(segmentBytes != null, b + " in a segment the device does not hold");
            assertTrue(b.address >= b.segment && b.address + b.size() <= b.segment + segmentBytes,
                    b + " outside its segment");
            if (i > 0) {
                DevicePool.Block a = sorted.get(i - 1);
                assertTrue(a.address + a.size() <= b.address, a + " overlaps " + b);
            }
        }
    }

    @Test
    void smallRequestsAreCutFromSharedSegmentsWithoutOverlap() {
        FakeDevice dev = new FakeDevice(1L << 30);
        DevicePool pool = new DevicePool(dev);
        List<DevicePool.Block> held = new ArrayList<>();
        long asked = 0;
        for (int i = 0; i < 100; i++) {
            long bytes = 1 + (i * 7919L) % 40_000;
            DevicePool.Block b = pool.acquire(bytes);
            assertEquals(DevicePool.sizeClass(bytes), b.size());
            held.add(b);
            asked += b.size();
        }
        assertDisjointInsideSegments(dev, held);
        assertEquals(asked, pool.bytesInUse());
        assertEquals((asked + DevicePool.SMALL_SEGMENT - 1) / DevicePool.SMALL_SEGMENT, dev.allocations,
                "small blocks are packed into 2 MiB segments");
        assertEquals(dev.allocations * DevicePool.SMALL_SEGMENT, pool.bytesInUse() + pool.bytesCached());
    }

    @Test
    void aLargeCachedBlockIsSplitForASmallerLargeRequest() {
        FakeDevice dev = new FakeDevice(1L << 30);
        DevicePool pool = new DevicePool(dev);
        DevicePool.Block big = pool.acquire(64 * MIB);
        long segment = big.address;
        pool.release(big);
        DevicePool.Block a = pool.acquire(8 * MIB);
        DevicePool.Block b = pool.acquire(16 * MIB);
        assertEquals(1, dev.allocations, "both cut from the cached 64 MiB");
        assertEquals(segment, a.address);
        assertEquals(segment + 8 * MIB, b.address);
        assertEquals(40 * MIB, pool.bytesCached());
        assertDisjointInsideSegments(dev, List.of(a, b));
        // a rest of at most 1 MiB is not split off a large block: it stays with the block
        pool.release(a);
        DevicePool.Block c = pool.acquire(7 * MIB + 1);   // class 7.5 MiB; rest 0.5 MiB
        assertEquals(segment, c.address);
        assertEquals(8 * MIB, c.size());
        assertEquals(1, dev.allocations);
    }

    @Test
    void releasedNeighboursMergeBackIntoTheWholeSegment() {
        FakeDevice dev = new FakeDevice(1L << 30);
        DevicePool pool = new DevicePool(dev);
        for (int[] order : new int[][] {{0, 1, 2}, {2, 1, 0}, {0, 2, 1}, {1, 0, 2}}) {
            DevicePool.Block[] blocks = {pool.acquire(1000), pool.acquire(3000), pool.acquire(5000)};
            assertEquals(blocks[0].address + 1024, blocks[1].address, "consecutive in one segment");
            assertEquals(blocks[1].address + 3072, blocks[2].address);
            for (int i : order) {
                pool.release(blocks[i]);
            }
            assertEquals(DevicePool.SMALL_SEGMENT, pool.bytesReleasable(), "order " + java.util.Arrays.toString(order));
            assertEquals(1, pool.segments());
            // merged: the whole segment is one free block again, so a request of 2 MiB - 512 fits in it
            DevicePool.Block whole = pool.acquire(DevicePool.SMALL_LIMIT);
            assertEquals(blocks[0].address, whole.address);
            pool.release(whole);
        }
        assertEquals(1, dev.allocations);
        assertEquals(DevicePool.SMALL_SEGMENT, pool.releaseCached());
        assertEquals(1, dev.frees);
        assertEquals(0, pool.bytesCached());
    }

    @Test
    void releasedBlocksAreReusedWithoutNewAllocations() {
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
            assertEquals(DevicePool.SMALL_SEGMENT + (3L << 20), pool.bytesCached());
        }
        assertEquals(2, dev.allocations, "steps after the first must not allocate");
        assertEquals(2, pool.rawAllocations());
        assertEquals(0, dev.frees);
    }

    @Test
    void randomTrafficNeverOverlapsAndGivesEverythingBack() {
        FakeDevice dev = new FakeDevice(1L << 40);
        DevicePool pool = new DevicePool(dev);
        SplittableRandom r = new SplittableRandom(3);
        List<DevicePool.Block> held = new ArrayList<>();
        for (int i = 0; i < 3000; i++) {
            if (held.isEmpty() || r.nextInt(5) < 3) {
                long bytes = r.nextBoolean() ? r.nextLong(1, 300_000) : r.nextLong(1, 40 * MIB);
                DevicePool.Block b = pool.acquire(bytes);
                assertTrue(b.size() >= bytes);
                held.add(b);
            } else {
                pool.release(held.remove(r.nextInt(held.size())));
            }
            if (i % 100 == 0) {
                assertDisjointInsideSegments(dev, held);
                assertEquals(dev.used, pool.bytesInUse() + pool.bytesCached(), "every byte of a segment is in a block");
            }
        }
        for (DevicePool.Block b : held) {
            pool.release(b);
        }
        assertEquals(0, pool.bytesInUse());
        pool.releaseCached();
        assertEquals(0, pool.segments(), "all merged back into whole segments and freed");
        assertTrue(dev.live.isEmpty());
        assertTrue(dev.allocations < 300, "reuse: " + dev.allocations + " segments for 3000 requests");
    }

    @Test
    void releasingTwiceIsRefused() {
        DevicePool pool = new DevicePool(new FakeDevice(1 << 30));
        DevicePool.Block b = pool.acquire(10);
        pool.release(b);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> pool.release(b));
        assertTrue(e.getMessage().contains("not in use"), e.getMessage());
    }

    @Test
    void releaseCachedFreesOnlyWhollyFreeSegments() {
        FakeDevice dev = new FakeDevice(1 << 30);
        DevicePool pool = new DevicePool(dev);
        DevicePool.Block kept = pool.acquire(4096);
        DevicePool.Block sameSegment = pool.acquire(8192);
        DevicePool.Block dropped = pool.acquire(8 * MIB);
        pool.release(sameSegment);
        pool.release(dropped);
        assertEquals(8 * MIB, pool.releaseCached());
        assertEquals(1, dev.frees);
        assertEquals(DevicePool.SMALL_SEGMENT - 4096, pool.bytesCached(), "the rest of the kept block's segment stays");
        assertEquals(4096, pool.bytesInUse());
        assertTrue(dev.live.containsKey(kept.segment));
    }

    @Test
    void outOfMemoryReleasesTheCacheAndRetriesOnce() {
        FakeDevice dev = new FakeDevice(10 * MIB);
        DevicePool pool = new DevicePool(dev);
        DevicePool.Block a = pool.acquire(4 * MIB);
        DevicePool.Block b = pool.acquire(4 * MIB);
        pool.release(a);
        pool.release(b);            // 8 MiB cached in two segments, 2 MiB free on the device
        DevicePool.Block c = pool.acquire(9 * MIB);   // fails, cache released, retry succeeds
        assertEquals(1, dev.failedAllocations);
        assertEquals(2, dev.frees);
        assertEquals(0, pool.bytesCached());
        assertEquals(9 * MIB, pool.bytesInUse());
        assertEquals(9 * MIB, c.size());
    }

    @Test
    void outOfMemoryAfterTheRetryNamesTheCallTheRequestAndThePool() {
        FakeDevice dev = new FakeDevice(11 * MIB);
        DevicePool pool = new DevicePool(dev);
        DevicePool.Block held = pool.acquire(8 * MIB);   // 8 MiB in use
        DevicePool.Block cached = pool.acquire(1000);    // a 2 MiB small segment, then wholly free
        pool.release(cached);
        CudaException e = assertThrows(CudaException.class, () -> pool.acquire(4_000_000));
        assertEquals("cuMemAlloc", e.call());
        assertEquals("CUDA_ERROR_OUT_OF_MEMORY", e.status());
        String m = e.getMessage();
        assertTrue(m.contains("allocating 4194304 bytes for a request of 4000000 bytes"), m);
        assertTrue(m.contains("8388608 bytes in use in 1 blocks"), m);
        assertTrue(m.contains("after releasing 2097152 cached bytes and retrying"), m);
        assertEquals(2, dev.failedAllocations, "exactly one retry");
        assertEquals(8 * MIB, pool.bytesInUse());
        assertTrue(dev.live.containsKey(held.address));
    }

    @Test
    void outOfMemoryWithNothingReleasableDoesNotRetry() {
        FakeDevice dev = new FakeDevice(3 * MIB);
        DevicePool pool = new DevicePool(dev);
        DevicePool.Block partly = pool.acquire(1000);   // its segment is partly in use: not releasable
        CudaException e = assertThrows(CudaException.class, () -> pool.acquire(2 * MIB));
        assertEquals(1, dev.failedAllocations);
        assertTrue(e.getMessage().contains("nothing cached to release"), e.getMessage());
        assertTrue(dev.live.containsKey(partly.segment));
    }

    @Test
    void closeFreesEverythingAndLaterReleasesDoNothing() {
        FakeDevice dev = new FakeDevice(1 << 30);
        DevicePool pool = new DevicePool(dev);
        DevicePool.Block inUse = pool.acquire(100);
        DevicePool.Block split = pool.acquire(200);
        DevicePool.Block cached = pool.acquire(100 * MIB);
        pool.release(cached);
        pool.close();
        assertTrue(dev.live.isEmpty());
        assertEquals(0, dev.used);
        assertEquals(0, pool.bytesInUse());
        assertEquals(0, pool.bytesCached());
        pool.release(inUse);   // a buffer closed after its engine: harmless
        pool.release(split);
        pool.close();          // idempotent
        assertEquals(2, dev.frees, "one per segment");
        assertThrows(IllegalStateException.class, () -> pool.acquire(1));
    }

    // ------------------------------------------------------------------ cuBLAS out of memory

    /** A cuBLAS whose sgemm fails with CUBLAS_STATUS_ALLOC_FAILED the first {@code failures} times. */
    static final class FailingCublas extends KernelAbiTest.HostCublas {
        int failures;

        FailingCublas(int failures) {
            this.failures = failures;
        }

        @Override
        public void sgemm(int opA, int opB, int m, int n, int k, float alpha, long a, int lda, long b, int ldb,
                          float beta, long c, int ldc) {
            calls++;
            if (failures-- > 0) {
                CublasBinding.check(3, "cublasSgemm");
            }
        }
    }

    private static void gemm(CudaEngine engine) {
        CudaBuffer x = engine.testBuffer(org.rnn4j.DType.F32, 16);
        engine.gemm(false, false, 4, 4, 4, 1f, x, 0, 4, x, 0, 4, 0f, x, 0, 4);
        x.close();
    }

    @Test
    void cublasOutOfMemoryReleasesTheCacheAndRetriesOnce() {
        FakeDevice dev = new FakeDevice(1L << 30);
        DevicePool pool = new DevicePool(dev);
        pool.release(pool.acquire(64 * MIB));
        FailingCublas cublas = new FailingCublas(1);
        CudaEngine engine = CudaEngine.forArgumentTests((k, g, t, a) -> { }, cublas, pool);
        gemm(engine);
        assertEquals(2, cublas.calls);
        assertEquals(1, dev.frees, "the cached 64 MiB segment went back to the device");

        FailingCublas always = new FailingCublas(Integer.MAX_VALUE);
        CudaEngine stuck = CudaEngine.forArgumentTests((k, g, t, a) -> { }, always, pool);
        pool.release(pool.acquire(64 * MIB));
        CudaException e = assertThrows(CudaException.class, () -> gemm(stuck));
        assertEquals("CUBLAS_STATUS_ALLOC_FAILED", e.status());
        assertTrue(e.getMessage().contains("after releasing 67108864 cached bytes and retrying"), e.getMessage());
        assertEquals(2, always.calls, "exactly one retry");

        FailingCublas nothingToFree = new FailingCublas(1);
        CudaEngine bare = CudaEngine.forArgumentTests((k, g, t, a) -> { }, nothingToFree, pool);
        CudaBuffer pin = bare.testBuffer(org.rnn4j.DType.F32, 1);   // keeps the small segment partly in use
        CudaException first = assertThrows(CudaException.class, () -> gemm(bare));
        assertEquals("cublasSgemm failed: CUBLAS_STATUS_ALLOC_FAILED", first.getMessage());
        assertEquals(1, nothingToFree.calls, "nothing cached: no retry");
        pin.close();
    }
}
