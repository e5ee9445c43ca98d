package org.rnn4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.rnn4j.CellType;
import org.rnn4j.DType;
import org.rnn4j.Device;
import org.rnn4j.engine.Buffer;
import org.rnn4j.engine.Pointwise;
import org.rnn4j.engine.Recurrence;
import org.rnn4j.engine.StepArgs;

/**
 * Without a GPU: every kernel launch the engine makes is recorded and its parameter list compared
 * with the kernel's C signature in {@code kernels/*.cu}; grids are checked against ABI.md; and
 * {@code gemm} is run through an emulated column-major cuBLAS over host arrays and compared with
 * a row-major product, which checks the operand swap, the flags and the leading dimensions.
 */
class KernelAbiTest {

    record Launch(Kernel kernel, int grid, int threads, List<String> types) {
    }

    private final List<Launch> launches = new ArrayList<>();
    private final HostCublas cublas = new HostCublas();
    private final DevicePool pool = new DevicePool(new DevicePoolTest.FakeDevice(1L << 40));
    private final CudaEngine engine = CudaEngine.forArgumentTests(
            (k, grid, threads, args) -> launches.add(new Launch(k, grid, threads, args.types())), cublas, pool);

    private CudaBuffer f32(long n) {
        return engine.testBuffer(DType.F32, n);
    }

    private Launch only() {
        assertEquals(1, launches.size(), "launches: " + launches);
        Launch l = launches.get(0);
        launches.clear();
        return l;
    }

    /** {@code kernels/*.cu} signatures: symbol → parameter types (int, long long, unsigned long long, float, ptr). */
    static Map<String, List<String>> kernelSignatures(Path dir) throws IOException {
        Pattern kernel = Pattern.compile(
                "extern\\s+\"C\"\\s+__global__\\s+void\\s+(?:__launch_bounds__\\([^)]*\\)\\s+)?(rnn4j_\\w+)\\s*\\(([^)]*)\\)");
        Map<String, List<String>> out = new TreeMap<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.cu")) {
            for (Path f : files) {
                String src = Files.readString(f).replaceAll("//[^\\n]*", "");
                Matcher m = kernel.matcher(src);
                while (m.find()) {
                    List<String> types = new ArrayList<>();
                    for (String param : m.group(2).split(",")) {
                        String p = param.trim().replaceAll("\\s+", " ");
                        if (p.isEmpty()) {
                            continue;
                        }
                        if (p.contains("*")) {
                            types.add("ptr");
                        } else {
                            String type = p.substring(0, p.lastIndexOf(' ')).replace("const ", "").trim();
                            types.add(type);
                        }
                    }
                    out.put(m.group(1), types);
                }
            }
        }
        return out;
    }

    @Test
    void everyLaunchMatchesTheKernelSignatureInTheSources() throws IOException {
        Path dir = Path.of("kernels");
        assumeTrue(Files.isDirectory(dir), "kernels/ sources not present (run from the repository root)");
        Map<String, List<String>> signatures = kernelSignatures(dir);

        Map<Kernel, Launch> seen = new EnumMap<>(Kernel.class);
        int batch = 3;
        int hidden = 33;
        StepArgs a = fullStepArgs(batch, hidden);
        engine.lstmForward(a);
        engine.lstmBackward(a);
        engine.gruForward(a);
        engine.gruBackward(a);
        engine.gruResetBeforeGates(a);
        engine.gruResetBeforeOutput(a);
        engine.gruResetBeforeBackwardOutput(a);
        engine.gruResetBeforeBackwardGates(a);
        engine.rnnForward(a);
        engine.rnnBackward(a);
        for (Launch l : launches) {
            assertEquals((batch * hidden + 255) / 256, l.grid(), l.kernel() + ": one thread per (b, j)");
            assertEquals(256, l.threads());
        }
        record(seen);

        CudaBuffer x = f32(1000);
        CudaBuffer y = f32(1000);
        CudaBuffer lengths = engine.testBuffer(DType.I32, 4);
        engine.lstmPeepholeGrad(5, 7, x, 0, y, 0, x, 10, y, 20);
        engine.sumRows(4, 9, x, 0, 9, y, 0);
        engine.axpby(100, 2f, x, 0, 0.5f, y, 0);
        engine.clamp(100, x, 0, -1f, 1f);
        engine.swapLeadingAxes(2, 3, 4, x, 0, y, 0);
        engine.reverseSequences(5, 4, 3, lengths, x, 0, 3, y, 0, 6, true);
        engine.seedStateGrad(5, 4, 3, null, x, 0, 3, null, 0, y, 0);
        engine.maskedUpdate(4, 3, 2, lengths, x, 0, x, 12, y, 0, y, 100, 6);
        engine.dropout(100, 0.25f, null, 0, -7L, x, 0, y, 0);
        engine.gatherRows(4, 5, lengths, 0, x, 0, y, 0);
        engine.scatterAddRows(4, 5, lengths, 0, x, 0, y, 0);
        engine.softmaxCrossEntropy(6, 10, x, 0, lengths, 0, y, 0, null, 0, 0.5f);
        engine.adamStep(100, x, y, x, y, x, 0.9f, 0.999f, 1e-8f, 0f, true);
        engine.sgdStep(100, x, y, null, x, 0f, 0f, false);
        engine.clipGlobalNorm(new Buffer[] {x, y}, new long[] {100, 0}, 1.0, engine.testBuffer(DType.I32, 2000));
        engine.copyRows(4, 5, x, 0, 9, y, 3, 7, true);
        engine.pointwise(Pointwise.MUL, 100, x, 0, y, 0, 10, y, 200);
        engine.maskedSoftmax(6, 10, 3, lengths, x, 0, y, 0);
        engine.maskedSoftmaxBackward(6, 10, 3, null, x, 0, y, 100, y, 300);
        CudaBuffer half = engine.testBuffer(DType.BF16, 100);
        engine.toBf16(4, 5, x, 0, 9, half, 3);
        engine.fromBf16(20, half, 3, y, 0);
        record(seen);

        PersistentRecurrence persistent = new PersistentRecurrence(engine, 132, 232448, null);
        Recurrence loop = new Recurrence();
        loop.cell = CellType.LSTM;
        loop.steps = 4;
        loop.batch = batch;
        loop.hidden = hidden;
        loop.stateSize = hidden;
        loop.lengths = lengths;
        loop.whh = f32(4L * hidden * hidden);
        loop.xp = f32(4L * 4 * batch * hidden);
        loop.hs = f32(5L * batch * hidden);
        loop.cs = f32(5L * batch * hidden);
        loop.out = f32(4L * batch * hidden);
        loop.outLd = hidden;
        loop.saved = f32(4L * 4 * batch * hidden);
        loop.dH = f32(4L * batch * hidden);
        loop.dc = f32((long) batch * hidden);
        loop.dGx = loop.saved;
        loop.dGh = loop.dGx;
        loop.dh0 = loop.dc;
        PersistentRecurrence.Plan plan = new PersistentRecurrence.Plan(2, 17, 32, 4 * 2 * hidden * 4, null);
        for (CellType cell : CellType.values()) {
            for (boolean resetAfter : new boolean[] {true, false}) {
                loop.cell = cell;
                loop.resetAfter = resetAfter;
                for (Recurrence.Pass pass : Recurrence.Pass.values()) {
                    loop.pass = pass;
                    assertTrue(persistent.run(loop, plan), cell + " " + pass + ": launched");
                }
            }
        }
        for (Launch l : launches) {
            assertEquals(17, l.grid(), l.kernel() + ": the plan's CTAs");
            assertEquals(32, l.threads(), l.kernel() + ": the plan's threads");
        }
        record(seen);

        Set<Kernel> hostOnly = EnumSet.of(
                Kernel.FILL,          // fill is a 32-bit memset, no kernel
                Kernel.NON_FINITE);   // launched with a copy back, not runnable without a GPU
        for (Kernel k : Kernel.values()) {
            List<String> expected = signatures.get(k.symbol);
            assertNotNull(expected, k.symbol + " not found in kernels/*.cu");
            if (hostOnly.contains(k)) {
                continue;
            }
            Launch l = seen.get(k);
            assertNotNull(l, k + " was never launched");
            assertEquals(expected, l.types(), k.symbol + ": host parameters differ from the kernel's signature");
        }
        assertEquals(6, seen.get(Kernel.SOFTMAX_XENT).grid(), "one block per row");
        assertEquals(6, seen.get(Kernel.MASKED_SOFTMAX).grid(), "one block per row");
        assertEquals(6, seen.get(Kernel.MASKED_SOFTMAX_BACKWARD).grid(), "one block per row");
    }

    private void record(Map<Kernel, Launch> seen) {
        for (Launch l : launches) {
            seen.putIfAbsent(l.kernel(), l);
        }
        launches.clear();
    }

    private StepArgs fullStepArgs(int batch, int hidden) {
        StepArgs a = new StepArgs();
        a.batch = batch;
        a.hidden = hidden;
        a.step = 1;
        a.lengths = engine.testBuffer(DType.I32, batch);
        int gh = 4 * hidden;
        a.xp = f32((long) batch * gh);
        a.hp = f32((long) batch * gh);
        a.bih = f32(gh);
        a.bhh = f32(gh);
        a.peep = f32(3L * hidden);
        a.hPrev = f32((long) batch * hidden);
        a.hNext = f32((long) batch * hidden);
        a.cPrev = f32((long) batch * hidden);
        a.cNext = f32((long) batch * hidden);
        a.out = f32((long) batch * hidden * 2);
        a.outLd = 2 * hidden;
        a.saved = f32((long) batch * gh);
        a.dh = f32((long) batch * hidden);
        a.dc = f32((long) batch * hidden);
        a.dGx = f32((long) batch * gh);
        a.dGh = a.dGx;
        a.dhPrev = f32((long) batch * hidden);
        a.tmp = null;
        a.cellClip = 3f;
        a.coupled = true;
        return a;
    }

    @Test
    void theParameterBlockPointsEachEntryAtItsValueAndIsReusedInPlace() {
        KernelArgs args = new KernelArgs();
        args.reset().i32(-7).f32(1.5f).ptr(0x1234_5678_9abcL).u64(-2L).flag(true);
        com.sun.jna.Pointer array = new com.sun.jna.Pointer(args.kernelParams());
        assertEquals(-7, array.getPointer(0).getInt(0));
        assertEquals(1.5f, array.getPointer(8).getFloat(0));
        assertEquals(0x1234_5678_9abcL, array.getPointer(16).getLong(0));
        assertEquals(-2L, array.getPointer(24).getLong(0));
        assertEquals(1, array.getPointer(32).getInt(0));
        assertEquals(List.of("int", "float", "ptr", "unsigned long long", "int"), args.types());
        long before = args.kernelParams();
        args.reset().ptr(KernelArgs.NULL);
        assertEquals(before, args.kernelParams(), "one block, built once");
        assertEquals(0L, array.getPointer(0).getLong(0));
        assertEquals(List.of("ptr"), args.types());
    }

    @Test
    void cellArgumentsFollowTheAbiOrderWithNullsAsNullPointers() {
        StepArgs a = new StepArgs();
        a.batch = 2;
        a.hidden = 5;
        a.xp = f32(40);
        a.xpOff = 3;
        List<String> asked = new ArrayList<>();
        KernelArgs args = CudaEngine.cellArgs(new KernelArgs(), a, (b, off, name) -> {
            asked.add(name + (b == null ? "=null" : "@" + off));
            return KernelArgs.NULL;
        });
        assertEquals(List.of("lengths=null", "xp@3", "hp=null", "bih=null", "bhh=null", "peep=null",
                "hPrev=null", "hNext=null", "cPrev=null", "cNext=null", "out=null", "saved=null",
                "dh=null", "dc=null", "dGx=null", "dGh=null", "dhPrev=null", "tmp=null"), asked);
        assertEquals(25, args.types().size());
    }

    @Test
    void columnSumsRunInTwoPhasesOverManyBlocksWithAPooledWorkspace() throws IOException {
        Path common = Path.of("kernels/common.cuh");
        assumeTrue(Files.isRegularFile(common), "kernels/ sources not present (run from the repository root)");
        assertTrue(Files.readString(common).contains("enum { ROW_CHUNK = " + org.rnn4j.engine.Engine.ROW_CHUNK + " };"),
                "kernels/common.cuh and Engine.ROW_CHUNK must agree");
        CudaBuffer src = f32(1);   // sizes only: nothing is read in argument tests
        CudaBuffer dst = f32(1);
        int rows = 6400;           // T·B of a bias gradient
        int cols = 1024;           // 4H
        int chunks = rows / 64;
        engine.sumRows(rows, cols, src, 0, cols, dst, 0);
        assertEquals(List.of(Kernel.SUM_ROWS_CHUNKS, Kernel.ADD_CHUNK_SUMS), launches.stream().map(Launch::kernel).toList());
        assertEquals(chunks * cols / 256, launches.get(0).grid(), "one work item per (chunk, column)");
        assertEquals(cols / 256, launches.get(1).grid(), "one per column");
        launches.clear();
        long inUse = pool.bytesInUse();
        long raw = pool.rawAllocations();
        for (int i = 0; i < 3; i++) {
            engine.lstmPeepholeGrad(rows, 256, src, 0, src, 0, src, 0, dst, 0);
            engine.sumRows(rows, cols, src, 0, cols, dst, 0);
        }
        assertEquals(inUse, pool.bytesInUse(), "workspaces go back to the pool");
        assertTrue(pool.rawAllocations() - raw <= 1, "workspaces come from the pool's cache");
        assertEquals(Kernel.LSTM_PEEPHOLE_CHUNKS, launches.get(0).kernel());
        assertEquals(chunks * 3 * 256 / 256, launches.get(0).grid());
        launches.clear();
        engine.sumRows(0, cols, src, 0, cols, dst, 0);
        engine.lstmPeepholeGrad(0, 5, src, 0, src, 0, src, 0, dst, 0);
        assertTrue(launches.isEmpty(), "no rows: nothing to add");
        // scatter: parts × columns work items; the result does not depend on parts (each table row has one owner)
        engine.scatterAddRows(rows, 256, src, 0, src, 0, dst, 0);
        assertEquals(256 * 256 / 256, only().grid());
        assertEquals(256, CudaEngine.scatterParts(rows, 256));
        assertEquals(64, CudaEngine.scatterParts(rows, 1024));
        assertEquals(3, CudaEngine.scatterParts(3, 16));
        assertEquals(1, CudaEngine.scatterParts(rows, 1 << 20));
    }

    /** StepArgs with only the sizes: the launch is recorded, no buffer is read. */
    private static StepArgs sizes(int batch, int hidden) {
        StepArgs a = new StepArgs();
        a.batch = batch;
        a.hidden = hidden;
        return a;
    }

    @Test
    void cellShapesBeyondThe32BitIndexRangeAreRefusedBeforeAnyLaunch() {
        int[][] refused = {{65536, 32768}, {2, Integer.MAX_VALUE / 2 + 1}, {1, (1 << 29)}, {Integer.MAX_VALUE, 2}};
        for (int[] s : refused) {
            for (Consumer<StepArgs> cellStep : List.<Consumer<StepArgs>>of(
                    engine::lstmForward, engine::lstmBackward, engine::gruForward, engine::gruBackward,
                    engine::gruResetBeforeGates, engine::gruResetBeforeOutput, engine::gruResetBeforeBackwardOutput,
                    engine::gruResetBeforeBackwardGates, engine::rnnForward, engine::rnnBackward)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> cellStep.accept(sizes(s[0], s[1])));
                assertTrue(e.getMessage().startsWith("batch, hidden: ")
                        && e.getMessage().endsWith("got batch " + s[0] + ", hidden " + s[1]), e.getMessage());
            }
        }
        assertTrue(launches.isEmpty(), "nothing launched: " + launches);
        // the largest accepted shapes: batch·hidden = 2^31 − 2 (2^23 blocks), and 4·hidden = 2^31 − 4
        engine.lstmForward(sizes(7, 306_783_378));
        assertEquals(1 << 23, only().grid());
        engine.gruBackward(sizes(1, (1 << 29) - 1));
        assertEquals(1 << 21, only().grid());
    }

    @Test
    void foreignAndClosedBuffersAreRefusedByName() {
        CudaBuffer x = f32(10);
        Buffer foreign = Device.cpu().engine().allocate(DType.F32, 10);
        IllegalArgumentException f = assertThrows(IllegalArgumentException.class,
                () -> engine.axpby(10, 1f, foreign, 0, 0f, x, 0));
        assertTrue(f.getMessage().startsWith("x: "), f.getMessage());
        foreign.close();
        CudaEngine other = CudaEngine.forArgumentTests((k, g, t, a) -> { }, cublas, pool);
        CudaBuffer theirs = other.testBuffer(DType.F32, 10);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> engine.clamp(10, theirs, 0, 0f, 1f));
        assertTrue(e.getMessage().startsWith("x: "), e.getMessage());
        CudaBuffer closed = f32(10);
        closed.close();
        closed.close();   // idempotent
        IllegalStateException c = assertThrows(IllegalStateException.class,
                () -> engine.axpby(10, 1f, x, 0, 0f, closed, 0));
        assertTrue(c.getMessage().startsWith("y: ") && c.getMessage().contains("closed"), c.getMessage());
        assertTrue(launches.isEmpty(), "nothing launched for a refused call");
    }

    @Test
    void closingABufferReturnsItsBlockToThePool() {
        long before = pool.bytesInUse();
        CudaBuffer b = f32(1000);
        assertEquals(before + 4096, pool.bytesInUse());
        long cached = pool.bytesCached();
        b.close();
        assertEquals(before, pool.bytesInUse());
        assertEquals(cached + 4096, pool.bytesCached());
    }

    // ------------------------------------------------------------------ gemm through an emulated cuBLAS

    /** A column-major cuBLAS over host arrays registered by base address (what the engine passes). */
    static class HostCublas implements CublasBinding {
        final Map<Long, float[]> memory = new HashMap<>();
        int calls;
        int batchedCalls;

        private float[] arrayAt(long address, long[] offset) {
            for (Map.Entry<Long, float[]> e : memory.entrySet()) {
                long base = e.getKey();
                if (address >= base && address < base + 4L * e.getValue().length + 4) {
                    offset[0] = (address - base) / 4;
                    return e.getValue();
                }
            }
            throw new AssertionError("address 0x" + Long.toHexString(address) + " not registered");
        }

        @Override
        public void sgemm(int opA, int opB, int m, int n, int k, float alpha, long a, int lda, long b, int ldb,
                          float beta, long c, int ldc) {
            calls++;
            long[] ao = new long[1];
            long[] bo = new long[1];
            long[] co = new long[1];
            float[] as = arrayAt(a, ao);
            float[] bs = arrayAt(b, bo);
            float[] cs = arrayAt(c, co);
            // cuBLAS's own argument rules (column-major)
            assertTrue(lda >= Math.max(1, opA == OP_N ? m : k), "lda " + lda);
            assertTrue(ldb >= Math.max(1, opB == OP_N ? k : n), "ldb " + ldb);
            assertTrue(ldc >= Math.max(1, m), "ldc " + ldc);
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int l = 0; l < k; l++) {
                        float av = opA == OP_N ? as[(int) (ao[0] + i + (long) l * lda)] : as[(int) (ao[0] + l + (long) i * lda)];
                        float bv = opB == OP_N ? bs[(int) (bo[0] + l + (long) j * ldb)] : bs[(int) (bo[0] + j + (long) l * ldb)];
                        s += (double) av * bv;
                    }
                    int ci = (int) (co[0] + i + (long) j * ldc);
                    cs[ci] = (float) (alpha * s + (beta == 0f ? 0 : beta * cs[ci]));
                }
            }
        }

        @Override
        public void sgemmStridedBatched(int opA, int opB, int m, int n, int k, float alpha, long a, int lda, long strideA,
                                        long b, int ldb, long strideB, float beta, long c, int ldc, long strideC, int batch) {
            for (int i = 0; i < batch; i++) {
                sgemm(opA, opB, m, n, k, alpha, a + 4 * i * strideA, lda, b + 4 * i * strideB, ldb, beta,
                        c + 4 * i * strideC, ldc);
            }
            batchedCalls++;
        }

        @Override
        public void gemmEx(int opA, int opB, int m, int n, int k, float alpha, long a, int abType, int lda, long b,
                           int ldb, float beta, long c, int cType, int ldc, int computeType) {
            throw new AssertionError("the argument tests run FP32 GEMMs only (cublasGemmEx is the stand-in's)");
        }

        @Override public String via() { return "host"; }
        @Override public String library() { return "none"; }
        @Override public String version() { return "0"; }
        @Override public void create() { }
        @Override public CublasBinding sibling() { return this; }
        @Override public void setStream(Driver.Stream stream) { }
        @Override public void setPointerModeHost() { }
        @Override public void setMathMode(int mode) { }
        @Override public void setWorkspace(long address, long bytes) { }
        @Override public void close() { }
    }

    private CudaBuffer hostBacked(float[] data) {
        CudaBuffer b = f32(data.length);
        cublas.memory.put(b.address(0), data);
        return b;
    }

    @Test
    void gemmMatchesARowMajorProductForEveryTransposeAndPaddedLeadingDimensions() {
        Random rnd = new Random(42);
        int[][] shapes = {{1, 1, 1}, {3, 5, 7}, {5, 3, 1}, {8, 1, 6}, {2, 9, 4}};
        for (int[] s : shapes) {
            for (int flags = 0; flags < 4; flags++) {
                boolean ta = (flags & 1) != 0;
                boolean tb = (flags & 2) != 0;
                int m = s[0];
                int n = s[1];
                int k = s[2];
                int lda = (ta ? m : k) + 2;
                int ldb = (tb ? k : n) + 1;
                int ldc = n + 3;
                int aOff = 5;
                int bOff = 2;
                int cOff = 7;
                float[] a = random(rnd, aOff + (ta ? k : m) * lda);
                float[] b = random(rnd, bOff + (tb ? n : k) * ldb);
                float[] c = random(rnd, cOff + m * ldc);
                float[] expected = c.clone();
                float alpha = 1.5f;
                float beta = flags == 3 ? 0f : 0.25f;
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < n; j++) {
                        double sum = 0;
                        for (int l = 0; l < k; l++) {
                            float av = ta ? a[aOff + l * lda + i] : a[aOff + i * lda + l];
                            float bv = tb ? b[bOff + j * ldb + l] : b[bOff + l * ldb + j];
                            sum += (double) av * bv;
                        }
                        int ci = cOff + i * ldc + j;
                        expected[ci] = (float) (alpha * sum + (beta == 0f ? 0 : beta * expected[ci]));
                    }
                }
                engine.gemm(ta, tb, m, n, k, alpha, hostBacked(a), aOff, lda, hostBacked(b), bOff, ldb,
                        beta, hostBacked(c), cOff, ldc);
                for (int i = 0; i < c.length; i++) {
                    assertEquals(expected[i], c[i], 1e-5f * Math.max(1f, Math.abs(expected[i])),
                            "m=" + m + " n=" + n + " k=" + k + " transA=" + ta + " transB=" + tb + " at " + i);
                }
            }
        }
        assertTrue(launches.isEmpty());
    }

    @Test
    void stridedBatchedGemmIsOneCublasCallWhoseEntriesAreRowMajorProducts() {
        Random rnd = new Random(7);
        int batch = 3, m = 4, n = 5, k = 3;
        for (int flags = 0; flags < 4; flags++) {
            boolean ta = (flags & 1) != 0;
            boolean tb = (flags & 2) != 0;
            int lda = ta ? m : k, ldb = tb ? k : n;
            int strideA = m * k + 2, strideB = k * n + 1, strideC = m * n + 3;   // gaps between the entries
            float[] a = random(rnd, batch * strideA);
            float[] b = random(rnd, batch * strideB);
            float[] c = random(rnd, batch * strideC);
            float[] expected = c.clone();
            for (int p = 0; p < batch; p++) {
                for (int i = 0; i < m; i++) {
                    for (int j = 0; j < n; j++) {
                        double sum = 0;
                        for (int l = 0; l < k; l++) {
                            float av = ta ? a[p * strideA + l * lda + i] : a[p * strideA + i * lda + l];
                            float bv = tb ? b[p * strideB + j * ldb + l] : b[p * strideB + l * ldb + j];
                            sum += (double) av * bv;
                        }
                        expected[p * strideC + i * n + j] = (float) (2 * sum);
                    }
                }
            }
            int before = cublas.batchedCalls;
            engine.gemmStridedBatched(ta, tb, m, n, k, 2f, hostBacked(a), 0, lda, strideA, hostBacked(b), 0, ldb, strideB,
                    0f, hostBacked(c), 0, n, strideC, batch);
            assertEquals(before + 1, cublas.batchedCalls, "one cublasSgemmStridedBatched");
            for (int i = 0; i < c.length; i++) {
                assertEquals(expected[i], c[i], 1e-5f * Math.max(1f, Math.abs(expected[i])),
                        "transA=" + ta + " transB=" + tb + " at " + i);
            }
        }
        assertTrue(launches.isEmpty());
    }

    @Test
    void gemmWithAnEmptyDimensionIsANoOpAndWithKOrAlphaZeroScalesC() {
        CudaBuffer c = f32(64);
        engine.gemm(false, false, 0, 4, 3, 1f, c, 0, 3, c, 0, 4, 0.5f, c, 0, 4);
        engine.gemm(false, false, 4, 0, 3, 1f, c, 0, 3, c, 0, 4, 0.5f, c, 0, 4);
        engine.gemm(false, false, 4, 4, 0, 1f, c, 0, 1, c, 0, 4, 1f, c, 0, 4);
        assertEquals(0, cublas.calls);
        assertTrue(launches.isEmpty());
        engine.gemm(false, false, 3, 4, 0, 1f, c, 0, 1, c, 0, 4, 0.5f, c, 0, 6);   // ldc != n: per row
        assertEquals(3, launches.size());
        for (Launch l : launches) {
            assertEquals(Kernel.AXPBY, l.kernel());
        }
        launches.clear();
        engine.gemm(false, false, 4, 4, 3, 0f, c, 0, 3, c, 0, 4, 0.5f, c, 0, 4);   // alpha 0: C = beta·C, as k == 0
        assertEquals(Kernel.AXPBY, only().kernel());
        assertEquals(0, cublas.calls, "cuBLAS is never asked to form 0·A·B");
    }

    private static float[] random(Random rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = rnd.nextFloat() * 2 - 1;
        }
        return v;
    }
}
