package org.rnn4j.spark;

import java.io.Serializable;
import java.util.List;
import org.rnn4j.HasParameters;

/**
 * One executor's copy of the model: the modules whose parameters are trained and the forward, loss and
 * backward of a list of examples. {@link SparkTrainer} keeps replicas between steps (one per concurrent
 * task slot and device in each executor JVM) and overwrites their parameters from each step's broadcast,
 * so a replica's own initial weights do not matter. Not used by two tasks at once.
 *
 * @param <E> the example type (one element of the training RDD)
 */
public interface Replica<E> extends AutoCloseable {

    /** The trainable parameters and their gradients, in a fixed order (the same in every replica). */
    HasParameters module();

    /**
     * Forward, loss and backward over {@code examples} (at least one), adding to {@link #module()}'s
     * gradients the gradient of the <em>mean</em> loss over the {@link Loss#count() count} terms it
     * averages (sequences, valid steps or elements, as the loss defines them). The gradients are zero on entry.
     *
     * @param step the global optimizer step (0-based), e.g. to seed dropout
     */
    Loss accumulate(List<E> examples, long step);

    /** Releases the replica's parameters and workspaces. */
    @Override
    void close();

    /** A mean loss and the number of terms it averages (the weight of this part of the global batch). */
    record Loss(double mean, long count) implements Serializable {
        public Loss {
            if (count < 0) {
                throw new IllegalArgumentException("count: expected >= 0, got " + count);
            }
        }
    }

    /**
     * Builds replicas on the executors; shipped to them by Spark, so it must be serializable and must not
     * capture the driver's model.
     *
     * @param <E> the example type
     */
    @FunctionalInterface
    interface Factory<E> extends Serializable {
        /** A new replica on {@code device}, with the same parameter names and shapes as every other. */
        Replica<E> create(org.rnn4j.Device device);
    }
}
