package org.rnn4j.cuda;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;

/**
 * The parameter block of kernel launches, in native memory, built once and reused by every launch of the
 * thread that owns it: {@value #MAX_PARAMS} value slots of 8 bytes and, after them, the {@code void*} array
 * {@code cuLaunchKernel} takes as {@code kernelParams}, whose entries point at the slots and never change.
 * A launch stores its values into the slots in the order of the kernel's C signature
 * ({@code kernels/ABI.md}) and passes the array's address: no Java object per parameter, no marshalling.
 * The driver copies the values at the call, so the next launch may overwrite them at once.
 *
 * <p>The C types are recorded too, so that a test can compare the order with the ABI.
 */
final class KernelArgs {

    /** A null device pointer: what a {@code null} buffer becomes. */
    static final long NULL = 0L;

    /** More than any kernel takes (the cells take 25). */
    static final int MAX_PARAMS = 32;
    private static final int SLOT_BYTES = 8;

    private final Memory block = new Memory(2L * MAX_PARAMS * SLOT_BYTES);
    private final ByteBuffer slots = block.getByteBuffer(0, (long) MAX_PARAMS * SLOT_BYTES).order(ByteOrder.nativeOrder());
    private final long pointerArray;
    private final String[] types = new String[MAX_PARAMS];
    private int count;

    KernelArgs() {
        long base = Pointer.nativeValue(block);
        pointerArray = base + (long) MAX_PARAMS * SLOT_BYTES;
        for (int i = 0; i < MAX_PARAMS; i++) {
            block.setLong(pointerArray - base + (long) i * SLOT_BYTES, base + (long) i * SLOT_BYTES);
        }
    }

    /** Starts the parameter list of the next launch. */
    KernelArgs reset() {
        count = 0;
        return this;
    }

    /** {@code int}. */
    KernelArgs i32(int v) {
        slots.putInt(next("int"), v);
        return this;
    }

    /** {@code int} from a Java boolean (0 / 1). */
    KernelArgs flag(boolean v) {
        return i32(v ? 1 : 0);
    }

    /** {@code long long}. */
    KernelArgs i64(long v) {
        slots.putLong(next("long long"), v);
        return this;
    }

    /** {@code unsigned long long}, the same 64 bits as the Java {@code long}. */
    KernelArgs u64(long v) {
        slots.putLong(next("unsigned long long"), v);
        return this;
    }

    /** {@code float}. */
    KernelArgs f32(float v) {
        slots.putFloat(next("float"), v);
        return this;
    }

    /** {@code double}. */
    KernelArgs f64(double v) {
        slots.putDouble(next("double"), v);
        return this;
    }

    /** A device pointer (any element type) as a raw address; {@link #NULL} for an absent buffer. */
    KernelArgs ptr(long address) {
        slots.putLong(next("ptr"), address);
        return this;
    }

    /** The byte offset of the next slot, after recording its C type. */
    private int next(String type) {
        if (count == MAX_PARAMS) {
            throw new IllegalStateException("a kernel launch with more than " + MAX_PARAMS + " parameters");
        }
        types[count] = type;
        return count++ * SLOT_BYTES;
    }

    /** The address of the {@code void*} array {@code cuLaunchKernel} takes as {@code kernelParams}. */
    long kernelParams() {
        return pointerArray;
    }

    /** The C types in order: {@code int}, {@code long long}, {@code unsigned long long}, {@code float},
     * {@code double}, {@code ptr}. */
    List<String> types() {
        return List.of(Arrays.copyOf(types, count));
    }
}
