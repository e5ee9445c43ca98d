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
//                fixed by RNN4J_STANDIN_ORDER=forward|reverse|interleaved
//   streams      in order and synchronous, or with RNN4J_STANDIN_STREAMS=deferred each stream's
//                work runs only when the host synchronizes, so reading results without a sync fails
//   events       complete with their stream; elapsed time is host time of the simulation
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
#include <set>

namespace standin {

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
    bool deferred = std::getenv("RNN4J_STANDIN_STREAMS") != nullptr
                    && std::strcmp(std::getenv("RNN4J_STANDIN_STREAMS"), "deferred") == 0;
    int fixedOrder = orderFromEnv();
    bool stats = flag("RNN4J_STANDIN_STATS");
    bool skipWork = flag("RNN4J_STANDIN_SKIP_WORK");

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

struct Context {
    bool active = false;
    int refs = 0;
    CUresult sticky = CUDA_SUCCESS;
    std::string stickyMessage;
    std::set<Stream*> streams;
};

struct Stream {
    Context* ctx = nullptr;
    unsigned flags = 0;
    std::deque<std::pair<const char*, std::function<CUresult()>>> queue;
};

struct Event {
    unsigned flags = 0;
    bool recorded = false;
    bool completed = false;
    Stream* stream = nullptr;
    double ms = 0;
};

struct LoadedModule {
    const Module* module;
    bool loaded = true;
};

struct Function {
    const KernelEntry* kernel;
    LoadedModule* module;
};

bool initialized = false;
Context primary;
thread_local Context* current = nullptr;
std::map<std::uintptr_t, Allocation> allocations;     // by start address, live and quarantined
std::deque<std::uintptr_t> quarantine;
std::size_t quarantined = 0;
std::size_t deviceBytes = 0;
std::uint64_t nextAllocationId = 1;
std::set<Event*> events;
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

enum class FiberState { Runnable, AtBarrier, Done };

struct Fiber {
    void* sp = nullptr;
    char* stack = nullptr;        // mapping of kStackBytes; its lowest page is a guard
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

bool prepareFiber(Fiber& f) {
    if (f.stack == nullptr) {
        void* m = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) {
            return false;
        }
        mprotect(m, (std::size_t)sysconf(_SC_PAGESIZE), PROT_NONE);
        f.stack = static_cast<char*>(m);
    }
    // The frame standin_switch pops: scratch (MXCSR, x87 CW), r15..r12, rbx, rbp, then the return
    // address fiberMain, entered with rsp ≡ 8 (mod 16) as after a call.
    std::uintptr_t top = (reinterpret_cast<std::uintptr_t>(f.stack) + kStackBytes) & ~std::uintptr_t(15);
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
    return true;
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

// Runs one block; the reason in *error when a barrier is not reached by every thread.
bool runBlock(const KernelEntry* k, std::pair<char*, char*> shared, void** params, unsigned threads, int kind,
              std::string* error) {
    if (fibers.size() < threads) {
        fibers.resize(threads);
    }
    if (shared.first != nullptr && shared.second != nullptr) {
        fillPattern(shared.first, (std::size_t)(shared.second - shared.first), kGarbage);
    }
    const dim3 bd = currentBlockDim;
    for (unsigned i = 0; i < threads; i++) {
        Fiber& f = fibers[i];
        if (!prepareFiber(f)) {
            *error = "cannot map a fiber stack";
            return false;
        }
        f.state = FiberState::Runnable;
        f.tid = {i % bd.x, (i / bd.x) % bd.y, i / (bd.x * bd.y)};
    }
    runningKernel = k;
    runningParams = params;
    const std::vector<unsigned> turn = order(threads, kind);
    while (true) {
        for (unsigned i : turn) {
            Fiber& f = fibers[i];
            if (f.state != FiberState::Runnable) {
                continue;
            }
            running = &f;
            currentThreadIdx = f.tid;
            standin_switch(&schedulerSp, f.sp);
        }
        unsigned waiting = 0, done = 0;
        Fiber* first = nullptr;
        for (unsigned i = 0; i < threads; i++) {
            if (fibers[i].state == FiberState::AtBarrier) {
                waiting++;
                if (first == nullptr) first = &fibers[i];
            } else {
                done++;
            }
        }
        if (waiting == 0) {
            return true;
        }
        if (done > 0) {
            *error = "barrier at " + where(first->barrierFile, first->barrierLine) + " reached by " + std::to_string(waiting)
                     + " of " + std::to_string(threads) + " threads (the others returned): a __syncthreads in divergent code";
            return false;
        }
        int any = 0;
        for (unsigned i = 0; i < threads; i++) {
            Fiber& f = fibers[i];
            if (f.barrierFile != first->barrierFile || f.barrierLine != first->barrierLine) {
                *error = "threads wait at different barriers: thread " + std::to_string(i) + " at "
                         + where(f.barrierFile, f.barrierLine) + ", others at " + where(first->barrierFile, first->barrierLine);
                return false;
            }
            any |= f.predicate;
        }
        for (unsigned i = 0; i < threads; i++) {
            fibers[i].predicate = any;
            fibers[i].state = FiberState::Runnable;
        }
    }
}

// ================================================================ streams

bool isLiveStream(Stream* s) {
    return s != nullptr && current != nullptr && current->streams.count(s) > 0;
}

void flush(Stream* s) {
    while (!s->queue.empty()) {
        auto op = std::move(s->queue.front());
        s->queue.pop_front();
        op.second();
    }
}

void flushAll(Context* ctx, bool blockingOnly) {
    for (Stream* s : ctx->streams) {
        if (!blockingOnly || (s->flags & CU_STREAM_NON_BLOCKING) == 0) {
            flush(s);
        }
    }
}

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

// Counts an API call under its exported name, once: calls one entry point makes to another
// (cuMemcpyHtoD_v2 to cuMemcpyHtoDAsync_v2) are not counted again.
thread_local int callDepth = 0;
struct Call {
    explicit Call(const char* name) {
        if (callDepth++ == 0) {
            std::lock_guard<std::recursive_mutex> g(lock());
            stats.add(name);
        }
    }
    ~Call() { callDepth--; }
};
#define CALL() Call call_(__func__)

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

CUresult launch(Function* f, dim3 grid, dim3 block, void** params) {
    const KernelEntry* k = f->kernel;
    std::vector<PointerArg> args;
    k->pointers(params, args);
    std::vector<Allocation*> touched;
    for (const PointerArg& a : args) {
        if (a.value == nullptr) {
            continue;
        }
        Allocation* al = find(a.value);
        std::string what = std::string(k->name) + " parameter " + std::to_string(a.index) + " (" + a.type + ") = " + hex(a.value);
        if (al == nullptr) {
            return fault(k->name, what + " is not in any device allocation");
        }
        if (!al->live) {
            return fault(k->name, what + " points into freed " + describe(*al));
        }
        if (al->kind != Kind::Device) {
            return fault(k->name, what + " points into " + describe(*al) + ", not device memory");
        }
        touched.push_back(al);
    }
    const unsigned long long blocks = (unsigned long long)grid.x * grid.y * grid.z;
    stats.add(k->name);
    stats.add("kernel blocks", (long long)blocks);
    if (config().skipWork) {
        return CUDA_SUCCESS;   // checked and counted, not run
    }
    static unsigned long launchNumber = 0;
    const unsigned long n = launchNumber++;
    const int threadOrder = config().fixedOrder >= 0 ? config().fixedOrder : (int)(n % 3);
    const int blockOrder = config().fixedOrder >= 0 ? config().fixedOrder : (int)((n / 3) % 3);
    currentGridDim = grid;
    currentBlockDim = block;
    const unsigned threads = block.x * block.y * block.z;
    // Blocks in one of three orders; a grid too large to permute runs forward.
    std::vector<unsigned> blockTurn = blocks <= (1u << 24) ? order((unsigned)blocks, blockOrder) : std::vector<unsigned>();
    for (unsigned long long i = 0; i < blocks; i++) {
        unsigned long long b = blockTurn.empty() ? i : blockTurn[i];
        currentBlockIdx = {(unsigned)(b % grid.x), (unsigned)((b / grid.x) % grid.y), (unsigned)(b / ((unsigned long long)grid.x * grid.y))};
        std::string error;
        if (!runBlock(k, {f->module->module->sharedBegin, f->module->module->sharedEnd}, params, threads, threadOrder, &error)) {
            CUresult r = report(CUDA_ERROR_LAUNCH_FAILED, k->name, error);
            current->sticky = r;
            return r;
        }
    }
    for (Allocation* al : touched) {
        long damaged = damagedRedZone(*al);
        if (damaged != -1) {
            return fault(k->name, "wrote outside " + describe(*al) + " at offset " + std::to_string(damaged));
        }
    }
    return CUDA_SUCCESS;
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

CUresult enqueue(CUstream stream, const char* call, std::function<CUresult()> op) {
    std::lock_guard<std::recursive_mutex> guard(lock());
    Stream* s = reinterpret_cast<Stream*>(stream);
    if (s != nullptr && !isLiveStream(s)) {
        return report(CUDA_ERROR_INVALID_HANDLE, call, "hStream " + hex(s) + " is not a live stream of the current context");
    }
    if (!config().deferred) {
        return op();
    }
    if (s == nullptr) {   // the legacy stream waits for the blocking streams, not for non-blocking ones
        flushAll(current, true);
        return op();
    }
    s->queue.emplace_back(call, std::move(op));
    return CUDA_SUCCESS;
}

void count(const char* name) {
    std::lock_guard<std::recursive_mutex> guard(lock());
    if (callDepth == 0) stats.add(name);
}

bool skipWork() {
    return config().skipWork;
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
                     config().deferred ? "; streams deferred until synchronized" : "");
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
        case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *value = 132; break;
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
        // The context goes: its streams, modules and memory with it.
        for (Stream* s : primary.streams) {
            flush(s);
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

STANDIN_API CUresult cuCtxSynchronize() {
    ENTER();
    flushAll(current, false);
    return current->sticky;
}

// ---------------------------------------------------------------- memory

STANDIN_API CUresult cuMemAlloc_v2(CUdeviceptr* dptr, std::size_t bytes) {
    ENTER();
    return allocateDevice(dptr, bytes, "cuMemAlloc");
}

STANDIN_API CUresult cuMemFree_v2(CUdeviceptr dptr) {
    ENTER();
    flushAll(current, false);   // cuMemFree synchronizes with the device, as the driver does
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
    flushAll(current, false);
    return freeAllocation(p, Kind::Pinned, "cuMemFreeHost");
}

STANDIN_API CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, std::size_t bytes, CUstream stream) {
    ENTER();
    void* d = reinterpret_cast<void*>(dst);
    CUresult r = checkDevice(d, bytes, "cuMemcpyHtoDAsync", "dstDevice");
    if (r == CUDA_SUCCESS) r = checkHost(src, bytes, "cuMemcpyHtoDAsync", "srcHost");
    if (r != CUDA_SUCCESS) return r;
    return enqueue(stream, "cuMemcpyHtoDAsync", [=] {
        std::string why;
        if (!deviceRange(d, bytes, &why)) return fault("cuMemcpyHtoDAsync", "dstDevice: " + why);
        if (!config().skipWork) std::memcpy(d, src, bytes);
        return CUDA_SUCCESS;
    });
}

STANDIN_API CUresult cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, std::size_t bytes, CUstream stream) {
    ENTER();
    const void* s = reinterpret_cast<const void*>(src);
    CUresult r = checkDevice(s, bytes, "cuMemcpyDtoHAsync", "srcDevice");
    if (r == CUDA_SUCCESS) r = checkHost(dst, bytes, "cuMemcpyDtoHAsync", "dstHost");
    if (r != CUDA_SUCCESS) return r;
    return enqueue(stream, "cuMemcpyDtoHAsync", [=] {
        std::string why;
        if (!deviceRange(s, bytes, &why)) return fault("cuMemcpyDtoHAsync", "srcDevice: " + why);
        if (!config().skipWork) std::memcpy(dst, s, bytes);   // skipped: the host buffer keeps what it had
        return CUDA_SUCCESS;
    });
}

STANDIN_API CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, std::size_t bytes, CUstream stream) {
    ENTER();
    void* d = reinterpret_cast<void*>(dst);
    const void* s = reinterpret_cast<const void*>(src);
    CUresult r = checkDevice(d, bytes, "cuMemcpyDtoDAsync", "dstDevice");
    if (r == CUDA_SUCCESS) r = checkDevice(s, bytes, "cuMemcpyDtoDAsync", "srcDevice");
    if (r != CUDA_SUCCESS) return r;
    return enqueue(stream, "cuMemcpyDtoDAsync", [=] {
        std::string why;
        if (!deviceRange(d, bytes, &why) || !deviceRange(s, bytes, &why)) return fault("cuMemcpyDtoDAsync", why);
        if (!config().skipWork) std::memmove(d, s, bytes);
        return CUDA_SUCCESS;
    });
}

// The synchronous copies run on the legacy stream and return when done.
STANDIN_API CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, std::size_t bytes) {
    CALL();
    return cuMemcpyHtoDAsync_v2(dst, src, bytes, nullptr);
}

STANDIN_API CUresult cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, std::size_t bytes) {
    CALL();
    return cuMemcpyDtoHAsync_v2(dst, src, bytes, nullptr);
}

STANDIN_API CUresult cuMemcpyDtoD_v2(CUdeviceptr dst, CUdeviceptr src, std::size_t bytes) {
    CALL();
    return cuMemcpyDtoDAsync_v2(dst, src, bytes, nullptr);
}

STANDIN_API CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned int value, std::size_t n, CUstream stream) {
    ENTER();
    void* d = reinterpret_cast<void*>(dst);
    if (dst % 4 != 0) return report(CUDA_ERROR_INVALID_VALUE, "cuMemsetD32Async", "dstDevice " + hex(d) + " is not 4-byte aligned");
    if (n > SIZE_MAX / 4) return report(CUDA_ERROR_INVALID_VALUE, "cuMemsetD32Async", "N overflows");
    CUresult r = checkDevice(d, n * 4, "cuMemsetD32Async", "dstDevice");
    if (r != CUDA_SUCCESS) return r;
    return enqueue(stream, "cuMemsetD32Async", [=] {
        std::string why;
        if (!deviceRange(d, n * 4, &why)) return fault("cuMemsetD32Async", why);
        std::uint32_t* p = static_cast<std::uint32_t*>(d);
        if (!config().skipWork) std::fill(p, p + n, value);
        return CUDA_SUCCESS;
    });
}

STANDIN_API CUresult cuMemsetD32_v2(CUdeviceptr dst, unsigned int value, std::size_t n) {
    CALL();
    return cuMemsetD32Async(dst, value, n, nullptr);
}

STANDIN_API CUresult cuMemsetD8Async(CUdeviceptr dst, unsigned char value, std::size_t n, CUstream stream) {
    ENTER();
    void* d = reinterpret_cast<void*>(dst);
    CUresult r = checkDevice(d, n, "cuMemsetD8Async", "dstDevice");
    if (r != CUDA_SUCCESS) return r;
    return enqueue(stream, "cuMemsetD8Async", [=] {
        std::string why;
        if (!deviceRange(d, n, &why)) return fault("cuMemsetD8Async", why);
        if (!config().skipWork) std::memset(d, value, n);
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
    flush(s);   // queued work still completes, as with the driver
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
        flushAll(current, true);
    } else if (!isLiveStream(s)) {
        return report(CUDA_ERROR_INVALID_HANDLE, "cuStreamSynchronize", "not a live stream: " + hex(s));
    } else {
        flush(s);
    }
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
    if (e->stream != nullptr) flush(e->stream);   // its pending record must not outlive it
    delete e;
    return CUDA_SUCCESS;
}

STANDIN_API CUresult cuEventRecord(CUevent event, CUstream stream) {
    ENTER();
    Event* e = reinterpret_cast<Event*>(event);
    if (events.count(e) == 0) return report(CUDA_ERROR_INVALID_HANDLE, "cuEventRecord", "not an event: " + hex(e));
    e->recorded = true;
    e->completed = false;
    e->stream = reinterpret_cast<Stream*>(stream);
    return enqueue(stream, "cuEventRecord", [e] {
        e->completed = true;
        e->ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
        return CUDA_SUCCESS;
    });
}

STANDIN_API CUresult cuEventSynchronize(CUevent event) {
    ENTER();
    Event* e = reinterpret_cast<Event*>(event);
    if (events.count(e) == 0) return report(CUDA_ERROR_INVALID_HANDLE, "cuEventSynchronize", "not an event: " + hex(e));
    if (e->stream != nullptr) flush(e->stream);
    else flushAll(current, true);
    return current->sticky;
}

STANDIN_API CUresult cuEventQuery(CUevent event) {
    ENTER();
    Event* e = reinterpret_cast<Event*>(event);
    if (events.count(e) == 0) return CUDA_ERROR_INVALID_HANDLE;
    return !e->recorded || e->completed ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY;
}

// CUDA 13's cuda.h maps cuEventElapsedTime to _v2; JCuda 12 links the old name: both are exported.
#undef cuEventElapsedTime
STANDIN_API CUresult cuEventElapsedTime_v2(float* ms, CUevent start, CUevent end) {
    ENTER();
    Event* a = reinterpret_cast<Event*>(start);
    Event* b = reinterpret_cast<Event*>(end);
    if (ms == nullptr || events.count(a) == 0 || events.count(b) == 0) return CUDA_ERROR_INVALID_HANDLE;
    if ((a->flags | b->flags) & CU_EVENT_DISABLE_TIMING) return CUDA_ERROR_INVALID_HANDLE;
    if (!a->recorded || !b->recorded) return CUDA_ERROR_INVALID_HANDLE;
    if (!a->completed || !b->completed) return CUDA_ERROR_NOT_READY;
    static bool said = false;
    if (!said) {
        said = true;
        std::fprintf(stderr, "[rnn4j stand-in] cuEventElapsedTime: simulated; the time is the host's, not a GPU's\n");
    }
    *ms = (float)(b->ms - a->ms);
    return CUDA_SUCCESS;
}

STANDIN_API CUresult cuEventElapsedTime(float* ms, CUevent start, CUevent end) {
    CALL();
    return cuEventElapsedTime_v2(ms, start, end);
}

STANDIN_API CUresult cuStreamWaitEvent(CUstream stream, CUevent event, unsigned int flags) {
    ENTER();
    Event* e = reinterpret_cast<Event*>(event);
    if (events.count(e) == 0) return report(CUDA_ERROR_INVALID_HANDLE, "cuStreamWaitEvent", "not an event: " + hex(e));
    if (flags != 0) return report(CUDA_ERROR_INVALID_VALUE, "cuStreamWaitEvent", "flags must be 0");
    Stream* other = e->stream;
    return enqueue(stream, "cuStreamWaitEvent", [other] {
        if (other != nullptr && isLiveStream(other)) flush(other);   // the recording stream's work first
        return CUDA_SUCCESS;
    });
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
            LoadedModule* lm = new LoadedModule{m};
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
    flushAll(current, false);
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
            Function* f = new Function{&m->module->kernels[i], m};
            *out = reinterpret_cast<CUfunction>(f);
            return CUDA_SUCCESS;
        }
    }
    return CUDA_ERROR_NOT_FOUND;
}

STANDIN_API CUresult cuLaunchKernel(CUfunction function, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                                    unsigned bz, unsigned sharedBytes, CUstream stream, void** params, void** extra) {
    ENTER();
    Function* f = reinterpret_cast<Function*>(function);
    if (f == nullptr || !f->module->loaded) return report(CUDA_ERROR_INVALID_HANDLE, "cuLaunchKernel", "f is not a function of a loaded module");
    const char* k = f->kernel->name;
    if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0) {
        return report(CUDA_ERROR_INVALID_VALUE, k, "empty grid or block (" + std::to_string(gx) + "," + std::to_string(gy) + ","
                      + std::to_string(gz) + ") x (" + std::to_string(bx) + "," + std::to_string(by) + "," + std::to_string(bz) + ")");
    }
    if (gx > 2147483647u || gy > 65535 || gz > 65535) {
        return report(CUDA_ERROR_INVALID_VALUE, k, "grid beyond (2^31-1, 65535, 65535)");
    }
    if (bx > 1024 || by > 1024 || bz > 64 || (unsigned long long)bx * by * bz > 1024) {
        return report(CUDA_ERROR_INVALID_VALUE, k, "block (" + std::to_string(bx) + "," + std::to_string(by) + "," + std::to_string(bz)
                      + ") beyond 1024 threads or (1024, 1024, 64)");
    }
    if (sharedBytes > 49152) return report(CUDA_ERROR_INVALID_VALUE, k, "dynamic shared memory beyond 48 KiB");
    if (extra != nullptr) return report(CUDA_ERROR_NOT_SUPPORTED, k, "the extra argument is not simulated");
    if (params == nullptr && !f->kernel->signature().empty()) return report(CUDA_ERROR_INVALID_VALUE, k, "kernelParams is null");
    // The parameter values are read now, by the size of each parameter's type, as the driver
    // does: the launch may run later (deferred streams).
    std::vector<std::vector<unsigned char>> values;
    f->kernel->capture(params, values);
    std::vector<void*> copied(values.size());
    Function* fn = f;
    dim3 grid{gx, gy, gz}, block{bx, by, bz};
    return enqueue(stream, k, [fn, grid, block, values, copied]() mutable {
        for (std::size_t i = 0; i < copied.size(); i++) copied[i] = values[i].data();
        return launch(fn, grid, block, copied.data());
    });
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
