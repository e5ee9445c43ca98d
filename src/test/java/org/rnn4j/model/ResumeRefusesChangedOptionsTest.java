package org.rnn4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rnn4j.Device;
import org.rnn4j.Lstm;

/**
 * A resumed fit repeats the run's options or is refused naming the option (Trainer's one rule): besides the optimizer,
 * rates, clipping, batch size, schedule and seed, also bucketing, stateful and the class weights, each of which
 * changes the batches or the loss, so that a resume with another value would go on as a different run than the one
 * that never stopped, with no error. A refused resume leaves the model as it was.
 */
class ResumeRefusesChangedOptionsTest {

    private static SequenceModel classifier() {
        return SequenceModel.builder(Task.CLASSIFICATION).embedding(6, 8, 0)
                .recurrent(Lstm.builder(8, 12).seed(3)).outputs(2).seed(4).build(Device.cpu());
    }

    private static FitOptions run(int epochs) {
        return new FitOptions().epochs(epochs).batchSize(16).adam(1e-2).seed(7).classWeights(1, 2);
    }

    private static Map<String, float[]> weights(SequenceModel m) {
        Map<String, float[]> out = new LinkedHashMap<>();
        m.parameters().forEach((k, v) -> out.put(k, v.toHost()));
        return out;
    }

    private static void refused(SequenceModel m, SequenceDataset train, Path file, UnaryOperator<FitOptions> change,
                                String... words) {
        Map<String, float[]> before = weights(m);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> m.fit(train, null, change.apply(run(2)).resumeFrom(file)));
        for (String w : words) {
            assertTrue(e.getMessage().contains(w), e.getMessage());
        }
        weights(m).forEach((k, v) -> assertArrayEquals(before.get(k), v, k + " changed by a refused resume"));
        assertEquals(1, m.epochsTrained(), "a refused resume keeps the model's training state");
    }

    @Test
    void bucketingStatefulAndClassWeightsMustBeTheRuns(@TempDir Path dir) throws Exception {
        SequenceDataset train = TaskData.majority(32, 6, 1);
        try (SequenceModel m = classifier()) {
            m.fit(train, null, run(1).checkpoints(dir, 1));
            Path file = dir.resolve("epoch-0001.safetensors");
            refused(m, train, file, o -> o.bucketing(false), "bucketing", "true", "false");
            refused(m, train, file, o -> o.stateful(true), "stateful", "false", "true");
            refused(m, train, file, o -> o.classWeights(1, 3), "class weights", "[1.0, 2.0]", "[1.0, 3.0]");
            refused(m, train, file, o -> new FitOptions().epochs(2).batchSize(16).adam(1e-2).seed(7), "class weights",
                    "[1.0, 2.0]", "none");
            History rest = m.fit(train, null, run(2).resumeFrom(file));   // the run's options: resumed
            assertEquals(1, rest.epochs().size());
        }
    }

    /** A schedule parameter that differs only past the 6th significant digit is another schedule. */
    @Test
    void aScheduleDifferingInItsLastDigitsIsRefused(@TempDir Path dir) throws Exception {
        SequenceDataset train = TaskData.majority(32, 6, 1);
        try (SequenceModel m = classifier()) {
            m.fit(train, null, run(1).schedule(LrSchedule.step(1, 0.5)).checkpoints(dir, 1));
            Path file = dir.resolve("epoch-0001.safetensors");
            refused(m, train, file, o -> o.schedule(LrSchedule.step(1, 0.5000001)), "gamma 0.5)", "gamma 0.5000001");
            History rest = m.fit(train, null, run(2).schedule(LrSchedule.step(1, 0.5)).resumeFrom(file));
            assertEquals(1, rest.epochs().size());
        }
    }

    /** The schedule and the best epoch follow the validation loss when there is validation data, else the training loss. */
    @Test
    void theMonitoredLossMustBeTheRuns(@TempDir Path dir) throws Exception {
        SequenceDataset train = TaskData.majority(32, 6, 1);
        SequenceDataset val = TaskData.majority(8, 6, 2);
        try (SequenceModel m = classifier()) {
            m.fit(train, val, run(1).schedule(LrSchedule.reduceOnPlateau(0.5, 0, 1e-4)).checkpoints(dir, 1));
            Path file = dir.resolve("epoch-0001.safetensors");
            Map<String, float[]> before = weights(m);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.fit(train, null,
                    run(2).schedule(LrSchedule.reduceOnPlateau(0.5, 0, 1e-4)).resumeFrom(file)));
            assertTrue(e.getMessage().contains("val_loss") && e.getMessage().contains("validation"), e.getMessage());
            weights(m).forEach((k, v) -> assertArrayEquals(before.get(k), v, k + " changed by a refused resume"));
            History rest = m.fit(train, val, run(2).schedule(LrSchedule.reduceOnPlateau(0.5, 0, 1e-4)).resumeFrom(file));
            assertEquals(1, rest.epochs().size());
        }
    }

    /** Early stopping decides when the run ends: its settings and its saved state must go on as they were. */
    @Test
    void earlyStoppingMustBeTheRuns(@TempDir Path dir) throws Exception {
        SequenceDataset train = TaskData.majority(32, 6, 1);
        try (SequenceModel m = classifier()) {
            m.fit(train, null, run(1).earlyStopping(3, true).checkpoints(dir, 1));
            Path file = dir.resolve("epoch-0001.safetensors");
            refused(m, train, file, o -> o.earlyStopping(5, true), "patience 3", "patience 5");
            refused(m, train, file, o -> o.earlyStopping(3, false), "restoring the best weights");
            refused(m, train, file, o -> o, "EarlyStopping", "no callback");
            History rest = m.fit(train, null, run(2).earlyStopping(3, true).resumeFrom(file));
            assertEquals(1, rest.epochs().size());
        }
    }

    /** A callback's own state key may end in .class: it is no callback's class, and resumes as any key. */
    @Test
    void aStateKeyEndingInDotClassResumes(@TempDir Path dir) throws Exception {
        SequenceDataset train = TaskData.majority(32, 6, 1);
        Map<String, String> restored = new LinkedHashMap<>();
        Callback keeper = new Callback() {
            @Override
            public Map<String, String> state() {
                return Map.of("target.class", "birds");
            }

            @Override
            public void restore(Map<String, String> state) {
                restored.putAll(state);
            }
        };
        try (SequenceModel m = classifier()) {
            m.fit(train, null, run(1).callbacks(keeper).checkpoints(dir, 1));
            m.fit(train, null, run(2).callbacks(keeper).resumeFrom(dir.resolve("epoch-0001.safetensors")));
            assertEquals(Map.of("target.class", "birds"), restored);
        }
    }

    /** The key {@code class} itself would overwrite the callback's class in the checkpoint: refused by name. */
    @Test
    void aStateKeyNamedClassIsRefused(@TempDir Path dir) throws Exception {
        SequenceDataset train = TaskData.majority(32, 6, 1);
        Callback keeper = new Callback() {
            @Override
            public Map<String, String> state() {
                return Map.of("class", "birds");
            }
        };
        try (SequenceModel m = classifier()) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> m.fit(train, null, run(1).callbacks(keeper).checkpoints(dir, 1)));
            assertTrue(e.getMessage().contains("callback 0") && e.getMessage().contains("'class'"), e.getMessage());
        }
    }
}
