// train.cu — loss and optimiser kernels.
//
// Row kernel rnn4j_softmax_xent: one block of 256 threads per row r of a
// [rows, classes] matrix (grid = rows). Thread k handles classes k, k+256, ...; the row maximum and
// the row sum of exp(x − max) are combined by a fixed-order shared-memory tree, so the result does
// not depend on scheduling. The sum is accumulated in double, as the CPU engine does. The class loop
// counts in 64 bits: c + 256 would overflow an int for classes near 2^31.
//
//   rnn4j_softmax_xent  target = targets[r] (int32):
//     target < 0:  loss[r] = 0, dLogits[r, :] = 0 (when dLogits)
//     otherwise:   lse = max + log Σ_c exp(x_c − max);  loss[r] = lse − x_target;
//                  dLogits[r, c] = scale·(exp(x_c − max) / Σ − [c == target])   (dLogits may be null)
//     exp is expf (≤ 2 ulp) of the float difference x_c − max, as the CPU forms it; sums, log and
//     the final scale·(p − 1) are in double (the CPU does all of it in double), so loss and
//     gradient agree with the CPU to a few 1e-7 absolute.
//
// Element-wise optimisers (grid-stride loop, any 1-D grid), n parameters in place; every float
// operation in the order CpuEngine.adamStep / sgdStep does it (the build passes -fmad=false, so
// products are rounded before they are added, as in Java). What changes from step to step (the
// learning rate of the schedule, the step's bias corrections, SGD's first step) is read from device
// memory, hyper, which the host rewrites before each step, so a CUDA graph of the update replays
// with the current values:
//   rnn4j_adam   hyper = {lr, bc1, bc2}, bc1 = 1 − β1^step, bc2 = 1 − β2^step (computed by the host in
//                double, stored as float, like the CPU)
//                g = grad;  decoupled (AdamW): p −= lr·wd·p;  otherwise g += wd·p
//                m = β1·m + (1−β1)·g;   v = β2·v + (1−β2)·g·g
//                p −= lr·(m / bc1) / (sqrt(v / bc2) + eps)
//   rnn4j_sgd    hyper = {lr, firstStep (1 or 0)}
//                g = grad + wd·p;  momentum ≠ 0: buf = firstStep ? g : μ·buf + g,
//                g = nesterov ? g + μ·buf : buf;   p −= lr·g      (velocity null when momentum == 0)
// grad is never written.
//
// Gradient clipping by global norm with no host read (Engine.clipGlobalNorm; Engine.globalNorm is the
// norm alone, without rnn4j_scale_by, the optimizer's finite check): rnn4j_sum_squares
// (sequence.cu) leaves 256 double partials per tensor, then
//   rnn4j_global_norm   one thread: sum = Σ_t (Σ_i partials[t, i]) in that order from 0 (the order in
//                       which the host adds sumSquares' partials), norm = sqrt(sum), all in double;
//                       scale = norm finite and maxNorm / (norm + 1e-6) < 1 ? (float) that : 1
//   rnn4j_scale_by      grid-stride: x[i] = scale·x[i], nothing when scale == 1 (x unchanged)
#include "common.cuh"

extern "C" __global__ void __launch_bounds__(BLOCK) rnn4j_softmax_xent(
        int rows, int classes, const float* logits, const int* targets,
        float* loss, float* dLogits, float scale) {
    __shared__ float shMax[BLOCK];
    __shared__ double shSum[BLOCK];
    const int r = blockIdx.x;
    if (r >= rows) {
        return;
    }
    const float* x = logits + (long long)r * classes;              // [classes]
    float* d = dLogits == nullptr ? nullptr : dLogits + (long long)r * classes;
    const int target = targets[r];
    if (target < 0) {
        if (threadIdx.x == 0) {
            loss[r] = 0.0f;
        }
        if (d != nullptr) {
            for (long long c = threadIdx.x; c < classes; c += BLOCK) {
                d[c] = 0.0f;
            }
        }
        return;
    }

    float rowMax;
    const double sum = blockSoftmaxSum(x, classes, &rowMax, shMax, shSum);
    const double logSum = log(sum) + (double)rowMax;
    if (threadIdx.x == 0) {
        loss[r] = (float)(logSum - (double)x[target]);
    }
    if (d != nullptr) {
        const double inv = 1.0 / sum;
        for (long long c = threadIdx.x; c < classes; c += BLOCK) {
            const double p = (double)expf(x[c] - rowMax) * inv;
            d[c] = (float)((double)scale * (p - (c == target ? 1.0 : 0.0)));
        }
    }
}

extern "C" __global__ void rnn4j_adam(
        long long n, float* p, const float* g, float* m, float* v, const float* hyper, float beta1,
        float beta2, float eps, float weightDecay, int decoupled) {
    const float lr = hyper[0];
    const float biasCorrection1 = hyper[1];
    const float biasCorrection2 = hyper[2];
    for (long long i = gridIndex(); i < n; i += gridStride()) {
        float gi = g[i];
        float pi = p[i];
        if (decoupled) {
            pi -= lr * weightDecay * pi;
        } else {
            gi += weightDecay * pi;
        }
        const float mi = beta1 * m[i] + (1.0f - beta1) * gi;
        const float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        const float denom = sqrtf(vi / biasCorrection2) + eps;
        p[i] = pi - lr * (mi / biasCorrection1) / denom;
    }
}

extern "C" __global__ void rnn4j_sgd(
        long long n, float* p, const float* g, float* velocity, const float* hyper, float momentum,
        float weightDecay, int nesterov) {
    const float lr = hyper[0];
    const bool firstStep = hyper[1] != 0.0f;
    for (long long i = gridIndex(); i < n; i += gridStride()) {
        const float pi = p[i];
        float gi = g[i] + weightDecay * pi;
        if (momentum != 0.0f) {
            const float buf = firstStep ? gi : momentum * velocity[i] + gi;
            velocity[i] = buf;
            gi = nesterov ? gi + momentum * buf : buf;
        }
        p[i] = pi - lr * gi;
    }
}

extern "C" __global__ void rnn4j_global_norm(
        int tensors, const double* partials, double maxNorm, double* norm, float* scale) {
    if (blockIdx.x != 0 || threadIdx.x != 0) {
        return;
    }
    double sum = 0.0;
    for (int t = 0; t < tensors; t++) {
        const double* part = partials + (long long)t * SUM_SQUARES_BLOCKS;   // [SUM_SQUARES_BLOCKS]
        double tensorSum = 0.0;
        for (int i = 0; i < SUM_SQUARES_BLOCKS; i++) {
            tensorSum += part[i];
        }
        sum += tensorSum;
    }
    const double n = sqrt(sum);
    const double coef = maxNorm / (n + 1e-6);
    *norm = n;
    *scale = isfinite(n) && coef < 1.0 ? (float)coef : 1.0f;
}

extern "C" __global__ void rnn4j_scale_by(long long n, float* x, const float* scale) {
    const float s = *scale;
    if (s == 1.0f) {
        return;
    }
    for (long long i = gridIndex(); i < n; i += gridStride()) {
        x[i] = s * x[i];
    }
}
