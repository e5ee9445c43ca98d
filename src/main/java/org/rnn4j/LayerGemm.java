package org.rnn4j;

import java.util.IdentityHashMap;
import java.util.Map;
import org.rnn4j.engine.Buffer;
import org.rnn4j.engine.Engine;
import org.rnn4j.engine.Recurrence;

/**
 * The GEMMs of one {@link RecurrentLayer} at its {@link Precision}, with {@link Engine#gemm}'s arguments.
 * <ul>
 *   <li>FP32: {@link Engine#gemm}, unchanged (so an FP32 layer is bit for bit what it was).</li>
 *   <li>TF32: the engine's TF32 GEMM on the same FP32 buffers.</li>
 *   <li>BF16: each operand as BF16. A weight (a registered master tensor) has a BF16 copy of its own, converted
 *       again whenever the master's {@link Tensor#version()} moved (an optimizer step, {@code setParameter}, a
 *       checkpoint load) and otherwise reused; the master stays FP32, so updates smaller than BF16's resolution
 *       still add up in it. Any other operand (x, h, a gate gradient) is converted into scratch just before its
 *       product. The scratch is this layer's (a layer runs one call at a time) and is reused in stream order.</li>
 * </ul>
 */
final class LayerGemm implements AutoCloseable {

    /** A weight's BF16 copy and the master version it was converted from. */
    private static final class Bf16Copy {
        final Tensor master;
        final Buffer bf16;
        long version = -1;

        Bf16Copy(Tensor master, Buffer bf16) {
            this.master = master;
            this.bf16 = bf16;
        }
    }

    private final Engine engine;
    private final Precision precision;
    /** By the master's buffer, the one the layer passes (BF16 only). */
    private final Map<Buffer, Bf16Copy> copies = new IdentityHashMap<>();
    /** BF16 scratch for the first and the second operand of a product (BF16 only), grown on demand. */
    private final Buffer[] scratch = new Buffer[2];

    LayerGemm(Engine engine, Precision precision) {
        this.engine = engine;
        this.precision = precision;
    }

    Precision precision() {
        return precision;
    }

    /** Registers a weight that products read as an operand: with BF16 it gets its own BF16 copy. */
    void weight(Tensor master) {
        if (precision == Precision.BF16 && master != null) {
            copies.put(master.buffer(), new Bf16Copy(master, engine.allocateUninitialized(DType.BF16, master.size())));
        }
    }

    /** {@link Engine#gemm}, row-major, at this precision. */
    void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
              Buffer a, long aOff, int lda, Buffer b, long bOff, int ldb,
              float beta, Buffer c, long cOff, int ldc) {
        if (precision == Precision.FP32) {
            engine.gemm(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
            return;
        }
        if (precision == Precision.TF32 || m == 0 || n == 0 || k == 0 || alpha == 0f) {
            engine.gemm(precision, transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
            return;
        }
        // stored shapes: A is m×k (k×m transposed), B is k×n (n×k transposed)
        Bf16Copy wa = copies.get(a);
        Bf16Copy wb = copies.get(b);
        Buffer a16 = wa != null ? current(wa) : convert(0, transA ? k : m, transA ? m : k, a, aOff, lda);
        Buffer b16 = wb != null ? current(wb) : convert(1, transB ? n : k, transB ? k : n, b, bOff, ldb);
        engine.gemm(Precision.BF16, transA, transB, m, n, k, alpha,
                a16, wa != null ? aOff : 0, wa != null ? lda : (transA ? m : k),
                b16, wb != null ? bOff : 0, wb != null ? ldb : (transB ? k : n), beta, c, cOff, ldc);
    }

    /**
     * {@link Engine#replayable} for FP32 and TF32. A BF16 layer runs {@code work} directly: a replayed graph would
     * skip the host's check of the masters' versions, and so read a BF16 copy from before the last optimizer step.
     */
    void replayable(Object shape, Buffer[] buffers, Runnable work) {
        if (precision == Precision.BF16) {
            work.run();
        } else {
            // the precision is part of what a graph computes: a TF32 layer whose buffers land at the addresses of a
            // closed FP32 layer's (the pool reuses them) must not replay that layer's exact-FP32 graph, nor the reverse
            engine.replayable(precision == Precision.FP32 ? shape : java.util.List.of(precision, shape), buffers, work);
        }
    }

    /**
     * {@link Engine#recurrence} (the engine's choice of algorithm) for FP32; other precisions run the per-step loop
     * as {@link #replayable} does, since the other algorithms (a persistent kernel) compute in FP32.
     */
    void recurrence(Recurrence loop, Object shape, Buffer[] buffers, Runnable perStep) {
        if (precision == Precision.FP32) {
            engine.recurrence(loop, shape, buffers, perStep);
        } else {
            replayable(shape, buffers, perStep);
        }
    }

    /** The weight's BF16 copy, converted again first when the FP32 master changed since. */
    private Buffer current(Bf16Copy w) {
        long version = w.master.version();
        if (w.version != version) {
            long n = w.master.size();
            engine.toBf16(1, Math.toIntExact(n), w.master.buffer(), 0, Math.toIntExact(n), w.bf16, 0);
            w.version = version;
        }
        return w.bf16;
    }

    /** {@code rows × cols} of {@code src} (rows {@code ld} apart) into dense BF16 scratch {@code slot}. */
    private Buffer convert(int slot, int rows, int cols, Buffer src, long off, int ld) {
        long n = (long) rows * cols;
        if (scratch[slot] == null || scratch[slot].length() < n) {
            if (scratch[slot] != null) {
                scratch[slot].close();   // its last use is queued before anything the pool gives it to next
                scratch[slot] = null;
            }
            scratch[slot] = engine.allocateUninitialized(DType.BF16, n);
        }
        engine.toBf16(rows, cols, src, off, ld, scratch[slot], 0);
        return scratch[slot];
    }

    @Override
    public void close() {
        for (Bf16Copy w : copies.values()) {
            w.bf16.close();
        }
        copies.clear();
        for (int i = 0; i < scratch.length; i++) {
            if (scratch[i] != null) {
                scratch[i].close();
                scratch[i] = null;
            }
        }
    }
}
