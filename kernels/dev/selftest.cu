// selftest.cu — a quick sanity check of the LSTM step kernels against a CPU double loop, for a GPU
// host, without Maven or Java. Not part of the fatbins (native/build.sh compiles kernels/*.cu only).
//
// On a GPU host (links the kernels in from ../lstm.cu etc.; -fmad=false as native/build.sh):
//   nvcc -std=c++17 -O2 -fmad=false -arch=native -o /tmp/rnn4j_selftest kernels/dev/selftest.cu -lcuda
//   /tmp/rnn4j_selftest                               # kernels compiled into the program
//   /tmp/rnn4j_selftest target/classes/org/rnn4j/kernels
//       # additionally loads lstm.fatbin / sequence.fatbin from that folder through the driver API,
//       # as the Java engine does, and checks they give the same numbers (catches a driver that
//       # cannot load what this nvcc produced)
// Without a GPU, mvn test runs these kernels (and all others) on the stand-in driver, native/standin.
//
// What it checks: rnn4j_lstm_forward then rnn4j_lstm_backward for several shapes (batch 1, 3, 4;
// hidden 1, 5, 33) and options (biases or none, peepholes, cell clip, coupled gate, lengths that
// differ per sample, an out stride wider than H), every output buffer against a double-precision
// loop written from the equations in kernels/lstm.cu; and rnn4j_dropout against golden values of
// org.rnn4j.engine.Dropout.uniform computed in Java. Prints one line per case and exits 1 on the
// first failure set.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>


#include "../lstm.cu"
#include "../sequence.cu"

// ---------------------------------------------------------------- device buffers and launches

#include <cuda.h>
#include <cuda_runtime.h>
#define CUDA_OK(call)                                                                               \
    do {                                                                                            \
        cudaError_t e_ = (call);                                                                    \
        if (e_ != cudaSuccess) {                                                                    \
            std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
            std::exit(2);                                                                           \
        }                                                                                           \
    } while (0)
#define CU_OK(call)                                                                                 \
    do {                                                                                            \
        CUresult r_ = (call);                                                                       \
        if (r_ != CUDA_SUCCESS) {                                                                   \
            const char* s_ = nullptr;                                                               \
            cuGetErrorString(r_, &s_);                                                              \
            std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, s_ ? s_ : "?");      \
            std::exit(2);                                                                           \
        }                                                                                           \
    } while (0)
template <typename T>
static T* devAlloc(size_t n) {
    T* p = nullptr;
    CUDA_OK(cudaMalloc(&p, (n == 0 ? 1 : n) * sizeof(T)));
    CUDA_OK(cudaMemset(p, 0, (n == 0 ? 1 : n) * sizeof(T)));
    return p;
}
template <typename T>
static void devFree(T* p) { CUDA_OK(cudaFree(p)); }
template <typename T>
static void toDev(T* d, const std::vector<T>& h) {
    CUDA_OK(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
}
template <typename T>
static void toHost(std::vector<T>& h, const T* d) {
    CUDA_OK(cudaMemcpy(h.data(), d, h.size() * sizeof(T), cudaMemcpyDeviceToHost));
}
template <typename K, typename... A>
static void launch(K kernel, long long threads, A... args) {
    const unsigned grid = (unsigned)((threads + BLOCK - 1) / BLOCK);
    kernel<<<grid, BLOCK>>>(args...);
    CUDA_OK(cudaGetLastError());
    CUDA_OK(cudaDeviceSynchronize());
}
// Functions loaded from the fatbins (null: use the compiled-in kernels only).
static CUfunction gLstmForwardFatbin = nullptr;
static CUfunction gLstmBackwardFatbin = nullptr;
static CUfunction gDropoutFatbin = nullptr;
static bool loadFatbins(const char* dir) {
    if (dir == nullptr) {
        return true;
    }
    CUDA_OK(cudaFree(nullptr));   // creates the primary context the runtime uses
    CUmodule lstm, seq;
    CU_OK(cuModuleLoad(&lstm, (std::string(dir) + "/lstm.fatbin").c_str()));
    CU_OK(cuModuleLoad(&seq, (std::string(dir) + "/sequence.fatbin").c_str()));
    CU_OK(cuModuleGetFunction(&gLstmForwardFatbin, lstm, "rnn4j_lstm_forward"));
    CU_OK(cuModuleGetFunction(&gLstmBackwardFatbin, lstm, "rnn4j_lstm_backward"));
    CU_OK(cuModuleGetFunction(&gDropoutFatbin, seq, "rnn4j_dropout"));
    std::printf("loaded lstm.fatbin and sequence.fatbin from %s\n", dir);
    return true;
}
// Launches a function from a fatbin with the given arguments (by address, as cuLaunchKernel wants).
template <typename... A>
static void launchFatbin(CUfunction f, long long threads, A... args) {
    void* params[] = {&args...};
    const unsigned grid = (unsigned)((threads + BLOCK - 1) / BLOCK);
    CU_OK(cuLaunchKernel(f, grid, 1, 1, BLOCK, 1, 1, 0, nullptr, params, nullptr));
    CU_OK(cuCtxSynchronize());
}

// ---------------------------------------------------------------- helpers

static unsigned long long gRng = 0x2545F4914F6CDD1DULL;
static float uniform(float lo, float hi) {   // xorshift64*, seeded: the same inputs every run
    gRng ^= gRng >> 12;
    gRng ^= gRng << 25;
    gRng ^= gRng >> 27;
    const unsigned long long r = gRng * 0x2545F4914F6CDD1DULL;
    return lo + (hi - lo) * (float)((r >> 40) * 0x1.0p-24);
}
static std::vector<float> randomVec(size_t n, float scale) {
    std::vector<float> v(n);
    for (auto& x : v) {
        x = uniform(-scale, scale);
    }
    return v;
}

static int gFailures = 0;

// |got − want| <= atol + rtol·|want| everywhere; reports the first bad index and the max difference.
static bool close(const char* what, const std::vector<float>& got, const std::vector<double>& want,
                  double atol = 2e-6, double rtol = 2e-5) {
    double maxDiff = 0;
    long bad = -1;
    for (size_t k = 0; k < want.size(); k++) {
        const double d = std::fabs((double)got[k] - want[k]);
        maxDiff = d > maxDiff ? d : maxDiff;
        if (bad < 0 && !(d <= atol + rtol * std::fabs(want[k]))) {
            bad = (long)k;
        }
    }
    if (bad >= 0) {
        std::printf("  FAIL %s: first bad index %ld: got %.9g, want %.9g; max |diff| %.3g\n", what, bad,
                    got[bad], want[bad], maxDiff);
        gFailures++;
        return false;
    }
    return true;
}

static double sig(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// ---------------------------------------------------------------- LSTM: reference and test

struct LstmCase {
    const char* name;
    int B, H;
    bool bias, peep, coupled;
    float clip;
    std::vector<int> lengths;   // empty: null (all valid)
    int step;
};

static bool lstmCase(const LstmCase& c, bool viaFatbin) {
    const int B = c.B, H = c.H, G = 4 * H, outLd = H + 3;
    std::vector<float> xp = randomVec((size_t)B * G, 1.5f), hp = randomVec((size_t)B * G, 1.5f);
    std::vector<float> bih = randomVec(G, 0.5f), bhh = randomVec(G, 0.5f), peep = randomVec(3 * H, 0.7f);
    std::vector<float> hPrev = randomVec((size_t)B * H, 1.0f), cPrev = randomVec((size_t)B * H, 2.0f);
    std::vector<float> dh = randomVec((size_t)B * H, 1.0f), dc = randomVec((size_t)B * H, 1.0f);
    std::vector<float> outInit((size_t)B * outLd, 7.0f);   // padding columns must stay 7

    // --- reference (double), from the equations in kernels/lstm.cu
    std::vector<double> rC((size_t)B * H), rH((size_t)B * H), rOut(outInit.begin(), outInit.end());
    std::vector<double> rSaved((size_t)B * 4 * H), rDG((size_t)B * G), rDc(dc.begin(), dc.end());
    for (int b = 0; b < B; b++) {
        const bool v = c.lengths.empty() || c.step < c.lengths[b];
        for (int j = 0; j < H; j++) {
            const int s = b * H + j;
            const double cp = cPrev[s];
            if (!v) {
                rC[s] = cp;
                rH[s] = hPrev[s];
                rOut[(size_t)b * outLd + j] = 0;
                for (int k = 0; k < 4; k++) {
                    rSaved[(size_t)b * 4 * H + k * H + j] = 0;
                    rDG[(size_t)b * G + k * H + j] = 0;
                }
                continue;
            }
            double pre[4];
            for (int k = 0; k < 4; k++) {
                const int col = k * H + j;
                pre[k] = (double)xp[(size_t)b * G + col] + hp[(size_t)b * G + col]
                         + (c.bias ? (double)bih[col] + bhh[col] : 0.0);
            }
            const double pI = c.peep ? peep[j] : 0, pF = c.peep ? peep[H + j] : 0, pO = c.peep ? peep[2 * H + j] : 0;
            const double i = sig(pre[0] + pI * cp);
            const double f = c.coupled ? 1 - i : sig(pre[1] + pF * cp);
            const double g = std::tanh(pre[2]);
            const double cRaw = f * cp + i * g;
            const bool clipped = c.clip > 0 && std::fabs(cRaw) > c.clip;
            const double cv = clipped ? (cRaw > 0 ? c.clip : -c.clip) : cRaw;
            const double o = sig(pre[3] + pO * cv);
            const double tc = std::tanh(cv);
            rC[s] = cv;
            rH[s] = o * tc;
            rOut[(size_t)b * outLd + j] = o * tc;
            const double gates[4] = {i, f, g, o};
            for (int k = 0; k < 4; k++) {
                rSaved[(size_t)b * 4 * H + k * H + j] = gates[k];
            }
            // backward of the same step
            const double dpreO = dh[s] * tc * o * (1 - o);
            double dcTot = dc[s] + dh[s] * o * (1 - tc * tc) + pO * dpreO;
            if (clipped) {
                dcTot = 0;
            }
            double di = dcTot * g;
            const double df = dcTot * cp;
            double dpreF = 0;
            if (c.coupled) {
                di -= df;
            } else {
                dpreF = df * f * (1 - f);
            }
            const double dpreI = di * i * (1 - i);
            const double dpreG = dcTot * i * (1 - g * g);
            rDc[s] = dcTot * f + pI * dpreI + pF * dpreF;
            const double d[4] = {dpreI, dpreF, dpreG, dpreO};
            for (int k = 0; k < 4; k++) {
                rDG[(size_t)b * G + k * H + j] = d[k];
            }
        }
    }

    // --- device
    float *dXp = devAlloc<float>(xp.size()), *dHp = devAlloc<float>(hp.size());
    float *dBih = devAlloc<float>(G), *dBhh = devAlloc<float>(G), *dPeep = devAlloc<float>(3 * H);
    float *dHPrev = devAlloc<float>(hPrev.size()), *dHNext = devAlloc<float>(hPrev.size());
    float *dCPrev = devAlloc<float>(cPrev.size()), *dCNext = devAlloc<float>(cPrev.size());
    float *dOut = devAlloc<float>(outInit.size()), *dSaved = devAlloc<float>((size_t)B * 4 * H);
    float *dDh = devAlloc<float>(dh.size()), *dDc = devAlloc<float>(dc.size()), *dDG = devAlloc<float>((size_t)B * G);
    int* dLen = c.lengths.empty() ? nullptr : devAlloc<int>(c.lengths.size());
    toDev(dXp, xp);
    toDev(dHp, hp);
    toDev(dBih, bih);
    toDev(dBhh, bhh);
    toDev(dPeep, peep);
    toDev(dHPrev, hPrev);
    toDev(dCPrev, cPrev);
    toDev(dOut, outInit);
    toDev(dDh, dh);
    toDev(dDc, dc);
    toDev(dDG, std::vector<float>((size_t)B * G, 9.0f));   // every entry must be overwritten
    if (dLen != nullptr) {
        toDev(dLen, c.lengths);
    }
    const float* bI = c.bias ? dBih : nullptr;
    const float* bH = c.bias ? dBhh : nullptr;
    const float* pp = c.peep ? dPeep : nullptr;
    const float* nf = nullptr;
    float* nw = nullptr;
    const int coupled = c.coupled ? 1 : 0;
    const long long threads = (long long)B * H;
    if (viaFatbin) {
        launchFatbin(gLstmForwardFatbin, threads, B, H, c.step, (const int*)dLen, (const float*)dXp, (const float*)dHp,
                     bI, bH, pp, (const float*)dHPrev, dHNext, (const float*)dCPrev, dCNext, dOut, outLd, dSaved,
                     nf, nw, nw, nw, nw, nf, c.clip, coupled, 0);
        launchFatbin(gLstmBackwardFatbin, threads, B, H, c.step, (const int*)dLen, nf, nf, nf, nf, pp,
                     (const float*)dHPrev, nw, (const float*)dCPrev, dCNext, nw, 0, dSaved,
                     (const float*)dDh, dDc, dDG, dDG, nw, nf, c.clip, coupled, 0);
    } else
    {
        (void)viaFatbin;
        launch(rnn4j_lstm_forward, threads, B, H, c.step, (const int*)dLen, (const float*)dXp, (const float*)dHp, bI,
               bH, pp, (const float*)dHPrev, dHNext, (const float*)dCPrev, dCNext, dOut, outLd, dSaved, nf, nw, nw,
               nw, nw, nf, c.clip, coupled, 0);
        launch(rnn4j_lstm_backward, threads, B, H, c.step, (const int*)dLen, nf, nf, nf, nf, pp,
               (const float*)dHPrev, nw, (const float*)dCPrev, dCNext, nw, 0, dSaved, (const float*)dDh, dDc, dDG,
               dDG, nw, nf, c.clip, coupled, 0);
    }
    std::vector<float> gC((size_t)B * H), gH((size_t)B * H), gOut(outInit.size()), gSaved((size_t)B * 4 * H);
    std::vector<float> gDG((size_t)B * G), gDc((size_t)B * H);
    toHost(gC, dCNext);
    toHost(gH, dHNext);
    toHost(gOut, dOut);
    toHost(gSaved, dSaved);
    toHost(gDG, dDG);
    toHost(gDc, dDc);
    const int before = gFailures;
    close("cNext", gC, rC);
    close("hNext", gH, rH);
    close("out (stride H+3, padding untouched)", gOut, rOut);
    close("saved (i, f, g, o)", gSaved, rSaved);
    close("dGx", gDG, rDG, 1e-5, 1e-4);   // 1 − g², f(1 − f) and friends amplify float rounding
    close("dc", gDc, rDc, 1e-5, 1e-4);
    for (float* p : {dXp, dHp, dBih, dBhh, dPeep, dHPrev, dHNext, dCPrev, dCNext, dOut, dSaved, dDh, dDc, dDG}) {
        devFree(p);
    }
    if (dLen != nullptr) {
        devFree(dLen);
    }
    const bool ok = gFailures == before;
    std::printf("%s lstm %-28s B=%d H=%-3d%s\n", ok ? "ok  " : "FAIL", c.name, B, H, viaFatbin ? " (fatbin)" : "");
    return ok;
}

// ---------------------------------------------------------------- dropout: golden values from Java

struct Golden {
    unsigned long long seed;
    long long index;
    unsigned bits;   // Float.floatToRawIntBits(Dropout.uniform(seed, index))
};
static const Golden kGolden[] = {
    {0x0ULL, 0LL, 0x3f6220a8u},
    {0x0ULL, 1LL, 0x3edcf13cu},
    {0x0ULL, 7LL, 0x3f458413u},
    {0x0ULL, 1000003LL, 0x3f743ebbu},
    {0x0ULL, 1099511627781LL, 0x3f5ea5e2u},
    {42ULL, 0LL, 0x3f3dd732u},
    {42ULL, 1LL, 0x3e23bf8cu},
    {42ULL, 7LL, 0x3f4cf635u},
    {42ULL, 1000003LL, 0x3f40fd20u},
    {42ULL, 1099511627781LL, 0x3e452360u},
    {0xFFFFFFFFFFFFFFFFULL, 0LL, 0x3f64d971u},
    {0xFFFFFFFFFFFFFFFFULL, 1LL, 0x3f699ff8u},
    {0xFFFFFFFFFFFFFFFFULL, 7LL, 0x3e80bb48u},
    {0xFFFFFFFFFFFFFFFFULL, 1000003LL, 0x3b571a00u},
    {0xFFFFFFFFFFFFFFFFULL, 1099511627781LL, 0x3e32d484u},
    {0x0123456789ABCDEFULL, 0LL, 0x3dabd1c0u},
    {0x0123456789ABCDEFULL, 1LL, 0x3f557352u},
    {0x0123456789ABCDEFULL, 7LL, 0x3f093154u},
    {0x0123456789ABCDEFULL, 1000003LL, 0x3ee44860u},
    {0x0123456789ABCDEFULL, 1099511627781LL, 0x3f01adc1u},
    {0x8000000000000000ULL, 0LL, 0x3e903d80u},
    {0x8000000000000000ULL, 1LL, 0x3f446fa6u},
    {0x8000000000000000ULL, 7LL, 0x3ec4a090u},
    {0x8000000000000000ULL, 1000003LL, 0x3f6d26e0u},
    {0x8000000000000000ULL, 1099511627781LL, 0x3f6ecc5eu},
};

static bool dropoutTest(bool viaFatbin) {
    const int before = gFailures;
    for (const Golden& g : kGolden) {   // the hash itself (host build of the same function)
        const float u = dropoutUniform(g.seed, g.index);
        unsigned bits;
        std::memcpy(&bits, &u, 4);
        if (bits != g.bits) {
            std::printf("  FAIL dropoutUniform(%llu, %lld): got 0x%08x, want 0x%08x\n", g.seed, g.index, bits, g.bits);
            gFailures++;
        }
    }
    // the kernel: mask and scale, compared bit for bit with the host evaluation of the CPU formula
    const long long n = 1000;
    const float p = 0.3f;
    const unsigned long long seed = 0x0123456789ABCDEFULL;
    std::vector<float> src = randomVec(n, 2.0f), got(n);
    float* d = devAlloc<float>(n);
    toDev(d, src);
    if (viaFatbin) {
        launchFatbin(gDropoutFatbin, n, n, p, seed, (const float*)d, d);
    } else
    {
        launch(rnn4j_dropout, n, n, p, seed, (const float*)d, d);   // in place, as allowed
    }
    toHost(got, d);
    devFree(d);
    const float scale = 1.0f / (1.0f - p);
    for (long long i = 0; i < n; i++) {
        const float want = dropoutUniform(seed, i) >= p ? src[i] * scale : 0.0f;
        if (std::memcmp(&want, &got[i], 4) != 0) {
            std::printf("  FAIL rnn4j_dropout[%lld]: got %.9g, want %.9g\n", i, got[i], want);
            gFailures++;
            break;
        }
    }
    const bool ok = gFailures == before;
    std::printf("%s dropout (Java golden values, in-place kernel)%s\n", ok ? "ok  " : "FAIL", viaFatbin ? " (fatbin)" : "");
    return ok;
}

int main(int argc, char** argv) {
    const char* fatbinDir = argc > 1 ? argv[1] : nullptr;
    loadFatbins(fatbinDir);
    const std::vector<LstmCase> cases = {
        {"plain", 3, 5, true, false, false, 0.0f, {}, 0},
        {"no bias", 1, 33, false, false, false, 0.0f, {}, 0},
        {"peepholes", 3, 5, true, true, false, 0.0f, {}, 0},
        {"cell clip 0.5", 4, 33, true, false, false, 0.5f, {}, 0},
        {"peepholes + clip + coupled", 3, 5, true, true, true, 0.5f, {}, 0},
        {"coupled", 4, 1, true, false, true, 0.0f, {}, 0},
        {"lengths {3,1,2}, step 1", 3, 5, true, true, false, 0.0f, {3, 1, 2}, 1},
        {"lengths {2,4,1,3}, step 2", 4, 33, true, false, false, 1.0f, {2, 4, 1, 3}, 2},
        {"batch 70, hidden 9", 70, 9, true, true, false, 0.0f, {}, 0},   // more than one block
    };
    for (int pass = 0; pass < (fatbinDir != nullptr ? 2 : 1); pass++) {
        for (const LstmCase& c : cases) {
            lstmCase(c, pass == 1);
        }
        dropoutTest(pass == 1);
    }
    if (gFailures > 0) {
        std::printf("%d failure(s)\n", gFailures);
        return 1;
    }
    std::printf("all passed\n");
    return 0;
}
