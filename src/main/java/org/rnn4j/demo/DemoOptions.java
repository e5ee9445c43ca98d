package org.rnn4j.demo;

import org.rnn4j.Device;

/**
 * The settings every demo has: epochs, hidden size, seed and device. Each demo's {@code Options} extends
 * this, so the setters chain with the demo's own ({@code O} is that subclass).
 */
public abstract class DemoOptions<O extends DemoOptions<O>> {
    int epochs;
    int hidden;
    long seed = 42;
    Device device;

    /** The demo's own defaults for {@code epochs} and {@code hidden}. */
    DemoOptions(int epochs, int hidden) {
        this.epochs = epochs;
        this.hidden = hidden;
    }

    @SuppressWarnings("unchecked")
    private O self() {
        return (O) this;
    }

    public O epochs(int v) {
        epochs = atLeast("epochs", 1, v);
        return self();
    }

    public O hidden(int v) {
        hidden = atLeast("hidden", 1, v);
        return self();
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

    /** {@code v}, refused by {@code name} below {@code min}: a setting is checked when it is set, before any work. */
    static int atLeast(String name, int min, int v) {
        if (v < min) {
            throw new IllegalArgumentException(name + ": expected >= " + min + ", got " + v);
        }
        return v;
    }

    /** {@code v}, refused by {@code name} unless a finite value > 0. */
    static double positive(String name, double v) {
        if (!(v > 0) || Double.isInfinite(v)) {
            throw new IllegalArgumentException(name + ": expected a finite value > 0, got " + v);
        }
        return v;
    }

    /** The device set, or {@link Device#best()} when none was. */
    Device resolvedDevice() {
        return device != null ? device : Device.best();
    }
}
