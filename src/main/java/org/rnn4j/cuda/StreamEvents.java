package org.rnn4j.cuda;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;

import java.util.ArrayList;
import java.util.List;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUresult;

/**
 * Timestamps on a CUDA engine's stream, for profilers: {@link #record()} queues an event after the
 * work queued so far and returns its index; {@link #millis(int, int)} is the GPU time between two of
 * them. Events are created as needed and reused after {@link #reset()}, so a profiled loop creates
 * none once warm. One thread at a time, like the engine.
 */
public final class StreamEvents implements AutoCloseable {

    private final CudaEngine engine;
    private final List<CUevent> events = new ArrayList<>();
    private int used;
    private boolean closed;

    public StreamEvents(CudaEngine engine) {
        if (engine == null) {
            throw new IllegalArgumentException("engine: expected a CUDA engine, got null");
        }
        this.engine = engine;
    }

    /** Queues the next event on the stream; its index for {@link #millis}. */
    public int record() {
        if (closed) {
            throw new IllegalStateException("these StreamEvents are closed");
        }
        if (used == events.size()) {
            CUevent e = new CUevent();
            Driver.check(cuEventCreate(e, CUevent_flags.CU_EVENT_DEFAULT), "cuEventCreate");
            events.add(e);
        }
        engine.recordEvent(events.get(used));
        return used++;
    }

    /** Events recorded since the last {@link #reset()}. */
    public int count() {
        return used;
    }

    /** Milliseconds of GPU time from event {@code from} to event {@code to}; waits for {@code to}. */
    public float millis(int from, int to) {
        if (from < 0 || to < 0 || from >= used || to >= used) {
            throw new IllegalArgumentException("from, to: expected recorded events in [0, " + used + "), got "
                    + from + ", " + to);
        }
        Driver.check(cuEventSynchronize(events.get(to)), "cuEventSynchronize");
        float[] ms = new float[1];
        Driver.check(cuEventElapsedTime(ms, events.get(from), events.get(to)), "cuEventElapsedTime");
        return ms[0];
    }

    /** Starts over at index 0, reusing the events (read what you need first). */
    public void reset() {
        used = 0;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        int failed = CUresult.CUDA_SUCCESS;
        for (CUevent e : events) {
            int status = cuEventDestroy(e);
            if (failed == CUresult.CUDA_SUCCESS) {
                failed = status;
            }
        }
        events.clear();
        Driver.check(failed, "cuEventDestroy");
    }
}
