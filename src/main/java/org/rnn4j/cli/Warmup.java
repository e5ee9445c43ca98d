package org.rnn4j.cli;

import java.util.Arrays;
import java.util.Locale;
import java.util.function.DoubleSupplier;

/**
 * Untimed runs until the time per run has settled: a cold JVM interprets, then compiles, the host code that
 * queues each step, and with device work skipped a step was 3.5× slower after 2 warm-up runs than after 200.
 * At least {@code minRuns} runs; then, while the median of the last {@code k} runs differs from the median of
 * the {@code k} before by more than {@code tolerance} (a fraction), more runs, up to {@link #MAX_SECONDS} or
 * {@code max(10·minRuns, 100)} runs, whichever comes first. {@code k} is {@code minRuns / 2}, 1 to
 * {@link #WINDOW}. A tolerance of 0 (or less) means exactly {@code minRuns} runs, and {@code minRuns} 0 none.
 */
final class Warmup {

    static final int WINDOW = 10;
    static final double MAX_SECONDS = 10;

    /** What a warm-up did: how many runs, and whether the stop rule was met (false: a cap stopped it). */
    record Result(int runs, boolean settled) {
    }

    private Warmup() {
    }

    /**
     * Runs {@code work} then {@code sync} (which waits for the device) until settled, each run timed on the
     * host clock.
     */
    static Result run(Runnable work, Runnable sync, int minRuns, double tolerance) {
        return run(() -> {
            long t0 = System.nanoTime();
            work.run();
            sync.run();
            return (System.nanoTime() - t0) / 1e6;
        }, minRuns, tolerance);
    }

    /** The stop rule over {@code oneRun}, which does one run and returns its milliseconds. */
    static Result run(DoubleSupplier oneRun, int minRuns, double tolerance) {
        if (minRuns == 0) {
            return new Result(0, true);
        }
        int k = Math.max(1, Math.min(WINDOW, minRuns / 2));
        int maxRuns = Math.max(10 * minRuns, 100);
        double[] ms = new double[maxRuns];
        long start = System.nanoTime();
        int n = 0;
        while (n < minRuns || tolerance > 0) {
            if (n >= minRuns && n >= 2 * k && settled(ms, n, k, tolerance)) {
                return new Result(n, true);
            }
            if (n >= minRuns && (n == maxRuns || (System.nanoTime() - start) / 1e9 > MAX_SECONDS)) {
                return new Result(n, false);
            }
            ms[n++] = oneRun.getAsDouble();
        }
        return new Result(n, true);
    }

    /** The median of runs {@code [n-k, n)} within {@code tolerance} of the median of {@code [n-2k, n-k)}. */
    static boolean settled(double[] ms, int n, int k, double tolerance) {
        double last = BenchCommand.median(Arrays.copyOfRange(ms, n - k, n));
        double before = BenchCommand.median(Arrays.copyOfRange(ms, n - 2 * k, n - k));
        return Math.abs(last - before) <= tolerance * before;
    }

    /** E.g. "warm-up: at least 20 runs, then until the median of the last 10 is within 5% of the 10 before". */
    static String describe(int minRuns, double tolerance) {
        if (minRuns == 0) {
            return "no warm-up";
        }
        if (tolerance <= 0) {
            return "warm-up " + minRuns + " runs";
        }
        int k = Math.max(1, Math.min(WINDOW, minRuns / 2));
        return String.format(Locale.ROOT, "warm-up: at least %d runs, then until the median of the last %d is "
                + "within %.0f%% of the %d before (at most %.0f s or %d runs)", minRuns, k, 100 * tolerance, k,
                MAX_SECONDS, Math.max(10 * minRuns, 100));
    }
}
