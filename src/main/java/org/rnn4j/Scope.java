package org.rnn4j;

import java.util.ArrayList;
import java.util.List;

/**
 * Owns the tensors allocated during one call so that an exception leaks nothing: whatever has not
 * been handed out with {@link #keep} is closed when the scope closes.
 */
final class Scope implements AutoCloseable {
    private final Device device;
    private final List<Tensor> owned = new ArrayList<>();

    Scope(Device device) {
        this.device = device;
    }

    Tensor zeros(int... shape) {
        return track(Tensor.zeros(device, shape));
    }

    /** For a tensor written in full before it is read (see {@link org.rnn4j.engine.Engine#allocateUninitialized}). */
    Tensor uninitialized(int... shape) {
        return track(Tensor.uninitialized(device, shape));
    }

    Tensor track(Tensor t) {
        owned.add(t);
        return t;
    }

    /** Hands {@code t} to the caller: the scope no longer closes it. */
    Tensor keep(Tensor t) {
        owned.remove(t);
        return t;
    }

    @Override
    public void close() {
        RuntimeException first = null;
        for (int i = owned.size() - 1; i >= 0; i--) {
            try {
                owned.get(i).close();
            } catch (RuntimeException e) {
                if (first == null) {
                    first = e;
                }
            }
        }
        owned.clear();
        if (first != null) {
            throw first;
        }
    }
}
