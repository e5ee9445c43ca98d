package org.rnn4j.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rnn4j.train.SafeTensors.HostTensor;

/** The safetensors reader and writer: bit-exact round trips, the layout, dtype conversion, and every kind of corrupt file refused. */
class SafeTensorsTest {
    @TempDir
    Path dir;

    /** A file from a header and data bytes, the header padded to 8 as the reference writer does. */
    static byte[] file(String header, byte[] data) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        int padded = (h.length + 7) / 8 * 8;
        ByteBuffer b = ByteBuffer.allocate(8 + padded + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(padded).put(h);
        for (int i = h.length; i < padded; i++) {
            b.put((byte) ' ');
        }
        return b.put(data).array();
    }

    static byte[] floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putFloat(f);
        }
        return b.array();
    }

    @Test
    void roundTripIsBitExact() throws IOException {
        float[] special = {0f, -0f, 1.5f, Float.MIN_VALUE, -Float.MAX_VALUE, Float.POSITIVE_INFINITY,
            Float.intBitsToFloat(0x7fc00123), 1e-40f};
        Map<String, HostTensor> tensors = new LinkedHashMap<>();
        tensors.put("weight_ih_l0", new HostTensor(new int[] {2, 4}, special));
        tensors.put("empty", new HostTensor(new int[] {0, 3}, new float[0]));
        tensors.put("b \"quoted\" é", new HostTensor(new int[] {3}, TrainTestSupport.uniform(1, 3, -1, 1)));
        Map<String, String> meta = Map.of("cell", "LSTM", "note", "line\nbreak \\ \"q\" ü");
        Path p = dir.resolve("t.safetensors");
        SafeTensors.write(p, tensors, meta);

        byte[] raw = Files.readAllBytes(p);
        long n = ByteBuffer.wrap(raw, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, n % 8, "header padded to 8 bytes");
        assertEquals('{', raw[8]);
        assertEquals(8 + n + 4 * (8 + 3), raw.length);

        SafeTensors.Contents c = SafeTensors.read(p);
        assertEquals(List.copyOf(tensors.keySet()), List.copyOf(c.tensors().keySet()));
        assertEquals(meta, c.metadata());
        for (String name : tensors.keySet()) {
            assertArrayEquals(tensors.get(name).shape(), c.tensors().get(name).shape(), name);
            float[] want = tensors.get(name).data();
            float[] got = c.tensors().get(name).data();
            assertEquals(want.length, got.length);
            for (int i = 0; i < want.length; i++) {
                assertEquals(Float.floatToRawIntBits(want[i]), Float.floatToRawIntBits(got[i]), name + "[" + i + "]");
            }
        }
    }

    @Test
    void readsOtherFloatTypesAsFloat32() throws IOException {
        ByteBuffer d = ByteBuffer.allocate(8 * 2 + 2 * 3 + 2 * 2).order(ByteOrder.LITTLE_ENDIAN);
        d.putDouble(0.25).putDouble(-3.0);                        // F64
        d.putShort((short) 0x3C00).putShort((short) 0xC000).putShort((short) 0x0001); // F16: 1, -2, 2^-24
        d.putShort((short) 0x3F80).putShort((short) 0xC0A0);      // BF16: 1, -5
        String header = "{\"a\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]},"
                + "\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[16,22]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[1,2],\"data_offsets\":[22,26]}}";
        Path p = dir.resolve("mixed.safetensors");
        Files.write(p, file(header, d.array()));
        SafeTensors.Contents c = SafeTensors.read(p);
        assertArrayEquals(new float[] {0.25f, -3f}, c.tensors().get("a").data());
        assertArrayEquals(new float[] {1f, -2f, 0x1p-24f}, c.tensors().get("h").data());
        assertArrayEquals(new float[] {1f, -5f}, c.tensors().get("b").data());
        assertTrue(c.metadata().isEmpty());
    }

    static Stream<Object[]> corrupt() {
        String ok = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
        byte[] data = floats(1f, 2f);
        byte[] good = file(ok, data);
        byte[] hugeLength = good.clone();
        ByteBuffer.wrap(hugeLength).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1L << 40);
        byte[] pastEnd = good.clone();
        ByteBuffer.wrap(pastEnd).order(ByteOrder.LITTLE_ENDIAN).putLong(0, good.length);
        return Stream.of(
            new Object[] {"shorter than 8 bytes", new byte[] {1, 2, 3}, "truncated"},
            new Object[] {"header length absurd", hugeLength, "header length"},
            new Object[] {"header length past the end", pastEnd, "exceeds"},
            new Object[] {"truncated data", java.util.Arrays.copyOf(good, good.length - 3), "truncated"},
            new Object[] {"trailing bytes", file(ok, floats(1f, 2f, 3f)), "tensors cover 8"},
            new Object[] {"malformed JSON", file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]", data), "well-formed JSON"},
            new Object[] {"not an object", file("[1,2]", data), "start with '{'"},
            new Object[] {"duplicate key", file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                    + "\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", data), "duplicate key"},
            new Object[] {"shape does not match span", file("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],"
                    + "\"data_offsets\":[0,8]}}", data), "tensor 'w'"},
            new Object[] {"overlapping", file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                    + "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", data), "overlap"},
            new Object[] {"hole", file("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", data), "hole"},
            new Object[] {"integer dtype", file("{\"w\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", data),
                    "has dtype I64"},
            new Object[] {"unknown dtype", file("{\"w\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", data),
                    "unknown dtype 'F33'"},
            new Object[] {"negative offset", file("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}",
                    data), "data_offsets"},
            new Object[] {"metadata not strings", file("{\"__metadata__\":{\"a\":1},"
                    + "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", data), "__metadata__"});
    }

    @org.junit.jupiter.params.ParameterizedTest(name = "{0}")
    @org.junit.jupiter.params.provider.MethodSource("corrupt")
    void corruptFilesAreRefusedWithTheFileNamed(String what, byte[] bytes, String expected) throws IOException {
        Path p = dir.resolve("bad.safetensors");
        Files.write(p, bytes);
        IOException e = assertThrows(IOException.class, () -> SafeTensors.read(p), what);
        assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
        assertTrue(e.getMessage().contains(expected), what + ": " + e.getMessage());
    }

    @Test
    void aFailedWriteLeavesTheOldFileAndNoTemporaryFile() throws IOException {
        Path p = dir.resolve("model.safetensors");
        SafeTensors.write(p, Map.of("w", new HostTensor(new int[] {2}, new float[] {1f, 2f})), Map.of());
        byte[] before = Files.readAllBytes(p);
        IOException e = assertThrows(IOException.class, () -> SafeTensors.writeAtomically(p, ch -> {
            ch.write(ByteBuffer.wrap(new byte[] {9, 9, 9, 9}));
            throw new IOException("disk full (simulated)");
        }));
        assertTrue(e.getMessage().contains("disk full"), e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(p));
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(p), files.toList(), "no temporary file left behind");
        }
        assertThrows(IOException.class, () -> SafeTensors.write(dir.resolve("missing/dir/x.safetensors"),
                Map.of("w", new HostTensor(new int[] {1}, new float[] {1f})), Map.of()));
    }
}
