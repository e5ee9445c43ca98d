package org.rnn4j;

import java.util.List;
import java.util.Map;

/** Anything with named trainable parameters and accumulated gradients (layers, heads), for optimizers and checkpoints. */
public interface HasParameters {
    /** Parameters by name, in a stable order; the tensors are live. */
    Map<String, Tensor> parameters();

    /** Gradients, same names and shapes as {@link #parameters()}. */
    Map<String, Tensor> gradients();

    /**
     * What a checkpoint records of this module's configuration (string metadata, unprefixed), so that a file
     * can be checked against a module ({@link #configMismatches}) or rebuild it; empty when there is nothing
     * beyond the parameters' names and shapes.
     */
    default Map<String, String> configMetadata() {
        return Map.of();
    }

    /**
     * Where checkpoint {@code metadata} (keys under {@code prefix}) describes a different computation than
     * this module, one line per field naming it ({@code reset_after (resetAfter): file false, layer true});
     * empty when they agree or the file does not say (PyTorch's files). {@code Checkpoint.load} refuses a
     * file with any.
     */
    default List<String> configMismatches(Map<String, String> metadata, String prefix) {
        return List.of();
    }

    /** Sets every gradient to zero. */
    default void zeroGrad() {
        for (Tensor g : gradients().values()) {
            g.fill(0f);
        }
    }
}
