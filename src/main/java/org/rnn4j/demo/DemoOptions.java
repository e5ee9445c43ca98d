package org.rnn4j.demo;

import org.rnn4j.Device;

/**
 * The settings every demo has: the seed and the device. Each demo's {@code Options} extends this, so the
 * setters chain with the demo's own ({@code O} is that subclass).
 */
public abstract class DemoOptions<O extends DemoOptions<O>> {
    long seed = 42;
    Device device;

    DemoOptions() {
    }

    @SuppressWarnings("unchecked")
    private O self() {
        return (O) this;
    }

    public O seed(long v) {
        seed = v;
        return self();
    }

    /** The device to run on; {@code null} means {@link Device#best()}. */
    public O device(Device v) {
        device = v;
        return self();
    }

    /** The device set, or {@link Device#best()} when none was. */
    Device resolvedDevice() {
        return device != null ? device : Device.best();
    }
}
