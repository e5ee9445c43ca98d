package org.rnn4j.train;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rnn4j.DType;
import org.rnn4j.HasParameters;
import org.rnn4j.Tensor;
import org.rnn4j.engine.Buffer;
import org.rnn4j.engine.Engine;

/**
 * Updates parameters in place from their accumulated gradients, on their device. Gradients accumulate
 * across backward passes until {@link #zeroGrad()}: micro-batches of one large batch are accumulated
 * by simply not zeroing between them (scale each micro-batch's loss so the sum is the wanted mean).
 * Subclasses supply the update rule of one tensor and own their state buffers.
 *
 * <p>A step queues the updates of all tensors on one engine (with the clipping of {@link #setGlobalClipNorm} before
 * them and the norm of the new parameters after them, the finite check) as one {@link Engine#replayable} region,
 * which the CUDA engine replays as one graph launch, then reads that norm (one copy and one synchronize). What
 * changes from step to step (the learning rate, Adam's bias corrections, SGD's first step) is written into a small
 * device buffer before the region ({@link Engine#adamStep}), so a replay always uses the current step's values.
 */
public abstract class Optimizer implements AutoCloseable {
    final List<ParameterSet.Pair> pairs;
    private final List<HasParameters> modules;
    /** The tensors by engine, in order of first appearance (one engine for a model on one device). */
    private final List<OnEngine> engines = new ArrayList<>();
    private double lr;
    private double clipNorm;
    private long steps;
    private boolean closed;

    /** What a step keeps on one engine: its tensors, and two small buffers allocated at the first step. */
    private static final class OnEngine {
        final Engine engine;
        final List<Integer> indices = new ArrayList<>();
        /** This step's {@link #hyperparameters}, written before the updates. */
        Tensor hyper;
        /** {@link Engine#clipWorkInts} ints: the gradients' norm while clipping, then the updated parameters' norm. */
        Buffer work;

        OnEngine(Engine engine) {
            this.engine = engine;
        }
    }

    Optimizer(List<? extends HasParameters> modules, double lr) {
        TrainChecks.nonNegativeFloat("lr", lr);
        this.pairs = ParameterSet.collect(modules);
        this.modules = List.copyOf(modules);
        this.lr = lr;
        Map<Engine, OnEngine> byEngine = new LinkedHashMap<>();
        for (int i = 0; i < pairs.size(); i++) {
            byEngine.computeIfAbsent(pairs.get(i).param().engine(), OnEngine::new).indices.add(i);
        }
        engines.addAll(byEngine.values());
    }

    /**
     * One update of every parameter from its current gradient, after clipping the gradients by their global norm
     * when {@link #setGlobalClipNorm} asked for it.
     *
     * @throws IllegalStateException when the update left a parameter NaN or infinite (a learning rate or
     *         gradient too large for float32), naming it; the step is counted and the parameters are as it
     *         left them, so the run must not go on from them
     */
    public final void step() {
        requireOpen();
        long t = steps + 1;
        float[] values = hyperparameters((float) lr, t);
        for (OnEngine g : engines) {
            if (g.hyper == null) {
                Buffer work = g.engine.allocate(DType.I32, Engine.clipWorkInts(g.indices.size()));
                try {
                    g.hyper = Tensor.zeros(pairs.get(g.indices.get(0)).param().device(), values.length);
                } catch (RuntimeException e) {
                    work.close();
                    throw e;
                }
                g.work = work;
            }
            for (int k = 0; k < values.length; k++) {   // a memset each: no host copy, no synchronize
                g.engine.fill(g.hyper.bufferForWrite(), k, 1, values[k]);
            }
        }
        boolean clipOnDevice = clipNorm > 0 && engines.size() == 1;
        if (clipNorm > 0 && !clipOnDevice) {
            Clipping.clipGlobalNorm(modules, clipNorm);   // tensors on several devices: the norm goes through the host
        }
        // marked as being written until the norm's read has waited for the updates: a forward on another thread
        // meanwhile is refused (Tensor.versionsForReading)
        boolean finite = Tensor.whileWriting(pairs.stream().map(ParameterSet.Pair::param).toList(), () -> {
            for (OnEngine g : engines) {
                queueStep(g, clipOnDevice);
            }
            steps = t;
            boolean all = true;
            for (OnEngine g : engines) {   // one copy and one synchronize per engine; the per-tensor search only on failure
                all &= Double.isFinite(g.engine.readGlobalNorm(g.work));
            }
            return all;
        });
        if (finite) {
            return;
        }
        for (ParameterSet.Pair p : pairs) {
            if (p.param().engine().hasNonFinite(p.param().size(), p.param().buffer(), 0)) {
                boolean badGradient = p.grad().engine().hasNonFinite(p.grad().size(), p.grad().buffer(), 0);
                throw new IllegalStateException(String.format(java.util.Locale.ROOT, "step %d: parameter '%s' is "
                        + "non-finite after the update (learning rate %g, %s gradient): lower the learning rate or "
                        + "clip the gradients, and restart from finite weights", t, p.name(), lr,
                        badGradient ? "a non-finite" : "a finite"));
            }
        }
    }

    /**
     * The clipping, the updates and the norm of the updated parameters (the finite check, read after it) of the
     * tensors on one engine, as one replayable region: its shape is the optimizer's constants, the clip norm and the
     * tensors' sizes, its buffers every tensor it touches (each parameter taken for writing here, so that its version
     * moves on a replay too) and the engine's two small buffers.
     */
    private void queueStep(OnEngine g, boolean clip) {
        List<Object> shape = new ArrayList<>(constants());
        shape.add(clip ? clipNorm : 0.0);
        List<Buffer> buffers = new ArrayList<>();
        Buffer[] params = new Buffer[g.indices.size()];
        Buffer[] grads = new Buffer[g.indices.size()];
        long[] sizes = new long[g.indices.size()];
        for (int k = 0; k < params.length; k++) {
            ParameterSet.Pair p = pairs.get(g.indices.get(k));
            params[k] = p.param().bufferForWrite();
            grads[k] = p.grad().buffer();
            sizes[k] = p.param().size();
            shape.add(sizes[k]);
            buffers.add(params[k]);
            buffers.add(grads[k]);
            for (Tensor s : stateOf(g.indices.get(k))) {
                buffers.add(s.buffer());
            }
        }
        Buffer h = g.hyper.buffer();
        buffers.add(h);
        buffers.add(g.work);
        g.engine.replayable(shape, buffers.toArray(new Buffer[0]), () -> {
            if (clip) {
                g.engine.clipGlobalNorm(grads, sizes, clipNorm, g.work);
            }
            for (int k = 0; k < params.length; k++) {
                update(g.indices.get(k), pairs.get(g.indices.get(k)), params[k], h);
            }
            g.engine.globalNorm(params, sizes, g.work);
        });
    }

    /**
     * Clips the gradients by their global norm before every following {@link #step} (Keras's
     * {@code global_clipnorm}; what {@link Clipping#clipGlobalNorm} does, bit for bit, but inside the step, on the
     * device, with no host read); 0 turns it off.
     *
     * @param maxNorm ≥ 0, finite
     */
    public final void setGlobalClipNorm(double maxNorm) {
        if (!(maxNorm >= 0) || Double.isInfinite(maxNorm)) {
            throw new IllegalArgumentException("maxNorm: expected a finite value >= 0 (0: no clipping), got " + maxNorm);
        }
        this.clipNorm = maxNorm;
    }

    /** What {@code update} reads from its {@code hyper} buffer at step {@code step} (from 1): see {@link Engine#adamStep}. */
    abstract float[] hyperparameters(float lr, long step);

    /** The state tensors of tensor {@code index} of {@link #pairs} (what {@code update} reads and writes besides it). */
    abstract List<Tensor> stateOf(int index);

    /** The constants of the update rule (everything its launches take besides buffers and sizes), with value equality. */
    abstract List<Object> constants();

    /**
     * Queues the update of tensor {@code index} of {@link #pairs}: {@code param} is its parameter's buffer, taken for
     * writing, {@code hyper} the step's {@link #hyperparameters}.
     */
    abstract void update(int index, ParameterSet.Pair p, Buffer param, Buffer hyper);

    /** Releases the state buffers (not the parameters). */
    abstract void releaseState();

    /** Sets every gradient of every parameter to zero, through each module's own {@code zeroGrad} (and its thread guard). */
    public final void zeroGrad() {
        requireOpen();
        for (HasParameters m : modules) {
            m.zeroGrad();
        }
    }

    public final double learningRate() {
        return lr;
    }

    /** Changes the learning rate for the following steps (a schedule calls this between steps). */
    public final void setLearningRate(double learningRate) {
        TrainChecks.nonNegativeFloat("learningRate", learningRate);
        this.lr = learningRate;
    }

    /** How many steps have been taken. */
    public final long steps() {
        return steps;
    }

    /**
     * The state tensors (live), for a checkpoint: {@code exp_avg.i} and {@code exp_avg_sq.i} (Adam) or
     * {@code momentum_buffer.i} (SGD with momentum) for the {@code i}-th parameter tensor, PyTorch's names.
     * Together with {@link #steps()} and {@link #learningRate()} they are all an optimizer carries.
     */
    public final Map<String, Tensor> state() {
        requireOpen();
        Map<String, Tensor> out = new LinkedHashMap<>();
        addState(out);
        return out;
    }

    /** Puts each state tensor into {@code out} under its name. */
    abstract void addState(Map<String, Tensor> out);

    /** Sets the step count, when resuming from a checkpoint (Adam's bias correction and SGD's first step use it). */
    public final void restoreSteps(long steps) {
        if (steps < 0) {
            throw new IllegalArgumentException("steps: expected >= 0, got " + steps);
        }
        this.steps = steps;
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("optimizer " + this + " is closed");
        }
    }

    /** Releases the optimizer's state buffers (not the parameters). */
    @Override
    public final void close() {
        closed = true;
        for (OnEngine g : engines) {
            if (g.hyper != null) {
                g.hyper.close();
                g.work.close();
                g.hyper = null;
                g.work = null;
            }
        }
        releaseState();
    }
}
