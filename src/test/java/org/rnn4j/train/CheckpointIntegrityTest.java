package org.rnn4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.rnn4j.Device;
import org.rnn4j.ForwardResult;
import org.rnn4j.Gru;
import org.rnn4j.Lstm;
import org.rnn4j.RecurrentConfig;
import org.rnn4j.RecurrentLayer;
import org.rnn4j.Rnn;
import org.rnn4j.Tensor;

/**
 * Checkpoints that know their model: the configuration is verified on load and suffices to rebuild the
 * layer, every tensor carries a digest, and saving keeps file modes and cleans up after killed saves.
 */
class CheckpointIntegrityTest {
    @TempDir
    Path dir;

    private final Device cpu = Device.cpu();

    /** Pairs of layers with the same parameter names and shapes that compute different things. */
    static Stream<Object[]> sameShapesOtherComputation() {
        return Stream.of(
            new Object[] {"reset_after (resetAfter)", (Function<Device, RecurrentLayer>) d -> Gru.builder(3, 4).resetAfter(false).build(d),
                (Function<Device, RecurrentLayer>) d -> Gru.builder(3, 4).build(d)},
            new Object[] {"cell_clip (cellClip)", (Function<Device, RecurrentLayer>) d -> Lstm.builder(3, 4).cellClip(0.5).build(d),
                (Function<Device, RecurrentLayer>) d -> Lstm.builder(3, 4).cellClip(2).build(d)},
            new Object[] {"coupled_input_forget (coupledInputForget)",
                (Function<Device, RecurrentLayer>) d -> Lstm.builder(3, 4).coupledInputForget(true).build(d),
                (Function<Device, RecurrentLayer>) d -> Lstm.builder(3, 4).build(d)},
            new Object[] {"cell (cell)", (Function<Device, RecurrentLayer>) d -> Rnn.reluBuilder(3, 4).build(d),
                (Function<Device, RecurrentLayer>) d -> Rnn.builder(3, 4).build(d)});
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("sameShapesOtherComputation")
    void aDifferentlyConfiguredModelIsRefusedNamingTheField(String field, Function<Device, RecurrentLayer> saved,
                                                           Function<Device, RecurrentLayer> loaded) throws IOException {
        Path p = dir.resolve("m.safetensors");
        try (RecurrentLayer a = saved.apply(cpu); RecurrentLayer b = loaded.apply(cpu)) {
            Checkpoint.save(p, a);
            Map<String, float[]> before = TrainTestSupport.snapshot(b);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Checkpoint.load(p, b));
            assertTrue(e.getMessage().contains(field) && e.getMessage().contains(p.toString()), e.getMessage());
            TrainTestSupport.assertSameParameters(before, TrainTestSupport.snapshot(b));
            // in a group the field is named with its module prefix
            Checkpoint.save(p, ModuleGroup.of(Map.of("rnn", a)));
            e = assertThrows(IllegalArgumentException.class, () -> Checkpoint.load(p, ModuleGroup.of(Map.of("rnn", b))));
            assertTrue(e.getMessage().contains("rnn." + field), e.getMessage());
        }
    }

    @Test
    void optionsThatDoNotChangeTheComputationMayDiffer() throws IOException {
        Path p = dir.resolve("m.safetensors");
        try (RecurrentLayer a = Lstm.builder(3, 4).dropout(0.2).numLayers(2).seed(1).build(cpu);
             RecurrentLayer b = Lstm.builder(3, 4).batchFirst(true).numLayers(2).seed(2).build(cpu)) {
            Checkpoint.save(p, a);
            Checkpoint.load(p, b);
            TrainTestSupport.assertSameParameters(TrainTestSupport.snapshot(a), TrainTestSupport.snapshot(b));
        }
    }

    static Stream<RecurrentConfig> configs() {
        return Stream.of(
            Lstm.builder(3, 5).numLayers(2).bidirectional(true).projSize(2).peepholes(true).cellClip(1.5)
                    .coupledInputForget(true).unitForgetBias(true).dropout(0.25).batchFirst(true).seed(7).config(),
            Gru.builder(2, 4).resetAfter(false).bias(false).seed(3).config(),
            Rnn.reluBuilder(4, 3).bidirectional(true).config());
    }

    @ParameterizedTest
    @MethodSource("configs")
    void aLayerIsRebuiltFromItsCheckpointAlone(RecurrentConfig cfg) throws IOException {
        Path p = dir.resolve("m.safetensors");
        try (RecurrentLayer a = new RecurrentLayer(cfg, cpu)) {
            a.resetParameters(99); // not what the configuration's seed would draw
            Checkpoint.save(p, a);
            try (RecurrentLayer b = Checkpoint.loadLayer(p, cpu)) {
                assertEquals(cfg.toMetadata(), b.config().toMetadata());
                TrainTestSupport.assertSameParameters(TrainTestSupport.snapshot(a), TrainTestSupport.snapshot(b));
                int[] shape = cfg.batchFirst() ? new int[] {2, 5, cfg.inputSize()} : new int[] {5, 2, cfg.inputSize()};
                try (Tensor x = Tensor.of(cpu, TrainTestSupport.uniform(4, 10 * cfg.inputSize(), -1, 1), shape);
                     ForwardResult ya = a.eval().forward(x); ForwardResult yb = b.eval().forward(x)) {
                    assertArrayEquals(ya.output().toHost(), yb.output().toHost(), 0f);
                }
            }
        }
    }

    @Test
    void aFileWithoutConfigurationCannotBuildALayer() throws IOException {
        Path p = dir.resolve("torch.safetensors");
        try (RecurrentLayer a = Lstm.builder(3, 4).build(cpu)) {
            Checkpoint.save(p, a.parameters(), Map.of("format", "pt"));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Checkpoint.loadLayer(p, cpu));
            assertTrue(e.getMessage().startsWith("file: " + p) && e.getMessage().contains("Checkpoint.load(file, layer)"),
                    e.getMessage());
        }
    }

    @Test
    void metadataNamesTheMalformedKey() {
        Map<String, String> m = new LinkedHashMap<>(Lstm.builder(3, 4).config().toMetadata());
        m.put("hidden_size", "four");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RecurrentConfig.fromMetadata(m, ""));
        assertTrue(e.getMessage().startsWith("metadata['hidden_size']: expected an integer, got 'four'"), e.getMessage());
        Map<String, String> g = new LinkedHashMap<>(Gru.builder(3, 4).config().toMetadata());
        g.put("peepholes", "true");
        e = assertThrows(IllegalArgumentException.class, () -> RecurrentConfig.fromMetadata(g, ""));
        assertTrue(e.getMessage().startsWith("metadata['peepholes']: only an LSTM"), e.getMessage());
    }

    @Test
    void everyTensorCarriesADigestThatThePublicMetadataDoesNotShow() throws IOException {
        Path p = dir.resolve("m.safetensors");
        try (RecurrentLayer a = Gru.builder(3, 4).build(cpu)) {
            Checkpoint.save(p, a, Map.of("epoch", "3"));
            String header = new String(Files.readAllBytes(p), java.nio.charset.StandardCharsets.ISO_8859_1);
            for (String name : a.parameters().keySet()) {
                assertTrue(header.matches("(?s).*\"crc32c:" + name + "\":\"[0-9a-f]{8}\".*"), name);
            }
            Map<String, String> meta = Checkpoint.load(p, a);
            assertEquals("3", meta.get("epoch"));
            assertFalse(meta.keySet().stream().anyMatch(k -> k.startsWith(SafeTensors.DIGEST_PREFIX)), meta.toString());
            // metadata read back can be saved again
            Checkpoint.save(p, a, meta);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Checkpoint.save(p, a, Map.of("crc32c:weight_ih_l0", "00000000")));
            assertTrue(e.getMessage().startsWith("metadata: keys starting with 'crc32c:' are reserved"), e.getMessage());
        }
    }

    @Test
    void everySingleBitFlipInTheDataIsRefused() throws IOException {
        Path p = dir.resolve("m.safetensors");
        try (RecurrentLayer a = Rnn.builder(2, 3).build(cpu)) {
            Checkpoint.save(p, a);
        }
        byte[] good = Files.readAllBytes(p);
        int dataStart = 8 + (int) ByteBuffer.wrap(good, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        Path bad = dir.resolve("bad.safetensors");
        for (int bit = 0; bit < 8 * (good.length - dataStart); bit++) {
            byte[] raw = good.clone();
            raw[dataStart + bit / 8] ^= (byte) (1 << (bit % 8));
            Files.write(bad, raw);
            IOException e = assertThrows(IOException.class, () -> SafeTensors.read(bad), "bit " + bit);
            assertTrue(e.getMessage().contains("does not match the stored CRC-32C"), e.getMessage());
        }
    }

    @Test
    void aFileWithoutDigestsStillLoads() throws IOException {
        Path p = dir.resolve("old.safetensors");
        Files.write(p, SafeTensorsTest.file(
                "{\"__metadata__\":{\"format\":\"pt\"},\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                SafeTensorsTest.floats(1f, 2f)));
        assertArrayEquals(new float[] {1f, 2f}, SafeTensors.read(p).tensors().get("w").data(), 0f);
        // but digests without the header's own are corruption (an edited header), and so is one missing among others
        Files.write(p, SafeTensorsTest.file(
                "{\"__metadata__\":{\"crc32c:w\":\"00000000\"},\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                        + "\"v\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
                SafeTensorsTest.floats(1f, 2f, 3f)));
        IOException e = assertThrows(IOException.class, () -> SafeTensors.read(p));
        assertTrue(e.getMessage().contains("no crc32c:__metadata__ digest"), e.getMessage());
    }

    @Test
    void savingKeepsTheModeOfAReplacedFileAndTheUmaskForANewOne() throws IOException {
        Path p = dir.resolve("m.safetensors");
        Path reference = Files.createFile(dir.resolve("reference"));
        try (RecurrentLayer a = Rnn.builder(2, 3).build(cpu)) {
            Checkpoint.save(p, a);
            assertEquals(Files.getPosixFilePermissions(reference), Files.getPosixFilePermissions(p), "new file: umask");
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-r-----"));
            Checkpoint.save(p, a);
            assertEquals("rw-r-----", PosixFilePermissions.toString(Files.getPosixFilePermissions(p)));
        }
    }

    @Test
    void leftoversOfKilledSavesAreRemovedByTheNextSave() throws IOException {
        Path p = dir.resolve("m.safetensors");
        Path stale1 = Files.write(dir.resolve(".m.safetensors.123456.tmp"), new byte[1000]);
        Path stale2 = Files.write(dir.resolve(".m.safetensors.99.tmp"), new byte[1000]);
        Path otherTargets = Files.write(dir.resolve(".n.safetensors.123.tmp"), new byte[10]);
        Path notOurs = Files.write(dir.resolve(".m.safetensors.backup.tmp"), new byte[10]);
        try (RecurrentLayer a = Rnn.builder(2, 3).build(cpu)) {
            Checkpoint.save(p, a);
        }
        assertFalse(Files.exists(stale1));
        assertFalse(Files.exists(stale2));
        assertTrue(Files.exists(otherTargets) && Files.exists(notOurs));
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(3, files.count(), "the checkpoint and the two files that are not leftovers of its saves");
        }
    }

    @Test
    void errorsNameWhatTheUserPassed() throws IOException {
        try (RecurrentLayer a = Rnn.builder(2, 3).build(cpu)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Checkpoint.save(dir, a));
            assertTrue(e.getMessage().startsWith("file: expected a file to write, got the directory " + dir.toAbsolutePath()),
                    e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> Checkpoint.load(dir, a));
            assertTrue(e.getMessage().startsWith("file: expected a safetensors file, got the directory " + dir), e.getMessage());
            Path missingDir = dir.resolve("nope").resolve("m.safetensors");
            IOException io = assertThrows(IOException.class, () -> Checkpoint.save(missingDir, a));
            assertTrue(io.getMessage().contains(missingDir.toString()) && !io.getMessage().contains(".tmp"), io.getMessage());
            Path missing = dir.resolve("missing.safetensors");
            io = assertThrows(IOException.class, () -> Checkpoint.load(missing, a));
            assertEquals("could not read " + missing + ": no such file", io.getMessage());
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Checkpoint.loadLayer(dir, null));
        assertEquals("device: expected a device, got null", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> SafeTensors.read(null));
        assertEquals("file: expected a path, got null", e.getMessage());
    }
}
