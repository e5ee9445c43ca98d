#!/usr/bin/env bash
# #23, fifth pass (block cells, 8-row groups at long k, no output copy, W_ih column panels): one thread pinned to
# core 0, CPU time of the calling thread.
#   1. rnn4j against PyTorch 2.7.1 (DJL) and, for LSTM, DL4J 1.0.0-M2.1, alternating per round (CpuTimeCompare here):
#      forward at the issue's shapes and B = 1, 8 for LSTM, GRU and RNN, Vector API; then plain Java (no
#      --add-modules); then the training step
#   2. BASE (the session's starting commit) against HEAD, forward and training step, both builds in one JVM
#      alternating (TwoBuildsAB here: ../cpu-inference-2026-12-07-c's plus training steps)
#   3. streaming: one RecurrentStream.step at B = 1, I = H = 256 (../cpu-inference-2026-12-07-b/StepTime), and the
#      read bandwidth of one core at the weights' sizes (../cpu-inference-2026-12-07-c/ReadBandwidth)
# Usage (repo root, after mvn -o compile and the benchmarks jar built with DL4J):
#   BASE=794c057 JAR=benchmarks/target/benchmarks.jar OUT=/tmp/x bash benchmarks/results/raw/cpu-inference-2026-12-07-f/run.sh
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); RAW=$(dirname "$HERE")
BASE=${BASE:-794c057}; JAR=${JAR:-benchmarks/target/benchmarks.jar}; OUT=${OUT:-/tmp/bench23f}
mkdir -p $OUT/cls $OUT/head $OUT/base-tree
cp -r target/classes/. $OUT/head/
git worktree add -q --detach $OUT/base-tree $BASE && (cd $OUT/base-tree && mvn -B -q -o compile > $OUT/base-build.log 2>&1)
javac -cp $OUT/head:$JAR -d $OUT/cls $HERE/CpuTimeCompare.java 2>/dev/null
javac -d $OUT/cls $HERE/TwoBuildsAB.java
javac -cp $OUT/head -d $OUT/cls $RAW/cpu-inference-2026-12-07-b/StepTime.java
javac --add-modules jdk.incubator.vector -d $OUT/cls $RAW/cpu-inference-2026-12-07-c/ReadBandwidth.java 2>/dev/null
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
FWD="lstm-I128-H128-B32-T50 lstm-I256-H256-B32-T100 lstm-I512-H512-B64-T50 lstm-I1024-H1024-B16-T25 lstm-I256-H256-B1-T100 lstm-I256-H256-B8-T100 gru-I256-H256-B32-T100 gru-I256-H256-B1-T100 gru-I256-H256-B8-T100 tanh-I256-H256-B32-T100 tanh-I256-H256-B1-T100 tanh-I256-H256-B8-T100"
TRAIN="lstm-I128-H128-B32-T50 lstm-I256-H256-B32-T100 lstm-I512-H512-B64-T50 lstm-I1024-H1024-B16-T25 gru-I256-H256-B32-T100 tanh-I256-H256-B32-T100"
VEC="--add-modules jdk.incubator.vector -Drnn4j.vector.warmUp=false"
note() { echo "== $1 $(date -u +%T) $(uptime)" >> $OUT/load.txt; }
cmp() {  # name, jvm flags, mode, shapes
  note "$1 start"
  taskset -c 0 java $2 -Drnn4j.threads=1 -Dai.djl.offline=true -cp $OUT/cls:$OUT/head:$JAR CpuTimeCompare $3 5 $4 \
    2> $OUT/$1.log | grep -v '^#' > $OUT/$1.csv
  note "$1 end"
}
cmp forward-vector "$VEC" forward "$FWD"
cmp forward-plain "" forward "$FWD"
cmp train-vector "$VEC" trainingStep "$TRAIN"
note "two builds start"
AB_TRAIN=$(echo $TRAIN | sed 's/lstm-/lstmtrain-/g; s/gru-/grutrain-/g; s/tanh-/tanhtrain-/g')
taskset -c 0 java $VEC -Drnn4j.threads=1 -cp $OUT/cls TwoBuildsAB $OUT/base-tree/target/classes $OUT/head 5 $FWD \
  2>&1 | grep -v 'INFO\|chooseKernel\|WARNING' > $OUT/two-builds-forward.txt
taskset -c 0 java $VEC -Drnn4j.threads=1 -cp $OUT/cls TwoBuildsAB $OUT/base-tree/target/classes $OUT/head 5 $AB_TRAIN \
  2>&1 | grep -v 'INFO\|chooseKernel\|WARNING' > $OUT/two-builds-train.txt
note "step start"
taskset -c 0 java $VEC -Drnn4j.threads=1 -cp $OUT/cls:$OUT/head StepTime LSTM,GRU,RNN_TANH 3000 > $OUT/steptime-vector.txt 2>&1
taskset -c 0 java -Drnn4j.threads=1 -cp $OUT/cls:$OUT/head StepTime LSTM,GRU,RNN_TANH 3000 > $OUT/steptime-plain.txt 2>&1
taskset -c 0 java --add-modules jdk.incubator.vector -cp $OUT/cls ReadBandwidth 512 1024 1536 2048 4096 65536 > $OUT/bandwidth.txt 2>&1
note "step end"
git worktree remove --force $OUT/base-tree
