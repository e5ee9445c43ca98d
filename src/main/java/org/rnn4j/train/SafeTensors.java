package org.rnn4j.train;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * The safetensors file format (Hugging Face), read and written in plain Java:
 * <pre>
 *   8 bytes   N, the header length, unsigned little-endian
 *   N bytes   UTF-8 JSON: {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *             "__metadata__": {"key": "value", ...}}, padded with spaces to a multiple of 8
 *   rest      the tensors' bytes, little-endian, row-major; offsets count from the start of this part
 * </pre>
 * Written tensors are F32, laid out in the order given. Reading accepts F32, and converts F64, F16 and
 * BF16 to float32 (as PyTorch's {@code load_state_dict} copies across dtypes); integer and boolean
 * tensors are refused. Reading validates everything before returning anything: the header length
 * against the file size, the JSON, each entry's fields, the dtype, that {@code shape} product × element
 * size equals its byte span, and that the spans tile the data part exactly (in range, no overlap, no
 * hole). A violation is an {@link IOException} naming the file and the tensor.
 *
 * <p>Integrity: safetensors has no checksum, so {@link #write} stores a CRC-32C of each tensor's raw
 * bytes in the metadata, under {@code crc32c:<tensor name>} as 8 lowercase hex digits (the metadata stays
 * a string-to-string map, so PyTorch and every other reader still take the file). {@link #read} checks
 * every stored digest and refuses a mismatch, naming the tensor: any single-bit flip, and any burst of up
 * to 32 bits, in a tensor's data is caught. The digest entries are reserved (a caller's metadata may not
 * use the prefix) and are not returned in {@link Contents#metadata()}. A file without digests (written by
 * PyTorch) is read with the structural checks only; a file with some digests must have one for every
 * tensor, and one of its header.
 *
 * <p>The header's digest, {@code crc32c:__metadata__}, covers everything else the header says: every
 * metadata entry but itself (the tensors' digests included) and every tensor's name, dtype, shape and
 * offsets, so an edited configuration or training state, or two tensors' names swapped, are refused as
 * damage. It is taken over a canonical form (metadata sorted by key, tensors by offset, each string
 * length-prefixed UTF-8), so a reader that rewrites the JSON in another order or spacing keeps it valid.
 *
 * <p>{@link #write} is atomic: it writes a temporary file in the target's directory, forces it to
 * disk, then renames it over the target, so a failure leaves the previous file as it was. A replaced file
 * keeps its permissions; a new one gets the process's default (the umask). Temporary files left by an
 * earlier save of the same target that was killed mid-write are deleted by the next save.
 */
public final class SafeTensors {
    /** Refuse headers above this, as the reference implementation does. */
    static final long MAX_HEADER = 100_000_000L;
    private static final String METADATA = "__metadata__";
    /** Metadata key prefix of the per-tensor CRC-32C digests. */
    public static final String DIGEST_PREFIX = "crc32c:";
    private static final String NO_DIGEST = "00000000";
    /** Metadata key of the header's digest (no tensor may be named {@value #METADATA}). */
    static final String HEADER_DIGEST = DIGEST_PREFIX + METADATA;

    private SafeTensors() {
    }

    /** A tensor on the host: its shape and float32 values, row-major. */
    public record HostTensor(int[] shape, float[] data) {
        public HostTensor {
            if (shape == null || data == null) {
                throw new IllegalArgumentException((shape == null ? "shape" : "data") + ": expected an array, got null");
            }
            long n = 1;
            for (int d : shape) {
                if (d < 0) {
                    throw new IllegalArgumentException("shape: expected dimensions >= 0, got " + Arrays.toString(shape));
                }
                n *= d;
            }
            if (n != data.length) {
                throw new IllegalArgumentException("data: expected " + n + " values for shape " + Arrays.toString(shape)
                        + ", got " + data.length);
            }
        }

        /** The index of the first NaN or infinite value, or −1 when all are finite. */
        public int firstNonFinite() {
            for (int i = 0; i < data.length; i++) {
                if (!Float.isFinite(data[i])) {
                    return i;
                }
            }
            return -1;
        }
    }

    /** What a file holds: tensors in file-header order, and the {@code __metadata__} map (empty when absent). */
    public record Contents(Map<String, HostTensor> tensors, Map<String, String> metadata) {
    }

    /** Writes the tensor bytes in order, for {@link #writeTensors}. */
    interface DataSource {
        float[] values(String name);
    }

    /** Writes a whole file to an open channel (used by {@link #writeAtomically}). */
    interface ChannelWriter {
        void write(FileChannel channel) throws IOException;
    }

    // ------------------------------------------------------------------ writing

    /** Writes host tensors (F32) and metadata to {@code file} atomically. */
    public static void write(Path file, Map<String, HostTensor> tensors, Map<String, String> metadata) throws IOException {
        if (tensors == null) {
            throw new IllegalArgumentException("tensors: expected a map of named tensors, got null");
        }
        Map<String, int[]> shapes = new LinkedHashMap<>();
        tensors.forEach((name, t) -> shapes.put(name, t.shape()));
        writeTensors(file, shapes, name -> tensors.get(name).data(), metadata);
    }

    /**
     * Writes tensors whose values are fetched one at a time (so a checkpoint holds one tensor on the host at
     * once). The header goes first with placeholder digests of the same width, then the data, computing each
     * tensor's CRC-32C as it goes, then the header again with the real digests.
     */
    static void writeTensors(Path file, Map<String, int[]> shapes, DataSource data, Map<String, String> metadata)
            throws IOException {
        Map<String, String> meta = new LinkedHashMap<>();
        if (metadata != null) {
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                if (e.getKey() != null && e.getKey().startsWith(DIGEST_PREFIX)) {
                    throw new IllegalArgumentException("metadata: keys starting with '" + DIGEST_PREFIX
                            + "' are reserved for the tensors' digests, got '" + e.getKey() + "'");
                }
                meta.put(e.getKey(), e.getValue());
            }
        }
        for (String name : shapes.keySet()) {
            meta.put(DIGEST_PREFIX + name, NO_DIGEST);
        }
        meta.put(HEADER_DIGEST, NO_DIGEST);
        int headerLength = header(shapes, meta).length;
        writeAtomically(file, ch -> {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(headerLength).flip();
            writeFully(ch, len);
            ch.position(8 + headerLength);
            CRC32C crc = new CRC32C();
            for (Map.Entry<String, int[]> e : shapes.entrySet()) {
                float[] v = data.values(e.getKey());
                long expected = elements(e.getValue());
                if (v.length != expected) {
                    throw new IllegalStateException("tensor '" + e.getKey() + "': expected " + expected
                            + " values, got " + v.length);
                }
                crc.reset();
                int chunk = 1 << 16;
                ByteBuffer buf = ByteBuffer.allocate(4 * Math.min(chunk, Math.max(v.length, 1))).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < v.length; i += chunk) {
                    buf.clear();
                    int n = Math.min(chunk, v.length - i);
                    buf.asFloatBuffer().put(v, i, n);
                    buf.limit(4 * n);
                    crc.update(buf.duplicate());
                    writeFully(ch, buf);
                }
                meta.put(DIGEST_PREFIX + e.getKey(), hex(crc));
            }
            List<Entry> entries = new ArrayList<>();
            long offset = 0;
            for (Map.Entry<String, int[]> e : shapes.entrySet()) {
                long bytes = 4 * elements(e.getValue());
                entries.add(new Entry(e.getKey(), "F32", e.getValue(), offset, offset + bytes));
                offset += bytes;
            }
            meta.put(HEADER_DIGEST, headerDigest(meta, entries));
            byte[] header = header(shapes, meta);
            if (header.length != headerLength) {
                throw new IllegalStateException("header length changed from " + headerLength + " to " + header.length);
            }
            ByteBuffer h = ByteBuffer.wrap(header);
            while (h.hasRemaining()) {
                ch.write(h, 8 + h.position());
            }
        });
    }

    /** The CRC-32C of the header's canonical form: metadata but {@link #HEADER_DIGEST} by key, tensors by offset. */
    private static String headerDigest(Map<String, String> metadata, List<Entry> entries) {
        CRC32C crc = new CRC32C();
        List<String> keys = new ArrayList<>(metadata.keySet());
        keys.remove(HEADER_DIGEST);
        Collections.sort(keys);
        for (String k : keys) {
            update(crc, k);
            update(crc, metadata.get(k));
        }
        List<Entry> byOffset = new ArrayList<>(entries);
        byOffset.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        for (Entry e : byOffset) {
            update(crc, e.name());
            update(crc, e.dtype());
            update(crc, Arrays.toString(e.shape()));
            update(crc, e.begin() + "," + e.end());
        }
        return hex(crc);
    }

    /** A length-prefixed string, so that no two different sequences of strings digest the same bytes. */
    private static void update(CRC32C crc, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        crc.update(ByteBuffer.allocate(4).putInt(b.length).flip());
        crc.update(b);
    }

    private static String hex(CRC32C crc) {
        return String.format("%08x", crc.getValue());
    }

    /** The JSON header, padded with spaces to a multiple of 8 bytes. */
    static byte[] header(Map<String, int[]> shapes, Map<String, String> metadata) {
        StringBuilder j = new StringBuilder("{");
        boolean first = true;
        if (metadata != null && !metadata.isEmpty()) {
            j.append(MiniJson.quote(METADATA)).append(":{");
            boolean firstMeta = true;
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                if (e.getKey() == null || e.getValue() == null) {
                    throw new IllegalArgumentException("metadata: expected non-null keys and values, got "
                            + e.getKey() + "=" + e.getValue());
                }
                j.append(firstMeta ? "" : ",").append(MiniJson.quote(e.getKey())).append(':')
                        .append(MiniJson.quote(e.getValue()));
                firstMeta = false;
            }
            j.append('}');
            first = false;
        }
        long offset = 0;
        for (Map.Entry<String, int[]> e : shapes.entrySet()) {
            String name = e.getKey();
            if (name == null || name.isEmpty() || name.equals(METADATA)) {
                throw new IllegalArgumentException("tensors: expected non-empty names other than " + METADATA + ", got '"
                        + name + "'");
            }
            long bytes = 4 * elements(e.getValue());
            j.append(first ? "" : ",").append(MiniJson.quote(name)).append(":{\"dtype\":\"F32\",\"shape\":[");
            int[] shape = e.getValue();
            for (int i = 0; i < shape.length; i++) {
                j.append(i == 0 ? "" : ",").append(shape[i]);
            }
            j.append("],\"data_offsets\":[").append(offset).append(',').append(offset + bytes).append("]}");
            offset += bytes;
            first = false;
        }
        j.append('}');
        byte[] raw = j.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (raw.length + 7) / 8 * 8;
        byte[] out = Arrays.copyOf(raw, padded);
        Arrays.fill(out, raw.length, padded, (byte) ' ');
        return out;
    }

    /**
     * Writes {@code file} through {@code writer} into a temporary file in the same directory, forces it to
     * disk, and renames it over {@code file} (atomically where the file system can). On any failure the
     * temporary file is deleted and {@code file} is left as it was.
     */
    static void writeAtomically(Path file, ChannelWriter writer) throws IOException {
        if (file == null) {
            throw new IllegalArgumentException("file: expected a path, got null");
        }
        Path target = file.toAbsolutePath();
        if (Files.isDirectory(target)) {
            throw new IllegalArgumentException("file: expected a file to write, got the directory " + target);
        }
        Path dir = target.getParent();
        if (!Files.isDirectory(dir)) {
            throw new IOException("could not write " + target + ": its directory " + dir + " does not exist");
        }
        removeStaleTemporaries(dir, target.getFileName().toString());
        Path tmp = temporary(dir, target.getFileName().toString());
        boolean done = false;
        try {
            // created without explicit permissions, so the umask applies, as for any new file
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.CREATE_NEW)) {
                keepPermissions(target, tmp);
                writer.write(ch);
                ch.force(true);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            done = true;
            syncDirectory(dir);
        } catch (IOException | RuntimeException | Error e) {
            if (!done) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            if (e instanceof IOException io) {
                throw new IOException("could not write " + target + ": " + reason(io), io);
            }
            throw e;
        }
    }

    /** {@code .<name>.<random digits>.tmp}: hidden, next to the target, recognisable by {@link #isTemporaryOf}. */
    private static Path temporary(Path dir, String name) {
        long id = java.util.concurrent.ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE;
        return dir.resolve("." + name + "." + id + ".tmp");
    }

    static boolean isTemporaryOf(String candidate, String name) {
        String head = "." + name + ".";
        if (!candidate.startsWith(head) || !candidate.endsWith(".tmp")) {
            return false;
        }
        String id = candidate.substring(head.length(), candidate.length() - ".tmp".length());
        return !id.isEmpty() && id.chars().allMatch(Character::isDigit);
    }

    /** Deletes what saves of this target that were killed mid-write left behind (best effort). */
    private static void removeStaleTemporaries(Path dir, String name) {
        try (java.util.stream.Stream<Path> files = Files.list(dir)) {
            for (Path p : (Iterable<Path>) files::iterator) {
                if (isTemporaryOf(p.getFileName().toString(), name) && Files.isRegularFile(p)) {
                    Files.deleteIfExists(p);
                }
            }
        } catch (IOException | UncheckedIOException ignored) {
            // an unreadable directory or a vanished file: the write below reports what matters
        }
    }

    /** A replaced file keeps its POSIX permissions (where the file system has them). */
    private static void keepPermissions(Path target, Path tmp) throws IOException {
        if (!Files.exists(target)) {
            return;
        }
        try {
            Files.setPosixFilePermissions(tmp, Files.getPosixFilePermissions(target));
        } catch (UnsupportedOperationException notPosix) {
            // nothing to keep
        }
    }

    /** What went wrong, without the temporary file's name (the user knows the target, not our temporary). */
    private static String reason(IOException e) {
        if (e instanceof FileSystemException fs) {
            String why = fs.getReason() != null ? fs.getReason() : fs.getClass().getSimpleName()
                    .replace("Exception", "").replaceAll("([a-z])([A-Z])", "$1 $2").toLowerCase(java.util.Locale.ROOT);
            return why;
        }
        return e.getMessage();
    }

    /** Makes the rename durable where the platform allows opening a directory (Linux); elsewhere a no-op. */
    private static void syncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // not supported here (e.g. Windows); the file itself was forced
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    // ------------------------------------------------------------------ reading

    /** The header of one tensor entry, validated. */
    private record Entry(String name, String dtype, int[] shape, long begin, long end) {
    }

    /**
     * Reads and validates the whole file.
     *
     * @throws IOException naming the file (and the tensor) when it cannot be read, is truncated or corrupt,
     *         or holds a dtype other than F32, F64, F16 or BF16
     */
    public static Contents read(Path file) throws IOException {
        if (file == null) {
            throw new IllegalArgumentException("file: expected a path, got null");
        }
        if (Files.isDirectory(file)) {
            throw new IllegalArgumentException("file: expected a safetensors file, got the directory " + file);
        }
        FileChannel opened;
        try {
            opened = FileChannel.open(file, StandardOpenOption.READ);
        } catch (IOException e) {
            throw new IOException("could not read " + file + ": " + reason(e), e);
        }
        try (FileChannel ch = opened) {
            long size = ch.size();
            if (size < 8) {
                throw corrupt(file, "truncated: " + size + " bytes, shorter than the 8-byte header length");
            }
            ByteBuffer lenBuf = readAt(ch, 0, 8, file);
            long n = lenBuf.order(ByteOrder.LITTLE_ENDIAN).getLong();
            if (n < 2 || n > MAX_HEADER) {
                throw corrupt(file, "header length " + Long.toUnsignedString(n) + " is not in [2, " + MAX_HEADER + "]");
            }
            if (n > size - 8) {
                throw corrupt(file, "truncated: header length " + n + " exceeds the " + (size - 8)
                        + " bytes that follow it");
            }
            ByteBuffer headerBytes = readAt(ch, 8, (int) n, file);
            String json;
            try {
                json = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(headerBytes).toString();
            } catch (CharacterCodingException e) {
                throw corrupt(file, "header is not valid UTF-8");
            }
            if (!json.startsWith("{")) {
                throw corrupt(file, "header does not start with '{'");
            }
            Object parsed;
            try {
                parsed = MiniJson.parse(json);
            } catch (MiniJson.ParseException e) {
                throw corrupt(file, "header is not well-formed JSON: " + e.getMessage());
            }
            if (!(parsed instanceof Map<?, ?> top)) {
                throw corrupt(file, "header is not a JSON object");
            }
            long dataStart = 8 + n;
            long dataLen = size - dataStart;
            Map<String, String> metadata = new LinkedHashMap<>();
            List<Entry> entries = new ArrayList<>();
            for (Map.Entry<?, ?> e : top.entrySet()) {
                String name = (String) e.getKey();
                if (name.equals(METADATA)) {
                    metadata = metadata(file, e.getValue());
                } else {
                    entries.add(entry(file, name, e.getValue()));
                }
            }
            checkHeaderDigest(file, metadata, entries);
            // the spans must tile [0, dataLen) exactly
            List<Entry> byOffset = new ArrayList<>(entries);
            byOffset.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
            long at = 0;
            for (Entry e : byOffset) {
                if (e.begin() != at) {
                    throw corrupt(file, "tensor '" + e.name() + "': data_offsets [" + e.begin() + ", " + e.end() + "] "
                            + (e.begin() < at ? "overlap the previous tensor, which ends at " + at
                            : "leave a hole after byte " + at));
                }
                if (e.end() > dataLen) {
                    throw corrupt(file, "truncated: tensor '" + e.name() + "' ends at data byte " + e.end()
                            + " but the data part holds " + dataLen + " bytes");
                }
                at = e.end();
            }
            if (at != dataLen) {
                throw corrupt(file, "the data part holds " + dataLen + " bytes but the tensors cover " + at);
            }
            Map<String, String> digests = digests(file, metadata, entries);
            Map<String, HostTensor> tensors = new LinkedHashMap<>();
            CRC32C crc = new CRC32C();
            for (Entry e : entries) {
                ByteBuffer raw = readAt(ch, dataStart + e.begin(), Math.toIntExact(e.end() - e.begin()), file);
                String stored = digests.get(e.name());
                if (stored != null) {
                    crc.reset();
                    crc.update(raw.duplicate());
                    if (!stored.equals(hex(crc))) {
                        throw corrupt(file, "tensor '" + e.name() + "': its data does not match the stored CRC-32C "
                                + stored + " (computed " + hex(crc) + "): the file was damaged after it was written");
                    }
                }
                tensors.put(e.name(), new HostTensor(e.shape(), decode(e.dtype(), raw.order(ByteOrder.LITTLE_ENDIAN))));
            }
            return new Contents(Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata));
        }
    }

    /** Refuses a header whose digest does not match it, or a file with tensor digests and no header digest. */
    private static void checkHeaderDigest(Path file, Map<String, String> metadata, List<Entry> entries) throws IOException {
        String stored = metadata.get(HEADER_DIGEST);
        if (stored == null) {
            for (String k : metadata.keySet()) {
                if (k.startsWith(DIGEST_PREFIX)) {
                    throw corrupt(file, "the header has tensor digests (" + k + ") but no " + HEADER_DIGEST
                            + " digest of its own: it was damaged or edited");
                }
            }
            return;
        }
        String computed = headerDigest(metadata, entries);
        if (!stored.equals(computed)) {
            throw corrupt(file, "the header does not match its stored CRC-32C " + stored + " (computed " + computed
                    + "): its metadata or tensor names, shapes or offsets were damaged or edited after it was written");
        }
    }

    /**
     * Takes the digest entries out of {@code metadata}: none (an unchecked file), or exactly one well-formed
     * digest per tensor (the header's own was checked by {@link #checkHeaderDigest}).
     */
    private static Map<String, String> digests(Path file, Map<String, String> metadata, List<Entry> entries)
            throws IOException {
        Map<String, String> digests = new LinkedHashMap<>();
        metadata.remove(HEADER_DIGEST);
        metadata.entrySet().removeIf(e -> {
            if (e.getKey().startsWith(DIGEST_PREFIX)) {
                digests.put(e.getKey().substring(DIGEST_PREFIX.length()), e.getValue());
                return true;
            }
            return false;
        });
        if (digests.isEmpty()) {
            return digests;
        }
        java.util.Set<String> names = new java.util.HashSet<>();
        for (Entry e : entries) {
            names.add(e.name());
            String d = digests.get(e.name());
            if (d == null) {
                throw corrupt(file, "tensor '" + e.name() + "' has no " + DIGEST_PREFIX + " digest while others do");
            }
            if (!d.matches("[0-9a-f]{8}")) {
                throw corrupt(file, "tensor '" + e.name() + "': digest '" + d + "' is not 8 lowercase hex digits");
            }
        }
        for (String name : digests.keySet()) {
            if (!names.contains(name)) {
                throw corrupt(file, METADATA + " has a digest for '" + name + "', which is not a tensor of the file");
            }
        }
        return digests;
    }

    private static Map<String, String> metadata(Path file, Object v) throws IOException {
        if (!(v instanceof Map<?, ?> m)) {
            throw corrupt(file, METADATA + " is not a JSON object of strings");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : m.entrySet()) {
            if (!(e.getValue() instanceof String s)) {
                throw corrupt(file, METADATA + "['" + e.getKey() + "'] is not a string");
            }
            out.put((String) e.getKey(), s);
        }
        return out;
    }

    private static Entry entry(Path file, String name, Object v) throws IOException {
        String where = "tensor '" + name + "': ";
        if (!(v instanceof Map<?, ?> m)) {
            throw corrupt(file, where + "expected an object with dtype, shape and data_offsets");
        }
        for (Object key : m.keySet()) {
            if (!key.equals("dtype") && !key.equals("shape") && !key.equals("data_offsets")) {
                throw corrupt(file, where + "unknown field '" + key + "'");
            }
        }
        if (!(m.get("dtype") instanceof String dtype)) {
            throw corrupt(file, where + "missing or non-string dtype");
        }
        int size = elementSize(dtype);
        if (size < 0) {
            throw corrupt(file, where + "unknown dtype '" + dtype + "'");
        }
        if (size == 0) {
            throw new IOException(file + ": tensor '" + name + "' has dtype " + dtype
                    + "; only F32 (and F64, F16, BF16, converted to F32) can be loaded into parameters");
        }
        long[] shapeL = longs(file, where + "shape", m.get("shape"), -1);
        long[] offs = longs(file, where + "data_offsets", m.get("data_offsets"), 2);
        int[] shape = new int[shapeL.length];
        long count = 1;
        for (int i = 0; i < shape.length; i++) {
            if (shapeL[i] > Integer.MAX_VALUE) {
                throw corrupt(file, where + "dimension " + shapeL[i] + " is too large");
            }
            shape[i] = (int) shapeL[i];
            try {
                count = Math.multiplyExact(count, shapeL[i]);
            } catch (ArithmeticException overflow) {
                count = -1;
            }
            if (count < 0 || count > Integer.MAX_VALUE) {
                throw corrupt(file, where + "shape " + Arrays.toString(shape) + " has too many elements");
            }
        }
        if (offs[0] > offs[1]) {
            throw corrupt(file, where + "data_offsets [" + offs[0] + ", " + offs[1] + "] are reversed");
        }
        if (count * size != offs[1] - offs[0]) {
            throw corrupt(file, where + "shape " + Arrays.toString(shape) + " of " + dtype + " needs " + count * size
                    + " bytes but data_offsets [" + offs[0] + ", " + offs[1] + "] span " + (offs[1] - offs[0]));
        }
        return new Entry(name, dtype, shape, offs[0], offs[1]);
    }

    private static long[] longs(Path file, String what, Object v, int expectedLength) throws IOException {
        if (!(v instanceof List<?> list) || (expectedLength >= 0 && list.size() != expectedLength)) {
            throw corrupt(file, what + ": expected " + (expectedLength >= 0 ? expectedLength + " " : "")
                    + "non-negative integers in an array, got " + v);
        }
        long[] out = new long[list.size()];
        for (int i = 0; i < out.length; i++) {
            if (!(list.get(i) instanceof Long l) || l < 0) {
                throw corrupt(file, what + ": expected non-negative integers, got " + list);
            }
            out[i] = l;
        }
        return out;
    }

    /** Bytes per element: 4, 8 or 2 for the float types we read, 0 for known types we refuse, −1 for unknown. */
    private static int elementSize(String dtype) {
        return switch (dtype) {
            case "F32" -> 4;
            case "F64" -> 8;
            case "F16", "BF16" -> 2;
            case "BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "I32", "U32", "I64", "U64" -> 0;
            default -> -1;
        };
    }

    private static float[] decode(String dtype, ByteBuffer b) {
        int bytes = b.remaining();
        switch (dtype) {
            case "F32": {
                float[] out = new float[bytes / 4];
                b.asFloatBuffer().get(out);
                return out;
            }
            case "F64": {
                float[] out = new float[bytes / 8];
                for (int i = 0; i < out.length; i++) {
                    out[i] = (float) b.getDouble();
                }
                return out;
            }
            case "BF16": {
                float[] out = new float[bytes / 2];
                for (int i = 0; i < out.length; i++) {
                    out[i] = Float.intBitsToFloat((b.getShort() & 0xFFFF) << 16);
                }
                return out;
            }
            case "F16": {
                float[] out = new float[bytes / 2];
                for (int i = 0; i < out.length; i++) {
                    out[i] = halfToFloat(b.getShort());
                }
                return out;
            }
            default:
                throw new IllegalStateException("dtype " + dtype);
        }
    }

    /** IEEE 754 binary16 to float32, exact (subnormals, infinities and NaN included). */
    static float halfToFloat(short h) {
        int bits = h & 0xFFFF;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1F;
        int mant = bits & 0x3FF;
        if (exp == 0x1F) {
            return Float.intBitsToFloat(sign | 0x7F800000 | (mant << 13));
        }
        if (exp == 0) {
            float v = mant * 0x1p-24f;
            return sign == 0 ? v : -v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    private static ByteBuffer readAt(FileChannel ch, long position, int n, Path file) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            int r = ch.read(b, position + b.position());
            if (r < 0) {
                throw corrupt(file, "truncated: unexpected end of file at byte " + (position + b.position()));
            }
        }
        return b.flip();
    }

    private static long elements(int[] shape) {
        long n = 1;
        for (int d : shape) {
            n = Math.multiplyExact(n, (long) d);
        }
        return n;
    }

    private static IOException corrupt(Path file, String what) {
        return new IOException(file + ": not a valid safetensors file: " + what);
    }
}
