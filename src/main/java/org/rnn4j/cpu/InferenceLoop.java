package org.rnn4j.cpu;

import static org.rnn4j.cpu.CpuEngine.floats;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.function.BooleanSupplier;
import org.rnn4j.CellType;
import org.rnn4j.DType;
import org.rnn4j.engine.StepArgs;

/**
 * The CPU engine's inference forward of one layer-direction over all steps ({@link CpuEngine#inferenceForward}):
 * the input projection {@code xp = x · W_ihᵀ}, then the per-step loop of the layer (recurrent GEMM
 * {@code hp = h_prev · W_hhᵀ}, then the fused cell) done per block of hidden units, so that a block's gate
 * pre-activations are still in L1 when its cell step reads them. xp is laid out by block, as the blocks' products
 * are, so that a block's step reads its projection as one run of memory.
 *
 * <pre>
 * W_hh packed once per write version into panels: block k of NB units, all G gates, H rows of G·NB floats
 *   panel[k](p, g·NB + u) = W_hh[g·H + k·NB + u, p]       (zero past the last unit; row arrays, or one array in
 *                                                           column strips where the kernel reads that: panelStrip)
 * W_ih packed the same way, once per write version (CpuGemm would pack the transposed W_ih on every call: 16 MiB
 *   at I = H = 1024), into panelIh[k] (I rows of G·NB floats)
 * xp[k][T·B][G·NB], block k's tile, its row r = t·B + s laid out as a row of z (a.xp where G·H = blocks·G·NB,
 *   else its own array):
 *   per chunk of at most CHUNK_BYTES of input rows (and of XP_BYTES of xp where W_ih is small), the chunks about
 *   equal, claimed like the blocks (Run.claimOrder: each chunk before the steps that read it): the rows packed in
 *   the kernel's layout (GemmKernel.packRows), then for each block k xp[k][rows] = x[rows] · panelIh[k]
 * for t in steps:                                          // step t reads state slot t % 2, writes (t + 1) % 2
 *   for each block k (claimed dynamically by the calling thread and pool helpers)
 *     (once per step and participant: h_prev's rows packed in the kernel's layout, GemmKernel.packRows)
 *     z[B, G·NB] = h_prev[B, H] · panel[k]                 // GemmKernel.panelProduct, the weights not re-packed
 *     cell step of units k·NB .. for every sample, on z and xp[k][t·B ..]   // VectorCells' block step
 *     (the plain-Java cells, and a block of a width that is no multiple of the vector: z and the tile of xp copied
 *      into the rows of hp and of a row-major xp, hp[:, g·H + k·NB ..] = z[:, g·NB ..] for each gate g, then
 *      CpuCells / VectorCells per sample on the unit range)
 *   (a block of step t + 1 starts once every block of step t, and the chunks holding step t + 1's rows, are done:
 *    with helpers, one participant projects the next chunk while the others run the steps of the last one)
 * </pre>
 * <b>Same bits as the per-step loop.</b> Every element of xp and of the recurrent product (z, or hp where it is
 * copied) is the fma chain of {@link CpuGemm}'s kernels (increasing p, from 0), and the cells compute each unit the
 * same whatever unit range and samples a call covers, so the
 * result equals the training-path forward (and the per-step eval loop) bit for bit, for every thread count and
 * however blocks are claimed. Nothing is saved for backward.
 */
final class InferenceLoop {

    private InferenceLoop() {
    }

    /** Below this many multiply-adds per step (B·G·H·H) the loop stays on the calling thread. */
    private static final long PARALLEL_WORK = 1L << 17;
    /**
     * Units per block, times the gate count: 128 floats a panel row (LSTM 32 units, RNN 128; GRU 128 units, 384), so
     * that even an LSTM block is two column groups of the vector kernel's panel product: a single row (B = 1) then
     * runs eight independent fma chains, not four that wait on the fma latency (the vector kernel's panelAlign: 128
     * floats with AVX-512, 64 with AVX2).
     */
    private static final int PANEL_FLOATS = 128;

    /** The input projection's rows per chunk come in multiples of this, so a chunk packs into whole row groups. */
    private static final int CHUNK_ALIGN = 24;
    /**
     * Bytes of a chunk's packed input rows, at most: the chunk sits in L2 while every panel of W_ih passes over it,
     * and W_ih is re-read once per chunk (1 MiB: 1024 rows at I = 256, 240 at I = 1024). The rows are then split
     * into chunks of about equal size, so that two participants finish the projection together (at I = 1024, B = 16,
     * T = 25: 216 and 184 rows, not 240 and 160).
     */
    private static final int CHUNK_BYTES = 1 << 20;
    /**
     * Bytes of a chunk's rows of xp, at most, where W_ih is no larger: they stay in L2 until the chunk's steps read
     * them, and two participants share the projection instead of one doing it all (LSTM 128/B32/T50, where all of
     * xp, 3.3 MB, was one chunk: 0.71-0.73 of the time on two threads, 0.96-1.00 on one core). Where W_ih is larger,
     * re-reading it per chunk costs more than the reads it saves (LSTM 1024/B16: 1.5 times slower), and a chunk is
     * sized by CHUNK_BYTES alone.
     */
    private static final int XP_BYTES = 1 << 19;

    /**
     * A weight {@code [G·H, cols]} (W_hh, or W_ih) reordered into panels, for one write version of its tensor:
     * {@code panel[k]} is block k's {@code cols} rows of {@code width} floats, as row arrays ({@code strip == 0}) or
     * as one array in column strips ({@link GemmKernel#panelStrip}).
     */
    record Panels(long version, int units, int gates, int hidden, int cols, int strip, float[][][] panel) {
    }

    /** Units per block for {@code gates} gates: the fewest whose G·NB floats are a multiple of PANEL_FLOATS. */
    static int blockUnits(int gates) {
        int g = gates;
        int n = PANEL_FLOATS;
        while (g % 2 == 0 && n % 2 == 0) {
            g /= 2;
            n /= 2;
        }
        return n;
    }

    /**
     * Runs the loop; false, having done nothing, where the running kernel has no panel product of this width
     * (the plain-Java kernel without FMA intrinsics) or a panel, or xp padded to whole blocks, would not fit one
     * array.
     */
    static boolean run(CellType cell, int steps, StepArgs a, CpuBuffer input, int in, CpuBuffer wih, long wihVersion,
                       CpuBuffer whh, long whhVersion) {
        GemmKernel kernel = CpuGemm.running();
        int h = a.hidden, g = cell.gates(), nb = blockUnits(g), width = g * nb;
        int align = kernel.panelAlign();
        // a panel is one array of cols·width floats, xp one of T·B·blocks·width: past a Java array's size the
        // per-step loop runs instead
        long tiles = (long) steps * a.batch * ceilDiv(h, nb) * width;
        if (align == 0 || width % align != 0 || (long) Math.max(in, h) * width > Integer.MAX_VALUE - 8
                || tiles > Integer.MAX_VALUE - 8) {
            return false;
        }
        // W_ih in the blocks of W_hh, so that the projection writes each block's tile of xp whole
        float[][][] inputPanel = panels(wih, wihVersion, g, h, in, nb, kernel.panelStrip()).panel();
        float[][][] panel = panels(whh, whhVersion, g, h, h, nb, kernel.panelStrip()).panel();
        CellSteps vector = CpuGemm.vectorCells();
        int blocks = panel.length;
        long work = (long) a.batch * g * h * h;
        int threads = CpuGemm.threads();
        int helpers = threads > 1 && blocks > 1 && work >= PARALLEL_WORK && !CpuGemm.onPoolThread()
                ? Math.min(threads, blocks) - 1 : 0;
        Run run = new Run(cell, steps, a, kernel, vector, panel, nb, inputPanel, input.floats, in, helpers > 0);
        if (helpers > 0) {
            CpuGemm.lend(helpers, run::participate);
        }
        run.participate();
        run.awaitAll();
        return true;
    }

    /**
     * The panels of {@code w} {@code [g·h, cols]} at this version: reused while it holds, rebuilt (and kept, as much
     * memory again as the weight) after a write.
     */
    private static Panels panels(CpuBuffer w, long version, int g, int h, int cols, int nb, int strip) {
        Panels p = w.panels;
        if (p != null && p.version() == version && p.units() == nb && p.gates() == g && p.hidden() == h
                && p.cols() == cols && p.strip() == strip) {
            return p;
        }
        float[] src = w.floats;
        int blocks = ceilDiv(h, nb), width = g * nb;
        float[][][] panel = new float[blocks][][];
        for (int k = 0; k < blocks; k++) {
            // element (q, c = gate·nb + u) of block k, at panel[k][q][c] or in its strip of panel[k][0]
            float[][] rows = strip > 0 ? new float[][] {new float[cols * width]} : new float[cols][width];
            for (int gate = 0; gate < g; gate++) {
                for (int u = 0; u < nb && k * nb + u < h; u++) {
                    int row = (gate * h + k * nb + u) * cols, c = gate * nb + u;
                    int at = strip > 0 ? c / strip * strip * cols + c % strip : 0;
                    for (int q = 0; q < cols; q++) {
                        if (strip > 0) {
                            rows[0][at + q * strip] = src[row + q];
                        } else {
                            rows[q][c] = src[row + q];
                        }
                    }
                }
            }
            panel[k] = rows;
        }
        p = new Panels(version, nb, g, h, cols, strip, panel);
        w.panels = p;
        return p;
    }

    /**
     * One call's shared state: the claim counter, the order of the claims (the input projection's chunks of rows
     * and the steps' blocks, each in time order, interleaved: {@link #claimOrder}), and the completion counts.
     */
    private static final class Run {
        final CellType cell;
        final int steps, blocks, nb, chunks, chunkRows;
        final StepArgs shared;
        final GemmKernel kernel;
        final CellSteps vector;
        final float[][][] panel;
        /** W_ih's panels, xp by block ({@code [blocks][T·B][width]}), the input rows [T·B, in], and in. */
        final float[][][] inputPanel;
        final CpuBuffer xp;
        final float[] input;
        final int in;
        /** b_ih + b_hh [G·H], the cells' bias term, or null without bias. */
        final float[] biasSum;
        final int total;
        /** The claims in order: a step's block {@code t·blocks + k}, or a chunk c as {@code −1 − c}. */
        final int[] order;
        final AtomicInteger claimed = new AtomicInteger();
        /** The steps' blocks done, and per chunk of the projection 1 once it is done. */
        final AtomicInteger blocksDone = new AtomicInteger();
        final AtomicIntegerArray chunkDone;
        volatile Throwable error;

        Run(CellType cell, int steps, StepArgs a, GemmKernel kernel, CellSteps vector, float[][][] panel, int nb,
            float[][][] inputPanel, float[] input, int in, boolean parallel) {
            this.cell = cell;
            this.steps = steps;
            this.shared = a;
            this.kernel = kernel;
            this.vector = vector;
            this.panel = panel;
            this.nb = nb;
            this.inputPanel = inputPanel;
            this.input = input;
            this.in = in;
            this.biasSum = biasSum(floats(a.bih), floats(a.bhh));
            this.blocks = panel.length;
            int rows = steps * a.batch;
            // a.xp holds the tiles exactly where the blocks cover H exactly; padded tiles fit an array (run)
            this.xp = blocks * nb == a.hidden ? (CpuBuffer) a.xp
                    : new CpuBuffer(DType.F32, (long) blocks * rows * cell.gates() * nb);
            int fit = CHUNK_BYTES / (in * Float.BYTES);
            long xpRow = (long) blocks * cell.gates() * nb * Float.BYTES;
            if (xpRow * in <= XP_BYTES) {   // W_ih, re-read per chunk, is no larger than a chunk's xp
                fit = (int) Math.min(fit, XP_BYTES / xpRow);
            }
            int most = Math.max(CHUNK_ALIGN, fit / CHUNK_ALIGN * CHUNK_ALIGN);
            int even = ceilDiv(rows, ceilDiv(rows, most));
            this.chunkRows = ceilDiv(even, CHUNK_ALIGN) * CHUNK_ALIGN;
            this.chunks = ceilDiv(rows, chunkRows);
            this.chunkDone = new AtomicIntegerArray(chunks);
            this.total = chunks + steps * blocks;
            this.order = claimOrder(parallel ? 1 : 0, a.batch);
        }

        /**
         * Each chunk, then the blocks of the steps whose rows lie in the chunks {@code ahead} or more before it (all
         * of them done or in progress by then), then the blocks of the steps left: a step reads its projection while
         * it is still in L2, and with {@code ahead = 1} one participant projects the next chunk while the others
         * run the steps.
         */
        private int[] claimOrder(int ahead, int b) {
            int[] o = new int[total];
            int n = 0, block = 0;   // the steps' blocks go in order, t·blocks + k
            for (int c = 0; c < chunks; c++) {
                o[n++] = -1 - c;
                long rows = (long) Math.max(0, c + 1 - ahead) * chunkRows;
                for (int ready = (int) Math.min(steps, rows / b) * blocks; block < ready; ) {
                    o[n++] = block++;
                }
            }
            while (n < total) {
                o[n++] = block++;
            }
            return o;
        }

        /** Claims blocks until none is left; the calling thread and every helper run this. */
        void participate() {
            StepArgs a = null;
            float[] z = null, packed = null, packedInput = null;
            int b = shared.batch, h = shared.hidden, g = cell.gates(), width = g * nb;
            int gh = g * h, hpOff = (int) shared.hpOff;
            float[] hs = null, hp = null;
            CpuBuffer xpRows = null;   // the fallback's row-major xp of one step
            int step = -1;
            for (int idx; (idx = claimed.getAndIncrement()) < total; ) {
                int item = order[idx];
                boolean chunk = item < 0;
                try {
                    if (a == null) {   // only once a block is claimed: a helper that starts late touches nothing
                        a = shared.copy();   // its own offsets per step, the shared buffers
                        z = new float[b * width];
                        packed = new float[b * h];
                        packedInput = new float[Math.min(steps * b, chunkRows) * in];
                        hs = floats(shared.hPrev);
                        hp = floats(shared.hp);
                    }
                    if (chunk) {
                        project(-1 - item, packedInput);
                        continue;
                    }
                    int t = item / blocks, k = item % blocks;
                    int j0 = k * nb, j1 = Math.min(h, j0 + nb);
                    if (t != step) {
                        step = t;
                        at(a, shared, t);
                        awaitStep(t);
                        kernel.packRows(b, h, hs, (int) a.hPrevOff, h, packed);
                    }
                    kernel.panelProduct(b, h, packed, panel[k], width, z, 0, width);
                    int tile = (k * steps + t) * b * width;
                    if (vector != null && nb % vector.lanes() == 0 && (j1 - j0) % vector.lanes() == 0) {
                        a.xp = xp;
                        a.xpOff = tile;
                        blockStep(a, z, j0, j1);
                        continue;
                    }
                    if (xpRows == null) {
                        xpRows = new CpuBuffer(DType.F32, (long) b * gh);
                    }
                    for (int s = 0; s < b; s++) {
                        for (int gate = 0; gate < g; gate++) {
                            int at = s * gh + gate * h + j0, from = s * width + gate * nb;
                            System.arraycopy(z, from, hp, hpOff + at, j1 - j0);
                            System.arraycopy(xp.floats, tile + from, xpRows.floats, at, j1 - j0);
                        }
                    }
                    a.xp = xpRows;
                    a.xpOff = 0;
                    for (int s = 0; s < b; s++) {
                        cellStep(a, s, j0, j1);
                    }
                } catch (Throwable e) {
                    error = e;
                } finally {
                    if (chunk) {
                        chunkDone.set(-1 - item, 1);
                    } else {
                        blocksDone.incrementAndGet();
                    }
                }
            }
        }

        /**
         * Rows {@code c·chunkRows ..} of every block's tile of xp: the chunk's input rows packed once (in L2 while
         * W_ih's panels pass over them), then each block's columns (a last block's past the units are zero).
         */
        private void project(int c, float[] packedInput) {
            int rows = steps * shared.batch, width = cell.gates() * nb;
            int r0 = c * chunkRows, n = Math.min(chunkRows, rows - r0);
            kernel.packRows(n, in, input, r0 * in, in, packedInput);
            for (int k = 0; k < inputPanel.length; k++) {
                int tile = (k * rows + r0) * width;
                kernel.panelProduct(n, in, packedInput, inputPanel[k], width, xp.floats, tile, width);
            }
        }

        /** The vector cells on the block's product z and xp's tile directly, every sample at once (no copies). */
        private void blockStep(StepArgs a, float[] z, int j0, int j1) {
            switch (cell) {
                case LSTM -> vector.lstmBlock(a, z, nb, j0, j1, biasSum);
                case GRU -> vector.gruBlock(a, z, nb, j0, j1, biasSum);
                case RNN_TANH, RNN_RELU -> vector.rnnBlock(a, z, nb, j0, j1, biasSum);
                default -> throw new IllegalStateException("cell " + cell);
            }
        }

        private void cellStep(StepArgs a, int s, int j0, int j1) {
            switch (cell) {
                case LSTM -> {
                    if (vector != null) {
                        vector.lstmForward(a, s, j0, j1);
                    } else {
                        CpuCells.lstmForward(a, s, j0, j1);
                    }
                }
                case GRU -> {
                    if (vector != null) {
                        vector.gruForward(a, s, j0, j1);
                    } else {
                        CpuCells.gruForward(a, s, j0, j1);
                    }
                }
                case RNN_TANH, RNN_RELU -> {
                    if (vector != null) {
                        vector.rnnForward(a, s, j0, j1);
                    } else {
                        CpuCells.rnnForward(a, s, j0, j1);
                    }
                }
                default -> throw new IllegalStateException("cell " + cell);
            }
        }

        /** Waits until step t can start: every block of the steps before it, and its rows' chunks, done. */
        private void awaitStep(int t) {
            int b = shared.batch;
            for (int c = t * b / chunkRows, last = ((t + 1) * b - 1) / chunkRows; c <= last; c++) {
                awaitChunk(c);
            }
            await(() -> blocksDone.get() >= t * blocks);
        }

        private void awaitChunk(int c) {
            await(() -> chunkDone.get(c) != 0);
        }

        /** Spins briefly until {@code ready} (a block is microseconds), then yields. */
        private static void await(BooleanSupplier ready) {
            for (int spins = 0; !ready.getAsBoolean(); spins++) {
                if (spins < 4096) {
                    Thread.onSpinWait();
                } else {
                    Thread.yield();
                }
            }
        }

        /** Returns once every chunk and block is done; rethrows what a participant threw. */
        void awaitAll() {
            for (int c = 0; c < chunks; c++) {
                awaitChunk(c);
            }
            await(() -> blocksDone.get() >= steps * blocks);
            Throwable e = error;
            if (e instanceof RuntimeException r) {
                throw r;
            }
            if (e instanceof Error r) {
                throw r;
            }
            if (e != null) {
                throw new IllegalStateException(e);
            }
        }
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    /** {@code bih[i] + bhh[i]}, the float sum each cell adds to a pre-activation, or null without bias. */
    private static float[] biasSum(float[] bih, float[] bhh) {
        if (bih == null) {
            return null;
        }
        float[] sum = new float[bih.length];
        for (int i = 0; i < sum.length; i++) {
            sum[i] = bih[i] + bhh[i];
        }
        return sum;
    }

    /** Step t's offsets, as the layer's per-step loop sets them (inference ping-pongs two state slots). */
    private static void at(StepArgs a, StepArgs base, int t) {
        int b = base.batch, h = base.hidden;
        int prev = t % 2, next = (t + 1) % 2;
        a.step = t;
        a.hPrevOff = base.hPrevOff + (long) prev * b * h;
        a.hNextOff = base.hNextOff + (long) next * b * h;
        a.cPrevOff = base.cPrevOff + (long) prev * b * h;
        a.cNextOff = base.cNextOff + (long) next * b * h;
        a.outOff = base.outOff + (long) t * b * base.outLd;
    }
}
