package org.rnn4j;

/**
 * Element types: float32 for data and int32 for lengths and class targets (what a {@link Tensor} holds), and
 * bfloat16 for engine buffers only: the operand copies of a {@link Precision#BF16} layer's GEMMs on CUDA.
 */
public enum DType {
    F32(4), I32(4), BF16(2);

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes per element. */
    public int bytes() {
        return bytes;
    }
}
