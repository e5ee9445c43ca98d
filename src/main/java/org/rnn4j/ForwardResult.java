package org.rnn4j;

import java.util.List;

/**
 * What {@link RecurrentLayer#forward} returns: the output sequence, the final states and, in training
 * mode, the activations that {@link RecurrentLayer#backward} needs. Closing it releases all of them.
 */
public final class ForwardResult implements AutoCloseable {
    private final Tensor output;
    private final Tensor hN;
    private final Tensor cN;
    final RecurrentLayer layer;
    /** Saved for backward (training mode), {@code null} in inference or after {@link #releaseSaved()}. */
    Saved saved;
    /** Set by {@link #retainSaved()}: backward keeps {@link #saved} for another pass. */
    boolean retained;
    /** Set when a backward released {@link #saved}, so that a second one says why it cannot run. */
    boolean backwardDone;
    /** Set while a backward on this result may have added parameter gradients (its scratch is allocated). */
    boolean gradientsTouched;
    /** What made a backward fail after it had begun adding gradients (the result is then spent), or null. */
    String failedPartWay;

    ForwardResult(RecurrentLayer layer, Tensor output, Tensor hN, Tensor cN, Saved saved) {
        this.layer = layer;
        this.output = output;
        this.hN = hN;
        this.cN = cN;
        this.saved = saved;
    }

    /** The output sequence, {@code [T, B, D·S]} (or {@code [B, T, D·S]} batch-first); zeros at padded steps. */
    public Tensor output() {
        return output;
    }

    /** Final hidden states {@code [layers·D, B, S]}, ordered l0 fwd, l0 bwd, l1 fwd, ... */
    public Tensor hN() {
        return hN;
    }

    /** Final LSTM cell states {@code [layers·D, B, H]}; {@code null} for GRU and RNN. */
    public Tensor cN() {
        return cN;
    }

    /**
     * Whether {@link RecurrentLayer#backward} can still run on this result: in training mode, until the first
     * backward (or for ever after {@link #retainSaved()}), {@link #releaseSaved()} or {@link #close()}.
     */
    public boolean canBackward() {
        return saved != null;
    }

    /**
     * Keeps the saved activations after {@link RecurrentLayer#backward}, so that backward may run on this
     * result again (PyTorch's {@code retain_graph=True}); each run adds its gradients again. Without it the
     * first backward releases them and a second one is refused, since it would silently double the
     * gradients. Release them with {@link #releaseSaved()} or {@link #close()}.
     *
     * @return this result
     */
    public ForwardResult retainSaved() {
        retained = true;
        return this;
    }

    /** Frees the activations kept for backward, keeping the outputs. */
    public void releaseSaved() {
        if (saved != null) {
            saved.close();
            saved = null;
        }
    }

    @Override
    public void close() {
        releaseSaved();
        output.close();
        hN.close();
        if (cN != null) {
            cN.close();
        }
    }

    /** The activations of one forward pass kept for BPTT. */
    static final class Saved implements AutoCloseable {
        final int steps;
        final int batch;
        final Tensor lengthsOnDevice;
        /** Its {@link Tensor#version()} when forward ran: backward refuses lengths set again since. */
        final long lengthsVersion;
        final long dropoutSeed;
        /** The seed in device memory the forward's dropout read (RecurrentLayer.stageDropoutSeed), or null. */
        final Tensor dropoutSeedOnDevice;
        final long dropoutSeedVersion;
        /** [layer][direction] */
        final DirectionState[][] states;
        /** Every tensor above, closed together. */
        final List<Tensor> owned;
        /** {@link Tensor#version()} of each parameter, in the layer's order, when forward ran. */
        final long[] parameterVersions;

        Saved(int steps, int batch, Tensor lengthsOnDevice, long lengthsVersion, long dropoutSeed,
              Tensor dropoutSeedOnDevice, long dropoutSeedVersion,
              DirectionState[][] states, List<Tensor> owned, long[] parameterVersions) {
            this.parameterVersions = parameterVersions;
            this.steps = steps;
            this.batch = batch;
            this.lengthsOnDevice = lengthsOnDevice;
            this.lengthsVersion = lengthsVersion;
            this.dropoutSeed = dropoutSeed;
            this.dropoutSeedOnDevice = dropoutSeedOnDevice;
            this.dropoutSeedVersion = dropoutSeedVersion;
            this.states = states;
            this.owned = owned;
        }

        @Override
        public void close() {
            for (Tensor t : owned) {
                t.close();
            }
        }
    }

    /**
     * One layer-direction's saved activations, all time-major and in the direction's own step order
     * (a reverse direction sees its input reversed per sample).
     */
    record DirectionState(
            Tensor input,   // [T, B, I_k] what W_ih multiplied
            Tensor hs,      // [T+1, B, S] states, hs[0] = h0
            Tensor cs,      // [T+1, B, H] LSTM cell states, or null
            Tensor saved,   // [T, B, 4H] gate activations (LSTM, GRU), or null
            Tensor m) {     // [T, B, H] o ⊙ tanh(c) of a projected LSTM, or null
    }
}
