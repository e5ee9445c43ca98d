package org.rnn4j;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;
import org.rnn4j.train.Adam;
import org.rnn4j.train.Checkpoint;
import org.rnn4j.train.Clipping;
import org.rnn4j.train.LastStep;
import org.rnn4j.train.Linear;
import org.rnn4j.train.Losses;
import org.rnn4j.train.ModuleGroup;
import org.rnn4j.train.SafeTensors;
import org.rnn4j.train.TruncatedBptt;

/** {@code null} where an object is required is an IllegalArgumentException naming the argument, never an NPE. */
class NullArgumentsTest {
    @TempDir
    Path dir;

    @Test
    void everyPublicEntryPointNamesANullArgument() throws Exception {
        Device cpu = Device.cpu();
        Path p = dir.resolve("m.safetensors");
        try (RecurrentLayer layer = Lstm.builder(2, 3).build(cpu); Tensor x = Tensor.zeros(cpu, 2, 1, 2);
             Linear head = new Linear(3, 2, true, 1, cpu); TruncatedBptt tbptt = new TruncatedBptt(layer, 2)) {
            Map<String, Executable> calls = new LinkedHashMap<>();
            calls.put("device", () -> Tensor.zeros(null, 2));
            calls.put("data", () -> Tensor.of(cpu, null, 2));
            calls.put("data ", () -> Tensor.ofInts(cpu, null, 2));
            calls.put("data  ", () -> x.copyFrom(null));
            calls.put("target", () -> x.copyTo(null));
            calls.put("spec", () -> Device.parse(null));
            calls.put("device ", () -> Lstm.builder(2, 3).build(null));
            calls.put("cfg", () -> new RecurrentLayer(null, cpu));
            calls.put("x", () -> layer.forward(null));
            calls.put("name", () -> layer.parameter(null));
            calls.put("values", () -> layer.setParameter("weight_ih_l0", null));
            calls.put("device  ", () -> new Linear(3, 2, true, 1, null));
            calls.put("x ", () -> head.forward(null));
            calls.put("file", () -> Checkpoint.save(null, layer));
            calls.put("model", () -> Checkpoint.save(p, (HasParameters) null));
            calls.put("target ", () -> Checkpoint.load(p, null));
            calls.put("tensors", () -> SafeTensors.write(p, null, Map.of()));
            calls.put("pred", () -> Losses.mse(null, x));
            calls.put("logits", () -> Losses.crossEntropyPerStep(null, new int[2], null, false));
            calls.put("y", () -> LastStep.gather(null, null, false));
            calls.put("modules", () -> new Adam(null, 0.1));
            calls.put("modules ", () -> Clipping.globalNorm(null));
            calls.put("modules  ", () -> ModuleGroup.of(null));
            calls.put("layer", () -> new TruncatedBptt(null, 2));
            calls.put("x  ", () -> tbptt.forward(null));
            calls.put("metadata", () -> RecurrentConfig.fromMetadata(null, ""));
            calls.put("modules[1]", () -> new Adam(java.util.Arrays.asList(layer, null), 0.1));
            for (Map.Entry<String, Executable> c : calls.entrySet()) {
                String name = c.getKey().strip();
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, c.getValue(), name);
                assertTrue(e.getMessage().startsWith(name), name + ": " + e.getMessage());
            }
        }
    }
}
