package org.rnn4j;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import org.rnn4j.engine.Buffer;
import org.rnn4j.engine.Engine;

/**
 * A dense row-major array on one {@link Device}: float32 data, or int32 for lengths and targets.
 * It stays on its device; only {@link #toHost()} and {@link #copyTo(Device)} move data. Closing
 * releases the memory, and a closed tensor refuses every use with an {@link IllegalStateException}.
 *
 * <p>Every in-place write through the API ({@link #copyFrom}, {@link #fill}, an optimizer step, a checkpoint
 * load) bumps the tensor's {@link #version()}, as PyTorch's version counter: a layer records the versions
 * of what its backward will read and refuses a backward after any of them changed. Engine-level code that
 * writes a live tensor in place takes {@link #bufferForWrite()}, which bumps it.
 */
public final class Tensor implements AutoCloseable {

    /** Tensors allocated and not yet closed, on all devices (see {@link #openCount()}). */
    private static final AtomicLong OPEN = new AtomicLong();

    private final Device device;
    private final DType dtype;
    private final int[] shape;
    private final long size;
    private final Buffer buffer;
    private volatile long version;   // read by other threads' forwards (RecurrentLayer's version checks)
    private final AtomicInteger writesInProgress = new AtomicInteger();   // copyFrom or fill running now

    /** The most elements one tensor holds: what a Java array holds, so that {@link #toHost()} always can. */
    public static final long MAX_ELEMENTS = Integer.MAX_VALUE - 8;

    private Tensor(Device device, DType dtype, int[] shape, boolean zeroed) {
        if (device == null) {
            throw new IllegalArgumentException("device: expected a device, got null");
        }
        if (shape == null) {
            throw new IllegalArgumentException("shape: expected dimensions, got null");
        }
        this.device = device;
        this.dtype = dtype;
        this.shape = shape.clone();
        this.size = checkedSize(shape);
        this.buffer = zeroed ? device.engine().allocate(dtype, size) : device.engine().allocateUninitialized(dtype, size);
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
        return new Tensor(device, DType.F32, shape, true);
    }

    /** A float32 tensor whose contents are undefined, for one that is written in full before it is read ({@link Engine#allocateUninitialized}). */
    static Tensor uninitialized(Device device, int... shape) {
        return new Tensor(device, DType.F32, shape, false);
    }

    /** An int32 tensor of zeros. */
    public static Tensor zerosInt(Device device, int... shape) {
        return new Tensor(device, DType.I32, shape, true);
    }

    /** A float32 tensor holding a copy of {@code data}, whose length must equal the product of {@code shape}. */
    public static Tensor of(Device device, float[] data, int... shape) {
        if (data == null) {
            throw new IllegalArgumentException("data: expected an array of values, got null");
        }
        Tensor t = new Tensor(device, DType.F32, shape, false);   // the upload writes every element
        try {
            t.copyFrom(data);
            t.version = 0;
            return t;
        } catch (RuntimeException | Error e) {
            t.close();
            throw e;
        }
    }

    /** An int32 tensor holding a copy of {@code data}. */
    public static Tensor ofInts(Device device, int[] data, int... shape) {
        if (data == null) {
            throw new IllegalArgumentException("data: expected an array of values, got null");
        }
        Tensor t = new Tensor(device, DType.I32, shape, false);   // the upload writes every element
        try {
            t.checkLength(data.length);
            device.engine().upload(data, 0, t.buffer, 0, data.length);
            return t;
        } catch (RuntimeException | Error e) {
            t.close();
            throw e;
        }
    }

    private static long checkedSize(int[] shape) {
        if (shape.length == 0) {
            throw new IllegalArgumentException("shape: expected at least one dimension, got []");
        }
        for (int d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("shape: expected dimensions >= 0, got " + Arrays.toString(shape));
            }
        }
        long n = 1;
        for (int d : shape) {
            n = Math.min(n * d, MAX_ELEMENTS + 1); // saturates: never above 2^62, so never overflows
        }
        if (n > MAX_ELEMENTS) {
            throw new IllegalArgumentException("shape: " + Arrays.toString(shape) + " has more elements than a tensor holds ("
                    + MAX_ELEMENTS + "); it would need " + bytes(shape) + " bytes");
        }
        return n;
    }

    /** 4 bytes per element of {@code shape}, exact (a {@link java.math.BigInteger} string, as it may exceed a long). */
    static String bytes(int... shape) {
        java.math.BigInteger n = java.math.BigInteger.valueOf(4);
        for (int d : shape) {
            n = n.multiply(java.math.BigInteger.valueOf(d));
        }
        return n.toString();
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

    /** The size of {@code axis}, in {@code [0, rank())}. */
    public int dim(int axis) {
        if (axis < 0 || axis >= shape.length) {
            throw new IllegalArgumentException("axis: expected an axis in [0, " + shape.length + ") of "
                    + Arrays.toString(shape) + ", got " + axis);
        }
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
        if (target == null) {
            throw new IllegalArgumentException("target: expected a device, got null");
        }
        Tensor t = new Tensor(target, dtype, shape, false);   // the copy writes every element
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
        if (data == null) {
            throw new IllegalArgumentException("data: expected an array of values, got null");
        }
        overwrite(data.length, () -> device.engine().upload(data, 0, buffer(), 0, data.length));
    }

    /** Overwrites the contents of an I32 tensor with {@code data} (same number of elements). */
    public void copyFromInts(int[] data) {
        requireDType(DType.I32);
        if (data == null) {
            throw new IllegalArgumentException("data: expected an array of values, got null");
        }
        overwrite(data.length, () -> device.engine().upload(data, 0, buffer(), 0, data.length));
    }

    /** Uploads {@code length} values over the contents, marked as a write ({@link #whileWriting}). */
    private void overwrite(int length, Runnable upload) {
        checkLength(length);
        whileWriting(List.of(this), () -> {
            upload.run();
            return null;
        });
    }

    /** Sets every element to {@code value}. */
    public void fill(float value) {
        requireDType(DType.F32);
        whileWriting(List.of(this), () -> {
            device.engine().fill(buffer(), 0, size, value);
            return null;
        });
    }

    private void checkLength(int length) {
        if (length != size) {
            throw new IllegalArgumentException("data: expected " + size + " values for shape "
                    + Arrays.toString(shape) + ", got " + length);
        }
    }

    /**
     * How many in-place writes this tensor has seen ({@link #copyFrom}, {@link #fill}, optimizer steps,
     * checkpoint loads, anything through {@link #bufferForWrite()}); PyTorch's version counter.
     */
    public long version() {
        return version;
    }

    /**
     * The engine buffer for an in-place write of this tensor's contents: bumps {@link #version()}, so that a
     * backward that saved this tensor notices the change. Writes into a tensor nobody else has seen yet (a
     * fresh result) may use {@link #buffer()}.
     *
     * @throws IllegalStateException when the tensor is closed
     */
    public Buffer bufferForWrite() {
        Buffer b = buffer();
        version++;
        return b;
    }

    /**
     * Whether a {@link #copyFrom} or {@link #fill} is running on some thread now. Such a write bumps the version
     * before and after it, so a reader that takes the version while the write runs (between the two) would see it
     * unchanged at its end although it read contents half old, half new: it must refuse instead.
     */
    boolean writeInProgress() {
        return writesInProgress.get() > 0;
    }

    /**
     * The versions of {@code tensors} (a module's parameters, by name) for a computation that reads them and calls
     * {@link #requireVersions} at its end, so that a write from another thread cannot pass unnoticed: refused while
     * a {@link #copyFrom} or {@link #fill} is halfway through one of them (it bumped the version before its copy,
     * so the check at the end would see no change although the reader saw contents half old, half new).
     *
     * @throws IllegalStateException naming {@code reader}, the operation and the tensors being written
     */
    public static long[] versionsForReading(Object reader, Map<String, Tensor> tensors, String operation) {
        long[] versions = tensors.values().stream().mapToLong(Tensor::version).toArray();   // before the check
        List<String> writing = new ArrayList<>();
        tensors.forEach((name, t) -> {
            if (t.writeInProgress()) {
                writing.add(name);
            }
        });
        if (!writing.isEmpty()) {
            throw new IllegalStateException(reader + ": parameters " + writing + " were being written (copyFrom or fill "
                    + "on another thread) when " + operation + " started on thread '" + Thread.currentThread().getName() + "': its "
                    + "result would mix old and new weights; synchronize the writes with the calls");
        }
        return versions;
    }

    /**
     * Refuses the result of {@code operation} when one of {@code tensors} was written since {@code versions} were
     * taken ({@link #versionsForReading}): an optimizer step or a copy on another thread ran beside it.
     *
     * @throws IllegalStateException naming {@code reader}, the operation and the tensors written
     */
    public static void requireVersions(Object reader, Map<String, Tensor> tensors, long[] versions, String operation) {
        List<String> changed = new ArrayList<>();
        int i = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            if (e.getValue().version() != versions[i++]) {
                changed.add(e.getKey());
            }
        }
        if (!changed.isEmpty()) {
            throw new IllegalStateException(reader + ": parameters " + changed + " were written while " + operation
                    + " ran on thread '" + Thread.currentThread().getName() + "' (an optimizer step, setParameter or "
                    + "copy on another thread): its result would mix old and new weights; synchronize the writes "
                    + "with the calls");
        }
    }

    /**
     * Runs {@code write}, an in-place write of {@code tensors} ({@link #copyFrom}, {@link #fill}, an optimizer step),
     * marked so: the versions move before and after it and {@link #versionsForReading} refuses a reader meanwhile.
     */
    public static <T> T whileWriting(Collection<Tensor> tensors, Supplier<T> write) {
        for (Tensor t : tensors) {
            t.beginWrite();
        }
        try {
            return write.get();
        } finally {
            tensors.forEach(Tensor::endWrite);
        }
    }

    void beginWrite() {
        writesInProgress.incrementAndGet();   // before the version: a reader that sees the new version sees this too
        version++;
    }

    void endWrite() {
        version++;
        writesInProgress.decrementAndGet();
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
