package org.rnn4j.model;

/** The four shapes of sequence task a {@link SequenceModel} learns; each fixes its head, loss and metric. */
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
    /** Next-token language model: at every step the next token of the same sequence. Cross-entropy; perplexity. */
    LANGUAGE_MODEL;

    /** Whether the head produces one output per valid step (all but {@link #CLASSIFICATION}). */
    public boolean perStep() {
        return this != CLASSIFICATION;
    }

    /** Whether the head produces class logits (all but {@link #REGRESSION}). */
    public boolean classes() {
        return this != REGRESSION;
    }
}
