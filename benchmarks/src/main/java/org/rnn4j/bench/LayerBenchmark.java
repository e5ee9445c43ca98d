package org.rnn4j.bench;

import java.util.SplittableRandom;
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
import org.rnn4j.BackwardResult;
import org.rnn4j.Device;
import org.rnn4j.ForwardResult;
import org.rnn4j.RecurrentLayer;
import org.rnn4j.Tensor;

/**
 * One rnn4j recurrent layer (stack) on one device: {@link #forward} is inference ({@code eval()}, nothing
 * saved), {@link #trainingStep} is a training-mode forward plus the full backward (dX, dh0 and the
 * accumulated weight gradients; no optimizer update) with {@code dY = 1}, the gradient of the sum of the
 * outputs. Results are closed every invocation and the device is synchronized before the method returns,
 * so a GPU figure is the time of the work, not of its launch.
 *
 * <p>The default parameters are the {@code cpu} suite; {@link BenchMain} substitutes the shapes of the
 * suite named by {@code -p suite=...}. Shapes are {@link Shape} strings.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class LayerBenchmark {

    /** Which named set the shape came from (recorded in the results for the report). */
    @Param({"cpu"})
    public String suite;

    /** {@code cpu} or {@code cuda} (CUDA device 0). */
    @Param({"cpu"})
    public String device;

    @Param({"lstm-I128-H128-B32-T50", "lstm-I256-H256-B32-T100", "lstm-I512-H512-B64-T50",
            "lstm-I1024-H1024-B16-T25", "gru-I256-H256-B32-T100", "tanh-I256-H256-B32-T100"})
    public String shape;

    private Device dev;
    private RecurrentLayer inference;
    private RecurrentLayer training;
    private Tensor x;
    private Tensor dY;

    @Setup(Level.Trial)
    public void setUp() {
        dev = BenchDevices.open(device);
        System.out.println("# " + dev.engine().describe());
        Shape s = Shape.parse(shape);
        inference = s.build(dev, 42).eval();
        training = s.build(dev, 42).train();
        x = Tensor.of(dev, randomUniform(s.steps() * s.batch() * s.input(), 7), s.steps(), s.batch(), s.input());
        dY = Tensor.zeros(dev, s.steps(), s.batch(), s.directions() * s.hidden());
        dY.fill(1f);
        dev.engine().synchronize();
    }

    @Benchmark
    public void forward(Blackhole bh) {
        try (ForwardResult r = inference.forward(x)) {
            dev.engine().synchronize();
            bh.consume(r);
        }
    }

    @Benchmark
    public void trainingStep(Blackhole bh) {
        try (ForwardResult r = training.forward(x); BackwardResult g = training.backward(r, dY, null, null)) {
            dev.engine().synchronize();
            bh.consume(g);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (AutoCloseable c : new AutoCloseable[] {dY, x, training, inference}) {
            try {
                if (c != null) {
                    c.close();
                }
            } catch (Exception e) {
                throw new IllegalStateException("closing " + c, e);
            }
        }
    }

    /** {@code n} seeded values uniform in [-1, 1). */
    static float[] randomUniform(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (rnd.nextDouble() * 2 - 1);
        }
        return v;
    }
}
