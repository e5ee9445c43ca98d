package org.rnn4j.bench;

import java.util.concurrent.TimeUnit;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;

/**
 * The machine's FP32 FMA peak as a JVM sees it: a register-resident loop of independent vector fused
 * multiply-adds ({@link FloatVector#SPECIES_PREFERRED}, 12 accumulators, enough to cover the FMA latency on
 * two pipes), no memory traffic. Score is ms per call of {@value #STEPS} steps x 12 vector FMAs; GFLOP/s =
 * {@code STEPS · 12 · 2 · lanes / time} per thread, times the threads for {@link #allCores}. The GEMM's
 * fraction of peak is its GFLOP/s over {@link #allCores}' (same run).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class FmaPeakBenchmark {

    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int STEPS = 1_000_000;

    /** Per-thread x, so that nothing is constant-folded. */
    public float x = 1.0001f;

    @Benchmark
    @Threads(1)
    public float oneCore() {
        return loop(x);
    }

    @Benchmark
    @Threads(Threads.MAX)
    public float allCores() {
        return loop(x);
    }

    static float loop(float seed) {
        FloatVector m = FloatVector.broadcast(S, 0.9999f), a = FloatVector.broadcast(S, seed);
        FloatVector c0 = a, c1 = a.add(1f), c2 = a.add(2f), c3 = a.add(3f), c4 = a.add(4f), c5 = a.add(5f);
        FloatVector c6 = a.add(6f), c7 = a.add(7f), c8 = a.add(8f), c9 = a.add(9f), c10 = a.add(10f), c11 = a.add(11f);
        for (int i = 0; i < STEPS; i++) {
            c0 = c0.fma(m, a);
            c1 = c1.fma(m, a);
            c2 = c2.fma(m, a);
            c3 = c3.fma(m, a);
            c4 = c4.fma(m, a);
            c5 = c5.fma(m, a);
            c6 = c6.fma(m, a);
            c7 = c7.fma(m, a);
            c8 = c8.fma(m, a);
            c9 = c9.fma(m, a);
            c10 = c10.fma(m, a);
            c11 = c11.fma(m, a);
        }
        return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11)
                .reduceLanes(VectorOperators.ADD);
    }
}
