package org.rnn4j.train;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.rnn4j.HasParameters;
import org.rnn4j.Tensor;

/** The (parameter, gradient) pairs of some modules, each tensor once even when modules share it. */
final class ParameterSet {
    record Pair(String name, Tensor param, Tensor grad) {
    }

    private ParameterSet() {
    }

    static List<Pair> collect(List<? extends HasParameters> modules) {
        if (modules == null) {
            throw new IllegalArgumentException("modules: expected a list of modules, got null");
        }
        List<Pair> pairs = new ArrayList<>();
        Map<Tensor, Boolean> seen = new IdentityHashMap<>();
        for (int i = 0; i < modules.size(); i++) {
            HasParameters m = modules.get(i);
            if (m == null) {
                throw new IllegalArgumentException("modules[" + i + "]: expected a module, got null");
            }
            Map<String, Tensor> grads = m.gradients();
            for (Map.Entry<String, Tensor> e : m.parameters().entrySet()) {
                Tensor p = e.getValue();
                Tensor g = grads.get(e.getKey());
                if (g == null) {
                    throw new IllegalArgumentException("modules[" + i + "]: expected a gradient for parameter '"
                            + e.getKey() + "', got none");
                }
                if (!Arrays.equals(p.shape(), g.shape()) || !p.device().equals(g.device())) {
                    throw new IllegalArgumentException("modules[" + i + "]: expected the gradient of '" + e.getKey()
                            + "' shaped like it (" + p.describe() + "), got " + g.describe());
                }
                TrainChecks.usable("modules[" + i + "]." + e.getKey(), p, null);
                if (seen.put(p, Boolean.TRUE) == null) {
                    pairs.add(new Pair(e.getKey(), p, g));
                }
            }
        }
        return Collections.unmodifiableList(pairs);
    }

    static Tensor[] zerosLike(List<Pair> pairs) {
        Tensor[] out = new Tensor[pairs.size()];
        try {
            for (int i = 0; i < out.length; i++) {
                out[i] = Tensor.zeros(pairs.get(i).param().device(), pairs.get(i).param().shape());
            }
            return out;
        } catch (RuntimeException e) {
            close(out);
            throw e;
        }
    }

    static void close(Tensor[] tensors) {
        if (tensors == null) {
            return;
        }
        for (Tensor t : tensors) {
            if (t != null) {
                t.close();
            }
        }
    }
}
