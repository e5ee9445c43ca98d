package org.rnn4j;

/** Long short-term memory layers, PyTorch's {@code nn.LSTM} with cuDNN's gate order i, f, g, o. */
public final class Lstm {
    private Lstm() {
    }

    public static Builder builder(int inputSize, int hiddenSize) {
        return new Builder(inputSize, hiddenSize);
    }

    public static final class Builder extends RecurrentConfig.Builder<Builder> {
        Builder(int inputSize, int hiddenSize) {
            super(CellType.LSTM, inputSize, hiddenSize);
        }

        @Override
        Builder self() {
            return this;
        }

        /** LSTMP: {@code h = W_hr (o ⊙ tanh(c))} of size P &lt; H (PyTorch's {@code proj_size}); 0 turns it off. */
        public Builder projSize(int projSize) {
            this.projSize = projSize;
            return this;
        }

        /** Peephole connections: i and f see {@code c_{t-1}}, o sees {@code c_t} ({@code weight_peephole_l{k}}, [3H]: i, f, o). */
        public Builder peepholes(boolean peepholes) {
            this.peepholes = peepholes;
            return this;
        }

        /** Clamps the cell state to {@code [-clip, clip]} (cuDNN's cell clip); 0 turns it off. */
        public Builder cellClip(double clip) {
            this.cellClip = (float) clip;
            return this;
        }

        /** Couples the forget gate to the input gate, {@code f = 1 - i} (ONNX's {@code input_forget}). */
        public Builder coupledInputForget(boolean coupled) {
            this.coupledInputForget = coupled;
            return this;
        }

        /** Initialises the forget-gate bias to 1 (Keras' {@code unit_forget_bias}): {@code bias_ih} f-block 1, {@code bias_hh} f-block 0. */
        public Builder unitForgetBias(boolean unitForgetBias) {
            this.unitForgetBias = unitForgetBias;
            return this;
        }

        public RecurrentLayer build(Device device) {
            return new RecurrentLayer(config(), device);
        }
    }
}
