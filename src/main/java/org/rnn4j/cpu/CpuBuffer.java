package org.rnn4j.cpu;

import org.rnn4j.DType;
import org.rnn4j.engine.Buffer;

/** A Java array: {@code float[]} for F32, {@code int[]} for I32. */
final class CpuBuffer implements Buffer {
    final float[] floats;
    final int[] ints;
    private boolean closed;
    /** This buffer as a weight (W_hh, W_ih) reordered for the inference loop, for one write version of its tensor, or null. */
    volatile InferenceLoop.Panels panels;

    CpuBuffer(DType dtype, long elements) {
        if (elements > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("elements: expected at most " + (Integer.MAX_VALUE - 8)
                    + " on the CPU, got " + elements);
        }
        if (dtype == DType.BF16) {
            throw new IllegalArgumentException("dtype: expected F32 or I32 on the CPU (its engine computes FP32 only; "
                    + "BF16 buffers belong to the CUDA engine's BF16 GEMMs), got BF16");
        }
        floats = dtype == DType.F32 ? new float[(int) elements] : null;
        ints = dtype == DType.I32 ? new int[(int) elements] : null;
    }

    @Override
    public DType dtype() {
        return floats != null ? DType.F32 : DType.I32;
    }

    @Override
    public long length() {
        return floats != null ? floats.length : ints.length;
    }

    @Override
    public boolean isClosed() {
        return closed;
    }

    @Override
    public void close() {
        closed = true;
    }
}
