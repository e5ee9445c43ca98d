package org.rnn4j.cpu;

import org.rnn4j.engine.StepArgs;

/**
 * Vectorised twins of {@link CpuCells}' LSTM steps and tanh-RNN forward (one sample, row b), implemented by
 * {@code VectorCells} on the Vector API and loaded only with {@code jdk.incubator.vector} (see {@link CpuGemm}).
 */
interface CellSteps {

    void lstmForward(StepArgs a, int b);

    void lstmBackward(StepArgs a, int b);

    void rnnForward(StepArgs a, int b);

    /** One call of each step on a small case, to run until C2 has compiled them (see {@link CpuGemm}). */
    Runnable warmUpStep();
}
