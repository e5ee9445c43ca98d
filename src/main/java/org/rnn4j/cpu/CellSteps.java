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

    /** One call of each step on a small case, to run until C2 has compiled them (see {@link CpuGemm}). */
    Runnable warmUpStep();
}
