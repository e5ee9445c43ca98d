package org.rnn4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.rnn4j.Device;
import org.rnn4j.ForwardResult;
import org.rnn4j.Lstm;
import org.rnn4j.RecurrentLayer;
import org.rnn4j.Tensor;

/** Checkpoints: PyTorch names, metadata, bit-exact round trips, and every refusal leaving the model unchanged. */
class CheckpointTest {
    @TempDir
    Path dir;

    static List<Device> devices() {
        return TrainTestSupport.devices();
    }

    private static RecurrentLayer lstm(Device device, long seed) {
        return Lstm.builder(3, 6).numLayers(2).bidirectional(true).projSize(4).seed(seed).build(device);
    }

    @ParameterizedTest
    @MethodSource("devices")
    void bareLayerUsesPyTorchNamesAndRoundTripsBitExact(Device device) throws IOException {
        Path p = dir.resolve("lstm.safetensors");
        try (RecurrentLayer a = lstm(device, 1); RecurrentLayer b = lstm(device, 2);
             Tensor x = Tensor.of(device, TrainTestSupport.uniform(3, 5 * 2 * 3, -1, 1), 5, 2, 3)) {
            Checkpoint.save(p, a, Map.of("epoch", "7"));
            SafeTensors.Contents c = Checkpoint.read(p);
            List<String> torchNames = List.of(
                    "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_hr_l0",
                    "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse",
                    "weight_hr_l0_reverse",
                    "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1", "weight_hr_l1",
                    "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse",
                    "weight_hr_l1_reverse");
            assertEquals(torchNames, List.copyOf(c.tensors().keySet()));
            assertArrayEquals(new int[] {24, 8}, c.tensors().get("weight_ih_l1").shape());
            assertEquals("LSTM", c.metadata().get("cell"));
            assertEquals("4", c.metadata().get("proj_size"));
            assertEquals("true", c.metadata().get("bidirectional"));
            assertEquals("pt", c.metadata().get("format"));
            assertEquals("7", c.metadata().get("epoch"));

            Map<String, String> meta = Checkpoint.load(p, b);
            assertEquals("2", meta.get("num_layers"));
            TrainTestSupport.assertSameParameters(TrainTestSupport.snapshot(a), TrainTestSupport.snapshot(b));
            a.eval();
            b.eval();
            try (ForwardResult ya = a.forward(x); ForwardResult yb = b.forward(x)) {
                assertArrayEquals(ya.output().toHost(), yb.output().toHost(), 0f);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void groupUsesPrefixes(Device device) throws IOException {
        Path p = dir.resolve("model.safetensors");
        try (RecurrentLayer l1 = lstm(device, 1); Linear h1 = new Linear(8, 5, true, 1, device);
             RecurrentLayer l2 = lstm(device, 2); Linear h2 = new Linear(8, 5, true, 2, device)) {
            ModuleGroup a = ModuleGroup.of("lstm", l1, "head", h1);
            ModuleGroup b = ModuleGroup.of("lstm", l2, "head", h2);
            Checkpoint.save(p, a);
            SafeTensors.Contents c = Checkpoint.read(p);
            assertTrue(c.tensors().containsKey("lstm.weight_ih_l0"));
            assertTrue(c.tensors().containsKey("lstm.bias_hh_l1_reverse"));
            assertTrue(c.tensors().containsKey("head.weight"));
            assertEquals("LSTM", c.metadata().get("lstm.cell"));
            assertEquals("5", c.metadata().get("head.out_features"));
            Checkpoint.load(p, b);
            TrainTestSupport.assertSameParameters(TrainTestSupport.snapshot(a), TrainTestSupport.snapshot(b));
            // a group's file does not load into the bare layer: the message says why
            Map<String, float[]> before = TrainTestSupport.snapshot(l2);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Checkpoint.load(p, l2));
            assertTrue(e.getMessage().contains("module prefix"), e.getMessage());
            TrainTestSupport.assertSameParameters(before, TrainTestSupport.snapshot(l2));
        }
    }

    /** Each writes a bad file for a 2-layer bidirectional projected LSTM; the fragment is expected in the message. */
    static Stream<Object[]> mismatches() {
        return Stream.of(
            new Object[] {"wrong shape", "wrong shape [weight_ih_l0 (file [24, 5], model [24, 3])"},
            new Object[] {"other configuration", "input_size (inputSize): file 5, layer 3"},
            new Object[] {"flipped bit", "tensor 'weight_hh_l0': its data does not match the stored CRC-32C"},
            new Object[] {"missing tensor", "missing [bias_hh_l1_reverse]"},
            new Object[] {"unexpected tensor", "unexpected [extra]"},
            new Object[] {"non-F32 tensor", "has dtype I32"},
            new Object[] {"corrupt header", "not well-formed JSON"},
            new Object[] {"truncated file", "truncated"});
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("mismatches")
    void refusedFilesLeaveTheModelUnchanged(String what, String expected) throws IOException {
        Device device = Device.cpu();
        Path p = dir.resolve("bad.safetensors");
        try (RecurrentLayer good = lstm(device, 1); RecurrentLayer target = lstm(device, 2);
             RecurrentLayer wider = Lstm.builder(5, 6).numLayers(2).bidirectional(true).projSize(4).seed(3)
                     .build(device)) {
            switch (what) {
                case "wrong shape" -> Checkpoint.save(p, wider.parameters(), Map.of()); // no configuration, as PyTorch's
                case "other configuration" -> Checkpoint.save(p, wider);
                case "flipped bit" -> {
                    Checkpoint.save(p, good);
                    byte[] raw = Files.readAllBytes(p);
                    long header = ByteBuffer.wrap(raw, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
                    int weightHh = 8 + (int) header + 4 * 24 * 3 + 5; // a byte inside the second tensor
                    raw[weightHh] ^= 0x10;
                    Files.write(p, raw);
                }
                case "missing tensor" -> {
                    Map<String, Tensor> m = new LinkedHashMap<>(good.parameters());
                    m.remove("bias_hh_l1_reverse");
                    Checkpoint.save(p, m, Map.of());
                }
                case "unexpected tensor" -> {
                    try (Tensor extra = Tensor.zeros(device, 2)) {
                        Map<String, Tensor> m = new LinkedHashMap<>(good.parameters());
                        m.put("extra", extra);
                        Checkpoint.save(p, m, Map.of());
                    }
                }
                case "non-F32 tensor" -> {
                    Checkpoint.save(p, good);
                    byte[] raw = Files.readAllBytes(p);
                    String s = new String(raw, java.nio.charset.StandardCharsets.ISO_8859_1);
                    // F32 -> I32 keeps every size and offset valid
                    Files.write(p, s.replaceFirst("\"F32\"", "\"I32\"").getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
                }
                case "corrupt header" -> {
                    Checkpoint.save(p, good);
                    byte[] raw = Files.readAllBytes(p);
                    int colon = 8;
                    while (raw[colon] != ':') {
                        colon++;
                    }
                    raw[colon] = '#';
                    Files.write(p, raw);
                }
                case "truncated file" -> {
                    Checkpoint.save(p, good);
                    byte[] raw = Files.readAllBytes(p);
                    Files.write(p, java.util.Arrays.copyOf(raw, raw.length - 100));
                }
                default -> throw new IllegalStateException(what);
            }
            Map<String, float[]> before = TrainTestSupport.snapshot(target);
            Exception e = assertThrows(Exception.class, () -> Checkpoint.load(p, target));
            assertTrue(e instanceof IOException || e instanceof IllegalArgumentException, e.toString());
            assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
            assertTrue(e.getMessage().contains(expected), what + ": " + e.getMessage());
            TrainTestSupport.assertSameParameters(before, TrainTestSupport.snapshot(target));
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void aFailedSaveKeepsTheLastGoodFile(Device device) throws IOException {
        Path p = dir.resolve("ckpt.safetensors");
        try (RecurrentLayer a = lstm(device, 1); Tensor closed = Tensor.zeros(device, 3)) {
            Checkpoint.save(p, a);
            byte[] before = Files.readAllBytes(p);
            // a failure in the middle of writing the data
            assertThrows(IOException.class, () -> SafeTensors.writeAtomically(p, ch -> {
                ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(1000).flip();
                ch.write(len);
                throw new IOException("device lost (simulated)");
            }));
            // a tensor that cannot be read
            closed.close();
            Map<String, Tensor> m = new LinkedHashMap<>(a.parameters());
            m.put("gone", closed);
            assertThrows(IllegalStateException.class, () -> Checkpoint.save(p, m, Map.of()));
            assertArrayEquals(before, Files.readAllBytes(p));
            try (Stream<Path> files = Files.list(dir)) {
                assertEquals(List.of(p), files.toList(), "no temporary file left behind");
            }
        }
    }
}
