package org.rnn4j.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rnn4j.Device;
import org.rnn4j.Gru;
import org.rnn4j.Lstm;
import org.rnn4j.RecurrentConfig;
import org.rnn4j.Rnn;
import org.rnn4j.Tensor;
import org.rnn4j.train.Checkpoint;
import org.rnn4j.train.SafeTensors;

/**
 * The model layer's ways of answering wrongly without a word (round two): checkpoints loaded into a
 * differently configured model, edited headers and training states, resumes with other options.
 */
class ModelRefusalsTest {
    private final Device cpu = Device.cpu();

    private SequenceModel classifier() {
        return SequenceModel.builder(Task.CLASSIFICATION).embedding(6, 8, 0)
                .recurrent(Lstm.builder(8, 12).seed(3)).outputs(2).seed(4).build(cpu);
    }

    static Map<String, float[]> weights(SequenceModel m) {
        Map<String, float[]> out = new LinkedHashMap<>();
        m.parameters().forEach((k, v) -> out.put(k, v.toHost()));
        return out;
    }

    static void assertSameWeights(Map<String, float[]> expected, SequenceModel m, String what) {
        m.parameters().forEach((k, v) -> assertArrayEquals(expected.get(k), v.toHost(), what + ": " + k + " changed"));
    }

    // ------------------------------------------------------------------ configuration of a model's file

    @Test
    void aModelFileDoesNotLoadIntoADifferentlyConfiguredModel(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("m.safetensors");
        try (SequenceModel before = SequenceModel.builder(Task.CLASSIFICATION).embedding(5, 4)
                .recurrent(Gru.builder(4, 4).resetAfter(false)).outputs(2).build(cpu);
             SequenceModel after = SequenceModel.builder(Task.CLASSIFICATION).embedding(5, 4)
                     .recurrent(Gru.builder(4, 4)).outputs(2).build(cpu)) {
            before.save(file);
            Map<String, float[]> w = weights(after);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Checkpoint.load(file, after));
            assertTrue(e.getMessage().contains("reset_after"), e.getMessage());
            assertSameWeights(w, after, "refused load");
        }
        assertRefused(file, Task.CLASSIFICATION, Rnn.builder(3, 4), Task.CLASSIFICATION, Rnn.reluBuilder(3, 4), "cell");
        assertRefused(file, Task.CLASSIFICATION, Lstm.builder(3, 4).cellClip(3), Task.CLASSIFICATION,
                Lstm.builder(3, 4).cellClip(0.5), "cell_clip");
        assertRefused(file, Task.CLASSIFICATION, Lstm.builder(3, 4), Task.SEQUENCE_REGRESSION, Lstm.builder(3, 4), "task");
        try (SequenceModel pad0 = SequenceModel.builder(Task.CLASSIFICATION).embedding(5, 4, 0)
                .recurrent(Lstm.builder(4, 4)).outputs(2).build(cpu);
             SequenceModel pad1 = SequenceModel.builder(Task.CLASSIFICATION).embedding(5, 4, 1)
                     .recurrent(Lstm.builder(4, 4)).outputs(2).build(cpu)) {
            pad0.save(file);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Checkpoint.load(file, pad1));
            assertTrue(e.getMessage().contains("padding"), e.getMessage());
            // the same configuration loads, and exactly
            try (SequenceModel again = SequenceModel.builder(Task.CLASSIFICATION).embedding(5, 4, 0)
                    .recurrent(Lstm.builder(4, 4).seed(9)).outputs(2).seed(9).build(cpu)) {
                Checkpoint.load(file, again);
                assertSameWeights(weights(pad0), again, "matching load");
            }
        }
    }

    /** A file of a model (3 features, 2 outputs) of {@code savedTask, saved} does not load into one of {@code task, rnn}. */
    private void assertRefused(Path file, Task savedTask, RecurrentConfig.Builder<?> saved, Task task,
                               RecurrentConfig.Builder<?> rnn, String field) throws IOException {
        try (SequenceModel from = SequenceModel.builder(savedTask).features(3).recurrent(saved).outputs(2).build(cpu);
             SequenceModel into = SequenceModel.builder(task).features(3).recurrent(rnn).outputs(2).build(cpu)) {
            from.save(file);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Checkpoint.load(file, into));
            assertTrue(e.getMessage().contains(field), e.getMessage());
        }
    }

    // ------------------------------------------------------------------ the header's own digest

    /** The file with {@code from} replaced by {@code to} (same length) in its JSON header, digests untouched. */
    static void editHeader(Path file, String from, String to) throws IOException {
        assertEquals(from.length(), to.length(), "an edit of the same length");
        byte[] bytes = Files.readAllBytes(file);
        String s = new String(bytes, StandardCharsets.ISO_8859_1);
        int at = s.indexOf(from);
        assertTrue(at > 0, "the header holds " + from);
        byte[] edited = s.substring(0, at).concat(to).concat(s.substring(at + from.length())).getBytes(StandardCharsets.ISO_8859_1);
        Files.write(file, edited);
    }

    @Test
    void anEditedHeaderIsRefused(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("m.safetensors");
        try (SequenceModel m = SequenceModel.builder(Task.CLASSIFICATION).features(4)
                .recurrent(Lstm.builder(4, 4).cellClip(3)).outputs(2).build(cpu)) {
            m.save(file);
            editHeader(file, "\"rnn.cell_clip\":\"3.0\"", "\"rnn.cell_clip\":\"0.5\"");
            IOException e = assertThrows(IOException.class, () -> SequenceModel.load(file, cpu));
            assertTrue(e.getMessage().contains("header"), e.getMessage());
            // I = H: weight_ih and weight_hh have the same shape; swapping their names must not load them swapped
            m.save(file);
            editHeader(file, "\"rnn.weight_ih_l0\"", "\"rnn.weight_XX_l0\"");
            editHeader(file, "\"rnn.weight_hh_l0\"", "\"rnn.weight_ih_l0\"");
            editHeader(file, "\"rnn.weight_XX_l0\"", "\"rnn.weight_hh_l0\"");
            editHeader(file, "\"crc32c:rnn.weight_ih_l0\"", "\"crc32c:rnn.weight_XX_l0\"");
            editHeader(file, "\"crc32c:rnn.weight_hh_l0\"", "\"crc32c:rnn.weight_ih_l0\"");
            editHeader(file, "\"crc32c:rnn.weight_XX_l0\"", "\"crc32c:rnn.weight_hh_l0\"");
            assertThrows(IOException.class, () -> SequenceModel.load(file, cpu));
        }
    }

    // ------------------------------------------------------------------ resuming

    /** Rewrites {@code file} (valid digests) with its metadata changed by {@code edit}. */
    static void rewrite(Path file, Consumer<Map<String, String>> edit, List<String> dropTensors) throws IOException {
        SafeTensors.Contents c = Checkpoint.read(file);
        Map<String, String> meta = new LinkedHashMap<>(c.metadata());
        edit.accept(meta);
        Map<String, SafeTensors.HostTensor> tensors = new LinkedHashMap<>(c.tensors());
        dropTensors.forEach(tensors::remove);
        SafeTensors.write(file, tensors, meta);
    }

    private FitOptions options() {
        return new FitOptions().epochs(4).batchSize(16).adam(1e-2).seed(7);
    }

    /** A checkpoint after epoch 2 of 4 (early stopping on, so best weights are saved). */
    private Path checkpointAtEpoch2(Path dir, SequenceDataset train, FitOptions o) throws IOException {
        try (SequenceModel m = classifier()) {
            m.fit(train, null, o.epochs(2).checkpoints(dir, 1));
        }
        return dir.resolve("epoch-0002.safetensors");
    }

    @Test
    void aResumeFromAnEditedTrainingStateIsRefusedAndChangesNothing(@TempDir Path dir) throws IOException {
        SequenceDataset train = TaskData.majority(48, 6, 1);   // 3 batches per epoch
        Path good = checkpointAtEpoch2(dir, train, options().earlyStopping(5, true));
        Map<String, Consumer<Map<String, String>>> edits = new LinkedHashMap<>();
        edits.put("rnn4j.train.epoch", m -> m.put("rnn4j.train.epoch", "-3"));
        edits.put("rnn4j.train.step", m -> m.put("rnn4j.train.step", "5"));
        edits.put("rnn4j.train.optimizer_steps", m -> m.put("rnn4j.train.optimizer_steps", "2"));
        edits.put("rnn4j.train.callback.0.wait", m -> m.put("rnn4j.train.callback.0.wait", "7"));   // EarlyStopping's
        edits.put("rnn4j.train.rnn_dropout_calls", m -> m.put("rnn4j.train.rnn_dropout_calls", "-1"));
        edits.put("rnn4j.train.best_epoch", m -> m.put("rnn4j.train.best_epoch", "3"));
        edits.put("rnn4j.train.best_loss", m -> m.remove("rnn4j.train.best_loss"));
        edits.put("rnn4j.train.seed", m -> m.put("rnn4j.train.seed", "x7"));
        for (Map.Entry<String, Consumer<Map<String, String>>> edit : edits.entrySet()) {
            Path file = dir.resolve("edited.safetensors");
            Files.copy(good, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            rewrite(file, edit.getValue(), List.of());
            try (SequenceModel m = classifier()) {
                Map<String, float[]> w = weights(m);
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> m.fit(train, null, options().earlyStopping(5, true).resumeFrom(file)), edit.getKey());
                assertTrue(e.getMessage().contains(edit.getKey()), e.getMessage());
                assertSameWeights(w, m, "refused resume (" + edit.getKey() + ")");
            }
        }
        // a checkpoint without the best weights it says it has
        Path file = dir.resolve("no-best.safetensors");
        Files.copy(good, file);
        rewrite(file, m -> { }, List.of("snapshot.best_loss.head.weight"));
        try (SequenceModel m = classifier()) {
            Map<String, float[]> w = weights(m);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> m.fit(train, null, options().earlyStopping(5, true).resumeFrom(file)));
            assertTrue(e.getMessage().contains("snapshot.best_loss.head.weight"), e.getMessage());
            assertSameWeights(w, m, "refused resume (best weights)");
        }
    }

    @Test
    void aResumeWithOtherOptimizerSettingsIsRefusedNamingTheSetting(@TempDir Path dir) throws IOException {
        SequenceDataset train = TaskData.majority(48, 6, 1);
        Path adam = checkpointAtEpoch2(dir.resolve("adam"), train, options());
        Path sgd = checkpointAtEpoch2(dir.resolve("sgd"), train, options().sgd(0.1, 0.9));
        Path adamW = checkpointAtEpoch2(dir.resolve("adamw"), train, options().adamW(1e-2, 0.01));
        Map<String, Object[]> cases = new LinkedHashMap<>();
        cases.put("learning rate", new Object[] {adam, options().adam(2e-2)});
        cases.put("batch size", new Object[] {adam, options().batchSize(8)});
        cases.put("momentum", new Object[] {sgd, options().sgd(0.1, 0)});
        cases.put("weight decay", new Object[] {adamW, options().adamW(1e-2, 0.02)});
        for (Map.Entry<String, Object[]> c : cases.entrySet()) {
            try (SequenceModel m = classifier()) {
                Path file = (Path) c.getValue()[0];
                FitOptions o = ((FitOptions) c.getValue()[1]).resumeFrom(file);
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.fit(train, null, o),
                        c.getKey());
                assertTrue(e.getMessage().contains(c.getKey()), e.getMessage());
            }
        }
        // the same settings resume
        try (SequenceModel m = classifier()) {
            assertEquals(2, m.fit(train, null, options().sgd(0.1, 0.9).resumeFrom(sgd)).epochs().size());
        }
    }

    @Test
    void aResumeFromTheLastEpochOrLaterIsRefused(@TempDir Path dir) throws IOException {
        SequenceDataset train = TaskData.majority(48, 6, 1);
        Path file = checkpointAtEpoch2(dir, train, options());
        try (SequenceModel m = classifier()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> m.fit(train, null, options().epochs(2).resumeFrom(file)));
            assertTrue(e.getMessage().contains("epochs") && e.getMessage().contains("2"), e.getMessage());
        }
    }

    // ------------------------------------------------------------------ the data path every caller takes

    @Test
    void everyTrainingPathChecksTheData() {
        try (SequenceModel classes = SequenceModel.builder(Task.CLASSIFICATION).embedding(6, 4)
                .recurrent(Lstm.builder(4, 4)).outputs(2).build(cpu);
             SequenceModel tagger = SequenceModel.builder(Task.TAGGING).embedding(6, 4)
                     .recurrent(Lstm.builder(4, 4)).outputs(2).build(cpu);
             SequenceModel dense = SequenceModel.builder(Task.REGRESSION).features(2)
                     .recurrent(Lstm.builder(2, 4)).outputs(1).build(cpu)) {
            Map<String, float[]> w = weights(classes);
            SequenceDataset minusOne = SequenceDataset.classification(List.of(new int[] {1, 2}, new int[] {3}), new int[] {0, -1});
            assertRefused(() -> ModelGradients.accumulate(classes, minusOne, 0), "label of sequence 1");
            assertRefused(() -> classes.trainOnBatch(minusOne, 0), "label of sequence 1");
            SequenceDataset tooLarge = SequenceDataset.classification(List.of(new int[] {1, 9}), new int[] {0});
            assertRefused(() -> ModelGradients.accumulate(classes, tooLarge, 0), "sequence 0 step 1");
            SequenceDataset lm = SequenceDataset.languageModel(List.of(new int[] {1, 2, 3}));
            assertRefused(() -> ModelGradients.accumulate(tagger, lm, 0), "tags");
            SequenceDataset wide = SequenceDataset.regression(List.<float[][]>of(new float[][] {{0, 1}}),
                    List.<float[][]>of(new float[][] {{1, 2}}));
            assertRefused(() -> ModelGradients.accumulate(dense, wide, 0), "1 target values per step");
            assertSameWeights(w, classes, "refused data");
            classes.gradients().values().forEach(g -> assertArrayEquals(new float[(int) g.size()], g.toHost(), "gradients"));
        }
    }

    @Test
    void aPaddedBatchTooLargeForAnArrayIsRefusedByName() {
        // one long sequence pads 2,048 short ones to 2^20 steps each: T·B = 2^31 overflows an int
        List<int[]> seqs = new java.util.ArrayList<>();
        seqs.add(new int[1 << 20]);
        for (int i = 0; i < 2047; i++) {
            seqs.add(new int[] {1});
        }
        SequenceDataset data = SequenceDataset.classification(seqs, new int[2048]);
        try (SequenceModel m = classifier()) {
            assertRefused(() -> m.trainOnBatch(data, 0), "padded batch");
        }
    }

    @Test
    void fitRefusesOptimizerSettingsOutsideFloat32AndStopsWhenAStepRuinsTheWeights() {
        assertRefused(() -> new FitOptions().adam(1e39), "lr");
        assertRefused(() -> new FitOptions().adam(1e-50), "lr");
        assertRefused(() -> new FitOptions().sgd(0.1, 1 - 1e-9), "momentum");
        assertRefused(() -> new FitOptions().adamW(1e-3, 1e39), "weightDecay");
        SequenceDataset oneBatch = TaskData.majority(8, 6, 1);
        try (SequenceModel m = classifier()) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> m.fit(oneBatch, null,
                    new FitOptions().epochs(1).batchSize(8).adamW(3e38, 10)));
            assertTrue(e.getMessage().contains("non-finite"), e.getMessage());
        }
    }

    // ------------------------------------------------------------------ smaller ways to a wrong answer

    @Test
    void generateRefusesWhatItCannotAnswer() {
        assertRefused(() -> SequenceModel.builder(Task.LANGUAGE_MODEL).embedding(1, 4, 0)
                .recurrent(Lstm.builder(4, 4)).build(cpu), "vocabSize");
        try (SequenceModel lm = SequenceModel.builder(Task.LANGUAGE_MODEL).embedding(5, 4, 0)
                .recurrent(Lstm.builder(4, 4)).build(cpu)) {
            assertRefused(() -> lm.generate(new int[] {1}, Integer.MAX_VALUE - 8, 1, 0), "length");
            assertRefused(() -> lm.generate(new int[] {1, 7}, 3, 1, 0), "prefix[1]");
        }
    }

    @Test
    void nonFiniteWeightsInAFileAreRefused(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("nan.safetensors");
        try (SequenceModel m = classifier()) {
            m.save(file);
            SafeTensors.Contents c = Checkpoint.read(file);
            Map<String, SafeTensors.HostTensor> tensors = new LinkedHashMap<>(c.tensors());
            float[] w = tensors.get("head.weight").data().clone();
            w[3] = Float.NaN;
            tensors.put("head.weight", new SafeTensors.HostTensor(tensors.get("head.weight").shape(), w));
            SafeTensors.write(file, tensors, c.metadata());
            assertRefused(() -> SequenceModel.load(file, cpu), "head.weight");
            Map<String, float[]> before = weights(m);
            assertRefused(() -> Checkpoint.load(file, m), "head.weight");
            assertSameWeights(before, m, "refused load");
        }
    }

    @Test
    void optionsThatWouldBeIgnoredOrTurnedAroundAreRefused(@TempDir Path dir) {
        // dropout between stacked layers with one layer does nothing (PyTorch warns)
        assertRefused(() -> Lstm.builder(4, 4).dropout(0.3).config(), "dropout");
        // a cosine floor above the base rate would climb to it
        try (SequenceModel m = classifier()) {
            assertRefused(() -> m.fit(TaskData.majority(8, 6, 1), null, new FitOptions().epochs(1).adam(1e-3)
                    .schedule(LrSchedule.cosine(0, 10, 0.5))), "minLr");
            // the caller's metadata may not override the configuration
            assertRefused(() -> m.save(dir.resolve("m.safetensors"), Map.of("rnn4j.model.dropout", "0.9")), "rnn4j.model.dropout");
            assertRefused(() -> m.save(dir.resolve("m.safetensors"), Map.of("rnn.cell_clip", "3")), "rnn.cell_clip");
        }
    }

    // ------------------------------------------------------------------ messages

    @Test
    void messagesNameTheValueGivenAndComeBeforeTraining(@TempDir Path dir) throws IOException {
        assertRefused(() -> SequenceModel.builder(Task.CLASSIFICATION).embedding(0, 8).recurrent(Lstm.builder(8, 4))
                .outputs(2).config(), "vocabSize: expected >= 1");
        assertRefused(() -> SequenceModel.builder(Task.CLASSIFICATION).features(-1).recurrent(Lstm.builder(8, 4))
                .outputs(2).config(), "got -1");
        Path file = Files.createFile(dir.resolve("a-file"));
        try (SequenceModel m = classifier()) {
            Map<String, float[]> before = weights(m);
            assertRefused(() -> m.fit(TaskData.majority(8, 6, 1), null, new FitOptions().epochs(1).checkpoints(file, 1)),
                    "a-file");
            assertSameWeights(before, m, "refused fit");
        }
    }

    private static void assertRefused(org.junit.jupiter.api.function.Executable call, String what) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call, what);
        assertTrue(e.getMessage().contains(what), e.getMessage());
    }
}
