package org.rnn4j;

/** Gradients with respect to the inputs of a forward pass; parameter gradients accumulate in the layer. */
public final class BackwardResult implements AutoCloseable {
    private final Tensor dX;
    private final Tensor dh0;
    private final Tensor dc0;

    BackwardResult(Tensor dX, Tensor dh0, Tensor dc0) {
        this.dX = dX;
        this.dh0 = dh0;
        this.dc0 = dc0;
    }

    /** Gradient of the input, in its layout; zero at padded steps. */
    public Tensor dX() {
        return dX;
    }

    /** Gradient of the initial hidden state {@code [layers·D, B, S]}. */
    public Tensor dh0() {
        return dh0;
    }

    /** Gradient of the initial LSTM cell state {@code [layers·D, B, H]}; {@code null} for GRU and RNN. */
    public Tensor dc0() {
        return dc0;
    }

    @Override
    public void close() {
        dX.close();
        dh0.close();
        if (dc0 != null) {
            dc0.close();
        }
    }
}
