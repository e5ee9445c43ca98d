#!/usr/bin/env bash
# One interleaved run for #23: rnn4j inference forward (Vector API and plain Java) vs PyTorch 2.7.1 (DJL), per shape back to back.
set -uo pipefail
cd /work/main/benchmarks
JAR=target/benchmarks.jar
OUT=/tmp/bench23; mkdir -p $OUT
export OMP_WAIT_POLICY=PASSIVE
MODE=(-f 1 -wi 2 -w 2s -i 3 -r 1s)
uptime > $OUT/load-before.txt
for shape in "$@"; do
  echo "== $shape $(date +%T) $(cut -d' ' -f1-3 /proc/loadavg)"
  java --add-modules jdk.incubator.vector -Drnn4j.vector.warmUp=false -Drnn4j.threads=2 -cp $JAR org.rnn4j.bench.BenchMain \
     '^org\.rnn4j\.bench\.LayerBenchmark\.forward$' -p shape=$shape "${MODE[@]}" -rf json -rff $OUT/vec-$shape.json 2>&1 | grep -E "^LayerBenchmark|Benchmark +\(" | tail -1
  java -Drnn4j.threads=2 -cp $JAR org.rnn4j.bench.BenchMain \
     '^org\.rnn4j\.bench\.LayerBenchmark\.forward$' -p shape=$shape "${MODE[@]}" -rf json -rff $OUT/plain-$shape.json 2>&1 | grep -E "^LayerBenchmark" | tail -1
  java -Dai.djl.offline=true -cp $JAR org.rnn4j.bench.BenchMain \
     '^org\.rnn4j\.bench\.DjlRnnBenchmark\.forward$' -p shape=$shape "${MODE[@]}" -rf json -rff $OUT/torch-$shape.json 2>&1 | grep -E "^DjlRnnBenchmark" | tail -1
done
uptime > $OUT/load-after.txt
