#!/usr/bin/env bash
# Data-parallel training on Spark's local mode: 1 task thread and 1 partition against 2 and 2, interleaved,
# the same global batch. Prints each run's loss, steps/s, sequences/s and the share of a step outside the
# slowest task's gradient computation (scheduling, broadcast, serialization, aggregation, driver update).
# Usage: benchmarks/spark-bench.sh [steps] [rounds]   (after: mvn -q -DskipTests compile)
# Spark's own log goes to stderr at WARN (benchmarks/log4j2-warn.properties); errors stay visible.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-25}
rounds=${2:-2}
mvn -q dependency:build-classpath -Dmdep.outputFile=target/spark-bench.cp
# Spark's --add-opens flags, as the tests get them (pom.xml's spark.jvm.opens), and the Vector API kernels
opens=$(sed -n 's:.*<spark.jvm.opens>\(.*\)</spark.jvm.opens>.*:\1:p' pom.xml)
if [[ -z "$opens" ]]; then
  echo "spark-bench.sh: no <spark.jvm.opens> property in pom.xml" >&2
  exit 1
fi
for r in $(seq "$rounds"); do
  for n in 1 2; do
    echo "== round $r: local[$n], $n partition(s)"
    # shellcheck disable=SC2086  # $opens is a list of JVM options
    java --add-modules jdk.incubator.vector $opens -Dlog4j2.configurationFile=benchmarks/log4j2-warn.properties \
      -cp "target/classes:$(cat target/spark-bench.cp)" org.rnn4j.cli.Main spark \
      --master "local[$n]" --partitions "$n" --steps "$steps" --batch 64
  done
done
