#!/usr/bin/env bash
# One interleaved run for #23 on branch cpuinfer: the streaming step (StreamingBenchmark, one core, Vector API and plain
# Java), then per shape rnn4j's inference forward (Vector API, plain Java) and PyTorch 2.7.1 (DJL) back to back.
# rnn4j's classes come from the worktree's target/classes, ahead of main's benchmarks.jar on the classpath (no
# mvn install: the jar's own rnn4j classes are shadowed; the benchmark classes are main's, unchanged on the branch).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../../../.." && pwd)
JAR=${JAR:-/tmp/ci/benchmarks.jar}
CP=$ROOT/target/classes:$JAR
OUT=${OUT:-/tmp/bench23b}; mkdir -p $OUT
export OMP_WAIT_POLICY=PASSIVE
# THREADS=1 PIN="taskset -c 1" STREAMING=no: the single-core pass (DjlRnnBenchmark takes availableProcessors()
# intra-op threads, 1 under taskset)
THREADS=${THREADS:-2}
PIN=${PIN:-}
MODE=(-f 1 -wi 2 -w 2s -i 3 -r 1s)
uptime > $OUT/load-before.txt
if [ "${STREAMING:-yes}" = yes ]; then
echo "== streaming $(date +%T) $(cut -d' ' -f1-3 /proc/loadavg)"
taskset -c 1 java -cp $CP org.rnn4j.bench.BenchMain StreamingBenchmark -f 1 -wi 3 -w 1s -i 5 -r 1s \
   -rf json -rff $OUT/streaming-vector.json > $OUT/streaming-vector.log 2>&1; grep -E "^StreamingBenchmark" $OUT/streaming-vector.log
taskset -c 1 java -cp $CP org.rnn4j.bench.BenchMain StreamingBenchmark -f 1 -wi 3 -w 1s -i 5 -r 1s \
   -jvmArgsAppend "-Drnn4j.threads=1" -rf json -rff $OUT/streaming-plain.json > $OUT/streaming-plain.log 2>&1
grep -E "^StreamingBenchmark" $OUT/streaming-plain.log
fi
for shape in "$@"; do
  echo "== $shape $(date +%T) $(cut -d' ' -f1-3 /proc/loadavg)"
  $PIN java --add-modules jdk.incubator.vector -Drnn4j.vector.warmUp=false -Drnn4j.threads=$THREADS -cp $CP org.rnn4j.bench.BenchMain \
     '^org\.rnn4j\.bench\.LayerBenchmark\.forward$' -p shape=$shape "${MODE[@]}" \
     -rf json -rff $OUT/vec-$shape.json > $OUT/vec-$shape.log 2>&1; grep -E "^LayerBenchmark" $OUT/vec-$shape.log | tail -1
  # plain Java: -jvmArgsAppend replaces LayerBenchmark's @Fork(jvmArgsAppend = --add-modules ...), which would
  # otherwise give the fork the Vector API (as it did in cpu-inference-2026-12-07.md's "plain Java" column)
  $PIN java -Drnn4j.threads=$THREADS -cp $CP org.rnn4j.bench.BenchMain \
     '^org\.rnn4j\.bench\.LayerBenchmark\.forward$' -p shape=$shape "${MODE[@]}" -jvmArgsAppend "-Drnn4j.threads=$THREADS" \
     -rf json -rff $OUT/plain-$shape.json > $OUT/plain-$shape.log 2>&1; grep -E "^LayerBenchmark" $OUT/plain-$shape.log | tail -1
  $PIN java -Dai.djl.offline=true -cp $CP org.rnn4j.bench.BenchMain \
     '^org\.rnn4j\.bench\.DjlRnnBenchmark\.forward$' -p shape=$shape "${MODE[@]}" \
     -rf json -rff $OUT/torch-$shape.json > $OUT/torch-$shape.log 2>&1; grep -E "^DjlRnnBenchmark" $OUT/torch-$shape.log | tail -1
done
uptime > $OUT/load-after.txt
