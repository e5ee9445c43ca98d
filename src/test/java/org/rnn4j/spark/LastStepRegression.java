package org.rnn4j.spark;

import java.io.Serializable;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.apache.spark.TaskContext;
import org.rnn4j.BackwardResult;
import org.rnn4j.Device;
import org.rnn4j.ForwardResult;
import org.rnn4j.HasParameters;
import org.rnn4j.Lstm;
import org.rnn4j.RecurrentLayer;
import org.rnn4j.Tensor;
import org.rnn4j.train.LastStep;
import org.rnn4j.train.Linear;
import org.rnn4j.train.LossResult;
import org.rnn4j.train.Losses;
import org.rnn4j.train.ModuleGroup;

/**
 * A replica of plain layers for the tests: an LSTM over variable-length sequences, its output at each
 * sequence's last valid step through a Linear head, MSE against a target vector. Optionally throws in
 * chosen steps, on the first attempt of a task only or on every attempt, to test Spark's retries.
 */
final class LastStepRegression implements Replica<LastStepRegression.Example> {
    static final int IN = 3;
    static final int HIDDEN = 6;
    static final int OUT = 2;

    /** One sequence {@code [length][IN]} and its target {@code [OUT]}. */
    record Example(float[][] x, float[] y) implements Serializable {
    }

    /** Where replicas fail: in these steps, on the first attempt only or always. */
    record Faults(Set<Long> steps, boolean always) implements Serializable {
        static final Faults NONE = new Faults(Set.of(), false);
    }

    /** The devices replicas were built on in this JVM. */
    static final Set<Device> BUILT_ON = java.util.concurrent.ConcurrentHashMap.newKeySet();

    private final Device device;
    private final RecurrentLayer lstm;
    private final Linear head;
    private final ModuleGroup group;
    private final Faults faults;

    LastStepRegression(Device device, Faults faults) {
        this.device = device;
        this.lstm = Lstm.builder(IN, HIDDEN).seed(11).build(device);
        this.head = new Linear(HIDDEN, OUT, true, 12, device);
        this.group = ModuleGroup.of("lstm", lstm, "head", head);
        this.faults = faults;
        BUILT_ON.add(device);
    }

    static Replica.Factory<Example> factory(Faults faults) {
        return device -> new LastStepRegression(device, faults);
    }

    /** {@code n} sequences of lengths 2 to 7 whose target is a fixed function of the inputs. */
    static List<Example> data(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<Example> out = new java.util.ArrayList<>();
        for (int i = 0; i < n; i++) {
            float[][] x = new float[2 + rnd.nextInt(6)][IN];
            float sum = 0;
            for (float[] row : x) {
                for (int f = 0; f < IN; f++) {
                    row[f] = (float) rnd.nextDouble(-1, 1);
                    sum += row[f] * (f + 1);
                }
            }
            out.add(new Example(x, new float[] {(float) Math.tanh(sum / x.length), x[x.length - 1][0]}));
        }
        return out;
    }

    Device device() {
        return device;
    }

    @Override
    public HasParameters module() {
        return group;
    }

    @Override
    public Loss accumulate(List<Example> examples, long step) {
        TaskContext ctx = TaskContext.get();
        if (ctx != null && faults.steps().contains(step) && (faults.always() || ctx.attemptNumber() == 0)) {
            throw new IllegalStateException("injected failure in step " + step + ", attempt " + ctx.attemptNumber());
        }
        int b = examples.size();
        int t = examples.stream().mapToInt(e -> e.x().length).max().orElseThrow();
        int[] lengths = new int[b];
        float[] x = new float[t * b * IN];
        float[] y = new float[b * OUT];
        for (int i = 0; i < b; i++) {
            Example e = examples.get(i);
            lengths[i] = e.x().length;
            for (int s = 0; s < lengths[i]; s++) {
                System.arraycopy(e.x()[s], 0, x, (s * b + i) * IN, IN);
            }
            System.arraycopy(e.y(), 0, y, i * OUT, OUT);
        }
        try (Tensor xs = Tensor.of(device, x, t, b, IN);
             Tensor target = Tensor.of(device, y, b, OUT);
             ForwardResult fwd = lstm.forward(xs, lengths, null, null);
             Tensor last = LastStep.gather(fwd.output(), lengths, false);
             Tensor pred = head.forward(last);
             LossResult loss = Losses.mse(pred, target);
             Tensor dLast = head.backward(last, loss.gradient());
             Tensor dY = LastStep.scatter(dLast, lengths, t, false);
             BackwardResult back = lstm.backward(fwd, dY, null, null)) {
            return new Loss(loss.value(), loss.count());
        }
    }

    @Override
    public void close() {
        lstm.close();
        head.close();
    }
}
