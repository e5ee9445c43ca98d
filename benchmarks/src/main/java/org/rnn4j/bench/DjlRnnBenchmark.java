package org.rnn4j.bench;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.recurrent.GRU;
import ai.djl.nn.recurrent.LSTM;
import ai.djl.nn.recurrent.RNN;
import ai.djl.nn.recurrent.RecurrentBlock;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
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
import org.openjdk.jmh.infra.Blackhole;

/**
 * PyTorch's CPU recurrent layers (2.7.1, MKL and oneDNN, through DJL 0.34.0's {@code LSTM}, {@code GRU} and
 * {@code RNN} blocks, which call {@code torch::lstm}/{@code gru}/{@code rnn_tanh}) at the same shapes as
 * {@link LayerBenchmark}, for the CPU side-by-side. The native library comes from the Maven artifact
 * {@code ai.djl.pytorch:pytorch-native-cpu} (linux-x86_64) and DJL runs offline ({@code ai.djl.offline}): no
 * download at run time. Intra-op threads = {@code Runtime.availableProcessors()}, as rnn4j's GEMM threads.
 *
 * <p>Like for like: float32, one layer, time-major {@code [T, B, I]}, zero initial state, PyTorch's gate
 * layout. {@link #forward} runs outside autograd (what {@code torch.no_grad()} gives); {@link #trainingStep}
 * runs the forward under a gradient collector, then {@code out.sum().backward()}: dX and all weight gradients,
 * no update, as rnn4j's training step with {@code dY = 1}. Every array an invocation creates is freed when it
 * ends (a sub-manager).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class DjlRnnBenchmark {

    @Param({"cpu"})
    public String suite;

    /** A {@link Shape} string, shared with {@link LayerBenchmark}. */
    @Param({"lstm-I128-H128-B32-T50", "lstm-I256-H256-B32-T100", "lstm-I512-H512-B64-T50",
            "lstm-I1024-H1024-B16-T25", "gru-I256-H256-B32-T100", "tanh-I256-H256-B32-T100"})
    public String shape;

    private NDManager manager;
    private RecurrentBlock block;
    private ParameterStore params;
    private NDArray x;

    @Setup(Level.Trial)
    public void setUp() {
        System.setProperty("ai.djl.offline", "true");
        System.setProperty("ai.djl.pytorch.num_threads", String.valueOf(Runtime.getRuntime().availableProcessors()));
        System.setProperty("ai.djl.pytorch.num_interop_threads", "1");
        Shape s = Shape.parse(shape);
        if (s.layers() != 1 || s.bidirectional()) {
            throw new IllegalArgumentException("SKIPPED: the PyTorch side-by-side covers single-layer unidirectional "
                    + "shapes only, got " + shape);
        }
        manager = NDManager.newBaseManager(Device.cpu(), "PyTorch");
        block = switch (s.cell()) {
            case "lstm" -> LSTM.builder().setStateSize(s.hidden()).setNumLayers(1).optBatchFirst(false)
                    .optReturnState(false).build();
            case "gru" -> GRU.builder().setStateSize(s.hidden()).setNumLayers(1).optBatchFirst(false)
                    .optReturnState(false).build();
            case "tanh", "relu" -> RNN.builder().setStateSize(s.hidden()).setNumLayers(1).optBatchFirst(false)
                    .optReturnState(false)
                    .setActivation(s.cell().equals("tanh") ? RNN.Activation.TANH : RNN.Activation.RELU).build();
            default -> throw new IllegalArgumentException("SKIPPED: no DJL block for cell " + s.cell());
        };
        ai.djl.ndarray.types.Shape in = new ai.djl.ndarray.types.Shape(s.steps(), s.batch(), s.input());
        block.initialize(manager, DataType.FLOAT32, in);
        params = new ParameterStore(manager, false);
        x = manager.create(LayerBenchmark.randomUniform(s.steps() * s.batch() * s.input(), 7), in);
        x.setRequiresGradient(true);
        System.out.println("# PyTorch through DJL " + Engine.getEngine("PyTorch").getVersion() + ", "
                + System.getProperty("ai.djl.pytorch.num_threads") + " threads");
    }

    @Benchmark
    public void forward(Blackhole bh) {
        try (NDManager sub = manager.newSubManager()) {
            x.tempAttach(sub);
            NDList out = block.forward(params, new NDList(x), false);
            bh.consume(out.head().getFloat(0, 0, 0));
        }
    }

    @Benchmark
    public void trainingStep(Blackhole bh) {
        try (NDManager sub = manager.newSubManager();
             GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
            x.tempAttach(sub);
            NDList out = block.forward(params, new NDList(x), true);
            gc.backward(out.head().sum());
            bh.consume(x.getGradient().getFloat(0, 0, 0));
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        if (manager != null) {
            manager.close();
        }
    }
}
