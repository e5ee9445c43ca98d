// driver.cpp — a stand-in libcuda.so.1: the subset of the CUDA driver API that JCuda and
// org.rnn4j.cuda call, executing the kernels of kernels/*.cu (compiled into this library as host
// code) on the CPU, and checking what a GPU would not forgive. See native/standin/README.md.
//
//   device       one, "rnn4j stand-in (simulated on the CPU, no GPU)", sm_90, memory capped by
//                RNN4J_STANDIN_MEMORY (bytes, K/M/G suffix; default 8G)
//   contexts     the primary context only; a current context is required as with the driver
//   memory       each allocation has red zones before and after it, is filled with NaN garbage
//                when allocated and with NaN poison when freed (and kept in quarantine a while);
//                every copy, memset and kernel pointer must lie inside one live allocation
//   kernels      a block at a time; its threads are fibers, so __syncthreads is a real barrier;
//                block and thread order rotate per launch (forward, reverse, interleaved) or are
//                fixed by RNN4J_STANDIN_ORDER=forward|reverse|interleaved; a cooperative launch
//                runs all blocks at once, with a grid barrier
//   streams      in order and synchronous, or with RNN4J_STANDIN_STREAMS=deferred each stream's
//                work runs only when the host synchronizes, so reading results without a sync
//                fails; =adversarial also runs unordered work of different streams in the worst
//                legal order at each synchronization
//   events       complete with their stream; a wait orders a stream after another's record;
//                elapsed time is host time of the simulation
//   capture      work on a capturing stream becomes graph nodes; graphs replay through the same
//                checks, after checking every node's memory is still live
//   counters     calls by API name and launches by kernel (RNN4J_STANDIN_STATS, rnn4j_standin_*);
//                RNN4J_STANDIN_SKIP_WORK=1 checks and counts everything but runs no device work
#include "standin.h"
#include "device.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <memory>
#include <queue>
#include <set>
#include <thread>

namespace standin {

alignas(256) unsigned char dynamicShared[kMaxSharedOptIn];
uint3 currentThreadIdx;
uint3 currentBlockIdx;
dim3 currentBlockDim;
dim3 currentGridDim;

namespace {

// ================================================================ configuration and reporting

constexpr const char* kDeviceName = "rnn4j stand-in (simulated on the CPU, no GPU)";
constexpr int kDriverVersion = 13000;
constexpr int kCcMajor = 9;
constexpr int kCcMinor = 0;

std::size_t parseBytes(const char* text, std::size_t fallback) {
    if (text == nullptr || *text == 0) {
        return fallback;
    }
    char* end = nullptr;
    double v = std::strtod(text, &end);
    switch (end == nullptr ? 0 : *end) {
        case 'k': case 'K': v *= 1024.0; break;
        case 'm': case 'M': v *= 1024.0 * 1024.0; break;
        case 'g': case 'G': v *= 1024.0 * 1024.0 * 1024.0; break;
        default: break;
    }
    return v > 0 ? (std::size_t)v : fallback;
}

struct Config {
    std::size_t memoryCap = parseBytes(std::getenv("RNN4J_STANDIN_MEMORY"), std::size_t(8) << 30);
    // RNN4J_STANDIN_STREAMS=deferred: queued until the host synchronizes; =adversarial: deferred,
    // and each host synchronization runs all queued work in the worst legal order.
    bool adversarial = streamsAre("adversarial");
    bool deferred = adversarial || streamsAre("deferred");
    int fixedOrder = orderFromEnv();
    bool stats = flag("RNN4J_STANDIN_STATS");
    bool skipWork = flag("RNN4J_STANDIN_SKIP_WORK");

    static bool streamsAre(const char* mode) {
        const char* v = std::getenv("RNN4J_STANDIN_STREAMS");
        return v != nullptr && std::strcmp(v, mode) == 0;
    }
    static bool flag(const char* name) {
        const char* v = std::getenv(name);
        return v != nullptr && *v != 0 && std::strcmp(v, "0") != 0;
    }

    static int orderFromEnv() {
        const char* o = std::getenv("RNN4J_STANDIN_ORDER");
        if (o == nullptr) return -1;
        if (std::strcmp(o, "forward") == 0) return 0;
        if (std::strcmp(o, "reverse") == 0) return 1;
        if (std::strcmp(o, "interleaved") == 0) return 2;
        return -1;
    }
};

Config& config() {
    static Config c;
    return c;
}

// Counters by name: each API entry point by its exported name (cuLaunchKernel, cublasSgemm_v2),
// each kernel by its name (launches, eager or from a graph), and a few totals ("blocks", "copies",
// "graph nodes"). Always counted; printed at exit with RNN4J_STANDIN_STATS=1, read on demand
// through rnn4j_standin_count / rnn4j_standin_stats (below).
struct Stats {
    std::map<std::string, long long> counts;
    std::map<const char*, long long*> byPointer;   // the same counters, found by a name's address

    void add(const char* name, long long n = 1) {
        long long*& c = byPointer[name];
        if (c == nullptr) c = &counts[name];
        *c += n;
    }
    long long get(const char* name) const {
        auto it = counts.find(name);
        return it == counts.end() ? 0 : it->second;
    }
    void reset() {
        for (auto& e : counts) e.second = 0;
    }
    std::string text() const {
        std::string out;
        for (const auto& e : counts) {
            if (e.second != 0) out += e.first + " " + std::to_string(e.second) + "\n";
        }
        return out;
    }
    void print() const {
        std::string calls, kernels, totals;
        long long api = 0, launched = 0;
        for (const auto& e : counts) {
            if (e.second == 0) continue;
            std::string line = "[rnn4j stand-in]   " + e.first + " " + std::to_string(e.second) + "\n";
            if (e.first.rfind("cu", 0) == 0) {
                calls += line;
                api += e.second;
            } else if (e.first.find(' ') == std::string::npos) {
                kernels += line;
                launched += e.second;
            } else {
                totals += line;
            }
        }
        std::fprintf(stderr, "[rnn4j stand-in] %lld driver and cuBLAS calls:\n%s[rnn4j stand-in] %lld kernel launches:\n%s%s%s",
                     api, calls.c_str(), launched, kernels.c_str(), totals.c_str(),
                     config().skipWork ? "[rnn4j stand-in] (RNN4J_STANDIN_SKIP_WORK: no kernel, GEMM, copy or memset ran)\n" : "");
        std::fflush(stderr);
    }
    ~Stats() {
        if (config().stats) print();
    }
};
Stats stats;

// Every API call holds this: one simulated device, one thing at a time.
std::recursive_mutex& lock() {
    static std::recursive_mutex m;
    return m;
}

// ================================================================ state

enum class Kind { Device, Pinned };

constexpr std::size_t kRedZone = 256;                     // bytes before and after each device allocation
constexpr std::uint32_t kGarbage = 0x7fa5a5a5u;           // fresh memory: a NaN as float
constexpr std::uint32_t kPoison = 0x7fdeadeeu;            // freed memory: another NaN
constexpr std::uint32_t kCanary = 0xdeadbeefu;            // red zones: not a NaN, which arithmetic would copy back
constexpr std::size_t kQuarantineBytes = std::size_t(256) << 20;

struct Allocation {
    std::uintptr_t start = 0;
    std::size_t bytes = 0;
    Kind kind = Kind::Device;
    bool live = true;
    char* base = nullptr;         // what to release
    std::size_t total = 0;        // bytes from base
    std::uint64_t id = 0;
};

struct Stream;
struct Capture;

struct Context {
    bool active = false;
    int refs = 0;
    CUresult sticky = CUDA_SUCCESS;
    std::string stickyMessage;
    std::set<Stream*> streams;
};

struct Function;

/** A kernel launch as cuLaunchKernel or a kernel node holds it: the parameter values are copies. */
struct KernelLaunch {
    Function* function = nullptr;
    dim3 grid{1, 1, 1}, block{1, 1, 1};
    unsigned sharedBytes = 0;
    bool cooperative = false;   // cuLaunchCooperativeKernel: all blocks at once, grid.sync() allowed
    std::vector<unsigned char> values;   // KernelEntry::capture's slots
};

/** One unit of device work: a kernel, or a copy / memset / SGEMM / event record with the device ranges it touches. */
struct Work {
    const char* call = "";
    bool isKernel = false;
    KernelLaunch kernel;
    std::vector<Range> touches;
    std::function<CUresult()> run;   // not for kernels
    bool isGraph = false;            // a graph launch: runs its nodes even with RNN4J_STANDIN_SKIP_WORK
};

/** What an event record completes: shared by the event and the queued record, so either may go first. */
struct Record {
    bool done = false;
    double ms = 0;
};

/** Work queued on a deferred stream, in issue order (seq, global); a wait runs only after its record. */
struct Op {
    Work work;
    std::uint64_t seq = 0;
    std::shared_ptr<Record> completes;   // an event record
    Stream* waitStream = nullptr;        // a wait: for `waitFor` of that stream
    std::shared_ptr<Record> waitFor;
};

struct Stream {
    Context* ctx = nullptr;
    unsigned flags = 0;
    std::deque<Op> queue;
    Capture* capture = nullptr;              // the capture sequence it takes part in
    std::vector<std::size_t> captureDeps;    // the nodes its next captured work depends on
    std::vector<CUgraphNode> depHandles;     // storage for cuStreamGetCaptureInfo
};

struct Event {
    unsigned flags = 0;
    std::shared_ptr<Record> record;          // the latest record outside a capture; null before any
    Stream* stream = nullptr;                // where it was recorded
    Capture* capture = nullptr;              // recorded inside this (active) capture
    std::vector<std::size_t> captureDeps;    // the capturing stream's nodes at that record
};

/** A node of a CUDA graph: its work and the earlier nodes (indices) it depends on. */
struct Node {
    Work work;
    std::vector<std::size_t> deps;
    std::vector<void*> paramPointers;       // storage for cuGraphKernelNodeGetParams
};

struct Graph {
    std::vector<std::unique_ptr<Node>> nodes;
};

struct GraphExec {
    std::shared_ptr<std::vector<Node>> nodes;        // copied again when changed while a launch holds them
    std::map<const Node*, std::size_t> index;        // graph nodes (of the source, and of updates) to positions
};

struct Capture {
    std::uint64_t id = 0;
    Graph* graph = nullptr;
    CUstreamCaptureMode mode = CU_STREAM_CAPTURE_MODE_GLOBAL;
    Stream* origin = nullptr;
    std::thread::id thread;
    bool invalidated = false;
    std::set<Stream*> streams;
};

struct Function {
    const KernelEntry* kernel;
    struct LoadedModule* module;
    unsigned maxDynamicShared = 48 * 1024;   // CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
};

struct LoadedModule {
    const Module* module;
    bool loaded = true;
    std::map<std::string, std::unique_ptr<Function>> functions;   // one handle per kernel, as with the driver
};

// The simulated device's limits (sm_90, an H100's SM count).
constexpr int kMultiprocessors = 132;
constexpr int kThreadsPerMultiprocessor = 2048;
constexpr int kBlocksPerMultiprocessor = 32;
constexpr int kSharedPerMultiprocessor = 233472;   // 228 KiB
constexpr int kSharedReservedPerBlock = 1024;       // the driver's per-block reservation

bool initialized = false;
Context primary;
thread_local Context* current = nullptr;
std::map<std::uintptr_t, Allocation> allocations;     // by start address, live and quarantined
std::deque<std::uintptr_t> quarantine;
std::size_t quarantined = 0;
std::size_t deviceBytes = 0;
std::uint64_t nextAllocationId = 1;
std::set<Event*> events;
std::set<Graph*> graphs;
std::set<GraphExec*> execs;
std::map<const Node*, Graph*> nodeOwner;          // every node of a live graph
std::set<Capture*> captures;                       // the active capture sequences
std::uint64_t nextCaptureId = 1;
std::uint64_t nextSeq = 1;                         // issue order of queued work, over all streams
thread_local CUstreamCaptureMode threadCaptureMode = CU_STREAM_CAPTURE_MODE_GLOBAL;
std::set<LoadedModule*> loadedModules;
std::vector<const Module*>& modules() {
    static std::vector<const Module*> m;
    return m;
}
std::vector<FatbinId> extraImages;

std::string hex(const void* p) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%p", p);
    return buf;
}

const char* errorName(CUresult r) {
    switch (r) {
        case CUDA_SUCCESS: return "CUDA_SUCCESS";
        case CUDA_ERROR_INVALID_VALUE: return "CUDA_ERROR_INVALID_VALUE";
        case CUDA_ERROR_OUT_OF_MEMORY: return "CUDA_ERROR_OUT_OF_MEMORY";
        case CUDA_ERROR_NOT_INITIALIZED: return "CUDA_ERROR_NOT_INITIALIZED";
        case CUDA_ERROR_DEINITIALIZED: return "CUDA_ERROR_DEINITIALIZED";
        case CUDA_ERROR_NO_DEVICE: return "CUDA_ERROR_NO_DEVICE";
        case CUDA_ERROR_INVALID_DEVICE: return "CUDA_ERROR_INVALID_DEVICE";
        case CUDA_ERROR_INVALID_IMAGE: return "CUDA_ERROR_INVALID_IMAGE";
        case CUDA_ERROR_INVALID_CONTEXT: return "CUDA_ERROR_INVALID_CONTEXT";
        case CUDA_ERROR_INVALID_HANDLE: return "CUDA_ERROR_INVALID_HANDLE";
        case CUDA_ERROR_NOT_FOUND: return "CUDA_ERROR_NOT_FOUND";
        case CUDA_ERROR_NOT_READY: return "CUDA_ERROR_NOT_READY";
        case CUDA_ERROR_ILLEGAL_ADDRESS: return "CUDA_ERROR_ILLEGAL_ADDRESS";
        case CUDA_ERROR_LAUNCH_FAILED: return "CUDA_ERROR_LAUNCH_FAILED";
        case CUDA_ERROR_NOT_SUPPORTED: return "CUDA_ERROR_NOT_SUPPORTED";
        case CUDA_ERROR_NO_BINARY_FOR_GPU: return "CUDA_ERROR_NO_BINARY_FOR_GPU";
        case CUDA_ERROR_ILLEGAL_STATE: return "CUDA_ERROR_ILLEGAL_STATE";
        case CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE: return "CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE";
        case CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED: return "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED";
        case CUDA_ERROR_STREAM_CAPTURE_INVALIDATED: return "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED";
        case CUDA_ERROR_STREAM_CAPTURE_UNMATCHED: return "CUDA_ERROR_STREAM_CAPTURE_UNMATCHED";
        case CUDA_ERROR_STREAM_CAPTURE_UNJOINED: return "CUDA_ERROR_STREAM_CAPTURE_UNJOINED";
        case CUDA_ERROR_STREAM_CAPTURE_ISOLATION: return "CUDA_ERROR_STREAM_CAPTURE_ISOLATION";
        case CUDA_ERROR_STREAM_CAPTURE_IMPLICIT: return "CUDA_ERROR_STREAM_CAPTURE_IMPLICIT";
        case CUDA_ERROR_CAPTURED_EVENT: return "CUDA_ERROR_CAPTURED_EVENT";
        case CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD: return "CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD";
        case CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE: return "CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE";
        default: return nullptr;
    }
}

void fillPattern(void* p, std::size_t bytes, std::uint32_t pattern) {
    unsigned char bytesOf[4];
    std::memcpy(bytesOf, &pattern, 4);
    unsigned char* c = static_cast<unsigned char*>(p);
    for (std::size_t i = 0; i < bytes; i++) {
        c[i] = bytesOf[(reinterpret_cast<std::uintptr_t>(c + i)) & 3];
    }
}

// The allocation (live or in quarantine) that contains p, or null.
Allocation* find(const void* p) {
    std::uintptr_t a = reinterpret_cast<std::uintptr_t>(p);
    auto it = allocations.upper_bound(a);
    if (it == allocations.begin()) {
        return nullptr;
    }
    --it;
    Allocation& al = it->second;
    return a < al.start + std::max<std::size_t>(al.bytes, 1) ? &al : nullptr;
}

// The first red-zone byte that is no longer the canary, or -1.
long damagedRedZone(const Allocation& a) {
    if (a.kind != Kind::Device) {
        return -1;
    }
    unsigned char* front = reinterpret_cast<unsigned char*>(a.base);
    unsigned char* back = reinterpret_cast<unsigned char*>(a.start + a.bytes);
    unsigned char* end = reinterpret_cast<unsigned char*>(a.base + a.total);
    unsigned char want[4];
    std::memcpy(want, &kCanary, 4);
    for (unsigned char* c = front; c < reinterpret_cast<unsigned char*>(a.start); c++) {
        if (*c != want[reinterpret_cast<std::uintptr_t>(c) & 3]) {
            return (long)(c - reinterpret_cast<unsigned char*>(a.start));
        }
    }
    for (unsigned char* c = back; c < end; c++) {
        if (*c != want[reinterpret_cast<std::uintptr_t>(c) & 3]) {
            return (long)(c - reinterpret_cast<unsigned char*>(a.start));
        }
    }
    return -1;
}

std::string describe(const Allocation& a) {
    return std::string(a.kind == Kind::Device ? "device" : "pinned host") + " allocation #" + std::to_string(a.id)
           + " [" + hex(reinterpret_cast<void*>(a.start)) + ", +" + std::to_string(a.bytes) + " bytes)";
}

void releaseQuarantine(std::size_t keep) {
    while (quarantined > keep && !quarantine.empty()) {
        auto it = allocations.find(quarantine.front());
        quarantine.pop_front();
        if (it == allocations.end() || it->second.live) {
            continue;
        }
        quarantined -= it->second.total;
        if (it->second.kind == Kind::Device) {
            std::free(it->second.base);
        } else {
            munmap(it->second.base, it->second.total);
        }
        allocations.erase(it);
    }
}

// ================================================================ fibers: a block's threads on one OS thread

// standin_switch(save, to): saves the callee-saved registers, MXCSR and the x87 control word on
// the current stack, stores its pointer in *save, and resumes the stack `to` saved the same way.
extern "C" void standin_switch(void** save, void* to);
asm(R"(
    .text
    .globl standin_switch
    .hidden standin_switch
    .type standin_switch,@function
standin_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $16, %rsp
    stmxcsr 8(%rsp)
    fnstcw 12(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr 8(%rsp)
    fldcw 12(%rsp)
    addq $16, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size standin_switch, .-standin_switch
)");

constexpr std::size_t kStackBytes = 256 * 1024;
constexpr std::size_t kPooledStackBytes = 64 * 1024;   // fibers beyond a block's 1024 (cooperative grids)
constexpr unsigned kFibersWithGuard = 1024;

enum class FiberState { Runnable, AtBarrier, AtGridBarrier, Done };

struct Fiber {
    void* sp = nullptr;
    char* stack = nullptr;        // kStackBytes with a guard page below, or kPooledStackBytes from a pool
    std::size_t stackBytes = 0;
    FiberState state = FiberState::Done;
    uint3 tid{};
    const char* barrierFile = nullptr;
    int barrierLine = 0;
    int predicate = 0;
};

std::vector<Fiber> fibers;
void* schedulerSp = nullptr;
Fiber* running = nullptr;
const KernelEntry* runningKernel = nullptr;
void** runningParams = nullptr;

[[noreturn]] void fiberMain() {
    runningKernel->invoke(runningKernel->function, runningParams);
    running->state = FiberState::Done;
    standin_switch(&running->sp, schedulerSp);
    std::abort();   // a finished fiber is never resumed
}

// A stack for fiber i: the first 1024 (one block's worth) each have a mapping with a guard page;
// more (a cooperative grid, where every thread of the grid lives at once) come from pools of
// smaller stacks without guards, so that the mappings stay far below the kernel's map count limit.
bool mapStack(Fiber& f, unsigned i) {
    if (f.stack != nullptr) return true;
    if (i < kFibersWithGuard) {
        void* m = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) return false;
        mprotect(m, (std::size_t)sysconf(_SC_PAGESIZE), PROT_NONE);
        f.stack = static_cast<char*>(m);
        f.stackBytes = kStackBytes;
        return true;
    }
    constexpr std::size_t kPool = 4096;
    static char* pool = nullptr;
    static std::size_t left = 0;
    if (left == 0) {
        void* m = mmap(nullptr, kPool * kPooledStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) return false;
        pool = static_cast<char*>(m);
        left = kPool;
    }
    f.stack = pool;
    f.stackBytes = kPooledStackBytes;
    pool += kPooledStackBytes;
    left--;
    return true;
}

void prepareFiber(Fiber& f) {
    // The frame standin_switch pops: scratch (MXCSR, x87 CW), r15..r12, rbx, rbp, then the return
    // address fiberMain, entered with rsp ≡ 8 (mod 16) as after a call.
    std::uintptr_t top = (reinterpret_cast<std::uintptr_t>(f.stack) + f.stackBytes) & ~std::uintptr_t(15);
    std::uint64_t* s = reinterpret_cast<std::uint64_t*>(top);
    s[-1] = 0;
    s[-2] = reinterpret_cast<std::uint64_t>(&fiberMain);
    for (int i = 3; i <= 8; i++) {
        s[-i] = 0;
    }
    std::uint32_t mxcsr;
    std::uint16_t cw;
    asm volatile("stmxcsr %0" : "=m"(mxcsr));
    asm volatile("fnstcw %0" : "=m"(cw));
    std::uint32_t* scratch = reinterpret_cast<std::uint32_t*>(&s[-9]);
    scratch[0] = mxcsr;
    scratch[1] = cw;
    f.sp = &s[-10];
}

// The order in which the threads of a block, or the blocks of a grid, take turns: 0 forward,
// 1 reverse, 2 interleaved (the odd indices ascending, then the even ones descending, so that
// neighbours never run one after the other).
std::vector<unsigned> order(unsigned n, int kind) {
    std::vector<unsigned> o;
    o.reserve(n);
    if (kind == 2) {
        for (unsigned i = 1; i < n; i += 2) o.push_back(i);
        for (unsigned i = (n - 1) & ~1u; n > 0; i -= 2) {
            o.push_back(i);
            if (i < 2) break;
        }
        return o;
    }
    for (unsigned i = 0; i < n; i++) o.push_back(kind == 1 ? n - 1 - i : i);
    return o;
}

std::string where(const char* file, int line) {
    const char* slash = std::strrchr(file, '/');
    return std::string(slash == nullptr ? file : slash + 1) + ":" + std::to_string(line);
}

/** What a group of blocks that run at once share: the kernel, its shared memory, its parameters. */
struct Group {
    const KernelEntry* kernel;
    char* sharedBegin;            // the module's __shared__ variables
    std::size_t sharedBytes;
    std::size_t dynamicBytes;     // of dynamicShared
    void** params;
    std::vector<uint3> blocks;    // one for a plain launch (blocks run one at a time), all for a cooperative one
    unsigned threads;
    int threadOrder, blockOrder;
    bool cooperative;
};

// Checks the barriers of one block after every runnable fiber ran until it waits or returns:
// releases a __syncthreads every thread reached at the same call site; the reason in *error
// when they cannot all get there. Adds the block's threads at the grid barrier and done to the counts.
bool blockBarrier(Fiber* f, unsigned threads, unsigned* atGridInGroup, unsigned* doneInGroup, std::string* error) {
    unsigned waiting = 0, atGrid = 0, done = 0;
    Fiber* first = nullptr;
    for (unsigned i = 0; i < threads; i++) {
        if (f[i].state == FiberState::AtBarrier) {
            waiting++;
            if (first == nullptr) first = &f[i];
        } else if (f[i].state == FiberState::AtGridBarrier) {
            atGrid++;
        } else {
            done++;
        }
    }
    *atGridInGroup += atGrid;
    *doneInGroup += done;
    if (waiting == 0) return true;
    if (atGrid > 0) {
        *error = "threads of a block wait at a __syncthreads (" + where(first->barrierFile, first->barrierLine)
                 + ") and at a grid barrier at once";
        return false;
    }
    if (done > 0) {
        *error = "barrier at " + where(first->barrierFile, first->barrierLine) + " reached by " + std::to_string(waiting) + " of "
                 + std::to_string(threads) + " threads (the others returned): a __syncthreads in divergent code";
        return false;
    }
    int any = 0;
    for (unsigned i = 0; i < threads; i++) {
        if (f[i].barrierFile != first->barrierFile || f[i].barrierLine != first->barrierLine) {
            *error = "threads wait at different barriers: thread " + std::to_string(i) + " at " + where(f[i].barrierFile, f[i].barrierLine)
                     + ", others at " + where(first->barrierFile, first->barrierLine);
            return false;
        }
        any |= f[i].predicate;
    }
    for (unsigned i = 0; i < threads; i++) {
        f[i].predicate = any;
        f[i].state = FiberState::Runnable;
    }
    return true;
}

// Runs a group of blocks with every thread a fiber, until all return; the reason in *error when a
// barrier is not reached by every thread that must reach it. Blocks of a group take turns, each
// with its own copy of shared memory (swapped in while it runs); a grid barrier is released when
// every thread of the grid reached one.
bool runGroup(const Group& g, std::string* error) {
    const unsigned nb = (unsigned)g.blocks.size();
    const std::size_t total = (std::size_t)nb * g.threads;
    if (fibers.size() < total) fibers.resize(total);
    const dim3 bd = currentBlockDim;
    for (unsigned i = 0; i < total; i++) {
        Fiber& f = fibers[i];
        if (!mapStack(f, i)) {
            *error = "cannot map a fiber stack (" + std::to_string(total) + " threads at once)";
            return false;
        }
        prepareFiber(f);
        const unsigned t = i % g.threads;
        f.state = FiberState::Runnable;
        f.tid = {t % bd.x, (t / bd.x) % bd.y, t / (bd.x * bd.y)};
    }
    // Shared memory, static and dynamic, starts as garbage in every block.
    std::vector<std::vector<unsigned char>> image(nb > 1 ? nb : 0);
    for (auto& m : image) {
        m.resize(g.sharedBytes + g.dynamicBytes);
        fillPattern(m.data(), m.size(), kGarbage);
    }
    if (nb == 1) {
        fillPattern(g.sharedBegin, g.sharedBytes, kGarbage);
        fillPattern(dynamicShared, g.dynamicBytes, kGarbage);
    }
    runningKernel = g.kernel;
    runningParams = g.params;
    const std::vector<unsigned> threadTurn = order(g.threads, g.threadOrder);
    const std::vector<unsigned> blockTurn = order(nb, g.blockOrder);
    while (true) {
        for (unsigned b : blockTurn) {
            if (nb > 1) {
                std::memcpy(g.sharedBegin, image[b].data(), g.sharedBytes);
                std::memcpy(dynamicShared, image[b].data() + g.sharedBytes, g.dynamicBytes);
            }
            currentBlockIdx = g.blocks[b];
            for (unsigned t : threadTurn) {
                Fiber& f = fibers[(std::size_t)b * g.threads + t];
                if (f.state != FiberState::Runnable) continue;
                running = &f;
                currentThreadIdx = f.tid;
                standin_switch(&schedulerSp, f.sp);
            }
            if (nb > 1) {
                std::memcpy(image[b].data(), g.sharedBegin, g.sharedBytes);
                std::memcpy(image[b].data() + g.sharedBytes, dynamicShared, g.dynamicBytes);
            }
        }
        unsigned atGrid = 0, done = 0;
        for (unsigned b = 0; b < nb; b++) {
            if (!blockBarrier(&fibers[(std::size_t)b * g.threads], g.threads, &atGrid, &done, error)) return false;
        }
        if (done == total) return true;
        if (atGrid == 0 || atGrid + done < total) continue;   // a block barrier was released
        Fiber* first = nullptr;
        for (std::size_t i = 0; i < total && first == nullptr; i++) {
            if (fibers[i].state == FiberState::AtGridBarrier) first = &fibers[i];
        }
        const std::string site = where(first->barrierFile, first->barrierLine);
        if (!g.cooperative) {
            *error = "grid.sync() at " + site + " in a launch that is not cooperative (cuLaunchCooperativeKernel)";
            return false;
        }
        if (done > 0) {
            *error = "grid barrier at " + site + " reached by " + std::to_string(atGrid) + " of " + std::to_string(total)
                     + " threads of the grid (the others returned)";
            return false;
        }
        for (std::size_t i = 0; i < total; i++) fibers[i].state = FiberState::Runnable;
    }
}

// ================================================================ streams

bool isLiveStream(Stream* s) {
    return s != nullptr && current != nullptr && current->streams.count(s) > 0;
}

// Host synchronization (defined with the scheduler below): the work queued on stream s (null:
// every stream, or only the blocking ones) completes, as far as the host must wait for it.
void hostSync(Stream* s, bool blockingOnly = false);

// The status every call returns first: not initialised, no current context, a sticky fault.
CUresult entry(bool needContext = true) {
    if (!initialized) {
        return CUDA_ERROR_NOT_INITIALIZED;
    }
    if (needContext) {
        if (current == nullptr || !current->active) {
            return CUDA_ERROR_INVALID_CONTEXT;
        }
        if (current->sticky != CUDA_SUCCESS) {
            return current->sticky;
        }
    }
    return CUDA_SUCCESS;
}

#define CALL() Counted call_(__func__)

#define ENTER(...)                                            \
    CALL();                                                   \
    std::lock_guard<std::recursive_mutex> guard_(lock());     \
    do {                                                      \
        CUresult e_ = entry(__VA_ARGS__);                     \
        if (e_ != CUDA_SUCCESS) return e_;                    \
    } while (0)

// ================================================================ memory helpers

CUresult allocateDevice(CUdeviceptr* out, std::size_t bytes, const char* call) {
    if (out == nullptr) {
        return report(CUDA_ERROR_INVALID_VALUE, call, "dptr is null");
    }
    if (bytes == 0) {
        return report(CUDA_ERROR_INVALID_VALUE, call, "bytesize is 0");
    }
    if (bytes > config().memoryCap - std::min(deviceBytes, config().memoryCap)) {
        return CUDA_ERROR_OUT_OF_MEMORY;   // an ordinary outcome: not reported
    }
    std::size_t rounded = (bytes + 255) & ~std::size_t(255);
    std::size_t total = kRedZone + rounded + kRedZone;
    char* base = static_cast<char*>(std::aligned_alloc(256, total));
    if (base == nullptr) {
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    Allocation a;
    a.start = reinterpret_cast<std::uintptr_t>(base + kRedZone);
    a.bytes = bytes;
    a.kind = Kind::Device;
    a.base = base;
    a.total = total;
    a.id = nextAllocationId++;
    fillPattern(base, kRedZone, kCanary);
    if (!config().skipWork) fillPattern(base + kRedZone, bytes, kGarbage);
    fillPattern(base + kRedZone + bytes, total - kRedZone - bytes, kCanary);
    allocations.erase(a.start);   // a quarantined entry at the same address is gone for good
    allocations[a.start] = a;
    deviceBytes += bytes;
    *out = (CUdeviceptr)a.start;
    return CUDA_SUCCESS;
}

CUresult freeAllocation(const void* p, Kind kind, const char* call) {
    Allocation* a = find(p);
    if (a == nullptr || a->start != reinterpret_cast<std::uintptr_t>(p)) {
        return report(CUDA_ERROR_INVALID_VALUE, call, hex(p) + " is not the start of an allocation");
    }
    if (!a->live) {
        return report(CUDA_ERROR_INVALID_VALUE, call, "double free of " + describe(*a));
    }
    if (a->kind != kind) {
        return report(CUDA_ERROR_INVALID_VALUE, call, describe(*a) + " freed with the wrong call");
    }
    long damaged = damagedRedZone(*a);
    if (damaged != -1) {
        return fault(call, describe(*a) + " was written outside its bounds (at offset " + std::to_string(damaged) + ")");
    }
    a->live = false;
    if (kind == Kind::Device) {
        deviceBytes -= a->bytes;
    }
    if (!config().skipWork) fillPattern(reinterpret_cast<void*>(a->start), a->bytes, kPoison);
    quarantine.push_back(a->start);
    quarantined += a->total;
    releaseQuarantine(kQuarantineBytes);
    return CUDA_SUCCESS;
}

// Checks that [p, p + bytes) is device memory for a copy or memset.
CUresult checkDevice(const void* p, std::size_t bytes, const char* call, const char* what) {
    std::string why;
    if (!deviceRange(p, bytes, &why)) {
        return report(CUDA_ERROR_INVALID_VALUE, call, std::string(what) + ": " + why);
    }
    return CUDA_SUCCESS;
}

CUresult checkHost(const void* p, std::size_t bytes, const char* call, const char* what) {
    if (p == nullptr && bytes > 0) {
        return report(CUDA_ERROR_INVALID_VALUE, call, std::string(what) + " is null");
    }
    if (isDeviceAddress(p)) {
        return report(CUDA_ERROR_INVALID_VALUE, call, std::string(what) + " " + hex(p) + " is device memory, a host pointer was expected");
    }
    return CUDA_SUCCESS;
}

// ================================================================ kernels

// Every pointer parameter of a launch must point into a live device allocation (those are
// collected in touched, for the red-zone check after the launch); a fault otherwise.
CUresult checkPointers(const Function* f, void** params, std::vector<Allocation*>& touched) {
    const KernelEntry* k = f->kernel;
    if (!f->module->loaded) return report(CUDA_ERROR_INVALID_HANDLE, k->name, "its module was unloaded");
    thread_local std::vector<PointerArg> args;
    args.clear();
    k->pointers(params, args);
    for (const PointerArg& a : args) {
        if (a.value == nullptr) {
            continue;
        }
        Allocation* al = find(a.value);
        auto what = [&] { return std::string(k->name) + " parameter " + std::to_string(a.index) + " (" + k->typeOf(a.index) + ") = " + hex(a.value); };
        if (al == nullptr) {
            return fault(k->name, what() + " is not in any device allocation");
        }
        if (!al->live) {
            return fault(k->name, what() + " points into freed " + describe(*al));
        }
        if (al->kind != Kind::Device) {
            return fault(k->name, what() + " points into " + describe(*al) + ", not device memory");
        }
        touched.push_back(al);
    }
    return CUDA_SUCCESS;
}

CUresult launch(KernelLaunch& launchOf, void** params) {
    Function* f = launchOf.function;
    const dim3 grid = launchOf.grid, block = launchOf.block;
    const KernelEntry* k = f->kernel;
    std::vector<Allocation*> touched;
    CUresult checked = checkPointers(f, params, touched);
    if (checked != CUDA_SUCCESS) return checked;
    const unsigned long long blocks = (unsigned long long)grid.x * grid.y * grid.z;
    stats.add(k->name);
    stats.add("kernel blocks", (long long)blocks);
    if (config().skipWork) {
        return CUDA_SUCCESS;   // checked and counted, not run
    }
    static unsigned long launchNumber = 0;
    const unsigned long n = launchNumber++;
    Group g;
    g.kernel = k;
    g.sharedBegin = f->module->module->sharedBegin;
    g.sharedBytes = g.sharedBegin == nullptr ? 0 : (std::size_t)(f->module->module->sharedEnd - g.sharedBegin);
    g.dynamicBytes = launchOf.sharedBytes;
    g.params = params;
    g.threads = block.x * block.y * block.z;
    g.threadOrder = config().fixedOrder >= 0 ? config().fixedOrder : (int)(n % 3);
    g.blockOrder = config().fixedOrder >= 0 ? config().fixedOrder : (int)((n / 3) % 3);
    g.cooperative = launchOf.cooperative;
    currentGridDim = grid;
    currentBlockDim = block;
    auto index = [&](unsigned long long b) {
        return uint3{(unsigned)(b % grid.x), (unsigned)((b / grid.x) % grid.y), (unsigned)(b / ((unsigned long long)grid.x * grid.y))};
    };
    std::string error;
    bool ok = true;
    if (g.cooperative) {   // every block at once (the grid fits the device: checked at the launch)
        for (unsigned long long b = 0; b < blocks; b++) g.blocks.push_back(index(b));
        ok = runGroup(g, &error);
    } else {
        // One block at a time, in one of three orders; a grid too large to permute runs forward.
        std::vector<unsigned> blockTurn = blocks <= (1u << 24) ? order((unsigned)blocks, g.blockOrder) : std::vector<unsigned>();
        g.blocks.resize(1);
        for (unsigned long long i = 0; i < blocks && ok; i++) {
            g.blocks[0] = index(blockTurn.empty() ? i : blockTurn[i]);
            ok = runGroup(g, &error);
        }
    }
    if (!ok) {
        CUresult r = report(CUDA_ERROR_LAUNCH_FAILED, k->name, error);
        current->sticky = r;
        return r;
    }
    for (Allocation* al : touched) {
        long damaged = damagedRedZone(*al);
        if (damaged != -1) {
            return fault(k->name, "wrote outside " + describe(*al) + " at offset " + std::to_string(damaged));
        }
    }
    return CUDA_SUCCESS;
}

// ================================================================ running work: eager, queued, or as graph nodes

// A launch's parameter block, pointing at the copied values.
std::vector<void*> parameterBlock(KernelLaunch& k) {
    std::vector<void*> p(k.function->kernel->arity);
    k.function->kernel->unpack(k.values.data(), p.data());
    return p;
}

// The checks a graph launch makes of every node before anything runs: the memory each node will
// touch must still be live (a graph replayed after a buffer it captured was freed faults here).
CUresult checkWork(Work& w) {
    if (w.isKernel) {
        std::vector<void*> p = parameterBlock(w.kernel);
        std::vector<Allocation*> touched;
        return checkPointers(w.kernel.function, p.data(), touched);
    }
    for (const Range& r : w.touches) {
        std::string why;
        if (!deviceRange(r.start, r.bytes, &why)) return fault(w.call, std::string(r.what) + ": " + why);
    }
    return CUDA_SUCCESS;
}

CUresult runWork(Work& w) {
    if (w.isKernel) {
        std::vector<void*> p = parameterBlock(w.kernel);
        return launch(w.kernel, p.data());
    }
    CUresult r = checkWork(w);
    if (r != CUDA_SUCCESS || w.run == nullptr) return r;
    return config().skipWork && !w.isGraph ? CUDA_SUCCESS : w.run();   // copies, memsets, GEMMs: checked, not run
}

// A graph's nodes in a topological order: in creation order, or with RNN4J_STANDIN_STREAMS=
// adversarial the latest-created ready node first, so a dependency missing from the graph (a
// missing event wait during capture) runs the consumer before its producer.
CUresult runNodes(std::vector<Node>& nodes) {
    stats.add("graph nodes", (long long)nodes.size());
    if (!config().adversarial) {
        for (Node& n : nodes) {
            CUresult r = runWork(n.work);
            if (r != CUDA_SUCCESS) return r;
        }
        return CUDA_SUCCESS;
    }
    std::vector<std::size_t> waiting(nodes.size());
    std::vector<std::vector<std::size_t>> dependents(nodes.size());
    std::priority_queue<std::size_t> ready;
    for (std::size_t i = 0; i < nodes.size(); i++) {
        waiting[i] = nodes[i].deps.size();
        for (std::size_t d : nodes[i].deps) dependents[d].push_back(i);
        if (waiting[i] == 0) ready.push(i);
    }
    while (!ready.empty()) {
        std::size_t i = ready.top();
        ready.pop();
        CUresult r = runWork(nodes[i].work);
        if (r != CUDA_SUCCESS) return r;
        for (std::size_t j : dependents[i]) {
            if (--waiting[j] == 0) ready.push(j);
        }
    }
    return CUDA_SUCCESS;
}

// ---------------------------------------------------------------- deferred streams

void runOp(Op& op) {
    runWork(op.work);   // a failure has poisoned the context already
    if (op.completes) {
        op.completes->done = true;
        op.completes->ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
    }
}

// Runs s's queue in order until `until` is done (null: until empty); a wait first runs the
// recording stream as far as its record.
void drain(Stream* s, const std::shared_ptr<Record>& until = nullptr) {
    while (!s->queue.empty() && !(until && until->done)) {
        Op op = std::move(s->queue.front());
        s->queue.pop_front();
        if (op.waitFor && !op.waitFor->done && isLiveStream(op.waitStream)) drain(op.waitStream, op.waitFor);
        runOp(op);
    }
}

// Runs all queued work of every stream in the worst legal order: each stream in order and each
// wait after its record, but always the latest-issued runnable work first, so that work another
// stream issued later overtakes whatever it was not told to wait for.
void drainWorstOrder() {
    while (true) {
        Stream* best = nullptr;
        Stream* oldest = nullptr;
        for (Stream* s : current->streams) {
            if (s->queue.empty()) continue;
            const Op& head = s->queue.front();
            if (oldest == nullptr || head.seq < oldest->queue.front().seq) oldest = s;
            if (head.waitFor && !head.waitFor->done && isLiveStream(head.waitStream)) continue;
            if (best == nullptr || head.seq > best->queue.front().seq) best = s;
        }
        if (best == nullptr) best = oldest;   // only waits on records that cannot run (never: a record precedes its wait)
        if (best == nullptr) return;
        Op op = std::move(best->queue.front());
        best->queue.pop_front();
        runOp(op);
    }
}

void hostSync(Stream* s, bool blockingOnly) {
    if (!config().deferred || current == nullptr) return;
    if (config().adversarial) {
        drainWorstOrder();
    } else if (s != nullptr) {
        drain(s);
    } else {
        for (Stream* t : current->streams) {
            if (!blockingOnly || (t->flags & CU_STREAM_NON_BLOCKING) == 0) drain(t);
        }
    }
}

// ---------------------------------------------------------------- stream capture

CUresult invalidate(Capture* c, CUresult status, const char* call, const std::string& why) {
    c->invalidated = true;
    return report(status, call, why + "; capture sequence " + std::to_string(c->id) + " is invalidated");
}

// A potentially unsafe call (allocation, free, a synchronous copy, module load) during capture,
// prohibited by the calling thread's capture interaction mode (cuThreadExchangeStreamCaptureMode,
// default global) as the driver rules: global: any capture of this thread not begun relaxed, or a
// global one of any thread; thread-local: a capture of this thread not begun relaxed; relaxed:
// nothing. The conflicting captures are invalidated.
CUresult unsafeDuringCapture(const char* call) {
    CUresult r = CUDA_SUCCESS;
    if (threadCaptureMode == CU_STREAM_CAPTURE_MODE_RELAXED) return r;
    const std::thread::id me = std::this_thread::get_id();
    for (Capture* c : captures) {
        const bool mine = c->thread == me && c->mode != CU_STREAM_CAPTURE_MODE_RELAXED;
        const bool global = c->thread != me && c->mode == CU_STREAM_CAPTURE_MODE_GLOBAL
                            && threadCaptureMode == CU_STREAM_CAPTURE_MODE_GLOBAL;
        if (mine || global) {
            r = invalidate(c, CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, call,
                           std::string("not permitted while a stream is capturing (") + (c->mode == CU_STREAM_CAPTURE_MODE_GLOBAL ? "global" : "thread-local")
                               + " mode)");
        }
    }
    return r;
}

// The legacy stream synchronizes with every blocking stream: using it while one captures would
// make the capture depend on it (CUDA_ERROR_STREAM_CAPTURE_IMPLICIT; those captures are invalidated).
CUresult legacyDuringCapture(const char* call, bool invalidating = true) {
    CUresult r = CUDA_SUCCESS;
    for (Capture* c : captures) {
        for (Stream* s : c->streams) {
            if ((s->flags & CU_STREAM_NON_BLOCKING) == 0) {
                r = invalidating ? invalidate(c, CUDA_ERROR_STREAM_CAPTURE_IMPLICIT, call, "the legacy stream used while a blocking stream is capturing")
                                 : CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
                break;
            }
        }
    }
    return r;
}

// Adds work to the graph of the capture s takes part in, after s's current dependencies.
CUresult captureWork(Stream* s, Work&& w) {
    Capture* c = s->capture;
    if (c->invalidated) return report(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, w.call, "the stream's capture sequence was invalidated by an earlier error");
    auto n = std::make_unique<Node>();
    n->work = std::move(w);
    n->deps = s->captureDeps;
    nodeOwner[n.get()] = c->graph;
    s->captureDeps = {c->graph->nodes.size()};
    c->graph->nodes.push_back(std::move(n));
    return CUDA_SUCCESS;
}

// Where work issued on a stream goes: a capture's graph, the stream's queue, or run now.
CUresult submit(CUstream stream, Work&& w) {
    Stream* s = reinterpret_cast<Stream*>(stream);
    if (s != nullptr && !isLiveStream(s)) {
        return report(CUDA_ERROR_INVALID_HANDLE, w.call, "hStream " + hex(s) + " is not a live stream of the current context");
    }
    if (s == nullptr) {
        CUresult r = legacyDuringCapture(w.call);
        if (r != CUDA_SUCCESS) return r;
    } else if (s->capture != nullptr) {
        return captureWork(s, std::move(w));
    }
    if (!config().deferred) return runWork(w);
    if (s == nullptr) {   // the legacy stream waits for the blocking streams, not for non-blocking ones
        hostSync(nullptr, true);
        return runWork(w);
    }
    Op op;
    op.work = std::move(w);
    op.seq = nextSeq++;
    s->queue.push_back(std::move(op));
    return CUDA_SUCCESS;
}

// Ends the capture: every stream leaves it, its events are no longer captured.
void endCapture(Capture* c) {
    for (Stream* s : c->streams) {
        s->capture = nullptr;
        s->captureDeps.clear();
    }
    for (Event* e : events) {
        if (e->capture == c) {
            e->capture = nullptr;
            e->captureDeps.clear();
        }
    }
    captures.erase(c);
}

void destroyGraph(Graph* g) {
    for (auto& n : g->nodes) nodeOwner.erase(n.get());
    graphs.erase(g);
    delete g;
}

// Whether every node in `nodes` is one of `heads` or an ancestor of one (a fork joined back).
bool joined(const Graph& g, const std::vector<std::size_t>& heads, const std::vector<std::size_t>& nodes) {
    std::vector<bool> reach(g.nodes.size(), false);
    std::vector<std::size_t> todo = heads;
    while (!todo.empty()) {
        std::size_t i = todo.back();
        todo.pop_back();
        if (reach[i]) continue;
        reach[i] = true;
        for (std::size_t d : g.nodes[i]->deps) todo.push_back(d);
    }
    for (std::size_t i : nodes) {
        if (!reach[i]) return false;
    }
    return true;
}

// ---------------------------------------------------------------- launches

std::string shape(dim3 g, dim3 b) {
    return "(" + std::to_string(g.x) + "," + std::to_string(g.y) + "," + std::to_string(g.z) + ") x (" + std::to_string(b.x) + ","
           + std::to_string(b.y) + "," + std::to_string(b.z) + ")";
}

// The launch rules of cuLaunchKernel (and of kernel node parameters); the parameter values are
// copied now, by the size of each parameter's type, as the driver does.
CUresult prepareLaunch(const char* call, Function* f, dim3 grid, dim3 block, unsigned sharedBytes, void** params, void** extra,
                       KernelLaunch* out) {
    if (f == nullptr || !f->module->loaded) return report(CUDA_ERROR_INVALID_HANDLE, call, "f is not a function of a loaded module");
    const char* k = f->kernel->name;
    if (grid.x == 0 || grid.y == 0 || grid.z == 0 || block.x == 0 || block.y == 0 || block.z == 0) {
        return report(CUDA_ERROR_INVALID_VALUE, k, "empty grid or block " + shape(grid, block));
    }
    if (grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535) {
        return report(CUDA_ERROR_INVALID_VALUE, k, "grid beyond (2^31-1, 65535, 65535)");
    }
    if (block.x > 1024 || block.y > 1024 || block.z > 64 || (unsigned long long)block.x * block.y * block.z > 1024) {
        return report(CUDA_ERROR_INVALID_VALUE, k, "block (" + std::to_string(block.x) + "," + std::to_string(block.y) + "," + std::to_string(block.z)
                      + ") beyond 1024 threads or (1024, 1024, 64)");
    }
    if (sharedBytes > f->maxDynamicShared) {
        return report(CUDA_ERROR_INVALID_VALUE, k,
                      std::to_string(sharedBytes) + " bytes of dynamic shared memory, beyond the function's limit of "
                          + std::to_string(f->maxDynamicShared) + " (48 KiB unless raised with cuFuncSetAttribute("
                          "CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES), at most 227 KiB)");
    }
    if (extra != nullptr) return report(CUDA_ERROR_NOT_SUPPORTED, k, "the extra argument is not simulated");
    if (params == nullptr && f->kernel->arity > 0) return report(CUDA_ERROR_INVALID_VALUE, k, "kernelParams is null");
    out->function = f;
    out->grid = grid;
    out->block = block;
    out->sharedBytes = sharedBytes;
    f->kernel->capture(params, out->values);
    return CUDA_SUCCESS;
}

// Blocks of f that fit on one multiprocessor at once, by threads, blocks and shared memory. The
// kernels run as host code, so their registers and static shared memory are not known here: a
// GPU may fit fewer (the engine must handle CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE from it anyway).
int blocksPerMultiprocessor(const Function* f, unsigned threads, std::size_t dynamicBytes) {
    if (threads == 0 || threads > 1024 || dynamicBytes > f->maxDynamicShared) return 0;
    const int warps = (int)((threads + 31) / 32);
    int n = std::min(kBlocksPerMultiprocessor, kThreadsPerMultiprocessor / 32 / warps);
    return std::min(n, (int)(kSharedPerMultiprocessor / (dynamicBytes + kSharedReservedPerBlock)));
}

// A cooperative grid must fit the device at once.
CUresult checkCoResident(const char* call, const KernelLaunch& k) {
    const unsigned long long blocks = (unsigned long long)k.grid.x * k.grid.y * k.grid.z;
    const int perSm = blocksPerMultiprocessor(k.function, k.block.x * k.block.y * k.block.z, k.sharedBytes);
    if (blocks <= (unsigned long long)perSm * kMultiprocessors) return CUDA_SUCCESS;
    return report(CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE, call,
                  std::string(k.function->kernel->name) + ": " + std::to_string(blocks) + " blocks, but only " + std::to_string(perSm)
                      + " per multiprocessor x " + std::to_string(kMultiprocessors) + " fit at once");
}

Work kernelWork(KernelLaunch&& k) {
    Work w;
    w.call = k.function->kernel->name;
    w.isKernel = true;
    w.kernel = std::move(k);
    return w;
}

Work deviceWork(const char* call, std::vector<Range> touches, std::function<CUresult()> run) {
    Work w;
    w.call = call;
    w.touches = std::move(touches);
    w.run = std::move(run);
    return w;
}

// ---------------------------------------------------------------- copies and memsets

// The copies and memsets: each checks its arguments now and its ranges again when it runs. The
// forms without Async run on the legacy stream, return when done and, being potentially unsafe,
// are refused during a capture that the thread's capture mode protects.
CUresult copy(const char* call, bool synchronous, CUstream stream, std::vector<Range> touches, std::function<CUresult()> run) {
    if (synchronous) {
        CUresult r = unsafeDuringCapture(call);
        if (r != CUDA_SUCCESS) return r;
    }
    return submit(stream, deviceWork(call, std::move(touches), std::move(run)));
}

CUresult copyHtoD(CUdeviceptr dst, const void* src, std::size_t bytes, CUstream stream, bool synchronous) {
    const char* call = synchronous ? "cuMemcpyHtoD" : "cuMemcpyHtoDAsync";
    void* d = reinterpret_cast<void*>(dst);
    CUresult r = checkDevice(d, bytes, call, "dstDevice");
    if (r == CUDA_SUCCESS) r = checkHost(src, bytes, call, "srcHost");
    if (r != CUDA_SUCCESS) return r;
    return copy(call, synchronous, stream, {{d, bytes, "dstDevice"}}, [=] {
        std::memcpy(d, src, bytes);
        return CUDA_SUCCESS;
    });
}

CUresult copyDtoH(void* dst, CUdeviceptr src, std::size_t bytes, CUstream stream, bool synchronous) {
    const char* call = synchronous ? "cuMemcpyDtoH" : "cuMemcpyDtoHAsync";
    const void* s = reinterpret_cast<const void*>(src);
    CUresult r = checkDevice(s, bytes, call, "srcDevice");
    if (r == CUDA_SUCCESS) r = checkHost(dst, bytes, call, "dstHost");
    if (r != CUDA_SUCCESS) return r;
    // With RNN4J_STANDIN_SKIP_WORK the host buffer reads zeros (no copy runs): host code that checks what it
    // read back (a norm, a non-finite flag) then sees finite values, not whatever the buffer last held.
    if (config().skipWork) std::memset(dst, 0, bytes);
    return copy(call, synchronous, stream, {{s, bytes, "srcDevice"}}, [=] {
        std::memcpy(dst, s, bytes);
        return CUDA_SUCCESS;
    });
}

CUresult copyDtoD(CUdeviceptr dst, CUdeviceptr src, std::size_t bytes, CUstream stream, bool synchronous) {
    const char* call = synchronous ? "cuMemcpyDtoD" : "cuMemcpyDtoDAsync";
    void* d = reinterpret_cast<void*>(dst);
    const void* s = reinterpret_cast<const void*>(src);
    CUresult r = checkDevice(d, bytes, call, "dstDevice");
    if (r == CUDA_SUCCESS) r = checkDevice(s, bytes, call, "srcDevice");
    if (r != CUDA_SUCCESS) return r;
    return copy(call, synchronous, stream, {{d, bytes, "dstDevice"}, {s, bytes, "srcDevice"}}, [=] {
        std::memmove(d, s, bytes);
        return CUDA_SUCCESS;
    });
}

CUresult memsetD32(CUdeviceptr dst, unsigned int value, std::size_t n, CUstream stream, bool synchronous) {
    const char* call = synchronous ? "cuMemsetD32" : "cuMemsetD32Async";
    void* d = reinterpret_cast<void*>(dst);
    if (dst % 4 != 0) return report(CUDA_ERROR_INVALID_VALUE, call, "dstDevice " + hex(d) + " is not 4-byte aligned");
    if (n > SIZE_MAX / 4) return report(CUDA_ERROR_INVALID_VALUE, call, "N overflows");
    CUresult r = checkDevice(d, n * 4, call, "dstDevice");
    if (r != CUDA_SUCCESS) return r;
    return copy(call, synchronous, stream, {{d, n * 4, "dstDevice"}}, [=] {
        std::uint32_t* p = static_cast<std::uint32_t*>(d);
        std::fill(p, p + n, value);
        return CUDA_SUCCESS;
    });
}
}  // namespace

// ================================================================ the shared helpers (standin.h)

void registerModule(const Module* module) {
    std::lock_guard<std::recursive_mutex> guard(lock());
    modules().push_back(module);
}

bool acceptImage(const char* module, const void* image, std::size_t bytes) {
    std::lock_guard<std::recursive_mutex> guard(lock());
    extraImages.push_back({module, fnv1a(image, bytes), bytes});
    return true;
}

CUresult report(CUresult status, const std::string& call, const std::string& message) {
    const char* name = errorName(status);
    std::fprintf(stderr, "[rnn4j stand-in] %s: %s -> %s\n", call.c_str(), message.c_str(),
                 name == nullptr ? std::to_string((int)status).c_str() : name);
    std::fflush(stderr);
    return status;
}

CUresult fault(const std::string& call, const std::string& message) {
    std::lock_guard<std::recursive_mutex> guard(lock());
    CUresult r = report(CUDA_ERROR_ILLEGAL_ADDRESS, call, message);
    if (current != nullptr) {
        current->sticky = r;
        current->stickyMessage = call + ": " + message;
    }
    return r;
}

bool deviceRange(const void* p, std::size_t bytes, std::string* why) {
    std::lock_guard<std::recursive_mutex> guard(lock());
    Allocation* a = find(p);
    if (a == nullptr) {
        *why = hex(p) + " is not in any device allocation";
        return false;
    }
    if (!a->live) {
        *why = hex(p) + " is in freed " + describe(*a);
        return false;
    }
    if (a->kind != Kind::Device) {
        *why = hex(p) + " is in " + describe(*a) + ", not device memory";
        return false;
    }
    std::uintptr_t s = reinterpret_cast<std::uintptr_t>(p);
    if (bytes > a->start + a->bytes - s) {
        *why = "[" + hex(p) + ", +" + std::to_string(bytes) + " bytes) runs past the end of " + describe(*a) + " by "
               + std::to_string(bytes - (a->start + a->bytes - s)) + " bytes";
        return false;
    }
    return true;
}

bool isDeviceAddress(const void* p) {
    std::lock_guard<std::recursive_mutex> guard(lock());
    Allocation* a = find(p);
    return a != nullptr && a->kind == Kind::Device;
}

CUcontext currentContext() {
    return initialized && current != nullptr && current->active ? reinterpret_cast<CUcontext>(current) : nullptr;
}

bool validStream(CUstream stream) {
    std::lock_guard<std::recursive_mutex> guard(lock());
    return stream == nullptr || isLiveStream(reinterpret_cast<Stream*>(stream));
}

CUresult enqueue(CUstream stream, const char* call, std::vector<Range> touches, std::function<CUresult()> work) {
    std::lock_guard<std::recursive_mutex> guard(lock());
    return submit(stream, deviceWork(call, std::move(touches), std::move(work)));
}

bool isCapturing(CUstream stream) {
    std::lock_guard<std::recursive_mutex> guard(lock());
    Stream* s = reinterpret_cast<Stream*>(stream);
    return isLiveStream(s) && s->capture != nullptr;
}

// Calls one entry point makes to another (cuMemcpyHtoD_v2 to cuMemcpyHtoDAsync_v2) are inside
// the outer one: counted and timed once.
thread_local int callDepth = 0;
thread_local std::chrono::steady_clock::time_point callStart;

void enterCall(const char* api) {
    if (callDepth++ == 0) {
        std::lock_guard<std::recursive_mutex> guard(lock());
        stats.add(api);
        callStart = std::chrono::steady_clock::now();
    }
}

void leaveCall() {
    if (--callDepth == 0) {
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - callStart).count();
        std::lock_guard<std::recursive_mutex> guard(lock());
        stats.add("stand-in ns", (long long)ns);
    }
}

void count(const char* name, long long n) {
    std::lock_guard<std::recursive_mutex> guard(lock());
    stats.add(name, n);
}



}  // namespace standin

using namespace standin;

// ================================================================ the driver API

extern "C" {

STANDIN_API CUresult cuInit(unsigned int flags) {
    CALL();
    std::lock_guard<std::recursive_mutex> guard(lock());
    if (flags != 0) {
        return report(CUDA_ERROR_INVALID_VALUE, "cuInit", "Flags must be 0, got " + std::to_string(flags));
    }
    if (!initialized) {
        initialized = true;
        std::fprintf(stderr, "[rnn4j stand-in] simulated CUDA device on the CPU (no GPU): kernels run as host code%s\n",
                     config().adversarial ? "; streams deferred, each synchronization runs them in the worst legal order"
                     : config().deferred  ? "; streams deferred until synchronized"
                                          : "");
        if (config().skipWork) std::fprintf(stderr, "[rnn4j stand-in] RNN4J_STANDIN_SKIP_WORK: calls are checked and counted, no device work runs\n");
    }
    return CUDA_SUCCESS;
}

STANDIN_API CUresult cuDriverGetVersion(int* version) {
    CALL();
    if (version == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *version = kDriverVersion;
    return CUDA_SUCCESS;
}

STANDIN_API CUresult cuGetErrorName(CUresult error, const char** out) {
    CALL();
    if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *out = errorName(error);
    return *out == nullptr ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
}

STANDIN_API CUresult cuGetErrorString(CUresult error, const char** out) {
    CALL();
    return cuGetErrorName(error, out);
}

STANDIN_API CUresult cuDeviceGetCount(int* count) {
    ENTER(false);
    if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *count = 1;
    return CUDA_SUCCESS;
}

STANDIN_API CUresult cuDeviceGet(CUdevice* device, int ordinal) {
    ENTER(false);
    if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE;
    *device = 0;
    return CUDA_SUCCESS;
}

STANDIN_API CUresult cuDeviceGetName(char* name, int len, CUdevice dev) {
    ENTER(false);
    if (name == nullptr || len <= 0) return CUDA_ERROR_INVALID_VALUE;
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    std::snprintf(name, (std::size_t)len, "%s", kDeviceName);
    return CUDA_SUCCESS;
}

STANDIN_API CUresult cuDeviceTotalMem_v2(std::size_t* bytes, CUdevice dev) {
    ENTER(false);
    if (bytes == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    *bytes = config().memoryCap;
    return CUDA_SUCCESS;
}

STANDIN_API CUresult cuDeviceGetAttribute(int* value, CUdevice_attribute attribute, CUdevice dev) {
    ENTER(false);
    if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    switch (attribute) {
        case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *value = kCcMajor; break;
        case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *value = kCcMinor; break;
        case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *value = 1024; break;
        case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X: *value = 1024; break;
        case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y: *value = 1024; break;
        case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z: *value = 64; break;
        case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X: *value = 2147483647; break;
        case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y: *value = 65535; break;
        case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z: *value = 65535; break;
        case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: *value = 49152; break;
        case CU_DEVICE_ATTRIBUTE_WARP_SIZE: *value = 32; break;
        case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *value = kMultiprocessors; break;
        case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: *value = (int)kMaxSharedOptIn; break;
        case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR: *value = kSharedPerMultiprocessor; break;
        case CU_DEVICE_ATTRIBUTE_RESERVED_SHARED_MEMORY_PER_BLOCK: *value = kSharedReservedPerBlock; break;
        case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR: *value = kThreadsPerMultiprocessor; break;
        case CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR: *value = kBlocksPerMultiprocessor; break;
        case CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH: *value = 1; break;
        case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING: *value = 1; break;
        default:
            return report(CUDA_ERROR_INVALID_VALUE, "cuDeviceGetAttribute",
                          "attribute " + std::to_string((int)attribute) + " is not simulated");
    }
    return CUDA_SUCCESS;
}

STANDIN_API CUresult cuDevicePrimaryCtxRetain(CUcontext* ctx, CUdevice dev) {
    ENTER(false);
    if (ctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    if (primary.refs++ == 0) {
        primary.active = true;
        primary.sticky = CUDA_SUCCESS;
    }
    *ctx = reinterpret_cast<CUcontext>(&primary);
    return CUDA_SUCCESS;
}

STANDIN_API CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
    ENTER(false);
    if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
    if (primary.refs == 0) {
        return report(CUDA_ERROR_INVALID_CONTEXT, "cuDevicePrimaryCtxRelease", "the primary context is not retained");
    }
    if (--primary.refs == 0) {
        // The context goes: its captures, streams, modules and memory with it.
        for (Capture* c : std::set<Capture*>(captures)) {
            endCapture(c);
            destroyGraph(c->graph);
            delete c;
        }
        for (Stream* s : primary.streams) {
            drain(s);
            delete s;
        }
        primary.streams.clear();
        for (LoadedModule* m : loadedModules) {
            m->loaded = false;
        }
        for (auto& e : allocations) {
            if (e.second.live) {
                e.second.live = false;
                if (e.second.kind == Kind::Device) deviceBytes -= e.second.bytes;
                quarantine.push_back(e.first);
                quarantined += e.second.total;
            }
        }
        releaseQuarantine(kQuarantineBytes);
        primary.active = false;
    }
    return CUDA_SUCCESS;
}

STANDIN_API CUresult cuCtxSetCurrent(CUcontext ctx) {
    ENTER(false);
    Context* c = reinterpret_cast<Context*>(ctx);
    if (c != nullptr && (c != &primary || !primary.active)) {
        return CUDA_ERROR_INVALID_CONTEXT;
    }
    current = c;
    return CUDA_SUCCESS;
}

STANDIN_API CUresult cuCtxGetCurrent(CUcontext* ctx) {
    ENTER(false);
    if (ctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *ctx = reinterpret_cast<CUcontext>(current);
    return CUDA_SUCCESS;
}

// ---------------------------------------------------------------- memory

// Allocation and free are potentially unsafe during stream capture (they may synchronize): the
// thread's capture mode decides (see unsafeDuringCapture).
STANDIN_API CUresult cuMemAlloc_v2(CUdeviceptr* dptr, std::size_t bytes) {
    ENTER();
    CUresult r = unsafeDuringCapture("cuMemAlloc");
    if (r != CUDA_SUCCESS) return r;
    return allocateDevice(dptr, bytes, "cuMemAlloc");
}

STANDIN_API CUresult cuMemFree_v2(CUdeviceptr dptr) {
    ENTER();
    CUresult r = unsafeDuringCapture("cuMemFree");
    if (r != CUDA_SUCCESS) return r;
    hostSync(nullptr);   // cuMemFree synchronizes with the device, as the driver does
    if (current->sticky != CUDA_SUCCESS) return current->sticky;
    return freeAllocation(reinterpret_cast<void*>(dptr), Kind::Device, "cuMemFree");
}

STANDIN_API CUresult cuMemGetInfo_v2(std::size_t* free, std::size_t* total) {
    ENTER();
    if (free == nullptr || total == nullptr) return CUDA_ERROR_INVALID_VALUE;
    *total = config().memoryCap;
    *free = config().memoryCap - std::min(deviceBytes, config().memoryCap);
    return CUDA_SUCCESS;
}

STANDIN_API CUresult cuMemAllocHost_v2(void** pp, std::size_t bytes) {
    ENTER();
    CUresult r = unsafeDuringCapture("cuMemAllocHost");
    if (r != CUDA_SUCCESS) return r;
    if (pp == nullptr) return report(CUDA_ERROR_INVALID_VALUE, "cuMemAllocHost", "pp is null");
    if (bytes == 0) return report(CUDA_ERROR_INVALID_VALUE, "cuMemAllocHost", "bytesize is 0");
    std::size_t page = (std::size_t)sysconf(_SC_PAGESIZE);
    std::size_t total = (bytes + page - 1) / page * page;
    void* m = mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return CUDA_ERROR_OUT_OF_MEMORY;
    if (!config().skipWork) fillPattern(m, bytes, kGarbage);
    Allocation a;
    a.start = reinterpret_cast<std::uintptr_t>(m);
    a.bytes = bytes;
    a.kind = Kind::Pinned;
    a.base = static_cast<char*>(m);
    a.total = total;
    a.id = nextAllocationId++;
    allocations.erase(a.start);
    allocations[a.start] = a;
    *pp = m;
    return CUDA_SUCCESS;
}

STANDIN_API CUresult cuMemFreeHost(void* p) {
    ENTER();
    CUresult r = unsafeDuringCapture("cuMemFreeHost");
    if (r != CUDA_SUCCESS) return r;
    hostSync(nullptr);
    return freeAllocation(p, Kind::Pinned, "cuMemFreeHost");
}

STANDIN_API CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, std::size_t bytes, CUstream stream) {
    ENTER();
    return copyHtoD(dst, src, bytes, stream, false);
}

STANDIN_API CUresult cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, std::size_t bytes, CUstream stream) {
    ENTER();
    return copyDtoH(dst, src, bytes, stream, false);
}

STANDIN_API CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, std::size_t bytes, CUstream stream) {
    ENTER();
    return copyDtoD(dst, src, bytes, stream, false);
}

STANDIN_API CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, std::size_t bytes) {
    ENTER();
    return copyHtoD(dst, src, bytes, nullptr, true);
}

STANDIN_API CUresult cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, std::size_t bytes) {
    ENTER();
    return copyDtoH(dst, src, bytes, nullptr, true);
}

STANDIN_API CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, std::size_t bytes) {
    ENTER();
    return copyDtoD(dst, src, bytes, nullptr, true);
}

STANDIN_API CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned int value, std::size_t n, CUstream stream) {
    ENTER();
    return memsetD32(dst, value, n, stream, false);
}

STANDIN_API CUresult cuMemsetD32_v2(CUdeviceptr dst, unsigned int value, std::size_t n) {
    ENTER();
    return memsetD32(dst, value, n, nullptr, true);
}

STANDIN_API CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char value, std::size_t n, CUstream stream) {
    ENTER();
    void* d = reinterpret_cast<void*>(dst);
    CUresult r = checkDevice(d, n, "cuMemsetD8Async", "dstDevice");
    if (r != CUDA_SUCCESS) return r;
    return copy("cuMemsetD8Async", false, stream, {{d, n, "dstDevice"}}, [=] {
        std::memset(d, value, n);
        return CUDA_SUCCESS;
    });
}

// ---------------------------------------------------------------- streams and events

STANDIN_API CUresult cuStreamCreate(CUstream* out, unsigned int flags) {
    ENTER();
    if (out == nullptr) return report(CUDA_ERROR_INVALID_VALUE, "cuStreamCreate", "phStream is null");
    if ((flags & ~(unsigned)CU_STREAM_NON_BLOCKING) != 0) {
        return report(CUDA_ERROR_INVALID_VALUE, "cuStreamCreate", "unknown flags " + std::to_string(flags));
    }
    Stream* s = new Stream();
    s->ctx = current;
    s->flags = flags;
    current->streams.insert(s);
    *out = reinterpret_cast<CUstream>(s);
    return CUDA_SUCCESS;
}

STANDIN_API CUresult cuStreamDestroy_v2(CUstream stream) {
    ENTER();
    Stream* s = reinterpret_cast<Stream*>(stream);
    if (!isLiveStream(s)) return report(CUDA_ERROR_INVALID_HANDLE, "cuStreamDestroy", "not a live stream: " + hex(s));
    if (s->capture != nullptr) {
        Capture* c = s->capture;
        invalidate(c, CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "cuStreamDestroy", "a capturing stream destroyed");
        c->streams.erase(s);
        if (c->origin == s) c->origin = nullptr;
    }
    drain(s);   // queued work still completes, as with the driver
    current->streams.erase(s);
    for (Event* e : events) {
        if (e->stream == s) e->stream = nullptr;
    }
    delete s;
    return current->sticky;
}

STANDIN_API CUresult cuStreamSynchronize(CUstream stream) {
    ENTER();
    Stream* s = reinterpret_cast<Stream*>(stream);
    if (s == nullptr) {
        CUresult r = legacyDuringCapture("cuStreamSynchronize");
        if (r != CUDA_SUCCESS) return r;
    } else if (!isLiveStream(s)) {
        return report(CUDA_ERROR_INVALID_HANDLE, "cuStreamSynchronize", "not a live stream: " + hex(s));
    } else if (s->capture != nullptr) {
        return invalidate(s->capture, CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "cuStreamSynchronize", "a capturing stream synchronized");
    }
    hostSync(s, s == nullptr);
    return current->sticky;
}

STANDIN_API CUresult cuStreamQuery(CUstream stream) {
    ENTER();
    Stream* s = reinterpret_cast<Stream*>(stream);
    if (s == nullptr) return legacyDuringCapture("cuStreamQuery");
    if (!isLiveStream(s)) return report(CUDA_ERROR_INVALID_HANDLE, "cuStreamQuery", "not a live stream: " + hex(s));
    if (s->capture != nullptr) {
        return invalidate(s->capture, CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "cuStreamQuery", "a capturing stream queried");
    }
    return s->queue.empty() ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;   // deferred work waits for a synchronization
}

STANDIN_API CUresult cuCtxSynchronize() {
    ENTER();
    CUresult r = CUDA_SUCCESS;
    for (Capture* c : captures) {
        r = invalidate(c, CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "cuCtxSynchronize", "the context synchronized while a stream is capturing");
    }
    if (r != CUDA_SUCCESS) return r;
    hostSync(nullptr);
    return current->sticky;
}

STANDIN_API CUresult cuEventCreate(CUevent* out, unsigned int flags) {
    ENTER();
    if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
    Event* e = new Event();
    e->flags = flags;
    events.insert(e);
    *out = reinterpret_cast<CUevent>(e);
    return CUDA_SUCCESS;
}

STANDIN_API CUresult cuEventDestroy_v2(CUevent event) {
    ENTER();
    Event* e = reinterpret_cast<Event*>(event);
    if (events.erase(e) == 0) return report(CUDA_ERROR_INVALID_HANDLE, "cuEventDestroy", "not an event: " + hex(e));
    delete e;   // a queued record or wait holds its Record, not the event
    return CUDA_SUCCESS;
}

STANDIN_API CUresult cuEventRecord(CUevent event, CUstream stream) {
    ENTER();
    Event* e = reinterpret_cast<Event*>(event);
    if (events.count(e) == 0) return report(CUDA_ERROR_INVALID_HANDLE, "cuEventRecord", "not an event: " + hex(e));
    Stream* s = reinterpret_cast<Stream*>(stream);
    if (s != nullptr && !isLiveStream(s)) return report(CUDA_ERROR_INVALID_HANDLE, "cuEventRecord", "not a live stream: " + hex(s));
    if (s != nullptr && s->capture != nullptr) {   // inside a capture: the stream's current nodes, for a later wait
        if (s->capture->invalidated) return report(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "cuEventRecord", "the capture was invalidated");
        e->capture = s->capture;
        e->captureDeps = s->captureDeps;
        e->stream = s;
        return CUDA_SUCCESS;
    }
    auto record = std::make_shared<Record>();
    Work w = deviceWork("cuEventRecord", {}, nullptr);
    if (s == nullptr) {
        CUresult r = legacyDuringCapture("cuEventRecord");
        if (r != CUDA_SUCCESS) return r;
    }
    e->capture = nullptr;
    e->record = record;
    e->stream = s;
    if (!config().deferred || s == nullptr) {
        hostSync(nullptr, true);
        Op op;
        op.completes = record;
        runOp(op);
        return CUDA_SUCCESS;
    }
    Op op;
    op.work = std::move(w);
    op.seq = nextSeq++;
    op.completes = record;
    s->queue.push_back(std::move(op));
    return CUDA_SUCCESS;
}

STANDIN_API CUresult cuEventSynchronize(CUevent event) {
    ENTER();
    Event* e = reinterpret_cast<Event*>(event);
    if (events.count(e) == 0) return report(CUDA_ERROR_INVALID_HANDLE, "cuEventSynchronize", "not an event: " + hex(e));
    if (e->capture != nullptr) return report(CUDA_ERROR_CAPTURED_EVENT, "cuEventSynchronize", "the event was recorded in an active capture");
    if (e->record == nullptr || e->record->done) return current->sticky;
    if (config().adversarial) {
        hostSync(nullptr);
    } else if (isLiveStream(e->stream)) {
        drain(e->stream, e->record);   // as far as the record: later work on that stream stays queued
    }
    return current->sticky;
}

STANDIN_API CUresult cuEventQuery(CUevent event) {
    ENTER();
    Event* e = reinterpret_cast<Event*>(event);
    if (events.count(e) == 0) return CUDA_ERROR_INVALID_HANDLE;
    if (e->capture != nullptr) return report(CUDA_ERROR_CAPTURED_EVENT, "cuEventQuery", "the event was recorded in an active capture");
    return e->record == nullptr || e->record->done ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

// CUDA 13's cuda.h maps cuEventElapsedTime to _v2; JCuda 12 links the old name: both are exported.
#undef cuEventElapsedTime
STANDIN_API CUresult cuEventElapsedTime_v2(float* ms, CUevent start, CUevent end) {
    ENTER();
    Event* a = reinterpret_cast<Event*>(start);
    Event* b = reinterpret_cast<Event*>(end);
    if (ms == nullptr || events.count(a) == 0 || events.count(b) == 0) return CUDA_ERROR_INVALID_HANDLE;
    if ((a->flags | b->flags) & CU_EVENT_DISABLE_TIMING) return CUDA_ERROR_INVALID_HANDLE;
    if (a->record == nullptr || b->record == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    if (!a->record->done || !b->record->done) return CUDA_ERROR_NOT_READY;
    static bool said = false;
    if (!said) {
        said = true;
        std::fprintf(stderr, "[rnn4j stand-in] cuEventElapsedTime: simulated; the time is the host's, not a GPU's\n");
    }
    *ms = (float)(b->record->ms - a->record->ms);
    return CUDA_SUCCESS;
}

STANDIN_API CUresult cuEventElapsedTime(float* ms, CUevent start, CUevent end) {
    CALL();
    return cuEventElapsedTime_v2(ms, start, end);
}

// Outside a capture: the stream's later work runs only after the event's latest record. Inside a
// capture: the stream joins the event's capture (a fork) or adds the event's nodes to its
// dependencies (a join); an event from outside, or from another capture, is an isolation error.
STANDIN_API CUresult cuStreamWaitEvent(CUstream stream, CUevent event, unsigned int flags) {
    ENTER();
    const char* call = "cuStreamWaitEvent";
    Event* e = reinterpret_cast<Event*>(event);
    Stream* s = reinterpret_cast<Stream*>(stream);
    if (events.count(e) == 0) return report(CUDA_ERROR_INVALID_HANDLE, call, "not an event: " + hex(e));
    if (flags != 0) return report(CUDA_ERROR_INVALID_VALUE, call, "flags must be 0");
    if (s != nullptr && !isLiveStream(s)) return report(CUDA_ERROR_INVALID_HANDLE, call, "not a live stream: " + hex(s));
    if (e->capture != nullptr || (s != nullptr && s->capture != nullptr)) {
        Capture* c = e->capture;
        if (s == nullptr) return legacyDuringCapture(call) != CUDA_SUCCESS ? CUDA_ERROR_STREAM_CAPTURE_IMPLICIT : CUDA_ERROR_STREAM_CAPTURE_ISOLATION;
        if (c == nullptr || (s->capture != nullptr && s->capture != c)) {
            Capture* mine = s->capture;
            return invalidate(mine, CUDA_ERROR_STREAM_CAPTURE_ISOLATION, call,
                              c == nullptr ? "a capturing stream waits for an event recorded outside its capture"
                                           : "a capturing stream waits for an event of another capture");
        }
        if (c->invalidated) return report(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, call, "the capture was invalidated");
        if (s->capture == nullptr) {   // a fork: s joins the capture after the event's nodes
            s->capture = c;
            c->streams.insert(s);
            s->captureDeps = e->captureDeps;
        } else {
            for (std::size_t d : e->captureDeps) {
                if (std::find(s->captureDeps.begin(), s->captureDeps.end(), d) == s->captureDeps.end()) s->captureDeps.push_back(d);
            }
        }
        return CUDA_SUCCESS;
    }
    if (e->record == nullptr || e->record->done || !config().deferred) return CUDA_SUCCESS;   // nothing to wait for
    if (s == nullptr) {
        CUresult r = legacyDuringCapture(call);
        if (r != CUDA_SUCCESS) return r;
        hostSync(nullptr, true);
        if (!e->record->done && isLiveStream(e->stream)) drain(e->stream, e->record);
        return CUDA_SUCCESS;
    }
    Op op;
    op.work = deviceWork(call, {}, nullptr);
    op.seq = nextSeq++;
    op.waitStream = e->stream;
    op.waitFor = e->record;
    s->queue.push_back(std::move(op));
    return CUDA_SUCCESS;
}

// ---------------------------------------------------------------- stream capture

STANDIN_API CUresult cuStreamBeginCapture_v2(CUstream stream, CUstreamCaptureMode mode) {
    ENTER();
    const char* call = "cuStreamBeginCapture";
    Stream* s = reinterpret_cast<Stream*>(stream);
    if (s == nullptr) return report(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, call, "the legacy stream cannot be captured");
    if (!isLiveStream(s)) return report(CUDA_ERROR_INVALID_HANDLE, call, "not a live stream: " + hex(s));
    if (mode != CU_STREAM_CAPTURE_MODE_GLOBAL && mode != CU_STREAM_CAPTURE_MODE_THREAD_LOCAL && mode != CU_STREAM_CAPTURE_MODE_RELAXED) {
        return report(CUDA_ERROR_INVALID_VALUE, call, "mode " + std::to_string((int)mode));
    }
    if (s->capture != nullptr) return report(CUDA_ERROR_ILLEGAL_STATE, call, "the stream is already capturing");
    Capture* c = new Capture();
    c->id = nextCaptureId++;
    c->graph = new Graph();
    graphs.insert(c->graph);
    c->mode = mode;
    c->origin = s;
    c->thread = std::this_thread::get_id();
    c->streams.insert(s);
    captures.insert(c);
    s->capture = c;
    s->captureDeps.clear();
    return CUDA_SUCCESS;
}

STANDIN_API CUresult cuStreamEndCapture(CUstream stream, CUgraph* out) {
    ENTER();
    const char* call = "cuStreamEndCapture";
    Stream* s = reinterpret_cast<Stream*>(stream);
    if (out == nullptr) return report(CUDA_ERROR_INVALID_VALUE, call, "phGraph is null");
    if (s == nullptr || !isLiveStream(s)) return report(CUDA_ERROR_INVALID_HANDLE, call, "not a live stream: " + hex(s));
    Capture* c = s->capture;
    if (c == nullptr) return report(CUDA_ERROR_ILLEGAL_STATE, call, "the stream is not capturing");
    if (c->origin != s) {
        return invalidate(c, CUDA_ERROR_STREAM_CAPTURE_UNMATCHED, call, "not the stream the capture began on");
    }
    if (c->mode != CU_STREAM_CAPTURE_MODE_RELAXED && c->thread != std::this_thread::get_id()) {
        return report(CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD, call, "the capture began on another thread");
    }
    CUresult r = CUDA_SUCCESS;
    if (c->invalidated) {
        r = report(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, call, "capture sequence " + std::to_string(c->id) + " was invalidated; no graph");
    } else {
        for (Stream* t : c->streams) {
            if (t != s && !joined(*c->graph, s->captureDeps, t->captureDeps)) {
                r = report(CUDA_ERROR_STREAM_CAPTURE_UNJOINED, call,
                           "a stream forked into the capture (" + hex(t) + ") was not joined back into the origin stream with an event wait");
                break;
            }
        }
    }
    endCapture(c);
    if (r == CUDA_SUCCESS) {
        *out = reinterpret_cast<CUgraph>(c->graph);
    } else {
        destroyGraph(c->graph);
        *out = nullptr;
    }
    delete c;
    return r;
}

// The legacy stream reports CUDA_ERROR_STREAM_CAPTURE_IMPLICIT while a blocking stream captures.
CUresult captureStatus(const char* call, Stream* s, CUstreamCaptureStatus* status) {
    if (status == nullptr) return report(CUDA_ERROR_INVALID_VALUE, call, "captureStatus is null");
    if (s == nullptr) {
        if (legacyDuringCapture(call, false) != CUDA_SUCCESS) return CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
        *status = CU_STREAM_CAPTURE_STATUS_NONE;
        return CUDA_SUCCESS;
    }
    if (!isLiveStream(s)) return report(CUDA_ERROR_INVALID_HANDLE, call, "not a live stream: " + hex(s));
    *status = s->capture == nullptr ? CU_STREAM_CAPTURE_STATUS_NONE
              : s->capture->invalidated ? CU_STREAM_CAPTURE_STATUS_INVALIDATED
                                        : CU_STREAM_CAPTURE_STATUS_ACTIVE;
    return CUDA_SUCCESS;
}

STANDIN_API CUresult cuStreamIsCapturing(CUstream stream, CUstreamCaptureStatus* status) {
    ENTER();
    return captureStatus("cuStreamIsCapturing", reinterpret_cast<Stream*>(stream), status);
}

// cuda.h maps cuStreamGetCaptureInfo to _v3; the three versions are exported under their names.
#undef cuStreamGetCaptureInfo
STANDIN_API CUresult cuStreamGetCaptureInfo_v3(CUstream stream, CUstreamCaptureStatus* status, cuuint64_t* id, CUgraph* graph,
                                               const CUgraphNode** deps, const CUgraphEdgeData** edges, std::size_t* numDeps) {
    ENTER();
    Stream* s = reinterpret_cast<Stream*>(stream);
    CUresult r = captureStatus("cuStreamGetCaptureInfo", s, status);
    if (r != CUDA_SUCCESS || *status == CU_STREAM_CAPTURE_STATUS_NONE) return r;
    if (id != nullptr) *id = s->capture->id;
    if (graph != nullptr) *graph = reinterpret_cast<CUgraph>(s->capture->graph);
    s->depHandles.clear();
    for (std::size_t d : s->captureDeps) s->depHandles.push_back(reinterpret_cast<CUgraphNode>(s->capture->graph->nodes[d].get()));
    if (deps != nullptr) *deps = s->depHandles.data();
    if (edges != nullptr) *edges = nullptr;   // all edges are default (full) dependencies
    if (numDeps != nullptr) *numDeps = s->depHandles.size();
    return CUDA_SUCCESS;
}

STANDIN_API CUresult cuStreamGetCaptureInfo_v2(CUstream stream, CUstreamCaptureStatus* status, cuuint64_t* id, CUgraph* graph,
                                               const CUgraphNode** deps, std::size_t* numDeps) {
    CALL();
    return cuStreamGetCaptureInfo_v3(stream, status, id, graph, deps, nullptr, numDeps);
}

STANDIN_API CUresult cuStreamGetCaptureInfo(CUstream stream, CUstreamCaptureStatus* status, cuuint64_t* id) {
    CALL();
    return cuStreamGetCaptureInfo_v3(stream, status, id, nullptr, nullptr, nullptr, nullptr);
}

STANDIN_API CUresult cuThreadExchangeStreamCaptureMode(CUstreamCaptureMode* mode) {
    ENTER();
    if (mode == nullptr) return report(CUDA_ERROR_INVALID_VALUE, "cuThreadExchangeStreamCaptureMode", "mode is null");
    std::swap(*mode, threadCaptureMode);
    return CUDA_SUCCESS;
}

// ---------------------------------------------------------------- graphs

namespace {
Graph* liveGraph(CUgraph g) {
    Graph* p = reinterpret_cast<Graph*>(g);
    return graphs.count(p) > 0 ? p : nullptr;
}

GraphExec* liveExec(CUgraphExec e) {
    GraphExec* p = reinterpret_cast<GraphExec*>(e);
    return execs.count(p) > 0 ? p : nullptr;
}

Node* liveNode(CUgraphNode n) {
    Node* p = reinterpret_cast<Node*>(n);
    return nodeOwner.count(p) > 0 ? p : nullptr;
}

bool capturing(const Graph* g) {
    for (Capture* c : captures) {
        if (c->graph == g) return true;
    }
    return false;
}

// A kernel node's parameters from CUDA_KERNEL_NODE_PARAMS, with cuLaunchKernel's rules; a node
// captured from a cooperative launch stays cooperative (an attribute of the node) and must still fit.
CUresult kernelFromParams(const char* call, const CUDA_KERNEL_NODE_PARAMS* p, bool cooperative, KernelLaunch* out) {
    if (p == nullptr) return report(CUDA_ERROR_INVALID_VALUE, call, "nodeParams is null");
    if (p->kern != nullptr) return report(CUDA_ERROR_NOT_SUPPORTED, call, "CUkernel handles are not simulated (give func)");
    CUresult r = prepareLaunch(call, reinterpret_cast<Function*>(p->func), {p->gridDimX, p->gridDimY, p->gridDimZ},
                               {p->blockDimX, p->blockDimY, p->blockDimZ}, p->sharedMemBytes, p->kernelParams, p->extra, out);
    if (r == CUDA_SUCCESS && cooperative) r = checkCoResident(call, *out);
    out->cooperative = cooperative;
    return r;
}

CUresult notKernel(const char* call, const Node& n) {
    return report(CUDA_ERROR_INVALID_VALUE, call,
                  std::string("node ") + n.work.call + " is not a kernel node"
                      + (std::strncmp(n.work.call, "cublas", 6) == 0 ? " of rnn4j (a cuBLAS node: its kernels are cuBLAS's own)" : ""));
}

// The exec's nodes, copied first if a queued launch still holds them (a launch sees the
// parameters of its time, as with the driver).
std::vector<Node>& writable(GraphExec* x) {
    if (x->nodes.use_count() > 1) x->nodes = std::make_shared<std::vector<Node>>(*x->nodes);
    return *x->nodes;
}

std::vector<Node> copyNodes(const Graph& g) {
    std::vector<Node> nodes;
    nodes.reserve(g.nodes.size());
    for (const auto& n : g.nodes) nodes.push_back(*n);
    return nodes;
}
}  // namespace

STANDIN_API CUresult cuGraphInstantiateWithFlags(CUgraphExec* out, CUgraph graph, unsigned long long flags) {
    ENTER();
    const char* call = "cuGraphInstantiate";
    Graph* g = liveGraph(graph);
    if (out == nullptr) return report(CUDA_ERROR_INVALID_VALUE, call, "phGraphExec is null");
    if (g == nullptr) return report(CUDA_ERROR_INVALID_VALUE, call, "not a live graph: " + hex(graph));
    if (capturing(g)) return report(CUDA_ERROR_INVALID_VALUE, call, "the graph is still being captured");
    const unsigned long long known = CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH | CUDA_GRAPH_INSTANTIATE_FLAG_UPLOAD
                                     | CUDA_GRAPH_INSTANTIATE_FLAG_USE_NODE_PRIORITY;
    if (flags & CUDA_GRAPH_INSTANTIATE_FLAG_DEVICE_LAUNCH) return report(CUDA_ERROR_NOT_SUPPORTED, call, "device launch is not simulated");
    if (flags & ~known) return report(CUDA_ERROR_INVALID_VALUE, call, "unknown flags " + std::to_string(flags));
    GraphExec* x = new GraphExec();
    x->nodes = std::make_shared<std::vector<Node>>(copyNodes(*g));
    for (std::size_t i = 0; i < g->nodes.size(); i++) x->index[g->nodes[i].get()] = i;
    execs.insert(x);
    *out = reinterpret_cast<CUgraphExec>(x);
    return CUDA_SUCCESS;
}

// Every node's memory is checked when the graph is launched, before anything runs, and again
// when each node runs: a graph that outlived a buffer it captured faults, as a GPU would (or
// worse, would not: the memory may belong to someone else by then).
STANDIN_API CUresult cuGraphLaunch(CUgraphExec exec, CUstream stream) {
    ENTER();
    GraphExec* x = liveExec(exec);
    if (x == nullptr) return report(CUDA_ERROR_INVALID_VALUE, "cuGraphLaunch", "not a live graph exec: " + hex(exec));
    for (Node& n : *x->nodes) {
        CUresult r = checkWork(n.work);
        if (r != CUDA_SUCCESS) return r;
    }
    std::shared_ptr<std::vector<Node>> nodes = x->nodes;
    Work w = deviceWork("cuGraphLaunch", {}, [nodes] { return runNodes(*nodes); });
    w.isGraph = true;
    return submit(stream, std::move(w));
}

STANDIN_API CUresult cuGraphExecDestroy(CUgraphExec exec) {
    ENTER();
    GraphExec* x = liveExec(exec);
    if (x == nullptr) return report(CUDA_ERROR_INVALID_VALUE, "cuGraphExecDestroy", "not a live graph exec: " + hex(exec));
    execs.erase(x);
    delete x;   // a queued launch holds its nodes
    return CUDA_SUCCESS;
}

STANDIN_API CUresult cuGraphDestroy(CUgraph graph) {
    ENTER();
    Graph* g = liveGraph(graph);
    if (g == nullptr) return report(CUDA_ERROR_INVALID_VALUE, "cuGraphDestroy", "not a live graph: " + hex(graph));
    if (capturing(g)) return report(CUDA_ERROR_INVALID_VALUE, "cuGraphDestroy", "the graph is still being captured");
    destroyGraph(g);   // its execs live on
    return CUDA_SUCCESS;
}

STANDIN_API CUresult cuGraphGetNodes(CUgraph graph, CUgraphNode* nodes, std::size_t* numNodes) {
    ENTER();
    Graph* g = liveGraph(graph);
    if (g == nullptr) return report(CUDA_ERROR_INVALID_VALUE, "cuGraphGetNodes", "not a live graph: " + hex(graph));
    if (numNodes == nullptr) return report(CUDA_ERROR_INVALID_VALUE, "cuGraphGetNodes", "numNodes is null");
    if (nodes != nullptr) {
        for (std::size_t i = 0; i < *numNodes; i++) {
            nodes[i] = i < g->nodes.size() ? reinterpret_cast<CUgraphNode>(g->nodes[i].get()) : nullptr;
        }
    }
    *numNodes = g->nodes.size();
    return CUDA_SUCCESS;
}

// Kernel nodes are kernels; an SGEMM is a kernel node as in cuBLAS; copies and memsets are theirs.
STANDIN_API CUresult cuGraphNodeGetType(CUgraphNode node, CUgraphNodeType* type) {
    ENTER();
    Node* n = liveNode(node);
    if (n == nullptr || type == nullptr) return report(CUDA_ERROR_INVALID_VALUE, "cuGraphNodeGetType", "not a live node, or type is null");
    const std::string c = n->work.call;
    *type = n->work.isKernel || c.rfind("cublas", 0) == 0 ? CU_GRAPH_NODE_TYPE_KERNEL
            : c.rfind("cuMemcpy", 0) == 0                ? CU_GRAPH_NODE_TYPE_MEMCPY
            : c.rfind("cuMemset", 0) == 0                ? CU_GRAPH_NODE_TYPE_MEMSET
            : c == "cuGraphLaunch"                       ? CU_GRAPH_NODE_TYPE_GRAPH
                                                         : CU_GRAPH_NODE_TYPE_EMPTY;
    return CUDA_SUCCESS;
}

// The parameters point into the node's own copy, valid until they are set again or the graph goes.
STANDIN_API CUresult cuGraphKernelNodeGetParams_v2(CUgraphNode node, CUDA_KERNEL_NODE_PARAMS* p) {
    ENTER();
    const char* call = "cuGraphKernelNodeGetParams";
    Node* n = liveNode(node);
    if (n == nullptr) return report(CUDA_ERROR_INVALID_VALUE, call, "not a live node: " + hex(node));
    if (p == nullptr) return report(CUDA_ERROR_INVALID_VALUE, call, "nodeParams is null");
    if (!n->work.isKernel) return notKernel(call, *n);
    KernelLaunch& k = n->work.kernel;
    n->paramPointers = parameterBlock(k);
    std::memset(p, 0, sizeof *p);
    p->func = reinterpret_cast<CUfunction>(k.function);
    p->gridDimX = k.grid.x;
    p->gridDimY = k.grid.y;
    p->gridDimZ = k.grid.z;
    p->blockDimX = k.block.x;
    p->blockDimY = k.block.y;
    p->blockDimZ = k.block.z;
    p->sharedMemBytes = k.sharedBytes;
    p->kernelParams = n->paramPointers.data();
    p->ctx = reinterpret_cast<CUcontext>(current);
    return CUDA_SUCCESS;
}

STANDIN_API CUresult cuGraphKernelNodeSetParams_v2(CUgraphNode node, const CUDA_KERNEL_NODE_PARAMS* p) {
    ENTER();
    const char* call = "cuGraphKernelNodeSetParams";
    Node* n = liveNode(node);
    if (n == nullptr) return report(CUDA_ERROR_INVALID_VALUE, call, "not a live node: " + hex(node));
    if (!n->work.isKernel) return notKernel(call, *n);
    KernelLaunch k;
    CUresult r = kernelFromParams(call, p, n->work.kernel.cooperative, &k);
    if (r != CUDA_SUCCESS) return r;
    n->work = kernelWork(std::move(k));
    return CUDA_SUCCESS;
}

// Changes one kernel node of an instantiated graph (hNode from the graph it was instantiated
// from, or from one it was updated with); launches already issued keep the old parameters.
STANDIN_API CUresult cuGraphExecKernelNodeSetParams_v2(CUgraphExec exec, CUgraphNode node, const CUDA_KERNEL_NODE_PARAMS* p) {
    ENTER();
    const char* call = "cuGraphExecKernelNodeSetParams";
    GraphExec* x = liveExec(exec);
    if (x == nullptr) return report(CUDA_ERROR_INVALID_VALUE, call, "not a live graph exec: " + hex(exec));
    auto it = x->index.find(reinterpret_cast<const Node*>(node));
    if (it == x->index.end()) return report(CUDA_ERROR_INVALID_VALUE, call, "hNode is not a node of the graph this exec was instantiated from");
    if (!(*x->nodes)[it->second].work.isKernel) return notKernel(call, (*x->nodes)[it->second]);
    KernelLaunch k;
    CUresult r = kernelFromParams(call, p, (*x->nodes)[it->second].work.kernel.cooperative, &k);
    if (r != CUDA_SUCCESS) return r;
    writable(x)[it->second].work = kernelWork(std::move(k));
    return CUDA_SUCCESS;
}

// Takes every node's parameters from a graph of the same topology: the same nodes, in the same
// order, with the same dependencies and kinds (kernel, or the same call).
STANDIN_API CUresult cuGraphExecUpdate_v2(CUgraphExec exec, CUgraph graph, CUgraphExecUpdateResultInfo* info) {
    ENTER();
    const char* call = "cuGraphExecUpdate";
    GraphExec* x = liveExec(exec);
    Graph* g = liveGraph(graph);
    if (x == nullptr || g == nullptr || info == nullptr) return report(CUDA_ERROR_INVALID_VALUE, call, "hGraphExec, hGraph or resultInfo is not valid");
    info->result = CU_GRAPH_EXEC_UPDATE_SUCCESS;
    info->errorNode = nullptr;
    info->errorFromNode = nullptr;
    const std::vector<Node>& old = *x->nodes;
    auto fail = [&](CUgraphExecUpdateResult why, std::size_t i, const std::string& what) {
        info->result = why;
        info->errorNode = i < g->nodes.size() ? reinterpret_cast<CUgraphNode>(g->nodes[i].get()) : nullptr;
        return report(CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE, call, what);
    };
    if (old.size() != g->nodes.size()) {
        return fail(CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED, g->nodes.size(),
                    std::to_string(g->nodes.size()) + " nodes where the exec has " + std::to_string(old.size()));
    }
    for (std::size_t i = 0; i < old.size(); i++) {
        const Node& a = old[i];
        const Node& b = *g->nodes[i];
        if (a.deps != b.deps) return fail(CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED, i, "node " + std::to_string(i) + "'s dependencies changed");
        if (a.work.isKernel != b.work.isKernel || (!a.work.isKernel && std::strcmp(a.work.call, b.work.call) != 0)) {
            return fail(CU_GRAPH_EXEC_UPDATE_ERROR_NODE_TYPE_CHANGED, i,
                        "node " + std::to_string(i) + " was " + a.work.call + ", is " + b.work.call);
        }
        if (a.work.isKernel && a.work.kernel.cooperative != b.work.kernel.cooperative) {
            return fail(CU_GRAPH_EXEC_UPDATE_ERROR_ATTRIBUTES_CHANGED, i, "node " + std::to_string(i) + " changed between cooperative and not");
        }
    }
    x->nodes = std::make_shared<std::vector<Node>>(copyNodes(*g));
    for (std::size_t i = 0; i < g->nodes.size(); i++) x->index[g->nodes[i].get()] = i;
    return CUDA_SUCCESS;
}

// The CUDA 11 form (cuda.h maps cuGraphExecUpdate to _v2).
#undef cuGraphExecUpdate
STANDIN_API CUresult cuGraphExecUpdate(CUgraphExec exec, CUgraph graph, CUgraphNode* errorNode, CUgraphExecUpdateResult* result) {
    CALL();
    CUgraphExecUpdateResultInfo info{};
    CUresult r = cuGraphExecUpdate_v2(exec, graph, &info);
    if (errorNode != nullptr) *errorNode = info.errorNode;
    if (result != nullptr) *result = info.result;
    return r;
}

// ---------------------------------------------------------------- modules and launches

STANDIN_API CUresult cuModuleLoadData(CUmodule* out, const void* image) {
    ENTER();
    if (out == nullptr || image == nullptr) return report(CUDA_ERROR_INVALID_VALUE, "cuModuleLoadData", "module or image is null");
    struct Header {
        std::uint32_t magic;
        std::uint16_t version;
        std::uint16_t headerSize;
        std::uint64_t fatSize;
    } h;
    std::memcpy(&h, image, sizeof h);
    if (h.magic != 0xBA55ED50u) {
        return report(CUDA_ERROR_INVALID_IMAGE, "cuModuleLoadData",
                      "not a fatbin: the stand-in runs only the fatbins of kernels/ it was built with");
    }
    const std::uint64_t bytes = h.headerSize + h.fatSize;
    const std::uint64_t hash = fnv1a(image, bytes);
    const char* name = nullptr;
    std::vector<FatbinId> accepted(fatbinIds, fatbinIds + fatbinIdCount);
    accepted.insert(accepted.end(), extraImages.begin(), extraImages.end());
    for (const FatbinId& id : accepted) {
        if (id.hash == hash && id.bytes == bytes) {
            name = id.module;
        }
    }
    if (name == nullptr) {
        return report(CUDA_ERROR_INVALID_IMAGE, "cuModuleLoadData",
                      "a fatbin of " + std::to_string(bytes) + " bytes that is none of those the stand-in was built "
                      "with (stale build? native/standin/build.sh rebuilds it from the fatbins)");
    }
    for (const Module* m : modules()) {
        if (std::strcmp(m->name, name) == 0) {
            LoadedModule* lm = new LoadedModule();
            lm->module = m;
            loadedModules.insert(lm);
            *out = reinterpret_cast<CUmodule>(lm);
            return CUDA_SUCCESS;
        }
    }
    return report(CUDA_ERROR_INVALID_IMAGE, "cuModuleLoadData", std::string("module ") + name + " is not compiled into the stand-in");
}

STANDIN_API CUresult cuModuleUnload(CUmodule module) {
    ENTER();
    LoadedModule* m = reinterpret_cast<LoadedModule*>(module);
    if (loadedModules.count(m) == 0 || !m->loaded) return report(CUDA_ERROR_INVALID_HANDLE, "cuModuleUnload", "not a loaded module");
    CUresult r = unsafeDuringCapture("cuModuleUnload");
    if (r != CUDA_SUCCESS) return r;
    hostSync(nullptr);
    m->loaded = false;
    return CUDA_SUCCESS;
}

STANDIN_API CUresult cuModuleGetFunction(CUfunction* out, CUmodule module, const char* name) {
    ENTER();
    LoadedModule* m = reinterpret_cast<LoadedModule*>(module);
    if (out == nullptr || name == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (loadedModules.count(m) == 0 || !m->loaded) return report(CUDA_ERROR_INVALID_HANDLE, "cuModuleGetFunction", "not a loaded module");
    for (int i = 0; i < m->module->count; i++) {
        if (std::strcmp(m->module->kernels[i].name, name) == 0) {
            std::unique_ptr<Function>& f = m->functions[name];
            if (f == nullptr) f.reset(new Function{&m->module->kernels[i], m});
            *out = reinterpret_cast<CUfunction>(f.get());
            return CUDA_SUCCESS;
        }
    }
    return CUDA_ERROR_NOT_FOUND;
}

STANDIN_API CUresult cuLaunchKernel(CUfunction function, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                                    unsigned bz, unsigned sharedBytes, CUstream stream, void** params, void** extra) {
    ENTER();
    KernelLaunch k;
    CUresult r = prepareLaunch("cuLaunchKernel", reinterpret_cast<Function*>(function), {gx, gy, gz}, {bx, by, bz}, sharedBytes, params,
                               extra, &k);
    if (r != CUDA_SUCCESS) return r;
    return submit(stream, kernelWork(std::move(k)));
}

// All blocks of the grid run at once (every thread a fiber), so a grid barrier
// (cooperative_groups::this_grid().sync()) works; the grid must fit the device at once.
STANDIN_API CUresult cuLaunchCooperativeKernel(CUfunction function, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                                               unsigned bz, unsigned sharedBytes, CUstream stream, void** params) {
    ENTER();
    KernelLaunch k;
    CUresult r = prepareLaunch("cuLaunchCooperativeKernel", reinterpret_cast<Function*>(function), {gx, gy, gz}, {bx, by, bz},
                               sharedBytes, params, nullptr, &k);
    if (r == CUDA_SUCCESS) r = checkCoResident("cuLaunchCooperativeKernel", k);
    if (r != CUDA_SUCCESS) return r;
    k.cooperative = true;
    return submit(stream, kernelWork(std::move(k)));
}

STANDIN_API CUresult cuFuncSetAttribute(CUfunction function, CUfunction_attribute attribute, int value) {
    ENTER();
    Function* f = reinterpret_cast<Function*>(function);
    if (f == nullptr || !f->module->loaded) return report(CUDA_ERROR_INVALID_HANDLE, "cuFuncSetAttribute", "not a function of a loaded module");
    switch (attribute) {
        case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
            if (value < 0 || (unsigned)value > kMaxSharedOptIn) {
                return report(CUDA_ERROR_INVALID_VALUE, "cuFuncSetAttribute",
                              "MAX_DYNAMIC_SHARED_SIZE_BYTES " + std::to_string(value) + " beyond the device's " + std::to_string(kMaxSharedOptIn));
            }
            f->maxDynamicShared = (unsigned)value;
            return CUDA_SUCCESS;
        case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
            return value >= -1 && value <= 100 ? CUDA_SUCCESS : report(CUDA_ERROR_INVALID_VALUE, "cuFuncSetAttribute", "carveout " + std::to_string(value));
        default:
            return report(CUDA_ERROR_INVALID_VALUE, "cuFuncSetAttribute", "attribute " + std::to_string((int)attribute) + " is not settable here");
    }
}

STANDIN_API CUresult cuFuncGetAttribute(int* value, CUfunction_attribute attribute, CUfunction function) {
    ENTER();
    Function* f = reinterpret_cast<Function*>(function);
    if (value == nullptr) return report(CUDA_ERROR_INVALID_VALUE, "cuFuncGetAttribute", "pi is null");
    if (f == nullptr || !f->module->loaded) return report(CUDA_ERROR_INVALID_HANDLE, "cuFuncGetAttribute", "not a function of a loaded module");
    switch (attribute) {
        case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *value = 1024; return CUDA_SUCCESS;
        case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: *value = (int)f->maxDynamicShared; return CUDA_SUCCESS;
        default:   // registers, static shared and local memory belong to the GPU binary, which does not run here
            return report(CUDA_ERROR_NOT_SUPPORTED, "cuFuncGetAttribute", "attribute " + std::to_string((int)attribute) + " is not simulated");
    }
}

STANDIN_API CUresult cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(int* blocks, CUfunction function, int blockSize,
                                                                          std::size_t dynamicBytes, unsigned int flags) {
    ENTER();
    Function* f = reinterpret_cast<Function*>(function);
    if (blocks == nullptr || blockSize <= 0 || (flags & ~(unsigned)CU_OCCUPANCY_DISABLE_CACHING_OVERRIDE) != 0) {
        return report(CUDA_ERROR_INVALID_VALUE, "cuOccupancyMaxActiveBlocksPerMultiprocessor", "numBlocks null, blockSize <= 0 or unknown flags");
    }
    if (f == nullptr || !f->module->loaded) return report(CUDA_ERROR_INVALID_HANDLE, "cuOccupancyMaxActiveBlocksPerMultiprocessor", "not a function of a loaded module");
    *blocks = blocksPerMultiprocessor(f, (unsigned)blockSize, dynamicBytes);
    return CUDA_SUCCESS;
}

STANDIN_API CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, CUfunction function, int blockSize, std::size_t dynamicBytes) {
    CALL();
    return cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(blocks, function, blockSize, dynamicBytes, 0);
}

// ---------------------------------------------------------------- the stand-in's own counters
// Not CUDA: what tests and benchmarks read on demand (native/standin/README.md, "Counters"), e.g.
// through JNA: NativeLibrary.getInstance("libcuda.so.1").getFunction("rnn4j_standin_count").

/** The counter of that name: calls of an API entry point, launches of a kernel, or a total. */
STANDIN_API long long rnn4j_standin_count(const char* name) {
    std::lock_guard<std::recursive_mutex> guard(lock());
    return name == nullptr ? 0 : stats.get(name);
}

/** Every non-zero counter as "name count" lines into buf (NUL-terminated, cut at size); returns the full length. */
STANDIN_API long long rnn4j_standin_stats(char* buf, std::size_t size) {
    std::lock_guard<std::recursive_mutex> guard(lock());
    const std::string text = stats.text();
    if (buf != nullptr && size > 0) {
        std::snprintf(buf, size, "%s", text.c_str());
    }
    return (long long)text.size();
}

/** Sets every counter to 0 (e.g. after warm-up). */
STANDIN_API void rnn4j_standin_reset_stats() {
    std::lock_guard<std::recursive_mutex> guard(lock());
    stats.reset();
}

/** Prints the summary of RNN4J_STANDIN_STATS=1 to stderr now. */
STANDIN_API void rnn4j_standin_print_stats() {
    std::lock_guard<std::recursive_mutex> guard(lock());
    stats.print();
}

}  // extern "C"

// ================================================================ what the kernels call

namespace standin {

void syncthreads(const char* file, int line) {
    running->state = FiberState::AtBarrier;
    running->barrierFile = file;
    running->barrierLine = line;
    running->predicate = 0;
    standin_switch(&running->sp, schedulerSp);
}

void gridSync(const char* file, int line) {
    running->state = FiberState::AtGridBarrier;
    running->barrierFile = file;
    running->barrierLine = line;
    standin_switch(&running->sp, schedulerSp);
}

int syncthreadsOr(int predicate, const char* file, int line) {
    running->state = FiberState::AtBarrier;
    running->barrierFile = file;
    running->barrierLine = line;
    running->predicate = predicate != 0;
    Fiber* self = running;
    standin_switch(&running->sp, schedulerSp);
    return self->predicate;
}

}  // namespace standin
