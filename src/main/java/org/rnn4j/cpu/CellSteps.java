package org.rnn4j.cpu;

import org.rnn4j.engine.StepArgs;

/**
 * Vectorised twins of {@link CpuCells}' LSTM steps, reset-after GRU forward and tanh-RNN forward (one sample, row
 * b), implemented by {@code VectorCells} on the Vector API and loaded only with {@code jdk.incubator.vector} (see
 * {@link CpuGemm}).
 */
interface CellSteps {

    /** Units {@code j0 <= j < j1} of sample b; each unit's result is the same whatever range it is part of. */
    void lstmForward(StepArgs a, int b, int j0, int j1);

    default void lstmForward(StepArgs a, int b) {
        lstmForward(a, b, 0, a.hidden);
    }

    void lstmBackward(StepArgs a, int b);

    /** The reset-after GRU forward, units {@code j0 <= j < j1} of sample b, as the LSTM's. */
    void gruForward(StepArgs a, int b, int j0, int j1);

    default void gruForward(StepArgs a, int b) {
        gruForward(a, b, 0, a.hidden);
    }

    /** Units {@code j0 <= j < j1} of sample b, as {@link #lstmForward(StepArgs, int, int, int)}. */
    void rnnForward(StepArgs a, int b, int j0, int j1);

    default void rnnForward(StepArgs a, int b) {
        rnnForward(a, b, 0, a.hidden);
    }

    /**
     * The inference loop's LSTM step over units {@code j0 <= j < j1} (one block) of every sample, with the recurrent
     * product {@code h_prev · W_hhᵀ} of sample s, gate g, unit j read from {@code z[s·4·nb + g·nb + j − j0]}
     * rather than from {@code a.hp} (z is overwritten), the input projection laid out as z, a tile of
     * {@code a.batch} rows of {@code 4·nb} floats from {@code a.xpOff} (the inference loop's xp, by block), and
     * {@code b_ih + b_hh} from {@code biasSum} {@code [4·H]}
     * ({@code null} without bias). The same bits as {@link #lstmForward(StepArgs, int, int, int)} on each sample.
     * Inference only: {@code a.hNext} is written (never null here), nothing is saved; {@code nb} and
     * {@code j1 − j0} are multiples of {@link #lanes()}, and z holds {@code a.batch} rows.
     */
    void lstmBlock(StepArgs a, float[] z, int nb, int j0, int j1, float[] biasSum);

    /** {@link #lstmBlock} for the reset-after GRU ({@code z} rows {@code 3·nb} apart; biasSum used for r and z). */
    void gruBlock(StepArgs a, float[] z, int nb, int j0, int j1, float[] biasSum);

    /** {@link #lstmBlock} for the tanh and relu RNN ({@code z} rows {@code nb} apart). */
    void rnnBlock(StepArgs a, float[] z, int nb, int j0, int j1, float[] biasSum);

    /** The floats of one vector: a block's width in units must be a multiple of it for the block steps. */
    int lanes();

    /** One call of each step on a small case, to run until C2 has compiled them (see {@link CpuGemm}). */
    Runnable warmUpStep();
}
