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
import org.rnn4j.Device;
import org.rnn4j.Tensor;
import org.rnn4j.engine.Engine;

/**
 * The engine GEMM alone at the products a recurrent layer issues, to tell how much of a layer's time is GEMM
 * and what the GEMM itself reaches. Not part of any suite; run it by name:
 * {@code java -jar benchmarks.jar GemmBenchmark -p device=cpu}.
 * Products are {@code TA,TB,M,N,K} strings ({@code N}/{@code T} for op): the defaults are a 1024³ product and
 * the per-step recurrent products of the four LSTM shapes of the {@code cpu} suite, forward {@code h·W_hhᵀ}
 * (the layer transposes W_hh once per call, so N,N, B x 4H x H) and backward {@code dG·W_hh} (N,N, B x H x 4H).
 * Score is ms per product; GFLOP/s = 2·M·N·K / time. The fork runs with the Vector API module, as users are
 * told to; {@code FmaPeakBenchmark} gives the peak to compare with.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(jvmArgsAppend = {"--add-modules", "jdk.incubator.vector"})
public class GemmBenchmark {

    @Param({"cpu"})
    public String device;

    @Param({"N-N-1024-1024-1024",
            "N-N-32-512-128", "N-N-32-1024-256", "N-N-64-2048-512", "N-N-16-4096-1024",
            "N-N-32-128-512", "N-N-32-256-1024", "N-N-64-512-2048", "N-N-16-1024-4096"})
    public String product;

    private Device dev;
    private Engine engine;
    private boolean ta;
    private boolean tb;
    private int m;
    private int n;
    private int k;
    private Tensor a;
    private Tensor b;
    private Tensor c;

    @Setup(Level.Trial)
    public void setUp() {
        dev = BenchDevices.open(device);
        engine = dev.engine();
        System.out.println("# " + engine.describe());
        String[] p = product.split("-");
        ta = p[0].equals("T");
        tb = p[1].equals("T");
        m = Integer.parseInt(p[2]);
        n = Integer.parseInt(p[3]);
        k = Integer.parseInt(p[4]);
        a = Tensor.of(dev, LayerBenchmark.randomUniform(m * k, 1), m * k);
        b = Tensor.of(dev, LayerBenchmark.randomUniform(k * n, 2), k * n);
        c = Tensor.zeros(dev, m * n);
        engine.synchronize();
    }

    @Benchmark
    public Tensor gemm() {
        engine.gemm(ta, tb, m, n, k, 1f, a.buffer(), 0, ta ? m : k, b.buffer(), 0, tb ? k : n,
                0f, c.buffer(), 0, n);
        engine.synchronize();
        return c;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        a.close();
        b.close();
        c.close();
    }
}
