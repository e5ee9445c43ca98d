package org.rnn4j.model;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The learning rate over a run, as a function of the base rate, the optimizer step (counted from 0)
 * and the epoch, with the state a resumed run needs ({@link #state}, {@link #restore}):
 * <ul>
 *   <li>{@link #constant()};</li>
 *   <li>{@link #step(int, double)}: multiplied by {@code gamma} every {@code n} epochs (PyTorch's {@code StepLR});</li>
 *   <li>{@link #cosine(long, long, double)}: linear warm-up, then a half cosine down to a floor
 *       (PyTorch's {@code CosineAnnealingLR} after a warm-up);</li>
 *   <li>{@link #reduceOnPlateau(double, int, double)}: multiplied by {@code factor} when the validation
 *       loss has not improved for {@code patience} epochs (PyTorch's {@code ReduceLROnPlateau}).</li>
 * </ul>
 * A custom schedule extends this class: {@link #rate} is all it must give; a schedule that learns from
 * the epochs ({@link #epochEnd}) also returns what it learnt from {@link #state} and takes it back in
 * {@link #restore}, so that a resumed run continues it. Its {@link #toString()} names it in checkpoints (a
 * run resumes only with the schedule it was saved with); the default is the class name.
 */
public abstract class LrSchedule {

    /** For subclasses. */
    protected LrSchedule() {
    }

    @Override
    public String toString() {
        return getClass().getName();
    }

    /** The rate for optimizer step {@code step} (from 0) of epoch {@code epoch} (from 0). */
    public abstract double rate(double base, long step, int epoch);

    /** Told the monitored value (validation loss, else training loss) after each epoch. */
    public void epochEnd(double monitored) {
    }

    /** What must survive a checkpoint (empty for stateless schedules). */
    public Map<String, String> state() {
        return Map.of();
    }

    /** Restores {@link #state()}. */
    public void restore(Map<String, String> state) {
    }

    /**
     * Refuses a schedule that cannot work with base rate {@code base} (a floor above it, which would make
     * the rate climb); {@code fit} calls this before training.
     */
    void checkBase(double base) {
    }

    /** Refuses a floor {@code minLr} above the base rate. */
    static void floorBelow(double minLr, double base) {
        if (minLr > base) {
            throw new IllegalArgumentException("minLr: expected at most the base learning rate " + base + ", got " + minLr
                    + " (the rate would climb to it)");
        }
    }

    /** Forgets what earlier epochs told it: {@code fit} calls this when a run starts (not when it resumes). */
    public void reset() {
    }

    /** The same base rate throughout. */
    public static LrSchedule constant() {
        return new LrSchedule() {
            @Override
            public double rate(double base, long step, int epoch) {
                return base;
            }

            @Override
            public String toString() {
                return "constant";
            }
        };
    }

    /** {@code base · gamma^⌊epoch / everyEpochs⌋}. */
    public static LrSchedule step(int everyEpochs, double gamma) {
        if (everyEpochs < 1) {
            throw new IllegalArgumentException("everyEpochs: expected >= 1, got " + everyEpochs);
        }
        if (!(gamma > 0 && gamma <= 1)) {
            throw new IllegalArgumentException("gamma: expected a factor in (0, 1], got " + gamma);
        }
        return new LrSchedule() {
            @Override
            public double rate(double base, long step, int epoch) {
                return base * Math.pow(gamma, epoch / everyEpochs);
            }

            @Override
            public String toString() {
                return String.format(Locale.ROOT, "step(every %d epochs, gamma %s)", everyEpochs, gamma);
            }
        };
    }

    /**
     * Linear warm-up from {@code base / warmupSteps} to {@code base} over the first {@code warmupSteps}
     * steps, then {@code minLr + (base − minLr)·(1 + cos(π·p))/2} with {@code p} going from 0 to 1 at
     * {@code totalSteps} (and {@code minLr} after).
     */
    public static LrSchedule cosine(long warmupSteps, long totalSteps, double minLr) {
        if (warmupSteps < 0 || totalSteps <= warmupSteps) {
            throw new IllegalArgumentException("warmupSteps, totalSteps: expected 0 <= warmupSteps < totalSteps, got "
                    + warmupSteps + ", " + totalSteps);
        }
        if (!(minLr >= 0) || Double.isInfinite(minLr)) {
            throw new IllegalArgumentException("minLr: expected a finite value >= 0, got " + minLr);
        }
        return new LrSchedule() {
            @Override
            public double rate(double base, long step, int epoch) {
                if (step < warmupSteps) {
                    return base * (step + 1) / warmupSteps;
                }
                double p = Math.min(1.0, (double) (step - warmupSteps) / (totalSteps - warmupSteps));
                return minLr + (base - minLr) * 0.5 * (1 + Math.cos(Math.PI * p));
            }

            @Override
            void checkBase(double base) {
                floorBelow(minLr, base);
            }

            @Override
            public String toString() {
                return String.format(Locale.ROOT, "cosine(warm-up %d, total %d steps, min %s)", warmupSteps, totalSteps, minLr);
            }
        };
    }

    /**
     * Multiplies the rate by {@code factor} once the monitored loss has not improved (by more than a
     * relative 1e-4) for {@code patience} epochs; never below {@code minLr}.
     */
    public static LrSchedule reduceOnPlateau(double factor, int patience, double minLr) {
        if (!(factor > 0 && factor < 1)) {
            throw new IllegalArgumentException("factor: expected a value in (0, 1), got " + factor);
        }
        if (patience < 0) {
            throw new IllegalArgumentException("patience: expected >= 0, got " + patience);
        }
        if (!(minLr >= 0) || Double.isInfinite(minLr)) {
            throw new IllegalArgumentException("minLr: expected a finite value >= 0, got " + minLr);
        }
        return new Plateau(factor, patience, minLr);
    }

    private static final class Plateau extends LrSchedule {
        private final double factor;
        private final int patience;
        private final double minLr;
        private double best = Double.POSITIVE_INFINITY;
        private int bad;
        private double scale = 1;

        Plateau(double factor, int patience, double minLr) {
            this.factor = factor;
            this.patience = patience;
            this.minLr = minLr;
        }

        @Override
        public double rate(double base, long step, int epoch) {
            return Math.max(minLr, base * scale);
        }

        @Override
        public void epochEnd(double monitored) {
            if (monitored < best * (1 - 1e-4)) {
                best = monitored;
                bad = 0;
            } else if (++bad > patience) {
                scale *= factor;
                bad = 0;
            }
        }

        @Override
        void checkBase(double base) {
            floorBelow(minLr, base);
        }

        @Override
        public void reset() {
            best = Double.POSITIVE_INFINITY;
            bad = 0;
            scale = 1;
        }

        @Override
        public Map<String, String> state() {
            Map<String, String> m = new LinkedHashMap<>();
            m.put("best", Double.toString(best));
            m.put("bad_epochs", Integer.toString(bad));
            m.put("scale", Double.toString(scale));
            return m;
        }

        @Override
        public void restore(Map<String, String> state) {
            try {
                best = Double.parseDouble(state.get("best"));
                bad = Integer.parseInt(state.get("bad_epochs"));
                scale = Double.parseDouble(state.get("scale"));
            } catch (NumberFormatException | NullPointerException e) {
                throw new IllegalArgumentException("state: expected the numbers best, bad_epochs and scale that state() wrote, got "
                        + state, e);
            }
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "reduceOnPlateau(factor %s, patience %d, min %s)", factor, patience, minLr);
        }
    }
}
