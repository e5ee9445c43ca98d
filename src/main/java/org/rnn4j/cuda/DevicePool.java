package org.rnn4j.cuda;

import java.util.ArrayDeque;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A caching allocator for device memory, so that a training step reuses the blocks of the last
 * one instead of calling {@code cuMemAlloc} and {@code cuMemFree}.
 *
 * <p>A request is rounded up to its <em>size class</em> ({@link #sizeClass}): a multiple of
 * {@value #ALIGNMENT} bytes up to {@value #SMALL_LIMIT} bytes, above that one of eight steps per
 * power of two (at most 12.5% waste). A released block goes to the free list of its class and is
 * handed out again only for a request of the same class, so a fixed sequence of requests (one
 * training step) settles on a fixed set of blocks after its first run.
 *
 * <p>When the device is out of memory the pool frees its cached blocks and tries once more; if
 * that fails too, the exception names the request and what the pool holds.
 *
 * <p>The raw allocator is injected, so the pool is tested without a GPU. Blocks are reused in
 * stream order: all work of an engine is queued on one stream, so a block released while a
 * queued kernel still reads it is only written by work queued after that kernel.
 *
 * <p>Thread-safe: every method locks the pool. Nothing here calls CUDA except through the allocator.
 */
final class DevicePool {

    /** Every block is a multiple of this many bytes (cuMemAlloc itself aligns to at least 256). */
    static final long ALIGNMENT = 512;
    /** Up to this size, classes are every multiple of {@link #ALIGNMENT}. */
    static final long SMALL_LIMIT = 1L << 20;

    /** The raw device allocator under the pool: {@code cuMemAlloc} / {@code cuMemFree} on a GPU. */
    interface Allocator {
        /**
         * A new block of exactly {@code bytes} bytes.
         *
         * @return its device address
         * @throws OutOfMemory when the device has no room ({@code CUDA_ERROR_OUT_OF_MEMORY})
         */
        long allocate(long bytes);

        /** Frees a block returned by {@link #allocate}. */
        void free(long address);
    }

    /** Thrown by an {@link Allocator} when the device is out of memory; the pool then retries once. */
    static final class OutOfMemory extends RuntimeException {
        OutOfMemory(String message) {
            super(message);
        }
    }

    /** One device allocation: its address and its size class in bytes. */
    static final class Block {
        final long address;
        final long size;
        private boolean inUse;

        private Block(long address, long size) {
            this.address = address;
            this.size = size;
        }

        @Override
        public String toString() {
            return "block 0x" + Long.toHexString(address) + " (" + size + " bytes)";
        }
    }

    private final Allocator allocator;
    private final Map<Long, ArrayDeque<Block>> freeLists = new HashMap<>();
    private final Set<Block> live = Collections.newSetFromMap(new IdentityHashMap<>());
    private long bytesInUse;
    private long bytesCached;
    private long blocksInUse;
    private long rawAllocations;
    private boolean closed;

    DevicePool(Allocator allocator) {
        this.allocator = allocator;
    }

    /**
     * The size class of a request: {@code bytes} rounded up to a multiple of {@value #ALIGNMENT}
     * (at least one), and above {@value #SMALL_LIMIT} bytes to a multiple of 1/8 of the largest
     * power of two below it.
     */
    static long sizeClass(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("bytes: expected >= 0, got " + bytes);
        }
        long n = roundUp(Math.max(bytes, 1), ALIGNMENT);
        if (n <= SMALL_LIMIT) {
            return n;
        }
        long step = Long.highestOneBit(n - 1) >>> 3;
        return roundUp(n, step);
    }

    private static long roundUp(long n, long multiple) {
        return Math.addExact(n, multiple - 1) / multiple * multiple;
    }

    /**
     * A block of at least {@code bytes} bytes: a cached one of the same class, or a new one.
     *
     * @throws CudaException when the device is out of memory even after the cache was released
     */
    synchronized Block acquire(long bytes) {
        if (closed) {
            throw new IllegalStateException("device pool is closed");
        }
        long size = sizeClass(bytes);
        ArrayDeque<Block> list = freeLists.get(size);
        Block block = list == null ? null : list.pollLast();
        if (block != null) {
            bytesCached -= size;
        } else {
            block = new Block(allocateRaw(bytes, size), size);
            live.add(block);
        }
        block.inUse = true;
        bytesInUse += size;
        blocksInUse++;
        return block;
    }

    private long allocateRaw(long requested, long size) {
        try {
            long address = allocator.allocate(size);
            rawAllocations++;
            return address;
        } catch (OutOfMemory first) {
            long cachedBefore = bytesCached;
            if (cachedBefore > 0) {
                releaseCachedLocked();
                try {
                    long address = allocator.allocate(size);
                    rawAllocations++;
                    return address;
                } catch (OutOfMemory second) {
                    throw outOfMemory(requested, size, cachedBefore, second);
                }
            }
            throw outOfMemory(requested, size, 0, first);
        }
    }

    private CudaException outOfMemory(long requested, long size, long cachedReleased, OutOfMemory cause) {
        CudaException e = new CudaException("cuMemAlloc", "CUDA_ERROR_OUT_OF_MEMORY",
                "allocating " + size + " bytes for a request of " + requested + " bytes; the pool holds "
                        + bytesInUse + " bytes in use in " + blocksInUse + " blocks and "
                        + bytesCached + " bytes cached"
                        + (cachedReleased > 0 ? ", after releasing " + cachedReleased + " cached bytes and retrying"
                                : ", nothing cached to release"));
        e.initCause(cause);
        return e;
    }

    /**
     * Returns a block to its free list. After {@link #close()} it does nothing (the memory is gone).
     *
     * @throws IllegalStateException when the block is not in use (released twice)
     */
    synchronized void release(Block block) {
        if (closed) {
            return;
        }
        if (!block.inUse || !live.contains(block)) {
            throw new IllegalStateException(block + " is not in use by this pool");
        }
        block.inUse = false;
        bytesInUse -= block.size;
        blocksInUse--;
        bytesCached += block.size;
        freeLists.computeIfAbsent(block.size, s -> new ArrayDeque<>()).addLast(block);
    }

    /** Bytes handed out and not yet released (counted by size class). */
    synchronized long bytesInUse() {
        return bytesInUse;
    }

    /** Bytes held in free lists, ready for reuse. */
    synchronized long bytesCached() {
        return bytesCached;
    }

    /** How many times the raw allocator was called successfully (for tests: reuse means no new calls). */
    synchronized long rawAllocations() {
        return rawAllocations;
    }

    /** Frees every cached block with the raw allocator; blocks in use are untouched. */
    synchronized void releaseCached() {
        if (!closed) {
            releaseCachedLocked();
        }
    }

    private void releaseCachedLocked() {
        RuntimeException first = null;
        for (ArrayDeque<Block> list : freeLists.values()) {
            for (Block b : list) {
                live.remove(b);
                bytesCached -= b.size;
                try {
                    allocator.free(b.address);
                } catch (RuntimeException e) {
                    if (first == null) {
                        first = e;
                    } else {
                        first.addSuppressed(e);
                    }
                }
            }
        }
        freeLists.clear();
        if (first != null) {
            throw first;
        }
    }

    /**
     * Frees every block, in use or cached, and refuses further requests. Buffers still holding a
     * block may be closed afterwards; that does nothing. Idempotent.
     */
    synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException first = null;
        for (Block b : live) {
            b.inUse = false;
            try {
                allocator.free(b.address);
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        live.clear();
        freeLists.clear();
        bytesInUse = 0;
        bytesCached = 0;
        blocksInUse = 0;
        if (first != null) {
            throw first;
        }
    }

    synchronized boolean isClosed() {
        return closed;
    }
}
