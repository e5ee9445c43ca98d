#!/usr/bin/env bash
# #23, float cells (branch cellmath): the harnesses of ../cpu-inference-2026-12-07-c, one thread pinned to core 0,
# CPU time of the calling thread, Vector API path:
#   1. main (the base) against the branch, forward, both builds in one JVM alternating (TwoBuildsAB), Vector API and
#      plain Java, and each build against itself (the noise floor of the same minutes)
#   2. rnn4j against PyTorch 2.7.1 (DJL), alternating per round (CpuTimeCompare), the branch and then main
#   3. where the LSTM (256, 256, 32, 100) forward goes (Phases)
# "main" is the branch's base with only CpuCells.java and VectorCells.java taken from BASE (the two files the branch
# changes), compiled over a copy of the branch's target/classes. The files beside this script come from these same
# commands run one at a time (their names say the commit and the run; load.txt has each one's minutes); in
# same-vs-same.txt "branch2" is an uncommitted step between 7c4930b and 336796a (the exp core written out in two
# vector methods instead of one). Usage (repo root, after mvn test-compile):
#   BASE=22de858 JAR=/path/to/benchmarks.jar OUT=/tmp/x bash benchmarks/results/raw/cpu-inference-2026-12-07-e/run.sh
set -uo pipefail
C=$(cd "$(dirname "$0")/../cpu-inference-2026-12-07-c" && pwd)
BASE=${BASE:-22de858}; JAR=${JAR:-/tmp/ci/benchmarks.jar}; OUT=${OUT:-/tmp/bench23e}
mkdir -p $OUT/cls $OUT/base-src $OUT/branch $OUT/base
cp -r target/classes/. $OUT/branch/; cp -r target/classes/. $OUT/base/
git archive $BASE src/main/java/org/rnn4j/cpu/CpuCells.java src/main/java-incubator/org/rnn4j/cpu/VectorCells.java \
  | tar -x -C $OUT/base-src
javac --add-modules jdk.incubator.vector -nowarn -d $OUT/base -cp $OUT/base \
  $OUT/base-src/src/main/java/org/rnn4j/cpu/CpuCells.java $OUT/base-src/src/main/java-incubator/org/rnn4j/cpu/VectorCells.java
javac --add-modules jdk.incubator.vector -d $OUT/cls $C/TwoBuildsAB.java 2>/dev/null
javac -cp $OUT/branch:$JAR -d $OUT/cls $C/CpuTimeCompare.java 2>/dev/null
javac --add-modules jdk.incubator.vector -cp $OUT/branch -d $OUT/cls $C/Prof.java $C/Phases.java 2>/dev/null
export OMP_WAIT_POLICY=PASSIVE
FWD="lstm-I128-H128-B32-T50 lstm-I256-H256-B32-T100 lstm-I512-H512-B64-T50 lstm-I1024-H1024-B16-T25 lstm-I256-H256-B1-T100 lstm-I256-H256-B8-T100 gru-I256-H256-B32-T100 tanh-I256-H256-B32-T100"
S256="lstm-I256-H256-B32-T100 gru-I256-H256-B32-T100 tanh-I256-H256-B32-T100"
VEC="--add-modules jdk.incubator.vector -Drnn4j.vector.warmUp=false"
note() { echo "== $1 $(date -u +%T) $(uptime)" >> $OUT/load.txt; }
note "two builds start"
taskset -c 0 java $VEC -Drnn4j.threads=1 -cp $OUT/cls TwoBuildsAB $OUT/base $OUT/branch 7 $FWD > $OUT/two-builds-ab.txt 2>&1
taskset -c 0 java -Drnn4j.threads=1 -cp $OUT/cls TwoBuildsAB $OUT/base $OUT/branch 5 $S256 > $OUT/two-builds-ab-plain.txt 2>&1
for b in base branch; do
  taskset -c 0 java $VEC -Drnn4j.threads=1 -cp $OUT/cls TwoBuildsAB $OUT/$b $OUT/$b 5 $S256 >> $OUT/same-vs-same.txt 2>&1
done
note "two builds end"
for b in branch base; do
  note "forward-vector-$b start"
  taskset -c 0 java $VEC -Drnn4j.threads=1 -Dai.djl.offline=true -cp $OUT/cls:$OUT/$b:$JAR CpuTimeCompare forward 5 $FWD \
    > $OUT/forward-vector-$b.csv 2>/dev/null
  note "forward-vector-$b end"
done
taskset -c 0 java $VEC -Drnn4j.threads=1 -cp $OUT/cls:$OUT/branch org.rnn4j.cpu.Phases 256 256 32 100 > $OUT/phases.txt 2>&1
note "all end"
