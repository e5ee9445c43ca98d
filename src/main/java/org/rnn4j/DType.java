package org.rnn4j;

/** Element types a {@link Tensor} can hold: float32 for data, int32 for lengths and class targets. */
public enum DType {
    F32, I32
}
