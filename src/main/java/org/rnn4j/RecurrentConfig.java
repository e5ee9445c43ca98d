package org.rnn4j;

/**
 * Everything that defines a recurrent layer's shape and semantics, validated once when built.
 * Obtain one through {@link Lstm#builder}, {@link Gru#builder} or {@link Rnn#builder}.
 */
public final class RecurrentConfig {
    private final CellType cell;
    private final int inputSize;
    private final int hiddenSize;
    private final int numLayers;
    private final boolean bidirectional;
    private final boolean bias;
    private final boolean batchFirst;
    private final float dropout;
    private final long seed;
    private final int projSize;
    private final boolean peepholes;
    private final float cellClip;
    private final boolean coupledInputForget;
    private final boolean unitForgetBias;
    private final boolean resetAfter;

    RecurrentConfig(Builder<?> b) {
        this.cell = b.cell;
        this.inputSize = b.inputSize;
        this.hiddenSize = b.hiddenSize;
        this.numLayers = b.numLayers;
        this.bidirectional = b.bidirectional;
        this.bias = b.bias;
        this.batchFirst = b.batchFirst;
        this.dropout = b.dropout;
        this.seed = b.seed;
        this.projSize = b.projSize;
        this.peepholes = b.peepholes;
        this.cellClip = b.cellClip;
        this.coupledInputForget = b.coupledInputForget;
        this.unitForgetBias = b.unitForgetBias;
        this.resetAfter = b.resetAfter;
        positive("inputSize", inputSize);
        positive("hiddenSize", hiddenSize);
        positive("numLayers", numLayers);
        if (!(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException("dropout: expected a probability in [0, 1), got " + dropout);
        }
        if (projSize < 0 || (projSize > 0 && projSize >= hiddenSize)) {
            throw new IllegalArgumentException("projSize: expected 0 (off) or in [1, hiddenSize=" + hiddenSize
                    + "), got " + projSize);
        }
        if (!(cellClip >= 0)) {
            throw new IllegalArgumentException("cellClip: expected 0 (off) or a positive bound, got " + cellClip);
        }
    }

    private static void positive(String name, int value) {
        if (value < 1) {
            throw new IllegalArgumentException(name + ": expected >= 1, got " + value);
        }
    }

    public CellType cell() {
        return cell;
    }

    public int inputSize() {
        return inputSize;
    }

    public int hiddenSize() {
        return hiddenSize;
    }

    public int numLayers() {
        return numLayers;
    }

    public boolean bidirectional() {
        return bidirectional;
    }

    /** 2 when bidirectional, else 1. */
    public int directions() {
        return bidirectional ? 2 : 1;
    }

    public boolean bias() {
        return bias;
    }

    public boolean batchFirst() {
        return batchFirst;
    }

    public float dropout() {
        return dropout;
    }

    public long seed() {
        return seed;
    }

    /** LSTM projection size P (PyTorch's {@code proj_size}), 0 when off. */
    public int projSize() {
        return projSize;
    }

    public boolean peepholes() {
        return peepholes;
    }

    /** LSTM cell-state clip bound, 0 when off. */
    public float cellClip() {
        return cellClip;
    }

    public boolean coupledInputForget() {
        return coupledInputForget;
    }

    public boolean unitForgetBias() {
        return unitForgetBias;
    }

    /** GRU: {@code n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))} when true (cuDNN, PyTorch), else the original form. */
    public boolean resetAfter() {
        return resetAfter;
    }

    /** Width of the recurrent state h: P for a projected LSTM, else H. */
    public int stateSize() {
        return projSize > 0 ? projSize : hiddenSize;
    }

    /** Feature width of the output sequence: directions × state size. */
    public int outputSize() {
        return directions() * stateSize();
    }

    /** Input width of layer k: the input size for layer 0, the previous layer's output otherwise. */
    public int layerInputSize(int layer) {
        return layer == 0 ? inputSize : outputSize();
    }

    /** The fields a user set, e.g. {@code LSTM(I=128, H=256, layers=2, bidirectional)}. */
    @Override
    public String toString() {
        StringBuilder s = new StringBuilder(cell + "(I=" + inputSize + ", H=" + hiddenSize);
        if (numLayers > 1) {
            s.append(", layers=").append(numLayers);
        }
        if (bidirectional) {
            s.append(", bidirectional");
        }
        if (!bias) {
            s.append(", no bias");
        }
        if (projSize > 0) {
            s.append(", proj=").append(projSize);
        }
        if (peepholes) {
            s.append(", peepholes");
        }
        if (cellClip > 0) {
            s.append(", cellClip=").append(cellClip);
        }
        if (coupledInputForget) {
            s.append(", coupled i/f");
        }
        if (cell == CellType.GRU && !resetAfter) {
            s.append(", reset-before");
        }
        if (dropout > 0) {
            s.append(", dropout=").append(dropout);
        }
        return s.append(')').toString();
    }

    /** Options shared by every cell; the cell-specific builders add their own. */
    public abstract static class Builder<B extends Builder<B>> {
        private final CellType cell;
        private final int inputSize;
        private final int hiddenSize;
        private int numLayers = 1;
        private boolean bidirectional;
        private boolean bias = true;
        private boolean batchFirst;
        private float dropout;
        private long seed;
        int projSize;
        boolean peepholes;
        float cellClip;
        boolean coupledInputForget;
        boolean unitForgetBias;
        boolean resetAfter = true;

        Builder(CellType cell, int inputSize, int hiddenSize) {
            this.cell = cell;
            this.inputSize = inputSize;
            this.hiddenSize = hiddenSize;
        }

        abstract B self();

        public B numLayers(int numLayers) {
            this.numLayers = numLayers;
            return self();
        }

        public B bidirectional(boolean bidirectional) {
            this.bidirectional = bidirectional;
            return self();
        }

        /** With {@code false}, no {@code bias_ih}/{@code bias_hh} parameters (PyTorch's {@code bias=False}). */
        public B bias(boolean bias) {
            this.bias = bias;
            return self();
        }

        /** Input and output as {@code [B, T, F]} instead of {@code [T, B, F]}; states stay {@code [L·D, B, H]}. */
        public B batchFirst(boolean batchFirst) {
            this.batchFirst = batchFirst;
            return self();
        }

        /** Dropout on every layer's output but the last, in training mode (PyTorch's {@code dropout}). */
        public B dropout(double dropout) {
            this.dropout = (float) dropout;
            return self();
        }

        /** Seeds the initial weights and the dropout masks. */
        public B seed(long seed) {
            this.seed = seed;
            return self();
        }

        public RecurrentConfig config() {
            return new RecurrentConfig(this);
        }
    }
}
