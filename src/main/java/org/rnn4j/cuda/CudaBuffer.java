package org.rnn4j.cuda;

import java.util.concurrent.atomic.AtomicBoolean;
import org.rnn4j.DType;
import org.rnn4j.engine.Buffer;

/**
 * Device memory of one {@link CudaEngine}: a block of its {@link DevicePool}. Closing returns the
 * block to the pool (idempotent); the engine refuses a closed buffer.
 */
final class CudaBuffer implements Buffer {

    /** Bytes of a float32 or int32 element (a BF16 one has 2: {@link #address} and {@link #bytes} use the dtype's). */
    static final long ELEMENT_BYTES = 4;

    final CudaEngine engine;
    private final DType dtype;
    private final long length;
    private final DevicePool.Block block;
    private final AtomicBoolean closed = new AtomicBoolean();

    CudaBuffer(CudaEngine engine, DType dtype, long length, DevicePool.Block block) {
        this.engine = engine;
        this.dtype = dtype;
        this.length = length;
        this.block = block;
    }

    @Override
    public DType dtype() {
        return dtype;
    }

    @Override
    public long length() {
        return length;
    }

    @Override
    public boolean isClosed() {
        return closed.get();
    }

    /** The raw device address of element {@code offset} (for launches, copies and cuBLAS). */
    long address(long offset) {
        return block.address + offset * dtype.bytes();
    }

    /**
     * Bytes of a buffer of {@code elements}: whole 4-byte words, so that {@code cuMemsetD32} zeroes any of them
     * (an odd count of BF16 elements gets 2 bytes more).
     */
    static long bytes(DType dtype, long elements) {
        return Math.multiplyExact(Math.addExact(Math.multiplyExact(elements, dtype.bytes()), 3) / 4, 4);
    }

    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            engine.recycle(block);
        }
    }

    @Override
    public String toString() {
        return "CudaBuffer[" + dtype + " x " + length + " on " + engine.name() + (isClosed() ? ", closed]" : "]");
    }
}
