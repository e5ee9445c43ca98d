package org.rnn4j;

/**
 * Int32 values that a pass reads on the device, with their host copy: sequence lengths, token ids or class targets.
 * The host copy is what the argument checks read (no device read), the device copy what the kernels read;
 * {@link #set} replaces both and keeps the device address, so a CUDA graph of a step that reads them serves every
 * value they take (as cuDNN's {@code devSeqLengths} does for graph capture). Whoever reads them checks the values
 * as for an {@code int[]}.
 */
public final class DeviceInts implements AutoCloseable {
    private final Tensor values;
    private final int[] host;

    private DeviceInts(Tensor values, int[] host) {
        this.values = values;
        this.host = host;
    }

    /** A copy of {@code values} on {@code device} and on the host. */
    public static DeviceInts of(Device device, int[] values) {
        if (values == null) {
            throw new IllegalArgumentException("values: expected an array of int32 values, got null");
        }
        if (device == null) {
            throw new IllegalArgumentException("device: expected a device, got null");
        }
        return new DeviceInts(Tensor.ofInts(device, values, values.length), values.clone());
    }

    /** Replaces the values with {@code values}, as many as before, at the same device address. */
    public void set(int[] values) {
        if (values == null || values.length != host.length) {
            throw new IllegalArgumentException("values: expected " + host.length + " int32 values, got "
                    + (values == null ? "null" : values.length));
        }
        this.values.copyFromInts(values);
        System.arraycopy(values, 0, host, 0, host.length);
    }

    /** How many values. */
    public int size() {
        return host.length;
    }

    /** Value {@code i} (the host copy). */
    public int get(int i) {
        return host[i];
    }

    /** A copy of the values (from the host copy). */
    public int[] toArray() {
        return host.clone();
    }

    /** The device copy, an I32 tensor of {@link #size()} elements (live: closed with this). */
    public Tensor tensor() {
        return values;
    }

    public Device device() {
        return values.device();
    }

    @Override
    public void close() {
        values.close();
    }

    @Override
    public String toString() {
        return "DeviceInts(" + host.length + " values) on " + values.device();
    }
}
