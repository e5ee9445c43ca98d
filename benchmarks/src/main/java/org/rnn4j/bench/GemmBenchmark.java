package org.rnn4j.bench;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
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
 * Products are {@code TA,TB,M,N,K} strings ({@code N}/{@code T} for op): the defaults are the LSTM
 * I=H=512, B=64, T=50 products: the per-step recurrent GEMM {@code h·W_hhᵀ} (N,T,64,2048,512), the input
 * projection of all steps (N,T,3200,2048,512), the per-step backward {@code dG·W_hh} (N,N,64,512,2048) and the
 * weight gradient {@code dGᵀ·x} (T,N,2048,512,3200). Score is ms per product; GFLOP/s = 2·M·N·K / time.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class GemmBenchmark {

    @Param({"cpu"})
    public String device;

    @Param({"N-T-64-2048-512", "N-T-3200-2048-512", "N-N-64-512-2048", "T-N-2048-512-3200"})
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
