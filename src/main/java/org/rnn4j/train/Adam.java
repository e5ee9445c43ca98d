package org.rnn4j.train;

import java.util.List;
import java.util.Map;
import org.rnn4j.HasParameters;
import org.rnn4j.Tensor;
import org.rnn4j.engine.Buffer;

/**
 * Adam and AdamW, PyTorch's {@code torch.optim.Adam} / {@code AdamW} (no amsgrad): at step t ≥ 1,
 * {@code m = β1·m + (1−β1)·g}, {@code v = β2·v + (1−β2)·g²},
 * {@code p −= lr · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε)}. Weight decay is L2 added to the gradient
 * ({@code g += wd·p}, Adam) or, when decoupled, {@code p −= lr·wd·p} before the update (AdamW).
 * The moment buffers live on each parameter's device, allocated once; the gradients are not modified.
 */
public final class Adam extends Optimizer {
    private final float beta1;
    private final float beta2;
    private final float eps;
    private final float weightDecay;
    private final boolean decoupled;
    private final Tensor[] m;
    private final Tensor[] v;

    /** Adam with PyTorch's defaults: β = (0.9, 0.999), ε = 1e-8, no weight decay. */
    public Adam(List<? extends HasParameters> modules, double lr) {
        this(modules, lr, 0.9, 0.999, 1e-8, 0, false);
    }

    /** AdamW with PyTorch's defaults: β = (0.9, 0.999), ε = 1e-8, decoupled weight decay 0.01. */
    public static Adam adamW(List<? extends HasParameters> modules, double lr) {
        return new Adam(modules, lr, 0.9, 0.999, 1e-8, 0.01, true);
    }

    /**
     * @param lr learning rate, ≥ 0
     * @param beta1 first-moment decay in [0, 1)
     * @param beta2 second-moment decay in [0, 1)
     * @param eps added to the denominator, ≥ 0
     * @param weightDecay ≥ 0
     * @param decoupled AdamW's decoupled decay when true, L2 in the gradient (Adam) when false
     */
    public Adam(List<? extends HasParameters> modules, double lr, double beta1, double beta2, double eps,
                double weightDecay, boolean decoupled) {
        super(modules, lr);
        this.beta1 = TrainChecks.unitFloat("beta1", beta1);
        this.beta2 = TrainChecks.unitFloat("beta2", beta2);
        this.eps = TrainChecks.nonNegativeFloat("eps", eps);
        this.weightDecay = TrainChecks.nonNegativeFloat("weightDecay", weightDecay);
        this.decoupled = decoupled;
        this.m = ParameterSet.zerosLike(pairs);
        Tensor[] second;
        try {
            second = ParameterSet.zerosLike(pairs);
        } catch (RuntimeException e) {
            ParameterSet.close(m);
            throw e;
        }
        this.v = second;
    }

    /** {@code {lr, 1 − β1^step, 1 − β2^step}}, the corrections in double rounded to float (the kernels divide by them). */
    @Override
    float[] hyperparameters(float lr, long step) {
        return new float[] {lr, (float) (1 - Math.pow(beta1, step)), (float) (1 - Math.pow(beta2, step))};
    }

    @Override
    List<Object> constants() {
        return List.of("adam", beta1, beta2, eps, weightDecay, decoupled);
    }

    @Override
    List<Tensor> stateOf(int index) {
        return List.of(m[index], v[index]);
    }

    @Override
    void update(int i, ParameterSet.Pair p, Buffer param, Buffer hyper) {
        p.param().engine().adamStep(p.param().size(), param, p.grad().buffer(), m[i].buffer(), v[i].buffer(), hyper,
                beta1, beta2, eps, weightDecay, decoupled);
    }

    @Override
    void addState(Map<String, Tensor> out) {
        for (int i = 0; i < m.length; i++) {
            out.put("exp_avg." + i, m[i]);
            out.put("exp_avg_sq." + i, v[i]);
        }
    }

    @Override
    void releaseState() {
        ParameterSet.close(m);
        ParameterSet.close(v);
    }

    @Override
    public String toString() {
        return (decoupled ? "AdamW" : "Adam") + "(lr=" + learningRate() + ", betas=(" + beta1 + ", " + beta2 + "), eps=" + eps
                + ", weightDecay=" + weightDecay + ", " + pairs.size() + " tensors)";
    }
}
