#!/usr/bin/env bash
# #23, sixth pass (flat panels for the Vector API kernel):
#   1. rnn4j against PyTorch 2.7.1 (DJL) and, for LSTM, DL4J 1.0.0-M2.1, forward, one thread pinned to core 0, CPU time
#      of the calling thread (../cpu-inference-2026-12-07-f/CpuTimeCompare)
#   2. the same on both cores, wall clock (-Dclock=wall; rnn4j.threads=2, OMP_NUM_THREADS=2, PyTorch's intra-op
#      threads = availableProcessors() = 2): the issue's own setup
#   3. BASE (the session's starting commit) against HEAD, forward, both builds in one JVM alternating
#      (../cpu-inference-2026-12-07-f/TwoBuildsAB)
#   4. streaming: one RecurrentStream.step at B = 1, I = H = 256 (../cpu-inference-2026-12-07-b/StepTime)
#   (with TWO_BUILDS_2T=1, also 3 on both cores, wall clock: TwoBuildsAB -Dclock=wall)
# Usage (repo root, after mvn -o compile and the benchmarks jar built with DL4J):
#   BASE=7023859 JAR=benchmarks/target/benchmarks.jar OUT=/tmp/x bash benchmarks/results/raw/cpu-inference-2026-12-07-g/run.sh
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); RAW=$(dirname "$HERE")
BASE=${BASE:-7023859}; JAR=${JAR:-benchmarks/target/benchmarks.jar}; OUT=${OUT:-/tmp/bench23g}
mkdir -p $OUT/cls $OUT/head $OUT/base-tree
cp -r target/classes/. $OUT/head/
git worktree add -q --detach $OUT/base-tree $BASE && (cd $OUT/base-tree && mvn -B -q -o compile > $OUT/base-build.log 2>&1)
javac -cp $OUT/head:$JAR -d $OUT/cls $RAW/cpu-inference-2026-12-07-f/CpuTimeCompare.java 2>/dev/null
javac -d $OUT/cls $RAW/cpu-inference-2026-12-07-f/TwoBuildsAB.java
javac -cp $OUT/head -d $OUT/cls $RAW/cpu-inference-2026-12-07-b/StepTime.java
export OMP_WAIT_POLICY=PASSIVE
FWD="lstm-I128-H128-B32-T50 lstm-I256-H256-B32-T100 lstm-I512-H512-B64-T50 lstm-I1024-H1024-B16-T25 lstm-I256-H256-B1-T100 lstm-I256-H256-B8-T100 gru-I256-H256-B32-T100 gru-I256-H256-B1-T100 gru-I256-H256-B8-T100 tanh-I256-H256-B32-T100 tanh-I256-H256-B1-T100 tanh-I256-H256-B8-T100"
VEC="--add-modules jdk.incubator.vector -Drnn4j.vector.warmUp=false"
note() { echo "== $1 $(date -u +%T) $(uptime)" >> $OUT/load.txt; }
note "forward-1t start"
OMP_NUM_THREADS=1 taskset -c 0 java $VEC -Drnn4j.threads=1 -Dai.djl.offline=true -cp $OUT/cls:$OUT/head:$JAR \
  CpuTimeCompare forward 5 $FWD 2> $OUT/forward-1t.log | grep -v '^#' > $OUT/forward-1t.csv
note "forward-2t start"
OMP_NUM_THREADS=2 java $VEC -Drnn4j.threads=2 -Dai.djl.offline=true -Dclock=wall -cp $OUT/cls:$OUT/head:$JAR \
  CpuTimeCompare forward 5 $FWD 2> $OUT/forward-2t.log | grep -v '^#' > $OUT/forward-2t.csv
note "two builds start"
taskset -c 0 java $VEC -Drnn4j.threads=1 -cp $OUT/cls TwoBuildsAB $OUT/base-tree/target/classes $OUT/head 5 $FWD \
  2>&1 | grep -v 'INFO\|chooseKernel\|WARNING' > $OUT/two-builds-forward.txt
if [ -n "${TWO_BUILDS_2T:-}" ]; then   # optional, off by default: BASE against HEAD on two threads, wall clock
  note "two builds 2t start"
  java $VEC -Drnn4j.threads=2 -Dclock=wall -cp $OUT/cls TwoBuildsAB $OUT/base-tree/target/classes $OUT/head 7 $FWD \
    2>&1 | grep -v 'INFO\|chooseKernel\|WARNING' > $OUT/two-builds-forward-2t.txt
fi
note "step start"
taskset -c 0 java $VEC -Drnn4j.threads=1 -cp $OUT/cls:$OUT/head StepTime LSTM,GRU,RNN_TANH 3000 > $OUT/steptime-vector.txt 2>&1
note "step end"
git worktree remove --force $OUT/base-tree
