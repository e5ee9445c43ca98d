package org.rnn4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.rnn4j.Close;
import org.rnn4j.Device;
import org.rnn4j.Devices;
import org.rnn4j.Gru;
import org.rnn4j.Lstm;
import org.rnn4j.Tensor;

/** The model trains the same on every device: a few steps of each task shape against the CPU. */
class SequenceModelDevicesTest {

    static List<String> devices() {
        return Devices.names();
    }

    private static SequenceModel.Builder builder(Task task) {
        return switch (task) {
            case CLASSIFICATION -> SequenceModel.builder(task).embedding(6, 4, 0)
                    .recurrent(Lstm.builder(4, 6).bidirectional(true).seed(1)).dropout(0.2).outputs(2);
            case TAGGING -> SequenceModel.builder(task).embedding(8, 4).recurrent(Gru.builder(4, 5).numLayers(2).seed(1))
                    .outputs(2);
            case REGRESSION -> SequenceModel.builder(task).features(1).recurrent(Lstm.builder(1, 5).seed(1)).outputs(1);
            case SEQUENCE_REGRESSION -> SequenceModel.builder(task).features(1)
                    .recurrent(Gru.builder(1, 5).bidirectional(true).seed(1)).dropout(0.1).outputs(1);
            case LANGUAGE_MODEL -> SequenceModel.builder(task).embedding(6, 4, 0).recurrent(Lstm.builder(4, 5).seed(1));
        };
    }

    private static SequenceDataset data(Task task) {
        return switch (task) {
            case CLASSIFICATION -> TaskData.majority(24, 6, 1);
            case TAGGING -> TaskData.rising(24, 8, 1);
            case REGRESSION -> TaskData.smoothing(24, 1);
            case SEQUENCE_REGRESSION -> TaskData.means(24, 1);
            case LANGUAGE_MODEL -> TaskData.cycles(24, 5, 1);
        };
    }

    @ParameterizedTest
    @MethodSource("devices")
    void everyTaskTrainsAsOnTheCpu(String name) throws Exception {
        Device device = Device.parse(name);
        for (Task task : Task.values()) {
            SequenceDataset d = data(task);
            long open = Tensor.openCount();
            FitOptions o = new FitOptions().epochs(2).batchSize(8).adam(1e-2).seed(3);
            try (SequenceModel cpu = builder(task).build(Device.cpu());
                 SequenceModel dev = builder(task).build(device)) {
                cpu.fit(d, null, o);
                dev.fit(d, null, o);
                Map<String, Double> a = cpu.evaluate(d, 8);
                Map<String, Double> b = dev.evaluate(d, 8);
                assertEquals(a.get("loss"), b.get("loss"), 1e-4 * (1 + a.get("loss")), task + " loss on " + name);
                for (String p : cpu.parameters().keySet()) {
                    Close.assertClose(task + " " + p, cpu.parameters().get(p).toHost(), dev.parameters().get(p).toHost(),
                            1e-4, 1e-3);
                }
            }
            assertEquals(open, Tensor.openCount(), task + ": tensors left open on " + name);
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void weightedLossesTrainAsOnTheCpu(String name) throws Exception {
        Device device = Device.parse(name);
        double[] w = new double[24];
        for (int i = 0; i < w.length; i++) {
            w[i] = i % 3 == 0 ? 0 : 0.5 * (i % 4);
        }
        for (Task task : new Task[] {Task.CLASSIFICATION, Task.TAGGING}) {
            SequenceDataset d = data(task).withSampleWeights(w);
            FitOptions o = new FitOptions().epochs(2).batchSize(8).adam(1e-2).seed(3).classWeights(0.25, 2);
            try (SequenceModel cpu = builder(task).build(Device.cpu());
                 SequenceModel dev = builder(task).build(device)) {
                cpu.fit(d, null, o);
                dev.fit(d, null, o);
                assertEquals(cpu.evaluate(d, 8).get("loss"), dev.evaluate(d, 8).get("loss"), 1e-4, task + " on " + name);
                for (String p : cpu.parameters().keySet()) {
                    Close.assertClose(task + " " + p, cpu.parameters().get(p).toHost(), dev.parameters().get(p).toHost(),
                            1e-4, 1e-3);
                }
            }
        }
    }
}
