package org.rnn4j;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;
import org.rnn4j.engine.Buffer;
import org.rnn4j.engine.Engine;

/**
 * A dense row-major array on one {@link Device}: float32 data, or int32 for lengths and targets.
 * It stays on its device; only {@link #toHost()} and {@link #copyTo(Device)} move data. Closing
 * releases the memory, and a closed tensor refuses every use with an {@link IllegalStateException}.
 */
public final class Tensor implements AutoCloseable {

    /** Tensors allocated and not yet closed, on all devices (see {@link #openCount()}). */
    private static final AtomicLong OPEN = new AtomicLong();

    private final Device device;
    private final DType dtype;
    private final int[] shape;
    private final long size;
    private final Buffer buffer;

    private Tensor(Device device, DType dtype, int[] shape) {
        this.device = device;
        this.dtype = dtype;
        this.shape = shape.clone();
        this.size = checkedSize(shape);
        this.buffer = device.engine().allocate(dtype, size);
        OPEN.incrementAndGet();
    }

    /**
     * How many tensors are allocated and not yet closed, on all devices together: a leak check for tests
     * and long runs (a training loop that holds memory flat keeps it constant between steps).
     */
    public static long openCount() {
        return OPEN.get();
    }

    /** A float32 tensor of zeros. */
    public static Tensor zeros(Device device, int... shape) {
        return new Tensor(device, DType.F32, shape);
    }

    /** An int32 tensor of zeros. */
    public static Tensor zerosInt(Device device, int... shape) {
        return new Tensor(device, DType.I32, shape);
    }

    /** A float32 tensor holding a copy of {@code data}, whose length must equal the product of {@code shape}. */
    public static Tensor of(Device device, float[] data, int... shape) {
        Tensor t = new Tensor(device, DType.F32, shape);
        if (data.length != t.size) {
            t.close();
            throw new IllegalArgumentException("data: expected " + t.size + " values for shape "
                    + Arrays.toString(shape) + ", got " + data.length);
        }
        device.engine().upload(data, 0, t.buffer, 0, data.length);
        return t;
    }

    /** An int32 tensor holding a copy of {@code data}. */
    public static Tensor ofInts(Device device, int[] data, int... shape) {
        Tensor t = new Tensor(device, DType.I32, shape);
        if (data.length != t.size) {
            t.close();
            throw new IllegalArgumentException("data: expected " + t.size + " values for shape "
                    + Arrays.toString(shape) + ", got " + data.length);
        }
        device.engine().upload(data, 0, t.buffer, 0, data.length);
        return t;
    }

    private static long checkedSize(int[] shape) {
        if (shape.length == 0) {
            throw new IllegalArgumentException("shape: expected at least one dimension, got []");
        }
        long n = 1;
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("shape: expected dimensions >= 0, got " + Arrays.toString(shape));
            }
            n = Math.multiplyExact(n, (long) d);
        }
        return n;
    }

    public Device device() {
        return device;
    }

    public DType dtype() {
        return dtype;
    }

    /** A copy of the shape. */
    public int[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public int dim(int axis) {
        return shape[axis];
    }

    /** Number of elements. */
    public long size() {
        return size;
    }

    /** The float32 contents copied to a Java array (waits for queued work). */
    public float[] toHost() {
        requireDType(DType.F32);
        float[] out = new float[Math.toIntExact(size)];
        device.engine().download(buffer(), 0, out, 0, out.length);
        return out;
    }

    /** The int32 contents copied to a Java array. */
    public int[] toHostInts() {
        requireDType(DType.I32);
        int[] out = new int[Math.toIntExact(size)];
        device.engine().download(buffer(), 0, out, 0, out.length);
        return out;
    }

    /** A new tensor with the same contents on {@code target} (a copy even when the device is the same). */
    public Tensor copyTo(Device target) {
        Tensor t = new Tensor(target, dtype, shape);
        try {
            if (target.equals(device)) {
                target.engine().copy(buffer(), 0, t.buffer, 0, size);
            } else if (dtype == DType.F32) {
                float[] host = toHost();
                target.engine().upload(host, 0, t.buffer, 0, host.length);
            } else {
                int[] host = toHostInts();
                target.engine().upload(host, 0, t.buffer, 0, host.length);
            }
            return t;
        } catch (RuntimeException e) {
            t.close();
            throw e;
        }
    }

    /** Overwrites the contents with {@code data} (same number of elements). */
    public void copyFrom(float[] data) {
        requireDType(DType.F32);
        if (data.length != size) {
            throw new IllegalArgumentException("data: expected " + size + " values for shape "
                    + Arrays.toString(shape) + ", got " + data.length);
        }
        device.engine().upload(data, 0, buffer(), 0, data.length);
    }

    /** Sets every element to {@code value}. */
    public void fill(float value) {
        requireDType(DType.F32);
        device.engine().fill(buffer(), 0, size, value);
    }

    /**
     * The engine buffer behind this tensor, for engine-level code.
     *
     * @throws IllegalStateException when the tensor is closed
     */
    public Buffer buffer() {
        if (buffer.isClosed()) {
            throw new IllegalStateException("tensor " + describe() + " is closed");
        }
        return buffer;
    }

    /** The engine of the device this tensor lives on. */
    public Engine engine() {
        return device.engine();
    }

    public boolean isClosed() {
        return buffer.isClosed();
    }

    private void requireDType(DType expected) {
        if (dtype != expected) {
            throw new IllegalArgumentException("tensor: expected dtype " + expected + ", got " + dtype);
        }
    }

    /** Shape, dtype and device, e.g. {@code [50, 32, 128] F32 on cpu}. */
    public String describe() {
        return Arrays.toString(shape) + " " + dtype + " on " + device;
    }

    @Override
    public synchronized void close() {
        if (!buffer.isClosed()) {
            buffer.close();
            OPEN.decrementAndGet();
        }
    }

    @Override
    public String toString() {
        return "Tensor" + describe() + (isClosed() ? " (closed)" : "");
    }
}
