package org.rnn4j.cuda;

import com.sun.jna.Function;
import com.sun.jna.NativeLibrary;

/**
 * The stand-in driver's call counters (native/standin/README.md, "Counters and the host-overhead
 * mode"), read through JNA from the {@code libcuda.so.1} JCuda loaded. On NVIDIA's driver the
 * functions do not exist: {@link #available()} is false there.
 */
final class StandinCounters {
    private static final Function COUNT;
    private static final Function RESET;

    static {
        Function count = null;
        Function reset = null;
        try {
            NativeLibrary cuda = NativeLibrary.getInstance("libcuda.so.1");
            count = cuda.getFunction("rnn4j_standin_count");
            reset = cuda.getFunction("rnn4j_standin_reset_stats");
        } catch (UnsatisfiedLinkError e) {
            // not the stand-in, or no driver at all
        }
        COUNT = count;
        RESET = reset;
    }

    private StandinCounters() {
    }

    /** Whether the loaded libcuda.so.1 is the stand-in. */
    static boolean available() {
        return COUNT != null;
    }

    /** Calls of a driver or cuBLAS entry point by its exported name, launches of a kernel, or a total ("graph nodes"). */
    static long count(String name) {
        return COUNT.invokeLong(new Object[] {name});
    }

    /** Every counter to 0. */
    static void reset() {
        RESET.invokeVoid(new Object[0]);
    }
}
