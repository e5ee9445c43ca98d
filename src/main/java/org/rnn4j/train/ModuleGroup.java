package org.rnn4j.train;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rnn4j.HasParameters;
import org.rnn4j.Tensor;

/**
 * Several modules as one, their parameters named {@code prefix.name} (e.g. {@code lstm.weight_ih_l0},
 * {@code head.weight}) as a PyTorch {@code nn.Module} with submodules names them: one object for an
 * optimizer, clipping and a checkpoint. The tensors are the modules' own (live); the group owns nothing.
 */
public final class ModuleGroup implements HasParameters {
    private final Map<String, HasParameters> modules;

    private ModuleGroup(Map<String, HasParameters> modules) {
        this.modules = modules;
    }

    /** A group of the given modules, in this order; prefixes must be non-empty and contain no dot. */
    public static ModuleGroup of(Map<String, ? extends HasParameters> modules) {
        if (modules == null || modules.isEmpty()) {
            throw new IllegalArgumentException("modules: expected at least one named module, got "
                    + (modules == null ? "null" : "none"));
        }
        Map<String, HasParameters> copy = new LinkedHashMap<>();
        for (Map.Entry<String, ? extends HasParameters> e : modules.entrySet()) {
            String prefix = e.getKey();
            if (prefix == null || prefix.isEmpty() || prefix.contains(".")) {
                throw new IllegalArgumentException("modules: expected a non-empty prefix without '.', got '" + prefix + "'");
            }
            if (e.getValue() == null) {
                throw new IllegalArgumentException("modules['" + prefix + "']: expected a module, got null");
            }
            copy.put(prefix, e.getValue());
        }
        return new ModuleGroup(Collections.unmodifiableMap(copy));
    }

    /** Two modules, e.g. {@code ModuleGroup.of("lstm", lstm, "head", head)}. */
    public static ModuleGroup of(String prefix1, HasParameters module1, String prefix2, HasParameters module2) {
        Map<String, HasParameters> m = new LinkedHashMap<>();
        m.put(prefix1, module1);
        if (m.containsKey(prefix2)) {
            throw new IllegalArgumentException("prefix2: expected a prefix other than '" + prefix1 + "', got the same");
        }
        m.put(prefix2, module2);
        return of(m);
    }

    /** The modules by prefix, in order. */
    public Map<String, HasParameters> modules() {
        return modules;
    }

    /** Each module's configuration under its prefix ({@code lstm.cell}, {@code head.in_features}). */
    @Override
    public Map<String, String> configMetadata() {
        Map<String, String> out = new LinkedHashMap<>();
        modules.forEach((p, m) -> m.configMetadata().forEach((k, v) -> out.put(p + "." + k, v)));
        return out;
    }

    /** Each module's own {@code zeroGrad} (so each module's thread guard applies). */
    @Override
    public void zeroGrad() {
        modules.values().forEach(HasParameters::zeroGrad);
    }

    /** Each module's mismatches under its prefix. */
    @Override
    public List<String> configMismatches(Map<String, String> metadata, String prefix) {
        List<String> out = new ArrayList<>();
        modules.forEach((p, m) -> out.addAll(m.configMismatches(metadata, prefix + p + ".")));
        return out;
    }

    @Override
    public Map<String, Tensor> parameters() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        modules.forEach((prefix, m) -> m.parameters().forEach((name, t) -> out.put(prefix + "." + name, t)));
        return Collections.unmodifiableMap(out);
    }

    @Override
    public Map<String, Tensor> gradients() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        modules.forEach((prefix, m) -> m.gradients().forEach((name, t) -> out.put(prefix + "." + name, t)));
        return Collections.unmodifiableMap(out);
    }

    @Override
    public String toString() {
        return "ModuleGroup" + modules.keySet();
    }
}
