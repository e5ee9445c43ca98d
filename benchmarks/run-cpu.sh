#!/usr/bin/env bash
# The CPU side-by-side: rnn4j's pure-Java CPU engine vs Deeplearning4j's LSTM (nd4j-native, OpenBLAS) at the
# foundation shapes (-p suite=cpu), forward and training step. Writes benchmarks/results/cpu-<date>.md and keeps
# the JMH JSON under benchmarks/results/raw/. About 15 minutes on a 2-core machine (build included).
# Figures are medians of the JMH iterations (report.py --stat median): steadier than means on a shared machine.
#
#   benchmarks/run-cpu.sh              # build (library install + benchmarks.jar), run, report
#   benchmarks/run-cpu.sh --no-build   # reuse benchmarks/target/benchmarks.jar
#   benchmarks/run-cpu.sh --quick      # shorter iterations, for a smoke test (figures not for publishing)
#   extra JMH arguments after --, e.g. -- -p shape=lstm-I128-H128-B32-T50 -p lstmShape=lstm-I128-H128-B32-T50
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BUILD=1
MODE=(-f 1 -wi 2 -i 5 -w 2s -r 2s)
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) BUILD=0 ;;
    --quick) MODE=(-f 1 -wi 1 -i 1 -w 1s -r 1s) ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "run-cpu.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ "$BUILD" = 1 ]; then
  echo "== building: library install, then benchmarks.jar"
  (cd "$ROOT" && mvn -q -B -Dmaven.test.skip=true install)
  (cd "$HERE" && mvn -q -B package)
fi
JAR="$HERE/target/benchmarks.jar"
[ -f "$JAR" ] || { echo "run-cpu.sh: $JAR missing; run without --no-build" >&2; exit 1; }

DATE="$(date +%Y-%m-%d)"
STAMP="$(date +%Y%m%d-%H%M%S)"
mkdir -p "$HERE/results/raw"
RAW="$HERE/results/raw/cpu-$STAMP.json"
LOAD_BEFORE="$(uptime | sed 's/^ *//')"
echo "== load before: $LOAD_BEFORE"
# DL4J's OpenMP threads spin while waiting by default; on a machine shared with other jobs that spinning
# costs it 10-20x (measured: 10.4 s vs 0.52 s for one forward at I=H=128 B=32 T=50), so they wait passively.
OMP_WAIT_POLICY=PASSIVE java -jar "$JAR" -p suite=cpu -p device=cpu "${MODE[@]}" \
  -rf json -rff "$RAW" "${EXTRA[@]}"
LOAD_AFTER="$(uptime | sed 's/^ *//')"
echo "== load after: $LOAD_AFTER"

python3 "$HERE/scripts/report.py" --kind cpu --stat median --jmh "$RAW" --out "$HERE/results/cpu-$DATE.md" \
  --title "rnn4j CPU engine vs Deeplearning4j 1.0.0-M2.1, $DATE" \
  --load-before "$LOAD_BEFORE" --load-after "$LOAD_AFTER" \
  --note "JMH arguments: -p suite=cpu ${MODE[*]} ${EXTRA[*]:-}; DL4J with OMP_WAIT_POLICY=PASSIVE" \
  --note "raw JMH JSON: results/raw/$(basename "$RAW")" \
  ${RNN4J_BENCH_NOTE:+--note "$RNN4J_BENCH_NOTE"}
