#!/usr/bin/env bash
# gpu-check.sh OUTDIR [--budget SECONDS] [--steps 2,3,4] [--full-suite] [--bench-suite NAMES] [--work DIR]
#
# The first-contact check of the CUDA engine on a GPU host, run from the bundle (native/bundle.sh copies it
# there; the host needs the NVIDIA driver, and python3, with PyTorch for the cuDNN side-by-side). One run
# returns everything, the steps ordered by what they are worth when time runs out:
#   1. environment: nvidia-smi, nvcc, the cuBLAS libraries in sight, PyTorch, run-java.sh info (again with
#      RNN4J_CUBLAS set if rnn4j found no cuBLAS by itself but python3's packages hold one)
#   2. the test classes that touch CUDA (found in test-classes/ by gpu_check_report.py cuda-tests; the CPU
#      ones are proven by CI), or with --full-suite every test
#   3. rnn4j against PyTorch cuDNN: DeepBench training shapes and the small-batch grid, forward and training
#      step; cuDNN FP32 with TF32 off, PyTorch's defaults (TF32 allowed) and FP16; rnn4j once per algorithm
#      variant (VARIANTS below) in one JVM each, warmed up until the time per step settles, and the per-phase
#      breakdown of one training step at three shapes in the first variant's JVM (only where nvidia-smi
#      lists a GPU)
#   4. compute-sanitizer memcheck, racecheck, synccheck over a short parity subset (with what time is left)
#   5. summary.txt (verdict and steps first, then the first error of each failure, test counts, ratios,
#      phases, info) and failures.txt (for each failure: the failing tests' messages and stack traces, the
#      CUDA and cuBLAS errors in the logs, each log's tail, any JVM crash report)
# Each step runs under its own `timeout`, cut to what is left of the total budget (default 500 s) less what
# the more valuable later steps are promised, so a hang costs its own step only. Work goes to --work
# (default /tmp/rnn4j-gpu-check, emptied first); after every step OUTDIR is refreshed with at most six files
# (the device tool brings back 8, 16 MiB each): summary.txt, failures.txt, gpu-table.md, phases.txt,
# console.log and gpu-check.tar.gz (everything: each step's log, JUnit XML, JSON; logs over 4 MiB cut to
# their first and last MiB). CONTRIBUTING.md says how to run it on a lent GPU.
#
#   --budget S        total seconds for all steps (default 500)
#   --steps LIST      steps to run, e.g. 3,4 (default 2,3,4; 1 and 5 always run)
#   --full-suite      step 2 runs every test class, not only those that touch CUDA (a longer stay)
#   --bench-suite S   cudnn_bench.py suites for step 3 (default deepbench,small); `tiny` to rehearse
# Environment: BENCH_DEVICE (default cuda; cpu rehearses step 3's plumbing without a GPU), FORCE_BENCH=1
# (run step 3 without nvidia-smi, e.g. under the stand-in driver), LIMIT_SCALE (default 1: multiplies every
# step's own limit, for a rehearsal on a slow machine), PYTHON (default python3).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ $# -lt 1 || "$1" == -* ]]; then
    sed -n '2,35p' "${BASH_SOURCE[0]}"
    exit 2
fi
OUTDIR=$1
shift
BUDGET=500
STEPS=2,3,4
SUITE=deepbench,small
FULL_SUITE=0
WORK=${TMPDIR:-/tmp}/rnn4j-gpu-check
while [[ $# -gt 0 ]]; do
    case "$1" in
        --budget) BUDGET=$2; shift ;;
        --steps) STEPS=$2; shift ;;
        --full-suite) FULL_SUITE=1 ;;
        --bench-suite) SUITE=$2; shift ;;
        --work) WORK=$2; shift ;;
        *) echo "gpu-check.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

# rnn4j's variants, timed in step 3 one JVM each: name|JVM options|the property a build must read for the
# variant to mean anything (else it is skipped; empty: always). Adding a variant is one line here.
# The recurrent algorithm (AlgorithmChoice): standard eager and standard as graphs, both on one stream, the
# graphs with the side stream (CudaEngine.concurrently: a layer's weight gradients beside its input gradient and
# the layer below's BPTT, the two directions' BPTT beside each other; the bench's shapes are one layer, one
# direction, so only the first overlap shows), persistent (LSTM, GRU, RNN; falls back to standard where not
# eligible: peepholes, projection, an H whose grid does not fit; the small suite has GRU and RNN shapes for it),
# and auto (each shape's eligible algorithms timed with CUDA events on first use, the fastest kept; the choices
# are in the log); then the reduced precisions
# (org.rnn4j.Precision), eager, against cuDNN's FP32, TF32-allowed and FP16 columns. In order of worth: a
# variant the budget has no time left for is skipped and says so.
VARIANTS=(
    "eager|-Drnn4j.cuda.graphs=false -Drnn4j.cuda.algorithm=standard -Drnn4j.cuda.streams=1|"
    "persistent|-Drnn4j.cuda.algorithm=persistent|rnn4j.cuda.algorithm"
    "auto|-Drnn4j.cuda.graphs=true -Drnn4j.cuda.algorithm=auto|rnn4j.cuda.algorithm"
    "graphs|-Drnn4j.cuda.graphs=true -Drnn4j.cuda.algorithm=graph -Drnn4j.cuda.streams=1|rnn4j.cuda.graphs"
    "streams|-Drnn4j.cuda.graphs=true -Drnn4j.cuda.algorithm=graph -Drnn4j.cuda.streams=2|rnn4j.cuda.streams"
    "tf32|-Drnn4j.cuda.graphs=false -Drnn4j.precision=tf32|rnn4j.precision"
    "bf16|-Drnn4j.cuda.graphs=false -Drnn4j.precision=bf16|rnn4j.precision"
)

PY=${PYTHON:-python3}
LIMIT_SCALE=${LIMIT_SCALE:-1}
BENCH_DEVICE=${BENCH_DEVICE:-cuda}
for f in run-java.sh run-tests.sh benchmarks/scripts/cudnn_bench.py benchmarks/scripts/report.py gpu_check_report.py; do
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
rm -f "$HERE"/hs_err_pid*.log
if [[ -f COMMIT ]]; then cp COMMIT "$WORK/COMMIT"; else echo unknown > "$WORK/COMMIT"; fi
START=$(date +%s)
STEP=0
STEPS_TSV="$WORK/steps.tsv"
: > "$STEPS_TSV"
exec > >(tee "$WORK/console.log") 2>&1

say() { echo "[gpu-check $(( $(date +%s) - START ))s] $*"; }
elapsed() { echo $(( $(date +%s) - START )); }
wanted() { [[ ",$STEPS," == *",$1,"* ]]; }

# The time limit of the next piece of work in step $STEP: its own maximum, cut to what is left of the
# budget less 15 s for the summary and less what later steps are promised (RESERVE), so that a slow step
# cannot starve a more valuable one after it.
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

# Refreshes OUTDIR: summary.txt, failures.txt, the table, the phases, the console and one tarball of WORK.
publish() {
    local f
    for f in "$HERE"/hs_err_pid*.log; do   # a JVM crash report (a native fault) lands in the bundle folder
        [[ -f "$f" ]] && mv "$f" "$WORK/"
    done
    if ! "$PY" "$HERE/gpu_check_report.py" summary "$WORK" "$BUDGET" "$(elapsed)" > /dev/null 2>> "$WORK/report-errors.log"; then
        { echo "summary could not be written: gpu_check_report.py failed:"; tail -n 20 "$WORK/report-errors.log"
          echo; cat "$STEPS_TSV"; } > "$WORK/summary.txt"
    fi
    for f in summary.txt failures.txt gpu-table.md phases.txt console.log; do
        [[ -f "$WORK/$f" ]] && cp "$WORK/$f" "$OUTDIR/$f"
    done
    # logs over 4 MiB (a sanitizer gone wild) keep their first and last MiB, so the tarball stays far under 16 MiB
    while IFS= read -r -d '' f; do
        { head -c 1048576 "$f"; printf '\n[... cut by gpu-check.sh: %s bytes in all ...]\n' "$(stat -c %s "$f")"
          tail -c 1048576 "$f"; } > "$f.cut" && mv "$f.cut" "$f"
    done < <(find "$WORK" -type f -size +4M ! -name console.log -print0)
    if tar -czf "$OUTDIR/gpu-check.tar.gz.tmp" -C "$(dirname "$WORK")" "$(basename "$WORK")" 2>> "$WORK/report-errors.log"; then
        mv "$OUTDIR/gpu-check.tar.gz.tmp" "$OUTDIR/gpu-check.tar.gz"
    else
        say "tar of $WORK failed (see report-errors.log); the previous gpu-check.tar.gz stays"
    fi
}

# ---------------------------------------------------------------- 1. environment
# What the host has: run by `timeout ... bash -c env_report`, hence exported. Nothing's errors are hidden.
python_cublas() {   # the libcublas.so.N files in $PY's packages (PyTorch's wheels), one a line
    "$PY" - <<'EOF'
import glob, site, sysconfig
dirs = set(site.getsitepackages() + [sysconfig.get_paths()["purelib"]])
for d in sorted(dirs):
    for f in sorted(glob.glob(d + "/nvidia/*/lib/libcublas.so.[0-9]*")):
        print(f)
EOF
}
env_report() {
    echo "== bundle commit: $(cat "$HERE/COMMIT" 2>&1)"
    echo "== date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "== host: $(uname -srm), $(nproc) CPUs, $(free -g | awk '/^Mem:/{print $2}') GiB," \
         "$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
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
    echo "== compute-sanitizer: ${SANITIZER:-not found}"
    echo "== cuBLAS libraries in sight"
    ldconfig -p | grep -i 'libcublas\.' || echo "(none in ldconfig -p)"
    compgen -G '/usr/local/cuda*/lib64/libcublas.so*' || true
    compgen -G '/usr/local/cuda*/targets/*/lib/libcublas.so*' || true
    compgen -G '/usr/lib/x86_64-linux-gnu/libcublas.so*' || true
    echo "-- in $PY's packages ($(command -v "$PY" || echo "$PY: not found")):"
    python_cublas || echo "(python_cublas failed: see the error above)"
    echo "== PyTorch"
    timeout 60 "$PY" -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, 'cuDNN', torch.backends.cudnn.version(), 'device', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'none')" 2>&1 | tail -3
    echo "== environment: PATH=$PATH RNN4J_CUBLAS=${RNN4J_CUBLAS:-} CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES:-} LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
}
SANITIZER=$(command -v compute-sanitizer || compgen -G '/usr/local/cuda*/bin/compute-sanitizer' | head -1)
export -f env_report python_cublas
export HERE PY SANITIZER
GPU_LISTED=0
if command -v nvidia-smi > /dev/null && nvidia-smi -L | grep -q '^GPU '; then
    GPU_LISTED=1
fi
# Step 1 always runs: later steps need to know whether CUDA is usable and which cuBLAS to use.
STEP=1
timed 1 environment 60 "$WORK/1-environment.log" bash -c env_report
timed 1 info 60 "$WORK/1-info.log" ./run-java.sh info
# rnn4j looks in the Python environments on the PATH itself; where it still finds no cuBLAS but $PY's
# packages hold one (a PYTHON off the PATH, say), point RNN4J_CUBLAS at the newest.
if [[ -z "${RNN4J_CUBLAS:-}" ]] && grep -q 'cuBLAS: none usable' "$WORK/1-info.log"; then
    lib=$(python_cublas 2>> "$WORK/1-environment.log" | sort -V | tail -n 1)
    if [[ -n "$lib" ]]; then
        export RNN4J_CUBLAS=$lib
        say "rnn4j found no cuBLAS by itself; RNN4J_CUBLAS=$lib for the rest of the check"
        timed 1 info-with-RNN4J_CUBLAS 60 "$WORK/1-info-cublas.log" ./run-java.sh info
    fi
fi
CUDA_USABLE=0
grep -q '^ *usable: yes' "$WORK"/1-info*.log && CUDA_USABLE=1
BENCH=0
if (( GPU_LISTED == 1 )) || [[ -n "${FORCE_BENCH:-}" || "$BENCH_DEVICE" != cuda ]]; then BENCH=1; fi
wanted 3 && (( BENCH == 1 )) && RESERVE[3]=220
publish

# ---------------------------------------------------------------- 2. the tests that touch CUDA
if wanted 2; then
    STEP=2
    if (( FULL_SUITE == 1 )); then
        selection=(--scan-classpath "$HERE/test-classes")
        max=300
    else
        # classes whose bytecode reaches CUDA (org.rnn4j.cuda, Device.cuda, the Devices helper), directly or
        # through a test helper; an empty list or a failure runs the whole suite instead
        selection=()
        if "$PY" gpu_check_report.py cuda-tests "$HERE/test-classes" > "$WORK/2-cuda-test-classes.txt" 2>&1; then
            while IFS= read -r c; do selection+=(--select-class "$c"); done < "$WORK/2-cuda-test-classes.txt"
        fi
        if (( ${#selection[@]} == 0 )); then
            say "no list of CUDA test classes (see 2-cuda-test-classes.txt): the whole suite instead"
            selection=(--scan-classpath "$HERE/test-classes")
        else
            say "$(( ${#selection[@]} / 2 )) test classes touch CUDA (2-cuda-test-classes.txt)"
        fi
        max=240   # 53 classes took 149 s on the 2-core dev box's stand-in (2026-12-07); a GPU host is not yet measured
    fi
    timed 2 tests "$max" "$WORK/2-tests.log" ./run-tests.sh "${selection[@]}" \
        --disable-ansi-colors --reports-dir "$WORK/junit"
    publish
fi

# ---------------------------------------------------------------- 3. rnn4j against cuDNN, and the phases
if wanted 3; then
    if (( BENCH == 0 )); then
        record 3 benchmarks SKIP 0 0 "" "no GPU listed by nvidia-smi (a stand-in or no driver): timings would mean nothing"
    else
        STEP=3
        # The shapes are cudnn_bench.py's (the same as benchmarks/ Suites.java): one list for both sides.
        if ! "$PY" benchmarks/scripts/cudnn_bench.py --list --suite "$SUITE" > "$WORK/3-shapes.txt" 2>&1; then
            cat "$WORK/3-shapes.txt"
        fi
        shape_args=()
        while IFS= read -r s; do shape_args+=(--shape "$s"); done < <(grep -E '^[a-z]+-' "$WORK/3-shapes.txt")
        if [[ $SUITE == tiny ]]; then
            phase_shapes=(lstm-I16-H16-B4-T5 gru-I16-H16-B4-T5)
        else
            phase_shapes=(lstm-I512-H512-B64-T25 lstm-I256-H256-B4-T50 gru-I1024-H1024-B32-T187)
        fi
        phase_args=(--phases)
        for s in "${phase_shapes[@]}"; do phase_args+=(--phases-shape "$s"); done
        timed 3 cudnn 100 "$WORK/3-cudnn.log" "$PY" benchmarks/scripts/cudnn_bench.py --suite "$SUITE" \
            --modes fp32,default,fp16 --warmup 5 --repeat 20 --out "$WORK/cudnn.json"
        publish
        bench_args=()
        first=1
        for v in "${VARIANTS[@]}"; do
            IFS='|' read -r name opts needs <<< "$v"
            if [[ -n "$needs" ]] && ! "$PY" gpu_check_report.py reads-property lib/rnn4j.jar "$needs" \
                    >> "$WORK/3-variants.log" 2>&1; then
                record 3 "rnn4j-$name" SKIP 0 0 "3-variants.log" "this build does not read $needs (no class in lib/rnn4j.jar names it)"
                continue
            fi
            extra=()
            (( first == 1 )) && extra=("${phase_args[@]}")
            # every shape in one JVM, warmed up until the time per step settles
            JAVA_OPTS="${JAVA_OPTS:-} $opts" timed 3 "rnn4j-$name" $(( first == 1 ? 150 : 100 )) \
                "$WORK/3-rnn4j-$name.log" ./run-java.sh bench --device "$BENCH_DEVICE" --warmup 20 --settle 5 \
                --repeat 10 --json "$WORK/rnn4j-$name.jsonl" "${shape_args[@]}" "${extra[@]}"
            if (( first == 1 )); then
                sed -n '/^Phases of one training step/,$p' "$WORK/3-rnn4j-$name.log" > "$WORK/phases.txt"
            fi
            bench_args+=(--bench "$name=$WORK/rnn4j-$name.jsonl")
            first=0
            publish
        done
        timed 3 table 30 "$WORK/3-table.log" env RNN4J_COMMIT="$(cat "$WORK/COMMIT")" \
            RNN4J_JVM="$("$HERE/runtime/bin/java" -version 2>&1 | head -1) (the bundle's runtime)" \
            "$PY" benchmarks/scripts/report.py \
            --kind gpu "${bench_args[@]}" --cudnn "$WORK/cudnn.json" --stat median \
            --out "$WORK/gpu-table.md" --title "rnn4j against cuDNN ($SUITE), $(date -u +%Y-%m-%d)" \
            --note "rnn4j: run-java.sh bench --device $BENCH_DEVICE --warmup 20 --settle 5 --repeat 10 (median ms; host clock around each call, which synchronizes), one JVM per variant, by gpu-check.sh step 3"
    fi
    publish
fi

# ---------------------------------------------------------------- 4. compute-sanitizer over a parity subset
# One GpuParityTest case per cell family (0-based iterations 4c+3: two layers, bidirectional, batch-first,
# per-sample lengths, initial states), the dropout mask, and the training kernels' tests.
PARITY_SUBSET=(--select-iteration 'method:org.rnn4j.GpuParityTest#cudaMatchesCpu(org.rnn4j.GpuParityTest$Case)[3,7,11,15,19,23,27,31]'
               --select-method 'org.rnn4j.GpuParityTest#dropoutMaskIsTheSameOnBothEngines')
if wanted 4; then
    if [[ -z "$SANITIZER" ]]; then
        record 4 compute-sanitizer SKIP 0 0 "" "compute-sanitizer not found"
    elif (( CUDA_USABLE == 0 )); then
        record 4 compute-sanitizer SKIP 0 0 "" "CUDA is not usable here (see 1-info.log)"
    else
        STEP=4
        for tool in memcheck racecheck synccheck; do
            extra=(); max=60
            if [[ $tool == memcheck ]]; then
                extra=(--leak-check full); max=100
                subset=("${PARITY_SUBSET[@]}" --select-class org.rnn4j.train.LossesTest --select-class org.rnn4j.train.OptimizerTest)
            else
                subset=("${PARITY_SUBSET[@]}" --select-class org.rnn4j.train.LossesTest)
            fi
            # exact allocations: a buffer overrun then leaves its allocation, where memcheck sees it
            RNN4J_NO_CUDA_MEMORY_CACHING=1 timed 4 "sanitizer-$tool" "$max" "$WORK/4-sanitizer-$tool.log" \
                "$SANITIZER" --tool "$tool" "${extra[@]}" --target-processes all --error-exitcode 97 \
                --print-limit 50 ./run-tests.sh "${subset[@]}" --disable-ansi-colors --reports-dir "$WORK/junit-$tool"
            publish
        done
    fi
fi

# ---------------------------------------------------------------- 5. summary
publish
# The device tool's reply ends with the last 12,000 characters of output: the failures' start, then the summary.
if [[ -f "$OUTDIR/failures.txt" ]]; then
    echo "---------------- failures.txt (first 4000 bytes; all of it comes back as a file)"
    head -c 4000 "$OUTDIR/failures.txt"
    echo
fi
echo "---------------- summary.txt"
cat "$OUTDIR/summary.txt"
