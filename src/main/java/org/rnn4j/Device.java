package org.rnn4j;

import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
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

    private Device(Kind kind, int ordinal, Function<Device, Engine> engineFactory, String selectionNote) {
        this.kind = kind;
        this.ordinal = ordinal;
        this.selectionNote = selectionNote;
        this.engine = engineFactory.apply(this);
    }

    public static Device cpu() {
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

    /** A copy that shares the engine but carries another note (used by {@link #best()}). */
    private Device(Device same, String note) {
        this.kind = same.kind;
        this.ordinal = same.ordinal;
        this.engine = same.engine;
        this.selectionNote = note;
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

    /**
     * A device over the engine that {@code engineFactory} makes, distinct from every other device, for tests
     * that put a failing or counting engine below the API.
     */
    static Device withEngine(Kind kind, Function<Device, Engine> engineFactory) {
        return new Device(kind, -1, engineFactory, "test engine");
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
