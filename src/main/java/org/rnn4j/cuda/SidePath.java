package org.rnn4j.cuda;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;

import java.util.ArrayList;
import java.util.List;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUstream_flags;
import org.rnn4j.cuda.DirectDriver.Lib;

/**
 * A second stream of a {@link CudaEngine} with the cuBLAS handle that queues on it and the two events that
 * order it against the stream it branches from: {@link #fork} (the side stream waits for what was queued on
 * the other so far) and {@link #join} (the other waits for what was queued on the side). Inside a stream
 * capture the same two calls are how CUDA builds a graph's parallel branch: the side stream joins the capture at
 * the fork and must be joined back before the capture ends.
 *
 * <p>The handle has a fixed workspace of its own, the size of the engine's (so cuBLAS chooses the same algorithm,
 * and the bits are the same, on either stream): the side's GEMMs run beside the other stream's, and a workspace
 * shared by two concurrent GEMMs would be overwritten; cuBLAS must not allocate one while captured either.
 */
final class SidePath implements AutoCloseable {

    final long stream;
    final CublasBinding blas;
    private final Driver.Stream streamObject;
    private final Driver.DevPtr workspace;
    private final Driver.Event forkEvent;
    private final Driver.Event joinEvent;
    private final String name;

    private SidePath(String name, Driver.Stream stream, CublasBinding blas, Driver.DevPtr workspace,
                     Driver.Event forkEvent, Driver.Event joinEvent) {
        this.name = name;
        this.streamObject = stream;
        this.stream = stream.handle();
        this.blas = blas;
        this.workspace = workspace;
        this.forkEvent = forkEvent;
        this.joinEvent = joinEvent;
    }

    /**
     * A new non-blocking stream {@code name}, a sibling of {@code cublas} on it with its own
     * {@code workspaceBytes}, and its events; nothing is left acquired when it throws.
     */
    static SidePath open(String name, CublasBinding cublas, long workspaceBytes) {
        List<AutoCloseable> acquired = new ArrayList<>();
        try {
            Driver.Stream s = new Driver.Stream();
            Driver.check(cuStreamCreate(s, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate", name);
            acquired.add(() -> Driver.check(cuStreamDestroy(s), "cuStreamDestroy", name));
            Driver.DevPtr ws = new Driver.DevPtr();
            Driver.check(cuMemAlloc(ws, workspaceBytes), "cuMemAlloc", workspaceBytes + " bytes of cuBLAS workspace for " + name);
            acquired.add(() -> Driver.check(cuMemFree(ws), "cuMemFree", "cuBLAS workspace of " + name));
            Driver.Event fork = event(name, acquired);
            Driver.Event join = event(name, acquired);
            CublasBinding b = CublasLoader.openSibling(cublas, s);
            acquired.add(b);
            b.setWorkspace(ws.address(), workspaceBytes);
            return new SidePath(name, s, b, ws, fork, join);
        } catch (RuntimeException e) {
            for (int i = acquired.size() - 1; i >= 0; i--) {
                try {
                    acquired.get(i).close();
                } catch (Exception cleanup) {
                    e.addSuppressed(cleanup);
                }
            }
            throw e;
        }
    }

    private static Driver.Event event(String name, List<AutoCloseable> acquired) {
        Driver.Event e = new Driver.Event();
        Driver.check(cuEventCreate(e, CUevent_flags.CU_EVENT_DISABLE_TIMING), "cuEventCreate", name);
        acquired.add(() -> Driver.check(cuEventDestroy(e), "cuEventDestroy", name));
        return e;
    }

    /** The side stream's later work runs after everything queued on {@code from} so far. */
    void fork(long from) {
        Driver.check(Lib.cuEventRecord(forkEvent.handle(), from), "cuEventRecord", "fork to " + name);
        Driver.check(Lib.cuStreamWaitEvent(stream, forkEvent.handle(), 0), "cuStreamWaitEvent", name + " after the fork");
    }

    /** {@code into}'s later work runs after everything queued on the side stream so far. */
    void join(long into) {
        Driver.check(Lib.cuEventRecord(joinEvent.handle(), stream), "cuEventRecord", "join of " + name);
        Driver.check(Lib.cuStreamWaitEvent(into, joinEvent.handle(), 0), "cuStreamWaitEvent", "the join of " + name);
    }

    /** Frees everything (queued work on the stream still completes); the first failure is thrown, all are attempted. */
    @Override
    public void close() {
        List<RuntimeException> failures = new ArrayList<>();
        Runnable[] steps = {
            blas::close,
            () -> Driver.check(cuMemFree(workspace), "cuMemFree", "cuBLAS workspace of " + name),
            () -> Driver.check(cuEventDestroy(forkEvent), "cuEventDestroy", name),
            () -> Driver.check(cuEventDestroy(joinEvent), "cuEventDestroy", name),
            () -> Driver.check(cuStreamDestroy(streamObject), "cuStreamDestroy", name),
        };
        for (Runnable step : steps) {
            try {
                step.run();
            } catch (RuntimeException e) {
                failures.add(e);
            }
        }
        if (!failures.isEmpty()) {
            RuntimeException first = failures.get(0);
            for (int i = 1; i < failures.size(); i++) {
                first.addSuppressed(failures.get(i));
            }
            throw first;
        }
    }
}
