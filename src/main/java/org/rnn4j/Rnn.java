package org.rnn4j;

/** Vanilla (Elman) recurrent layers, PyTorch's {@code nn.RNN}, with tanh or relu. */
public final class Rnn {
    private Rnn() {
    }

    public static Builder builder(int inputSize, int hiddenSize) {
        return new Builder(inputSize, hiddenSize, CellType.RNN_TANH);
    }

    /** A relu RNN: {@code h' = relu(W_ih x + b_ih + W_hh h + b_hh)}. */
    public static Builder reluBuilder(int inputSize, int hiddenSize) {
        return new Builder(inputSize, hiddenSize, CellType.RNN_RELU);
    }

    public static final class Builder extends RecurrentConfig.Builder<Builder> {
        Builder(int inputSize, int hiddenSize, CellType cell) {
            super(cell, inputSize, hiddenSize);
        }

        @Override
        Builder self() {
            return this;
        }

        public RecurrentLayer build(Device device) {
            return new RecurrentLayer(config(), device);
        }
    }
}
