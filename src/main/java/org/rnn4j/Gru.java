package org.rnn4j;

/** Gated recurrent units, PyTorch's {@code nn.GRU} with gate order r, z, n. */
public final class Gru {
    private Gru() {
    }

    public static Builder builder(int inputSize, int hiddenSize) {
        return new Builder(inputSize, hiddenSize);
    }

    public static final class Builder extends RecurrentConfig.Builder<Builder> {
        Builder(int inputSize, int hiddenSize) {
            super(CellType.GRU, inputSize, hiddenSize);
        }

        @Override
        Builder self() {
            return this;
        }

        /**
         * {@code true} (default): {@code n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))} as cuDNN, PyTorch and
         * Keras {@code reset_after=True}; {@code false}: the original {@code n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)}.
         */
        public Builder resetAfter(boolean resetAfter) {
            this.resetAfter = resetAfter;
            return this;
        }

        public RecurrentLayer build(Device device) {
            return new RecurrentLayer(config(), device);
        }
    }
}
