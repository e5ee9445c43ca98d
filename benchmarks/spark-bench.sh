#!/usr/bin/env bash
# Data-parallel training on Spark's local mode: 1 task thread and 1 partition against 2 and 2, interleaved,
# the same global batch. Prints each run's loss, steps/s, sequences/s and the share of a step outside the
# slowest task's gradient computation (scheduling, broadcast, serialization, aggregation, driver update).
# Usage: benchmarks/spark-bench.sh [steps] [rounds]   (after: mvn -q -DskipTests compile)
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-25}
rounds=${2:-2}
mvn -o -q dependency:build-classpath -Dmdep.outputFile=target/spark-bench.cp >/dev/null
opens=$(sed -n 's:.*<argLine>\(.*\)</argLine>.*:\1:p' pom.xml)
for r in $(seq "$rounds"); do
  for n in 1 2; do
    echo "== round $r: local[$n], $n partition(s)"
    java $opens -cp "target/classes:$(cat target/spark-bench.cp)" org.rnn4j.cli.Main spark \
      --master "local[$n]" --partitions "$n" --steps "$steps" --batch 64 2>/dev/null
  done
done
