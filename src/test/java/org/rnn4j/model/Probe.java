package org.rnn4j.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.function.Executable;
import org.rnn4j.Device;
import org.rnn4j.Tensor;
import org.rnn4j.engine.Buffer;
import org.rnn4j.engine.Engine;

/**
 * A table of bad inputs for {@link NewUserProbeTest}: each case must be refused with the expected exception type,
 * a message that names the argument and says what was expected, no engine work queued (a check, an allocation or a
 * copy between host and device is not work) and every buffer allocated during the refused call freed again. The
 * failures are gathered, so one run lists them all.
 */
final class Probe {
    /** Engine calls that are not work: allocation, host transfers, checks and descriptions. */
    private static final Set<String> NOT_WORK = Set.of("device", "describe", "name", "allocate", "allocateUninitialized",
            "upload", "download", "synchronize", "supports", "recurrentAlgorithms", "hasNonFinite", "graphsEnabled",
            "toString", "hashCode", "equals", "close");

    /** The device under test, its engine seen through a recorder. */
    final Device device;
    private boolean recording;
    private final List<String> work = new ArrayList<>();
    private final List<Buffer> allocated = new ArrayList<>();
    private final List<String> failures = new ArrayList<>();
    private int cases;

    Probe(Device base) {
        this.device = base.withEngine(real -> (Engine) Proxy.newProxyInstance(Engine.class.getClassLoader(),
                new Class<?>[] {Engine.class}, (proxy, method, args) -> {
                    if (recording && !NOT_WORK.contains(method.getName())) {
                        work.add(method.getName());
                    }
                    try {
                        Object r = method.invoke(real, args);
                        if (recording && r instanceof Buffer b) {
                            allocated.add(b);
                        }
                        return r;
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                }));
    }

    /** An {@link IllegalArgumentException} whose message names {@code argument} and says what was expected. */
    void iae(String what, String argument, Executable call) {
        expect(what, IllegalArgumentException.class, argument, true, call);
    }

    /** An {@link IllegalArgumentException} whose message starts with {@code start} (a refusal that says what is wrong another way). */
    void named(String what, String start, Executable call) {
        expect(what, IllegalArgumentException.class, start, true, call);
    }

    /** As {@link #iae} where a check that reads the data (finite values) may run first. */
    void iaeAfterChecks(String what, String argument, Executable call) {
        expect(what, IllegalArgumentException.class, argument, false, call);
    }

    /** An {@link IllegalStateException} saying the object is closed. */
    void closed(String what, Executable call) {
        expect(what, IllegalStateException.class, "closed", false, call);
    }

    /** A file that is not what it should be: an {@link IOException} or an {@link IllegalArgumentException} naming the file. */
    void badFile(String what, Executable call) {
        cases++;
        long open = Tensor.openCount();
        Throwable t = run(call);
        leaks(what, open, t);
        if (t == null) {
            failures.add(what + ": loaded without a word");
        } else if (!(t instanceof IOException || t instanceof IllegalArgumentException) || t.getMessage() == null) {
            failures.add(what + ": " + describe(t));
        }
    }

    private void expect(String what, Class<? extends Throwable> type, String argument, boolean noWork, Executable call) {
        cases++;
        work.clear();
        allocated.clear();
        recording = true;
        long open = Tensor.openCount();
        Throwable t;
        try {
            t = run(call);
        } finally {
            recording = false;
        }
        leaks(what, open, t);
        String m = t == null ? null : t.getMessage();
        if (t == null) {
            failures.add(what + ": no exception");
        } else if (!type.isInstance(t)) {
            failures.add(what + ": expected " + type.getSimpleName() + ", got " + describe(t));
        } else if (m == null || !m.contains(argument) || !(m.contains("expected") || type == IllegalStateException.class || m.startsWith(argument))) {
            failures.add(what + ": the message should name '" + argument + "' and what was expected: " + m);
        } else if (noWork && !work.isEmpty()) {
            failures.add(what + ": refused after engine work " + work + " (" + m + ")");
        }
        long leaked = allocated.stream().filter(b -> !b.isClosed()).count();
        if (t != null && leaked > 0) {
            failures.add(what + ": " + leaked + " buffer(s) allocated by the refused call left open (" + m + ")");
        }
    }

    /** A refused call leaves no tensor open (a call that went through is reported by the caller's check). */
    private void leaks(String what, long openBefore, Throwable t) {
        long now = Tensor.openCount();
        if (t != null && now != openBefore) {
            failures.add(what + ": " + (now - openBefore) + " tensor(s) left open by the refused call (" + t + ")");
        }
    }

    /** A valid edge case must give the right answer: {@code check} throws an {@link AssertionError} otherwise. */
    void right(String what, Executable check) {
        cases++;
        Throwable t = run(check);   // it may leave states held (a stream's): each section checks for leaks at its end
        if (t != null) {
            failures.add(what + ": " + describe(t));
        }
    }

    private static Throwable run(Executable call) {
        try {
            call.execute();
            return null;
        } catch (Throwable t) {
            return t;
        }
    }

    private static String describe(Throwable t) {
        StackTraceElement at = t.getStackTrace().length > 0 ? t.getStackTrace()[0] : null;
        return t.getClass().getSimpleName() + ": " + t.getMessage() + (at == null ? "" : " at " + at);
    }

    int cases() {
        return cases;
    }

    /** Fails with every failure, one per line. */
    void check() {
        assertTrue(failures.isEmpty(), failures.size() + " of " + cases + " cases failed on " + device + (device.precision() == null ? "" : " at " + device.precision()) + ":\n  "
                + String.join("\n  ", failures));
    }
}
