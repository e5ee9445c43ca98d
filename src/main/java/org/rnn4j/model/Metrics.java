package org.rnn4j.model;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Running metrics of one pass over data: the loss (a mean over positions, weighted by their count),
 * accuracy for classification and tagging, perplexity ({@code exp} of the mean cross-entropy) for a
 * language model, RMSE and MAE for regression.
 */
final class Metrics {
    private final Task task;
    private double lossSum;
    private long count;
    private long correct;
    private long rows;
    private double absSum;
    private double sqSum;
    private long elements;

    Metrics(Task task) {
        this.task = task;
    }

    /**
     * Adds a batch: its mean loss over {@code count} terms and, when not {@code null}, the head's output on
     * the host ({@code [rows, C]} logits, or {@code [N·O]} predictions) for accuracy or the errors.
     */
    void add(double loss, long count, float[] out, Batches.Batch b) {
        lossSum += loss * count;
        this.count += count;
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
            return;
        }
        int[] targets = task == Task.CLASSIFICATION ? b.labels() : b.stepTargets();
        int classes = out.length / targets.length;
        for (int r = 0; r < targets.length; r++) {
            if (SequenceModel.argmax(out, r * classes, classes) == targets[r]) {
                correct++;
            }
        }
        rows += targets.length;
    }

    /** Whether this task's metric needs the head's output on the host (a language model's perplexity does not). */
    static boolean needsOutput(Task task) {
        return task != Task.LANGUAGE_MODEL;
    }

    /** The name of the task's headline metric. */
    static String headline(Task task) {
        return switch (task) {
            case CLASSIFICATION, TAGGING -> "accuracy";
            case LANGUAGE_MODEL -> "perplexity";
            case REGRESSION, SEQUENCE_REGRESSION -> "rmse";
        };
    }

    double loss() {
        return count == 0 ? Double.NaN : lossSum / count;
    }

    Map<String, Double> values() {
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
        return m;
    }
}
