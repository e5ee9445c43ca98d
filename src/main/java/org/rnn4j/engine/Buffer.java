package org.rnn4j.engine;

import org.rnn4j.DType;

/**
 * A block of memory owned by one {@link Engine}: a Java array for the CPU engine, device memory
 * for the CUDA engine. Offsets and lengths are counted in elements. Closing returns the memory;
 * an engine refuses a closed buffer.
 */
public interface Buffer extends AutoCloseable {
    DType dtype();

    /** Number of elements. */
    long length();

    boolean isClosed();

    @Override
    void close();
}
