package org.rnn4j;

import java.util.Map;

/** Anything with named trainable parameters and accumulated gradients (layers, heads), for optimizers and checkpoints. */
public interface HasParameters {
    /** Parameters by name, in a stable order; the tensors are live. */
    Map<String, Tensor> parameters();

    /** Gradients, same names and shapes as {@link #parameters()}. */
    Map<String, Tensor> gradients();

    /** Sets every gradient to zero. */
    default void zeroGrad() {
        for (Tensor g : gradients().values()) {
            g.fill(0f);
        }
    }
}
