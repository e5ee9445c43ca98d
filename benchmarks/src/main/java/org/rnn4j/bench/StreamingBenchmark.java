package org.rnn4j.bench;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.Blackhole;
import org.rnn4j.Device;
import org.rnn4j.RecurrentLayer;
import org.rnn4j.RecurrentStream;
import org.rnn4j.Tensor;
import org.rnn4j.engine.Buffer;
import org.rnn4j.engine.Engine;

/**
 * Streaming inference latency (issue 23's target: one step at B = 1, H = 256 within 20 µs on one core):
 * {@link #step} is one {@link RecurrentStream#step} of a single stream, one time step, from the carried state, its
 * output closed and the device synchronized. {@link #recurrentGemm} and {@link #inputGemm} are the engine's two
 * products of that step alone ({@code 1 × G·H × H} and {@code 1 × G·H × I}), so that the difference is the
 * per-call overhead of the step (checks, allocation, the pointwise cell). The CPU engine runs on one thread
 * ({@code -Drnn4j.threads=1}; pin the JVM with {@code taskset -c N} for one core).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Drnn4j.threads=1", "-Drnn4j.vector.warmUp=false"})
public class StreamingBenchmark {

    @Param({"cpu"})
    public String device;

    /** {@link org.rnn4j.bench.Shape} strings with B = 1 and T = 1 (one step per call). */
    @Param({"lstm-I256-H256-B1-T1", "gru-I256-H256-B1-T1", "tanh-I256-H256-B1-T1"})
    public String shape;

    private Device dev;
    private RecurrentLayer layer;
    private RecurrentStream stream;
    private Tensor x;
    private Buffer h;
    private Buffer gates;
    private Buffer wHh;
    private Buffer wIh;
    private int gh;
    private int hidden;
    private int input;

    @Setup(Level.Trial)
    public void setUp() {
        dev = BenchDevices.open(device);
        System.out.println("# " + dev.engine().describe());
        Shape s = Shape.parse(shape);
        if (s.batch() != 1 || s.steps() != 1 || s.directions() != 1) {
            throw new IllegalArgumentException("shape: expected one unidirectional step of one stream (B1-T1), got " + shape);
        }
        layer = s.build(dev, 42).eval();
        stream = layer.stream(1);
        x = Tensor.of(dev, LayerBenchmark.randomUniform(s.input(), 7), 1, 1, s.input());
        hidden = s.hidden();
        input = s.input();
        gh = layer.parameter("weight_hh_l0").dim(0);
        wHh = layer.parameter("weight_hh_l0").buffer();
        wIh = layer.parameter("weight_ih_l0").buffer();
        Engine e = dev.engine();
        h = e.allocate(org.rnn4j.DType.F32, Math.max(hidden, input));
        gates = e.allocate(org.rnn4j.DType.F32, gh);
        e.synchronize();
    }

    @Benchmark
    public void step(Blackhole bh) {
        try (Tensor y = stream.step(x)) {
            dev.engine().synchronize();
            bh.consume(y);
        }
    }

    @Benchmark
    public void recurrentGemm() {
        Engine e = dev.engine();
        e.gemm(false, true, 1, gh, hidden, 1f, h, 0, hidden, wHh, 0, hidden, 0f, gates, 0, gh);
        e.synchronize();
    }

    @Benchmark
    public void inputGemm() {
        Engine e = dev.engine();
        e.gemm(false, true, 1, gh, input, 1f, h, 0, input, wIh, 0, input, 0f, gates, 0, gh);
        e.synchronize();
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        h.close();
        gates.close();
        x.close();
        stream.close();
        layer.close();
    }
}
