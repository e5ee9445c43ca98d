package org.rnn4j.train;

import java.util.List;
import java.util.Map;
import org.rnn4j.HasParameters;
import org.rnn4j.Tensor;
import org.rnn4j.engine.Buffer;

/**
 * Stochastic gradient descent with momentum, PyTorch's {@code torch.optim.SGD} (dampening 0):
 * {@code g = grad + wd·p}; with momentum {@code buf = μ·buf + g} ({@code buf = g} on the first step),
 * {@code g = nesterov ? g + μ·buf : buf}; then {@code p −= lr·g}. The velocity buffers live on each
 * parameter's device, allocated once; the gradients are not modified.
 */
public final class Sgd extends Optimizer {
    private final float momentum;
    private final float weightDecay;
    private final boolean nesterov;
    private final Tensor[] velocity;

    /** Plain SGD: no momentum, no weight decay. */
    public Sgd(List<? extends HasParameters> modules, double lr) {
        this(modules, lr, 0, 0, false);
    }

    /**
     * @param lr learning rate, ≥ 0
     * @param momentum μ in [0, 1)
     * @param weightDecay L2 coefficient, ≥ 0
     * @param nesterov Nesterov momentum (needs μ > 0)
     */
    public Sgd(List<? extends HasParameters> modules, double lr, double momentum, double weightDecay, boolean nesterov) {
        super(modules, lr);
        this.momentum = TrainChecks.unitFloat("momentum", momentum);
        this.weightDecay = TrainChecks.nonNegativeFloat("weightDecay", weightDecay);
        if (nesterov && momentum == 0) {
            throw new IllegalArgumentException("nesterov: expected momentum > 0 with Nesterov momentum, got momentum 0");
        }
        this.nesterov = nesterov;
        this.velocity = momentum == 0 ? null : ParameterSet.zerosLike(pairs);
    }

    /** {@code {lr, 1 on the first step, else 0}}. */
    @Override
    float[] hyperparameters(float lr, long step) {
        return new float[] {lr, step == 1 ? 1f : 0f};
    }

    @Override
    List<Object> constants() {
        return List.of("sgd", momentum, weightDecay, nesterov);
    }

    @Override
    List<Tensor> stateOf(int index) {
        return velocity == null ? List.of() : List.of(velocity[index]);
    }

    @Override
    void update(int i, ParameterSet.Pair p, Buffer param, Buffer hyper) {
        p.param().engine().sgdStep(p.param().size(), param, p.grad().buffer(),
                velocity == null ? null : velocity[i].buffer(), hyper, momentum, weightDecay, nesterov);
    }

    @Override
    void addState(Map<String, Tensor> out) {
        if (velocity != null) {
            for (int i = 0; i < velocity.length; i++) {
                out.put("momentum_buffer." + i, velocity[i]);
            }
        }
    }

    @Override
    void releaseState() {
        ParameterSet.close(velocity);
    }

    @Override
    public String toString() {
        return "Sgd(lr=" + learningRate() + ", momentum=" + momentum + ", weightDecay=" + weightDecay
                + (nesterov ? ", nesterov" : "") + ", " + pairs.size() + " tensors)";
    }
}
