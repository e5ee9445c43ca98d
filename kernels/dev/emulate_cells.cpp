// emulate_cells.cpp — dev tool, not part of the build: replays the dump of CpuCellDump.java through
// the ten cell kernels of kernels/*.cu, compiled as plain C++ and run one thread after another, and
// compares every buffer (outputs and untouched ones) with the CPU engine's. See kernels/README.md.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(n)
#define __shared__ static
struct Dim3 { unsigned x = 0, y = 1, z = 1; };
static Dim3 blockIdx, threadIdx, blockDim, gridDim;
static inline void __syncthreads() {}
static inline int __syncthreads_or(int p) { return p; }
#include "lstm.cu"
#include "gru.cu"
#include "rnn.cu"
typedef void (*Cell)(int, int, int, const int*, const float*, const float*, const float*, const float*, const float*,
                     const float*, float*, const float*, float*, float*, int, float*, const float*, float*, float*,
                     float*, float*, const float*, float, int, int);
int main(int argc, char** argv) {
    std::map<std::string, Cell> k = {{"lstm_forward", rnn4j_lstm_forward}, {"lstm_backward", rnn4j_lstm_backward},
        {"gru_forward", rnn4j_gru_forward}, {"gru_backward", rnn4j_gru_backward}, {"gru_rb_gates", rnn4j_gru_rb_gates},
        {"gru_rb_output", rnn4j_gru_rb_output}, {"gru_rb_backward_output", rnn4j_gru_rb_backward_output},
        {"gru_rb_backward_gates", rnn4j_gru_rb_backward_gates}, {"rnn_forward", rnn4j_rnn_forward}, {"rnn_backward", rnn4j_rnn_backward}};
    std::ifstream f(argv[1]);
    std::string line;
    int cases = 0, bad = 0;
    double worstRel = 0;
    long exact = 0, total = 0;
    while (std::getline(f, line)) {
        std::istringstream is(line);
        std::string tag, name;
        is >> tag >> name;
        int B, H, step, outLd, coupled, relu, hasLen; unsigned clipBits;
        is >> B >> H >> step >> outLd >> std::hex >> clipBits >> std::dec >> coupled >> relu >> hasLen;
        std::vector<int> len;
        if (hasLen) { len.resize(B); for (int& l : len) is >> l; }
        float clip; std::memcpy(&clip, &clipBits, 4);
        std::map<std::string, std::vector<float>> in, want;
        while (std::getline(f, line) && line != "end") {
            std::istringstream a(line);
            std::string t, n; size_t cnt;
            a >> t >> n >> cnt;
            std::vector<float> v(cnt);
            for (auto& x : v) { unsigned u; a >> std::hex >> u; std::memcpy(&x, &u, 4); }
            (t == "in" ? in : want)[n] = v;
        }
        auto P = [&](const char* n) -> float* { auto it = in.find(n); return it == in.end() ? nullptr : it->second.data(); };
        const int* L = hasLen ? len.data() : nullptr;
        gridDim.x = (B * H + 255) / 256; blockDim.x = 256;
        for (unsigned b = 0; b < gridDim.x; b++) for (unsigned t = 0; t < 256; t++) {
            blockIdx.x = b; threadIdx.x = t;
            k.at(name)(B, H, step, L, P("xp"), P("hp"), P("bih"), P("bhh"), P("peep"), P("hPrev"), P("hNext"), P("cPrev"),
                       P("cNext"), P("out"), outLd, P("saved"), P("dh"), P("dc"), P("dGx"), P("dGh"), P("dhPrev"), P("tmp"),
                       clip, coupled, relu);
        }
        cases++;
        for (auto& [n, w] : want) {
            auto& g = in[n];
            for (size_t i = 0; i < w.size(); i++) {
                total++;
                if (std::memcmp(&g[i], &w[i], 4) == 0) { exact++; continue; }
                double d = std::fabs((double)g[i] - w[i]);
                double rel = d / (std::fabs(w[i]) + 1e-6);
                if (rel > worstRel) worstRel = rel;
                if (!(d <= 1e-6 + 1e-5 * std::fabs(w[i]))) {
                    if (bad < 20) std::printf("MISMATCH %s B=%d H=%d %s[%zu]: got %.9g want %.9g\n", name.c_str(), B, H, n.c_str(), i, g[i], w[i]);
                    bad++;
                }
            }
        }
    }
    std::printf("%d cases, %ld values, %ld bit-identical, worst rel %.3g, %d mismatches\n", cases, total, exact, worstRel, bad);
    return bad != 0;
}
