package org.rnn4j.model;

/** The shapes of sequence task a {@link SequenceModel} learns; each fixes its head, loss and metric. */
public enum Task {
    /**
     * Many-to-one classification: one class per sequence, from the last layer's final state (the last
     * valid step; for a bidirectional layer both directions' {@code h_n}). Softmax cross-entropy; accuracy.
     */
    CLASSIFICATION,
    /** Per-step classification (tagging): one class per valid step. Softmax cross-entropy; accuracy. */
    TAGGING,
    /** Per-step regression (forecasting): a vector of real values per valid step. Mean squared error; RMSE and MAE. */
    REGRESSION,
    /**
     * Many-to-one regression: one vector of real values per sequence, from {@code h_n} as
     * {@link #CLASSIFICATION}. Mean squared error; RMSE and MAE.
     */
    SEQUENCE_REGRESSION,
    /** Next-token language model: at every step the next token of the same sequence. Cross-entropy; perplexity. */
    LANGUAGE_MODEL;

    /** Whether the head produces one output per valid step (else one per sequence, from {@code h_n}). */
    public boolean perStep() {
        return this != CLASSIFICATION && this != SEQUENCE_REGRESSION;
    }

    /** Whether the head produces class logits (else real values). */
    public boolean classes() {
        return this != REGRESSION && this != SEQUENCE_REGRESSION;
    }
}
