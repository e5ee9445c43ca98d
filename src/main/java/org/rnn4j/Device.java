package org.rnn4j;

import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import org.rnn4j.cpu.CpuEngine;
import org.rnn4j.cuda.CudaEngine;
import org.rnn4j.engine.Engine;

/**
 * Where tensors live and layers run: the CPU, or one CUDA GPU. Each device owns one {@link Engine}.
 * {@link #cuda(int)} fails with the reason when CUDA is not usable; only {@link #best()} falls
 * back to the CPU, and it says so in {@link #selectionNote()}.
 */
public final class Device {

    public enum Kind { CPU, CUDA }

    private static final Device CPU = new Device(Kind.CPU, 0, CpuEngine::new, "cpu requested");
    private static final Map<Integer, Device> CUDA = new ConcurrentHashMap<>();

    private final Kind kind;
    private final int ordinal;
    private final Engine engine;
    private final String selectionNote;
    /** The precision of layers made on this device that do not choose their own; {@code null}: the default. */
    private final Precision precision;

    private Device(Kind kind, int ordinal, Function<Device, Engine> engineFactory, String selectionNote) {
        this.kind = kind;
        this.ordinal = ordinal;
        this.selectionNote = selectionNote;
        this.precision = null;
        this.engine = engineFactory.apply(this);
    }

    /**
     * The CPU, with the pure-Java engine.
     *
     * @throws IllegalArgumentException when system property {@code rnn4j.threads} is set but not a whole number
     *                                  {@code >= 1} (see {@link CpuEngine#threads()})
     */
    public static Device cpu() {
        CpuEngine.threads();   // refuses a bad rnn4j.threads where the CPU is chosen, not deep in a forward
        return CPU;
    }

    /** The first CUDA GPU. */
    public static Device cuda() {
        return cuda(0);
    }

    /**
     * The CUDA GPU with this ordinal, its engine started on first use.
     *
     * @throws IllegalStateException naming the reason (no driver, no device, kernels not built, cuBLAS missing)
     */
    public static Device cuda(int ordinal) {
        if (ordinal < 0) {
            throw new IllegalArgumentException("ordinal: expected >= 0, got " + ordinal);
        }
        return CUDA.computeIfAbsent(ordinal,
                o -> new Device(Kind.CUDA, o, d -> CudaEngine.open(d, o), "cuda:" + o + " requested"));
    }

    /** CUDA device 0 when usable, otherwise the CPU; {@link #selectionNote()} says which and why. */
    public static Device best() {
        try {
            Device gpu = cuda(0);
            return new Device(gpu, "best available: " + gpu.engine.describe());
        } catch (IllegalStateException e) {
            String reason = e.getMessage().startsWith("CUDA is not usable") ? e.getMessage()
                    : "CUDA is not usable: " + e.getMessage();
            return new Device(CPU, "best available: CPU, because " + reason);
        }
    }

    /**
     * Parses {@code cpu}, {@code cuda}, {@code cuda:N}, or {@code best}/{@code auto}.
     *
     * @throws IllegalArgumentException for anything else
     */
    public static Device parse(String spec) {
        if (spec == null) {
            throw new IllegalArgumentException("spec: expected cpu, cuda, cuda:N or best, got null");
        }
        String s = spec.trim().toLowerCase(Locale.ROOT);
        if (s.equals("cpu")) {
            return cpu();
        }
        if (s.equals("best") || s.equals("auto")) {
            return best();
        }
        if (s.equals("cuda") || s.equals("gpu")) {
            return cuda();
        }
        if (s.startsWith("cuda:")) {
            try {
                return cuda(Integer.parseInt(s.substring(5)));
            } catch (NumberFormatException e) {
                // fall through to the message below
            }
        }
        throw new IllegalArgumentException("device: expected cpu, cuda, cuda:N, best or auto, got '" + spec + "'");
    }

    /** Why CUDA is or is not usable on this machine, without starting an engine. */
    public static String cudaStatus() {
        return CudaEngine.probe();
    }

    /** A copy with the same kind and ordinal that runs on {@code engine} and carries {@code note}. */
    private Device(Device same, Engine engine, String note) {
        this(same, engine, note, same.precision);
    }

    private Device(Device same, Engine engine, String note, Precision precision) {
        this.kind = same.kind;
        this.ordinal = same.ordinal;
        this.engine = engine;
        this.selectionNote = note;
        this.precision = precision;
    }

    private Device(Device same, String note) {
        this(same, same.engine, note);
    }

    /**
     * This device with {@code precision} as the precision of the layers (and so of the models) made on it that do
     * not set their own ({@link Precision}); the result equals this device, so tensors move freely between the two.
     *
     * @throws IllegalArgumentException naming {@code precision} when it is null, or TF32 or BF16 on the CPU
     */
    public Device withPrecision(Precision precision) {
        if (precision == null) {
            throw new IllegalArgumentException("precision: expected FP32, TF32 or BF16, got null");
        }
        Precision.requireSupported(precision, this);
        return new Device(this, engine, selectionNote, precision);
    }

    /** The precision set by {@link #withPrecision}, or {@code null} (layers then take the default). */
    public Precision precision() {
        return precision;
    }

    /**
     * This device with its engine seen through {@code wrap}: layers and tensors made on the returned
     * device send every engine call to {@code wrap.apply(engine())}, which must forward each call to the
     * engine it is given. For tools that observe the engine (the CLI's {@code bench --phases} times each
     * call); the result equals this device, so tensors move freely between the two.
     */
    public Device withEngine(UnaryOperator<Engine> wrap) {
        Engine wrapped = wrap.apply(engine);
        if (wrapped == null) {
            throw new IllegalArgumentException("wrap: expected an engine, got null");
        }
        return new Device(this, wrapped, selectionNote);
    }

    public Kind kind() {
        return kind;
    }

    public int ordinal() {
        return ordinal;
    }

    public boolean isCuda() {
        return kind == Kind.CUDA;
    }

    /** The engine that runs work on this device. */
    public Engine engine() {
        return engine;
    }

    /** How this device was chosen: for {@link #best()}, what it picked and why. */
    public String selectionNote() {
        return selectionNote;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Device d && d.kind == kind && d.ordinal == ordinal;
    }

    @Override
    public int hashCode() {
        return kind.hashCode() * 31 + ordinal;
    }

    @Override
    public String toString() {
        return kind == Kind.CPU ? "cpu" : "cuda:" + ordinal;
    }
}
