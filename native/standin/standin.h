// standin.h — what the stand-in libcuda.so.1 (driver.cpp) shares with the kernels compiled into it
// (kernels.cpp) and with the stand-in libcublas (cublas.cpp). Not a CUDA header: nothing in the
// product code includes it. See native/standin/README.md.
#pragma once

#include <cuda.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#define STANDIN_API __attribute__((visibility("default")))

namespace standin {

// ---------------------------------------------------------------- kernels, by their own C signature

/** A pointer parameter of a launch: its position, its C type and the value passed. */
struct PointerArg {
    int index;
    std::string type;
    const void* value;
};

/** One extern "C" kernel: how to call it with cuLaunchKernel's kernelParams. */
struct KernelEntry {
    const char* name;
    void (*function)();
    /** Calls function with *(A_i*)params[i] for each parameter type A_i of its signature. */
    void (*invoke)(void (*function)(), void** params);
    /** The pointer-typed parameters and their values. */
    void (*pointers)(void** params, std::vector<PointerArg>& out);
    /** A copy of each parameter's value, sizeof(A_i) bytes each. */
    void (*capture)(void** params, std::vector<std::vector<unsigned char>>& out);
    /** The parameter types, e.g. "int, const float*, float*". */
    std::string (*signature)();
};

/** The name of T as the compiler spells it, e.g. "const float*". */
template <class T>
std::string typeName() {
    std::string s = __PRETTY_FUNCTION__;   // "... typeName() [with T = const float*; ...]"
    std::size_t a = s.find("T = ") + 4;
    std::size_t b = s.find_first_of(";]", a);
    return s.substr(a, b - a);
}

template <class... A>
struct Signature {
    template <std::size_t... I>
    static void call(void (*f)(A...), void** p, std::index_sequence<I...>) {
        f(*static_cast<A*>(p[I])...);
    }
    static void invoke(void (*g)(), void** p) {
        call(reinterpret_cast<void (*)(A...)>(g), p, std::index_sequence_for<A...>{});
    }
    template <std::size_t... I>
    static void collect(void** p, std::vector<PointerArg>& out, std::index_sequence<I...>) {
        (void)p;
        (void)out;
        ((std::is_pointer<A>::value
                  ? out.push_back({(int)I, typeName<A>(), *reinterpret_cast<const void* const*>(p[I])})
                  : void()),
         ...);
    }
    static void pointers(void** p, std::vector<PointerArg>& out) {
        collect(p, out, std::index_sequence_for<A...>{});
    }
    static void capture(void** p, std::vector<std::vector<unsigned char>>& out) {
        out.clear();
        std::size_t i = 0;
        ((out.emplace_back(static_cast<unsigned char*>(p[i]), static_cast<unsigned char*>(p[i]) + sizeof(A)), i++), ...);
    }
    static std::string signature() {
        std::string s;
        ((s += (s.empty() ? "" : ", ") + typeName<A>()), ...);
        return s;
    }
};

template <class... A>
KernelEntry kernelEntry(const char* name, void (*f)(A...)) {
    return {name, reinterpret_cast<void (*)()>(f), &Signature<A...>::invoke, &Signature<A...>::pointers,
            &Signature<A...>::capture, &Signature<A...>::signature};
}

/**
 * A kernels/<module>.cu file compiled into the stand-in (build.sh generates the registration), with
 * the bounds of the __shared__ variables of its link unit, poisoned before each block.
 */
struct Module {
    const char* name;
    const KernelEntry* kernels;
    int count;
    char* sharedBegin;
    char* sharedEnd;
};

/** Called by the generated module files at load time (and by checks_test for its own kernels). */
STANDIN_API void registerModule(const Module* module);

/** Lets cuModuleLoadData accept one more image as the given module (checks_test only). */
STANDIN_API bool acceptImage(const char* module, const void* image, std::size_t bytes);

/** FNV-1a 64 and size of each fatbin the stand-in was built with (generated at build time). */
struct FatbinId {
    const char* module;
    std::uint64_t hash;
    std::uint64_t bytes;
};
extern const FatbinId fatbinIds[];
extern const int fatbinIdCount;

inline std::uint64_t fnv1a(const void* data, std::size_t bytes) {
    const unsigned char* p = static_cast<const unsigned char*>(data);
    std::uint64_t h = 1469598103934665603ull;
    for (std::size_t i = 0; i < bytes; i++) {
        h = (h ^ p[i]) * 1099511628211ull;
    }
    return h;
}

// ---------------------------------------------------------------- what the stand-in cuBLAS uses

/**
 * Reports a problem found by the stand-in: printed once to stderr with the call's name and
 * returned as the given status, so the caller sees a failure, never only a log line. A fault
 * (a kernel or cuBLAS touching memory it must not) also poisons the context, as on a GPU.
 */
STANDIN_API CUresult report(CUresult status, const std::string& call, const std::string& message);
STANDIN_API CUresult fault(const std::string& call, const std::string& message);

/** Whether [p, p + bytes) lies inside one live device allocation; the reason when not. */
STANDIN_API bool deviceRange(const void* p, std::size_t bytes, std::string* why);

/** Whether p lies in any device allocation, live or freed (for "host pointer expected" checks). */
STANDIN_API bool isDeviceAddress(const void* p);

/** The context current on this thread, after cuInit; null otherwise. */
STANDIN_API CUcontext currentContext();

/** Whether a stream handle is 0 (the legacy stream) or a live stream of the current context. */
STANDIN_API bool validStream(CUstream stream);

/** Device memory that queued work touches: checked against the live allocations when the work runs. */
struct Range {
    const void* start;
    std::size_t bytes;
    const char* what;   // the argument, e.g. "A" or "dstDevice"
};

/**
 * Issues device work on a stream in call order: run now (synchronous streams, the default), when
 * the host synchronizes (RNN4J_STANDIN_STREAMS=deferred or adversarial), or, on a capturing
 * stream, as a node of the capture's graph. When it runs, each range in `touches` must lie in one
 * live device allocation (else a fault, which poisons the context); then `work` runs, unless
 * RNN4J_STANDIN_SKIP_WORK=1. Returns the capture statuses (invalidated, implicit) as the driver does.
 */
STANDIN_API CUresult enqueue(CUstream stream, const char* call, std::vector<Range> touches, std::function<CUresult()> work);

/** Whether the stream takes part in an active stream capture. */
STANDIN_API bool isCapturing(CUstream stream);

/** Counts a cuBLAS call under its exported name (RNN4J_STANDIN_STATS, rnn4j_standin_count). */
STANDIN_API void count(const char* api);


}  // namespace standin
