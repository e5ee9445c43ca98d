package org.rnn4j.cuda;

import java.util.ArrayList;
import java.util.List;
import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;

/**
 * The parameter array of one kernel launch, built in the order of the kernel's C signature
 * ({@code kernels/ABI.md}): each parameter is a pointer to its value, as {@code cuLaunchKernel}
 * wants. The C types are recorded too, so that a test can compare the order with the ABI.
 */
final class KernelArgs {

    /** A null device pointer: what a {@code null} buffer becomes. */
    static final CUdeviceptr NULL = new CUdeviceptr();

    private final List<NativePointerObject> params = new ArrayList<>();
    private final List<String> types = new ArrayList<>();

    /** {@code int}. */
    KernelArgs i32(int v) {
        return add(Pointer.to(new int[] {v}), "int");
    }

    /** {@code int} from a Java boolean (0 / 1). */
    KernelArgs flag(boolean v) {
        return i32(v ? 1 : 0);
    }

    /** {@code long long}. */
    KernelArgs i64(long v) {
        return add(Pointer.to(new long[] {v}), "long long");
    }

    /** {@code unsigned long long}, the same 64 bits as the Java {@code long}. */
    KernelArgs u64(long v) {
        return add(Pointer.to(new long[] {v}), "unsigned long long");
    }

    /** {@code float}. */
    KernelArgs f32(float v) {
        return add(Pointer.to(new float[] {v}), "float");
    }

    /** A device pointer (any element type); {@link #NULL} for an absent buffer. */
    KernelArgs ptr(CUdeviceptr p) {
        return add(Pointer.to(p), "ptr");
    }

    private KernelArgs add(Pointer p, String type) {
        params.add(p);
        types.add(type);
        return this;
    }

    /** The array {@code cuLaunchKernel} takes as {@code kernelParams}. */
    Pointer toPointer() {
        return Pointer.to(params.toArray(new NativePointerObject[0]));
    }

    /** The C types in order: {@code int}, {@code long long}, {@code unsigned long long}, {@code float}, {@code ptr}. */
    List<String> types() {
        return List.copyOf(types);
    }
}
