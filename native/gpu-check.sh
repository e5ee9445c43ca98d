#!/usr/bin/env bash
# gpu-check.sh OUTDIR [--budget SECONDS] [--steps 2,3,4] [--bench-suite NAMES] [--work DIR]
#
# The first-contact check of the CUDA engine on a GPU host, run from the bundle (native/bundle.sh copies it
# there; the host needs only the NVIDIA driver, and python3 with PyTorch for the cuDNN side-by-side):
#   1. environment: nvidia-smi, nvcc --version, the cuBLAS libraries in sight, PyTorch, run-java.sh info
#   2. the whole test suite (CUDA tests run when CUDA is usable): JUnit XML and a one-line summary
#   3. compute-sanitizer memcheck, then racecheck and synccheck, over a short parity subset (when present)
#   4. rnn4j against PyTorch cuDNN (FP32, TF32 off): DeepBench training shapes and the small-batch grid,
#      forward and training step, medians of >= 10 timed runs after warm-up, and the per-phase
#      breakdown of one rnn4j training step at three shapes (only where nvidia-smi lists a GPU)
#   5. summary.txt: what passed, failed, timed out or was skipped, and the first error of each failure
# Each step runs under its own `timeout`, cut to what is left of the total budget (default 450 s), so a
# hang costs its own step only. Work goes to --work (default /tmp/rnn4j-gpu-check, emptied first); after
# every step OUTDIR is refreshed with at most five files, because the device tool brings back at most 8:
# summary.txt, gpu-table.md, phases.txt, console.log and gpu-check.tar.gz (everything: logs, JUnit XML,
# JSON). CONTRIBUTING.md says how to run it on a lent GPU.
#
#   --budget S        total seconds for all steps (default 450)
#   --steps LIST      steps to run, e.g. 3,4 for a rerun after a fix (default 2,3,4; 1 and 5 always run)
#   --bench-suite S   cudnn_bench.py suites for step 4 (default deepbench,small); `tiny` to rehearse
# Environment: BENCH_DEVICE (default cuda; cpu rehearses step 4's plumbing without a GPU), FORCE_BENCH=1
# (run step 4 without nvidia-smi, e.g. under the stand-in driver), LIMIT_SCALE (default 1: multiplies every
# step's own limit, for a rehearsal on a slow machine), PYTHON (default python3).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ $# -lt 1 || "$1" == -* ]]; then
    sed -n '2,24p' "${BASH_SOURCE[0]}"
    exit 2
fi
OUTDIR=$1
shift
BUDGET=450
STEPS=2,3,4
SUITE=deepbench,small
WORK=${TMPDIR:-/tmp}/rnn4j-gpu-check
while [[ $# -gt 0 ]]; do
    case "$1" in
        --budget) BUDGET=$2; shift ;;
        --steps) STEPS=$2; shift ;;
        --bench-suite) SUITE=$2; shift ;;
        --work) WORK=$2; shift ;;
        *) echo "gpu-check.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
PY=${PYTHON:-python3}
LIMIT_SCALE=${LIMIT_SCALE:-1}
BENCH_DEVICE=${BENCH_DEVICE:-cuda}
for f in run-java.sh run-tests.sh benchmarks/scripts/cudnn_bench.py gpu_check_report.py; do
    [[ -e "$HERE/$f" ]] || { echo "gpu-check.sh: $HERE/$f missing: run it from a bundle (native/bundle.sh)" >&2; exit 2; }
done
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
if [[ -d "$WORK" && -n "$(ls -A "$WORK")" && ! -f "$WORK/steps.tsv" ]]; then
    echo "gpu-check.sh: $WORK is not empty and not an earlier check's: choose another --work" >&2
    exit 2
fi
rm -rf "$WORK"
mkdir -p "$WORK"
cd "$HERE"
cp COMMIT "$WORK/COMMIT" 2>/dev/null || echo unknown > "$WORK/COMMIT"
START=$(date +%s)
STEP=0
STEPS_TSV="$WORK/steps.tsv"
: > "$STEPS_TSV"
exec > >(tee "$WORK/console.log") 2>&1

say() { echo "[gpu-check $(( $(date +%s) - START ))s] $*"; }
elapsed() { echo $(( $(date +%s) - START )); }
wanted() { [[ ",$STEPS," == *",$1,"* ]]; }

# The time limit of the next piece of work in step $STEP: its own maximum, cut to what is left of the
# budget less 15 s for the summary and less what the later steps are promised (RESERVE: 60 s for the
# sanitizers, 150 s for the benchmarks, when they will run), so that a slow step cannot starve them.
declare -A RESERVE=()
limit() {
    local later=0 id
    for id in "${!RESERVE[@]}"; do
        (( id > STEP )) && later=$(( later + RESERVE[$id] ))
    done
    local left=$(( BUDGET - $(elapsed) - 15 - later )) max=$(( $1 * LIMIT_SCALE ))
    (( left < 0 )) && left=0
    echo $(( max < left ? max : left ))
}

# record ID NAME RESULT SECONDS LIMIT LOG DETAIL: one line of steps.tsv (what summary.txt is made of).
record() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "${6:-}" "${7:-}" >> "$STEPS_TSV"
    say "$1 $2: $3 (${4}s of ${5}s)${7:+: $7}"
}

# timed ID NAME MAXSECONDS LOG CMD...: runs CMD under `timeout`, output to LOG; records PASS / FAIL (exit
# code) / TIMEOUT; leaves the exit code in $RC and the seconds in $SECS.
timed() {
    local id=$1 name=$2 max=$3 log=$4
    shift 4
    local lim
    lim=$(limit "$max")
    if (( lim < 5 )); then
        RC=-1; SECS=0
        record "$id" "$name" SKIP 0 0 "" "no time left in the ${BUDGET}s budget"
        return
    fi
    say "$id $name (limit ${lim}s): $*"
    local t0
    t0=$(date +%s)
    timeout -k 10 "$lim" "$@" > "$log" 2>&1
    RC=$?
    SECS=$(( $(date +%s) - t0 ))
    local rel=${log#"$WORK/"}
    if (( RC == 124 || RC == 137 )); then
        record "$id" "$name" TIMEOUT "$SECS" "$lim" "$rel" "killed at its ${lim}s limit"
    elif (( RC == 0 )); then
        record "$id" "$name" PASS "$SECS" "$lim" "$rel" ""
    else
        record "$id" "$name" FAIL "$SECS" "$lim" "$rel" "exit code $RC"
    fi
}

# Copies what is done so far into OUTDIR: summary.txt, the table, the phases, the console and one tarball.
publish() {
    "$PY" "$HERE/gpu_check_report.py" summary "$WORK" "$WORK/summary.txt" "$BUDGET" "$(elapsed)" \
        > /dev/null 2>> "$WORK/report-errors.log" \
        || echo "summary could not be written (see report-errors.log)" > "$WORK/summary.txt"
    cp "$WORK/summary.txt" "$OUTDIR/summary.txt"
    for f in gpu-table.md phases.txt console.log; do
        [[ -f "$WORK/$f" ]] && cp "$WORK/$f" "$OUTDIR/$f"
    done
    tar -czf "$OUTDIR/gpu-check.tar.gz.tmp" -C "$(dirname "$WORK")" "$(basename "$WORK")" 2>/dev/null \
        && mv "$OUTDIR/gpu-check.tar.gz.tmp" "$OUTDIR/gpu-check.tar.gz"
}

# ---------------------------------------------------------------- 1. environment
# What the host has: run by `timeout ... bash -c env_report`, hence exported.
env_report() {
    echo "== bundle commit: $(cat "$HERE/COMMIT" 2>/dev/null || echo unknown)"
    echo "== date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "== host: $(uname -srm), $(nproc) CPUs, $(free -g 2>/dev/null | awk '/^Mem:/{print $2}') GiB," \
         "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo 2>/dev/null | head -1)"
    echo "== nvidia-smi"
    if command -v nvidia-smi > /dev/null; then
        timeout 20 nvidia-smi
        timeout 20 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv
    else
        echo "not found"
    fi
    echo "== nvcc --version"
    if command -v nvcc > /dev/null; then nvcc --version; elif [[ -x /usr/local/cuda/bin/nvcc ]]; then
        /usr/local/cuda/bin/nvcc --version; else echo "not found"; fi
    echo "== compute-sanitizer: $(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || echo 'not found')"
    echo "== cuBLAS libraries in sight"
    ldconfig -p 2>/dev/null | grep -i 'libcublas\.' || echo "(none in ldconfig -p)"
    ls -1 /usr/local/cuda*/lib64/libcublas.so* /usr/local/cuda*/targets/*/lib/libcublas.so* \
        /usr/lib/x86_64-linux-gnu/libcublas.so* 2>/dev/null
    "$PY" - <<'EOF' 2>/dev/null || echo "(no python3 to look in its packages)"
import glob, site, sys, sysconfig
dirs = set(site.getsitepackages() + [sysconfig.get_paths()["purelib"]])
for d in sorted(dirs):
for f in sorted(glob.glob(d + "/nvidia/*/lib/libcublas.so*")):
    print(f)
print("python: %s %s" % (sys.executable, sys.version.split()[0]))
EOF
    echo "== PyTorch"
    timeout 60 "$PY" -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, 'cuDNN', torch.backends.cudnn.version(), 'device', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none')" 2>&1 | tail -1
    echo "== environment: RNN4J_CUBLAS=${RNN4J_CUBLAS:-} CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-} LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
}
export -f env_report
export HERE PY
GPU_LISTED=0
if command -v nvidia-smi > /dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU '; then
    GPU_LISTED=1
fi
# Step 1 always runs: later steps need to know whether CUDA is usable and which cuBLAS to use.
STEP=1
timed 1 environment 90 "$WORK/1-environment.log" bash -c env_report
timed 1 info 60 "$WORK/1-info.log" ./run-java.sh info
# When rnn4j finds no cuBLAS but one is in sight (PyTorch's wheel, say), point RNN4J_CUBLAS at it.
if [[ -z "${RNN4J_CUBLAS:-}" ]] && grep -q 'cuBLAS: none usable' "$WORK/1-info.log"; then
    lib=$(grep -E '/libcublas\.so\.1[0-9]+$' "$WORK/1-environment.log" | awk '{print $NF}' | sort -r | head -1)
    if [[ -n "$lib" ]]; then
        export RNN4J_CUBLAS=$lib
        say "rnn4j found no cuBLAS by itself; RNN4J_CUBLAS=$lib for the rest of the check"
        timed 1 info-with-RNN4J_CUBLAS 60 "$WORK/1-info-cublas.log" ./run-java.sh info
    fi
fi
publish
CUDA_USABLE=0
grep -q '^ *usable: yes' "$WORK"/1-info*.log 2>/dev/null && CUDA_USABLE=1
SANITIZER=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
BENCH=0
if (( GPU_LISTED == 1 )) || [[ -n "${FORCE_BENCH:-}" || "$BENCH_DEVICE" != cuda ]]; then BENCH=1; fi
wanted 3 && [[ -n "$SANITIZER" ]] && (( CUDA_USABLE == 1 )) && RESERVE[3]=60
wanted 4 && (( BENCH == 1 )) && RESERVE[4]=150

# ---------------------------------------------------------------- 2. the whole test suite
if wanted 2; then
    STEP=2
    timed 2 tests 240 "$WORK/2-tests.log" ./run-tests.sh --scan-classpath "$HERE/test-classes" \
        --disable-ansi-colors --reports-dir "$WORK/junit"
    tail -n 1 "$WORK/2-tests.log" > "$WORK/2-tests-summary.txt"
    publish
fi

# ---------------------------------------------------------------- 3. compute-sanitizer over a parity subset
# One GpuParityTest case per cell family (0-based iterations 4c+3: two layers, bidirectional, batch-first,
# per-sample lengths, initial states), the dropout mask, and the training kernels' tests.
PARITY_SUBSET=(--select-iteration 'method:org.rnn4j.GpuParityTest#cudaMatchesCpu(org.rnn4j.GpuParityTest$Case)[3,7,11,15,19,23,27,31]'
               --select-method 'org.rnn4j.GpuParityTest#dropoutMaskIsTheSameOnBothEngines')
if wanted 3; then
    if [[ -z "$SANITIZER" ]]; then
        record 3 compute-sanitizer SKIP 0 0 "" "compute-sanitizer not found"
    elif (( CUDA_USABLE == 0 )); then
        record 3 compute-sanitizer SKIP 0 0 "" "CUDA is not usable here (see 1-info.log)"
    else
        STEP=3
        for tool in memcheck racecheck synccheck; do
            extra=(); max=60
            if [[ $tool == memcheck ]]; then
                extra=(--leak-check full); max=100
                subset=("${PARITY_SUBSET[@]}" --select-class org.rnn4j.train.LossesTest --select-class org.rnn4j.train.OptimizerTest)
            else
                subset=("${PARITY_SUBSET[@]}" --select-class org.rnn4j.train.LossesTest)
            fi
            # exact allocations: a buffer overrun then leaves its allocation, where memcheck sees it
            RNN4J_NO_CUDA_MEMORY_CACHING=1 timed 3 "sanitizer-$tool" "$max" "$WORK/3-sanitizer-$tool.log" \
                "$SANITIZER" --tool "$tool" "${extra[@]}" --target-processes all --error-exitcode 97 \
                --print-limit 50 ./run-tests.sh "${subset[@]}" --disable-ansi-colors --reports-dir "$WORK/junit-$tool"
            publish
        done
    fi
fi

# ---------------------------------------------------------------- 4. rnn4j against cuDNN, and the phases
if wanted 4; then
    if (( BENCH == 0 )); then
        record 4 benchmarks SKIP 0 0 "" "no GPU listed by nvidia-smi (a stand-in or no driver): timings would mean nothing"
    else
        STEP=4
        # The shapes are cudnn_bench.py's (the same as benchmarks/ Suites.java): one list for both sides.
        mapfile -t SHAPES < <("$PY" benchmarks/scripts/cudnn_bench.py --list --suite "$SUITE")
        timed 4 cudnn 90 "$WORK/4-cudnn.log" "$PY" benchmarks/scripts/cudnn_bench.py --suite "$SUITE" \
            --warmup 5 --repeat 20 --out "$WORK/cudnn.json"
        shape_args=()
        for s in "${SHAPES[@]}"; do shape_args+=(--shape "$s"); done
        timed 4 rnn4j-bench 150 "$WORK/4-rnn4j-bench.log" ./run-java.sh bench --device "$BENCH_DEVICE" \
            --warmup 2 --repeat 10 --json "$WORK/rnn4j-bench.jsonl" "${shape_args[@]}"
        if [[ $SUITE == tiny ]]; then
            phase_shapes=(--shape lstm-I16-H16-B4-T5 --shape gru-I16-H16-B4-T5)
        else
            phase_shapes=(--shape lstm-I512-H512-B64-T25 --shape lstm-I256-H256-B4-T50 --shape gru-I1024-H1024-B32-T187)
        fi
        timed 4 rnn4j-phases 60 "$WORK/4-rnn4j-phases.log" ./run-java.sh bench --device "$BENCH_DEVICE" \
            --warmup 1 --repeat 3 --phases --json "$WORK/rnn4j-phases.jsonl" "${phase_shapes[@]}"
        sed -n '/^Phases of one training step/,$p' "$WORK/4-rnn4j-phases.log" > "$WORK/phases.txt"
        COMMIT=$(cat "$WORK/COMMIT")
        timed 4 table 30 "$WORK/4-table.log" env RNN4J_COMMIT="$COMMIT" \
            RNN4J_JVM="$("$HERE/runtime/bin/java" -version 2>&1 | head -1) (the bundle's runtime)" \
            "$PY" benchmarks/scripts/report.py \
            --kind gpu --bench "$WORK/rnn4j-bench.jsonl" --cudnn "$WORK/cudnn.json" --stat median \
            --out "$WORK/gpu-table.md" --title "rnn4j against cuDNN ($SUITE), $(date -u +%Y-%m-%d)" \
            --note "rnn4j: run-java.sh bench --device $BENCH_DEVICE --warmup 2 --repeat 10 (median ms; host clock around each call, which synchronizes) by gpu-check.sh step 4"
    fi
    publish
fi

# ---------------------------------------------------------------- 5. summary
publish
cat "$OUTDIR/summary.txt"
