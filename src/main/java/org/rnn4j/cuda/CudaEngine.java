package org.rnn4j.cuda;

import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetCount;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuDeviceTotalMem;
import static jcuda.driver.JCudaDriver.cuDriverGetVersion;
import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemAllocHost;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemFreeHost;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import jcuda.Pointer;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream_flags;
import org.rnn4j.DType;
import org.rnn4j.Precision;
import org.rnn4j.Device;
import org.rnn4j.engine.Buffer;
import org.rnn4j.engine.Engine;
import org.rnn4j.engine.Pointwise;
import org.rnn4j.engine.Recurrence;
import org.rnn4j.engine.StepArgs;
import org.rnn4j.cuda.DirectDriver.Lib;

/**
 * The CUDA engine: JCuda's driver API for the context, the stream, module loading and launches;
 * cuBLAS for GEMMs; the kernels of {@code kernels/} (see {@code kernels/ABI.md}) loaded from the
 * fatbins on the classpath.
 *
 * <p>How it runs:
 * <ul>
 *   <li>One engine per device, on the device's primary context (retained at {@link #open},
 *       released at {@link #close}). Every public method first makes that context current, so it
 *       may be called from any thread (but not concurrently: like the CPU engine, an engine is
 *       used by one thread at a time).</li>
 *   <li>All work runs on one non-blocking stream, in call order (a region being captured into a CUDA
 *       graph is recorded on a capture stream and runs on the engine's when the graph is launched: see
 *       {@link #replayable}). Host copies
 *       ({@code upload}, {@code download}, {@code sumSquares}, {@code hasNonFinite}) go through a
 *       pinned staging buffer with asynchronous copies <em>on that stream</em> followed by a stream
 *       synchronize: the synchronous {@code cuMemcpyHtoD} would run on the legacy NULL stream, which
 *       a non-blocking stream does not order against, so a kernel queued next could read the
 *       destination before the DMA finished.</li>
 *   <li>Device memory comes from a caching {@link DevicePool}, so a training step does not call
 *       {@code cuMemAlloc}.</li>
 *   <li>GEMMs are exact FP32 (cuBLAS default math, reduced-precision reductions disallowed; the handle
 *       never enables TF32). A {@link Precision#TF32} or {@link Precision#BF16} layer asks for its precision per
 *       call ({@code cublasGemmEx}), so nothing else on the handle changes.</li>
 *   <li>Every driver and cuBLAS status is checked; a failure is a {@link CudaException} naming the
 *       call. Kernel faults are asynchronous and surface at the next synchronizing call.</li>
 * </ul>
 */
public final class CudaEngine implements Engine {

    /** Threads per block of every launch (kernels/common.cuh BLOCK). */
    static final int THREADS = 256;
    /** Fixed grid of rnn4j_sum_squares (kernels/common.cuh SUM_SQUARES_BLOCKS). */
    static final int SUM_SQUARES_BLOCKS = 256;
    /** Grid cap of the grid-stride kernels: enough to fill any current GPU several times over. */
    static final int MAX_GRID_STRIDE_BLOCKS = 8192;
    /** scatter_add_rows: aim for this many (part, column) work items ... */
    static final long SCATTER_WORK_ITEMS = 1 << 16;
    /** ... with at most this many parts (each part's threads read every index). */
    static final int MAX_SCATTER_PARTS = 256;
    /** Pinned host staging for uploads and downloads; larger copies go in chunks. */
    static final int STAGING_BYTES = 4 << 20;
    /** Uploads alternate between the staging buffer's two halves. */
    static final int STAGING_HALF_BYTES = STAGING_BYTES / 2;
    /** Device scratch: 256 double partials of sumSquares, then the int flag of hasNonFinite. */
    private static final long SCRATCH_BYTES = 4096;
    private static final long FLAG_OFFSET_BYTES = 2048;

    /** Set to 1, every buffer is its own exact cuMemAlloc (for memory checkers; see {@link DevicePool}). */
    static final String NO_CACHING_ENV = "RNN4J_NO_CUDA_MEMORY_CACHING";

    private static final Set<CudaEngine> OPEN = ConcurrentHashMap.newKeySet();
    private static final AtomicBoolean HOOK_REGISTERED = new AtomicBoolean();

    private final Device device;
    private final int ordinal;
    private final String name;

    // Acquired in open(), in this order; released in reverse by release(). Null / false: not acquired.
    private CUdevice cuDevice;
    private Driver.Context context;
    private boolean contextRetained;
    private Driver.Stream stream;
    private boolean streamCreated;
    private final Map<String, CUmodule> modules = new LinkedHashMap<>();
    /** The raw {@code CUfunction} of each kernel, by ordinal. */
    private final long[] functions = new long[Kernel.values().length];
    private CublasBinding cublas;
    private DevicePool pool;
    private final Map<Long, Driver.DevPtr> rawBlocks = new ConcurrentHashMap<>();
    private Driver.HostPtr stagingHost;
    private ByteBuffer staging;
    private final ByteBuffer[] stagingHalves = new ByteBuffer[2];
    /** Recorded after the copy out of each staging half (raw CUevent handles; 0 until created). */
    private final long[] stagingEvents = new long[2];
    private final List<Driver.Event> createdEvents = new ArrayList<>();
    private Driver.DevPtr scratch;
    // the raw handles and addresses the direct driver calls take (0 until acquired)
    private long contextHandle;
    private long streamHandle;
    private long stagingAddress;
    private long scratchAddress;

    /**
     * Each thread's kernel parameter block (see {@link KernelArgs}): an engine is used by one thread at a
     * time, but not always the same one.
     */
    private final ThreadLocal<KernelArgs> launchArgs = ThreadLocal.withInitial(KernelArgs::new);
    /** The engine whose context this thread last made current, so that {@link #enter} sets it only on a change. */
    private static final ThreadLocal<CudaEngine> CURRENT = new ThreadLocal<>();

    private String deviceName = "?";
    private int ccMajor;
    private int ccMinor;
    private long totalMemory;
    private int driverVersion;

    private volatile boolean closed;

    // ---- CUDA graphs of replayable regions (see replayable)
    /**
     * {@code -Drnn4j.cuda.graphs=false} turns graphs off for every engine; {@link #setGraphsEnabled} for one. On by
     * default: a region is captured on the engine's capture stream, which only the capturing thread queues on, so
     * other threads sharing the engine (Spark's local executors) keep running on the engine's stream meanwhile.
     */
    public static final String GRAPHS_PROPERTY = "rnn4j.cuda.graphs";
    /** cuBLAS's workspace while it is captured (its own default on sm_90); fixed, so graphs can keep using it. */
    static final long CUBLAS_WORKSPACE_BYTES = 32L << 20;
    /** Instantiated graphs kept; the least recently replayed goes first. */
    static final int MAX_GRAPHS = 64;
    /**
     * Instantiated graphs kept per region shape; a capture beyond it moves the shape's least recent one to the new
     * pointers with {@code cuGraphExecUpdate} instead of instantiating another.
     */
    static final int MAX_GRAPHS_PER_SHAPE = 4;
    /** Regions seen once but not captured (a region is captured on its second sighting). */
    static final int MAX_SEEN = 256;
    private static final int CAPTURE_MODE_THREAD_LOCAL = 1;
    private volatile boolean graphsEnabled = graphsProperty();

    /** {@value #GRAPHS_PROPERTY}: true (the default) or false; anything else is refused, not read as either. */
    static boolean graphsProperty() {
        String v = System.getProperty(GRAPHS_PROPERTY, "true").trim();
        if (v.equalsIgnoreCase("true") || v.equalsIgnoreCase("false")) {
            return v.equalsIgnoreCase("true");
        }
        throw new IllegalArgumentException("-D" + GRAPHS_PROPERTY + ": expected true or false, got '" + v + "'");
    }

    /** Why graphs cannot be used on this engine (then every region runs eagerly), or null. */
    private volatile String graphsUnusable;
    /**
     * The thread whose region is being captured, or null: its work goes to the capture stream and the capture
     * cuBLAS handle ({@link #queue}, {@link #blas}); everyone else's to the engine's stream. One capture at a time.
     */
    private volatile Thread capturer;
    /** Created at the first capture; only the {@link #capturer} queues on it, and nothing on it ever runs. */
    private Driver.Stream captureStream;
    private long captureStreamHandle;
    private CublasBinding captureCublas;
    private Driver.DevPtr cublasWorkspace;
    /** Guards the graph cache and the capture stream: threads sharing the engine replay and capture concurrently. */
    private final Object graphLock = new Object();
    private final LinkedHashMap<GraphKey, Long> graphs = new LinkedHashMap<>(16, 0.75f, true);
    private final LinkedHashMap<GraphKey, Boolean> seenOnce = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<GraphKey, Boolean> eldest) {
            return size() > MAX_SEEN;
        }
    };
    /**
     * Graphs of {@link #replayableStep} regions, least recently replayed first; each holds the memory its step
     * allocated ({@link StepMemory}), so there are few of them.
     */
    static final int MAX_STEP_GRAPHS = 4;
    private final LinkedHashMap<GraphKey, StepGraph> stepGraphs = new LinkedHashMap<>(16, 0.75f, true);
    /** Step regions seen once, with the bytes of each allocation of that run (what their capture is given). */
    private final LinkedHashMap<GraphKey, long[]> stepsSeenOnce = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<GraphKey, long[]> eldest) {
            return size() > MAX_SEEN;
        }
    };
    /** Why step regions run eagerly on this engine (it ran out of memory because of step graphs), or null. */
    private volatile String stepGraphsOff;
    /** The memory of the step region the current thread runs, or null outside one. */
    private final ThreadLocal<StepMemory> stepMemory = new ThreadLocal<>();

    /** An instantiated step graph and the pool blocks its nodes use. */
    private record StepGraph(long exec, List<DevicePool.Block> memory) {
    }

    private final Object stagingLock = new Object();
    /** Tests only: receives launches instead of the driver (see {@link #forArgumentTests}). */
    private final Launcher recorder;

    /** Where a launch goes instead of {@code cuLaunchKernel} in {@link #forArgumentTests}. */
    interface Launcher {
        void launch(Kernel kernel, int grid, int threads, KernelArgs args);
    }

    private CudaEngine(Device device, int ordinal) {
        this.device = device;
        this.ordinal = ordinal;
        this.name = "cuda:" + ordinal;
        this.recorder = null;
    }

    private CudaEngine(Launcher recorder, CublasBinding cublas, DevicePool pool) {
        this.device = null;
        this.ordinal = 0;
        this.name = "cuda:test";
        this.recorder = recorder;
        this.cublas = cublas;
        this.pool = pool;
        this.algorithms = new AlgorithmChoice(this, null, true);
    }

    /**
     * An engine without a GPU whose kernel launches go to {@code recorder} and whose GEMMs go to
     * {@code cublas}, so that tests can check every launch's parameter list against the kernel
     * sources. Only methods that do nothing but launch kernels or call cuBLAS work on it.
     */
    static CudaEngine forArgumentTests(Launcher recorder, CublasBinding cublas, DevicePool pool) {
        return new CudaEngine(recorder, cublas, pool);
    }

    /** Tests only: a buffer of this engine on a block of its pool (at a null base pointer in argument tests). */
    CudaBuffer testBuffer(DType dtype, long elements) {
        return wrap(dtype, elements, pool.acquire(CudaBuffer.bytes(dtype, elements)));
    }

    // ================================================================ opening and probing

    /**
     * Starts the engine of CUDA device {@code ordinal}.
     *
     * @throws IllegalStateException whose message is the reason CUDA is not usable (callers such as
     *         {@link Device#best()} say "CUDA is not usable: " before it): the JCuda
     *         natives did not load (no driver), {@code cuInit} failed, no device with that ordinal,
     *         the kernels are not built (fatbins missing from the classpath) or not built for this
     *         GPU, or no usable cuBLAS. Everything acquired before the failure is released.
     * @throws IllegalArgumentException for a malformed {@value #GRAPHS_PROPERTY}, {@value #STREAMS_PROPERTY} or
     *         {@value AlgorithmChoice#PROPERTY}
     */
    public static CudaEngine open(Device device, int ordinal) {
        // a malformed setting is the caller's to fix (an IllegalArgumentException), not an unusable device, which
        // Device.best() would answer with the CPU; checked before anything is acquired
        graphsProperty();
        streamsProperty();
        AlgorithmChoice.checkProperties();
        if (ordinal < 0) {
            throw new IllegalArgumentException("ordinal: expected >= 0, got " + ordinal);
        }
        int count = deviceCount();
        if (ordinal >= count) {
            throw new IllegalStateException("no CUDA device with ordinal " + ordinal
                    + " (" + count + " found)");
        }
        Map<String, byte[]> fatbins;
        try {
            fatbins = Kernel.readFatbins();
        } catch (IllegalStateException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
        CudaEngine engine = new CudaEngine(device, ordinal);
        try {
            engine.start(fatbins);
        } catch (Throwable t) {
            try {
                engine.release();
            } catch (Throwable cleanup) {
                t.addSuppressed(cleanup);
            }
            if (t instanceof IllegalStateException) {
                throw new IllegalStateException(engine.name + ": " + t.getMessage(), t);
            }
            if (t instanceof CudaException) {
                throw new IllegalStateException(engine.name + ": " + t.getMessage(), t);
            }
            if (t instanceof Error e) {
                throw e;
            }
            throw new IllegalStateException(engine.name + ": " + t, t);
        }
        OPEN.add(engine);
        if (HOOK_REGISTERED.compareAndSet(false, true)) {
            Runtime.getRuntime().addShutdownHook(new Thread(CudaEngine::closeAllOpen, "rnn4j-cuda-shutdown"));
        }
        return engine;
    }

    /** Loads the natives, initialises the driver and counts devices; the reason as an exception otherwise. */
    private static int deviceCount() {
        String failure = Driver.loadFailure();
        if (failure != null) {
            throw new IllegalStateException("the JCuda natives failed to load (" + failure
                    + "); is an NVIDIA driver installed?");
        }
        int status = cuInit(0);
        if (status != CUresult.CUDA_SUCCESS) {
            throw new IllegalStateException("cuInit failed with " + Driver.statusName(status)
                    + Driver.initHint(status));
        }
        int[] count = new int[1];
        status = cuDeviceGetCount(count);
        if (status != CUresult.CUDA_SUCCESS) {
            throw new IllegalStateException("cuDeviceGetCount failed with "
                    + Driver.statusName(status));
        }
        return count[0];
    }

    private void start(Map<String, byte[]> fatbins) {
        CUdevice dev = new CUdevice();
        Driver.check(cuDeviceGet(dev, ordinal), "cuDeviceGet", name);
        cuDevice = dev;
        readProperties(dev);

        DirectDriver.bind();
        Driver.Context ctx = new Driver.Context();
        Driver.check(cuDevicePrimaryCtxRetain(ctx, dev), "cuDevicePrimaryCtxRetain", name);
        context = ctx;
        contextHandle = ctx.handle();
        contextRetained = true;
        makeCurrent();

        Driver.Stream s = new Driver.Stream();
        Driver.check(cuStreamCreate(s, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
        stream = s;
        streamHandle = s.handle();
        streamCreated = true;

        String arch = "sm_" + ccMajor + ccMinor;
        for (Map.Entry<String, byte[]> e : fatbins.entrySet()) {
            CUmodule module = new CUmodule();
            int status = cuModuleLoadData(module, e.getValue());
            if (status != CUresult.CUDA_SUCCESS) {
                throw new IllegalStateException(Driver.moduleLoadMessage(status, Kernel.resource(e.getKey()), arch));
            }
            modules.put(e.getKey(), module);
        }
        for (Kernel k : Kernel.values()) {
            Driver.Function f = new Driver.Function();
            int status = cuModuleGetFunction(f, modules.get(k.module), k.symbol);
            if (status != CUresult.CUDA_SUCCESS) {
                throw new IllegalStateException("kernels out of date: cuModuleGetFunction(" + k.symbol + ") in "
                        + Kernel.resource(k.module) + " failed with " + Driver.statusName(status)
                        + " (rebuild them with native/build.sh)");
            }
            functions[k.ordinal()] = f.handle();
        }

        cublas = CublasLoader.open(s);
        Driver.DevPtr ws = new Driver.DevPtr();
        Driver.check(cuMemAlloc(ws, CUBLAS_WORKSPACE_BYTES), "cuMemAlloc", CUBLAS_WORKSPACE_BYTES + " bytes of cuBLAS workspace");
        cublasWorkspace = ws;
        try {
            cublas.setWorkspace(ws.address(), CUBLAS_WORKSPACE_BYTES);
        } catch (RuntimeException e) {
            graphsOff("cublasSetWorkspace failed (" + e.getMessage() + "), and cuBLAS cannot allocate while captured");
        }
        pool = new DevicePool(new DevicePool.Allocator() {
            @Override
            public long allocate(long bytes) {
                return rawAllocate(bytes);
            }

            @Override
            public void free(long address) {
                rawFree(address);
            }
        }, !"1".equals(System.getenv(NO_CACHING_ENV)));

        Driver.HostPtr host = new Driver.HostPtr();
        Driver.check(cuMemAllocHost(host, STAGING_BYTES), "cuMemAllocHost", STAGING_BYTES + " bytes of pinned staging");
        stagingHost = host;
        stagingAddress = host.address();
        staging = host.getByteBuffer(0, STAGING_BYTES).order(ByteOrder.nativeOrder());
        for (int half = 0; half < 2; half++) {
            stagingHalves[half] = staging.slice(half * STAGING_HALF_BYTES, STAGING_HALF_BYTES).order(ByteOrder.nativeOrder());
            Driver.Event e = new Driver.Event();
            Driver.check(cuEventCreate(e, CUevent_flags.CU_EVENT_DISABLE_TIMING), "cuEventCreate", "staging half " + half);
            createdEvents.add(e);
            stagingEvents[half] = e.handle();
        }

        Driver.DevPtr sc = new Driver.DevPtr();
        Driver.check(cuMemAlloc(sc, SCRATCH_BYTES), "cuMemAlloc", SCRATCH_BYTES + " bytes of scratch");
        scratch = sc;
        scratchAddress = sc.address();
        algorithms = new AlgorithmChoice(this, PersistentRecurrence.open(this, dev), AlgorithmChoice.onStandIn());
    }

    private void readProperties(CUdevice dev) {
        byte[] nameBytes = new byte[256];
        Driver.check(cuDeviceGetName(nameBytes, nameBytes.length, dev), "cuDeviceGetName");
        deviceName = cString(nameBytes);
        int[] v = new int[1];
        Driver.check(cuDeviceGetAttribute(v, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev),
                "cuDeviceGetAttribute");
        ccMajor = v[0];
        Driver.check(cuDeviceGetAttribute(v, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev),
                "cuDeviceGetAttribute");
        ccMinor = v[0];
        long[] mem = new long[1];
        Driver.check(cuDeviceTotalMem(mem, dev), "cuDeviceTotalMem");
        totalMemory = mem[0];
        Driver.check(cuDriverGetVersion(v), "cuDriverGetVersion");
        driverVersion = v[0];
    }

    private static String cString(byte[] bytes) {
        int n = 0;
        while (n < bytes.length && bytes[n] != 0) {
            n++;
        }
        return new String(bytes, 0, n, java.nio.charset.StandardCharsets.UTF_8).trim();
    }

    /** {@code 13000} → {@code 13.0}. */
    static String driverVersionString(int version) {
        return version / 1000 + "." + (version % 1000) / 10;
    }

    static String gib(long bytes) {
        return String.format(Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30));
    }

    /**
     * A report for the {@code info} command: the JCuda natives, the driver version, each device
     * (name, compute capability, memory), whether the kernels are on the classpath, which cuBLAS
     * binding would be used, and whether CUDA is usable or exactly why not. Never throws; works
     * on a machine without any NVIDIA driver.
     */
    public static String probe() {
        List<String> lines = new ArrayList<>();
        lines.add("CUDA engine (JCuda driver API " + Driver.jcudaVersion() + ")");
        String notUsable = null;
        try {
            String failure = Driver.loadFailure();
            if (failure != null) {
                lines.add("  JCuda natives: not loaded: " + failure);
                notUsable = "the JCuda natives failed to load (" + failure + "); is an NVIDIA driver installed?";
            } else {
                lines.add("  JCuda natives: loaded");
                notUsable = probeDriver(lines);
            }
        } catch (Throwable t) {
            lines.add("  driver: probe failed: " + CublasLoader.reason(t));
            notUsable = "driver probe failed: " + CublasLoader.reason(t);
        }
        try {
            List<String> missing = Kernel.missingFatbins();
            if (missing.isEmpty()) {
                lines.add("  kernels: " + String.join(", ", Kernel.modules()) + " fatbins on the classpath ("
                        + Kernel.RESOURCE_DIR + ")");
            } else {
                lines.add("  kernels: not built: missing " + String.join(", ", missing)
                        + " (build with native/build.sh on a host with nvcc)");
                if (notUsable == null) {
                    notUsable = "kernels not built";
                }
            }
        } catch (Throwable t) {
            lines.add("  kernels: cannot check: " + CublasLoader.reason(t));
        }
        try {
            List<String> cublasLines = CublasLoader.probe();
            for (String l : cublasLines) {
                lines.add("  " + l);
            }
            if (notUsable == null && cublasLines.stream().anyMatch(l -> l.startsWith("cuBLAS: none usable"))) {
                notUsable = "no usable cuBLAS";
            }
        } catch (Throwable t) {
            lines.add("  cuBLAS: probe failed: " + CublasLoader.reason(t));
        }
        lines.add(notUsable == null ? "  usable: yes" : "  usable: no: " + notUsable);
        return String.join(System.lineSeparator(), lines);
    }

    /** Adds the driver and device lines; returns why CUDA is not usable, or null. */
    private static String probeDriver(List<String> lines) {
        int[] v = new int[1];
        int status = cuDriverGetVersion(v);
        lines.add(status == CUresult.CUDA_SUCCESS
                ? "  driver: CUDA " + driverVersionString(v[0]) + " (" + v[0] + ")"
                : "  driver: cuDriverGetVersion failed with " + Driver.statusName(status));
        status = cuInit(0);
        if (status != CUresult.CUDA_SUCCESS) {
            lines.add("  cuInit: " + Driver.statusName(status) + Driver.initHint(status));
            return "cuInit failed with " + Driver.statusName(status) + Driver.initHint(status);
        }
        int[] count = new int[1];
        status = cuDeviceGetCount(count);
        if (status != CUresult.CUDA_SUCCESS) {
            lines.add("  devices: cuDeviceGetCount failed with " + Driver.statusName(status));
            return "cuDeviceGetCount failed with " + Driver.statusName(status);
        }
        lines.add("  devices: " + count[0]);
        for (int i = 0; i < count[0]; i++) {
            try {
                CUdevice dev = new CUdevice();
                Driver.check(cuDeviceGet(dev, i), "cuDeviceGet");
                byte[] nameBytes = new byte[256];
                Driver.check(cuDeviceGetName(nameBytes, nameBytes.length, dev), "cuDeviceGetName");
                int[] major = new int[1];
                int[] minor = new int[1];
                Driver.check(cuDeviceGetAttribute(major,
                        CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev), "cuDeviceGetAttribute");
                Driver.check(cuDeviceGetAttribute(minor,
                        CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev), "cuDeviceGetAttribute");
                long[] mem = new long[1];
                Driver.check(cuDeviceTotalMem(mem, dev), "cuDeviceTotalMem");
                lines.add("    cuda:" + i + " " + cString(nameBytes) + ", sm_" + major[0] + minor[0] + ", " + gib(mem[0]));
            } catch (Throwable t) {
                lines.add("    cuda:" + i + " unreadable: " + CublasLoader.reason(t));
            }
        }
        return count[0] == 0 ? "no CUDA device" : null;
    }

    // ================================================================ lifecycle

    /** Closes every engine still open (JVM shutdown). */
    private static void closeAllOpen() {
        for (CudaEngine e : OPEN.toArray(new CudaEngine[0])) {
            try {
                e.close();
            } catch (Throwable ignored) {
                // the JVM is exiting; the driver frees what is left with the process
            }
        }
    }

    /**
     * Waits for queued work, then frees the pool, the cuBLAS handle, the modules, the stream and
     * releases the primary context. Idempotent. Buffers still open become unusable (closing them
     * later is harmless).
     *
     * @throws CudaException for the first release that failed (all are attempted)
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        OPEN.remove(this);
        release();
    }

    /** Releases whatever {@link #start} acquired, in reverse; used by close and by a failed open. */
    private void release() {
        List<RuntimeException> failures = new ArrayList<>();
        if (contextRetained) {
            attempt(failures, this::makeCurrent);
        }
        if (streamCreated) {
            attempt(failures, () -> Driver.check(cuStreamSynchronize(stream), "cuStreamSynchronize"));
        }
        if (pool != null) {
            attempt(failures, pool::close);
        }
        if (scratch != null) {
            Driver.DevPtr sc = scratch;
            scratch = null;
            attempt(failures, () -> Driver.check(cuMemFree(sc), "cuMemFree", "scratch"));
        }
        for (Driver.Event e : createdEvents) {
            attempt(failures, () -> Driver.check(cuEventDestroy(e), "cuEventDestroy", "staging"));
        }
        createdEvents.clear();
        java.util.Arrays.fill(stagingEvents, 0L);
        if (stagingHost != null) {
            Pointer host = stagingHost;
            stagingHost = null;
            staging = null;
            attempt(failures, () -> Driver.check(cuMemFreeHost(host), "cuMemFreeHost", "staging"));
        }
        attempt(failures, this::destroyGraphs);
        if (captureCublas != null) {
            CublasBinding b = captureCublas;
            captureCublas = null;
            attempt(failures, b::close);
        }
        for (SidePath p : new SidePath[] {side, captureSide, sideRegions}) {
            if (p != null) {
                attempt(failures, p::close);
            }
        }
        side = null;
        captureSide = null;
        sideRegions = null;
        if (cublas != null) {
            CublasBinding b = cublas;
            cublas = null;
            attempt(failures, b::close);
        }
        if (cublasWorkspace != null) {
            Driver.DevPtr ws = cublasWorkspace;
            cublasWorkspace = null;
            attempt(failures, () -> Driver.check(cuMemFree(ws), "cuMemFree", "cuBLAS workspace"));
        }
        for (Map.Entry<String, CUmodule> e : modules.entrySet()) {
            attempt(failures, () -> Driver.check(cuModuleUnload(e.getValue()), "cuModuleUnload",
                    Kernel.resource(e.getKey())));
        }
        modules.clear();
        java.util.Arrays.fill(functions, 0L);
        if (captureStream != null) {
            Driver.Stream s = captureStream;
            captureStream = null;
            attempt(failures, () -> Driver.check(cuStreamDestroy(s), "cuStreamDestroy", "capture stream"));
        }
        if (streamCreated) {
            streamCreated = false;
            attempt(failures, () -> Driver.check(cuStreamDestroy(stream), "cuStreamDestroy"));
        }
        if (contextRetained) {
            contextRetained = false;
            attempt(failures, () -> Driver.check(cuDevicePrimaryCtxRelease(cuDevice), "cuDevicePrimaryCtxRelease"));
        }
        if (!failures.isEmpty()) {
            RuntimeException first = failures.get(0);
            for (int i = 1; i < failures.size(); i++) {
                first.addSuppressed(failures.get(i));
            }
            throw first;
        }
    }

    private static void attempt(List<RuntimeException> failures, Runnable step) {
        try {
            step.run();
        } catch (RuntimeException e) {
            failures.add(e);
        }
    }

    /** Refuses a closed engine and makes its context current on the calling thread. */
    private void enter() {
        if (closed) {
            throw new IllegalStateException("the CUDA engine of " + name + " is closed");
        }
        if (recorder != null || CURRENT.get() == this) {
            return;
        }
        makeCurrent();
    }

    /**
     * {@code cuCtxSetCurrent} of this engine's context on the calling thread. Only rnn4j's engines set the
     * context of their threads; code that sets another context on a thread that also runs an engine must
     * set it back before the engine's next call (the engine sets it only when another engine was last).
     */
    private void makeCurrent() {
        Driver.check(Lib.cuCtxSetCurrent(contextHandle), "cuCtxSetCurrent", name);
        CURRENT.set(this);
    }

    String name() {
        return name;
    }

    /**
     * The stream the calling thread queues on: its side stream while it queues a side branch ({@link #concurrently}),
     * the capture stream while it captures a region, else the engine's.
     */
    private long queue() {
        if (sideThreads.get() > 0) {
            SidePath p = lanes.get().path;
            if (p != null) {
                return p.stream;
            }
        }
        return capturer == Thread.currentThread() ? captureStreamHandle : streamHandle;
    }

    /** The cuBLAS handle of {@link #queue()}'s stream. */
    private CublasBinding blas() {
        if (sideThreads.get() > 0) {
            SidePath p = lanes.get().path;
            if (p != null) {
                return p.blas;
            }
        }
        return capturer == Thread.currentThread() ? captureCublas : cublas;
    }

    @Override
    public Device device() {
        return device;
    }

    /**
     * One line: device, compute capability, memory, driver and cuBLAS binding, e.g.
     * {@code cuda:0 NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB), driver 13.0, cuBLAS 13.1.0 via JNA (/usr/.../libcublas.so.13)}.
     */
    @Override
    public String describe() {
        CublasBinding b = cublas;
        return name + " " + deviceName + " (sm_" + ccMajor + ccMinor + ", " + gib(totalMemory) + "), driver "
                + driverVersionString(driverVersion) + ", " + (b == null ? "cuBLAS closed" : b.describe())
                + (closed ? " [closed]" : "");
    }

    // ================================================================ memory

    private long rawAllocate(long bytes) {
        Driver.DevPtr p = new Driver.DevPtr();
        int status = cuMemAlloc(p, bytes);
        if (status == CUresult.CUDA_ERROR_OUT_OF_MEMORY) {
            // the pool frees its cached blocks next; queued kernels may still use them
            synchronizeBeforeReleasingCached();
            throw new DevicePool.OutOfMemory("cuMemAlloc(" + bytes + ") failed: CUDA_ERROR_OUT_OF_MEMORY");
        }
        Driver.check(status, "cuMemAlloc", bytes + " bytes");
        long address = p.address();
        rawBlocks.put(address, p);
        return address;
    }

    private void rawFree(long address) {
        Driver.DevPtr p = rawBlocks.remove(address);
        if (p == null) {
            throw new IllegalStateException("cuMemFree: 0x" + Long.toHexString(address) + " was not allocated here");
        }
        Driver.check(cuMemFree(p), "cuMemFree", "0x" + Long.toHexString(address));
    }

    /** Called by {@link CudaBuffer#close()}: the block goes back to the pool (nothing after close). */
    void recycle(DevicePool.Block block) {
        StepMemory m = stepMemory.get();
        if (m != null && m.isCapture() && m.keeps(block)) {
            return;   // the step graph being captured keeps it
        }
        DevicePool p = pool;
        if (p != null && !closed) {
            if (sideThreads.get() > 0) {
                Lane lane = lanes.get();
                if (lane.path != null) {   // its last use is on the side stream: back to the pool at the join
                    lane.released.add(block);
                    return;
                }
            }
            p.release(block);
        }
    }

    /** Bytes of device memory held by live buffers and workspaces (by their pool blocks' sizes). */
    public long bytesInUse() {
        return pool.bytesInUse();
    }

    /** Bytes of device memory in the pool's free blocks. */
    public long bytesCached() {
        return pool.bytesCached();
    }

    /**
     * Gives the pool's wholly free segments back to the device (waits for queued work first, since it
     * may still use them); free blocks in a segment that is partly in use stay cached.
     */
    public void releaseCached() {
        enter();
        syncAndReleaseCached();
    }

    @Override
    public Buffer allocate(DType dtype, long elements) {
        CudaBuffer buffer = allocateUninitialized(dtype, elements);
        if (elements > 0) {
            try {
                int status = Lib.cuMemsetD32Async(buffer.address(0), 0, CudaBuffer.bytes(dtype, elements) / 4, queue());
                if (status != CUresult.CUDA_SUCCESS) {
                    throw Driver.failure(status, "cuMemsetD32Async", "zeroing " + buffer);
                }
            } catch (RuntimeException e) {
                buffer.close();
                throw e;
            }
        }
        return buffer;
    }

    /** A pool block as it is: what the previous user left, or the driver's fresh memory. */
    @Override
    public CudaBuffer allocateUninitialized(DType dtype, long elements) {
        if (dtype == null) {
            throw new IllegalArgumentException("dtype: expected F32, I32 or BF16, got null");
        }
        if (elements < 0) {
            throw new IllegalArgumentException("elements: expected >= 0, got " + elements);
        }
        enter();
        return wrap(dtype, elements, acquire(CudaBuffer.bytes(dtype, elements)));
    }

    /**
     * A pool block. On an eager side branch the side stream first waits for the engine's: the block may have been
     * released there (by another thread sharing the engine) with its last use still queued.
     */
    private DevicePool.Block acquire(long bytes) {
        StepMemory m = stepMemory.get();
        DevicePool.Block block;
        if (m != null && m.isCapture()) {
            block = m.serve(bytes);
        } else {
            if (m != null) {
                m.record(bytes);
            }
            block = fromPool(bytes);
        }
        if (sideThreads.get() > 0) {
            SidePath p = lanes.get().path;
            if (p != null && p == side) {
                p.fork(streamHandle);
            }
        }
        return block;
    }

    /**
     * A pool block; where the device is out of memory with step graphs holding theirs, they give it back first (and
     * step graphs stay off if that was what the request needed).
     */
    private DevicePool.Block fromPool(long bytes) {
        try {
            return pool.acquire(bytes);
        } catch (CudaException e) {
            if (!"CUDA_ERROR_OUT_OF_MEMORY".equals(e.status()) || !dropStepGraphs()) {
                throw e;
            }
            DevicePool.Block block = pool.acquire(bytes);
            stepGraphsOff("out of device memory until the step graphs gave theirs back");   // they were in the way
            return block;
        }
    }

    /** A buffer of this engine over {@code block}. */
    private CudaBuffer wrap(DType dtype, long elements, DevicePool.Block block) {
        return new CudaBuffer(this, dtype, elements, block);
    }

    /**
     * Scratch memory from the pool, not zeroed. Close it right after queuing its last use: all work is on
     * one stream, so whoever gets the block next is queued after that use.
     */
    private CudaBuffer workspace(long elements) {
        return wrap(DType.F32, elements, acquire(elements * CudaBuffer.ELEMENT_BYTES));
    }

    /** A buffer of this engine, open; the argument named otherwise. */
    private CudaBuffer own(Buffer b, String arg) {
        if (b == null) {
            throw new IllegalArgumentException(arg + ": expected a buffer of " + name + ", got null");
        }
        if (!(b instanceof CudaBuffer cb) || cb.engine != this) {
            throw new IllegalArgumentException(arg + ": expected a buffer of " + name + ", got " + b
                    + " from another engine");
        }
        if (cb.isClosed()) {
            throw new IllegalStateException(arg + ": " + cb + " is closed");
        }
        return cb;
    }

    private long ptr(Buffer b, long off, String arg) {
        return own(b, arg).address(off);
    }

    /** As {@link #ptr}, with {@code null} meaning an absent buffer (a null device pointer). */
    private long ptrOrNull(Buffer b, long off, String arg) {
        return b == null ? KernelArgs.NULL : ptr(b, off, arg);
    }

    private static void checkRange(String arg, CudaBuffer b, long off, long n) {
        if (off < 0 || n < 0 || off > b.length() - n) {
            throw new IllegalArgumentException(arg + ": expected a range within [0, " + b.length() + "), got offset "
                    + off + " length " + n);
        }
    }

    private static void checkArray(String arg, int arrayLength, int off, int n) {
        if (off < 0 || n < 0 || off > arrayLength - n) {
            throw new IllegalArgumentException(arg + ": expected a range within an array of " + arrayLength
                    + ", got offset " + off + " length " + n);
        }
    }

    @Override
    public void upload(float[] src, int srcOff, Buffer dst, long dstOff, int n) {
        checkArray("src", src.length, srcOff, n);
        enter();
        CudaBuffer d = own(dst, "dst");
        checkRange("dst", d, dstOff, n);
        uploadChunks(n, d, dstOff, (buf, from, count) -> buf.asFloatBuffer().put(src, srcOff + from, count));
    }

    @Override
    public void upload(int[] src, int srcOff, Buffer dst, long dstOff, int n) {
        checkArray("src", src.length, srcOff, n);
        enter();
        CudaBuffer d = own(dst, "dst");
        checkRange("dst", d, dstOff, n);
        uploadChunks(n, d, dstOff, (buf, from, count) -> buf.asIntBuffer().put(src, srcOff + from, count));
    }

    @Override
    public void download(Buffer src, long srcOff, float[] dst, int dstOff, int n) {
        checkArray("dst", dst.length, dstOff, n);
        enter();
        CudaBuffer s = own(src, "src");
        checkRange("src", s, srcOff, n);
        downloadChunks(n, s, srcOff, (buf, from, count) -> buf.asFloatBuffer().get(dst, dstOff + from, count));
    }

    @Override
    public void download(Buffer src, long srcOff, int[] dst, int dstOff, int n) {
        checkArray("dst", dst.length, dstOff, n);
        enter();
        CudaBuffer s = own(src, "src");
        checkRange("src", s, srcOff, n);
        downloadChunks(n, s, srcOff, (buf, from, count) -> buf.asIntBuffer().get(dst, dstOff + from, count));
    }

    /** Moves {@code count} elements starting at element {@code from} between an array and the staging buffer. */
    private interface Chunk {
        void move(ByteBuffer staging, int from, int count);
    }

    /**
     * Small uploads (one staging half) are one copy and one synchronize. Larger ones alternate between the
     * two halves of the staging buffer: the host fills one half while the copy from the other runs, and
     * waits (on that half's event) only before refilling a half whose copy may still be running; one
     * synchronize at the end, since an upload returns when the data is on the device.
     */
    private void uploadChunks(int n, CudaBuffer dst, long dstOff, Chunk fill) {
        int perChunk = STAGING_HALF_BYTES / (int) CudaBuffer.ELEMENT_BYTES;
        synchronized (stagingLock) {
            int chunk = 0;
            for (int from = 0; from < n; from += perChunk, chunk++) {
                int half = chunk % 2;
                int count = Math.min(perChunk, n - from);
                int status = chunk >= 2 ? Lib.cuEventSynchronize(stagingEvents[half]) : CUresult.CUDA_SUCCESS;
                if (status != CUresult.CUDA_SUCCESS) {
                    throw Driver.failure(status, "cuEventSynchronize", "staging half " + half + " of an upload to " + dst);
                }
                fill.move(stagingHalves[half].clear(), from, count);
                status = Lib.cuMemcpyHtoDAsync_v2(dst.address(dstOff + from), stagingAddress + half * (long) STAGING_HALF_BYTES,
                        count * CudaBuffer.ELEMENT_BYTES, queue());
                if (status != CUresult.CUDA_SUCCESS) {
                    throw Driver.failure(status, "cuMemcpyHtoDAsync", count + " elements to " + dst);
                }
                status = Lib.cuEventRecord(stagingEvents[half], queue());
                if (status != CUresult.CUDA_SUCCESS) {
                    throw Driver.failure(status, "cuEventRecord", "staging half " + half + " of an upload to " + dst);
                }
            }
            int status = Lib.cuStreamSynchronize(queue());
            if (status != CUresult.CUDA_SUCCESS) {
                throw Driver.failure(status, "cuStreamSynchronize", "upload to " + dst);
            }
        }
    }

    private void downloadChunks(int n, CudaBuffer src, long srcOff, Chunk drain) {
        int perChunk = STAGING_BYTES / (int) CudaBuffer.ELEMENT_BYTES;
        synchronized (stagingLock) {
            if (n == 0) {
                // Nothing to copy, but the caller may rely on "download waits for queued work".
                Driver.check(Lib.cuStreamSynchronize(queue()), "cuStreamSynchronize");
            }
            for (int from = 0; from < n; from += perChunk) {
                int count = Math.min(perChunk, n - from);
                // Queued on the stream, so it runs after all work queued before it.
                int status = Lib.cuMemcpyDtoHAsync_v2(stagingAddress, src.address(srcOff + from),
                        count * CudaBuffer.ELEMENT_BYTES, queue());
                if (status != CUresult.CUDA_SUCCESS) {
                    throw Driver.failure(status, "cuMemcpyDtoHAsync", count + " elements from " + src);
                }
                status = Lib.cuStreamSynchronize(queue());
                if (status != CUresult.CUDA_SUCCESS) {
                    throw Driver.failure(status, "cuStreamSynchronize", "download from " + src);
                }
                drain.move(staging.clear(), from, count);
            }
        }
    }

    @Override
    public void copy(Buffer src, long srcOff, Buffer dst, long dstOff, long n) {
        enter();
        CudaBuffer s = own(src, "src");
        CudaBuffer d = own(dst, "dst");
        checkRange("src", s, srcOff, n);
        checkRange("dst", d, dstOff, n);
        if (s.dtype().bytes() != d.dtype().bytes()) {
            throw new IllegalArgumentException("dst: expected a buffer of " + s.dtype() + "'s size, got " + d);
        }
        if (n > 0) {
            int status = Lib.cuMemcpyDtoDAsync_v2(d.address(dstOff), s.address(srcOff), n * s.dtype().bytes(),
                    queue());
            if (status != CUresult.CUDA_SUCCESS) {
                throw Driver.failure(status, "cuMemcpyDtoDAsync", n + " elements from " + s + " to " + d);
            }
        }
    }

    /** A float fill is a 32-bit memset of its bit pattern: exact, and no kernel needed. */
    @Override
    public void fill(Buffer dst, long off, long n, float value) {
        enter();
        CudaBuffer d = own(dst, "dst");
        checkRange("dst", d, off, n);
        if (n > 0) {
            int status = Lib.cuMemsetD32Async(d.address(off), Float.floatToRawIntBits(value), n, queue());
            if (status != CUresult.CUDA_SUCCESS) {
                throw Driver.failure(status, "cuMemsetD32Async", "filling " + n + " elements of " + d);
            }
        }
    }

    @Override
    public void synchronize() {
        enter();
        Driver.check(Lib.cuStreamSynchronize(queue()), "cuStreamSynchronize", name);
    }

    /**
     * Runs {@code work} (which queues work on this engine) between two events on the stream and
     * returns the GPU time between them in milliseconds; waits for the work to finish. For benchmarks.
     */
    public float elapsedMillis(Runnable work) {
        enter();
        CUevent start = null;
        CUevent stop = null;
        try {
            CUevent a = new CUevent();
            Driver.check(cuEventCreate(a, CUevent_flags.CU_EVENT_DEFAULT), "cuEventCreate");
            start = a;
            CUevent b = new CUevent();
            Driver.check(cuEventCreate(b, CUevent_flags.CU_EVENT_DEFAULT), "cuEventCreate");
            stop = b;
            Driver.check(cuEventRecord(start, stream), "cuEventRecord");
            work.run();
            enter();
            Driver.check(cuEventRecord(stop, stream), "cuEventRecord");
            Driver.check(cuEventSynchronize(stop), "cuEventSynchronize");
            float[] ms = new float[1];
            Driver.check(cuEventElapsedTime(ms, start, stop), "cuEventElapsedTime");
            return ms[0];
        } finally {
            RuntimeException failure = null;
            for (CUevent e : new CUevent[] {start, stop}) {
                if (e != null) {
                    int status = cuEventDestroy(e);
                    if (status != CUresult.CUDA_SUCCESS && failure == null) {
                        failure = new CudaException("cuEventDestroy", Driver.statusName(status), null);
                    }
                }
            }
            if (failure != null) {
                throw failure;
            }
        }
    }

    /** Queues {@code event} on this engine's stream: the timestamps of {@link StreamEvents}. */
    void recordEvent(CUevent event) {
        enter();
        Driver.check(cuEventRecord(event, stream), "cuEventRecord");
    }

    // ================================================================ graphs

    /** A replayable region's shape and the address and length of each of its buffers (0, 0 for null). */
    private static final class GraphKey {
        final Object shape;
        final long[] memory;

        GraphKey(Object shape, long[] memory) {
            this.shape = shape;
            this.memory = memory;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof GraphKey k && shape.equals(k.shape) && java.util.Arrays.equals(memory, k.memory);
        }

        @Override
        public int hashCode() {
            return 31 * shape.hashCode() + java.util.Arrays.hashCode(memory);
        }
    }

    /**
     * The first sighting of a region runs it eagerly; the second captures it into a graph, instantiates it and
     * launches it; later ones only launch it: one {@code cuGraphLaunch} for the whole region. Pointers are part of
     * the key, so a replay always runs on the buffers it was captured with, which the caller passed again, open.
     *
     * <p>Threads sharing the engine: a capture records what the capturing thread queues, on the capture stream
     * (thread-local capture mode), while the others keep queuing on the engine's stream and replaying their graphs
     * there; nothing runs on the capture stream, every graph is launched on the engine's stream, so the order of
     * work is the order of calls as on the eager path. One capture at a time: a region due for capture while
     * another thread captures runs eagerly and is captured at its next sighting.
     */
    @Override
    public void replayable(Object shape, Buffer[] buffers, Runnable work) {
        enter();
        Thread me = Thread.currentThread();
        if (!graphsEnabled || graphsUnusable != null || recorder != null || capturer == me) {
            work.run();   // nested in a capture, the work is part of it
            return;
        }
        // a side branch's regions are captured on the side regions' stream (its cuBLAS workspace), so keyed apart
        Lane lane = sideThreads.get() > 0 ? lanes.get() : null;
        SidePath branch = lane == null ? null : lane.path;
        GraphKey key = new GraphKey(branch == null ? shape : List.of("side stream", shape), memoryOf(buffers));
        boolean captureNow;
        synchronized (graphLock) {
            Long exec = graphs.get(key);
            if (exec != null) {
                launchGraph(exec, shape);
                return;
            }
            captureNow = seenOnce.remove(key) != null && capturer == null && captureStreamReady();
            if (captureNow) {
                capturer = me;
            } else {
                seenOnce.put(key, Boolean.TRUE);
            }
        }
        if (!captureNow) {
            work.run();
            return;
        }
        long graph;
        try {
            graph = capture(shape, branch == null ? work : () -> onCaptureSide(lane, work));
        } finally {
            capturer = null;
        }
        if (graph != 0L) {
            synchronized (graphLock) {
                long exec;
                try {
                    exec = updatedOrInstantiated(key, graph);
                } finally {
                    Driver.check(Lib.cuGraphDestroy(graph), "cuGraphDestroy", name);
                }
                if (exec != 0L) {
                    graphs.put(key, exec);
                    if (graphs.size() > MAX_GRAPHS) {
                        Iterator<Map.Entry<GraphKey, Long>> eldest = graphs.entrySet().iterator();
                        long evicted = eldest.next().getValue();
                        eldest.remove();
                        Driver.check(Lib.cuGraphExecDestroy(evicted), "cuGraphExecDestroy", "evicting the least recent graph");
                    }
                    launchGraph(exec, shape);
                    return;
                }
            }
        }
        work.run();   // the driver refused the capture or the instantiation: graphs are off now (said once)
    }

    /**
     * {@link #replayable} for a region that allocates: the first sighting runs {@code work} eagerly and records its
     * allocations, the second captures it with those allocations served from blocks taken for it beforehand
     * ({@link StepMemory}), which the graph keeps; later sightings launch the graph without running {@code work}.
     * A capture that allocates otherwise than the run before it, or frees memory it did not allocate, is not kept:
     * the first runs eagerly after all (so {@code work} must be safe to run again after a failed capture), the
     * second launches its graph once. A step inside another region, or on a side branch, runs as part of it.
     */
    @Override
    public boolean replayableStep(Object shape, Buffer[] buffers, Runnable work) {
        enter();
        Thread me = Thread.currentThread();
        boolean onSide = sideThreads.get() > 0 && lanes.get().path != null;
        if (!graphsEnabled || graphsUnusable != null || stepGraphsOff != null || recorder != null || capturer == me
                || onSide || stepMemory.get() != null) {
            work.run();
            return true;
        }
        GraphKey key = new GraphKey(List.of("step", shape), memoryOf(buffers));
        long[] recorded;
        synchronized (graphLock) {
            StepGraph g = stepGraphs.get(key);
            if (g != null) {
                launchGraph(g.exec(), shape);
                return false;
            }
            recorded = stepsSeenOnce.remove(key);
            if (recorded != null && capturer == null && captureStreamReady()) {
                capturer = me;
            } else {
                recorded = null;
            }
        }
        if (recorded == null) {
            runRecording(key, work);
            return true;
        }
        StepMemory m;
        try {
            m = StepMemory.serving(recorded, acquireAll(recorded));
        } catch (CudaException e) {
            capturer = null;
            if (!"CUDA_ERROR_OUT_OF_MEMORY".equals(e.status())) {
                throw e;
            }
            work.run();   // no room for a step graph's own copy of the step's memory: this one stays eager
            return true;
        }
        long graph = 0;
        stepMemory.set(m);
        try {
            graph = capture(shape, work);
        } catch (StepMemory.Mismatch e) {
            // allocated otherwise than its recording: graph stays 0, the step runs eagerly below
        } catch (RuntimeException | Error e) {
            giveBack(m.used());
            giveBack(m.unused());
            throw e;
        } finally {
            stepMemory.remove();
            capturer = null;
        }
        giveBack(m.unused());
        if (graph == 0) {   // allocated otherwise, or the driver refused the capture (graphs off)
            giveBack(m.used());
            runRecording(key, work);
            return true;
        }
        if (!m.allFreed()) {
            Lib.cuGraphDestroy(graph);
            throw new IllegalStateException("replayableStep of " + shape + ": memory allocated inside the region "
                    + "outlives it (a step region must free everything it allocates)");
        }
        synchronized (graphLock) {
            long[] exec = new long[1];
            int status;
            try {
                status = Lib.cuGraphInstantiateWithFlags(exec, graph, 0L);
            } finally {
                Driver.check(Lib.cuGraphDestroy(graph), "cuGraphDestroy", name);
            }
            if (status != CUresult.CUDA_SUCCESS) {
                giveBack(m.used());
                graphsOff("cuGraphInstantiateWithFlags of " + shape + " failed with " + Driver.statusName(status));
            } else {
                launchGraph(exec[0], shape);
                if (m.freedOutside()) {   // its nodes may read memory the pool hands out again: this launch only
                    Driver.check(Lib.cuGraphExecDestroy(exec[0]), "cuGraphExecDestroy", name);
                    giveBack(m.used());
                    return true;
                }
                stepGraphs.put(key, new StepGraph(exec[0], m.used()));
                if (stepGraphs.size() > MAX_STEP_GRAPHS) {
                    Iterator<Map.Entry<GraphKey, StepGraph>> eldest = stepGraphs.entrySet().iterator();
                    StepGraph evicted = eldest.next().getValue();
                    eldest.remove();
                    Driver.check(destroy(evicted), "cuGraphExecDestroy", "evicting the least recent step graph");
                }
                return true;
            }
        }
        work.run();   // graphs are off now (said once)
        return true;
    }

    /**
     * Destroys the step graphs and gives their memory back (each holds a copy of its step's memory beside the
     * pool's); false when there were none.
     */
    private boolean dropStepGraphs() {
        synchronized (graphLock) {
            boolean any = !stepGraphs.isEmpty();
            RuntimeException failure = destroyStepGraphs();
            if (failure != null) {
                throw failure;
            }
            return any;
        }
    }

    /** Destroys every step graph, its memory back to the pool; the first failure, or null. Under {@link #graphLock}. */
    private RuntimeException destroyStepGraphs() {
        RuntimeException first = null;
        for (StepGraph g : stepGraphs.values()) {
            int status = destroy(g);
            if (status != CUresult.CUDA_SUCCESS && first == null) {
                first = Driver.failure(status, "cuGraphExecDestroy", "a step graph on " + name);
            }
        }
        stepGraphs.clear();
        stepsSeenOnce.clear();
        return first;
    }

    /** Destroys a step graph's executable and gives its memory back; the driver's status. */
    private int destroy(StepGraph g) {
        int status = Lib.cuGraphExecDestroy(g.exec());
        giveBack(g.memory());
        return status;
    }

    /** Step regions run eagerly on this engine from now on (until graphs are turned on again); said once. */
    private void stepGraphsOff(String reason) {
        synchronized (graphLock) {
            if (stepGraphsOff == null) {
                stepGraphsOff = reason;
                System.err.println("rnn4j: " + name + ": step graphs off, training steps run as layer graphs: " + reason);
            }
        }
    }

    /** Runs a step region eagerly, recording its allocations for the capture at its next sighting. */
    private void runRecording(GraphKey key, Runnable work) {
        StepMemory m = StepMemory.recording();
        stepMemory.set(m);
        try {
            work.run();
        } finally {
            stepMemory.remove();
        }
        synchronized (graphLock) {
            stepsSeenOnce.put(key, m.recorded());
        }
    }

    /** A pool block for each of {@code bytes}, in order; on failure those taken go back. */
    private List<DevicePool.Block> acquireAll(long[] bytes) {
        List<DevicePool.Block> blocks = new ArrayList<>(bytes.length);
        try {
            for (long b : bytes) {
                blocks.add(pool.acquire(b));
            }
        } catch (RuntimeException e) {
            giveBack(blocks);
            throw e;
        }
        return blocks;
    }

    /** Back to the pool, in stream order like any release (later users queue after the last launch that used them). */
    private void giveBack(List<DevicePool.Block> blocks) {
        DevicePool p = pool;
        if (p != null && !closed) {
            for (DevicePool.Block b : blocks) {
                p.release(b);
            }
        }
    }

    /**
     * An executable graph of {@code graph} for {@code key}: where {@value #MAX_GRAPHS_PER_SHAPE} graphs of the key's
     * shape are kept already, the least recent of them updated to {@code graph}'s parameters (the same shape
     * captures the same nodes, so only pointers differ: {@code cuGraphExecUpdate}, no new instantiation); else a new
     * instantiation. 0 when instantiation failed (graphs are then off). Under {@link #graphLock}.
     */
    private long updatedOrInstantiated(GraphKey key, long graph) {
        GraphKey oldest = null;
        int sameShape = 0;
        for (GraphKey k : graphs.keySet()) {   // least recent first
            if (k.shape.equals(key.shape)) {
                oldest = oldest == null ? k : oldest;
                sameShape++;
            }
        }
        if (sameShape >= MAX_GRAPHS_PER_SHAPE) {
            long exec = graphs.remove(oldest);
            int status = Lib.cuGraphExecUpdate_v2(exec, graph, new long[3]);
            if (status == CUresult.CUDA_SUCCESS) {
                return exec;
            }
            // CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE (the driver says why in the result info): a fresh one instead
            Driver.check(Lib.cuGraphExecDestroy(exec), "cuGraphExecDestroy", "a graph that could not be updated");
        }
        long[] exec = new long[1];
        int status = Lib.cuGraphInstantiateWithFlags(exec, graph, 0L);
        if (status != CUresult.CUDA_SUCCESS) {
            graphsOff("cuGraphInstantiateWithFlags of " + key.shape + " failed with " + Driver.statusName(status));
            return 0L;
        }
        return exec[0];
    }

    /** Each buffer's address and length, in order (0, 0 for a null entry). */
    private long[] memoryOf(Buffer[] buffers) {
        long[] memory = new long[2 * buffers.length];
        for (int i = 0; i < buffers.length; i++) {
            if (buffers[i] != null) {
                CudaBuffer b = own(buffers[i], "buffers[" + i + "]");
                memory[2 * i] = b.address(0);
                memory[2 * i + 1] = b.length();
            }
        }
        return memory;
    }

    /** Queues {@code exec} on the thread's stream (under {@link #graphLock}, so no eviction destroys it first). */
    private void launchGraph(long exec, Object shape) {
        int status = Lib.cuGraphLaunch(exec, queue());
        if (status != CUresult.CUDA_SUCCESS) {
            throw Driver.failure(status, "cuGraphLaunch", "a graph of " + shape + " on " + name);
        }
    }

    /**
     * Creates the capture stream and its cuBLAS handle (on the engine's cuBLAS workspace: everything captured runs
     * on the engine's stream, in order with the eager GEMMs that use it) the first time; false when that failed
     * (graphs are then off, said once). Under {@link #graphLock}.
     */
    private boolean captureStreamReady() {
        if (captureStream != null) {
            return true;
        }
        Driver.Stream s = new Driver.Stream();
        int status = cuStreamCreate(s, CUstream_flags.CU_STREAM_NON_BLOCKING);
        if (status != CUresult.CUDA_SUCCESS) {
            graphsOff("cuStreamCreate of the capture stream failed with " + Driver.statusName(status));
            return false;
        }
        CublasBinding b;
        try {
            b = CublasLoader.openSibling(cublas, s);
            b.setWorkspace(cublasWorkspace.address(), CUBLAS_WORKSPACE_BYTES);
        } catch (RuntimeException e) {
            cuStreamDestroy(s);
            graphsOff("no cuBLAS handle for the capture stream (" + e.getMessage() + ")");
            return false;
        }
        captureStream = s;
        captureStreamHandle = s.handle();
        captureCublas = b;
        return true;
    }

    /**
     * Captures what {@code work} queues into a graph on the capture stream; the caller destroys it. A failure of the
     * work ends the capture and is thrown; a failure of the driver's capture calls turns graphs off with the reason
     * (said once) and returns 0, so that the caller runs the work eagerly.
     */
    private long capture(Object shape, Runnable work) {
        int status = Lib.cuStreamBeginCapture_v2(captureStreamHandle, CAPTURE_MODE_THREAD_LOCAL);
        if (status != CUresult.CUDA_SUCCESS) {
            graphsOff("cuStreamBeginCapture_v2 failed with " + Driver.statusName(status));
            return 0L;
        }
        long[] graph = new long[1];
        try {
            work.run();
        } catch (RuntimeException | Error e) {
            Lib.cuStreamEndCapture(captureStreamHandle, graph);   // ends the capture; its status is secondary to e
            if (graph[0] != 0) {
                Lib.cuGraphDestroy(graph[0]);
            }
            throw e;
        }
        status = Lib.cuStreamEndCapture(captureStreamHandle, graph);
        if (status != CUresult.CUDA_SUCCESS) {
            graphsOff("cuStreamEndCapture of " + shape + " failed with " + Driver.statusName(status));
            return 0L;
        }
        return graph[0];
    }

    /** Every region runs eagerly from now on; the reason goes to stderr, once per engine. */
    private void graphsOff(String reason) {
        synchronized (graphLock) {
            if (graphsUnusable == null) {
                graphsUnusable = reason;
                System.err.println("rnn4j: " + name + ": CUDA graphs off, replayable regions run eagerly: " + reason);
            }
        }
    }

    /**
     * Graphs on or off for this engine (on by default, see {@link #GRAPHS_PROPERTY}; on only where cuBLAS takes a
     * workspace); off destroys the graphs kept. Results are the same bits either way.
     */
    public void setGraphsEnabled(boolean on) {
        enter();
        graphsEnabled = on;
        if (!on) {
            destroyGraphs();
        } else {
            stepGraphsOff = null;   // turned on again: step graphs may be tried again after running out of memory
        }
    }

    /** Whether regions may run as graph replays here; {@link #graphsUnusableReason()} says why not when they cannot. */
    public boolean graphsEnabled() {
        return graphsEnabled && graphsUnusable == null;
    }

    @Override
    public boolean capturesGraphs() {
        return graphsEnabled();
    }

    /** Why this engine cannot use graphs, or null. */
    public String graphsUnusableReason() {
        return graphsUnusable;
    }

    private void destroyGraphs() {
        synchronized (graphLock) {
            RuntimeException first = null;
            for (long exec : graphs.values()) {
                int status = Lib.cuGraphExecDestroy(exec);
                if (status != CUresult.CUDA_SUCCESS && first == null) {
                    first = Driver.failure(status, "cuGraphExecDestroy", name);
                }
            }
            graphs.clear();
            seenOnce.clear();
            RuntimeException steps = destroyStepGraphs();
            first = first != null ? first : steps;
            if (first != null) {
                throw first;
            }
        }
    }

    // ================================================================ the side stream (see concurrently)

    /**
     * {@code -Drnn4j.cuda.streams=1} queues everything on one stream for every engine; {@link #setStreams} for one.
     * 2 (the default): {@link #concurrently}'s side part runs on a second stream.
     */
    public static final String STREAMS_PROPERTY = "rnn4j.cuda.streams";
    private volatile int streams = streamsProperty();

    /** {@value #STREAMS_PROPERTY}: 1 or 2 (the default); anything else is refused, not read as either. */
    static int streamsProperty() {
        String v = System.getProperty(STREAMS_PROPERTY, "2").trim();
        if (v.equals("1") || v.equals("2")) {
            return Integer.parseInt(v);
        }
        throw new IllegalArgumentException("-D" + STREAMS_PROPERTY + ": expected 1 or 2, got '" + v + "'");
    }

    /** Why this engine cannot use a second stream (then both parts run on one), or null. */
    private volatile String sideUnusable;
    /**
     * Created together at the first eager {@link #concurrently} (a capture before that runs on one stream, as a
     * capture may not allocate): the side stream of eager branches, the one a capture forks into, and the one a
     * region queued on an eager side branch is captured on. Each cuBLAS workspace is its own, since any of them may
     * run beside the engine's and beside each other (a graph with a branch on the engine's stream beside a side
     * region's graph on the side stream, from two threads).
     */
    private volatile SidePath side;
    private volatile SidePath captureSide;
    private volatile SidePath sideRegions;
    private final Object sideLock = new Object();
    /** Threads queuing a side branch now: {@link #queue()} and {@link #blas()} look up the thread's lane only then. */
    private final AtomicInteger sideThreads = new AtomicInteger();
    private final ThreadLocal<Lane> lanes = ThreadLocal.withInitial(Lane::new);

    /** A thread's place in {@link #concurrently}: the side path it queues on (null: its usual stream). */
    private static final class Lane {
        SidePath path;
        /** Blocks released on the side branch: back to the pool at the join, when later work is ordered after them. */
        final List<DevicePool.Block> released = new ArrayList<>();
    }

    /**
     * {@code side} on the side stream beside {@code main} on the thread's stream: a fork (the side stream waits for
     * an event recorded on the thread's stream), {@code side}, {@code main}, a join (the thread's stream waits for an
     * event recorded on the side). Inside a capture the fork and the join are the graph's edges into and out of a
     * parallel branch. A call from inside {@code main} branches again (its side part queues after what the side
     * stream has, its join waits for all of it, the blocks released there included); from inside {@code side}, with
     * {@link #setStreams one stream}, or where the second stream could not be set up, both parts run in order on the
     * thread's stream, the same bits.
     */
    @Override
    public void concurrently(Runnable sideWork, Runnable mainWork) {
        enter();
        Lane lane = lanes.get();
        // from inside a side part, both parts run in order on the side stream
        SidePath p = lane.path != null ? null : sidePath(capturer == Thread.currentThread());
        if (p == null) {
            sideWork.run();
            mainWork.run();
            return;
        }
        long from = queue();
        Throwable failure = null;
        try {
            p.fork(from);
            onSide(lane, p, sideWork);
            mainWork.run();
        } catch (RuntimeException | Error e) {
            failure = e;
            throw e;
        } finally {
            try {
                p.join(from);   // also after a failure: nothing queued later may overtake what the side queued
            } catch (RuntimeException e) {
                if (failure == null) {
                    throw e;
                }
                failure.addSuppressed(e);
            } finally {
                for (DevicePool.Block b : lane.released) {
                    recycle(b);
                }
                lane.released.clear();
            }
        }
    }

    @Override
    public boolean overlaps() {
        return streams == 2 && sideUnusable == null && recorder == null;
    }

    /** Runs {@code work} with the thread's lane on {@code p}; back on the previous one after. */
    private void onSide(Lane lane, SidePath p, Runnable work) {
        SidePath before = lane.path;
        lane.path = p;
        if (before == null) {
            sideThreads.incrementAndGet();
        }
        try {
            work.run();
        } finally {
            lane.path = before;
            if (before == null) {
                sideThreads.decrementAndGet();
            }
        }
    }

    /**
     * A side branch's region being captured (on the capture stream, its origin): the work forks into the side
     * regions' stream, so it is captured with that stream's cuBLAS handle and workspace, not the engine's, which the
     * engine's stream may be using when the graph replays on the side stream.
     */
    private void onCaptureSide(Lane lane, Runnable work) {
        sideRegions.fork(captureStreamHandle);
        try {
            onSide(lane, sideRegions, work);
        } finally {
            sideRegions.join(captureStreamHandle);   // a capture ends only with every stream joined back
        }
    }

    /** The side path of an eager branch ({@code capturing} false) or a captured one; null to run on one stream. */
    private SidePath sidePath(boolean capturing) {
        if (!overlaps()) {
            return null;
        }
        if (capturing) {
            return captureSide;   // null before the first eager branch: a capture may not allocate them
        }
        SidePath s = side;
        if (s != null) {
            return s;
        }
        synchronized (sideLock) {
            if (side == null && sideUnusable == null) {
                List<SidePath> opened = new ArrayList<>();
                try {
                    for (String which : new String[] {"side stream", "capture side stream", "side regions' capture stream"}) {
                        opened.add(SidePath.open(which, cublas, CUBLAS_WORKSPACE_BYTES));
                    }
                    sideRegions = opened.get(2);
                    captureSide = opened.get(1);
                    side = opened.get(0);
                } catch (RuntimeException e) {
                    for (SidePath o : opened) {
                        try {
                            o.close();
                        } catch (RuntimeException cleanup) {
                            e.addSuppressed(cleanup);
                        }
                    }
                    sideUnusable = e.getMessage();
                    System.err.println("rnn4j: " + name + ": one stream only, the side stream could not be set up: "
                            + e.getMessage());
                }
            }
            return side;
        }
    }

    /**
     * 1: everything on the engine's stream; 2 (the default, see {@link #STREAMS_PROPERTY}): {@link #concurrently}'s
     * side part on a second stream. Results are the same bits either way.
     *
     * @throws IllegalArgumentException naming {@code streams} for any other count
     */
    public void setStreams(int streams) {
        if (streams != 1 && streams != 2) {
            throw new IllegalArgumentException("streams: expected 1 or 2, got " + streams);
        }
        this.streams = streams;
    }

    /** The streams {@link #concurrently} uses now: 2, or 1 when set so or the second could not be set up. */
    public int streams() {
        return overlaps() ? 2 : 1;
    }

    // ================================================================ recurrent algorithms

    /** Which algorithm runs each layer-direction's time loop (standard, graph, persistent); see {@link AlgorithmChoice}. */
    private AlgorithmChoice algorithms;

    @Override
    public void recurrence(Recurrence loop, Object shape, Buffer[] buffers, Runnable perStep) {
        enter();
        if (capturer == Thread.currentThread()) {   // inside another region's capture: its launches become nodes as they are
            perStep.run();
            return;
        }
        algorithms.run(loop, shape, buffers, perStep);
    }

    @Override
    public String recurrentAlgorithms() {
        return algorithms.report();
    }

    /**
     * Forces the recurrent algorithm of later loops ({@code auto}, {@code standard}, {@code graph},
     * {@code persistent}; as {@value AlgorithmChoice#PROPERTY} does) and forgets the choices made so far.
     *
     * @throws IllegalArgumentException naming {@code algorithm} for any other value
     */
    public void setRecurrentAlgorithm(String algorithm) {
        algorithms.force(algorithm);
    }

    /** Tests: the algorithm choice over {@code persistent} (another device's limits), or this device's for null. */
    void useAlgorithms(PersistentRecurrence persistent) {
        enter();
        algorithms = new AlgorithmChoice(this, persistent != null ? persistent : PersistentRecurrence.open(this, cuDevice),
                AlgorithmChoice.onStandIn());
    }

    /** {@code kernel}'s function handle (this engine's modules). */
    long function(Kernel kernel) {
        return functions[kernel.ordinal()];
    }

    /** This thread's parameter block, emptied. */
    KernelArgs launchArgs() {
        return args();
    }

    /** A buffer of this engine at {@code off}, or a null pointer for {@code null}; the argument named otherwise. */
    long addressOrNull(Buffer b, long off, String arg) {
        return ptrOrNull(b, off, arg);
    }

    /**
     * A cooperative launch of {@code kernel} (every block co-resident, grid barriers allowed) with
     * {@code sharedBytes} of dynamic shared memory on the stream; returns the driver's status for the caller to
     * handle ({@code CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE} is a fallback, not a failure).
     */
    int launchCooperative(Kernel kernel, int blocks, int threads, int sharedBytes, KernelArgs args) {
        if (recorder != null) {
            recorder.launch(kernel, blocks, threads, args);
            return CUresult.CUDA_SUCCESS;
        }
        return PersistentRecurrence.Lib.cuLaunchCooperativeKernel(functions[kernel.ordinal()], blocks, 1, 1, threads, 1, 1,
                sharedBytes, queue(), args.kernelParams());
    }

    // ================================================================ launches

    /** This thread's parameter block, emptied for the next launch. */
    private KernelArgs args() {
        return launchArgs.get().reset();
    }

    /** Launches {@code kernel} on the stream with {@code blocks} × {@value #THREADS} threads; checks the status. */
    private void launch(Kernel kernel, long blocks, KernelArgs args) {
        if (blocks <= 0) {
            return;
        }
        if (blocks > Integer.MAX_VALUE) {   // gridDim.x's limit; the shapes callers may pass stay below it
            throw new IllegalStateException(kernel.symbol + ": a grid of " + blocks + " blocks exceeds 2^31−1");
        }
        int grid = (int) blocks;
        if (recorder != null) {
            recorder.launch(kernel, grid, THREADS, args);
            return;
        }
        int status = Lib.cuLaunchKernel(functions[kernel.ordinal()], grid, 1, 1, THREADS, 1, 1, 0, queue(),
                args.kernelParams(), 0L);
        if (status != CUresult.CUDA_SUCCESS) {   // the detail only on failure: no string per launch
            throw Driver.failure(status, "cuLaunchKernel", kernel.symbol + " <<<" + grid + ", " + THREADS + ">>> on " + name);
        }
    }

    /** One thread per work item (kernels that guard {@code i < work} without a grid-stride loop). */
    private void launchCovering(Kernel kernel, long work, KernelArgs args) {
        launch(kernel, ceilDiv(work, THREADS), args);
    }

    /** A grid-stride kernel: enough blocks to cover the work, capped at {@value #MAX_GRID_STRIDE_BLOCKS}. */
    private void launchGridStride(Kernel kernel, long work, KernelArgs args) {
        if (work > 0) {
            launch(kernel, Math.min(ceilDiv(work, THREADS), MAX_GRID_STRIDE_BLOCKS), args);
        }
    }

    static long ceilDiv(long a, long b) {
        return a <= 0 ? 0 : (a + b - 1) / b;
    }

    // ================================================================ tensor operations (kernels/tensor.cu)

    @Override
    public void copyRows(int rows, int cols, Buffer src, long srcOff, int srcLd, Buffer dst, long dstOff, int dstLd,
                         boolean accumulate) {
        enter();
        KernelArgs args = args().i32(rows).i32(cols).ptr(ptr(src, srcOff, "src")).i32(srcLd)
                .ptr(ptr(dst, dstOff, "dst")).i32(dstLd).flag(accumulate);
        launchGridStride(Kernel.COPY_ROWS, (long) rows * cols, args);
    }

    @Override
    public void pointwise(Pointwise f, long n, Buffer x, long xOff, Buffer y, long yOff, long yPeriod,
                          Buffer dst, long dstOff) {
        enter();
        KernelArgs args = args().i32(f.code).i64(n).ptr(ptr(x, xOff, "x"))
                .ptr(f.binary() ? ptr(y, yOff, "y") : ptrOrNull(y, yOff, "y")).i64(Math.max(1, yPeriod))
                .ptr(ptr(dst, dstOff, "dst"));
        launchGridStride(Kernel.POINTWISE, n, args);
    }

    @Override
    public void maskedSoftmax(int rows, int cols, int rowsPerLength, Buffer lengths, Buffer src, long srcOff,
                              Buffer dst, long dstOff) {
        enter();
        KernelArgs args = args().i32(rows).i32(cols).i32(rowsPerLength).ptr(ptrOrNull(lengths, 0, "lengths"))
                .ptr(ptr(src, srcOff, "src")).ptr(ptr(dst, dstOff, "dst"));
        launch(Kernel.MASKED_SOFTMAX, rows, args);   // one block per row
    }

    @Override
    public void maskedSoftmaxBackward(int rows, int cols, int rowsPerLength, Buffer lengths, Buffer y, long yOff,
                                      Buffer dy, long dyOff, Buffer dx, long dxOff) {
        enter();
        KernelArgs args = args().i32(rows).i32(cols).i32(rowsPerLength).ptr(ptrOrNull(lengths, 0, "lengths"))
                .ptr(ptr(y, yOff, "y")).ptr(ptr(dy, dyOff, "dy")).ptr(ptr(dx, dxOff, "dx"));
        launch(Kernel.MASKED_SOFTMAX_BACKWARD, rows, args);   // one block per row
    }

    /** One {@code cublasSgemmStridedBatched}, with {@link #gemm}'s row-major to column-major swap (strides swap too). */
    @Override
    public void gemmStridedBatched(boolean transA, boolean transB, int m, int n, int k, float alpha,
                                   Buffer a, long aOff, int lda, long strideA, Buffer b, long bOff, int ldb, long strideB,
                                   float beta, Buffer c, long cOff, int ldc, long strideC, int batch) {
        enter();
        CudaBuffer cb = own(c, "c");
        if (m == 0 || n == 0 || batch == 0) {
            return;
        }
        if (k == 0 || alpha == 0f) {
            for (int i = 0; i < batch; i++) {
                scaleRows(m, n, beta, cb, cOff + i * strideC, ldc);
            }
            return;
        }
        CudaBuffer ab = own(a, "a");
        CudaBuffer bb = own(b, "b");
        ColumnMajorGemm g = ColumnMajorGemm.of(transA, transB, m, n, k, lda, ldb, ldc);
        sgemmRetryingAfterAllocFailure(Precision.FP32, g, alpha, bb.address(bOff), strideB, ab.address(aOff), strideA,
                beta, cb.address(cOff), strideC, batch);
    }

    // ================================================================ dense linear algebra

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                     Buffer a, long aOff, int lda, Buffer b, long bOff, int ldb,
                     float beta, Buffer c, long cOff, int ldc) {
        gemm(Precision.FP32, transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
    }

    /** Every precision: FP32 through {@code cublasSgemm}, TF32 and BF16 through {@code cublasGemmEx}. */
    @Override
    public boolean supports(Precision precision) {
        return precision != null;
    }

    @Override
    public void gemm(Precision precision, boolean transA, boolean transB, int m, int n, int k, float alpha,
                     Buffer a, long aOff, int lda, Buffer b, long bOff, int ldb,
                     float beta, Buffer c, long cOff, int ldc) {
        enter();
        CudaBuffer cb = own(c, "c");
        if (m == 0 || n == 0) {
            return;
        }
        if (k == 0 || alpha == 0f) {
            // No product to add: C = β·C here, as reference BLAS and CpuGemm do, rather than asking
            // cuBLAS (undocumented for k == 0; with α == 0 it would form 0·A·B, NaN where A or B is infinite).
            scaleRows(m, n, beta, cb, cOff, ldc);
            return;
        }
        CudaBuffer ab = operand(precision, a, "a");
        CudaBuffer bb = operand(precision, b, "b");
        // Row-major C = α op(A) op(B) + β C is, in cuBLAS's column-major view of the same memory,
        // Cᵀ = α op(B)ᵀ op(A)ᵀ + β Cᵀ: B's memory (seen as Bᵀ) goes first with B's flag, A's second
        // with A's flag, m and n swap, every leading dimension stays. ColumnMajorGemm derives it in full.
        ColumnMajorGemm g = ColumnMajorGemm.of(transA, transB, m, n, k, lda, ldb, ldc);
        long first = bb.address(bOff);
        long second = ab.address(aOff);
        long out = cb.address(cOff);
        sgemmRetryingAfterAllocFailure(precision, g, alpha, first, 0, second, 0, beta, out, 0, 1);
    }

    /** A GEMM operand of this engine whose dtype the precision reads: BF16 for {@link Precision#BF16}, else F32. */
    private CudaBuffer operand(Precision precision, Buffer x, String arg) {
        CudaBuffer xb = own(x, arg);
        DType expected = precision == Precision.BF16 ? DType.BF16 : DType.F32;
        if (xb.dtype() != expected) {
            throw new IllegalArgumentException(arg + ": expected a " + expected + " buffer for a " + precision + " GEMM, got " + xb);
        }
        return xb;
    }

    @Override
    public void toBf16(int rows, int cols, Buffer src, long srcOff, int srcLd, Buffer dst, long dstOff) {
        enter();
        KernelArgs args = args().i32(rows).i32(cols).ptr(ptr(src, srcOff, "src")).i32(srcLd)
                .ptr(operand(Precision.BF16, dst, "dst").address(dstOff));
        launchGridStride(Kernel.F32_TO_BF16_ROWS, (long) rows * cols, args);
    }

    @Override
    public void fromBf16(long n, Buffer src, long srcOff, Buffer dst, long dstOff) {
        enter();
        KernelArgs args = args().i64(n).ptr(operand(Precision.BF16, src, "src").address(srcOff))
                .ptr(operand(Precision.FP32, dst, "dst").address(dstOff));
        launchGridStride(Kernel.BF16_TO_F32, n, args);
    }

    /**
     * One cuBLAS product ({@code batch == 1}: {@code cublasSgemm}, strides unused) or {@code batch} strided ones
     * ({@code cublasSgemmStridedBatched}); when cuBLAS could not allocate its workspace, frees the pool's cached blocks
     * and tries once more.
     */
    private void sgemmRetryingAfterAllocFailure(Precision precision, ColumnMajorGemm g, float alpha, long first, long strideFirst,
                                                long second, long strideSecond, float beta, long out, long strideOut, int batch) {
        try {
            sgemm(precision, g, alpha, first, strideFirst, second, strideSecond, beta, out, strideOut, batch);
        } catch (CudaException e) {
            // cuBLAS allocates its workspace itself: make room as the pool does for cuMemAlloc, once
            if (!CUBLAS_ALLOC_FAILED.equals(e.status())) {
                throw e;
            }
            long released = syncAndReleaseCached();
            if (released == 0) {
                throw e;
            }
            try {
                sgemm(precision, g, alpha, first, strideFirst, second, strideSecond, beta, out, strideOut, batch);
            } catch (CudaException again) {
                CudaException failed = new CudaException(again.call(), again.status(),
                        "after releasing " + released + " cached bytes and retrying");
                failed.initCause(again);
                throw failed;
            }
        }
    }

    private void sgemm(Precision precision, ColumnMajorGemm g, float alpha, long first, long strideFirst, long second,
                       long strideSecond, float beta, long c, long strideC, int batch) {
        CublasBinding handle = blas();
        if (precision != Precision.FP32) {
            // per call, so the handle's math mode stays exact for every other GEMM (other layers, other threads)
            boolean bf16 = precision == Precision.BF16;
            handle.gemmEx(g.opFirst(), g.opSecond(), g.m(), g.n(), g.k(), alpha, first,
                    bf16 ? CublasBinding.CUDA_R_16BF : CublasBinding.CUDA_R_32F, g.ldFirst(), second, g.ldSecond(), beta, c,
                    CublasBinding.CUDA_R_32F, g.ldc(), bf16 ? CublasBinding.COMPUTE_32F : CublasBinding.COMPUTE_32F_FAST_TF32);
        } else if (batch == 1) {
            handle.sgemm(g.opFirst(), g.opSecond(), g.m(), g.n(), g.k(), alpha, first, g.ldFirst(), second, g.ldSecond(),
                    beta, c, g.ldc());
        } else {
            handle.sgemmStridedBatched(g.opFirst(), g.opSecond(), g.m(), g.n(), g.k(), alpha, first, g.ldFirst(), strideFirst,
                    second, g.ldSecond(), strideSecond, beta, c, g.ldc(), strideC, batch);
        }
    }

    private static final String CUBLAS_ALLOC_FAILED = "CUBLAS_STATUS_ALLOC_FAILED";

    /** Waits for queued work (it may still use cached blocks), then frees the pool's free segments; the bytes freed. */
    private long syncAndReleaseCached() {
        if (recorder == null) {
            synchronizeBeforeReleasingCached();
        }
        return pool.releaseCached();
    }

    /**
     * Waits for this thread's stream and, on an eager side branch, the engine's too: the pool's free blocks were
     * last used there.
     */
    private void synchronizeBeforeReleasingCached() {
        Driver.check(Lib.cuStreamSynchronize(queue()), "cuStreamSynchronize", "before releasing cached blocks");
        SidePath s = side;
        if (s != null && queue() == s.stream) {
            Driver.check(Lib.cuStreamSynchronize(streamHandle), "cuStreamSynchronize", "before releasing cached blocks");
        }
    }

    /**
     * C = β·C for a product with nothing to add, bit for bit as CpuGemm: β == 0 writes +0 (NaN and ∞
     * in C included), β == 1 leaves C as it is, any other β rounds β·c once (so −0 stays −0 for β > 0).
     */
    private void scaleRows(int m, int n, float beta, CudaBuffer c, long cOff, int ldc) {
        if (beta == 1f) {
            return;
        }
        boolean dense = ldc == n;
        int rows = dense ? 1 : m;
        long width = dense ? (long) m * n : n;
        for (int r = 0; r < rows; r++) {
            long off = cOff + (long) r * ldc;
            if (beta == 0f) {
                Driver.check(Lib.cuMemsetD32Async(c.address(off), 0, width, queue()), "cuMemsetD32Async", "C = 0·C");
            } else {
                // y = beta·y as axpby(alpha = beta, x = y, beta = 0), which stores beta·y as is
                // (not 0·y + beta·y, where 0·inf is NaN)
                long row = c.address(off);
                launchGridStride(Kernel.AXPBY, width,
                        args().i64(width).f32(beta).ptr(row).f32(0f).ptr(row));
            }
        }
    }

    /** Two phases in {@link Engine#ROW_CHUNK}'s order: chunk sums into a pooled workspace, then added in order. */
    @Override
    public void sumRows(int rows, int cols, Buffer src, long srcOff, int ld, Buffer dst, long dstOff) {
        sumRows(rows, cols, src, srcOff, ld, dst, dstOff, null, 0);
    }

    /** Phase 1 once, phase 2 into each destination ({@code dst2} may be null here). */
    @Override
    public void sumRows(int rows, int cols, Buffer src, long srcOff, int ld, Buffer dst, long dstOff,
                        Buffer dst2, long dst2Off) {
        enter();
        long s = ptr(src, srcOff, "src");
        long d = ptr(dst, dstOff, "dst");
        long d2 = ptrOrNull(dst2, dst2Off, "dst2");
        if (rows <= 0 || cols <= 0) {
            return;
        }
        int chunks = (int) ceilDiv(rows, ROW_CHUNK);
        try (CudaBuffer partial = workspace((long) chunks * cols)) {
            launchGridStride(Kernel.SUM_ROWS_CHUNKS, (long) chunks * cols,
                    args().i32(rows).i32(cols).ptr(s).i32(ld).ptr(partial.address(0)));
            addChunkSums(chunks, cols, partial, d);
            if (dst2 != null) {
                addChunkSums(chunks, cols, partial, d2);
            }
        }
    }

    /** Phase 2 of the column sums: {@code dst[c] += partial[0, c] + partial[1, c] + …} in chunk order. */
    private void addChunkSums(int chunks, int cols, CudaBuffer partial, long dst) {
        launchGridStride(Kernel.ADD_CHUNK_SUMS, cols, args().i32(chunks).i32(cols).ptr(partial.address(0)).ptr(dst));
    }

    @Override
    public void axpby(long n, float alpha, Buffer x, long xOff, float beta, Buffer y, long yOff) {
        enter();
        KernelArgs args = args().i64(n).f32(alpha).ptr(ptr(x, xOff, "x")).f32(beta).ptr(ptr(y, yOff, "y"));
        launchGridStride(Kernel.AXPBY, n, args);
    }

    @Override
    public void clamp(long n, Buffer x, long off, float lo, float hi) {
        enter();
        KernelArgs args = args().i64(n).ptr(ptr(x, off, "x")).f32(lo).f32(hi);
        launchGridStride(Kernel.CLAMP, n, args);
    }

    @Override
    public double sumSquares(long n, Buffer x, long off) {
        enter();
        return sumSquaresAt(new long[] {ptr(x, off, "x")}, new long[] {n});
    }

    @Override
    public double sumSquares(Buffer[] xs, long[] ns) {
        enter();
        if (xs.length != ns.length) {
            throw new IllegalArgumentException("ns: expected " + xs.length + " counts (one per buffer), got " + ns.length);
        }
        long[] addresses = new long[xs.length];
        for (int t = 0; t < xs.length; t++) {
            addresses[t] = ptr(xs[t], 0, "xs[" + t + "]");
        }
        return sumSquaresAt(addresses, ns);
    }

    /**
     * One rnn4j_sum_squares launch per tensor (256 blocks × 256 threads, one double partial per block) into a
     * pooled workspace, one copy of all partials and one synchronize; the host adds each tensor's partials in
     * order and the tensors' sums in order, as {@link Engine#sumSquares(Buffer[], long[])} specifies.
     */
    private double sumSquaresAt(long[] addresses, long[] counts) {
        int tensors = addresses.length;
        if (tensors == 0) {
            return 0;
        }
        long partialBytes = SUM_SQUARES_BLOCKS * 8L;
        synchronized (stagingLock) {
            try (CudaBuffer partials = workspace(tensors * partialBytes / CudaBuffer.ELEMENT_BYTES)) {
                for (int t = 0; t < tensors; t++) {
                    if (counts[t] > 0) {
                        launch(Kernel.SUM_SQUARES, SUM_SQUARES_BLOCKS,
                                args().i64(counts[t]).ptr(addresses[t]).ptr(partials.address(0) + t * partialBytes));
                    }
                }
                int perCopy = (int) (STAGING_BYTES / partialBytes);   // tensors' partials per staging load
                double sum = 0;
                for (int first = 0; first < tensors; first += perCopy) {
                    int n = Math.min(perCopy, tensors - first);
                    Driver.check(Lib.cuMemcpyDtoHAsync_v2(stagingAddress, partials.address(0) + first * partialBytes,
                            n * partialBytes, queue()), "cuMemcpyDtoHAsync", "sumSquares partials");
                    Driver.check(Lib.cuStreamSynchronize(queue()), "cuStreamSynchronize", "sumSquares");
                    ByteBuffer bytes = staging.clear();
                    for (int t = 0; t < n; t++) {
                        if (counts[first + t] <= 0) {
                            continue;
                        }
                        double tensorSum = 0;
                        for (int i = 0; i < SUM_SQUARES_BLOCKS; i++) {
                            tensorSum += bytes.getDouble((int) (t * partialBytes) + i * 8);
                        }
                        sum += tensorSum;
                    }
                }
                return sum;
            }
        }
    }

    @Override
    public boolean hasNonFinite(long n, Buffer x, long off) {
        enter();
        long xp = ptr(x, off, "x");
        if (n <= 0) {
            return false;
        }
        long flag = scratchAddress + FLAG_OFFSET_BYTES;
        synchronized (stagingLock) {
            Driver.check(Lib.cuMemsetD32Async(flag, 0, 1, queue()), "cuMemsetD32Async", "hasNonFinite flag");
            launchGridStride(Kernel.NON_FINITE, n, args().i64(n).ptr(xp).ptr(flag));
            Driver.check(Lib.cuMemcpyDtoHAsync_v2(stagingAddress, flag, 4, queue()), "cuMemcpyDtoHAsync",
                    "hasNonFinite flag");
            Driver.check(Lib.cuStreamSynchronize(queue()), "cuStreamSynchronize", "hasNonFinite");
            return staging.clear().getInt(0) != 0;
        }
    }

    // ================================================================ sequence layout

    @Override
    public void swapLeadingAxes(int d0, int d1, int features, Buffer src, long srcOff, Buffer dst, long dstOff) {
        enter();
        KernelArgs args = args().i32(d0).i32(d1).i32(features)
                .ptr(ptr(src, srcOff, "src")).ptr(ptr(dst, dstOff, "dst"));
        launchGridStride(Kernel.SWAP_LEADING_AXES, (long) d0 * d1 * features, args);
    }

    @Override
    public void reverseSequences(int steps, int batch, int features, Buffer lengths,
                                 Buffer src, long srcOff, int srcLd, Buffer dst, long dstOff, int dstLd,
                                 boolean accumulate) {
        enter();
        KernelArgs args = args().i32(steps).i32(batch).i32(features)
                .ptr(ptrOrNull(lengths, 0, "lengths"))
                .ptr(ptr(src, srcOff, "src")).i32(srcLd).ptr(ptr(dst, dstOff, "dst")).i32(dstLd).flag(accumulate);
        launchGridStride(Kernel.REVERSE_SEQUENCES, (long) steps * batch * features, args);
    }

    @Override
    public void seedStateGrad(int steps, int batch, int features, Buffer lengths,
                              Buffer dy, long dyOff, int dyLd, Buffer dhN, long dhNOff,
                              Buffer dst, long dstOff) {
        enter();
        KernelArgs args = args().i32(steps).i32(batch).i32(features)
                .ptr(ptrOrNull(lengths, 0, "lengths"))
                .ptr(ptrOrNull(dy, dyOff, "dy")).i32(dyLd).ptr(ptrOrNull(dhN, dhNOff, "dhN"))
                .ptr(ptr(dst, dstOff, "dst"));
        launchGridStride(Kernel.SEED_STATE_GRAD, (long) steps * batch * features, args);
    }

    @Override
    public void maskedUpdate(int batch, int features, int step, Buffer lengths,
                             Buffer fresh, long freshOff, Buffer prev, long prevOff,
                             Buffer state, long stateOff, Buffer out, long outOff, int outLd) {
        enter();
        KernelArgs args = args().i32(batch).i32(features).i32(step)
                .ptr(ptrOrNull(lengths, 0, "lengths"))
                .ptr(ptr(fresh, freshOff, "fresh")).ptr(ptr(prev, prevOff, "prev"))
                .ptr(ptr(state, stateOff, "state")).ptr(ptrOrNull(out, outOff, "out")).i32(outLd);
        launchGridStride(Kernel.MASKED_UPDATE, (long) batch * features, args);
    }

    @Override
    public void dropout(long n, float p, Buffer base, long baseOff, long seed, Buffer src, long srcOff, Buffer dst,
                        long dstOff) {
        enter();
        KernelArgs args = args().i64(n).f32(p).ptr(ptrOrNull(base, baseOff, "base")).u64(seed)
                .ptr(ptr(src, srcOff, "src")).ptr(ptr(dst, dstOff, "dst"));
        launchGridStride(Kernel.DROPOUT, n, args);
    }

    @Override
    public void gatherRows(int rows, int cols, Buffer indices, long idxOff, Buffer table, long tableOff,
                           Buffer dst, long dstOff) {
        enter();
        KernelArgs args = args().i32(rows).i32(cols).ptr(ptr(indices, idxOff, "indices"))
                .ptr(ptr(table, tableOff, "table")).ptr(ptr(dst, dstOff, "dst"));
        launchGridStride(Kernel.GATHER_ROWS, (long) rows * cols, args);
    }

    @Override
    public void scatterAddRows(int rows, int cols, Buffer indices, long idxOff, Buffer src, long srcOff,
                               Buffer table, long tableOff) {
        enter();
        int parts = scatterParts(rows, cols);
        KernelArgs args = args().i32(rows).i32(cols).i32(parts).ptr(ptr(indices, idxOff, "indices"))
                .ptr(ptr(src, srcOff, "src")).ptr(ptr(table, tableOff, "table"));
        launchGridStride(Kernel.SCATTER_ADD_ROWS, (long) parts * cols, args);
    }

    /**
     * How many owner groups scatter_add_rows splits the table rows into (row v belongs to part v mod parts):
     * about {@value #SCATTER_WORK_ITEMS} work items in all, at most {@value #MAX_SCATTER_PARTS}, at most
     * one per source row. Any value gives the same result; this only spreads the work.
     */
    static int scatterParts(int rows, int cols) {
        long wanted = ceilDiv(SCATTER_WORK_ITEMS, Math.max(cols, 1));
        return (int) Math.max(1, Math.min(Math.min(wanted, MAX_SCATTER_PARTS), rows));
    }

    // ================================================================ fused cells

    /** Maps a (buffer, offset) pair of {@link StepArgs} to a device pointer; {@code null} → null pointer. */
    interface PointerResolver {
        long at(Buffer b, long off, String arg);
    }

    /**
     * The 25 parameters every cell kernel takes, in the ABI's order:
     * {@code (batch, hidden, step, lengths, xp, hp, bih, bhh, peep, hPrev, hNext, cPrev, cNext,
     * out, outLd, saved, dh, dc, dGx, dGh, dhPrev, tmp, cellClip, coupled, relu)}.
     */
    static KernelArgs cellArgs(KernelArgs args, StepArgs a, PointerResolver r) {
        return args.reset()
                .i32(a.batch).i32(a.hidden).i32(a.step)
                .ptr(r.at(a.lengths, 0, "lengths"))
                .ptr(r.at(a.xp, a.xpOff, "xp"))
                .ptr(r.at(a.hp, a.hpOff, "hp"))
                .ptr(r.at(a.bih, 0, "bih"))
                .ptr(r.at(a.bhh, 0, "bhh"))
                .ptr(r.at(a.peep, 0, "peep"))
                .ptr(r.at(a.hPrev, a.hPrevOff, "hPrev"))
                .ptr(r.at(a.hNext, a.hNextOff, "hNext"))
                .ptr(r.at(a.cPrev, a.cPrevOff, "cPrev"))
                .ptr(r.at(a.cNext, a.cNextOff, "cNext"))
                .ptr(r.at(a.out, a.outOff, "out"))
                .i32(a.outLd)
                .ptr(r.at(a.saved, a.savedOff, "saved"))
                .ptr(r.at(a.dh, a.dhOff, "dh"))
                .ptr(r.at(a.dc, a.dcOff, "dc"))
                .ptr(r.at(a.dGx, a.dGxOff, "dGx"))
                .ptr(r.at(a.dGh, a.dGhOff, "dGh"))
                .ptr(r.at(a.dhPrev, a.dhPrevOff, "dhPrev"))
                .ptr(r.at(a.tmp, a.tmpOff, "tmp"))
                .f32(a.cellClip).flag(a.coupled).flag(a.relu);
    }

    /** {@link #ptrOrNull} as the cells' resolver, made once (a method reference per launch would be an object per launch). */
    private final PointerResolver ownPointers = this::ptrOrNull;

    /** One cell kernel over batch × hidden threads, 256 per block. */
    private void cell(Kernel kernel, StepArgs a) {
        enter();
        checkCellIndexRange(a.batch, a.hidden);
        launchCovering(kernel, (long) a.batch * a.hidden, cellArgs(launchArgs.get(), a, ownPointers));
    }

    /** The cell kernels index threads and gate columns in 32 bits (kernels/ABI.md, "Limits"). */
    static void checkCellIndexRange(int batch, int hidden) {
        if ((long) batch * hidden > Integer.MAX_VALUE || 4L * hidden > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("batch, hidden: expected batch·hidden and 4·hidden <= 2^31−1"
                    + " (the CUDA cell kernels index in 32 bits), got batch " + batch + ", hidden " + hidden);
        }
    }

    @Override
    public void lstmForward(StepArgs a) {
        cell(Kernel.LSTM_FORWARD, a);
    }

    @Override
    public void lstmBackward(StepArgs a) {
        cell(Kernel.LSTM_BACKWARD, a);
    }

    @Override
    public void gruForward(StepArgs a) {
        cell(Kernel.GRU_FORWARD, a);
    }

    @Override
    public void gruBackward(StepArgs a) {
        cell(Kernel.GRU_BACKWARD, a);
    }

    @Override
    public void gruResetBeforeGates(StepArgs a) {
        cell(Kernel.GRU_RB_GATES, a);
    }

    @Override
    public void gruResetBeforeOutput(StepArgs a) {
        cell(Kernel.GRU_RB_OUTPUT, a);
    }

    @Override
    public void gruResetBeforeBackwardOutput(StepArgs a) {
        cell(Kernel.GRU_RB_BACKWARD_OUTPUT, a);
    }

    @Override
    public void gruResetBeforeBackwardGates(StepArgs a) {
        cell(Kernel.GRU_RB_BACKWARD_GATES, a);
    }

    @Override
    public void rnnForward(StepArgs a) {
        cell(Kernel.RNN_FORWARD, a);
    }

    @Override
    public void rnnBackward(StepArgs a) {
        cell(Kernel.RNN_BACKWARD, a);
    }

    @Override
    public void lstmPeepholeGrad(int rows, int hidden, Buffer dG, long dGOff, Buffer cPrev, long cPrevOff,
                                 Buffer c, long cOff, Buffer dPeep, long dPeepOff) {
        enter();
        KernelArgs args = args().i32(rows).i32(hidden).ptr(ptr(dG, dGOff, "dG"))
                .ptr(ptr(cPrev, cPrevOff, "cPrev")).ptr(ptr(c, cOff, "c"));
        long dp = ptr(dPeep, dPeepOff, "dPeep");
        if (rows <= 0 || hidden <= 0) {
            return;
        }
        int chunks = (int) ceilDiv(rows, ROW_CHUNK);
        int width = Math.multiplyExact(3, hidden);
        try (CudaBuffer partial = workspace((long) chunks * width)) {
            launchGridStride(Kernel.LSTM_PEEPHOLE_CHUNKS, (long) chunks * width, args.ptr(partial.address(0)));
            addChunkSums(chunks, width, partial, dp);
        }
    }

    // ================================================================ training

    @Override
    public void softmaxCrossEntropy(int rows, int classes, Buffer logits, long logitsOff, Buffer targets,
                                    long targetsOff, Buffer loss, long lossOff, Buffer dLogits, long dLogitsOff,
                                    float scale) {
        enter();
        KernelArgs args = args().i32(rows).i32(classes).ptr(ptr(logits, logitsOff, "logits"))
                .ptr(ptr(targets, targetsOff, "targets")).ptr(ptr(loss, lossOff, "loss"))
                .ptr(ptrOrNull(dLogits, dLogitsOff, "dLogits")).f32(scale);
        launch(Kernel.SOFTMAX_XENT, rows, args);   // one block per row
    }

    @Override
    public void adamStep(long n, Buffer param, Buffer grad, Buffer m, Buffer v, Buffer hyper, float beta1, float beta2,
                         float eps, float weightDecay, boolean decoupled) {
        enter();
        KernelArgs args = args().i64(n).ptr(ptr(param, 0, "param")).ptr(ptr(grad, 0, "grad"))
                .ptr(ptr(m, 0, "m")).ptr(ptr(v, 0, "v")).ptr(ptr(hyper, 0, "hyper")).f32(beta1).f32(beta2).f32(eps)
                .f32(weightDecay).flag(decoupled);
        launchGridStride(Kernel.ADAM, n, args);
    }

    @Override
    public void sgdStep(long n, Buffer param, Buffer grad, Buffer velocity, Buffer hyper, float momentum,
                        float weightDecay, boolean nesterov) {
        enter();
        KernelArgs args = args().i64(n).ptr(ptr(param, 0, "param")).ptr(ptr(grad, 0, "grad"))
                .ptr(ptrOrNull(velocity, 0, "velocity")).ptr(ptr(hyper, 0, "hyper")).f32(momentum).f32(weightDecay)
                .flag(nesterov);
        launchGridStride(Kernel.SGD, n, args);
    }

    /**
     * Launches only: {@code rnn4j_sum_squares} of each non-empty tensor into {@code work}'s partials, one
     * {@code rnn4j_global_norm} (the host's order of {@link #sumSquares(Buffer[], long[])}, on the device), and one
     * {@code rnn4j_scale_by} per tensor that reads the scale it left. Work layout (bytes): the norm at 0, the scale
     * at 8, the partials from 16, {@value #SUM_SQUARES_BLOCKS} doubles per tensor.
     */
    @Override
    public void clipGlobalNorm(Buffer[] xs, long[] ns, double maxNorm, Buffer work) {
        queueGlobalNorm(xs, ns, maxNorm, work, true);
    }

    /** {@link #clipGlobalNorm}'s first two kernels (the scale it writes is 1, unused). */
    @Override
    public void globalNorm(Buffer[] xs, long[] ns, Buffer work) {
        queueGlobalNorm(xs, ns, Double.POSITIVE_INFINITY, work, false);
    }

    private void queueGlobalNorm(Buffer[] xs, long[] ns, double maxNorm, Buffer work, boolean scale) {
        enter();
        if (xs.length != ns.length) {
            throw new IllegalArgumentException("ns: expected " + xs.length + " counts (one per buffer), got " + ns.length);
        }
        CudaBuffer w = own(work, "work");
        checkRange("work", w, 0, Engine.clipWorkInts(xs.length));
        long[] addresses = new long[xs.length];
        for (int t = 0; t < xs.length; t++) {
            addresses[t] = ptr(xs[t], 0, "xs[" + t + "]");
        }
        long norm = w.address(0);
        long factor = norm + 8;
        long partials = norm + 16;
        long partialBytes = SUM_SQUARES_BLOCKS * 8L;
        int tensors = 0;
        for (int t = 0; t < xs.length; t++) {
            if (ns[t] > 0) {   // as sumSquares, an empty tensor adds nothing
                launch(Kernel.SUM_SQUARES, SUM_SQUARES_BLOCKS,
                        args().i64(ns[t]).ptr(addresses[t]).ptr(partials + tensors++ * partialBytes));
            }
        }
        launch(Kernel.GLOBAL_NORM, 1, args().i32(tensors).ptr(partials).f64(maxNorm).ptr(norm).ptr(factor));
        for (int t = 0; t < xs.length && scale; t++) {
            if (ns[t] > 0) {
                launchGridStride(Kernel.SCALE_BY, ns[t], args().i64(ns[t]).ptr(addresses[t]).ptr(factor));
            }
        }
    }

    @Override
    public String toString() {
        return "CudaEngine[" + name + (closed ? ", closed]" : "]");
    }
}
