package org.rnn4j.cuda;

import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUresult;
import org.rnn4j.CellType;
import org.rnn4j.engine.Recurrence;

/**
 * The persistent algorithm ({@code kernels/persistent.cu}): one cooperative launch runs a layer-direction's
 * whole forward or backward loop, each CTA keeping its slice of {@code W_hh} (backward: of {@code W_hhᵀ}) in
 * shared memory for the whole sequence, one grid barrier per step.
 *
 * <p>It covers FP32 LSTM without peepholes or projection (cell clip and the coupled gate included), GRU in
 * both forms (reset-after, reset-before) and the vanilla RNN (tanh, relu), any per-sample lengths; everything
 * else is {@link #uncovered} and runs the standard path. The launch shape
 * comes from the device's limits ({@link #plan}): the fewest hidden units per CTA whose grid is co-resident
 * (the driver's occupancy for that block size and shared memory, times the multiprocessors) and whose slice
 * fits the opt-in shared memory per block. A {@code CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE} at launch (a GPU
 * may fit fewer blocks than its occupancy said, e.g. under MPS) makes {@link #run} return {@code false}: the
 * caller runs the standard path, never fails.
 */
final class PersistentRecurrence {

    /** The most threads per CTA: a CTA's (b, unit) pairs are strided over them. */
    static final int MAX_THREADS = 256;
    private static final int WARP = 32;
    private static final int FLOAT_BYTES = 4;
    private static final int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;

    /** The cooperative-launch entry points, JNA direct like {@link DirectDriver.Lib}. */
    static final class Lib {
        private Lib() {
        }

        static native int cuLaunchCooperativeKernel(long function, int gridX, int gridY, int gridZ, int blockX,
                                                    int blockY, int blockZ, int sharedBytes, long stream,
                                                    long kernelParams);

        static native int cuOccupancyMaxActiveBlocksPerMultiprocessor(int[] blocks, long function, int blockSize,
                                                                      long dynamicSharedBytes);

        static native int cuFuncSetAttribute(long function, int attribute, int value);
    }

    private static boolean bound;

    private static synchronized void bind() {
        if (!bound) {
            Native.register(Lib.class, NativeLibrary.getInstance("libcuda.so.1"));
            bound = true;
        }
    }

    /**
     * A launch shape: {@code units} hidden units per CTA, {@code blocks} CTAs, {@code threads} per CTA,
     * {@code sharedBytes} of dynamic shared memory each; or, with {@code blocks == 0}, why none fits.
     */
    record Plan(int units, int blocks, int threads, int sharedBytes, String unusable) {
        static Plan none(String why) {
            return new Plan(0, 0, 0, 0, why);
        }

        boolean usable() {
            return unusable == null;
        }

        @Override
        public String toString() {
            return usable() ? blocks + " CTAs × " + threads + " threads, " + units + " units and "
                    + (sharedBytes < 1024 ? sharedBytes + " bytes" : sharedBytes / 1024 + " KiB") + " of W_hh each" : unusable;
        }
    }

    private final CudaEngine engine;
    private final int multiprocessors;
    private final int sharedOptIn;
    private final String deviceUnusable;

    PersistentRecurrence(CudaEngine engine, int multiprocessors, int sharedOptIn, String deviceUnusable) {
        this.engine = engine;
        this.multiprocessors = multiprocessors;
        this.sharedOptIn = sharedOptIn;
        this.deviceUnusable = deviceUnusable;
    }

    /** Reads the device's limits and lets both kernels use its opt-in shared memory per block. */
    static PersistentRecurrence open(CudaEngine engine, CUdevice dev) {
        bind();
        int sms = attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
        int optIn = attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
        if (attribute(dev, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH) == 0) {
            return new PersistentRecurrence(engine, sms, optIn, "the device has no cooperative launch");
        }
        return forDevice(engine, sms, optIn);
    }

    /**
     * The algorithm for a device of {@code multiprocessors} with {@code sharedOptIn} bytes of shared memory per
     * block (tests use it to plan for a device other than the one that runs the launch).
     */
    static PersistentRecurrence forDevice(CudaEngine engine, int multiprocessors, int sharedOptIn) {
        bind();
        for (Kernel k : KERNELS) {
            Driver.check(Lib.cuFuncSetAttribute(engine.function(k), CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                    sharedOptIn), "cuFuncSetAttribute", k.symbol + " MAX_DYNAMIC_SHARED_SIZE_BYTES " + sharedOptIn);
        }
        return new PersistentRecurrence(engine, multiprocessors, sharedOptIn, null);
    }

    private static int attribute(CUdevice dev, int attribute) {
        int[] v = new int[1];
        Driver.check(cuDeviceGetAttribute(v, attribute, dev), "cuDeviceGetAttribute", "attribute " + attribute);
        return v[0];
    }

    /** Why the persistent kernels do not cover {@code loop} (a feature, not a size), or null when they do. */
    static String uncovered(Recurrence loop) {
        if (loop.peep != null) {
            return "persistent kernels do not cover peepholes";
        }
        if (loop.projSize != 0) {
            return "persistent kernels do not cover a projection (proj_size " + loop.projSize + ")";
        }
        // the reset-after GRU's backward writes dGx and dGh (its n block differs), every other cell's dGx only
        boolean twoGateGradients = loop.cell == CellType.GRU && loop.resetAfter;
        if (loop.pass == Recurrence.Pass.BACKWARD && (loop.dGh != loop.dGx) != twoGateGradients) {
            return "persistent backward of " + loop.cell + " writes " + (twoGateGradients ? "two gate gradients" : "one gate gradient");
        }
        return null;
    }


    /** The launch shape of {@code loop} on this device, or {@link Plan#none} with the reason. */
    Plan plan(Recurrence loop) {
        String why = deviceUnusable != null ? deviceUnusable : uncovered(loop);
        if (why != null) {
            return Plan.none(why);
        }
        int g = loop.cell.gates();
        if ((long) loop.batch * loop.hidden > Integer.MAX_VALUE || 4L * loop.hidden > Integer.MAX_VALUE) {
            return Plan.none("batch·hidden beyond the kernels' 32-bit indices");
        }
        Kernel kernel = kernel(loop);
        int h = loop.hidden;
        int[] perSm = new int[1];
        for (int units = 1; units <= h; units++) {
            long blocks = CudaEngine.ceilDiv(h, units);
            if (units > 1 && blocks == CudaEngine.ceilDiv(h, units - 1)) {
                continue;   // the same grid with a larger slice
            }
            long shared = (long) g * units * h * FLOAT_BYTES;   // forward [G][units][H], backward [units][G·H]
            if (shared > sharedOptIn) {
                return Plan.none("no co-resident grid: " + (blocks * units == h ? "" : "about ") + blocks
                        + " CTAs would need " + shared + " bytes of W_hh each, beyond the device's " + sharedOptIn
                        + " per block (hidden " + h + ", " + multiprocessors + " multiprocessors)");
            }
            int threads = (int) Math.min(MAX_THREADS, Math.max(WARP, CudaEngine.ceilDiv((long) loop.batch * units, WARP) * WARP));
            Driver.check(Lib.cuOccupancyMaxActiveBlocksPerMultiprocessor(perSm, engine.function(kernel), threads, shared),
                    "cuOccupancyMaxActiveBlocksPerMultiprocessor", kernel.symbol);
            if (blocks <= (long) perSm[0] * multiprocessors) {
                return new Plan(units, (int) blocks, threads, (int) shared, null);
            }
        }
        return Plan.none("no co-resident grid for hidden " + h);
    }

    private static final Kernel[] KERNELS = {
        Kernel.PERSISTENT_LSTM_FORWARD, Kernel.PERSISTENT_LSTM_BACKWARD, Kernel.PERSISTENT_GRU_FORWARD,
        Kernel.PERSISTENT_GRU_BACKWARD, Kernel.PERSISTENT_GRU_RB_FORWARD, Kernel.PERSISTENT_GRU_RB_BACKWARD,
        Kernel.PERSISTENT_RNN_FORWARD, Kernel.PERSISTENT_RNN_BACKWARD};

    /** The kernel of {@code loop}'s cell and pass. */
    static Kernel kernel(Recurrence loop) {
        boolean forward = loop.pass == Recurrence.Pass.FORWARD;
        return switch (loop.cell) {
            case LSTM -> forward ? Kernel.PERSISTENT_LSTM_FORWARD : Kernel.PERSISTENT_LSTM_BACKWARD;
            case GRU -> loop.resetAfter ? (forward ? Kernel.PERSISTENT_GRU_FORWARD : Kernel.PERSISTENT_GRU_BACKWARD)
                    : (forward ? Kernel.PERSISTENT_GRU_RB_FORWARD : Kernel.PERSISTENT_GRU_RB_BACKWARD);
            case RNN_TANH, RNN_RELU -> forward ? Kernel.PERSISTENT_RNN_FORWARD : Kernel.PERSISTENT_RNN_BACKWARD;
        };
    }

    /**
     * Queues {@code loop} as one cooperative launch of {@code plan}; {@code false} when the driver says the grid
     * does not fit at once ({@code CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE}: nothing was queued, run the standard
     * path). Any other failure is a {@link CudaException}.
     */
    boolean run(Recurrence loop, Plan plan) {
        Kernel kernel = kernel(loop);
        KernelArgs args = arguments(engine.launchArgs(), loop, plan.units(), engine::addressOrNull);
        int status = engine.launchCooperative(kernel, plan.blocks(), plan.threads(), plan.sharedBytes(), args);
        if (status == CUresult.CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE) {
            return false;
        }
        if (status != CUresult.CUDA_SUCCESS) {
            throw Driver.failure(status, "cuLaunchCooperativeKernel", kernel.symbol + " <<<" + plan.blocks() + ", "
                    + plan.threads() + ", " + plan.sharedBytes() + ">>> on " + engine.name());
        }
        return true;
    }

    /**
     * The kernel's parameters in the order of {@code kernels/persistent.cu} (and {@code ABI.md}): one list for every
     * forward kernel, one for every backward kernel.
     */
    static KernelArgs arguments(KernelArgs args, Recurrence loop, int units, CudaEngine.PointerResolver r) {
        args.reset().i32(loop.steps).i32(loop.batch).i32(loop.hidden).i32(units)
                .ptr(r.at(loop.lengths, 0, "lengths"));
        if (loop.pass == Recurrence.Pass.FORWARD) {
            args.ptr(r.at(loop.xp, 0, "xp")).ptr(r.at(loop.whh, 0, "whh"))
                    .ptr(r.at(loop.bih, 0, "bih")).ptr(r.at(loop.bhh, 0, "bhh"))
                    .ptr(r.at(loop.hs, 0, "hs")).ptr(r.at(loop.cs, 0, "cs"))
                    .ptr(r.at(loop.out, loop.outOff, "out")).i32(loop.outLd)
                    .ptr(r.at(loop.saved, 0, "saved")).flag(loop.keep);
        } else {
            args.ptr(r.at(loop.whh, 0, "whh")).ptr(r.at(loop.hs, 0, "hs")).ptr(r.at(loop.cs, 0, "cs"))
                    .ptr(r.at(loop.saved, 0, "saved")).ptr(r.at(loop.dH, 0, "dH")).ptr(r.at(loop.dc, 0, "dc"))
                    .ptr(r.at(loop.dGx, 0, "dGx")).ptr(r.at(loop.dGh, 0, "dGh"))
                    .ptr(r.at(loop.dh0, loop.dh0Off, "dh0"));
        }
        return args.f32(loop.cellClip).flag(loop.coupled).flag(loop.cell == CellType.RNN_RELU);
    }
}
