package org.rnn4j.model;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Stops {@code fit} once a metric has stopped improving, as Keras's {@code EarlyStopping}: after
 * {@code patience} epochs in a row (at least one) without an improvement of more than {@code minDelta},
 * and, with {@code restoreBestWeights}, puts back the weights of the best epoch when training ends. The
 * metric is any key of the epoch's metrics ({@code val_loss}, {@code val_accuracy}, {@code loss}, a custom
 * {@link Metric}'s name, with {@code val_} for its validation value); {@link Mode#AUTO} minimises it unless
 * it is one whose larger values are better ({@link TrainingRun#higherIsBetter}).
 */
public final class EarlyStopping implements Callback {

    /** Whether smaller ({@code MIN}) or larger ({@code MAX}) is better, or which the metric says ({@code AUTO}). */
    public enum Mode { MIN, MAX, AUTO }

    private final String monitor;
    private int patience;
    private double minDelta;
    private Mode mode = Mode.AUTO;
    private boolean restoreBestWeights;

    // state a checkpoint carries
    private double best;
    private int bestEpoch;
    private int wait;
    private boolean max;
    private int beganAt;   // the epoch count when training began: a restored state must lie within it

    /** Watches {@code monitor}, with patience 0 (stop at the first epoch that does not improve), minDelta 0, mode AUTO. */
    public EarlyStopping(String monitor) {
        if (monitor == null || monitor.isEmpty()) {
            throw new IllegalArgumentException("monitor: expected a metric name such as val_loss, got "
                    + (monitor == null ? "null" : "an empty name"));
        }
        this.monitor = monitor;
    }

    /** Epochs without improvement after which to stop (0 and 1 both stop at the first). */
    public EarlyStopping patience(int patience) {
        if (patience < 0) {
            throw new IllegalArgumentException("patience: expected >= 0, got " + patience);
        }
        this.patience = patience;
        return this;
    }

    /** The least change that counts as an improvement, {@code >= 0}. */
    public EarlyStopping minDelta(double minDelta) {
        if (!(minDelta >= 0) || Double.isInfinite(minDelta)) {
            throw new IllegalArgumentException("minDelta: expected a finite value >= 0, got " + minDelta);
        }
        this.minDelta = minDelta;
        return this;
    }

    public EarlyStopping mode(Mode mode) {
        if (mode == null) {
            throw new IllegalArgumentException("mode: expected MIN, MAX or AUTO, got null");
        }
        this.mode = mode;
        return this;
    }

    /** Whether to put back the best epoch's weights when training ends (default no). */
    public EarlyStopping restoreBestWeights(boolean restore) {
        this.restoreBestWeights = restore;
        return this;
    }

    public String monitor() {
        return monitor;
    }

    /** The epoch with the best value so far (0 before any). */
    public int bestEpoch() {
        return bestEpoch;
    }

    /** The best value so far. */
    public double best() {
        return best;
    }

    @Override
    public void onTrainBegin(TrainingRun run) {
        max = mode == Mode.MAX || mode == Mode.AUTO && run.higherIsBetter(monitor);
        best = max ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
        bestEpoch = 0;
        wait = 0;
        beganAt = run.epoch();
    }

    @Override
    public void onEpochEnd(TrainingRun run, History.Epoch epoch) {
        double v = epoch.metric(monitor);
        boolean improved = max ? v - minDelta > best : v + minDelta < best;
        if (improved) {
            best = v;
            bestEpoch = epoch.epoch();
            wait = 0;
            if (restoreBestWeights) {
                run.snapshotWeights(snapshot());
            }
        } else if (++wait >= Math.max(1, patience)) {
            run.stop();
        }
    }

    @Override
    public void onTrainEnd(TrainingRun run) {
        if (restoreBestWeights && bestEpoch > 0 && bestEpoch != run.epoch() && run.restoreWeights(snapshot())) {
            run.log(String.format(Locale.ROOT, "restored the weights of epoch %d (%s %s)", bestEpoch, monitor, best));
        }
    }

    private String snapshot() {
        return "best_" + monitor;
    }

    @Override
    public Map<String, String> state() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("best", Double.toString(best));
        m.put("best_epoch", Integer.toString(bestEpoch));
        m.put("wait", Integer.toString(wait));
        m.put("settings", toString());   // what a resumed run must repeat: they decide when it stops
        return m;
    }

    /**
     * Takes back {@link #state()}, after checking it fits the run's epochs and was saved by an EarlyStopping of these
     * settings (a state from before they were saved is not checked for them); nothing changes otherwise.
     */
    @Override
    public void restore(Map<String, String> state) {
        String settings = state.get("settings");
        if (settings != null && !settings.equals(toString())) {
            throw new IllegalArgumentException("settings: the run's early stopping was " + settings + ", this one is "
                    + this + ": a resumed run repeats them");
        }
        int e = (int) integer(state, "best_epoch", 0, beganAt);
        int w = (int) integer(state, "wait", 0, beganAt - e);
        double b;
        try {
            b = Double.parseDouble(String.valueOf(state.get("best")));
        } catch (NumberFormatException ex) {
            throw new IllegalArgumentException("best: expected a number, got '" + state.get("best") + "'");
        }
        if (e > 0 == Double.isInfinite(b)) {
            throw new IllegalArgumentException("best: expected " + (e > 0 ? "a finite value (best epoch " + e + ")"
                    : "an infinity (no best epoch)") + ", got " + b);
        }
        best = b;
        bestEpoch = e;
        wait = w;
    }

    private static long integer(Map<String, String> state, String key, long min, long max) {
        String v = state.get(key);
        long n;
        try {
            n = Long.parseLong(String.valueOf(v).trim());
        } catch (NumberFormatException ex) {
            throw new IllegalArgumentException(key + ": expected an integer, got '" + v + "'");
        }
        if (n < min || n > max) {
            throw new IllegalArgumentException(key + ": expected an integer in [" + min + ", " + max + "], got " + n);
        }
        return n;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "EarlyStopping(%s, patience %d, minDelta %s, %s%s)", monitor, patience, minDelta,
                mode, restoreBestWeights ? ", restoring the best weights" : "");
    }
}
