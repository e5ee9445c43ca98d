package org.rnn4j.cuda;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;

/**
 * The driver entry points of the per-call path (launches, memsets, copies, stream synchronize, making the
 * context current), bound straight to {@code libcuda.so.1} through JNA <em>direct</em> mapping: every
 * argument is a primitive (handles and device pointers as {@code long}), so a call costs about as much as a
 * plain JNI call (a fraction of a microsecond) and builds no Java object. JCuda keeps what it is good at
 * and what runs once (driver start-up, device queries, modules, allocations, events): see
 * {@code kernels/ABI.md}, "Which binding makes each call". Statuses are returned as they come; callers
 * check them with {@link Driver#check}, naming the call.
 */
final class DirectDriver {

    private static boolean bindTried;
    private static String bindFailure;

    private DirectDriver() {
    }

    /** The entry points, registered on {@code libcuda.so.1} by {@link #bind}. Names are the ABI's ({@code _v2} where cuda.h maps to it). */
    static final class Lib {
        private Lib() {
        }

        static native int cuCtxSetCurrent(long context);

        static native int cuLaunchKernel(long function, int gridX, int gridY, int gridZ, int blockX, int blockY,
                                         int blockZ, int sharedBytes, long stream, long kernelParams, long extra);

        static native int cuMemsetD32Async(long dst, int value, long count, long stream);

        static native int cuMemcpyHtoDAsync_v2(long dst, long src, long bytes, long stream);

        static native int cuMemcpyDtoHAsync_v2(long dst, long src, long bytes, long stream);

        static native int cuMemcpyDtoDAsync_v2(long dst, long src, long bytes, long stream);

        static native int cuStreamSynchronize(long stream);

        static native int cuEventRecord(long event, long stream);

        static native int cuEventSynchronize(long event);

        static native int cuStreamWaitEvent(long stream, long event, int flags);

        static native int cuStreamBeginCapture_v2(long stream, int mode);

        static native int cuStreamEndCapture(long stream, long[] graph);

        static native int cuGraphInstantiateWithFlags(long[] exec, long graph, long flags);

        /** {@code resultInfo}: a {@code CUgraphExecUpdateResultInfo} (the result, then two node handles). */
        static native int cuGraphExecUpdate_v2(long exec, long graph, long[] resultInfo);

        static native int cuGraphLaunch(long exec, long stream);

        static native int cuGraphExecDestroy(long exec);

        static native int cuGraphDestroy(long graph);
    }

    /**
     * Binds {@link Lib} to the {@code libcuda.so.1} the JCuda natives loaded (the same library: the dynamic
     * loader hands back the one already in the process), once per JVM.
     *
     * @throws IllegalStateException with the reason when it cannot be bound
     */
    static synchronized void bind() {
        if (!bindTried) {
            bindTried = true;
            try {
                Native.register(Lib.class, NativeLibrary.getInstance("libcuda.so.1"));
            } catch (Throwable t) {
                bindFailure = "binding libcuda.so.1 through JNA failed: " + Driver.conciseLinkError(t);
            }
        }
        if (bindFailure != null) {
            throw new IllegalStateException(bindFailure);
        }
    }
}
