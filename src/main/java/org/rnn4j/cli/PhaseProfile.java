package org.rnn4j.cli;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.rnn4j.BackwardResult;
import org.rnn4j.DType;
import org.rnn4j.Device;
import org.rnn4j.ForwardResult;
import org.rnn4j.RecurrentLayer;
import org.rnn4j.Tensor;
import org.rnn4j.cuda.CudaEngine;
import org.rnn4j.cuda.StreamEvents;
import org.rnn4j.engine.Buffer;
import org.rnn4j.engine.Engine;

/**
 * Where the time of one training step (forward + backward with weight gradients) goes, by phase: input
 * GEMM, recurrent GEMMs, pointwise kernels, weight-gradient GEMMs, ..., and the gaps between launches.
 *
 * <p>The layer runs on {@link Device#withEngine} with a {@link Proxy} over {@link Engine} in between, which
 * times each engine call on the device's clock (CUDA events on the engine's stream; {@link System#nanoTime}
 * on the synchronous CPU engine) and files it under a phase by its method and arguments. The library has no
 * profiling code, and a new Engine method needs nothing here (it shows up as "other: name").
 *
 * <p>On a GPU an event pair around a call measures the work alone only while the GPU is behind the host;
 * when the GPU waits for the host, the pair also spans the launch. So each profiled step is queued behind a
 * head start (square GEMMs on scratch buffers, sized to outlast the host's queuing of the step), and the GPU
 * idle time inside the profiled step is reported as the check (near zero: the per-call times are the work).
 * The gaps between launches are the unprofiled step's GPU time (one event pair around it) minus the sum of
 * the per-call times: what the GPU spends waiting for the host in an ordinary step.
 */
final class PhaseProfile {

    static final String GAPS = "gaps between calls (device idle)";
    private static final List<String> ORDER = List.of(
            "forward: input GEMM", "forward: recurrent GEMMs", "forward: pointwise kernels",
            "backward: recurrent GEMMs", "backward: pointwise kernels", "backward: weight-gradient GEMMs",
            "backward: input-gradient GEMM (dX)", "backward: bias and peephole sums",
            "zeroing new buffers", "copies, layout and masks", "host transfers and syncs");
    private static final Set<String> POINTWISE = Set.of("lstmForward", "gruForward", "rnnForward",
            "gruResetBeforeGates", "gruResetBeforeOutput", "maskedUpdate", "lstmBackward", "gruBackward",
            "rnnBackward", "gruResetBeforeBackwardOutput", "gruResetBeforeBackwardGates");
    private static final Set<String> LAYOUT = Set.of("copy", "fill", "swapLeadingAxes", "reverseSequences",
            "seedStateGrad", "dropout");
    private static final Set<String> HOST = Set.of("upload", "download", "synchronize", "sumSquares",
            "hasNonFinite");
    /** Engine methods that queue no device work: passed through untimed. */
    private static final Set<String> UNTIMED = Set.of("device", "describe", "close");

    /** One phase: engine calls and their milliseconds (median over the profiled steps). */
    record Phase(String name, int calls, double ms) {
    }

    /**
     * The profile of one training step.
     *
     * @param stepMs      the unprofiled step, on the device's clock (median)
     * @param hostMs      the host's time to queue the unprofiled step, before it waits for the device (median)
     * @param headStartMs the GPU work queued ahead of each profiled step (0 on the CPU)
     * @param idleMs      device idle time inside the profiled step, between the calls (median; near 0 when
     *                    the per-call times are the work alone)
     * @param warmup      the warm-up through the profiling proxy before the first profiled step
     */
    record Result(Workload workload, String device, int profiledSteps, List<Phase> phases, double stepMs,
                  double hostMs, double headStartMs, double idleMs, Warmup.Result warmup) {

        double callsMs() {
            return phases.stream().mapToDouble(Phase::ms).sum();
        }

        double gapsMs() {
            return Math.max(0, stepMs - callsMs());
        }
    }

    /** A clock of the device: marks queued in order with the work; milliseconds between two of them. */
    private interface Clock extends AutoCloseable {
        int mark();

        double millis(int from, int to);

        void reset();

        @Override
        void close();
    }

    private static final class HostClock implements Clock {
        private long[] marks = new long[256];
        private int used;

        @Override
        public int mark() {
            if (used == marks.length) {
                marks = Arrays.copyOf(marks, 2 * used);
            }
            marks[used] = System.nanoTime();
            return used++;
        }

        @Override
        public double millis(int from, int to) {
            return (marks[to] - marks[from]) / 1e6;
        }

        @Override
        public void reset() {
            used = 0;
        }

        @Override
        public void close() {
        }
    }

    private static final class EventClock implements Clock {
        private final StreamEvents events;

        EventClock(CudaEngine engine) {
            events = new StreamEvents(engine);
        }

        @Override
        public int mark() {
            return events.record();
        }

        @Override
        public double millis(int from, int to) {
            return events.millis(from, to);
        }

        @Override
        public void reset() {
            events.reset();
        }

        @Override
        public void close() {
            events.close();
        }
    }

    /** One timed call: its phase and the marks before and after it. */
    private record Call(String phase, int before, int after) {
    }

    /** The proxy's handler: forwards every call; while recording, marks the clock around it and files it. */
    private static final class Recorder implements InvocationHandler {
        private final Engine target;
        private final Clock clock;
        private final int batch;
        private final int rows;
        final List<Call> calls = new ArrayList<>();
        boolean recording;
        boolean backward;

        Recorder(Engine target, Clock clock, int batch, int rows) {
            this.target = target;
            this.clock = clock;
            this.batch = batch;
            this.rows = rows;
        }

        @Override
        public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
            String name = method.getName();
            if (method.getDeclaringClass() == Object.class) {
                return switch (name) {
                    case "equals" -> proxy == args[0];
                    case "hashCode" -> System.identityHashCode(proxy);
                    default -> "profiled " + target;
                };
            }
            if (name.equals("replayable")) {
                ((Runnable) args[2]).run();   // eagerly, through this proxy: a graph replay would hide the calls
                return null;
            }
            if (name.equals("concurrently")) {
                // both parts in order, through this proxy: their calls are the phases (timed one at a time anyway)
                ((Runnable) args[0]).run();
                ((Runnable) args[1]).run();
                return null;
            }
            if (name.equals("recurrence")) {
                // the standard algorithm's steps, through this proxy: the phases are those of the per-step path
                // (a persistent kernel is one launch, with no phases inside it to show)
                ((Runnable) args[3]).run();
                return null;
            }
            if (!recording || UNTIMED.contains(name)) {
                return forward(method, args);
            }
            int before = clock.mark();
            Object result = forward(method, args);
            calls.add(new Call(phase(name, args), before, clock.mark()));
            return result;
        }

        private Object forward(Method method, Object[] args) throws Throwable {
            try {
                return method.invoke(target, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        }

        /** The phase of a call, from RecurrentLayer's use of the primitives (see its forward and backward). */
        private String phase(String name, Object[] args) {
            String pass = backward ? "backward: " : "forward: ";
            if (name.equals("gemm")) {
                boolean transA = (Boolean) args[0];
                int m = (Integer) args[2];
                if (transA) {
                    return "backward: weight-gradient GEMMs";       // dW = dGᵀ · input over all steps
                }
                if (m == batch) {
                    return pass + "recurrent GEMMs";                 // one step: h · W_hh, dG · W_hh
                }
                if (m == rows) {
                    return backward ? "backward: input-gradient GEMM (dX)" : "forward: input GEMM";
                }
                return pass + "other GEMMs";
            }
            if (POINTWISE.contains(name)) {
                return pass + "pointwise kernels";
            }
            if (name.equals("sumRows") || name.equals("lstmPeepholeGrad")) {
                return "backward: bias and peephole sums";
            }
            if (name.equals("allocate")) {
                return "zeroing new buffers";
            }
            if (LAYOUT.contains(name)) {
                return "copies, layout and masks";
            }
            if (HOST.contains(name)) {
                return "host transfers and syncs";
            }
            return "other: " + name;
        }
    }

    private PhaseProfile() {
    }

    /**
     * Profiles {@code steps} training steps of {@code w}, each after an unprofiled one, and returns the median
     * of each phase and of the unprofiled steps. Before them, a {@link Warmup} of at least
     * {@code max(3, warmupRuns)} steps through the proxy, until settled within {@code tolerance}.
     */
    static Result run(Device device, Workload w, int steps, int warmupRuns, double tolerance) {
        Engine plain = device.engine();
        try (Clock clock = device.isCuda() ? new EventClock((CudaEngine) plain) : new HostClock()) {
            Recorder rec = new Recorder(plain, clock, w.batch(), w.batch() * w.steps());
            Device observed = device.withEngine(e -> (Engine) Proxy.newProxyInstance(
                    Engine.class.getClassLoader(), new Class<?>[] {Engine.class}, rec));
            try (RecurrentLayer layer = w.build(observed, 1);
                 Tensor x = Tensor.of(observed, BenchCommand.uniform(w.steps() * w.batch() * w.in(), 2),
                         w.steps(), w.batch(), w.in());
                 Tensor dY = Tensor.zeros(observed, w.steps(), w.batch(), w.hidden())) {
                dY.fill(1f);
                layer.train();
                Runnable step = () -> {
                    rec.backward = false;
                    try (ForwardResult r = layer.forward(x)) {
                        rec.backward = true;
                        try (BackwardResult g = layer.backward(r, dY, null, null)) {
                            // the gradients stay in the layer; nothing to read
                        }
                    }
                };
                Warmup.Result warm = Warmup.run(step, plain::synchronize, Math.max(3, warmupRuns), tolerance);

                // A first profiled step without a head start: how long the host takes to queue it.
                clock.reset();
                rec.recording = true;
                long t0 = System.nanoTime();
                step.run();
                double queueMs = (System.nanoTime() - t0) / 1e6;
                rec.recording = false;
                plain.synchronize();

                double[] stepMs = new double[steps];
                double[] hostMs = new double[steps];
                Map<String, double[]> perPhase = new LinkedHashMap<>();
                Map<String, Integer> calls = new LinkedHashMap<>();
                double[] idle = new double[steps];
                double headStart = 0;
                try (HeadStart ahead = device.isCuda() ? new HeadStart(plain, 1.5 * queueMs) : null) {
                    for (int s = 0; s < steps; s++) {
                        // the unprofiled step and the profiled one alternate, so both see the same conditions
                        rec.calls.clear();
                        clock.reset();
                        long h0 = System.nanoTime();
                        int start = clock.mark();
                        step.run();
                        int end = clock.mark();
                        hostMs[s] = (System.nanoTime() - h0) / 1e6;
                        plain.synchronize();
                        stepMs[s] = clock.millis(start, end);

                        rec.calls.clear();
                        clock.reset();
                        if (ahead != null) {
                            ahead.queue();
                        }
                        rec.recording = true;
                        step.run();
                        rec.recording = false;
                        plain.synchronize();
                        Map<String, Double> ms = new LinkedHashMap<>();
                        Map<String, Integer> n = new LinkedHashMap<>();
                        double busy = 0;
                        for (Call c : rec.calls) {
                            double t = clock.millis(c.before(), c.after());
                            busy += t;
                            ms.merge(c.phase(), t, Double::sum);
                            n.merge(c.phase(), 1, Integer::sum);
                        }
                        List<Call> all = rec.calls;
                        idle[s] = all.isEmpty() ? 0
                                : Math.max(0, clock.millis(all.get(0).before(), all.get(all.size() - 1).after()) - busy);
                        for (Map.Entry<String, Double> e : ms.entrySet()) {
                            perPhase.computeIfAbsent(e.getKey(), k -> new double[steps])[s] = e.getValue();
                        }
                        calls.putAll(n);
                    }
                    headStart = ahead == null ? 0 : ahead.millis();
                }
                layer.zeroGrad();

                List<Phase> phases = new ArrayList<>();
                List<String> names = new ArrayList<>(ORDER);
                for (String p : perPhase.keySet()) {
                    if (!names.contains(p)) {
                        names.add(p);
                    }
                }
                for (String p : names) {
                    if (perPhase.containsKey(p)) {
                        phases.add(new Phase(p, calls.get(p), BenchCommand.median(perPhase.get(p))));
                    }
                }
                return new Result(w, device.toString(), steps, phases, BenchCommand.median(stepMs),
                        BenchCommand.median(hostMs), headStart, BenchCommand.median(idle), warm);
            }
        }
    }

    /**
     * GPU work queued ahead of a profiled step so that the GPU is still busy while the host queues the step:
     * square GEMMs on scratch buffers, the size grown until one takes about 0.2 ms (2048 at most), as many as
     * cover {@code targetMs} (at most 2 s of them).
     */
    private static final class HeadStart implements AutoCloseable {
        private final Engine engine;
        private final List<Buffer> scratch = new ArrayList<>();
        private int n;
        private int count;
        private double unitMs;

        HeadStart(Engine engine, double targetMs) {
            this.engine = engine;
            for (n = 256; ; n *= 2) {
                release();
                for (int i = 0; i < 3; i++) {
                    scratch.add(engine.allocate(DType.F32, (long) n * n));
                }
                engine.fill(scratch.get(0), 0, (long) n * n, 1f / n);
                engine.fill(scratch.get(1), 0, (long) n * n, 0.5f);
                queueOne();
                engine.synchronize();
                long t0 = System.nanoTime();
                queueOne();
                engine.synchronize();
                unitMs = (System.nanoTime() - t0) / 1e6;
                if (unitMs >= 0.2 || n >= 2048) {
                    break;
                }
            }
            count = (int) Math.max(1, Math.min(Math.ceil(targetMs / unitMs), Math.floor(2000 / unitMs)));
        }

        private void queueOne() {
            engine.gemm(false, false, n, n, n, 1f, scratch.get(0), 0, n, scratch.get(1), 0, n, 0f, scratch.get(2), 0, n);
        }

        void queue() {
            for (int i = 0; i < count; i++) {
                queueOne();
            }
        }

        /** About how long the queued head start keeps the GPU busy. */
        double millis() {
            return count * unitMs;
        }

        private void release() {
            for (Buffer b : scratch) {
                b.close();
            }
            scratch.clear();
        }

        @Override
        public void close() {
            release();
        }
    }
}
