// sequence.cu — element-wise, reduction and sequence-layout kernels.
//
// Launch shape: every kernel here except rnn4j_sum_squares is a grid-stride loop, correct for any
// 1-D grid (the host uses 256 threads per block and enough blocks to cover the work, capped).
// Element counts are 64-bit; T = steps, B = batch, F = features; len[b] = lengths[b], or T when
// lengths is null. All buffers are float32 unless noted; lengths is int32 [B].
//
//   rnn4j_fill             dst[i] = value                                            i < n
//   rnn4j_axpby            y[i] = alpha·x[i] + beta·y[i]; beta == 0: y[i] = alpha·x[i] (y not read; so
//                          x == y with beta == 0 is y = alpha·y, BLAS's scal, −0 kept)
//   rnn4j_clamp            x[i] = Math.min(Math.max(x[i], lo), hi) bit for bit (NaN stays NaN, −0 < +0)
//   rnn4j_sum_rows_chunks  phase 1 of dst[c] += Σ_r src[r·ld + c]: partial[q, c] = Σ src[r, c] over the
//                          rows r of chunk q (ROW_CHUNK rows, in order, from the first)    src rows ld apart,
//                          partial [chunks, cols] with chunks = ceil(rows / ROW_CHUNK); one work item per (q, c)
//   rnn4j_add_chunk_sums   phase 2: dst[c] = dst[c] + partial[0, c] + partial[1, c] + … in chunk order
//                          (one work item per column). Both phases are CpuEngine.sumRows's order: bit for bit
//   rnn4j_sum_squares      partial[block] = Σ x[i]² in double over the block's grid-stride share;
//                          launched as SUM_SQUARES_BLOCKS × 256, fixed-order tree reduction in the
//                          block; the host adds the 256 partials in order          partial: double [256]
//   rnn4j_non_finite       *flag = 1 when any x[i] is NaN or ±inf (never cleared here; the host
//                          zeroes it); one plain store per block that found one, no atomics  flag: int32
//   rnn4j_swap_leading_axes dst[j, i, :] = src[i, j, :]      src [d0, d1, F], dst [d1, d0, F], distinct
//   rnn4j_reverse_sequences  t < len[b]: dst[t, b, :] (= or +=) src[len[b]−1−t, b, :];
//                          t >= len[b]: dst[t, b, :] = 0, or left as is when accumulating.
//                          Row (t, b) of src starts at (t·B + b)·srcLd, of dst at (t·B + b)·dstLd;
//                          src and dst must not overlap.
//   rnn4j_seed_state_grad  dst[t, b, :] = (t < len[b] ? dy[t, b, :] : 0) + (t == len[b]−1 ? dhN[b, :] : 0)
//                          dy rows dyLd apart (null: 0), dhN [B, F] (null: 0), dst dense [T, B, F]
//   rnn4j_masked_update    state[b, j] = v ? fresh[b, j] : prev[b, j];  out[b·outLd + j] = v ? fresh[b, j] : 0
//                          with v = valid(lengths, b, step); fresh, prev, state [B, F]; state may alias prev
//   rnn4j_dropout          dst[i] = Dropout.uniform(s, i) >= p ? src[i] · (1 / (1 − p)) : 0;  src may alias dst,
//                          s = seed + (base ? *base : 0): a step graph reads the part that changes from base
//                          (int64, device memory written before it), so its replays draw new masks
//                          (the mask is bit-identical to the CPU engine's; so is the scaling)
//   rnn4j_gather_rows      dst[r, c] = table[idx[r], c]             idx int32 [rows], table [V, cols], dst [rows, cols]
//   rnn4j_scatter_add_rows table[idx[r], c] += src[r, c] for r = 0 .. rows−1 in order. Work item (p, c),
//                          p < parts, walks all rows and takes those with idx[r] mod parts == p: each
//                          table entry has one owner, which adds in row order, so repeated indices add up
//                          as on the CPU, bit for bit, without atomics, over parts × cols work items.
//                          (Row chunks would not help here: adds into one table row depend on each other.)
#include "common.cuh"

extern "C" __global__ void rnn4j_fill(long long n, float* dst, float value) {
    for (long long i = gridIndex(); i < n; i += gridStride()) {
        dst[i] = value;
    }
}

extern "C" __global__ void rnn4j_axpby(long long n, float alpha, const float* x, float beta, float* y) {
    if (beta == 0.0f) {
        for (long long i = gridIndex(); i < n; i += gridStride()) {
            y[i] = alpha * x[i];          // as the CPU: one rounding, the sign of zero kept
        }
    } else {
        for (long long i = gridIndex(); i < n; i += gridStride()) {
            y[i] = alpha * x[i] + beta * y[i];
        }
    }
}

extern "C" __global__ void rnn4j_clamp(long long n, float* x, float lo, float hi) {
    for (long long i = gridIndex(); i < n; i += gridStride()) {
        x[i] = clampf(x[i], lo, hi);
    }
}

extern "C" __global__ void rnn4j_sum_rows_chunks(int rows, int cols, const float* src, int ld, float* partial) {
    const long long chunks = ((long long)rows + ROW_CHUNK - 1) / ROW_CHUNK;
    for (long long e = gridIndex(); e < chunks * cols; e += gridStride()) {   // e indexes partial [chunks, cols]
        const long long q = e / cols;
        const float* col = src + (e - q * cols);
        const long long end = chunkEnd(q, rows);
        float acc = col[chunkBegin(q) * ld];
#pragma unroll 4
        for (long long r = chunkBegin(q) + 1; r < end; r++) {
            acc += col[r * ld];
        }
        partial[e] = acc;
    }
}

extern "C" __global__ void rnn4j_add_chunk_sums(int chunks, int cols, const float* partial, float* dst) {
    for (long long c = gridIndex(); c < cols; c += gridStride()) {
        float acc = dst[c];
        for (int q = 0; q < chunks; q++) {
            acc += partial[(long long)q * cols + c];
        }
        dst[c] = acc;
    }
}

extern "C" __global__ void __launch_bounds__(BLOCK) rnn4j_sum_squares(long long n, const float* x, double* partial) {
    __shared__ double part[BLOCK];
    double acc = 0.0;
    for (long long i = gridIndex(); i < n; i += gridStride()) {
        const double v = x[i];
        acc += v * v;
    }
    const double sum = blockSum(acc, part);
    if (threadIdx.x == 0) {
        partial[blockIdx.x] = sum;
    }
}

extern "C" __global__ void rnn4j_non_finite(long long n, const float* x, int* flag) {
    int bad = 0;
    for (long long i = gridIndex(); i < n; i += gridStride()) {
        bad |= !isfinite(x[i]);
    }
    if (__syncthreads_or(bad) && threadIdx.x == 0) {
        *flag = 1;
    }
}

extern "C" __global__ void rnn4j_swap_leading_axes(int d0, int d1, int features, const float* src, float* dst) {
    const long long n = (long long)d0 * d1 * features;
    for (long long e = gridIndex(); e < n; e += gridStride()) {     // e indexes dst [d1, d0, F]
        const long long q = e / features;
        const int f = (int)(e - q * features);
        const int i = (int)(q % d0);
        const int j = (int)(q / d0);
        dst[e] = src[((long long)i * d1 + j) * features + f];
    }
}

extern "C" __global__ void rnn4j_reverse_sequences(
        int steps, int batch, int features, const int* lengths,
        const float* src, int srcLd, float* dst, int dstLd, int accumulate) {
    const long long n = (long long)steps * batch * features;
    for (long long e = gridIndex(); e < n; e += gridStride()) {     // e indexes [T, B, F]
        const long long row = e / features;                       // t·B + b
        const int f = (int)(e - row * features);
        const int b = (int)(row % batch);
        const int t = (int)(row / batch);
        const int len = lengths == nullptr ? steps : lengths[b];
        float* d = dst + row * dstLd + f;
        if (t < len) {
            const float v = src[((long long)(len - 1 - t) * batch + b) * srcLd + f];
            *d = accumulate ? *d + v : v;
        } else if (!accumulate) {
            *d = 0.0f;
        }
    }
}

extern "C" __global__ void rnn4j_seed_state_grad(
        int steps, int batch, int features, const int* lengths,
        const float* dy, int dyLd, const float* dhN, float* dst) {
    const long long n = (long long)steps * batch * features;
    for (long long e = gridIndex(); e < n; e += gridStride()) {     // e indexes dst [T, B, F]
        const long long row = e / features;                       // t·B + b
        const int f = (int)(e - row * features);
        const int b = (int)(row % batch);
        const int t = (int)(row / batch);
        const int len = lengths == nullptr ? steps : lengths[b];
        float v = (dy != nullptr && t < len) ? dy[row * dyLd + f] : 0.0f;
        if (dhN != nullptr && t == len - 1) {
            v += dhN[(long long)b * features + f];
        }
        dst[e] = v;
    }
}

extern "C" __global__ void rnn4j_masked_update(
        int batch, int features, int step, const int* lengths, const float* fresh,
        const float* prev, float* state, float* out, int outLd) {
    const long long n = (long long)batch * features;
    for (long long e = gridIndex(); e < n; e += gridStride()) {     // e indexes [B, F]
        const int b = (int)(e / features);
        const int j = (int)(e - (long long)b * features);
        const bool v = valid(lengths, b, step);
        state[e] = v ? fresh[e] : prev[e];
        if (out != nullptr) {
            out[(long long)b * outLd + j] = v ? fresh[e] : 0.0f;
        }
    }
}

extern "C" __global__ void rnn4j_dropout(long long n, float p, const unsigned long long* base, unsigned long long seed,
                                         const float* src, float* dst) {
    const float scale = 1.0f / (1.0f - p);    // as CpuEngine.dropout: src · (1 / (1 − p))
    if (base != nullptr) {
        seed += *base;
    }
    for (long long i = gridIndex(); i < n; i += gridStride()) {
        const float v = src[i];
        dst[i] = dropoutUniform(seed, i) >= p ? v * scale : 0.0f;
    }
}

extern "C" __global__ void rnn4j_gather_rows(int rows, int cols, const int* indices, const float* table, float* dst) {
    const long long n = (long long)rows * cols;
    for (long long i = gridIndex(); i < n; i += gridStride()) {
        const long long r = i / cols;
        const long long c = i - r * cols;
        dst[i] = table[(long long)indices[r] * cols + c];
    }
}

extern "C" __global__ void rnn4j_scatter_add_rows(int rows, int cols, int parts, const int* indices, const float* src,
                                                  float* table) {
    for (long long e = gridIndex(); e < (long long)parts * cols; e += gridStride()) {   // e = p·cols + c
        const unsigned p = (unsigned)(e / cols);
        const long long c = e - (long long)p * cols;
        for (int r = 0; r < rows; r++) {
            const int v = indices[r];
            if ((unsigned)v % (unsigned)parts == p) {   // the same for a warp's columns: no divergence
                table[(long long)v * cols + c] += src[(long long)r * cols + c];
            }
        }
    }
}
