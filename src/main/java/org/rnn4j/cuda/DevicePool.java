package org.rnn4j.cuda;

import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeSet;

/**
 * A caching allocator for device memory, after PyTorch's CUDA caching allocator, so that a training
 * step reuses the memory of the last one instead of calling {@code cuMemAlloc} and {@code cuMemFree}.
 *
 * <p>Memory comes from the raw allocator in <em>segments</em>; a segment is cut into <em>blocks</em>,
 * each in use or free, that tile it without gaps or overlap.
 * <ul>
 *   <li>A request is rounded up to its size class ({@link #sizeClass}: a multiple of {@value #ALIGNMENT}
 *       bytes, above {@value #SMALL_LIMIT} bytes one of eight steps per power of two).</li>
 *   <li>Small requests (up to {@value #SMALL_LIMIT} bytes) are cut from segments of
 *       {@value #SMALL_SEGMENT} bytes, large ones from segments of their own size, so that small
 *       blocks do not fragment the large ones.</li>
 *   <li>A request takes the smallest free block of its kind that fits (the lowest address among equals)
 *       and splits off the rest when that is at least {@value #ALIGNMENT} bytes (small) or more than
 *       {@value #SMALL_LIMIT} bytes (large); a smaller rest stays with the block.</li>
 *   <li>A released block merges with its free neighbours in the segment, so a segment whose blocks are
 *       all free is one free block again, which {@link #releaseCached} gives back to the device.</li>
 * </ul>
 *
 * <p>Out of memory: when the raw allocator fails the pool gives back every free segment and tries once
 * more; if that fails too, the exception names the request and what the pool holds. CudaEngine does
 * the same when cuBLAS cannot allocate its workspace ({@code CUBLAS_STATUS_ALLOC_FAILED}).
 *
 * <p>Without caching ({@code RNN4J_NO_CUDA_MEMORY_CACHING=1}, as PyTorch's
 * {@code PYTORCH_NO_CUDA_MEMORY_CACHING}) every request is its own raw allocation of exactly its bytes,
 * freed on release: slower, but a buffer overrun then leaves its allocation, where the stand-in
 * driver's red zones or compute-sanitizer see it instead of a neighbouring block.
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
    /** Requests up to this size are small: size classes every {@link #ALIGNMENT}, cut from small segments. */
    static final long SMALL_LIMIT = 1L << 20;
    /** Size of a segment that small blocks are cut from. */
    static final long SMALL_SEGMENT = 2L << 20;

    /** The raw device allocator under the pool: {@code cuMemAlloc} / {@code cuMemFree} on a GPU. */
    interface Allocator {
        /**
         * A new segment of exactly {@code bytes} bytes.
         *
         * @return its device address
         * @throws OutOfMemory when the device has no room ({@code CUDA_ERROR_OUT_OF_MEMORY})
         */
        long allocate(long bytes);

        /** Frees a segment returned by {@link #allocate}. */
        void free(long address);
    }

    /** Thrown by an {@link Allocator} when the device is out of memory; the pool then retries once. */
    static final class OutOfMemory extends RuntimeException {
        OutOfMemory(String message) {
            super(message);
        }
    }

    /**
     * A range {@code [address, address + size)} of one segment. Blocks of a segment form a list in
     * address order ({@code prev}, {@code next}); merging keeps the lower block, so the address of a
     * block never changes, and its size changes only while it is free.
     */
    static final class Block {
        final long segment;
        final long address;
        private long size;
        private final boolean small;
        private Block prev;
        private Block next;
        private boolean inUse;

        private Block(long segment, long address, long size, boolean small) {
            this.segment = segment;
            this.address = address;
            this.size = size;
            this.small = small;
        }

        long size() {
            return size;
        }

        /** The whole segment: no neighbour on either side. */
        private boolean isSegment() {
            return prev == null && next == null;
        }

        @Override
        public String toString() {
            return "block 0x" + Long.toHexString(address) + " (" + size + " bytes)";
        }
    }

    /** Free blocks by size, then address: {@code ceiling} is the best fit. */
    private static final Comparator<Block> BY_SIZE =
            Comparator.comparingLong((Block b) -> b.size).thenComparingLong(b -> b.address);

    private final Allocator allocator;
    private final boolean caching;
    private final TreeSet<Block> freeSmall = new TreeSet<>(BY_SIZE);
    private final TreeSet<Block> freeLarge = new TreeSet<>(BY_SIZE);
    /** Every segment held, by address: its first block (which no merge removes). */
    private final Map<Long, Block> segments = new HashMap<>();
    private long bytesInUse;
    private long bytesCached;
    private long blocksInUse;
    private long rawAllocations;
    private boolean closed;

    DevicePool(Allocator allocator) {
        this(allocator, true);
    }

    /** A pool that caches ({@code caching}) or allocates each request exactly and frees it on release. */
    DevicePool(Allocator allocator, boolean caching) {
        this.allocator = allocator;
        this.caching = caching;
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
     * A block of at least {@code bytes} bytes: the best-fitting free block, split, or a new segment.
     *
     * @throws CudaException when the device is out of memory even after the free segments were released
     */
    synchronized Block acquire(long bytes) {
        if (closed) {
            throw new IllegalStateException("device pool is closed");
        }
        if (!caching) {
            long exact = Math.max(bytes, 1);
            long address = allocateSegment(bytes, exact);
            Block block = new Block(address, address, exact, false);
            segments.put(address, block);
            block.inUse = true;
            bytesInUse += exact;
            blocksInUse++;
            return block;
        }
        long size = sizeClass(bytes);
        boolean small = size <= SMALL_LIMIT;
        TreeSet<Block> free = small ? freeSmall : freeLarge;
        Block block = free.ceiling(new Block(0, Long.MIN_VALUE, size, small));
        if (block != null) {
            free.remove(block);
            bytesCached -= block.size;
        } else {
            long segmentBytes = small ? SMALL_SEGMENT : size;
            long address = allocateSegment(bytes, segmentBytes);
            block = new Block(address, address, segmentBytes, small);
            segments.put(address, block);
        }
        long rest = block.size - size;
        if (small ? rest >= ALIGNMENT : rest > SMALL_LIMIT) {
            Block tail = new Block(block.segment, block.address + size, rest, small);
            tail.prev = block;
            tail.next = block.next;
            if (block.next != null) {
                block.next.prev = tail;
            }
            block.next = tail;
            block.size = size;
            free.add(tail);
            bytesCached += rest;
        }
        block.inUse = true;
        bytesInUse += block.size;
        blocksInUse++;
        return block;
    }

    private long allocateSegment(long requested, long bytes) {
        try {
            long address = allocator.allocate(bytes);
            rawAllocations++;
            return address;
        } catch (OutOfMemory first) {
            long released = releaseCachedLocked();
            if (released == 0) {
                throw outOfMemory(requested, bytes, 0, first);
            }
            try {
                long address = allocator.allocate(bytes);
                rawAllocations++;
                return address;
            } catch (OutOfMemory second) {
                throw outOfMemory(requested, bytes, released, second);
            }
        }
    }

    private CudaException outOfMemory(long requested, long bytes, long released, OutOfMemory cause) {
        CudaException e = new CudaException("cuMemAlloc", "CUDA_ERROR_OUT_OF_MEMORY",
                "allocating " + bytes + " bytes for a request of " + requested + " bytes; the pool holds "
                        + bytesInUse + " bytes in use in " + blocksInUse + " blocks and "
                        + bytesCached + " bytes cached"
                        + (released > 0 ? ", after releasing " + released + " cached bytes and retrying"
                                : ", nothing cached to release"));
        e.initCause(cause);
        return e;
    }

    /**
     * Returns a block to the pool, merged with its free neighbours. After {@link #close()} it does
     * nothing (the memory is gone).
     *
     * @throws IllegalStateException when the block is not in use (released twice)
     */
    synchronized void release(Block block) {
        if (closed) {
            return;
        }
        if (!block.inUse || segments.get(block.segment) == null) {
            throw new IllegalStateException(block + " is not in use by this pool");
        }
        block.inUse = false;
        bytesInUse -= block.size;
        blocksInUse--;
        if (!caching) {
            segments.remove(block.segment);
            allocator.free(block.segment);
            return;
        }
        bytesCached += block.size;
        TreeSet<Block> free = block.small ? freeSmall : freeLarge;
        Block merged = block;
        if (merged.next != null && !merged.next.inUse) {
            merged = absorbNext(merged, free);
        }
        if (merged.prev != null && !merged.prev.inUse) {
            Block prev = merged.prev;
            free.remove(prev);
            merged = absorbNext(prev, free);
        }
        free.add(merged);
    }

    /** {@code b} takes over its free next neighbour (which leaves the free set). */
    private static Block absorbNext(Block b, TreeSet<Block> free) {
        Block n = b.next;
        free.remove(n);
        b.size += n.size;
        b.next = n.next;
        if (n.next != null) {
            n.next.prev = b;
        }
        return b;
    }

    /** Bytes of the blocks handed out and not yet released (a block may be up to 1 MiB above its class). */
    synchronized long bytesInUse() {
        return bytesInUse;
    }

    /** Bytes of free blocks, ready for reuse. */
    synchronized long bytesCached() {
        return bytesCached;
    }

    /** Bytes that {@link #releaseCached} would give back now: the segments whose blocks are all free. */
    synchronized long bytesReleasable() {
        long n = 0;
        for (Block s : segments.values()) {
            if (!s.inUse && s.isSegment()) {
                n += s.size;
            }
        }
        return n;
    }

    /** How many times the raw allocator was called successfully (for tests: reuse means no new calls). */
    synchronized long rawAllocations() {
        return rawAllocations;
    }

    /** Segments held, in use or not (for tests). */
    synchronized int segments() {
        return segments.size();
    }

    /**
     * Gives every segment whose blocks are all free back to the raw allocator; free blocks in a segment
     * that is partly in use stay cached.
     *
     * @return the bytes given back
     */
    synchronized long releaseCached() {
        return closed ? 0 : releaseCachedLocked();
    }

    private long releaseCachedLocked() {
        RuntimeException failure = null;
        long released = 0;
        for (Block s : segments.values().toArray(new Block[0])) {
            if (s.inUse || !s.isSegment()) {
                continue;
            }
            (s.small ? freeSmall : freeLarge).remove(s);
            segments.remove(s.segment);
            bytesCached -= s.size;
            released += s.size;
            failure = freeSegment(s, failure);
        }
        if (failure != null) {
            throw failure;
        }
        return released;
    }

    /** Frees a segment; returns the first failure so far, a later one added to it as suppressed. */
    private RuntimeException freeSegment(Block segment, RuntimeException failure) {
        try {
            allocator.free(segment.segment);
            return failure;
        } catch (RuntimeException e) {
            if (failure == null) {
                return e;
            }
            failure.addSuppressed(e);
            return failure;
        }
    }

    /**
     * Frees every segment, in use or cached, and refuses further requests. Buffers still holding a
     * block may be closed afterwards; that does nothing. Idempotent.
     */
    synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        RuntimeException failure = null;
        for (Block s : segments.values()) {
            failure = freeSegment(s, failure);
        }
        segments.clear();
        freeSmall.clear();
        freeLarge.clear();
        bytesInUse = 0;
        bytesCached = 0;
        blocksInUse = 0;
        if (failure != null) {
            throw failure;
        }
    }

    synchronized boolean isClosed() {
        return closed;
    }
}
