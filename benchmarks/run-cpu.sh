#!/usr/bin/env bash
# The CPU side-by-side: rnn4j's pure-Java CPU engine (Vector API kernels: the JVM runs with
# --add-modules jdk.incubator.vector) vs PyTorch 2.7.1 (DJL, MKL/oneDNN) vs Deeplearning4j's LSTM (nd4j-native,
# OpenBLAS) at the foundation shapes (suite cpu), forward and training step; then the GEMM alone at 1024^3 and the
# per-step products against the FMA peak. Interleaved: for each round, for each shape, the three libraries back
# to back, so that a change in the machine's load hits all three. Writes benchmarks/results/cpu-<date>.md and keeps
# the JMH JSON under benchmarks/results/raw/. Figures are medians of the iterations, pooled over the rounds.
#
#   benchmarks/run-cpu.sh              # build (library install + benchmarks.jar), run, report
#   benchmarks/run-cpu.sh --no-build   # reuse benchmarks/target/benchmarks.jar
#   benchmarks/run-cpu.sh --quick      # one round, shorter iterations, for a smoke test (figures not for publishing)
#   extra JMH arguments after --
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BUILD=1
ROUNDS="${RNN4J_ROUNDS:-2}"
MODE=(-f 1 -wi 2 -i 3 -w 5s -r 1s)
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) BUILD=0 ;;
    --quick) MODE=(-f 1 -wi 1 -i 1 -w 1s -r 1s); ROUNDS=1 ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
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
LOAD_BEFORE="$(uptime | sed 's/^ *//')"
echo "== load before: $LOAD_BEFORE"
# OpenMP (DL4J's OpenBLAS, PyTorch's libgomp) spins while waiting by default; on a machine shared with other jobs
# that spinning costs it 10-400x (measured: PyTorch LSTM forward 3040 ms spinning vs 6-9 ms passive at H=128), so
# its threads wait passively. The forks inherit the host JVM's options, --add-modules included.
export OMP_WAIT_POLICY=PASSIVE
# rnn4j.vector.warmUp=false: the Vector API code runs from the first call, JMH's warm-up iterations compile it
# (by default the library runs its plain-Java twins until a background thread has seen it compiled).
# RNN4J_CLASSES (e.g. target/classes) goes before the jar: a working tree measured without reinstalling.
JAVA=(java --add-modules jdk.incubator.vector -Drnn4j.vector.warmUp=false -cp "${RNN4J_CLASSES:+$RNN4J_CLASSES:}$JAR"
      org.rnn4j.bench.BenchMain)
SHAPES=(lstm-I128-H128-B32-T50 lstm-I256-H256-B32-T100 lstm-I512-H512-B64-T50 lstm-I1024-H1024-B16-T25
        gru-I256-H256-B32-T100 tanh-I256-H256-B32-T100)
RAWS=()
for round in $(seq 1 "$ROUNDS"); do
  for shape in "${SHAPES[@]}"; do
    RAW="$HERE/results/raw/cpu-$STAMP-r$round-$shape.json"
    INCLUDE='^org\.rnn4j\.bench\.(LayerBenchmark|DjlRnnBenchmark)\.'
    LSTM=()
    case "$shape" in lstm-*) INCLUDE='^org\.rnn4j\.bench\.(LayerBenchmark|DjlRnnBenchmark|Dl4jLstmBenchmark)\.'
                             LSTM=(-p "lstmShape=$shape") ;; esac
    echo "== round $round, $shape"
    "${JAVA[@]}" "$INCLUDE" -p "shape=$shape" "${LSTM[@]}" "${MODE[@]}" \
      -rf json -rff "$RAW" "${EXTRA[@]}" | grep -E '^(# (rnn4j|PyTorch|cpu:)|Benchmark|[A-Z][A-Za-z0-9]+Benchmark\.)' || true
    RAWS+=("$RAW")
  done
done
RAW="$HERE/results/raw/cpu-$STAMP-gemm.json"
echo "== GEMM and FMA peak"
"${JAVA[@]}" '^org\.rnn4j\.bench\.(GemmBenchmark|FmaPeakBenchmark)\.' "${MODE[@]}" -rf json -rff "$RAW" "${EXTRA[@]}" \
  | grep -E '^(# cpu:|Benchmark|[A-Z][A-Za-z0-9]+Benchmark\.)' || true
RAWS+=("$RAW")
LOAD_AFTER="$(uptime | sed 's/^ *//')"
echo "== load after: $LOAD_AFTER"
KERNEL="$(RNN4J_NO_RELAUNCH=1 java --add-modules jdk.incubator.vector -cp "${RNN4J_CLASSES:+$RNN4J_CLASSES:}$JAR" \
  org.rnn4j.cli.Main info 2>/dev/null | grep '^CPU engine' || true)"

python3 "$HERE/scripts/report.py" --kind cpu --stat median --jmh "${RAWS[@]}" --out "$HERE/results/cpu-$DATE.md" \
  --title "rnn4j CPU engine vs PyTorch 2.7.1 (DJL) vs Deeplearning4j 1.0.0-M2.1, $DATE" \
  --load-before "$LOAD_BEFORE" --load-after "$LOAD_AFTER" \
  --note "$KERNEL" \
  --note "JMH arguments: ${MODE[*]} ${EXTRA[*]:-}, $ROUNDS interleaved rounds (per shape: rnn4j, PyTorch, DL4J); OMP_WAIT_POLICY=PASSIVE" \
  --note "raw JMH JSON: results/raw/cpu-$STAMP-*.json" \
  ${RNN4J_BENCH_NOTE:+--note "$RNN4J_BENCH_NOTE"}
