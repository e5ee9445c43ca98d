package org.rnn4j.model;

import java.util.List;
import java.util.Map;

/**
 * What {@link SequenceModel#fit} measured: one entry per epoch run (a resumed run lists only its own),
 * the best epoch by the monitored loss, and whether early stopping ended the run.
 *
 * @param epochs one entry per epoch, in order
 * @param bestEpoch the epoch (from 1) with the lowest monitored loss among those run
 * @param stoppedEarly whether early stopping ended the run before the last epoch
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
    }

    /** The last epoch's entry. */
    public Epoch last() {
        return epochs.get(epochs.size() - 1);
    }
}
