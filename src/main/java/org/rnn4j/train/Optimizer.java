package org.rnn4j.train;

/**
 * Updates parameters in place from their accumulated gradients, on their device. Gradients accumulate
 * across backward passes until {@link #zeroGrad()}: micro-batches of one large batch are accumulated
 * by simply not zeroing between them (scale each micro-batch's loss so the sum is the wanted mean).
 */
public interface Optimizer extends AutoCloseable {
    /** One update of every parameter from its current gradient. */
    void step();

    /** Sets every gradient of every parameter to zero. */
    void zeroGrad();

    double learningRate();

    /** Changes the learning rate for the following steps (a schedule calls this between steps). */
    void setLearningRate(double learningRate);

    /** How many steps have been taken. */
    long steps();

    /** Releases the optimizer's state buffers (not the parameters). */
    @Override
    void close();
}
