#!/usr/bin/env bash
# native/build.sh OUTDIR — compiles every kernels/*.cu to OUTDIR/<name>.fatbin.
#
# Called by Maven in generate-resources with OUTDIR = target/classes/org/rnn4j/kernels, so the
# fatbins land on the classpath where org.rnn4j.cuda.CudaEngine loads them. Without nvcc it says
# so and succeeds (the CPU engine still builds and tests); with nvcc a compile error or warning
# fails the build. A fatbin is rebuilt only when its .cu, a kernels/*.cuh or this script is newer.
# See native/README.md for the architecture list and the flags.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: native/build.sh OUTDIR" >&2
    exit 2
fi
OUT=$1
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KERNELS="$ROOT/kernels"
SELF="$ROOT/native/build.sh"

NVCC=""
if command -v nvcc >/dev/null 2>&1; then
    NVCC=$(command -v nvcc)
elif [[ -n "${CUDA_HOME:-}" && -x "$CUDA_HOME/bin/nvcc" ]]; then
    NVCC="$CUDA_HOME/bin/nvcc"
elif [[ -x /usr/local/cuda/bin/nvcc ]]; then
    NVCC=/usr/local/cuda/bin/nvcc
fi
if [[ -z "$NVCC" ]]; then
    echo "[rnn4j] nvcc not found (PATH, CUDA_HOME): skipping the CUDA kernels; the CUDA engine will report 'kernels not built'"
    exit 0
fi

# SASS for Turing, Ampere (A100, consumer), Ada and Hopper, plus compute_90 PTX that the driver
# JIT-compiles on anything newer (Blackwell). -fmad=false: no a*b+c contraction, so element-wise
# arithmetic rounds exactly as Java's float arithmetic in the CPU engine.
ARCHS=(75 80 86 89 90)
GENCODE=()
for a in "${ARCHS[@]}"; do
    GENCODE+=(-gencode "arch=compute_$a,code=sm_$a")
done
GENCODE+=(-gencode "arch=compute_90,code=compute_90")
FLAGS=(-fatbin -O3 -std=c++17 -fmad=false -Werror all-warnings -Xptxas -warn-spills
       --threads "${RNN4J_NVCC_THREADS:-0}")

sass=$(printf 'sm_%s ' "${ARCHS[@]}")
echo "[rnn4j] $("$NVCC" --version | grep -i 'release' | head -n 1) ($NVCC): SASS ${sass% } + PTX compute_90"
mkdir -p "$OUT"

shopt -s nullglob
headers=("$KERNELS"/*.cuh)
sources=("$KERNELS"/*.cu)
if [[ ${#sources[@]} -eq 0 ]]; then
    echo "[rnn4j] no kernels/*.cu found under $KERNELS" >&2
    exit 1
fi

# Newer than the fatbin: its source, any shared header, or this script (flags may have changed).
stale() {
    local src=$1 bin=$2 dep
    [[ -f "$bin" ]] || return 0
    for dep in "$src" "${headers[@]}" "$SELF"; do
        [[ "$dep" -nt "$bin" ]] && return 0
    done
    return 1
}

built=0
for src in "${sources[@]}"; do
    name=$(basename "$src" .cu)
    bin="$OUT/$name.fatbin"
    if ! stale "$src" "$bin"; then
        continue
    fi
    start=$SECONDS
    tmp="$bin.tmp.$$"
    # Written to a temporary name and moved into place, so a failed compile leaves no stale or
    # partial fatbin behind; nvcc's message goes to stderr and set -e fails the build.
    if ! "$NVCC" "${FLAGS[@]}" "${GENCODE[@]}" -I "$KERNELS" -o "$tmp" "$src"; then
        rm -f "$tmp"
        echo "[rnn4j] nvcc failed on kernels/$name.cu" >&2
        exit 1
    fi
    mv -f "$tmp" "$bin"
    echo "[rnn4j] built $name.fatbin ($(( SECONDS - start )) s, $(wc -c < "$bin") bytes)"
    built=$((built + 1))
done
if [[ $built -eq 0 ]]; then
    echo "[rnn4j] kernels up to date in $OUT"
fi
