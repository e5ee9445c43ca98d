package org.rnn4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.function.DoubleSupplier;
import org.junit.jupiter.api.Test;

/** The warm-up's stop rule over synthetic run times (no clock involved). */
class WarmupTest {

    /** Run n takes times[n] ms, then the last value forever; counts the runs asked for. */
    private static final class Runs implements DoubleSupplier {
        private final double[] times;
        int asked;

        Runs(double... times) {
            this.times = times;
        }

        @Override
        public double getAsDouble() {
            return times[Math.min(asked++, times.length - 1)];
        }
    }

    @Test
    void aColdStartKeepsWarmingUntilTwoWindowsAgree() {
        // 30 slow runs (interpreted, compiling), then steady at 1 ms: the windows of 10 agree once the earlier
        // one's median is a steady run's, i.e. after 16 steady runs
        double[] t = new double[31];
        for (int i = 0; i < 30; i++) {
            t[i] = 3.5 - i * 0.05;
        }
        t[30] = 1.0;
        Runs runs = new Runs(t);
        Warmup.Result r = Warmup.run(runs, 20, 0.05);
        assertTrue(r.settled());
        assertEquals(46, r.runs());
        assertEquals(46, runs.asked);
    }

    @Test
    void aSteadyRunStopsAtTheMinimum() {
        Warmup.Result r = Warmup.run(new Runs(2.0), 20, 0.05);
        assertEquals(new Warmup.Result(20, true), r);
    }

    @Test
    void aTimeThatNeverSettlesStopsAtTheRunCapUnsettled() {
        Runs runs = new Runs();
        DoubleSupplier falling = () -> 1000.0 / (1 + runs.asked++);   // each window ~5% faster than the one before
        Warmup.Result r = Warmup.run(falling, 20, 0.05);
        assertFalse(r.settled());
        assertEquals(200, r.runs());
    }

    @Test
    void toleranceZeroMeansExactlyTheMinimumAndZeroRunsMeansNone() {
        Runs runs = new Runs(5, 4, 3, 2, 1);
        assertEquals(new Warmup.Result(4, true), Warmup.run(runs, 4, 0));
        assertEquals(4, runs.asked);
        assertEquals(new Warmup.Result(0, true), Warmup.run(runs, 0, 0.05));
        assertEquals(4, runs.asked);
    }
}
