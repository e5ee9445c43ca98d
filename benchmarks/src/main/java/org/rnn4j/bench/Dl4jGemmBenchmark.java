package org.rnn4j.bench;

import java.util.concurrent.TimeUnit;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * ND4J's sgemm (the OpenBLAS that DL4J's LSTM runs on) at the same products as {@link GemmBenchmark}, so the
 * two GEMMs can be compared on one machine: {@code java -jar benchmarks.jar "GemmBenchmark|Dl4jGemmBenchmark"}.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class Dl4jGemmBenchmark {

    /** {@code TA-TB-M-N-K}, as in {@link GemmBenchmark#product}. */
    @Param({"N-T-64-2048-512", "N-T-3200-2048-512", "N-N-64-512-2048", "T-N-2048-512-3200"})
    public String product;

    private INDArray a;
    private INDArray b;
    private INDArray c;
    private boolean ta;
    private boolean tb;

    @Setup(Level.Trial)
    public void setUp() {
        String[] p = product.split("-");
        ta = p[0].equals("T");
        tb = p[1].equals("T");
        int m = Integer.parseInt(p[2]);
        int n = Integer.parseInt(p[3]);
        int k = Integer.parseInt(p[4]);
        Nd4j.getRandom().setSeed(1);
        a = ta ? Nd4j.rand(DataType.FLOAT, k, m) : Nd4j.rand(DataType.FLOAT, m, k);
        b = tb ? Nd4j.rand(DataType.FLOAT, n, k) : Nd4j.rand(DataType.FLOAT, k, n);
        c = Nd4j.zeros(DataType.FLOAT, m, n);
    }

    @Benchmark
    public INDArray gemm() {
        return Nd4j.gemm(a, b, c, ta, tb, 1.0, 0.0);
    }
}
