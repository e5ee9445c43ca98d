package org.rnn4j.model;

import java.util.List;
import java.util.Map;

/**
 * What {@link SequenceModel#fit} measured: one entry per epoch this call ran (a continued or resumed run
 * lists only its own), the best epoch by the monitored loss, and whether a stop ended the run.
 *
 * @param epochs one entry per epoch, in order
 * @param bestEpoch the epoch (from 1) with the lowest monitored loss (the validation loss, else the training
 *        loss) in the model's training so far
 * @param stoppedEarly whether a callback stopped the run (early stopping, {@link TrainingRun#stop()})
 */
public record History(List<Epoch> epochs, int bestEpoch, boolean stoppedEarly) {

    /**
     * One epoch.
     *
     * @param epoch the epoch number, from 1
     * @param learningRate the rate of its last step
     * @param train training metrics (loss, accuracy / perplexity / rmse, mae), averaged over the epoch
     * @param validation the same on the validation data, or empty without it
     * @param seconds wall time of the epoch
     * @param sequencesPerSecond training throughput
     */
    public record Epoch(int epoch, double learningRate, Map<String, Double> train, Map<String, Double> validation,
                        double seconds, double sequencesPerSecond) {

        /**
         * A metric by its Keras name: {@code loss}, {@code accuracy}, a custom metric's name for the training
         * value, the same with {@code val_} for the validation value.
         *
         * @throws IllegalArgumentException for a name this epoch has no value of (the message lists those it has)
         */
        public double metric(String name) {
            Double v = find(name);
            if (v == null) {
                java.util.List<String> names = new java.util.ArrayList<>(train.keySet());
                validation.keySet().forEach(k -> names.add("val_" + k));
                throw new IllegalArgumentException("metric: expected one of " + names + ", got '" + name + "'");
            }
            return v;
        }

        /** {@link #metric}, or {@code null} when this epoch has no such value. */
        public Double find(String name) {
            if (name == null) {
                return null;
            }
            return name.startsWith("val_") ? validation.get(name.substring(4)) : train.get(name);
        }
    }

    /** The last epoch's entry. */
    public Epoch last() {
        return epochs.get(epochs.size() - 1);
    }
}
