// checks_test.cpp — the stand-in's own checks, called directly through the driver and cuBLAS API:
// each misuse below must come back as the status the real libraries give (or a fault), and correct
// use must keep working. Built by build.sh next to the libraries; StandinChecksTest runs it.
//   checks_test FATBINS      (native/build.sh's output folder)
// build.sh compiles it as it compiles kernels/*.cu (extern __shared__ rewritten, see there).
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

extern "C" __global__ void setValue(float* x, float v) {
    x[threadIdx.x] = v;
}

extern "C" __global__ void plusOne(const float* in, float* out) {
    out[threadIdx.x] = in[threadIdx.x] + 1.0f;
}

// Each block sums its slice in dynamic shared memory; after a grid barrier, block 0 adds the
// blocks' sums. Without the barrier (withGridSync = 0) block 0 may read sums not yet written.
extern "C" __global__ void gridSum(const float* in, float* partial, float* out, int withGridSync) {
    extern __shared__ float acc[];
    acc[threadIdx.x] = in[blockIdx.x * blockDim.x + threadIdx.x];
    __syncthreads();
    if (threadIdx.x == 0) {
        float s = 0;
        for (unsigned i = 0; i < blockDim.x; i++) s += acc[i];
        partial[blockIdx.x] = s;
    }
    if (withGridSync) cooperative_groups::this_grid().sync();
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        float s = 0;
        for (unsigned b = 0; b < gridDim.x; b++) s += partial[b];
        out[0] = s;
    }
}

extern "C" __global__ void gridSyncSkippedByBlock0(float* out) {
    if (blockIdx.x == 0) return;
    cooperative_groups::this_grid().sync();
    out[blockIdx.x] = 1.0f;
}

// Block 0 returns at once; the others meet at a __syncthreads: legal in a cooperative launch too.
extern "C" __global__ void blockZeroLeavesEarly(float* out) {
    if (blockIdx.x == 0) return;
    __syncthreads();
    out[blockIdx.x] = 1.0f;
}

static const standin::KernelEntry kKernels[] = {
    standin::kernelEntry("divergentBarrier", &divergentBarrier),
    standin::kernelEntry("twoBarriers", &twoBarriers),
    standin::kernelEntry("writeOne", &writeOne),
    standin::kernelEntry("sharedReverse", &sharedReverse),
    standin::kernelEntry("setValue", &setValue),
    standin::kernelEntry("plusOne", &plusOne),
    standin::kernelEntry("gridSum", &gridSum),
    standin::kernelEntry("gridSyncSkippedByBlock0", &gridSyncSkippedByBlock0),
    standin::kernelEntry("blockZeroLeavesEarly", &blockZeroLeavesEarly),
};
static const standin::Module kModule = {"checks", kKernels, 9, __start_standin_shared, __stop_standin_shared};

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
// Not in CUDA 13's cuda.h (it maps cuStreamGetCaptureInfo to _v3); JNA callers may use it.
extern "C" CUresult cuStreamGetCaptureInfo_v2(CUstream, CUstreamCaptureStatus*, cuuint64_t*, CUgraph*, const CUgraphNode**, std::size_t*);
extern "C" int cublasSetStream_v2(void* handle, CUstream stream);
extern "C" int cublasSetWorkspace_v2(void* handle, void* workspace, std::size_t bytes);
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

// ---------------------------------------------------------------- streams, stream capture and graphs

// The test module's image (acceptImage) and a way to reload it after a fault.
struct TestModule {
    std::vector<unsigned char> image;
    CUmodule module = nullptr;
    CUfunction setValue = nullptr, plusOne = nullptr;
    void load() {
        cuModuleLoadData(&module, image.data());
        cuModuleGetFunction(&setValue, module, "setValue");
        cuModuleGetFunction(&plusOne, module, "plusOne");
    }
};

static CUresult launchSet(TestModule& m, CUstream s, CUdeviceptr x, float v) {
    void* p[] = {&x, &v};
    return cuLaunchKernel(m.setValue, 1, 1, 1, 32, 1, 1, 0, s, p, nullptr);
}

static CUresult launchPlusOne(TestModule& m, CUstream s, CUdeviceptr in, CUdeviceptr out) {
    void* p[] = {&in, &out};
    return cuLaunchKernel(m.plusOne, 1, 1, 1, 32, 1, 1, 0, s, p, nullptr);
}

static float first(CUdeviceptr x) {
    float v = -1;
    cuMemcpyDtoH(&v, x, 4);
    return v;
}

// A two-stream producer/consumer: P writes x, C computes y = x + 1. Correct with the event wait in
// every mode; without it the adversarial order runs the consumer first, deterministically.
static void streamOrderChecks(TestModule& m, bool adversarial) {
    fresh();
    m.load();
    CUstream p, c;
    cuStreamCreate(&p, CU_STREAM_NON_BLOCKING);
    cuStreamCreate(&c, CU_STREAM_NON_BLOCKING);
    CUevent e;
    cuEventCreate(&e, 0);
    CUdeviceptr x, y;
    cuMemAlloc(&x, 128);
    cuMemAlloc(&y, 128);
    cuMemsetD32(x, 0, 32);
    launchSet(m, p, x, 7.0f);
    cuEventRecord(e, p);
    expectStatus(cuStreamWaitEvent(c, e, 0), CUDA_SUCCESS, "cuStreamWaitEvent across streams");
    launchPlusOne(m, c, x, y);
    expectStatus(cuStreamSynchronize(c), CUDA_SUCCESS, "synchronize the consumer only");
    expect(first(y) == 8.0f, "  with the wait, the consumer sees the producer's 7 (y = 8)");
    cuCtxSynchronize();
    cuMemsetD32(x, 0, 32);
    launchSet(m, p, x, 9.0f);
    launchPlusOne(m, c, x, y);   // no wait: a bug
    cuCtxSynchronize();
    if (adversarial) {
        expect(first(y) == 1.0f, "adversarial: without the wait the consumer runs first (y = 0 + 1, not 10)");
    }
    // A write after a read on another stream, again without a wait: the overwrite goes first.
    cuMemsetD32(x, 0, 32);
    cuCtxSynchronize();
    launchPlusOne(m, c, x, y);
    launchSet(m, p, x, 5.0f);
    cuCtxSynchronize();
    if (adversarial) expect(first(y) == 6.0f, "adversarial: an unordered overwrite overtakes the earlier read (y = 6, not 1)");
    cuStreamDestroy(p);
    cuStreamDestroy(c);
    cuEventDestroy(e);
}

static CUgraph captureSet(TestModule& m, CUstream s, CUdeviceptr x, float v) {
    CUgraph g = nullptr;
    cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL);
    launchSet(m, s, x, v);
    cuStreamEndCapture(s, &g);
    return g;
}

static void captureChecks(TestModule& m, bool adversarial) {
    fresh();
    m.load();
    CUstream s, side, blocking;
    cuStreamCreate(&s, CU_STREAM_NON_BLOCKING);
    cuStreamCreate(&side, CU_STREAM_NON_BLOCKING);
    cuStreamCreate(&blocking, 0);
    CUdeviceptr x, y, w, A;
    cuMemAlloc(&x, 128);
    cuMemAlloc(&y, 128);
    cuMemAlloc(&w, 1 << 16);
    cuMemAlloc(&A, 64 * 4);
    cuMemsetD32(x, 0, 32);
    cuMemsetD32(A, 0, 64);
    void* h;
    cublasCreate_v2(&h);
    cublasSetStream_v2(h, s);
    expect(cublasSetWorkspace_v2(h, reinterpret_cast<void*>(w + 4), 256) == 7, "cublasSetWorkspace: a misaligned workspace is INVALID_VALUE");
    expect(cublasSetWorkspace_v2(h, reinterpret_cast<void*>(w), 1 << 16) == 0, "cublasSetWorkspace");

    expectStatus(cuStreamBeginCapture(nullptr, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED,
                 "capture of the legacy stream");
    // ---- a capture: kernel, memset and SGEMM become nodes; nothing runs
    const long long before = rnn4j_standin_count("graph nodes");
    expectStatus(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_SUCCESS, "cuStreamBeginCapture (global)");
    expectStatus(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_ERROR_ILLEGAL_STATE, "  again on the same stream");
    CUstreamCaptureStatus status;
    expectStatus(launchSet(m, s, x, 3.0f), CUDA_SUCCESS, "  a launch is captured");
    expectStatus(cuMemsetD32Async(y, 0, 32, s), CUDA_SUCCESS, "  a memset is captured");
    const float one = 1.0f, zero = 0.0f;
    expect(cublasSgemm_v2(h, 0, 0, 8, 8, 8, &one, (float*)A, 8, (float*)A, 8, &zero, (float*)A, 8) == 0, "  an SGEMM is captured");
    cuStreamIsCapturing(s, &status);
    expect(status == CU_STREAM_CAPTURE_STATUS_ACTIVE, "  cuStreamIsCapturing: active");
    cuuint64_t id = 0;
    const CUgraphNode* deps = nullptr;
    std::size_t numDeps = 0;
    CUgraph capturing = nullptr;
    expectStatus(cuStreamGetCaptureInfo_v2(s, &status, &id, &capturing, &deps, &numDeps), CUDA_SUCCESS, "  cuStreamGetCaptureInfo_v2");
    expect(id > 0 && capturing != nullptr && numDeps == 1, "  an id, the graph, one dependency (the SGEMM)");
    CUgraph g = nullptr;
    expectStatus(cuStreamEndCapture(s, &g), CUDA_SUCCESS, "cuStreamEndCapture");
    expect(first(x) == 0.0f, "  nothing ran during the capture");
    std::size_t count = 0;
    cuGraphGetNodes(g, nullptr, &count);
    expect(count == 3, "cuGraphGetNodes: 3 nodes");
    CUgraphNode nodes[3];
    cuGraphGetNodes(g, nodes, &count);
    CUgraphNodeType type;
    cuGraphNodeGetType(nodes[1], &type);
    expect(type == CU_GRAPH_NODE_TYPE_MEMSET, "  the second is a memset node");
    CUgraphExec exec;
    expectStatus(cuGraphInstantiate(&exec, g, 0), CUDA_SUCCESS, "cuGraphInstantiateWithFlags");
    expectStatus(cuGraphLaunch(exec, s), CUDA_SUCCESS, "cuGraphLaunch");
    cuStreamSynchronize(s);
    expect(first(x) == 3.0f, "  the replay wrote 3");
    expect(rnn4j_standin_count("graph nodes") == before + 3, "  3 graph nodes counted");
    // ---- kernel node parameters
    CUDA_KERNEL_NODE_PARAMS kp;
    expectStatus(cuGraphKernelNodeGetParams(nodes[0], &kp), CUDA_SUCCESS, "cuGraphKernelNodeGetParams");
    expect(kp.blockDimX == 32 && *static_cast<float*>(kp.kernelParams[1]) == 3.0f, "  block 32, value 3");
    CUDA_KERNEL_NODE_PARAMS gemm;
    expectStatus(cuGraphKernelNodeGetParams(nodes[2], &gemm), CUDA_ERROR_INVALID_VALUE, "  of the cuBLAS node: not one of ours");
    float five = 5.0f;
    void* fiveParams[] = {kp.kernelParams[0], &five};
    CUDA_KERNEL_NODE_PARAMS np = kp;
    np.kernelParams = fiveParams;
    expectStatus(cuGraphExecKernelNodeSetParams(exec, nodes[0], &np), CUDA_SUCCESS, "cuGraphExecKernelNodeSetParams (value 5)");
    np.blockDimX = 2048;
    expectStatus(cuGraphExecKernelNodeSetParams(exec, nodes[0], &np), CUDA_ERROR_INVALID_VALUE, "  with 2048 threads: refused");
    cuGraphLaunch(exec, s);
    cuStreamSynchronize(s);
    expect(first(x) == 5.0f, "  the replay wrote 5");
    float four = 4.0f;
    void* fourParams[] = {kp.kernelParams[0], &four};
    np = kp;
    np.kernelParams = fourParams;
    expectStatus(cuGraphKernelNodeSetParams(nodes[0], &np), CUDA_SUCCESS, "cuGraphKernelNodeSetParams on the graph (value 4)");
    CUgraphExecUpdateResultInfo info;
    expectStatus(cuGraphExecUpdate(exec, g, &info), CUDA_SUCCESS, "cuGraphExecUpdate from it");
    cuGraphLaunch(exec, s);
    cuStreamSynchronize(s);
    expect(first(x) == 4.0f, "  the replay wrote 4");
    CUgraph other = captureSet(m, s, y, 1.0f);
    expectStatus(cuGraphExecUpdate(exec, other, &info), CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE, "cuGraphExecUpdate from a 1-node graph");
    expect(info.result == CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED, "  topology changed");
    cuGraphDestroy(other);

    // ---- calls a capture forbids: the real statuses, and the capture is invalidated
    CUdeviceptr extra;
    cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL);
    expectStatus(cuMemAlloc(&extra, 64), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "cuMemAlloc during a global capture");
    cuStreamIsCapturing(s, &status);
    expect(status == CU_STREAM_CAPTURE_STATUS_INVALIDATED, "  the capture is invalidated");
    expectStatus(launchSet(m, s, x, 1.0f), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "  a later launch into it");
    CUgraph none = reinterpret_cast<CUgraph>(&none);
    expectStatus(cuStreamEndCapture(s, &none), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "  cuStreamEndCapture");
    expect(none == nullptr, "  and no graph");
    cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL);
    expectStatus(cuStreamSynchronize(s), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "cuStreamSynchronize of a capturing stream");
    expectStatus(cuStreamEndCapture(s, &none), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "  invalidates it");
    cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL);
    expectStatus(cuCtxSynchronize(), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "cuCtxSynchronize during a capture");
    cuStreamEndCapture(s, &none);
    float host[4] = {0, 0, 0, 0};
    cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL);
    expectStatus(cuMemcpyHtoD(x, host, 16), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "a synchronous copy during a global capture");
    cuStreamEndCapture(s, &none);
    cuStreamBeginCapture(blocking, CU_STREAM_CAPTURE_MODE_GLOBAL);
    expectStatus(cuStreamIsCapturing(nullptr, &status), CUDA_ERROR_STREAM_CAPTURE_IMPLICIT, "the legacy stream queried while a blocking stream captures");
    expectStatus(cuMemsetD32Async(x, 0, 4, nullptr), CUDA_ERROR_STREAM_CAPTURE_IMPLICIT, "  the legacy stream used");
    expectStatus(cuStreamEndCapture(blocking, &none), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "  invalidates the capture");
    cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED);
    expectStatus(cuMemAlloc(&extra, 64), CUDA_SUCCESS, "cuMemAlloc during a relaxed capture is allowed");
    expectStatus(cuStreamEndCapture(s, &g), CUDA_SUCCESS, "  and the capture ends well");
    cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
    CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_RELAXED;
    cuThreadExchangeStreamCaptureMode(&mode);
    expectStatus(cuMemFree(extra), CUDA_SUCCESS, "cuMemFree in a thread whose mode was exchanged to relaxed");
    cuThreadExchangeStreamCaptureMode(&mode);
    expect(mode == CU_STREAM_CAPTURE_MODE_RELAXED, "  cuThreadExchangeStreamCaptureMode gives the previous mode back");
    expectStatus(cuMemAlloc(&extra, 64), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "  back in global mode, cuMemAlloc is refused");
    cuStreamEndCapture(s, &none);

    // ---- several streams in one capture: fork, join
    CUevent fork, join;
    cuEventCreate(&fork, 0);
    cuEventCreate(&join, 0);
    cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL);
    cuEventRecord(fork, s);
    expectStatus(cuEventQuery(fork), CUDA_ERROR_CAPTURED_EVENT, "cuEventQuery of an event recorded in a capture");
    expectStatus(cuStreamWaitEvent(side, fork, 0), CUDA_SUCCESS, "a second stream joins the capture through an event");
    launchSet(m, side, y, 2.0f);
    expectStatus(cuStreamEndCapture(side, &none), CUDA_ERROR_STREAM_CAPTURE_UNMATCHED, "  ending it on the second stream");
    cuStreamEndCapture(s, &none);
    cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL);
    cuEventRecord(fork, s);
    cuStreamWaitEvent(side, fork, 0);
    launchSet(m, side, y, 2.0f);
    expectStatus(cuStreamEndCapture(s, &none), CUDA_ERROR_STREAM_CAPTURE_UNJOINED, "  the fork not joined back");
    // A fork and join where the consumer does not wait for the producer: independent nodes.
    cuMemsetD32(x, 0, 32);
    cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL);
    cuEventRecord(fork, s);
    cuStreamWaitEvent(side, fork, 0);
    launchSet(m, s, x, 11.0f);           // producer
    launchPlusOne(m, side, x, y);        // consumer, not waiting for it: a bug
    cuEventRecord(join, side);
    cuStreamWaitEvent(s, join, 0);
    expectStatus(cuStreamEndCapture(s, &g), CUDA_SUCCESS, "a fork joined back");
    cuGraphInstantiate(&exec, g, 0);
    cuGraphLaunch(exec, s);
    cuStreamSynchronize(s);
    if (adversarial) expect(first(y) == 1.0f, "adversarial: the graph's unordered consumer runs before its producer (y = 1, not 12)");
    else expect(first(y) == 12.0f, "  in creation order the replay gives y = 12");
    cuGraphExecDestroy(exec);
    cuGraphDestroy(g);

    // ---- correct use, which plant-bugs.py breaks (capture-alloc, graph-stale-pointer, graph-freed-buffer)
    CUdeviceptr scratch;
    cuMemAlloc(&scratch, 128);   // before the capture
    cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL);
    launchSet(m, s, scratch, 2.0f);
    expectStatus(cuStreamEndCapture(s, &g), CUDA_SUCCESS, "a capture whose buffer was allocated before it");
    cuGraphInstantiate(&exec, g, 0);
    expectStatus(cuGraphLaunch(exec, s), CUDA_SUCCESS, "  its replay");
    cuStreamSynchronize(s);
    expect(first(scratch) == 2.0f, "  wrote 2");
    CUdeviceptr grown;   // the buffer grows: a new allocation, the node moved to it, the old one freed
    cuMemAlloc(&grown, 256);
    count = 1;
    cuGraphGetNodes(g, nodes, &count);
    cuGraphKernelNodeGetParams(nodes[0], &kp);
    void* grownParams[] = {&grown, kp.kernelParams[1]};
    np = kp;
    np.kernelParams = grownParams;
    cuGraphExecKernelNodeSetParams(exec, nodes[0], &np);   // the replay follows the buffer
    cuMemFree(scratch);
    expectStatus(cuGraphLaunch(exec, s), CUDA_SUCCESS, "a replay after its buffer moved to a new allocation");
    cuStreamSynchronize(s);
    expect(first(grown) == 2.0f, "  wrote 2 into the new one");
    cuGraphExecDestroy(exec);
    cuGraphDestroy(g);
    cuMemFree(grown);   // after the last replay

    // ---- a graph replayed after a buffer it captured was freed
    CUdeviceptr z;
    cuMemAlloc(&z, 128);
    g = captureSet(m, s, z, 1.0f);
    cuGraphInstantiate(&exec, g, 0);
    cuMemFree(z);
    expectStatus(cuGraphLaunch(exec, s), CUDA_ERROR_ILLEGAL_ADDRESS, "a graph launched after a buffer it captured was freed");
    fresh();
    m.load();
}

// Cooperative launches (all blocks at once, a grid barrier), dynamic shared memory and its limits.
static void cooperativeChecks(TestModule& m) {
    fresh();
    m.load();
    CUfunction sum, skipped;
    cuModuleGetFunction(&sum, m.module, "gridSum");
    cuModuleGetFunction(&skipped, m.module, "gridSyncSkippedByBlock0");
    CUdeviceptr in, partial, out;
    cuMemAlloc(&in, 128 * 4);
    cuMemAlloc(&partial, 4 * 4);
    cuMemAlloc(&out, 4 * 4);
    float v[128];
    for (int i = 0; i < 128; i++) v[i] = (float)(i + 1);
    cuMemcpyHtoD(in, v, sizeof v);
    int with = 1;
    void* p[] = {&in, &partial, &out, &with};
    for (int launch = 0; launch < 3; launch++) {   // forward, reverse, interleaved
        cuMemsetD32(out, 0, 1);
        expectStatus(cuLaunchCooperativeKernel(sum, 4, 1, 1, 32, 1, 1, 32 * 4, nullptr, p), CUDA_SUCCESS,
                     "cuLaunchCooperativeKernel: 4 blocks, grid barrier, order " + std::to_string(launch));
        expect(first(out) == 8256.0f, "  the sum over the grid is 8256 (each block's own shared memory)");
    }
    {   // a persistent kernel's shape: 132 blocks of 256 threads, all at once
        const int n = 132 * 256;
        CUdeviceptr bigIn, bigPartial;
        cuMemAlloc(&bigIn, n * 4);
        cuMemAlloc(&bigPartial, 132 * 4);
        std::vector<float> ones(n, 1.0f);
        cuMemcpyHtoD(bigIn, ones.data(), n * 4);
        void* big[] = {&bigIn, &bigPartial, &out, &with};
        expectStatus(cuLaunchCooperativeKernel(sum, 132, 1, 1, 256, 1, 1, 256 * 4, nullptr, big), CUDA_SUCCESS,
                     "cuLaunchCooperativeKernel: 132 blocks of 256 threads at once");
        expect(first(out) == (float)n, "  the sum is 33792");
    }
    with = 0;
    bool raced = false;
    for (int launch = 0; launch < 3; launch++) {
        cuMemsetD32(partial, 0x7fc00000u, 4);   // NaN: not the last launch's sums
        cuLaunchCooperativeKernel(sum, 4, 1, 1, 32, 1, 1, 32 * 4, nullptr, p);
        raced |= first(out) != 8256.0f;
    }
    expect(raced, "without the grid barrier, some order reads block sums not yet written");
    {   // captured into a graph, the node stays cooperative
        CUstream s;
        cuStreamCreate(&s, CU_STREAM_NON_BLOCKING);
        CUgraph g;
        CUgraphExec exec;
        cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL);
        cuLaunchCooperativeKernel(sum, 4, 1, 1, 32, 1, 1, 32 * 4, s, p);
        expectStatus(cuStreamEndCapture(s, &g), CUDA_SUCCESS, "a cooperative launch captured");
        cuGraphInstantiate(&exec, g, 0);
        cuMemsetD32(out, 0, 1);
        cuGraphLaunch(exec, s);
        cuStreamSynchronize(s);
        expect(first(out) == 8256.0f, "  its replay has the grid barrier (8256)");
        CUgraphNode node;
        std::size_t one = 1;
        cuGraphGetNodes(g, &node, &one);
        CUDA_KERNEL_NODE_PARAMS kp;
        cuGraphKernelNodeGetParams(node, &kp);
        kp.gridDimX = 2 * 132 + 1;
        kp.blockDimX = 1024;
        kp.sharedMemBytes = 0;
        expectStatus(cuGraphExecKernelNodeSetParams(exec, node, &kp), CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE,
                     "  node parameters for a grid that does not fit");
        cuGraphExecDestroy(exec);
        cuGraphDestroy(g);
        cuStreamDestroy(s);
    }
    int perSm = 0;
    cuOccupancyMaxActiveBlocksPerMultiprocessor(&perSm, sum, 256, 0);
    expect(perSm == 8, "occupancy: 8 blocks of 256 threads per multiprocessor");
    cuOccupancyMaxActiveBlocksPerMultiprocessor(&perSm, sum, 1024, 0);
    expect(perSm == 2, "  2 of 1024");
    expectStatus(cuLaunchCooperativeKernel(sum, 2 * 132 + 1, 1, 1, 1024, 1, 1, 0, nullptr, p), CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE,
                 "a cooperative grid that does not fit the device at once");
    expectStatus(cuLaunchKernel(sum, 4, 1, 1, 32, 1, 1, 64 * 1024, nullptr, p, nullptr), CUDA_ERROR_INVALID_VALUE,
                 "64 KiB of dynamic shared memory without cuFuncSetAttribute");
    expectStatus(cuFuncSetAttribute(sum, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 300000), CUDA_ERROR_INVALID_VALUE,
                 "cuFuncSetAttribute beyond 227 KiB");
    expectStatus(cuFuncSetAttribute(sum, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, 64 * 1024), CUDA_SUCCESS,
                 "cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES, 64 KiB)");
    CUfunction again;
    cuModuleGetFunction(&again, m.module, "gridSum");
    int limit = 0;
    cuFuncGetAttribute(&limit, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, again);
    expect(again == sum && limit == 64 * 1024, "  the same handle again, with the new limit");
    expectStatus(cuLaunchKernel(sum, 1, 1, 1, 32, 1, 1, 64 * 1024, nullptr, p, nullptr), CUDA_SUCCESS, "  then a 64 KiB launch runs");
    with = 1;
    expectStatus(cuLaunchKernel(sum, 4, 1, 1, 32, 1, 1, 32 * 4, nullptr, p, nullptr), CUDA_ERROR_LAUNCH_FAILED,
                 "a grid barrier in a launch that is not cooperative");
    fresh();
    m.load();
    cuModuleGetFunction(&skipped, m.module, "gridSyncSkippedByBlock0");
    cuMemAlloc(&out, 4 * 4);
    void* q[] = {&out};
    CUfunction early;
    cuModuleGetFunction(&early, m.module, "blockZeroLeavesEarly");
    for (int launch = 0; launch < 3; launch++) {
        expectStatus(cuLaunchCooperativeKernel(early, 4, 1, 1, 32, 1, 1, 0, nullptr, q), CUDA_SUCCESS,
                     "a cooperative launch where block 0 returns before the others' __syncthreads, order " + std::to_string(launch));
    }
    expectStatus(cuLaunchCooperativeKernel(skipped, 4, 1, 1, 32, 1, 1, 0, nullptr, q), CUDA_ERROR_LAUNCH_FAILED,
                 "a grid barrier that one block's threads never reach");
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
    expect(host[0] == 0.0f && host[63] == 0.0f, "  a read back gives zeros");
    expect(reinterpret_cast<float*>(a)[0] != 2.5f, "  nothing ran: the device memory has no 2.5 of the fill");
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
    // A graph launch counts its nodes and their kernels, and runs none of them.
    fresh();
    cuModuleLoadData(&module, fatbin.data());
    cuModuleGetFunction(&f, module, "rnn4j_fill");
    cuMemAlloc(&a, 256);
    dst = a;
    CUstream s;
    cuStreamCreate(&s, CU_STREAM_NON_BLOCKING);
    CUgraph g;
    CUgraphExec exec;
    cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL);
    cuLaunchKernel(f, 1, 1, 1, 64, 1, 1, 0, s, params, nullptr);
    cuLaunchKernel(f, 1, 1, 1, 64, 1, 1, 0, s, params, nullptr);
    cuStreamEndCapture(s, &g);
    cuGraphInstantiate(&exec, g, 0);
    const long long nodes = rnn4j_standin_count("graph nodes");
    expectStatus(cuGraphLaunch(exec, s), CUDA_SUCCESS, "skip-work: cuGraphLaunch");
    cuStreamSynchronize(s);
    expect(rnn4j_standin_count("graph nodes") == nodes + 2 && rnn4j_standin_count("rnn4j_fill") == 3,
           "  its 2 nodes counted, as rnn4j_fill launches");
    expect(reinterpret_cast<float*>(a)[0] != 2.5f, "  and not run (the device memory has no 2.5 of the fill)");
    expect(rnn4j_standin_count("stand-in ns") > 0, "the time spent inside the stand-in is counted (stand-in ns)");
    char text[4096];
    long long length = rnn4j_standin_stats(text, sizeof text);
    expect(length > 0 && std::strstr(text, "cublasSgemm_v2 1\n") != nullptr && std::strstr(text, "rnn4j_fill 3\n") != nullptr,
           "rnn4j_standin_stats lists cublasSgemm_v2 1 and rnn4j_fill 3 (the faulting launch is not counted as run)");
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
    const bool adversarial = mode != nullptr && std::strcmp(mode, "adversarial") == 0;
    const bool deferred = adversarial || (mode != nullptr && std::strcmp(mode, "deferred") == 0);
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

    TestModule test{image};
    streamOrderChecks(test, adversarial);
    captureChecks(test, adversarial);
    cooperativeChecks(test);

    std::printf("%d failed\n", failures);
    return failures == 0 ? 0 : 1;
}
