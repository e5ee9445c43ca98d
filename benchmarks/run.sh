#!/usr/bin/env bash
# One command for the GPU benchmarks: build, run rnn4j's JMH suite (CUDA, and the CPU engine for the
# "GPU vs CPU" column), run the same shapes through PyTorch cuDNN when torch and CUDA are there, and write ONE
# markdown table to benchmarks/results/<date>-<machine>.md (+ a PNG chart of the rnn4j/cuDNN ratios when
# matplotlib is installed). Raw JSON goes to benchmarks/results/raw/.
#
#   benchmarks/run.sh                       # suites deepbench,small,bidir on cuda and cpu (long: see README)
#   benchmarks/run.sh --quick               # cuda only, short iterations: fits a 10-minute command
#   benchmarks/run.sh --suites small --devices cuda,cpu
#   benchmarks/run.sh --no-build            # reuse benchmarks/target/benchmarks.jar (e.g. built elsewhere)
#   benchmarks/run.sh --no-cudnn            # skip the PyTorch side-by-side
#   extra JMH arguments after --
# Environment: PYTHON (default python3) runs cudnn_bench.py and report.py; RNN4J_MACHINE names the machine.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PY="${PYTHON:-python3}"
BUILD=1
QUICK=0
CUDNN=1
SUITES="gpu"
DEVICES=""
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) BUILD=0 ;;
    --quick) QUICK=1 ;;
    --no-cudnn) CUDNN=0 ;;
    --suites) SUITES="$2"; shift ;;
    --devices) DEVICES="$2"; shift ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$DEVICES" ]; then
  if [ "$QUICK" = 1 ]; then DEVICES="cuda"; else DEVICES="cuda,cpu"; fi
fi

if [ "$BUILD" = 1 ]; then
  echo "== building: library install (kernels when nvcc is there), then benchmarks.jar without DL4J"
  (cd "$ROOT" && mvn -q -B -Dmaven.test.skip=true install)
  (cd "$HERE" && mvn -q -B -Pno-dl4j package)
fi
JAR="$HERE/target/benchmarks.jar"
[ -f "$JAR" ] || { echo "run.sh: $JAR missing; run without --no-build" >&2; exit 1; }

DATE="$(date +%Y-%m-%d)"
STAMP="$(date +%Y%m%d-%H%M%S)"
if [ -n "${RNN4J_MACHINE:-}" ]; then
  MACHINE="$RNN4J_MACHINE"
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  MACHINE="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
else
  MACHINE="$(hostname)-nogpu"
fi
MACHINE="$(echo "$MACHINE" | tr 'A-Z' 'a-z' | sed 's/nvidia//; s/[^a-z0-9]\+/-/g; s/^-//; s/-$//')"
mkdir -p "$HERE/results/raw"
RAW="$HERE/results/raw/$DATE-$MACHINE-$STAMP-jmh.json"
CUD="$HERE/results/raw/$DATE-$MACHINE-$STAMP-cudnn.json"
QUICK_ARG=()
[ "$QUICK" = 1 ] && QUICK_ARG=(--quick)

LOAD_BEFORE="$(uptime | sed 's/^ *//')"
echo "== rnn4j JMH: suites $SUITES, devices $DEVICES ${QUICK_ARG[*]:-}"
java -jar "$JAR" -p suite="$SUITES" -p device="$DEVICES" "${QUICK_ARG[@]}" -rf json -rff "$RAW" "${EXTRA[@]}"

if [ "$CUDNN" = 1 ]; then
  echo "== cuDNN side-by-side ($PY)"
  "$PY" "$HERE/scripts/cudnn_bench.py" --suite "$SUITES" "${QUICK_ARG[@]}" --out "$CUD" || \
    echo "run.sh: cudnn_bench.py failed; the report goes on without cuDNN"
fi
LOAD_AFTER="$(uptime | sed 's/^ *//')"

OUT="$HERE/results/$DATE-$MACHINE.md"
"$PY" "$HERE/scripts/report.py" --kind gpu --jmh "$RAW" --cudnn "$CUD" --out "$OUT" \
  --title "rnn4j GPU benchmarks ($SUITES), $DATE" \
  --load-before "$LOAD_BEFORE" --load-after "$LOAD_AFTER" \
  --note "JMH: -p suite=$SUITES -p device=$DEVICES ${QUICK_ARG[*]:-} ${EXTRA[*]:-}" \
  --note "raw JSON: results/raw/$(basename "$RAW"), results/raw/$(basename "$CUD")"
