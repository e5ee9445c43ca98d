package org.rnn4j.model;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Running metrics of one pass over data: the loss (a mean over positions, weighted by their count or, with
 * sample or class weights, by their weight), accuracy for classification and tagging, perplexity
 * ({@code exp} of the mean cross-entropy) for a language model, RMSE and MAE for regression, and the
 * caller's {@link Metric}s. Targets that are ignored (negative after the model's mapping) count in none.
 */
final class Metrics implements Trainable.RunningMetrics<Batches.Batch> {
    /** The names the built-in metrics take (a custom metric may not reuse one). */
    static final Set<String> BUILT_IN = Set.of("loss", "accuracy", "perplexity", "rmse", "mae");

    private final Task task;
    private final List<Metric> custom;
    private double lossSum;
    private double weight;
    private long correct;
    private long rows;
    private double absSum;
    private double sqSum;
    private long elements;

    Metrics(Task task, List<Metric> custom) {
        this.task = task;
        this.custom = custom;
        custom.forEach(Metric::reset);
    }

    /** Refuses metric names that are missing, taken by a built-in, repeated, or start with {@code val_}. */
    static List<Metric> checked(List<Metric> metrics) {
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (Metric m : metrics) {
            if (m == null) {
                throw new IllegalArgumentException("metrics: expected metrics, got a null entry");
            }
            String n = m.name();
            if (n == null || n.isEmpty() || BUILT_IN.contains(n) || n.startsWith("val_") || !seen.add(n)) {
                throw new IllegalArgumentException("metrics: expected a name that is not empty, not one of " + BUILT_IN
                        + ", not starting with val_ and not repeated, got '" + n + "'");
            }
        }
        return List.copyOf(metrics);
    }

    /**
     * Adds a batch: its mean loss over terms of total {@code weight} and, when not {@code null}, the head's
     * output on the host ({@code [rows, C]} logits, or {@code [N·O]} predictions).
     */
    @Override
    public void add(double loss, double weight, float[] out, Batches.Batch b) {
        lossSum += loss * weight;
        this.weight += weight;
        if (out == null) {
            return;
        }
        if (!task.classes()) {
            for (int i = 0; i < out.length; i++) {
                double d = out[i] - b.values()[i];
                absSum += Math.abs(d);
                sqSum += d * d;
            }
            elements += out.length;
            if (!custom.isEmpty()) {
                update(new Metric.Rows(out.length / width(b), width(b), out, null, b.values(), sequences(b), steps(b)));
            }
            return;
        }
        int[] targets = task == Task.CLASSIFICATION ? b.labels() : b.stepTargets();
        int classes = out.length / targets.length;
        int counted = 0;
        for (int r = 0; r < targets.length; r++) {
            if (targets[r] >= 0) {
                counted++;
                if (SequenceModel.argmax(out, r * classes, classes) == targets[r]) {
                    correct++;
                }
            }
        }
        rows += counted;
        if (!custom.isEmpty()) {
            int[] seq = sequences(b);
            int[] step = steps(b);
            float[] o = new float[counted * classes];
            int[] c = new int[counted];
            int[] s = new int[counted];
            int[] t = new int[counted];
            for (int r = 0, k = 0; r < targets.length; r++) {
                if (targets[r] >= 0) {
                    System.arraycopy(out, r * classes, o, k * classes, classes);
                    c[k] = targets[r];
                    s[k] = seq[r];
                    t[k] = step[r];
                    k++;
                }
            }
            update(new Metric.Rows(counted, classes, o, c, null, s, t));
        }
    }

    private void update(Metric.Rows rows) {
        for (Metric m : custom) {
            m.update(rows);
        }
    }

    private int width(Batches.Batch b) {
        return b.values().length / (task.perStep() ? b.positions().length : b.batch());
    }

    /** The dataset index of the sequence of each row. */
    private int[] sequences(Batches.Batch b) {
        if (!task.perStep()) {
            return b.indices().clone();
        }
        int[] s = new int[b.positions().length];
        for (int r = 0; r < s.length; r++) {
            s[r] = b.indices()[b.positions()[r] % b.batch()];
        }
        return s;
    }

    /** The step of each row in its sequence (0 for a per-sequence row). */
    private int[] steps(Batches.Batch b) {
        if (!task.perStep()) {
            return new int[b.batch()];
        }
        int[] t = new int[b.positions().length];
        for (int r = 0; r < t.length; r++) {
            t[r] = b.positions()[r] / b.batch();
        }
        return t;
    }

    /** Whether the metrics need the head's output on the host (a language model's perplexity alone does not). */
    static boolean needsOutput(Task task, List<Metric> custom) {
        return task != Task.LANGUAGE_MODEL || !custom.isEmpty();
    }

    /** The names {@link #values()} has for {@code task} with {@code custom} metrics, in its order. */
    static List<String> names(Task task, List<Metric> custom) {
        List<String> names = new java.util.ArrayList<>(List.of("loss"));
        switch (task) {
            case CLASSIFICATION, TAGGING -> names.add("accuracy");
            case LANGUAGE_MODEL -> names.add("perplexity");
            case REGRESSION, SEQUENCE_REGRESSION -> names.addAll(List.of("rmse", "mae"));
        }
        custom.forEach(m -> names.add(m.name()));
        return names;
    }

    /** Whether larger values of the metric {@code name} (without {@code val_}) are better. */
    static boolean higherIsBetter(String name, List<Metric> custom) {
        if (name.equals("accuracy")) {
            return true;
        }
        for (Metric m : custom) {
            if (m.name().equals(name)) {
                return m.higherIsBetter();
            }
        }
        return false;
    }

    double loss() {
        return weight == 0 ? Double.NaN : lossSum / weight;
    }

    @Override
    public Map<String, Double> values() {
        Map<String, Double> m = new LinkedHashMap<>();
        m.put("loss", loss());
        switch (task) {
            case CLASSIFICATION, TAGGING -> m.put("accuracy", rows == 0 ? Double.NaN : (double) correct / rows);
            case LANGUAGE_MODEL -> m.put("perplexity", Math.exp(loss()));
            case REGRESSION, SEQUENCE_REGRESSION -> {
                m.put("rmse", elements == 0 ? Double.NaN : Math.sqrt(sqSum / elements));
                m.put("mae", elements == 0 ? Double.NaN : absSum / elements);
            }
        }
        for (Metric c : custom) {
            m.put(c.name(), c.value());
        }
        return m;
    }
}
