#!/usr/bin/env bash
# One run for #23, third pass (branch cpufwd): CPU time of the calling thread, one thread per library pinned to one
# core, rnn4j and PyTorch 2.7.1 (DJL) alternating per round (CpuTimeCompare), for
#   1. forward, Vector API, the branch
#   2. forward, plain Java (no --add-modules), the branch
#   3. training step, Vector API, the branch (the inference change does not touch its code)
#   4. main (the base) against the branch, forward, both builds in one JVM, alternating (TwoBuildsAB), Vector API
#      and plain Java
#   5. streaming step B = 1, H = 256 (StepTime of ../cpu-inference-2026-12-07-b), branch, Vector API and plain Java
#   6. read bandwidth of one core per working-set size (ReadBandwidth)
#   7. where the LSTM (256, 256, 32, 100) forward goes (Phases: GEMM rates against this core's FMA peak)
# rnn4j's classes come ahead of main's benchmarks.jar on the classpath (no mvn install). Usage (repo root):
#   BRANCH=target/classes MAIN=/path/to/main/target/classes JAR=/path/to/benchmarks.jar OUT=/tmp/x \
#     bash benchmarks/results/raw/cpu-inference-2026-12-07-c/run.sh
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
JAR=${JAR:-/tmp/ci/benchmarks.jar}; BRANCH=${BRANCH:-target/classes}; MAIN=${MAIN:-/work/main/target/classes}
OUT=${OUT:-/tmp/bench23c}; mkdir -p $OUT/cls
javac -cp $BRANCH:$JAR -d $OUT/cls $HERE/CpuTimeCompare.java $HERE/../cpu-inference-2026-12-07-b/StepTime.java 2>/dev/null
javac --add-modules jdk.incubator.vector -d $OUT/cls $HERE/ReadBandwidth.java $HERE/TwoBuildsAB.java 2>/dev/null
javac --add-modules jdk.incubator.vector -cp $BRANCH -d $OUT/cls $HERE/Prof.java $HERE/Phases.java 2>/dev/null
export OMP_WAIT_POLICY=PASSIVE
FWD="lstm-I128-H128-B32-T50 lstm-I256-H256-B32-T100 lstm-I512-H512-B64-T50 lstm-I1024-H1024-B16-T25 lstm-I256-H256-B1-T100 lstm-I256-H256-B8-T100 gru-I256-H256-B32-T100 tanh-I256-H256-B32-T100"
VEC="--add-modules jdk.incubator.vector -Drnn4j.vector.warmUp=false"
run() {  # name, classes, jvm flags, mode, shapes
  echo "== $1 start $(uptime)" >> $OUT/load.txt
  taskset -c 0 java $3 -Drnn4j.threads=1 -Dai.djl.offline=true -cp $OUT/cls:$2:$JAR CpuTimeCompare $4 5 $5 \
    > $OUT/$1.csv 2> $OUT/$1.log
  echo "== $1 end   $(uptime)" >> $OUT/load.txt
  cat $OUT/$1.csv
}
run forward-vector-branch $BRANCH "$VEC" forward "$FWD"
run forward-plain-branch $BRANCH "" forward "$FWD"
run train-vector-branch $BRANCH "$VEC" trainingStep "lstm-I128-H128-B32-T50 lstm-I256-H256-B32-T100 lstm-I512-H512-B64-T50 lstm-I1024-H1024-B16-T25 gru-I256-H256-B32-T100 tanh-I256-H256-B32-T100"
echo "== two builds start $(uptime)" >> $OUT/load.txt
taskset -c 0 java $VEC -Drnn4j.threads=1 -cp $OUT/cls TwoBuildsAB $MAIN $BRANCH 5 $FWD > $OUT/two-builds-ab.txt 2>&1
taskset -c 0 java -Drnn4j.threads=1 -cp $OUT/cls TwoBuildsAB $MAIN $BRANCH 5 $FWD > $OUT/two-builds-ab-plain.txt 2>&1
echo "== step start $(uptime)" >> $OUT/load.txt
taskset -c 0 java $VEC -Drnn4j.threads=1 -cp $OUT/cls:$BRANCH StepTime LSTM,GRU,RNN_TANH 3000 > $OUT/steptime-vector.txt 2>&1
taskset -c 0 java -Drnn4j.threads=1 -cp $OUT/cls:$BRANCH StepTime LSTM,GRU,RNN_TANH 3000 > $OUT/steptime-plain.txt 2>&1
taskset -c 0 java --add-modules jdk.incubator.vector -cp $OUT/cls ReadBandwidth 512 1024 1536 2048 3072 4096 65536 > $OUT/bandwidth.txt 2>&1
taskset -c 0 java $VEC -Drnn4j.threads=1 -cp $OUT/cls:$BRANCH org.rnn4j.cpu.Phases 256 256 32 100 > $OUT/phases.txt 2>&1
echo "== step end   $(uptime)" >> $OUT/load.txt
