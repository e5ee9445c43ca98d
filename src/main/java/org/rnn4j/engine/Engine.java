package org.rnn4j.engine;

import org.rnn4j.DType;
import org.rnn4j.Device;
import org.rnn4j.Precision;

/**
 * The backend contract: the few primitive operations that the CPU and the CUDA engine each
 * implement. Everything above it (stacking, directions, lengths, the time loop, BPTT, training)
 * is written once, in terms of these, in {@code org.rnn4j}.
 *
 * <p>Conventions, stated once:
 * <ul>
 *   <li>float32 data, row-major, rightmost dimension fastest; offsets, lengths and leading
 *       dimensions are counted in elements. Buffers passed may be {@code null} only where a
 *       method says so.</li>
 *   <li>Parameter gradients accumulate ({@code +=}); activation gradients are assigned
 *       ({@code =}) unless a method says otherwise.</li>
 *   <li>Work is queued in order on the engine's stream; {@link #synchronize()} waits for it.
 *       Host copies ({@code upload}, {@code download}, {@link #sumSquares}) synchronize.</li>
 *   <li>Arguments are validated by the caller (the layer) before anything is queued; an engine
 *       checks only what it alone can know (a closed or foreign buffer, a failed launch).</li>
 *   <li>Variable lengths: {@code lengths} is an int32 buffer of {@code batch} entries, or
 *       {@code null} meaning every sample has the full length. Sample {@code b} is <em>valid</em>
 *       at step {@code s} when {@code lengths == null || s < lengths[b]}.</li>
 * </ul>
 * Every method here runs in the direction of time only; the reverse direction of a layer is
 * obtained by {@link #reverseSequences reversing} each sample's valid steps, so that no kernel
 * needs to know about directions.
 */
public interface Engine extends AutoCloseable {

    /**
     * Rows per chunk of the column sums ({@link #sumRows}, {@link #lstmPeepholeGrad}), which every engine
     * adds in the same fixed order so that they agree bit for bit: each chunk of {@code ROW_CHUNK}
     * consecutive rows is summed in row order starting from its first row, then the chunk sums are
     * added to the destination in chunk order, {@code dst + s₀ + s₁ + …}. On a GPU the chunks run in
     * parallel (kernels/common.cuh has the same constant).
     */
    int ROW_CHUNK = 64;

    Device device();

    /** A zero-filled buffer of {@code elements} elements. */
    Buffer allocate(DType dtype, long elements);

    /**
     * A buffer of {@code elements} elements whose contents are undefined (earlier data, or garbage): for a
     * buffer the caller writes in full before reading any of it (a GEMM with {@code beta == 0}, an upload,
     * a kernel that writes every element), so that no engine zero-fills what is overwritten anyway.
     * Reading an element before writing it is a bug that the stand-in driver's garbage fill shows. Engines
     * whose memory is zeroed anyway (the CPU's Java arrays) may return {@link #allocate}'s buffer.
     */
    default Buffer allocateUninitialized(DType dtype, long elements) {
        return allocate(dtype, elements);
    }

    void upload(float[] src, int srcOff, Buffer dst, long dstOff, int n);

    void upload(int[] src, int srcOff, Buffer dst, long dstOff, int n);

    void download(Buffer src, long srcOff, float[] dst, int dstOff, int n);

    void download(Buffer src, long srcOff, int[] dst, int dstOff, int n);

    /** {@code dst[dstOff + i] = src[srcOff + i]} for {@code i < n}; the ranges must not overlap. */
    void copy(Buffer src, long srcOff, Buffer dst, long dstOff, long n);

    /** {@code dst[off + i] = value} for {@code i < n}. */
    void fill(Buffer dst, long off, long n, float value);

    /** Waits until all queued work has finished. */
    void synchronize();

    /** A line for {@code info}: what this engine runs on and how (device, driver, BLAS binding). */
    String describe();

    @Override
    void close();

    /**
     * Queues what {@code work} queues on this engine, where the engine can as the replay of a graph it
     * captured from {@code work} on an earlier call with an equal {@code shape} and the same
     * {@code buffers} (the same memory: device address and length). For a region whose launches depend on
     * nothing else: every size, offset and scalar it passes follows from {@code shape} (which must have
     * value equality, e.g. a {@code List}), every buffer it reads or writes is among {@code buffers}
     * ({@code null} entries allowed), and it only launches kernels and GEMMs on this engine (no allocation,
     * host copy or synchronize). The contents of the buffers may change between calls; the results are the
     * same bits as running {@code work}. The default runs {@code work}.
     */
    default void replayable(Object shape, Buffer[] buffers, Runnable work) {
        work.run();
    }

    /**
     * {@link #replayable} for a region that also allocates and frees device memory, such as a whole training step:
     * the engine may keep what the region allocates with its graph, so that a replay uses the same addresses.
     * Everything allocated inside must be freed inside, and nothing allocated before it freed inside. Returns
     * whether {@code work} ran: false when the engine replayed a graph of it instead, in which case nothing
     * {@code work} does on the host happened (the caller repeats what it must). {@code work} may run twice for
     * one call (a failed capture, then eagerly), so what it does on the host must bear repeating. The default
     * runs {@code work} and returns true.
     */
    default boolean replayableStep(Object shape, Buffer[] buffers, Runnable work) {
        work.run();
        return true;
    }

    /** Whether {@link #replayable} regions run as graph replays here (false by default). */
    default boolean capturesGraphs() {
        return false;
    }

    /**
     * Queues one layer-direction's whole time loop, {@code loop}: {@code perStep} queues it step by step
     * through the per-step primitives, as a {@link #replayable} region of {@code shape} and {@code buffers}.
     * An engine may run the loop as an algorithm of its own where one covers {@code loop} (a persistent
     * kernel), with the same results (bit for bit where the summation order allows); it falls back to
     * {@code perStep} for what it does not cover. The default is {@code replayable(shape, buffers, perStep)}.
     */
    default void recurrence(Recurrence loop, Object shape, Buffer[] buffers, Runnable perStep) {
        replayable(shape, buffers, perStep);
    }

    /**
     * Queues {@code side} and then {@code main}, where the engine can on two streams so that they run at the same
     * time: each sees all work queued before this call, and all work queued after it sees both. The two must be
     * independent (neither reads what the other writes, they write disjoint memory) and only queue device work (no
     * host copy or synchronize); buffers either allocates stay valid until this call returns. Calls may nest (a
     * call inside {@code side} runs both of its parts in order). The results are the bits of running {@code side}
     * then {@code main}, which the default does.
     */
    default void concurrently(Runnable side, Runnable main) {
        side.run();
        main.run();
    }

    /** Whether {@link #concurrently} overlaps its parts here (worth scratch of their own); false by default. */
    default boolean overlaps() {
        return false;
    }

    /** The recurrent algorithms this engine chose so far, one line each, for {@code summary()}; empty when it has no choice. */
    default String recurrentAlgorithms() {
        return "";
    }

    // ---------------------------------------------------------------- dense linear algebra

    /**
     * {@code C[m,n] = alpha · op(A)[m,k] · op(B)[k,n] + beta · C}, row-major, exact FP32
     * (no TF32). {@code op(X) = Xᵀ} when its flag is set: A is stored {@code m×k} (or
     * {@code k×m} transposed) with leading dimension {@code lda}; likewise B. With
     * {@code beta == 0} C is overwritten.
     */
    void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
              Buffer a, long aOff, int lda, Buffer b, long bOff, int ldb,
              float beta, Buffer c, long cOff, int ldc);

    /**
     * {@code dst[dstOff + c] += Σ_r src[srcOff + r·ld + c]} for {@code c < cols}, in the fixed order of
     * {@link #ROW_CHUNK}.
     */
    void sumRows(int rows, int cols, Buffer src, long srcOff, int ld, Buffer dst, long dstOff);

    /**
     * {@link #sumRows} into two destinations ({@code dst} and {@code dst2} each get {@code += Σ_r src[r, c]},
     * in the same order, so each is bit for bit what its own {@code sumRows} gives), reading {@code src} once
     * where the engine can: the two bias gradients of a cell whose gate gradient serves both.
     */
    default void sumRows(int rows, int cols, Buffer src, long srcOff, int ld, Buffer dst, long dstOff,
                         Buffer dst2, long dst2Off) {
        sumRows(rows, cols, src, srcOff, ld, dst, dstOff);
        sumRows(rows, cols, src, srcOff, ld, dst2, dst2Off);
    }

    /**
     * {@code y[i] = alpha · x[i] + beta · y[i]} for {@code i < n}; with {@code beta == 0} y is not read
     * and {@code y[i] = alpha · x[i]} (a −0 product stays −0); x may be y (a scale).
     */
    void axpby(long n, float alpha, Buffer x, long xOff, float beta, Buffer y, long yOff);

    /** {@code x[i] = Math.min(Math.max(x[i], lo), hi)}: a NaN stays NaN, and −0 counts as below +0. */
    void clamp(long n, Buffer x, long off, float lo, float hi);

    /** {@code Σ x[i]²} in double, returned to the host (synchronizes). Deterministic. */
    double sumSquares(long n, Buffer x, long off);

    /**
     * {@code Σ_t sumSquares(ns[t], xs[t], 0)}, the tensors' sums added in order from 0 (so bit for bit that
     * loop), with one host synchronize in all where the engine can: the global norm of gradient clipping.
     */
    default double sumSquares(Buffer[] xs, long[] ns) {
        if (xs.length != ns.length) {
            throw new IllegalArgumentException("ns: expected " + xs.length + " counts (one per buffer), got " + ns.length);
        }
        double sum = 0;
        for (int t = 0; t < xs.length; t++) {
            sum += sumSquares(ns[t], xs[t], 0);
        }
        return sum;
    }

    /** Room for an engine's partial sums per tensor in {@link #clipGlobalNorm}'s work buffer (CUDA's 256 doubles). */
    int CLIP_PARTIALS_PER_TENSOR = 256;

    /** The int32 elements of {@link #globalNorm}'s and {@link #clipGlobalNorm}'s work buffer for {@code tensors} tensors. */
    static long clipWorkInts(int tensors) {
        return 4 + 2L * CLIP_PARTIALS_PER_TENSOR * tensors;
    }

    /**
     * Gradient clipping by global norm with no host read (PyTorch's {@code clip_grad_norm_}):
     * {@code norm = √(sumSquares(xs, ns))}, bit for bit; where {@code norm} is finite and
     * {@code c = maxNorm / (norm + 1e-6) < 1} (in double), every {@code xs[t]} is scaled as
     * {@code axpby(ns[t], (float) c, xs[t], 0, 0, xs[t], 0)} does; otherwise nothing changes. {@code work} is an
     * int32 buffer of at least {@link #clipWorkInts clipWorkInts(xs.length)} elements: ints 0 and 1 are left
     * holding the norm (a double's bits, low word first), the rest is the engine's scratch. Only launches (no
     * host copy, no synchronize), so a {@link #replayable} region may hold it. The default computes on the host.
     */
    default void clipGlobalNorm(Buffer[] xs, long[] ns, double maxNorm, Buffer work) {
        double norm = Math.sqrt(sumSquares(xs, ns));
        double coef = maxNorm / (norm + 1e-6);
        if (Double.isFinite(norm) && coef < 1) {
            for (int t = 0; t < xs.length; t++) {
                axpby(ns[t], (float) coef, xs[t], 0, 0f, xs[t], 0);
            }
        }
        long bits = Double.doubleToRawLongBits(norm);
        upload(new int[] {(int) bits, (int) (bits >>> 32)}, 0, work, 0, 2);
    }

    /**
     * {@link #clipGlobalNorm}'s norm alone, nothing scaled: {@code √(sumSquares(xs, ns))} into ints 0 and 1 of
     * {@code work}, with no host read (finite exactly when every element is); {@link #readGlobalNorm} reads it.
     */
    default void globalNorm(Buffer[] xs, long[] ns, Buffer work) {
        clipGlobalNorm(xs, ns, Double.POSITIVE_INFINITY, work);
    }

    /** The norm {@link #globalNorm} or {@link #clipGlobalNorm} left in {@code work} (synchronizes). */
    default double readGlobalNorm(Buffer work) {
        int[] bits = new int[2];
        download(work, 0, bits, 0, 2);
        return Double.longBitsToDouble((bits[0] & 0xFFFFFFFFL) | ((long) bits[1] << 32));
    }

    /** {@code true} when any of {@code x[off .. off+n)} is NaN or infinite (synchronizes). */
    boolean hasNonFinite(long n, Buffer x, long off);

    // ---------------------------------------------------------------- sequence layout

    /**
     * Swaps the two leading axes: {@code dst[j, i, :] = src[i, j, :]} for {@code src} of shape
     * {@code [d0, d1, features]} (batch-first ⇄ time-major).
     */
    void swapLeadingAxes(int d0, int d1, int features, Buffer src, long srcOff, Buffer dst, long dstOff);

    /**
     * Reverses each sample's valid steps. For {@code t < len[b]}:
     * {@code dst[t, b, 0:F] (=|+=) src[len[b]-1-t, b, 0:F]}; for {@code t >= len[b]} dst is set to 0
     * (left unchanged when accumulating). Rows are {@code srcLd} / {@code dstLd} elements apart,
     * so a direction's half of a bidirectional output can be read or written in place.
     * {@code len[b] = T} when {@code lengths == null}. It is its own inverse on the valid steps.
     */
    void reverseSequences(int steps, int batch, int features, Buffer lengths,
                          Buffer src, long srcOff, int srcLd, Buffer dst, long dstOff, int dstLd,
                          boolean accumulate);

    /**
     * Seeds the state gradient of one direction before BPTT:
     * {@code dst[t, b, :] = (t < len[b] ? dy[t, b, :] : 0) + (t == len[b]-1 ? dhN[b, :] : 0)},
     * {@code dst} dense {@code [T, B, F]}, {@code dy} rows {@code dyLd} apart. Either of
     * {@code dy}, {@code dhN} may be {@code null} (zero).
     */
    void seedStateGrad(int steps, int batch, int features, Buffer lengths,
                       Buffer dy, long dyOff, int dyLd, Buffer dhN, long dhNOff,
                       Buffer dst, long dstOff);

    /**
     * Applies one step's new state under the length mask: for each sample b and feature j,
     * {@code state[b,j] = valid ? fresh[b,j] : prev[b,j]} and
     * {@code out[b·outLd + j] = valid ? fresh[b,j] : 0}. Used after the LSTM projection GEMM.
     */
    void maskedUpdate(int batch, int features, int step, Buffer lengths,
                      Buffer fresh, long freshOff, Buffer prev, long prevOff,
                      Buffer state, long stateOff, Buffer out, long outOff, int outLd);

    /**
     * Inverted dropout with a counter-based generator, identical on every engine:
     * {@code dst[i] = keep(s, i) ? src[i] · (1 / (1 - p)) : 0} (the scale rounded to float first) with
     * {@code keep(s, i) = Dropout.uniform(s, i) >= p}. Applying it to a gradient with the same seed is its backward.
     * {@code src} and {@code dst} may be the same buffer. The seed is {@code s = seed + base}, where {@code base} is
     * an int64 in device memory (int32 elements {@code baseOff} and {@code baseOff + 1}, low word first,
     * {@code baseOff} even) or 0 when {@code base} is null: a {@link #replayable} region reads the seed's changing
     * part from memory written before it, so that its replays draw new masks.
     */
    void dropout(long n, float p, Buffer base, long baseOff, long seed, Buffer src, long srcOff, Buffer dst, long dstOff);

    /**
     * Row lookup (an embedding's forward): {@code dst[r, :] = table[idx[r], :]} for {@code r < rows},
     * rows {@code cols} wide; {@code indices} is int32 and each index must be a row of the table.
     */
    void gatherRows(int rows, int cols, Buffer indices, long idxOff, Buffer table, long tableOff,
                    Buffer dst, long dstOff);

    /**
     * Its backward: {@code table[idx[r], :] += src[r, :]} for {@code r = 0 .. rows-1} in that order, so
     * repeated indices add up deterministically.
     */
    void scatterAddRows(int rows, int cols, Buffer indices, long idxOff, Buffer src, long srcOff,
                        Buffer table, long tableOff);

    // ---------------------------------------------------------------- tensor operations

    /**
     * A strided block copy, the primitive of concatenate, split, slice and time-step selection:
     * {@code dst[dstOff + r·dstLd + c] (=|+=) src[srcOff + r·srcLd + c]} for {@code r < rows}, {@code c < cols}
     * ({@code +=} when {@code accumulate}, the backward of a slice into a gradient). The ranges must not overlap.
     */
    void copyRows(int rows, int cols, Buffer src, long srcOff, int srcLd, Buffer dst, long dstOff, int dstLd,
                  boolean accumulate);

    /**
     * {@code dst[dstOff + i] = f(x[xOff + i], y[yOff + (i mod yPeriod)])} for {@code i < n}, f one of {@link Pointwise}:
     * {@code yPeriod == n} pairs elements one to one, a shorter period broadcasts y over the leading axes
     * (a bias or an attention query added to every source step). {@code y} is {@code null} for the unary
     * functions. {@code dst} may be {@code x} or {@code y} when {@code yPeriod == n}.
     */
    void pointwise(Pointwise f, long n, Buffer x, long xOff, Buffer y, long yOff, long yPeriod, Buffer dst, long dstOff);

    /**
     * Softmax over the last axis of {@code src [rows, cols]}, masked to a length: row r's valid columns are
     * {@code c < len(r / rowsPerLength)} with {@code len(i) = lengths[i]} (int32), or {@code cols} when
     * {@code lengths} is {@code null}; {@code dst[r, c] = exp(x_c − max) / Σ_valid exp(x − max)} over the valid
     * columns (max and sum over those only, the sum in double), 0 at the others, which are never read. Every
     * length must be in {@code [1, cols]}. {@code src} and {@code dst} may alias.
     */
    void maskedSoftmax(int rows, int cols, int rowsPerLength, Buffer lengths, Buffer src, long srcOff,
                       Buffer dst, long dstOff);

    /**
     * Its backward from the output {@code y}: {@code dx[r, c] = y[r, c] · (dy[r, c] − Σ_valid y[r, ·]·dy[r, ·])} on
     * the valid columns (the sum in double), 0 on the others; masked as {@link #maskedSoftmax}.
     */
    void maskedSoftmaxBackward(int rows, int cols, int rowsPerLength, Buffer lengths, Buffer y, long yOff,
                               Buffer dy, long dyOff, Buffer dx, long dxOff);

    /**
     * {@code batch} independent {@link #gemm}s of one shape: product {@code i} reads A at {@code aOff + i·strideA},
     * B at {@code bOff + i·strideB} and writes C at {@code cOff + i·strideC} (cuBLAS's strided-batched GEMM;
     * attention's scores and contexts over a batch). Exact FP32, row-major, as {@link #gemm}.
     */
    void gemmStridedBatched(boolean transA, boolean transB, int m, int n, int k, float alpha,
                            Buffer a, long aOff, int lda, long strideA, Buffer b, long bOff, int ldb, long strideB,
                            float beta, Buffer c, long cOff, int ldc, long strideC, int batch);

    // ---------------------------------------------------------------- reduced precision (org.rnn4j.Precision)

    /** Whether {@link #gemm(Precision, boolean, boolean, int, int, int, float, Buffer, long, int, Buffer, long, int, float, Buffer, long, int)} runs {@code precision}: FP32 on every engine. */
    default boolean supports(Precision precision) {
        return precision == Precision.FP32;
    }

    /**
     * {@link #gemm} at {@code precision}, C always FP32 and accumulated in FP32: {@link Precision#FP32} is {@link #gemm};
     * {@link Precision#TF32} takes FP32 A and B and rounds them to TF32 (10 mantissa bits, to nearest even);
     * {@link Precision#BF16} takes A and B as {@link DType#BF16} buffers ({@link #toBf16}). Offsets and leading
     * dimensions count elements of each buffer's own type.
     *
     * @throws IllegalArgumentException naming {@code precision} on an engine that does not {@link #supports} it
     */
    default void gemm(Precision precision, boolean transA, boolean transB, int m, int n, int k, float alpha,
                      Buffer a, long aOff, int lda, Buffer b, long bOff, int ldb,
                      float beta, Buffer c, long cOff, int ldc) {
        if (precision != Precision.FP32) {
            throw new IllegalArgumentException("precision: expected FP32 on " + describe() + ", got " + precision);
        }
        gemm(transA, transB, m, n, k, alpha, a, aOff, lda, b, bOff, ldb, beta, c, cOff, ldc);
    }

    /**
     * {@code dst[dstOff + r·cols + c] = bf16(src[srcOff + r·srcLd + c])} for {@code r < rows}, {@code c < cols}: a strided
     * FP32 block into a dense {@link DType#BF16} one, rounded to nearest even (NaN stays NaN, overflow is ±inf).
     */
    default void toBf16(int rows, int cols, Buffer src, long srcOff, int srcLd, Buffer dst, long dstOff) {
        throw new IllegalArgumentException("dst: " + describe() + " has no BF16 buffers (it computes FP32 only)");
    }

    /** {@code dst[dstOff + i] = float(src[srcOff + i])} for {@code i < n}, {@code src} BF16 (exact). */
    default void fromBf16(long n, Buffer src, long srcOff, Buffer dst, long dstOff) {
        throw new IllegalArgumentException("src: " + describe() + " has no BF16 buffers (it computes FP32 only)");
    }

    // ---------------------------------------------------------------- fused cells (one step)

    /**
     * Optionally, the inference forward of one layer-direction over all {@code steps} steps in one call, where the
     * engine has a faster way than the per-step primitives (the CPU engine's packed, fused loop). The arguments are
     * those of the layer's per-step loop: {@code a} as for {@link #lstmForward} (or the GRU or RNN step) with every
     * offset 0 except {@code a.outOff}; {@code a.xp} is scratch {@code [T, B, G·H]} for every step's input projection
     * {@code input · W_ihᵀ}, which the engine computes (as the layer's FP32 GEMM would) from {@code input}
     * {@code [T·B, inputSize]} and {@code wih} {@code [G·H, inputSize]}; {@code a.hPrev == a.hNext} two state slots
     * {@code [2, B, H]} (slot 0 the initial state), likewise {@code a.cPrev == a.cNext} for an LSTM, {@code a.hp} is
     * scratch {@code [B, G·H]}, step t's output rows start at {@code a.outOff + t·B·a.outLd}; {@code whh} is W_hh
     * {@code [G·H, H]}. {@code wihVersion} and {@code whhVersion} are the weights' tensor write versions (an engine
     * may keep reordered copies while they hold). Step t reads slot {@code t % 2} and writes slot
     * {@code (t + 1) % 2}, and the results are the per-step loop's bit for bit. Never passed: saved activations, a
     * projection, the reset-before GRU. Returns false, having done nothing, where the engine does not offer it (the
     * default); the layer then runs the input GEMM and the per-step loop.
     */
    default boolean inferenceForward(org.rnn4j.CellType cell, int steps, StepArgs a, Buffer input, int inputSize,
                                     Buffer wih, long wihVersion, Buffer whh, long whhVersion) {
        return false;
    }

    /** Fused LSTM pointwise forward of one step; see {@link StepArgs} for the buffers it reads and writes. */
    void lstmForward(StepArgs a);

    /** Fused LSTM pointwise backward of one step. */
    void lstmBackward(StepArgs a);

    /** Fused GRU pointwise forward of one step, {@code n = tanh(x_n + b_in + r ⊙ (h_n + b_hn))}. */
    void gruForward(StepArgs a);

    /** Fused GRU pointwise backward of one step (reset-after form). */
    void gruBackward(StepArgs a);

    /** Reset-before GRU, forward phase 1: r, z and {@code r ⊙ h_prev}. */
    void gruResetBeforeGates(StepArgs a);

    /** Reset-before GRU, forward phase 2: n and the new state, after the {@code W_hn (r ⊙ h)} GEMM. */
    void gruResetBeforeOutput(StepArgs a);

    /** Reset-before GRU, backward phase 1: gradients of n and z, and the direct {@code dh·z} term. */
    void gruResetBeforeBackwardOutput(StepArgs a);

    /** Reset-before GRU, backward phase 2: gradient of r, after the {@code d(r⊙h) = dn·W_hn} GEMM. */
    void gruResetBeforeBackwardGates(StepArgs a);

    /** Vanilla RNN pointwise forward, tanh or relu. */
    void rnnForward(StepArgs a);

    /** Vanilla RNN pointwise backward. */
    void rnnBackward(StepArgs a);

    /**
     * Peephole weight gradients over all steps: for {@code r < rows}, {@code j < hidden},
     * {@code dPeep[0·H+j] += Σ dG[r, i·H+j]·cPrev[r,j]}, {@code dPeep[1·H+j] += Σ dG[r, f·H+j]·cPrev[r,j]},
     * {@code dPeep[2·H+j] += Σ dG[r, o·H+j]·c[r,j]} ({@code dG} is {@code [rows, 4H]}): each product rounded
     * to float, then summed in the fixed order of {@link #ROW_CHUNK}.
     */
    void lstmPeepholeGrad(int rows, int hidden, Buffer dG, long dGOff, Buffer cPrev, long cPrevOff,
                          Buffer c, long cOff, Buffer dPeep, long dPeepOff);

    // ---------------------------------------------------------------- training

    /**
     * Softmax cross-entropy per row: for each row r of {@code logits [rows, classes]} with
     * {@code target[r] >= 0}: {@code loss[r] = logsumexp(logits[r]) - logits[r, target[r]]} and
     * {@code dLogits[r] = scale · (softmax(logits[r]) - onehot(target[r]))}; rows with
     * {@code target[r] < 0} are ignored (loss 0, gradient 0). {@code dLogits} may be {@code null}.
     */
    void softmaxCrossEntropy(int rows, int classes, Buffer logits, long logitsOff, Buffer targets, long targetsOff,
                             Buffer loss, long lossOff, Buffer dLogits, long dLogitsOff, float scale);

    /**
     * One Adam/AdamW update of {@code n} parameters in place (PyTorch's formulas): with {@code decoupled} the
     * weight decay is AdamW's {@code p -= lr·wd·p}, otherwise L2 added to the gradient. What changes from step to
     * step is read from {@code hyper}, three floats {@code {lr, 1 − β1^step, 1 − β2^step}} (step ≥ 1) that the caller
     * writes before the update, so that a {@link #replayable} region of updates replays with each step's values.
     */
    void adamStep(long n, Buffer param, Buffer grad, Buffer m, Buffer v, Buffer hyper, float beta1, float beta2,
                  float eps, float weightDecay, boolean decoupled);

    /**
     * One SGD update in place, PyTorch's formulas: {@code g += wd·p}; with momentum
     * {@code buf = μ·buf + g} (or {@code buf = g} on the first step), {@code g = nesterov ? g + μ·buf : buf};
     * {@code p -= lr·g}. {@code hyper} holds {@code {lr, firstStep ? 1 : 0}} (see {@link #adamStep}).
     * {@code velocity} may be {@code null} when {@code momentum == 0}.
     */
    void sgdStep(long n, Buffer param, Buffer grad, Buffer velocity, Buffer hyper, float momentum,
                 float weightDecay, boolean nesterov);
}
