#!/usr/bin/env bash
# Seq2Seq training step: rnn4j's CPU engine against the same model in PyTorch (CPU), interleaved rounds
# (rnn4j, PyTorch, rnn4j, PyTorch, ...) so that both see the same machine load. Needs target/classes (mvn compile)
# and a python3 with torch ($PYTHON, default /usr/bin/python3). Usage: benchmarks/seq2seq-vs-torch.sh [ROUNDS] [WARMUP] [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
WARMUP=${2:-20}
STEPS=${3:-50}
DEPS=$(mktemp)
mvn -B -q -o -Dstyle.color=never dependency:build-classpath -Dmdep.includeScope=runtime -Dmdep.outputFile="$DEPS" > /dev/null
CP=target/classes:$(cat "$DEPS")
rm -f "$DEPS"
PYTHON=${PYTHON:-/usr/bin/python3}   # the interpreter with torch (Debian's python3-torch here)
export OMP_WAIT_POLICY=PASSIVE   # see run-cpu.sh: spinning OpenMP threads cost PyTorch dearly on a shared machine
echo "commit $(git rev-parse --short HEAD); $(nproc) CPUs; load before: $(uptime)"
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r"
  java --add-modules jdk.incubator.vector -cp "$CP" benchmarks/scripts/Seq2SeqStep.java "$WARMUP" "$STEPS" 2>&1 | grep -v -E 'WARNING|INFO|chooseKernel|warning|^1 warning'
  "$PYTHON" benchmarks/scripts/seq2seq_step.py "$WARMUP" "$STEPS"
done
echo "load after: $(uptime)"
