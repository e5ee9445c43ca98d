package org.rnn4j.cuda;

import java.util.concurrent.atomic.AtomicBoolean;
import org.rnn4j.DType;
import org.rnn4j.engine.Buffer;

/**
 * Device memory of one {@link CudaEngine}: a block of its {@link DevicePool}. Closing returns the
 * block to the pool (idempotent); the engine refuses a closed buffer.
 */
final class CudaBuffer implements Buffer {

    /** Both dtypes (float32, int32) are 4 bytes. */
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
        return block.address + offset * ELEMENT_BYTES;
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
