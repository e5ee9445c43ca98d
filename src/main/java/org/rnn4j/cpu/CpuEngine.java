package org.rnn4j.cpu;

import java.util.Arrays;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;
import org.rnn4j.CellType;
import org.rnn4j.DType;
import org.rnn4j.Device;
import org.rnn4j.engine.Buffer;
import org.rnn4j.engine.Dropout;
import org.rnn4j.engine.Engine;
import org.rnn4j.engine.Pointwise;
import org.rnn4j.engine.StepArgs;

/**
 * The pure-Java engine: float32 arrays, {@link CpuGemm} for the products, {@link CpuCells} for the
 * fused cell steps (parallel over samples when a step is large enough; LSTM, GRU and RNN steps through their
 * Vector API twins when the JVM has {@code jdk.incubator.vector}, see {@link CpuGemm}). Work runs synchronously, so
 * {@link #synchronize()} has nothing to wait for.
 *
 * <h2>Threads</h2>
 * Large products and cell steps run on up to {@link #threads()} threads, the calling thread included: system
 * property {@code rnn4j.threads} (a whole number {@code >= 1}; a bad value is refused with an
 * IllegalArgumentException by {@link Device#cpu()} and by every product or cell step while it decides), else
 * {@link Runtime#availableProcessors()}; {@link #setThreads(int)} overrides both for the whole JVM. Results are
 * bit-identical for every thread count.
 */
public final class CpuEngine implements Engine {

    /** Below this many cell units per step the pointwise work stays on the calling thread. */
    private static final int PARALLEL_UNITS = 1 << 14;

    private final Device device;

    public CpuEngine(Device device) {
        this.device = device;
    }

    /**
     * The threads (calling thread included) that large products and cell steps run on: the count given to
     * {@link #setThreads(int)}, else system property {@code rnn4j.threads}, else the processor count.
     *
     * @throws IllegalArgumentException when {@code rnn4j.threads} decides and is not a whole number {@code >= 1}
     */
    public static int threads() {
        return CpuGemm.threads();
    }

    /**
     * Sets the CPU engine's thread count for the whole JVM (every engine and model), overriding
     * {@code rnn4j.threads}; 1 keeps all work on the calling thread. Results do not depend on it.
     *
     * @param n threads, {@code >= 1}
     */
    public static void setThreads(int n) {
        CpuGemm.setThreads(n);
    }

    @Override
    public Device device() {
        return device;
    }

    @Override
    public Buffer allocate(DType dtype, long elements) {
        return new CpuBuffer(dtype, elements);
    }

    static CpuBuffer own(Buffer b) {
        if (!(b instanceof CpuBuffer cb)) {
            throw new IllegalArgumentException("buffer: expected a CPU buffer, got " + b.getClass().getSimpleName());
        }
        if (cb.isClosed()) {
            throw new IllegalStateException("buffer: expected an open buffer, got a closed one");
        }
        return cb;
    }

    /** The float array behind a buffer, or {@code null} for an absent one. */
    static float[] floats(Buffer b) {
        if (b == null) {
            return null;
        }
        float[] f = own(b).floats;
        if (f == null) {
            throw new IllegalArgumentException("buffer: expected F32, got I32");
        }
        return f;
    }

    /** The int array behind a buffer, or {@code null} for an absent one. */
    static int[] ints(Buffer b) {
        if (b == null) {
            return null;
        }
        int[] i = own(b).ints;
        if (i == null) {
            throw new IllegalArgumentException("buffer: expected I32, got F32");
        }
        return i;
    }

    @Override
    public void upload(float[] src, int srcOff, Buffer dst, long dstOff, int n) {
        System.arraycopy(src, srcOff, floats(dst), (int) dstOff, n);
    }

    @Override
    public void upload(int[] src, int srcOff, Buffer dst, long dstOff, int n) {
        System.arraycopy(src, srcOff, ints(dst), (int) dstOff, n);
    }

    @Override
    public void download(Buffer src, long srcOff, float[] dst, int dstOff, int n) {
        System.arraycopy(floats(src), (int) srcOff, dst, dstOff, n);
    }

    @Override
    public void download(Buffer src, long srcOff, int[] dst, int dstOff, int n) {
        System.arraycopy(ints(src), (int) srcOff, dst, dstOff, n);
    }

    @Override
    public void copy(Buffer src, long srcOff, Buffer dst, long dstOff, long n) {
        CpuBuffer s = own(src), d = own(dst);
        if (s.floats != null) {
            System.arraycopy(s.floats, (int) srcOff, floats(d), (int) dstOff, (int) n);
        } else {
            System.arraycopy(s.ints, (int) srcOff, ints(d), (int) dstOff, (int) n);
        }
    }

    @Override
    public void fill(Buffer dst, long off, long n, float value) {
        Arrays.fill(floats(dst), (int) off, (int) (off + n), value);
    }

    @Override
    public void synchronize() {
        // work is synchronous
    }

    @Override
    public String describe() {
        return "cpu: pure Java, " + threads() + " threads, GEMM kernel "
                + CpuGemm.kernelDescription() + ", " + System.getProperty("os.arch") + ", Java " + Runtime.version();
    }

    @Override
    public void close() {
        // nothing to release: arrays belong to the garbage collector
    }

    // ---------------------------------------------------------------- dense linear algebra

    @Override
    public void gemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
                     Buffer a, long aOff, int lda, Buffer b, long bOff, int ldb,
                     float beta, Buffer c, long cOff, int ldc) {
        CpuGemm.sgemm(transA, transB, m, n, k, alpha, floats(a), (int) aOff, lda, floats(b), (int) bOff, ldb,
                beta, floats(c), (int) cOff, ldc);
    }

    /** Chunks of {@link Engine#ROW_CHUNK} rows, each summed from its first row, then added to dst in order. */
    @Override
    public void sumRows(int rows, int cols, Buffer src, long srcOff, int ld, Buffer dst, long dstOff) {
        float[] s = floats(src), d = floats(dst);
        float[] chunkSum = new float[cols];
        for (int r0 = 0; r0 < rows; r0 += ROW_CHUNK) {
            int first = (int) srcOff + r0 * ld;
            System.arraycopy(s, first, chunkSum, 0, cols);
            for (int r = r0 + 1; r < Math.min(rows, r0 + ROW_CHUNK); r++) {
                int row = (int) srcOff + r * ld;
                for (int c = 0; c < cols; c++) {
                    chunkSum[c] += s[row + c];
                }
            }
            for (int c = 0; c < cols; c++) {
                d[(int) dstOff + c] += chunkSum[c];
            }
        }
    }

    @Override
    public void axpby(long n, float alpha, Buffer x, long xOff, float beta, Buffer y, long yOff) {
        float[] xs = floats(x), ys = floats(y);
        for (int i = 0; i < n; i++) {
            float ax = alpha * xs[(int) xOff + i];
            // beta == 0: y is not read, and alpha·x is stored as is (not + 0, which would turn −0 into +0)
            ys[(int) yOff + i] = beta == 0f ? ax : ax + beta * ys[(int) yOff + i];
        }
    }

    @Override
    public void clamp(long n, Buffer x, long off, float lo, float hi) {
        float[] xs = floats(x);
        for (int i = (int) off; i < off + n; i++) {
            xs[i] = Math.min(Math.max(xs[i], lo), hi);
        }
    }

    @Override
    public double sumSquares(long n, Buffer x, long off) {
        float[] xs = floats(x);
        double sum = 0;
        for (int i = (int) off; i < off + n; i++) {
            sum += (double) xs[i] * xs[i];
        }
        return sum;
    }

    @Override
    public boolean hasNonFinite(long n, Buffer x, long off) {
        float[] xs = floats(x);
        for (int i = (int) off; i < off + n; i++) {
            if (!Float.isFinite(xs[i])) {
                return true;
            }
        }
        return false;
    }

    // ---------------------------------------------------------------- sequence layout

    @Override
    public void swapLeadingAxes(int d0, int d1, int features, Buffer src, long srcOff, Buffer dst, long dstOff) {
        float[] s = floats(src), d = floats(dst);
        for (int i = 0; i < d0; i++) {
            for (int j = 0; j < d1; j++) {
                System.arraycopy(s, (int) srcOff + (i * d1 + j) * features,
                        d, (int) dstOff + (j * d0 + i) * features, features);
            }
        }
    }

    @Override
    public void reverseSequences(int steps, int batch, int features, Buffer lengths,
                                 Buffer src, long srcOff, int srcLd, Buffer dst, long dstOff, int dstLd,
                                 boolean accumulate) {
        float[] s = floats(src), d = floats(dst);
        int[] len = ints(lengths);
        for (int t = 0; t < steps; t++) {
            for (int b = 0; b < batch; b++) {
                int l = len == null ? steps : len[b];
                int to = (int) dstOff + (t * batch + b) * dstLd;
                if (t >= l) {
                    if (!accumulate) {
                        Arrays.fill(d, to, to + features, 0f);
                    }
                    continue;
                }
                int from = (int) srcOff + ((l - 1 - t) * batch + b) * srcLd;
                for (int f = 0; f < features; f++) {
                    d[to + f] = accumulate ? d[to + f] + s[from + f] : s[from + f];
                }
            }
        }
    }

    @Override
    public void seedStateGrad(int steps, int batch, int features, Buffer lengths,
                              Buffer dy, long dyOff, int dyLd, Buffer dhN, long dhNOff,
                              Buffer dst, long dstOff) {
        float[] y = floats(dy), hn = floats(dhN), d = floats(dst);
        int[] len = ints(lengths);
        for (int t = 0; t < steps; t++) {
            for (int b = 0; b < batch; b++) {
                int l = len == null ? steps : len[b];
                int to = (int) dstOff + (t * batch + b) * features;
                for (int f = 0; f < features; f++) {
                    float v = 0f;
                    if (y != null && t < l) {
                        v = y[(int) dyOff + (t * batch + b) * dyLd + f];
                    }
                    if (hn != null && t == l - 1) {
                        v += hn[(int) dhNOff + b * features + f];
                    }
                    d[to + f] = v;
                }
            }
        }
    }

    @Override
    public void maskedUpdate(int batch, int features, int step, Buffer lengths,
                             Buffer fresh, long freshOff, Buffer prev, long prevOff,
                             Buffer state, long stateOff, Buffer out, long outOff, int outLd) {
        float[] fr = floats(fresh), pr = floats(prev), st = floats(state), o = floats(out);
        int[] len = ints(lengths);
        for (int b = 0; b < batch; b++) {
            boolean v = CpuCells.valid(len, b, step);
            for (int f = 0; f < features; f++) {
                int i = b * features + f;
                float x = fr[(int) freshOff + i];
                st[(int) stateOff + i] = v ? x : pr[(int) prevOff + i];
                o[(int) outOff + b * outLd + f] = v ? x : 0f;
            }
        }
    }

    @Override
    public void dropout(long n, float p, Buffer base, long baseOff, long seed, Buffer src, long srcOff, Buffer dst,
                        long dstOff) {
        if (base != null) {
            int[] b = ints(base);
            seed += (b[(int) baseOff] & 0xFFFFFFFFL) | (long) b[(int) baseOff + 1] << 32;
        }
        float[] s = floats(src), d = floats(dst);
        float scale = 1f / (1f - p);
        for (long i = 0; i < n; i++) {
            float v = s[(int) (srcOff + i)];
            d[(int) (dstOff + i)] = Dropout.uniform(seed, i) >= p ? v * scale : 0f;
        }
    }

    @Override
    public void gatherRows(int rows, int cols, Buffer indices, long idxOff, Buffer table, long tableOff,
                           Buffer dst, long dstOff) {
        int[] idx = ints(indices);
        float[] t = floats(table), d = floats(dst);
        for (int r = 0; r < rows; r++) {
            System.arraycopy(t, (int) tableOff + idx[(int) idxOff + r] * cols, d, (int) dstOff + r * cols, cols);
        }
    }

    @Override
    public void scatterAddRows(int rows, int cols, Buffer indices, long idxOff, Buffer src, long srcOff,
                               Buffer table, long tableOff) {
        int[] idx = ints(indices);
        float[] s = floats(src), t = floats(table);
        for (int r = 0; r < rows; r++) {
            int to = (int) tableOff + idx[(int) idxOff + r] * cols, from = (int) srcOff + r * cols;
            for (int c = 0; c < cols; c++) {
                t[to + c] += s[from + c];
            }
        }
    }

    // ---------------------------------------------------------------- fused cells

    private static void forEachSample(StepArgs a, IntConsumer perSample) {
        int threads = threads();
        if ((long) a.batch * a.hidden < PARALLEL_UNITS || a.batch == 1 || threads == 1) {
            for (int b = 0; b < a.batch; b++) {
                perSample.accept(b);
            }
        } else {
            try {
                cellPool(threads).submit(() -> IntStream.range(0, a.batch).parallel().forEach(perSample)).join();
            } catch (RejectedExecutionException e) {   // the pool was replaced meanwhile (a new thread count)
                IntStream.range(0, a.batch).forEach(perSample);
            }
        }
    }

    private static volatile ForkJoinPool cells;

    /** The pool the cell steps' samples run on, with {@code threads} workers (replaced when the count changes). */
    private static ForkJoinPool cellPool(int threads) {
        ForkJoinPool p = cells;
        return p != null && p.getParallelism() == threads ? p : newCellPool(threads);
    }

    private static synchronized ForkJoinPool newCellPool(int threads) {
        if (cells == null || cells.getParallelism() != threads) {
            if (cells != null) {
                cells.shutdown();
            }
            cells = new ForkJoinPool(threads, pool -> {
                ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
                t.setName("rnn4j-cells-" + t.getPoolIndex());
                return t;
            }, null, false);
        }
        return cells;
    }

    // ---------------------------------------------------------------- tensor operations

    @Override
    public void copyRows(int rows, int cols, Buffer src, long srcOff, int srcLd, Buffer dst, long dstOff, int dstLd,
                         boolean accumulate) {
        float[] s = floats(src), d = floats(dst);
        for (int r = 0; r < rows; r++) {
            int in = (int) (srcOff + (long) r * srcLd), out = (int) (dstOff + (long) r * dstLd);
            if (accumulate) {
                for (int c = 0; c < cols; c++) {
                    d[out + c] += s[in + c];
                }
            } else {
                System.arraycopy(s, in, d, out, cols);
            }
        }
    }

    @Override
    public void pointwise(Pointwise f, long n, Buffer x, long xOff, Buffer y, long yOff, long yPeriod,
                          Buffer dst, long dstOff) {
        float[] xs = floats(x), ys = floats(y), d = floats(dst);
        int xo = (int) xOff, yo = (int) yOff, o = (int) dstOff, period = (int) yPeriod;
        for (int i = 0, j = 0; i < n; i++, j = j + 1 == period ? 0 : j + 1) {
            float v = xs[xo + i];
            d[o + i] = switch (f) {
                case ADD -> v + ys[yo + j];
                case MUL -> v * ys[yo + j];
                case TANH -> CpuCells.tanh(v);
                case SIGMOID -> CpuCells.sigmoid(v);
                case TANH_GRAD -> ys[yo + j] * (1f - v * v);
                case SIGMOID_GRAD -> ys[yo + j] * v * (1f - v);
            };
        }
    }

    @Override
    public void maskedSoftmax(int rows, int cols, int rowsPerLength, Buffer lengths, Buffer src, long srcOff,
                              Buffer dst, long dstOff) {
        float[] s = floats(src), d = floats(dst);
        int[] len = ints(lengths);
        for (int r = 0; r < rows; r++) {
            int in = (int) (srcOff + (long) r * cols), out = (int) (dstOff + (long) r * cols);
            int valid = len == null ? cols : len[r / rowsPerLength];
            float max = rowMax(s, in, valid);
            double sum = expSum(s, in, valid, max);
            for (int c = 0; c < valid; c++) {
                d[out + c] = (float) (Math.exp(s[in + c] - max) / sum);
            }
            Arrays.fill(d, out + valid, out + cols, 0f);
        }
    }

    /** max x[off .. off + n) (a NaN wins): the shift of a softmax, as the kernels' blockSoftmaxSum forms it. */
    private static float rowMax(float[] x, int off, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int c = 0; c < n; c++) {
            max = Math.max(max, x[off + c]);
        }
        return max;
    }

    /** Σ exp(x_c − max) over x[off .. off + n), in double: a softmax's normaliser. */
    private static double expSum(float[] x, int off, int n, float max) {
        double sum = 0;
        for (int c = 0; c < n; c++) {
            sum += Math.exp(x[off + c] - max);
        }
        return sum;
    }

    @Override
    public void maskedSoftmaxBackward(int rows, int cols, int rowsPerLength, Buffer lengths, Buffer y, long yOff,
                                      Buffer dy, long dyOff, Buffer dx, long dxOff) {
        float[] ys = floats(y), g = floats(dy), d = floats(dx);
        int[] len = ints(lengths);
        for (int r = 0; r < rows; r++) {
            long row = (long) r * cols;
            int yo = (int) (yOff + row), go = (int) (dyOff + row), o = (int) (dxOff + row);
            int valid = len == null ? cols : len[r / rowsPerLength];
            double dot = 0;
            for (int c = 0; c < valid; c++) {
                dot += (double) ys[yo + c] * g[go + c];
            }
            for (int c = 0; c < valid; c++) {
                d[o + c] = (float) (ys[yo + c] * (g[go + c] - dot));
            }
            Arrays.fill(d, o + valid, o + cols, 0f);
        }
    }

    @Override
    public void gemmStridedBatched(boolean transA, boolean transB, int m, int n, int k, float alpha,
                                   Buffer a, long aOff, int lda, long strideA, Buffer b, long bOff, int ldb, long strideB,
                                   float beta, Buffer c, long cOff, int ldc, long strideC, int batch) {
        float[] as = floats(a), bs = floats(b), cs = floats(c);
        for (int i = 0; i < batch; i++) {
            CpuGemm.sgemm(transA, transB, m, n, k, alpha, as, (int) (aOff + i * strideA), lda,
                    bs, (int) (bOff + i * strideB), ldb, beta, cs, (int) (cOff + i * strideC), ldc);
        }
    }

    @Override
    public void lstmForward(StepArgs a) {
        CellSteps v = CpuGemm.vectorCells();
        forEachSample(a, v != null ? b -> v.lstmForward(a, b) : b -> CpuCells.lstmForward(a, b));
    }

    /** The fused, packed loop of {@link InferenceLoop}: the per-step loop's bits, per block of hidden units. */
    @Override
    public boolean inferenceForward(CellType cell, int steps, StepArgs a, Buffer input, int inputSize,
                                    Buffer wih, long wihVersion, Buffer whh, long whhVersion) {
        return InferenceLoop.run(cell, steps, a, own(input), inputSize, own(wih), wihVersion, own(whh), whhVersion);
    }

    @Override
    public void lstmBackward(StepArgs a) {
        CellSteps v = CpuGemm.vectorCells();
        forEachSample(a, v != null ? b -> v.lstmBackward(a, b) : b -> CpuCells.lstmBackward(a, b));
    }

    @Override
    public void gruForward(StepArgs a) {
        CellSteps v = CpuGemm.vectorCells();
        forEachSample(a, v != null ? b -> v.gruForward(a, b) : b -> CpuCells.gruForward(a, b));
    }

    @Override
    public void gruBackward(StepArgs a) {
        forEachSample(a, b -> CpuCells.gruBackward(a, b));
    }

    @Override
    public void gruResetBeforeGates(StepArgs a) {
        forEachSample(a, b -> CpuCells.gruResetBeforeGates(a, b));
    }

    @Override
    public void gruResetBeforeOutput(StepArgs a) {
        forEachSample(a, b -> CpuCells.gruResetBeforeOutput(a, b));
    }

    @Override
    public void gruResetBeforeBackwardOutput(StepArgs a) {
        forEachSample(a, b -> CpuCells.gruResetBeforeBackwardOutput(a, b));
    }

    @Override
    public void gruResetBeforeBackwardGates(StepArgs a) {
        forEachSample(a, b -> CpuCells.gruResetBeforeBackwardGates(a, b));
    }

    @Override
    public void rnnForward(StepArgs a) {
        CellSteps v = CpuGemm.vectorCells();
        forEachSample(a, v != null ? b -> v.rnnForward(a, b) : b -> CpuCells.rnnForward(a, b));
    }

    @Override
    public void rnnBackward(StepArgs a) {
        forEachSample(a, b -> CpuCells.rnnBackward(a, b));
    }

    /** Chunks of {@link Engine#ROW_CHUNK} rows as {@link #sumRows}; each term is a float product, rounded before it is added. */
    @Override
    public void lstmPeepholeGrad(int rows, int hidden, Buffer dG, long dGOff, Buffer cPrev, long cPrevOff,
                                 Buffer c, long cOff, Buffer dPeep, long dPeepOff) {
        float[] g = floats(dG), cp = floats(cPrev), cn = floats(c), dp = floats(dPeep);
        int h = hidden;
        float[] chunkSum = new float[3 * h];   // [i | f | o] terms, as dPeep
        for (int r0 = 0; r0 < rows; r0 += ROW_CHUNK) {
            for (int r = r0; r < Math.min(rows, r0 + ROW_CHUNK); r++) {
                int gr = (int) dGOff + r * 4 * h;
                int cr = r * h;
                for (int j = 0; j < h; j++) {
                    float ti = g[gr + j] * cp[(int) cPrevOff + cr + j];
                    float tf = g[gr + h + j] * cp[(int) cPrevOff + cr + j];
                    float to = g[gr + 3 * h + j] * cn[(int) cOff + cr + j];
                    boolean first = r == r0;
                    chunkSum[j] = first ? ti : chunkSum[j] + ti;
                    chunkSum[h + j] = first ? tf : chunkSum[h + j] + tf;
                    chunkSum[2 * h + j] = first ? to : chunkSum[2 * h + j] + to;
                }
            }
            for (int k = 0; k < 3 * h; k++) {
                dp[(int) dPeepOff + k] += chunkSum[k];
            }
        }
    }

    // ---------------------------------------------------------------- training

    @Override
    public void softmaxCrossEntropy(int rows, int classes, Buffer logits, long logitsOff, Buffer targets, long targetsOff,
                                    Buffer loss, long lossOff, Buffer dLogits, long dLogitsOff, float scale) {
        float[] x = floats(logits), l = floats(loss), d = floats(dLogits);
        int[] tg = ints(targets);
        for (int r = 0; r < rows; r++) {
            int row = (int) logitsOff + r * classes;
            int target = tg[(int) targetsOff + r];
            if (target < 0) {
                l[(int) lossOff + r] = 0f;
                if (d != null) {
                    Arrays.fill(d, (int) dLogitsOff + r * classes, (int) dLogitsOff + (r + 1) * classes, 0f);
                }
                continue;
            }
            float max = rowMax(x, row, classes);
            double logSum = Math.log(expSum(x, row, classes, max)) + max;
            l[(int) lossOff + r] = (float) (logSum - x[row + target]);
            if (d != null) {
                int drow = (int) dLogitsOff + r * classes;
                for (int c = 0; c < classes; c++) {
                    double p = Math.exp(x[row + c] - logSum);
                    d[drow + c] = (float) (scale * (p - (c == target ? 1 : 0)));
                }
            }
        }
    }

    @Override
    public void adamStep(long n, Buffer param, Buffer grad, Buffer m, Buffer v, Buffer hyper, float beta1, float beta2,
                         float eps, float weightDecay, boolean decoupled) {
        float[] p = floats(param), g = floats(grad), ms = floats(m), vs = floats(v), h = floats(hyper);
        float lr = h[0];
        float bc1 = h[1];
        float bc2 = h[2];
        for (int i = 0; i < n; i++) {
            float gi = g[i];
            if (decoupled) {
                p[i] -= lr * weightDecay * p[i];
            } else {
                gi += weightDecay * p[i];
            }
            ms[i] = beta1 * ms[i] + (1 - beta1) * gi;
            vs[i] = beta2 * vs[i] + (1 - beta2) * gi * gi;
            float denom = (float) Math.sqrt(vs[i] / bc2) + eps;
            p[i] -= lr * (ms[i] / bc1) / denom;
        }
    }

    @Override
    public void sgdStep(long n, Buffer param, Buffer grad, Buffer velocity, Buffer hyper, float momentum,
                        float weightDecay, boolean nesterov) {
        float[] p = floats(param), g = floats(grad), buf = floats(velocity), h = floats(hyper);
        float lr = h[0];
        boolean firstStep = h[1] != 0f;
        for (int i = 0; i < n; i++) {
            float gi = g[i] + weightDecay * p[i];
            if (momentum != 0f) {
                buf[i] = firstStep ? gi : momentum * buf[i] + gi;
                gi = nesterov ? gi + momentum * buf[i] : buf[i];
            }
            p[i] -= lr * gi;
        }
    }
}
