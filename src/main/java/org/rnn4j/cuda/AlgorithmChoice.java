package org.rnn4j.cuda;

import com.sun.jna.NativeLibrary;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.rnn4j.CellType;
import org.rnn4j.engine.Buffer;
import org.rnn4j.engine.Recurrence;

/**
 * Which algorithm runs a layer-direction's time loop, chosen as cuDNN's {@code cudnnFind…} does: per
 * {@link Key} (cell, pass, shape, precision) the engine knows the eligible algorithms, measures them once with
 * CUDA events on first use, caches the fastest and reports it (a log line, {@link #report()} for
 * {@code summary()}, {@link #policy()} for {@code rnn4j info}).
 *
 * <ul>
 *   <li>{@link Algorithm#STANDARD}: the per-step primitives, eager (one SGEMM and one cell kernel per step).</li>
 *   <li>{@link Algorithm#STANDARD_GRAPH}: the same launches as a CUDA graph replay ({@link CudaEngine#replayable});
 *       eligible where the engine's graphs are on. Same kernels, same bits.</li>
 *   <li>{@link Algorithm#PERSISTENT}: {@link PersistentRecurrence}, where it covers the loop and a grid fits the
 *       device at once. On the stand-in the same bits as the standard path; on a GPU cuBLAS sums in another
 *       order, so it agrees to rounding (the parity tests' tolerance against the CPU engine).</li>
 * </ul>
 *
 * <p>Measuring runs each eligible algorithm twice untimed (a graph is captured on its second sighting) and once
 * between two events, then the winner once more for the results. It needs a loop that may run several times
 * with the same result: a training forward (every write a function of inputs it does not overwrite). Other
 * loops (inference forwards, which ping-pong their state slots; backward, which adds into its gradients) take
 * the measured choice of the same key where one exists, else the heuristic, without caching it. On the
 * stand-in driver measuring would time host code, so it is off there (the heuristic decides) unless forced
 * with {@value #MEASURE_PROPERTY}{@code =on}, which tests use to exercise it. The heuristic: persistent where
 * eligible and the batch is at most {@value #PERSISTENT_MAX_BATCH} (Persistent RNNs win at small batch),
 * else the graph where eligible, else standard.
 *
 * <p>{@value #PROPERTY} = {@code auto} (default) | {@code standard} | {@code graph} | {@code persistent} forces
 * one; a forced algorithm that is not eligible for a loop falls back to the standard path, and the report says
 * why. A bad value is refused when the engine opens, naming the property.
 */
public final class AlgorithmChoice {

    /** System property forcing an algorithm: {@code auto}, {@code standard}, {@code graph} or {@code persistent}. */
    public static final String PROPERTY = "rnn4j.cuda.algorithm";
    /** System property for measuring: {@code auto} (on a GPU, not on the stand-in), {@code on}, {@code off}. */
    public static final String MEASURE_PROPERTY = "rnn4j.cuda.algorithm.measure";
    /** The heuristic's largest batch for the persistent algorithm. */
    static final int PERSISTENT_MAX_BATCH = 16;
    private static final int MAX_KEYS = 1024;
    private static final System.Logger LOG = System.getLogger("org.rnn4j.cuda");

    /** The algorithms of a recurrent time loop. */
    public enum Algorithm {
        STANDARD("standard"), STANDARD_GRAPH("graph"), PERSISTENT("persistent");

        final String option;

        Algorithm(String option) {
            this.option = option;
        }

        @Override
        public String toString() {
            return option;
        }
    }

    /**
     * What a choice is keyed by. {@code precision} is the GEMM precision ({@code "fp32"} today; TF32 and BF16 get
     * their own keys); {@code graphs}: whether the engine's graphs are on, which decides whether the graph algorithm is
     * eligible. Training and inference forwards share a key: the algorithms' costs do not depend on it.
     */
    record Key(CellType cell, boolean resetAfter, Recurrence.Pass pass, int hidden, int stateSize, int projSize,
               boolean peepholes, int batch, int steps, String precision, boolean graphs) {
        static Key of(Recurrence loop, boolean graphs) {
            return new Key(loop.cell, loop.cell == CellType.GRU && loop.resetAfter, loop.pass, loop.hidden, loop.stateSize,
                    loop.projSize, loop.peep != null, loop.batch, loop.steps, "fp32", graphs);
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%s%s%s %s H=%d%s B=%d T=%d %s", cell,
                    cell == CellType.GRU ? (resetAfter ? " reset-after" : " reset-before") : "",
                    peepholes ? " peepholes" : "", pass.toString().toLowerCase(Locale.ROOT), hidden,
                    projSize > 0 ? " P=" + projSize : "", batch, steps, precision);
        }
    }

    /** A choice: the algorithm, how it was made, and the persistent plan when that is the algorithm. */
    record Choice(Algorithm algorithm, String how, PersistentRecurrence.Plan plan) {
    }

    private final CudaEngine engine;
    private final PersistentRecurrence persistent;   // null where the engine has none (argument tests)
    private final boolean measure;
    private volatile Algorithm forced;
    private final Map<Key, Choice> chosen = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Key, Choice> eldest) {
            return size() > MAX_KEYS;
        }
    };

    AlgorithmChoice(CudaEngine engine, PersistentRecurrence persistent, boolean onStandIn) {
        this.engine = engine;
        this.persistent = persistent;
        this.forced = parse(System.getProperty(PROPERTY, "auto"), "-D" + PROPERTY);
        Boolean m = measureProperty();
        this.measure = m != null ? m : !onStandIn;
    }

    /** Refuses a malformed {@value #PROPERTY} or {@value #MEASURE_PROPERTY}, before the engine acquires anything. */
    static void checkProperties() {
        parse(System.getProperty(PROPERTY, "auto"), "-D" + PROPERTY);
        measureProperty();
    }

    /** {@value #MEASURE_PROPERTY}: on, off, or null for auto (measure on a GPU, not on the stand-in). */
    private static Boolean measureProperty() {
        String m = System.getProperty(MEASURE_PROPERTY, "auto").trim().toLowerCase(Locale.ROOT);
        return switch (m) {
            case "auto" -> null;
            case "on" -> true;
            case "off" -> false;
            default -> throw new IllegalArgumentException("-D" + MEASURE_PROPERTY + ": expected auto, on or off, got '"
                    + m + "'");
        };
    }

    /** Whether the driver is rnn4j's stand-in ({@code native/standin}): it exports its counters, NVIDIA's does not. */
    static boolean onStandIn() {
        try {
            NativeLibrary.getInstance("libcuda.so.1").getFunction("rnn4j_standin_count");
            return true;
        } catch (UnsatisfiedLinkError e) {
            return false;
        }
    }

    /** An algorithm's option name ({@code auto} → null: choose), refused by {@code what} otherwise. */
    static Algorithm parse(String value, String what) {
        String v = value == null ? "" : value.trim().toLowerCase(Locale.ROOT);
        if (v.equals("auto")) {
            return null;
        }
        for (Algorithm a : Algorithm.values()) {
            if (a.option.equals(v)) {
                return a;
            }
        }
        throw new IllegalArgumentException(what + ": expected auto, standard, graph or persistent, got '" + value + "'");
    }

    /** Forces {@code algorithm} ({@code "auto"} lets the engine choose) for later loops; forgets earlier choices. */
    void force(String algorithm) {
        Algorithm a = parse(algorithm, "algorithm");
        synchronized (chosen) {
            forced = a;
            chosen.clear();
        }
    }

    /** The policy, for {@code rnn4j info}: forced or chosen, measured or by the heuristic. */
    public static String policy() {
        String f = System.getProperty(PROPERTY, "auto").trim();
        String m = System.getProperty(MEASURE_PROPERTY, "auto").trim();
        try {
            parse(f, "-D" + PROPERTY);
        } catch (IllegalArgumentException e) {
            return "recurrent algorithm refused: " + e.getMessage();
        }
        return "recurrent algorithm " + f + " (-D" + PROPERTY + "=auto|standard|graph|persistent), measuring " + m
                + " (auto: with CUDA events on a GPU, on first use per cell, shape and precision; the heuristic on the"
                + " stand-in driver)";
    }

    /** Runs {@code loop} with its algorithm, choosing one first where this key has none. */
    void run(Recurrence loop, Object shape, Buffer[] buffers, Runnable perStep) {
        Key key = Key.of(loop, engine.graphsEnabled());
        Choice c;
        synchronized (chosen) {
            c = chosen.get(key);
        }
        if (c == null) {
            c = choose(key, loop, shape, buffers, perStep);
        }
        if (!execute(c, loop, shape, buffers, perStep)) {
            Choice fallback = new Choice(Algorithm.STANDARD, "persistent refused by the driver "
                    + "(CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE for " + c.plan() + "): standard", null);
            remember(key, fallback);
            execute(fallback, loop, shape, buffers, perStep);
        }
    }

    private Choice choose(Key key, Recurrence loop, Object shape, Buffer[] buffers, Runnable perStep) {
        PersistentRecurrence.Plan plan = persistent == null ? PersistentRecurrence.Plan.none("no persistent kernels here")
                : persistent.plan(loop);
        List<Algorithm> eligible = new ArrayList<>(List.of(Algorithm.STANDARD));
        if (engine.graphsEnabled()) {
            eligible.add(Algorithm.STANDARD_GRAPH);
        }
        if (plan.usable()) {
            eligible.add(Algorithm.PERSISTENT);
        }
        Algorithm f = forced;
        Choice c;
        if (f != null) {
            c = eligible.contains(f) ? new Choice(f, "forced by " + PROPERTY, plan)
                    : new Choice(Algorithm.STANDARD, PROPERTY + "=" + f + " is not eligible here ("
                            + (f == Algorithm.PERSISTENT ? plan.unusable() : "graphs are off") + "): standard", null);
        } else if (eligible.size() == 1) {
            c = new Choice(Algorithm.STANDARD, "the only eligible algorithm"
                    + (plan.usable() ? "" : "; persistent: " + plan.unusable()), null);
        } else if (measure && loop.pass == Recurrence.Pass.FORWARD && loop.keep) {
            c = measure(eligible, plan, loop, shape, buffers, perStep);
        } else {
            Algorithm a = eligible.contains(Algorithm.PERSISTENT) && loop.batch <= PERSISTENT_MAX_BATCH ? Algorithm.PERSISTENT
                    : eligible.contains(Algorithm.STANDARD_GRAPH) ? Algorithm.STANDARD_GRAPH : Algorithm.STANDARD;
            c = new Choice(a, "heuristic of " + eligible + (plan.usable() ? "" : "; persistent: " + plan.unusable()), plan);
            if (measure) {
                return c;   // provisional: a training forward of this key measures later
            }
        }
        remember(key, c);
        return c;
    }

    private void remember(Key key, Choice c) {
        synchronized (chosen) {
            chosen.put(key, c);
        }
        // measured choices and driver refusals are news (once per key); forced and heuristic choices are not
        boolean news = c.how().startsWith("measured") || c.how().startsWith("persistent refused");
        LOG.log(news ? System.Logger.Level.INFO : System.Logger.Level.DEBUG, () -> engine.name() + " " + key + ": " + describe(c));
    }

    /** Times each eligible algorithm on this loop (which may run repeatedly with the same result). */
    private Choice measure(List<Algorithm> eligible, PersistentRecurrence.Plan plan, Recurrence loop, Object shape,
                           Buffer[] buffers, Runnable perStep) {
        Algorithm best = null;
        float bestMs = Float.POSITIVE_INFINITY;
        StringBuilder times = new StringBuilder("measured");
        for (Algorithm a : eligible) {
            Choice trial = new Choice(a, "measuring", plan);
            boolean ran = execute(trial, loop, shape, buffers, perStep) && execute(trial, loop, shape, buffers, perStep);
            float[] ms = {Float.NaN};
            if (ran) {
                boolean[] ok = {true};
                ms[0] = engine.elapsedMillis(() -> ok[0] = execute(trial, loop, shape, buffers, perStep));
                ran = ok[0];
            }
            times.append(String.format(Locale.ROOT, " %s %s", a, ran ? String.format(Locale.ROOT, "%.3f ms", ms[0])
                    : "refused by the driver"));
            if (ran && ms[0] < bestMs) {
                bestMs = ms[0];
                best = a;
            }
        }
        return new Choice(best == null ? Algorithm.STANDARD : best, times.toString(), plan);
    }

    /** Queues {@code loop} with {@code c}'s algorithm; {@code false} when the driver refused the persistent grid. */
    private boolean execute(Choice c, Recurrence loop, Object shape, Buffer[] buffers, Runnable perStep) {
        switch (c.algorithm()) {
            case PERSISTENT -> {
                return persistent.run(loop, c.plan());
            }
            case STANDARD_GRAPH -> engine.replayable(shape, buffers, perStep);
            default -> perStep.run();
        }
        return true;
    }

    private static String describe(Choice c) {
        return c.algorithm() + " (" + c.how() + (c.algorithm() == Algorithm.PERSISTENT ? "; " + c.plan() : "") + ")";
    }

    /** The choices made so far, one line each ({@code key: algorithm (how)}), oldest first. */
    String report() {
        StringBuilder s = new StringBuilder();
        synchronized (chosen) {
            for (Map.Entry<Key, Choice> e : chosen.entrySet()) {
                s.append(engine.name()).append(' ').append(e.getKey()).append(": ").append(describe(e.getValue())).append('\n');
            }
        }
        return s.toString();
    }

    /** The algorithm chosen for {@code loop}'s key so far, or null (tests). */
    Algorithm chosenFor(Recurrence loop) {
        synchronized (chosen) {
            Choice c = chosen.get(Key.of(loop, engine.graphsEnabled()));
            return c == null ? null : c.algorithm();
        }
    }
}
