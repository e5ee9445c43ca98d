package org.rnn4j.bench;

import java.util.concurrent.TimeUnit;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.WorkspaceMode;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.activations.Activation;
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
import org.openjdk.jmh.infra.Blackhole;

/**
 * Deeplearning4j's {@code LSTM} layer (1.0.0-M2.1, nd4j-native CPU backend with its bundled OpenBLAS) at the
 * same shapes, for the CPU side-by-side. Like for like with {@link LayerBenchmark}: float32, tanh cell with
 * sigmoid gates, one layer, no masking, workspaces off, no updater. DL4J wants NCW input {@code [B, I, T]}.
 * {@link #forward} is {@code activate(training=false)}; {@link #trainingStep} is {@code backpropGradient}
 * with {@code epsilon = 1}, which runs DL4J's training-mode forward itself (its default cache mode keeps no
 * forward pass between calls) and then the backward with the weight gradients: one forward plus one
 * backward, as in rnn4j's training step. Only LSTM shapes apply.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class Dl4jLstmBenchmark {

    @Param({"cpu"})
    public String suite;

    /** A {@link Shape} string; named apart from {@link LayerBenchmark#shape} so that a suite can give it LSTM shapes only. */
    @Param({"lstm-I128-H128-B32-T50", "lstm-I256-H256-B32-T100", "lstm-I512-H512-B64-T50",
            "lstm-I1024-H1024-B16-T25"})
    public String lstmShape;

    private Layer layer;
    private INDArray x;
    private INDArray epsilon;
    private final LayerWorkspaceMgr workspaces = LayerWorkspaceMgr.noWorkspaces();

    @Setup(Level.Trial)
    public void setUp() {
        Shape s = Shape.parse(lstmShape);
        if (!s.cell().equals("lstm") || s.layers() != 1 || s.bidirectional()) {
            throw new IllegalArgumentException("SKIPPED: the DL4J side-by-side covers single-layer unidirectional "
                    + "LSTM shapes only, got " + lstmShape);
        }
        Nd4j.setDefaultDataTypes(DataType.FLOAT, DataType.FLOAT);
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(42)
                .dataType(DataType.FLOAT)
                .trainingWorkspaceMode(WorkspaceMode.NONE)
                .inferenceWorkspaceMode(WorkspaceMode.NONE)
                .list()
                .layer(new LSTM.Builder().nIn(s.input()).nOut(s.hidden())
                        .activation(Activation.TANH).gateActivationFunction(Activation.SIGMOID).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        net.initGradientsView(); // backpropGradient writes into these views (fit() would create them)
        layer = net.getLayer(0);
        Nd4j.getRandom().setSeed(7);
        x = Nd4j.rand(DataType.FLOAT, s.batch(), s.input(), s.steps()).subi(0.5).muli(2);
        epsilon = Nd4j.ones(DataType.FLOAT, s.batch(), s.hidden(), s.steps());
        layer.setInput(x, workspaces);
    }

    @Benchmark
    public INDArray forward() {
        return layer.activate(false, workspaces);
    }

    @Benchmark
    public void trainingStep(Blackhole bh) {
        bh.consume(layer.backpropGradient(epsilon, workspaces));
    }
}
