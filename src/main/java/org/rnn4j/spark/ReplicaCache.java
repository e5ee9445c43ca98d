package org.rnn4j.spark;

import java.util.Deque;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.rnn4j.train.Optimizer;

/**
 * The model replicas of one executor JVM, kept between steps: a pool per training run and device, one
 * replica per task running at once (an executor runs several tasks in threads, and a replica is not
 * thread-safe). A replica is built only when the pool has none free, so after the first step an executor
 * builds nothing; one whose task failed is closed rather than reused.
 */
final class ReplicaCache {
    /** A replica, its optimizer (parameter averaging only) and the id of the weights broadcast it holds (-1: none). */
    static final class Slot {
        final Replica<?> replica;
        Optimizer optimizer;
        long broadcast = -1;

        Slot(Replica<?> replica) {
            this.replica = replica;
        }

        void close() {
            if (optimizer != null) {
                optimizer.close();
            }
            replica.close();
        }
    }

    private static final Map<String, Deque<Slot>> FREE = new ConcurrentHashMap<>();
    private static final Map<String, AtomicInteger> BUILT = new ConcurrentHashMap<>();

    private ReplicaCache() {
    }

    /** A free replica of run {@code run} on {@code device}, or a new one from {@code create}. */
    static Slot borrow(String run, String device, Supplier<Replica<?>> create) {
        Slot s = FREE.computeIfAbsent(key(run, device), k -> new ConcurrentLinkedDeque<>()).pollFirst();
        if (s != null) {
            return s;
        }
        BUILT.computeIfAbsent(run, k -> new AtomicInteger()).incrementAndGet();
        return new Slot(create.get());
    }

    /** Returns a replica after a successful task. */
    static void release(String run, String device, Slot slot) {
        FREE.computeIfAbsent(key(run, device), k -> new ConcurrentLinkedDeque<>()).addFirst(slot);
    }

    /** How many replicas this JVM has built for {@code run}. */
    static int built(String run) {
        AtomicInteger n = BUILT.get(run);
        return n == null ? 0 : n.get();
    }

    /** Closes and forgets every free replica of {@code run} in this JVM. */
    static void evict(String run) {
        String prefix = run + "@";
        FREE.entrySet().removeIf(e -> {
            if (!e.getKey().startsWith(prefix)) {
                return false;
            }
            for (Slot s; (s = e.getValue().pollFirst()) != null; ) {
                s.close();
            }
            return true;
        });
        BUILT.remove(run);
    }

    private static String key(String run, String device) {
        return run + "@" + device;
    }
}
