// checks_test.cpp — the stand-in's own checks, called directly through the driver and cuBLAS API:
// each misuse below must come back as the status the real libraries give (or a fault), and correct
// use must keep working. Built by build.sh next to the libraries; StandinChecksTest runs it.
//   checks_test FATBINS      (native/build.sh's output folder)
#include "standin.h"
#include "device.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

// ---------------------------------------------------------------- kernels with the bugs to catch

extern "C" __global__ void divergentBarrier(int* out) {
    if (threadIdx.x < 16) {
        __syncthreads();
    }
    out[threadIdx.x] = 1;
}

extern "C" __global__ void twoBarriers(int* out) {
    if (threadIdx.x % 2 == 0) {
        __syncthreads();
    } else {
        __syncthreads();
    }
    out[threadIdx.x] = 1;
}

extern "C" __global__ void writeOne(float* x) {
    x[blockIdx.x * blockDim.x + threadIdx.x] = 1.0f;   // no bounds guard: the grid decides
}

extern "C" __global__ void sharedReverse(float* out, int withBarrier) {
    __shared__ float s[64];
    s[threadIdx.x] = (float)threadIdx.x;
    if (withBarrier) {
        __syncthreads();
    }
    out[threadIdx.x] = s[63 - threadIdx.x];
}

static const standin::KernelEntry kKernels[] = {
    standin::kernelEntry("divergentBarrier", &divergentBarrier),
    standin::kernelEntry("twoBarriers", &twoBarriers),
    standin::kernelEntry("writeOne", &writeOne),
    standin::kernelEntry("sharedReverse", &sharedReverse),
};
static const standin::Module kModule = {"checks", kKernels, 4, __start_standin_shared, __stop_standin_shared};

// ---------------------------------------------------------------- a minimal test harness

static int failures = 0;

static void expect(bool ok, const std::string& what) {
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
    if (!ok) failures++;
}

static void expectStatus(CUresult got, CUresult want, const std::string& what) {
    expect(got == want, what + " -> " + std::to_string((int)got) + (got == want ? "" : " (want " + std::to_string((int)want) + ")"));
}

static CUcontext fresh() {   // a fault poisons the context: release it and retain a new one
    static bool retained = false;
    CUcontext ctx;
    if (retained) {
        cuDevicePrimaryCtxRelease(0);
    }
    retained = true;
    cuDevicePrimaryCtxRetain(&ctx, 0);
    cuCtxSetCurrent(ctx);
    return ctx;
}

static std::vector<char> readFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The cuBLAS entry points, declared as cublas.cpp defines them (no cuBLAS header here).
extern "C" int cublasCreate_v2(void** handle);
extern "C" int cublasDestroy_v2(void* handle);
extern "C" int cublasSetMathMode(void* handle, int mode);
extern "C" int cublasSgemm_v2(void* h, int ta, int tb, int m, int n, int k, const float* alpha, const float* A, int lda,
                              const float* B, int ldb, const float* beta, float* C, int ldc);

// The stand-in's counters (driver.cpp, "the stand-in's own counters").
extern "C" long long rnn4j_standin_count(const char* name);
extern "C" long long rnn4j_standin_stats(char* buf, std::size_t size);
extern "C" void rnn4j_standin_reset_stats();

static bool envIs(const char* name, const char* value) {
    const char* v = std::getenv(name);
    return v != nullptr && std::strcmp(v, value) == 0;
}

// RNN4J_STANDIN_SKIP_WORK=1: the same checks and counts, no work.
static int skipWorkChecks(const char* fatbins) {
    cuInit(0);
    fresh();
    std::vector<char> fatbin = readFile(std::string(fatbins) + "/sequence.fatbin");
    CUmodule module;
    CUfunction f;
    cuModuleLoadData(&module, fatbin.data());
    cuModuleGetFunction(&f, module, "rnn4j_fill");
    CUdeviceptr a, freed;
    cuMemAlloc(&a, 256);
    cuMemAlloc(&freed, 256);
    cuMemFree(freed);
    rnn4j_standin_reset_stats();
    float host[64];
    for (int i = 0; i < 64; i++) host[i] = -1.0f;
    long long n = 64;
    float value = 2.5f;
    CUdeviceptr dst = a;
    void* params[] = {&n, &dst, &value};
    expectStatus(cuLaunchKernel(f, 1, 1, 1, 64, 1, 1, 0, nullptr, params, nullptr), CUDA_SUCCESS, "skip-work: rnn4j_fill");
    expectStatus(cuMemcpyDtoH(host, a, 256), CUDA_SUCCESS, "skip-work: a read back");
    expect(host[0] == -1.0f && host[63] == -1.0f, "  nothing ran: the host buffer keeps what it had");
    expect(rnn4j_standin_count("cuLaunchKernel") == 1 && rnn4j_standin_count("rnn4j_fill") == 1
               && rnn4j_standin_count("cuMemcpyDtoH_v2") == 1 && rnn4j_standin_count("cuMemcpyDtoHAsync_v2") == 0,
           "  counted: one cuLaunchKernel, one rnn4j_fill, one cuMemcpyDtoH_v2 (not again as its Async form)");
    expectStatus(cuLaunchKernel(f, 1, 1, 1, 1025, 1, 1, 0, nullptr, params, nullptr), CUDA_ERROR_INVALID_VALUE,
                 "skip-work: 1025 threads still refused");
    expectStatus(cuMemcpyHtoD(a, host, 260), CUDA_ERROR_INVALID_VALUE, "skip-work: a copy past the end still refused");
    expectStatus(cuMemsetD32(a + 2, 0, 4), CUDA_ERROR_INVALID_VALUE, "skip-work: a misaligned memset still refused");
    void* h;
    cublasCreate_v2(&h);
    const float one = 1.0f, zero = 0.0f;
    expectStatus((CUresult)cublasSgemm_v2(h, 0, 0, 9, 9, 9, &one, (float*)a, 9, (float*)a, 9, &zero, (float*)a, 9), (CUresult)13,
                 "skip-work: a GEMM whose span runs past its allocation still fails");
    fresh();
    cuModuleLoadData(&module, fatbin.data());
    cuModuleGetFunction(&f, module, "rnn4j_fill");
    cuMemAlloc(&a, 256);
    dst = freed;
    expectStatus(cuLaunchKernel(f, 1, 1, 1, 64, 1, 1, 0, nullptr, params, nullptr), CUDA_ERROR_ILLEGAL_ADDRESS,
                 "skip-work: a kernel given freed memory still faults");
    char text[4096];
    long long length = rnn4j_standin_stats(text, sizeof text);
    expect(length > 0 && std::strstr(text, "cublasSgemm_v2 1\n") != nullptr && std::strstr(text, "rnn4j_fill 1\n") != nullptr,
           "rnn4j_standin_stats lists cublasSgemm_v2 1 and rnn4j_fill 1 (the faulting launch is not counted as run)");
    std::printf("%d failed\n", failures);
    return failures == 0 ? 0 : 1;
}

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: checks_test FATBINS\n");
        return 2;
    }
    if (envIs("RNN4J_STANDIN_SKIP_WORK", "1")) {
        return skipWorkChecks(argv[1]);
    }
    expectStatus(cuMemAlloc(nullptr, 4), CUDA_ERROR_NOT_INITIALIZED, "a call before cuInit");
    expectStatus(cuInit(0), CUDA_SUCCESS, "cuInit");
    standin::registerModule(&kModule);
    CUdeviceptr d;
    expectStatus(cuMemAlloc(&d, 64), CUDA_ERROR_INVALID_CONTEXT, "cuMemAlloc without a current context");
    fresh();

    // ---- modules
    CUmodule module;
    const char junk[64] = "not a fatbin";
    expectStatus(cuModuleLoadData(&module, junk), CUDA_ERROR_INVALID_IMAGE, "cuModuleLoadData of junk");
    std::vector<char> fatbin = readFile(std::string(argv[1]) + "/sequence.fatbin");
    expect(!fatbin.empty(), "read sequence.fatbin");
    fatbin[100] ^= 1;
    expectStatus(cuModuleLoadData(&module, fatbin.data()), CUDA_ERROR_INVALID_IMAGE, "a fatbin with one bit changed");
    fatbin[100] ^= 1;
    expectStatus(cuModuleLoadData(&module, fatbin.data()), CUDA_SUCCESS, "the real sequence.fatbin");
    CUfunction f;
    expectStatus(cuModuleGetFunction(&f, module, "rnn4j_lstm_forward"), CUDA_ERROR_NOT_FOUND, "a kernel of another module");
    expectStatus(cuModuleGetFunction(&f, module, "rnn4j_fill"), CUDA_SUCCESS, "rnn4j_fill in sequence");

    // ---- memory
    CUdeviceptr a, b;
    expectStatus(cuMemAlloc(&a, 0), CUDA_ERROR_INVALID_VALUE, "cuMemAlloc of 0 bytes");
    expectStatus(cuMemAlloc(&a, std::size_t(1) << 50), CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc beyond the device");
    expectStatus(cuMemAlloc(&a, 256), CUDA_SUCCESS, "cuMemAlloc 256");
    expectStatus(cuMemAlloc(&b, 256), CUDA_SUCCESS, "cuMemAlloc 256 again");
    float host[128];
    expectStatus(cuMemcpyDtoH(host, a, 256), CUDA_SUCCESS, "a read of fresh memory");
    expect(host[0] != host[0], "fresh memory reads as NaN");
    expectStatus(cuMemcpyHtoD(a, host, 260), CUDA_ERROR_INVALID_VALUE, "a copy 4 bytes past the end");
    expectStatus(cuMemcpyHtoD(a + 4, host, 256), CUDA_ERROR_INVALID_VALUE, "a copy that starts inside and runs past the end");
    expectStatus(cuMemcpyDtoD(a, b, 256), CUDA_SUCCESS, "a device-to-device copy");
    expectStatus(cuMemcpyHtoD(a, reinterpret_cast<void*>(b), 16), CUDA_ERROR_INVALID_VALUE, "a device pointer as the host source");
    expectStatus(cuMemsetD32(a + 2, 0, 4), CUDA_ERROR_INVALID_VALUE, "a misaligned cuMemsetD32");
    void* pinned;
    expectStatus(cuMemAllocHost(&pinned, 1024), CUDA_SUCCESS, "cuMemAllocHost");
    expectStatus(cuMemFree(reinterpret_cast<CUdeviceptr>(pinned)), CUDA_ERROR_INVALID_VALUE, "cuMemFree on pinned memory");
    expectStatus(cuMemFreeHost(reinterpret_cast<void*>(a)), CUDA_ERROR_INVALID_VALUE, "cuMemFreeHost on device memory");
    expectStatus(cuMemFreeHost(pinned), CUDA_SUCCESS, "cuMemFreeHost");
    expectStatus(cuMemFreeHost(pinned), CUDA_ERROR_INVALID_VALUE, "cuMemFreeHost twice");
    expectStatus(cuMemFree(b), CUDA_SUCCESS, "cuMemFree");
    expectStatus(cuMemFree(b), CUDA_ERROR_INVALID_VALUE, "cuMemFree twice");
    expectStatus(cuMemcpyDtoH(host, b, 4), CUDA_ERROR_INVALID_VALUE, "a copy from freed memory");

    // ---- launches: shapes, then parameters (rnn4j_fill(long long n, float* dst, float value))
    long long n = 64;
    float value = 2.5f;
    CUdeviceptr dst = a;
    void* params[] = {&n, &dst, &value};
    expectStatus(cuLaunchKernel(f, 0, 1, 1, 64, 1, 1, 0, nullptr, params, nullptr), CUDA_ERROR_INVALID_VALUE, "an empty grid");
    expectStatus(cuLaunchKernel(f, 1, 1, 1, 1025, 1, 1, 0, nullptr, params, nullptr), CUDA_ERROR_INVALID_VALUE, "1025 threads");
    expectStatus(cuLaunchKernel(f, 1, 1, 1, 64, 1, 1, 0, nullptr, params, nullptr), CUDA_SUCCESS, "rnn4j_fill");
    cuMemcpyDtoH(host, a, 256);
    expect(host[0] == 2.5f && host[63] == 2.5f, "rnn4j_fill wrote 2.5");
    dst = b;   // freed
    expectStatus(cuLaunchKernel(f, 1, 1, 1, 64, 1, 1, 0, nullptr, params, nullptr), CUDA_ERROR_ILLEGAL_ADDRESS,
                 "a kernel given freed memory");
    expectStatus(cuMemAlloc(&b, 64), CUDA_ERROR_ILLEGAL_ADDRESS, "the context stays poisoned after a fault");

    // ---- streams: in order; with RNN4J_STANDIN_STREAMS=deferred, not before the host synchronizes
    fresh();
    const char* mode = std::getenv("RNN4J_STANDIN_STREAMS");
    const bool deferred = mode != nullptr && std::strcmp(mode, "deferred") == 0;
    CUstream stream;
    expectStatus(cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS, "cuStreamCreate");
    CUdeviceptr s1;
    cuMemAlloc(&s1, 16);
    const float four[4] = {1, 2, 3, 4};
    float back[4] = {0, 0, 0, 0};
    cuMemcpyHtoDAsync(s1, four, sizeof four, stream);
    cuMemcpyDtoHAsync(back, s1, sizeof back, stream);
    expect(deferred ? back[3] == 0 : back[3] == 4, deferred ? "deferred: nothing arrives before a synchronize"
                                                            : "synchronous: the copy is done at once");
    expectStatus(cuStreamSynchronize(stream), CUDA_SUCCESS, "cuStreamSynchronize");
    expect(back[0] == 1 && back[3] == 4, "  after it, the copy has arrived");
    CUstream destroyed = stream;
    cuStreamDestroy(stream);
    expectStatus(cuStreamSynchronize(destroyed), CUDA_ERROR_INVALID_HANDLE, "a destroyed stream");

    // ---- barriers, shared memory and bounds, with the kernels above in a module of their own
    fresh();
    CUmodule checks;
    std::vector<unsigned char> image(64, 0);
    const std::uint32_t magic = 0xBA55ED50u;
    std::memcpy(image.data(), &magic, 4);
    image[6] = 16;                 // headerSize
    image[8] = 48;                 // fatSize
    expect(standin::acceptImage("checks", image.data(), image.size()), "a test image accepted");
    expectStatus(cuModuleLoadData(&checks, image.data()), CUDA_SUCCESS, "the test module");
    CUfunction divergent, two, write, shared;
    CUdeviceptr buf;
    // After a fault the context is gone: a new one, the module again, its functions and a buffer.
    auto reload = [&](bool newContext) {
        if (newContext) {
            fresh();
            cuModuleLoadData(&checks, image.data());
        }
        cuModuleGetFunction(&divergent, checks, "divergentBarrier");
        cuModuleGetFunction(&two, checks, "twoBarriers");
        cuModuleGetFunction(&write, checks, "writeOne");
        cuModuleGetFunction(&shared, checks, "sharedReverse");
        cuMemAlloc(&buf, 64 * 4);
    };
    reload(false);
    void* one[] = {&buf};
    expectStatus(cuLaunchKernel(divergent, 1, 1, 1, 32, 1, 1, 0, nullptr, one, nullptr), CUDA_ERROR_LAUNCH_FAILED,
                 "a barrier only some threads reach");
    reload(true);
    expectStatus(cuLaunchKernel(two, 1, 1, 1, 32, 1, 1, 0, nullptr, one, nullptr), CUDA_ERROR_LAUNCH_FAILED,
                 "threads at two different barriers");
    reload(true);
    int with = 1;
    void* sharedParams[] = {&buf, &with};
    for (int launch = 0; launch < 3; launch++) {   // forward, reverse, interleaved
        expectStatus(cuLaunchKernel(shared, 1, 1, 1, 64, 1, 1, 0, nullptr, sharedParams, nullptr), CUDA_SUCCESS,
                     "shared memory behind a barrier, order " + std::to_string(launch));
        cuMemcpyDtoH(host, buf, 64 * 4);
        expect(host[0] == 63.0f && host[63] == 0.0f, "  it reads what the other threads wrote");
    }
    with = 0;
    bool raced = false;
    for (int launch = 0; launch < 3; launch++) {
        cuLaunchKernel(shared, 1, 1, 1, 64, 1, 1, 0, nullptr, sharedParams, nullptr);
        cuMemcpyDtoH(host, buf, 64 * 4);
        for (int i = 0; i < 64; i++) raced |= host[i] != (float)(63 - i);
    }
    expect(raced, "without the barrier, some order reads unwritten shared memory");
    expectStatus(cuLaunchKernel(write, 1, 1, 1, 64, 1, 1, 0, nullptr, one, nullptr), CUDA_SUCCESS, "writes inside");
    expectStatus(cuLaunchKernel(write, 1, 1, 1, 65, 1, 1, 0, nullptr, one, nullptr), CUDA_ERROR_ILLEGAL_ADDRESS,
                 "one thread too many writes past the end");

    // ---- cuBLAS
    fresh();
    CUdeviceptr A, B, C;
    cuMemAlloc(&A, 6 * 4);
    cuMemAlloc(&B, 6 * 4);
    cuMemAlloc(&C, 4 * 4);
    const float av[6] = {1, 2, 3, 4, 5, 6}, bv[6] = {1, 0, 0, 1, 1, 1};
    cuMemcpyHtoD(A, av, sizeof av);
    cuMemcpyHtoD(B, bv, sizeof bv);
    void* h;
    expectStatus((CUresult)cublasCreate_v2(&h), CUDA_SUCCESS, "cublasCreate_v2");
    const float one1 = 1.0f, zero = 0.0f;
    // column-major A 2x3 = [1 3 5; 2 4 6], B 3x2 = [1 1; 0 1; 0 1]: C = [1 9; 2 12]
    expectStatus((CUresult)cublasSgemm_v2(h, 0, 0, 2, 2, 3, &one1, (float*)A, 2, (float*)B, 3, &zero, (float*)C, 2), CUDA_SUCCESS,
                 "cublasSgemm_v2 2x3 by 3x2");
    float c[4];
    cuMemcpyDtoH(c, C, sizeof c);
    expect(c[0] == 1 && c[1] == 2 && c[2] == 9 && c[3] == 12, "  C = [1 9; 2 12] column-major");
    expectStatus((CUresult)cublasSgemm_v2(h, 0, 0, 2, 2, 3, &one1, (float*)A, 1, (float*)B, 3, &zero, (float*)C, 2), (CUresult)7,
                 "lda < m is CUBLAS_STATUS_INVALID_VALUE");
    expectStatus((CUresult)cublasSgemm_v2(h, 0, 0, 2, 2, 3, &one1, (float*)A, 2, (float*)B, 3, &zero, (float*)C, 3), (CUresult)13,
                 "C's span beyond its allocation fails the GEMM");
    fresh();
    cublasCreate_v2(&h);
    expectStatus((CUresult)cublasSetMathMode(h, 3), CUDA_SUCCESS, "cublasSetMathMode(TF32)");
    cuMemAlloc(&A, 16);
    expectStatus((CUresult)cublasSgemm_v2(h, 0, 0, 1, 1, 1, &one1, (float*)A, 1, (float*)A, 1, &zero, (float*)A, 1), (CUresult)15,
                 "a GEMM on a TF32 handle is refused");
    cublasDestroy_v2(h);

    std::printf("%d failed\n", failures);
    return failures == 0 ? 0 : 1;
}
