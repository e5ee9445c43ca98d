package org.rnn4j;

/** The recurrent cells, with PyTorch's gate counts (rows of a weight block per hidden unit). */
public enum CellType {
    /** {@code h' = tanh(W_ih x + b_ih + W_hh h + b_hh)} */
    RNN_TANH(1),
    /** {@code h' = relu(W_ih x + b_ih + W_hh h + b_hh)} */
    RNN_RELU(1),
    /** Gates i, f, g, o. */
    LSTM(4),
    /** Gates r, z, n. */
    GRU(3);

    private final int gates;

    CellType(int gates) {
        this.gates = gates;
    }

    /** Number of gate blocks G: weights are {@code [G·H, ·]}. */
    public int gates() {
        return gates;
    }
}
