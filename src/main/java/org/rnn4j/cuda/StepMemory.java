package org.rnn4j.cuda;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * The device memory of one thread's {@link CudaEngine#replayableStep} region: what it allocates inside (a whole
 * training step allocates its activations and scratch) must keep its addresses from one run to the next, since
 * a graph replays the addresses it was captured with. PyTorch's CUDA graphs give a capture a private memory pool
 * for the same reason.
 *
 * <ul>
 *   <li>An eager run <em>records</em> the bytes of each allocation, in order.</li>
 *   <li>A capture is <em>served</em>: its blocks were taken from the pool before the capture began (the capture
 *       may not call {@code cuMemAlloc}), one per recorded allocation, and its i-th allocation gets the i-th.
 *       A block it frees stays held, so no later allocation of the capture gets it and the graph's nodes never
 *       share memory the eager run did not share either (a capture does not reuse memory: it costs the sum of the
 *       step's allocations, not their peak). After the capture the blocks belong to the graph, and go back to the
 *       pool when it is destroyed.</li>
 * </ul>
 * An allocation that differs from the recording (another size, or more of them) ends the capture with
 * {@link Mismatch}, and the step runs eagerly instead.
 */
final class StepMemory {

    /** A capture allocated otherwise than the eager run it was prepared from. */
    static final class Mismatch extends RuntimeException {
        Mismatch(String message) {
            super(message, null, false, false);
        }
    }

    private final List<Long> requested = new ArrayList<>();
    private final List<DevicePool.Block> served;
    private final Set<DevicePool.Block> held = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Set<DevicePool.Block> freed = Collections.newSetFromMap(new IdentityHashMap<>());
    private int next;
    /** A capture freed memory it did not allocate: its graph reads memory the pool may hand out again. */
    private boolean freedOutside;

    private StepMemory(List<DevicePool.Block> served) {
        this.served = served;
    }

    /** For an eager run: records what it allocates. */
    static StepMemory recording() {
        return new StepMemory(null);
    }

    /** For a capture: serves {@code blocks}, acquired for {@code requested} (the recording), in order. */
    static StepMemory serving(long[] requested, List<DevicePool.Block> blocks) {
        StepMemory m = new StepMemory(blocks);
        for (long r : requested) {
            m.requested.add(r);
        }
        return m;
    }

    boolean isCapture() {
        return served != null;
    }

    /** The bytes of each allocation recorded, in order. */
    long[] recorded() {
        long[] r = new long[requested.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = requested.get(i);
        }
        return r;
    }

    /** Records an eager allocation of {@code bytes}. */
    void record(long bytes) {
        requested.add(bytes);
    }

    /** The capture's next block, for an allocation of {@code bytes}; {@link Mismatch} where it differs from the recording. */
    DevicePool.Block serve(long bytes) {
        if (next >= served.size()) {
            throw new Mismatch("the capture allocated more than the " + served.size() + " buffers its eager run did");
        }
        if (requested.get(next) != bytes) {
            throw new Mismatch("allocation " + next + " of the capture asked for " + bytes + " bytes, its eager run for "
                    + requested.get(next));
        }
        DevicePool.Block b = served.get(next++);
        held.add(b);
        return b;
    }

    /**
     * Whether a capture keeps {@code block} instead of giving it back to the pool: one it served. Any other block
     * freed during the capture is noted ({@link #freedOutside}) and goes back as usual.
     */
    boolean keeps(DevicePool.Block block) {
        if (held.contains(block)) {
            freed.add(block);
            return true;
        }
        freedOutside = true;
        return false;
    }

    boolean freedOutside() {
        return freedOutside;
    }

    /** The blocks the graph keeps: those the capture allocated. */
    List<DevicePool.Block> used() {
        return List.copyOf(served.subList(0, next));
    }

    /** The blocks acquired for it that the capture did not allocate. */
    List<DevicePool.Block> unused() {
        return List.copyOf(served.subList(next, served.size()));
    }

    /** Whether every block the capture allocated was freed inside it (nothing it allocated outlives the region). */
    boolean allFreed() {
        return freed.size() == held.size();
    }
}
