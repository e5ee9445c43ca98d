package org.rnn4j.engine;

import java.util.concurrent.atomic.AtomicReference;

/**
 * Fails fast when two threads use one object at once. Layers accumulate gradients with plain
 * read-add-write passes and keep per-call workspaces, so two overlapping calls would lose updates
 * without a word; instead the second call gets an {@link IllegalStateException} naming the object,
 * both threads and both operations. Calls from different threads that do not overlap are fine, and so
 * is a call nested in another on the same thread (a callback of {@code fit} that calls {@code predict}).
 */
public final class ExclusiveUse {
    private final Object owner;
    private final AtomicReference<Use> current = new AtomicReference<>();
    /** Calls nested in the current one, on its thread (only that thread reads or writes it). */
    private int nested;

    private record Use(Thread thread, String operation) {
    }

    /** Held for the length of one call; closing it lets the next call in. */
    public interface Held extends AutoCloseable {
        @Override
        void close();
    }

    /** @param owner named in the messages (its {@code toString}) */
    public ExclusiveUse(Object owner) {
        this.owner = owner;
    }

    /**
     * Marks {@code operation} as running on the calling thread until the returned handle is closed.
     *
     * @throws IllegalStateException when another call is running on this object
     */
    public Held enter(String operation) {
        Use held = current.get();
        if (held != null && held.thread() == Thread.currentThread()) {
            nested++;
            return () -> nested--;
        }
        Use mine = new Use(Thread.currentThread(), operation);
        if (!current.compareAndSet(null, mine)) {
            Use other = current.get();
            String running = other == null ? "another call" : other.operation() + " on thread '" + other.thread().getName() + "'";
            throw new IllegalStateException(owner + ": " + operation + " on thread '" + mine.thread().getName()
                    + "' while " + running + " is running; it is not thread-safe: give each thread its own, "
                    + "or synchronize the calls");
        }
        return () -> current.compareAndSet(mine, null);
    }
}
