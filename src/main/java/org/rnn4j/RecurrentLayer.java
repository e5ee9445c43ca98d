package org.rnn4j;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.rnn4j.ForwardResult.DirectionState;
import org.rnn4j.ForwardResult.Saved;
import org.rnn4j.engine.Buffer;
import org.rnn4j.engine.Engine;
import org.rnn4j.engine.ExclusiveUse;
import org.rnn4j.engine.Recurrence;
import org.rnn4j.engine.StepArgs;

/**
 * A stack of recurrent layers (RNN, LSTM or GRU; uni- or bidirectional) on one device, with
 * PyTorch's parameters and semantics. The time loop and BPTT are written here once, over the
 * {@link Engine} primitives:
 * <ul>
 *   <li>forward, per layer-direction: one GEMM for the input projection of all steps; per step one
 *       GEMM {@code h·W_hhᵀ} and one fused pointwise step (two of each for the reset-before GRU,
 *       one more GEMM for the LSTM projection);</li>
 *   <li>backward walks the steps in reverse with a fused pointwise step and one GEMM
 *       {@code dG·W_hh} per step, then computes {@code dW_ih}, {@code dW_hh}, the biases and
 *       {@code dX} as single products over all steps;</li>
 *   <li>a reverse direction runs the same loop over its input reversed per sample
 *       ({@link Engine#reverseSequences}), so variable lengths need only a mask in the kernels.</li>
 * </ul>
 * Shapes: {@code T} steps, {@code B} samples, {@code D} directions, {@code H} hidden,
 * {@code S} state size (P when projected, else H), {@code G} gates.
 * Padded steps ({@code t >= lengths[b]}) are never read: the input is zeroed there before any product, so
 * whatever they hold (NaN, infinity) reaches no output and no gradient, as with PyTorch's packed sequences.
 *
 * <p>Not thread-safe: one call at a time per layer. A call that overlaps another one on the same layer
 * fails with an {@link IllegalStateException} naming both threads (rather than losing gradient updates).
 */
public final class RecurrentLayer implements HasParameters, AutoCloseable {

    private static final String[] SUFFIX = {"", "_reverse"};

    private final RecurrentConfig cfg;
    private final Device device;
    private final Engine engine;
    /** The GEMMs at the layer's precision (BF16: with the weights' BF16 copies). */
    private final LayerGemm gemms;
    private final Map<String, Tensor> params = new LinkedHashMap<>();
    private final Map<String, Tensor> grads = new LinkedHashMap<>();
    /** [layer][direction] */
    private final Weights[][] weights;
    private boolean training = true;
    private boolean checkFinite;
    private long trainingForwards;
    private boolean closed;
    private final ExclusiveUse use = new ExclusiveUse(this);
    /**
     * The CPU inference forward's input projection xp, kept from call to call (sized by the largest) so that a
     * call does not allocate and zero T·B·G·H floats; only the running call uses it ({@link #use} keeps calls
     * apart, and the layer-directions of one call run one after another), nothing returned refers to it.
     */
    private Tensor inferenceXp;

    /** One layer-direction's parameters and their gradients (null where the option is off). */
    private record Weights(int inputSize, Tensor wih, Tensor whh, Tensor bih, Tensor bhh, Tensor whr, Tensor peep,
                           Tensor gwih, Tensor gwhh, Tensor gbih, Tensor gbhh, Tensor gwhr, Tensor gpeep) {
    }

    public RecurrentLayer(RecurrentConfig cfg, Device device) {
        if (cfg == null) {
            throw new IllegalArgumentException("cfg: expected a configuration, got null");
        }
        if (device == null) {
            throw new IllegalArgumentException("device: expected a device, got null");
        }
        this.cfg = cfg;
        this.device = device;
        this.engine = device.engine();
        this.gemms = new LayerGemm(engine, Precision.resolve(cfg.precision(), device));
        if (device.kind() == Device.Kind.CPU) {
            long bytes = cfg.parameterBytes(2); // parameters and their gradients
            long heap = Runtime.getRuntime().maxMemory();
            if (bytes > heap) {
                throw new IllegalArgumentException(cfg.sizeArguments() + ": the parameters and their gradients would need "
                        + bytes + " bytes, more than the JVM's maximum heap (" + heap + " bytes)");
            }
        }
        int gh = cfg.cell().gates() * cfg.hiddenSize();
        int h = cfg.hiddenSize();
        int s = cfg.stateSize();
        weights = new Weights[cfg.numLayers()][cfg.directions()];
        try {
            for (int k = 0; k < cfg.numLayers(); k++) {
                for (int d = 0; d < cfg.directions(); d++) {
                    String sfx = "_l" + k + SUFFIX[d];
                    int in = cfg.layerInputSize(k);
                    weights[k][d] = new Weights(in,
                            param("weight_ih" + sfx, gh, in),
                            param("weight_hh" + sfx, gh, s),
                            cfg.bias() ? param("bias_ih" + sfx, gh) : null,
                            cfg.bias() ? param("bias_hh" + sfx, gh) : null,
                            cfg.projSize() > 0 ? param("weight_hr" + sfx, cfg.projSize(), h) : null,
                            cfg.peepholes() ? param("weight_peephole" + sfx, 3 * h) : null,
                            grads.get("weight_ih" + sfx), grads.get("weight_hh" + sfx),
                            grads.get("bias_ih" + sfx), grads.get("bias_hh" + sfx),
                            grads.get("weight_hr" + sfx), grads.get("weight_peephole" + sfx));
                    for (Tensor operand : new Tensor[] {weights[k][d].wih(), weights[k][d].whh(), weights[k][d].whr()}) {
                        gemms.weight(operand);
                    }
                }
            }
            resetParametersUnguarded(cfg.seed());
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    private Tensor param(String name, int... shape) {
        Tensor p = Tensor.zeros(device, shape);
        params.put(name, p);
        grads.put(name, Tensor.zeros(device, shape));
        return p;
    }

    /**
     * Re-initialises every parameter as PyTorch does, uniform in ±1/√H, drawn in parameter order
     * from {@code seed}; with {@code unitForgetBias} the forget-gate block of {@code bias_ih} is 1 and
     * that of {@code bias_hh} 0.
     */
    public void resetParameters(long seed) {
        try (ExclusiveUse.Held u = use.enter("resetParameters")) {
            resetParametersUnguarded(seed);
        }
    }

    private void resetParametersUnguarded(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        double bound = 1.0 / Math.sqrt(cfg.hiddenSize());
        int h = cfg.hiddenSize();
        for (Map.Entry<String, Tensor> e : params.entrySet()) {
            float[] v = new float[Math.toIntExact(e.getValue().size())];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) rnd.nextDouble(-bound, bound);
            }
            if (cfg.unitForgetBias() && e.getKey().startsWith("bias_")) {
                Arrays.fill(v, h, 2 * h, e.getKey().startsWith("bias_ih") ? 1f : 0f);
            }
            e.getValue().copyFrom(v);
        }
    }

    public RecurrentConfig config() {
        return cfg;
    }

    public Device device() {
        return device;
    }

    /** The precision of this layer's GEMMs, as chosen at construction ({@link Precision}). */
    public Precision precision() {
        return gemms.precision();
    }

    /** Training mode (default): forward keeps what backward needs, and dropout is active. */
    public RecurrentLayer train() {
        training = true;
        return this;
    }

    /** Inference mode: forward keeps nothing and applies no dropout. */
    public RecurrentLayer eval() {
        training = false;
        return this;
    }

    public boolean isTraining() {
        return training;
    }

    /**
     * Training-mode forwards so far: the inter-layer dropout masks of the next one are drawn from this
     * count and the seed. A resumable checkpoint saves it ({@link #restoreDropoutCalls}) so that a resumed
     * run draws the masks the uninterrupted run would have.
     */
    public long dropoutCalls() {
        return trainingForwards;
    }

    /** Sets the count {@link #dropoutCalls()} reports, as saved by a checkpoint. */
    public void restoreDropoutCalls(long calls) {
        if (calls < 0) {
            throw new IllegalArgumentException("calls: expected >= 0, got " + calls);
        }
        trainingForwards = calls;
    }

    /**
     * When on, forward refuses inputs and initial states containing NaN or infinity (costs one pass over
     * them). Padded steps of {@code x} are not checked: they are never read.
     */
    public RecurrentLayer checkFinite(boolean on) {
        checkFinite = on;
        return this;
    }

    /** Whether {@link #checkFinite} is on. */
    public boolean checksFinite() {
        return checkFinite;
    }

    @Override
    public Map<String, String> configMetadata() {
        return cfg.toMetadata();
    }

    @Override
    public List<String> configMismatches(Map<String, String> metadata, String prefix) {
        return cfg.mismatches(metadata, prefix);
    }

    /** Parameters by PyTorch name, in {@code state_dict} order (read-only map; the tensors are live). */
    @Override
    public Map<String, Tensor> parameters() {
        return Collections.unmodifiableMap(params);
    }

    /** Accumulated parameter gradients, same names and shapes as {@link #parameters()}. */
    @Override
    public Map<String, Tensor> gradients() {
        return Collections.unmodifiableMap(grads);
    }

    /** The parameter with this PyTorch name, e.g. {@code weight_hh_l1_reverse}. */
    public Tensor parameter(String name) {
        Tensor p = params.get(name);
        if (p == null) {
            throw new IllegalArgumentException("name: expected one of " + params.keySet() + ", got '" + name + "'");
        }
        return p;
    }

    /** Overwrites a parameter from host values in PyTorch's row-major layout. */
    public void setParameter(String name, float[] values) {
        requireOpen();
        Tensor p = parameter(name);
        if (values == null || values.length != p.size()) {
            throw new IllegalArgumentException("values: expected " + p.size() + " floats for '" + name + "' "
                    + Arrays.toString(p.shape()) + ", got " + (values == null ? "null" : values.length));
        }
        try (ExclusiveUse.Held u = use.enter("setParameter")) {
            p.copyFrom(values);
        }
    }

    /** Sets every gradient to zero. */
    @Override
    public void zeroGrad() {
        requireOpen();
        try (ExclusiveUse.Held u = use.enter("zeroGrad")) {
            for (Tensor g : grads.values()) {
                g.fill(0f);
            }
        }
    }

    // ====================================================================== forward

    /** Forward over full-length sequences from zero initial states. */
    public ForwardResult forward(Tensor x) {
        return forward(x, null, null, null);
    }

    /**
     * Runs the stack over {@code x}, {@code [T, B, I]} (or {@code [B, T, I]} batch-first).
     *
     * @param lengths per-sample valid lengths in {@code [1, T]}, any order, or {@code null} for all T
     * @param h0 initial states {@code [layers·D, B, S]}, or {@code null} for zeros
     * @param c0 initial LSTM cell states {@code [layers·D, B, H]}, or {@code null} for zeros
     */
    public ForwardResult forward(Tensor x, int[] lengths, Tensor h0, Tensor c0) {
        requireOpen();
        try (ExclusiveUse.Held u = use.enter("forward")) {
            return forwardUnguarded(x, lengths, null, null, h0, c0, training);
        }
    }

    /**
     * {@link #forward(Tensor, int[], Tensor, Tensor)} with the lengths already on this layer's device (checked on
     * their host copy), for a caller that uploads a batch's inputs before its step: a CUDA graph of the step then
     * serves every length pattern. {@code dropoutSeed}, where not null, holds what {@link #stageDropoutSeed} wrote
     * into it for this forward: the inter-layer dropout then reads its seed from the device, so a graph of the step
     * draws each step's masks. Backward refuses to run after either was {@link DeviceInts#set set} again.
     */
    public ForwardResult forwardStaged(Tensor x, DeviceInts lengths, DeviceInts dropoutSeed, Tensor h0, Tensor c0) {
        requireOpen();
        if (dropoutSeed != null && (dropoutSeed.size() != 2 || dropoutSeed.device() != device)) {
            throw new IllegalArgumentException("dropoutSeed: expected the 2 values stageDropoutSeed writes, on " + device
                    + ", got " + dropoutSeed);
        }
        if (lengths == null) {
            throw new IllegalArgumentException("lengths: expected DeviceInts of the per-sample lengths, got null "
                    + "(forward with null lengths runs all T)");
        }
        if (lengths.device() != device) {
            throw new IllegalArgumentException("lengths: expected values on " + device + ", got " + lengths.device());
        }
        try (ExclusiveUse.Held u = use.enter("forward")) {
            return forwardUnguarded(x, lengths.toArray(), lengths.tensor(), dropoutSeed, h0, c0, training);
        }
    }

    /**
     * Writes the dropout seed of this layer's next training forward into {@code slot} (2 int32 values, low word
     * first), for {@link #forwardStaged}: an upload a caller queues before its step.
     */
    public void stageDropoutSeed(DeviceInts slot) {
        if (slot == null || slot.size() != 2) {
            throw new IllegalArgumentException("slot: expected DeviceInts of 2 values, got " + slot);
        }
        long seed = dropoutSeed(trainingForwards);
        slot.set(new int[] {(int) seed, (int) (seed >>> 32)});
    }

    /**
     * A batch of {@code batch} streams whose states this layer carries from call to call (Keras's
     * {@code stateful}, PyTorch's {@code LSTMCell} loop): see {@link RecurrentStream}.
     *
     * @throws IllegalArgumentException for a bidirectional layer (its reverse direction starts at the end of the
     *         sequence, which a stream has not seen yet) or {@code batch < 1}
     */
    public RecurrentStream stream(int batch) {
        requireOpen();
        return new RecurrentStream(this, batch);
    }

    /** {@link #forward} in inference mode whatever the layer's mode (a stream's step: nothing saved, no dropout). */
    ForwardResult forwardInference(Tensor x, int[] lengths, Tensor h0, Tensor c0) {
        requireOpen();
        try (ExclusiveUse.Held u = use.enter("stream step")) {
            return forwardUnguarded(x, lengths, null, null, h0, c0, false);
        }
    }

    /**
     * {@code lengthsOnDevice}: {@code lengths} on the device already (the caller's), or null to upload them;
     * {@code seedOnDevice}: the dropout seed on the device ({@link #stageDropoutSeed}), or null to pass it to the kernels.
     */
    private ForwardResult forwardUnguarded(Tensor x, int[] lengths, Tensor lengthsOnDevice, DeviceInts seedOnDevice,
                                           Tensor h0, Tensor c0, boolean keep) {
        // read before any weight is: a write from another thread during forward shows as a changed version
        long[] versions = Tensor.versionsForReading(this, params, "forward");
        Checks.sequence("x", x, device, cfg.batchFirst(), cfg.inputSize());
        int steps = x.dim(cfg.batchFirst() ? 1 : 0);
        int batch = x.dim(cfg.batchFirst() ? 0 : 1);
        int[] len = Checks.lengths(lengths, steps, batch);
        int states = cfg.numLayers() * cfg.directions();
        Checks.optionalShape("h0", h0, device, states, batch, cfg.stateSize());
        if (cfg.cell() == CellType.LSTM) {
            Checks.optionalShape("c0", c0, device, states, batch, cfg.hiddenSize());
        } else if (c0 != null) {
            throw new IllegalArgumentException("c0: expected null for " + cfg.cell() + " (only LSTM has a cell state), got "
                    + c0.describe());
        }
        Checks.activations("x", x, steps, batch, cfg);
        if (checkFinite) {
            Checks.finite("h0", h0);
            Checks.finite("c0", c0);
        }

        long seed = keep ? dropoutSeed(trainingForwards) : 0;
        if (keep && seedOnDevice != null
                && (seedOnDevice.get(0) != (int) seed || seedOnDevice.get(1) != (int) (seed >>> 32))) {
            throw new IllegalArgumentException("dropoutSeed: expected the seed of this layer's next training forward "
                    + "(stageDropoutSeed), got other values");
        }
        trainingForwards += keep ? 1 : 0;
        // the kernels' seed: layerSalt(k) on top of the seed in device memory, or the whole of it
        DeviceInts deviceSeed = keep ? seedOnDevice : null;
        long hostSeed = deviceSeed == null ? seed : 0;
        int tb = steps * batch;
        int s = cfg.stateSize();
        int outF = cfg.outputSize();
        List<Tensor> savedTensors = new ArrayList<>();
        DirectionState[][] states2 = new DirectionState[cfg.numLayers()][cfg.directions()];
        try (Scope scope = new Scope(device)) {
            Tensor lenT = len == null ? null
                    : lengthsOnDevice != null ? lengthsOnDevice : scope.track(Tensor.ofInts(device, len, batch));
            // every state of hN and cN, and every element of the time-major buffers below, is written before it
            // is read (copies, GEMMs with beta 0, kernels that also write the padded steps)
            Tensor hN = scope.uninitialized(states, batch, s);
            Tensor cN = cfg.cell() == CellType.LSTM ? scope.uninitialized(states, batch, cfg.hiddenSize()) : null;

            // CPU inference reads a time-major x in place: nothing is saved that a later write to x could change
            Tensor layerIn = !keep && lenT == null && !cfg.batchFirst() && device.kind() == Device.Kind.CPU ? x
                    : maskedTimeMajor(scope, x, lenT, steps, batch);
            if (checkFinite) {
                Checks.finite("x", layerIn);
            }
            Tensor y = null;
            for (int k = 0; k < cfg.numLayers(); k++) {
                int in = cfg.layerInputSize(k);
                y = scope.uninitialized(steps, batch, outF);
                for (int d = 0; d < cfg.directions(); d++) {
                    int state = k * cfg.directions() + d;
                    Tensor dirIn = layerIn;
                    if (d == 1) {
                        dirIn = scope.uninitialized(steps, batch, in);
                        engine.reverseSequences(steps, batch, in, buf(lenT), layerIn.buffer(), 0, in,
                                dirIn.buffer(), 0, in, false);
                    }
                    // a reverse direction writes its own step order into yDir, then reverses it into y
                    Tensor yDir = d == 0 ? y : scope.uninitialized(steps, batch, s);
                    long yOff = 0;
                    int yLd = d == 0 ? outF : s;
                    DirectionState st = runDirection(scope, weights[k][d], dirIn, steps, batch, lenT,
                            h0, c0, state, yDir, yOff, yLd, keep);
                    if (d == 1) {
                        engine.reverseSequences(steps, batch, s, buf(lenT), yDir.buffer(), 0, s,
                                y.buffer(), s, outF, false);
                    }
                    engine.copy(st.hs().buffer(), (long) (keep ? steps : steps % 2) * batch * s,
                            hN.buffer(), (long) state * batch * s, (long) batch * s);
                    if (cN != null) {
                        int hh = cfg.hiddenSize();
                        engine.copy(st.cs().buffer(), (long) (keep ? steps : steps % 2) * batch * hh,
                                cN.buffer(), (long) state * batch * hh, (long) batch * hh);
                    }
                    if (keep) {
                        states2[k][d] = st;
                        for (Tensor t : new Tensor[] {st.input(), st.hs(), st.cs(), st.saved(), st.m()}) {
                            if (t != null && !savedTensors.contains(t)) {
                                savedTensors.add(scope.keep(t));
                            }
                        }
                    }
                }
                boolean drop = keep && cfg.dropout() > 0 && k < cfg.numLayers() - 1;
                if (drop) {
                    Tensor dropped = scope.uninitialized(steps, batch, outF);
                    engine.dropout((long) tb * outF, cfg.dropout(), deviceSeed == null ? null : deviceSeed.tensor().buffer(),
                            0, hostSeed + layerSalt(k), y.buffer(), 0, dropped.buffer(), 0);
                    layerIn = dropped;
                } else {
                    layerIn = y;
                }
            }
            Tensor.requireVersions(this, params, versions, "forward");
            // time-major on the CPU: the last layer's y is the output (a fresh tensor that nothing else holds). CUDA
            // copies it: y's buffer keys the recurrence graphs, and a caller keeping outputs would defeat their replay
            Tensor out = y;
            if (cfg.batchFirst() || device.kind() != Device.Kind.CPU) {
                out = scope.uninitialized(cfg.batchFirst() ? new int[] {batch, steps, outF} : new int[] {steps, batch, outF});
                fromTimeMajor(y, out, steps, batch, outF);
            }
            Saved saved = null;
            if (keep) {
                if (lenT != null && lengthsOnDevice == null) {
                    savedTensors.add(scope.keep(lenT));
                }
                saved = new Saved(steps, batch, lenT, lenT == null ? 0 : lenT.version(), seed,
                        deviceSeed == null ? null : deviceSeed.tensor(), deviceSeed == null ? 0 : deviceSeed.tensor().version(),
                        states2, savedTensors, versions);
            }
            ForwardResult result = new ForwardResult(this, scope.keep(out), scope.keep(hN),
                    cN == null ? null : scope.keep(cN), saved);
            return result;
        } catch (RuntimeException e) {
            for (Tensor t : savedTensors) {
                t.close();
            }
            throw e;
        }
    }

    /**
     * One layer-direction forward over {@code input} in its own step order; writes the outputs into
     * {@code y} (rows {@code yLd} apart from {@code yOff}). Training keeps every step's states; inference
     * ping-pongs two state slots.
     */
    private DirectionState runDirection(Scope scope, Weights w, Tensor input, int steps, int batch, Tensor lenT,
                                        Tensor h0, Tensor c0, int state, Tensor y, long yOff, int yLd, boolean keep) {
        CellType cell = cfg.cell();
        int h = cfg.hiddenSize();
        int s = cfg.stateSize();
        int p = cfg.projSize();
        int gh = cell.gates() * h;
        int tb = steps * batch;
        int in = w.inputSize();
        boolean resetBefore = cell == CellType.GRU && !cfg.resetAfter();
        int slots = keep ? steps + 1 : 2;

        // written in full before they are read (GEMMs with beta 0, kernels that write every element)
        Tensor xp = !keep && device.kind() == Device.Kind.CPU ? inferenceXp(steps, batch, gh)
                : scope.uninitialized(steps, batch, gh);
        Tensor hp = scope.uninitialized(batch, gh);
        Tensor hs = scope.zeros(slots, batch, s);
        if (h0 != null) {
            engine.copy(h0.buffer(), (long) state * batch * s, hs.buffer(), 0, (long) batch * s);
        }
        Tensor cs = null;
        if (cell == CellType.LSTM) {
            cs = scope.zeros(slots, batch, h);
            if (c0 != null) {
                engine.copy(c0.buffer(), (long) state * batch * h, cs.buffer(), 0, (long) batch * h);
            }
        }
        boolean gated = cell == CellType.LSTM || cell == CellType.GRU;
        Tensor saved = keep && gated ? scope.uninitialized(steps, batch, 4 * h)
                : resetBefore ? scope.uninitialized(1, batch, 4 * h) : null;
        Tensor m = p == 0 ? null : scope.zeros(keep ? steps : 1, batch, h);
        Tensor fresh = p == 0 ? null : scope.zeros(batch, p);

        StepArgs a = new StepArgs();
        a.batch = batch;
        a.hidden = h;
        a.lengths = buf(lenT);
        a.xp = xp.buffer();
        a.hp = hp.buffer();
        a.bih = buf(w.bih());
        a.bhh = buf(w.bhh());
        a.peep = buf(w.peep());
        a.hPrev = hs.buffer();
        a.hNext = hs.buffer();
        a.cPrev = buf(cs);
        a.cNext = buf(cs);
        a.saved = buf(saved);
        a.out = y.buffer();
        a.outLd = yLd;
        a.cellClip = cfg.cellClip();
        a.coupled = cfg.coupledInputForget();
        a.relu = cell == CellType.RNN_RELU;
        a.outOff = yOff;
        if (!keep && p == 0 && !resetBefore
                && engine.inferenceForward(cell, steps, a, input.buffer(), in, w.wih().buffer(), w.wih().version(),
                        w.whh().buffer(), w.whh().version())) {
            return new DirectionState(null, hs, cs, null, null);   // the engine's whole-sequence inference path
        }
        // xp[T·B, G·H] = input[T·B, I] · W_ihᵀ, all steps at once
        gemms.gemm(false, true, tb, gh, in, 1f, input.buffer(), 0, in, w.wih().buffer(), 0, in,
                0f, xp.buffer(), 0, gh);
        // the time loop depends only on these shapes and buffers: on CUDA, one graph replay where they repeat
        Object shape = List.of("forward", cell, resetBefore, h, s, p, steps, batch, keep, yOff, yLd, a.cellClip,
                a.coupled);
        Buffer[] used = {xp.buffer(), hp.buffer(), hs.buffer(), a.cPrev, a.saved, buf(m), buf(fresh), y.buffer(),
            a.lengths, a.bih, a.bhh, a.peep, w.whh().buffer(), buf(w.whr())};
        Recurrence loop = recurrence(Recurrence.Pass.FORWARD, w, steps, batch, a);
        loop.keep = keep;
        loop.xp = xp.buffer();
        loop.hs = hs.buffer();
        loop.cs = a.cPrev;
        loop.out = y.buffer();
        loop.outOff = yOff;
        loop.outLd = yLd;
        loop.saved = a.saved;
        gemms.recurrence(loop, shape, used, () -> {
            for (int t = 0; t < steps; t++) {
                int prev = keep ? t : t % 2;
                int next = keep ? t + 1 : (t + 1) % 2;
                a.step = t;
                a.xpOff = (long) t * batch * gh;
                a.hPrevOff = (long) prev * batch * s;
                a.hNextOff = (long) next * batch * s;
                a.cPrevOff = (long) prev * batch * h;
                a.cNextOff = (long) next * batch * h;
                a.savedOff = keep && saved != null ? (long) t * batch * 4 * h : 0;
                a.outOff = yOff + (long) t * batch * yLd;
                if (resetBefore) {
                    // hp[:, r|z] = h_prev · W_h(r|z)ᵀ, then hp[:, n] = (r ⊙ h_prev) · W_hnᵀ between the two phases
                    gemms.gemm(false, true, batch, 2 * h, s, 1f, hs.buffer(), a.hPrevOff, s, w.whh().buffer(), 0, s,
                            0f, hp.buffer(), 0, gh);
                    engine.gruResetBeforeGates(a);
                    gemms.gemm(false, true, batch, h, h, 1f, saved.buffer(), a.savedOff + 3L * h, 4 * h,
                            w.whh().buffer(), 2L * h * s, s, 0f, hp.buffer(), 2L * h, gh);
                    engine.gruResetBeforeOutput(a);
                    continue;
                }
                // hp[B, G·H] = h_prev[B, S] · W_hhᵀ (cuBLAS reads W_hh transposed in place)
                gemms.gemm(false, true, batch, gh, s, 1f, hs.buffer(), a.hPrevOff, s, w.whh().buffer(), 0, s,
                        0f, hp.buffer(), 0, gh);
                switch (cell) {
                    case LSTM -> {
                        if (p == 0) {
                            engine.lstmForward(a);
                        } else {
                            // the cell writes m = o ⊙ tanh(c); the state is h = m · W_hrᵀ, applied under the mask
                            long mOff = keep ? (long) t * batch * h : 0;
                            a.hNext = null;
                            a.out = m.buffer();
                            a.outOff = mOff;
                            a.outLd = h;
                            engine.lstmForward(a);
                            gemms.gemm(false, true, batch, p, h, 1f, m.buffer(), mOff, h, w.whr().buffer(), 0, h,
                                    0f, fresh.buffer(), 0, p);
                            engine.maskedUpdate(batch, p, t, a.lengths, fresh.buffer(), 0, hs.buffer(), a.hPrevOff,
                                    hs.buffer(), a.hNextOff, y.buffer(), yOff + (long) t * batch * yLd, yLd);
                        }
                    }
                    case GRU -> engine.gruForward(a);
                    case RNN_TANH, RNN_RELU -> engine.rnnForward(a);
                    default -> throw new IllegalStateException("cell " + cell);
                }
            }
        });
        if (!keep) {
            return new DirectionState(null, hs, cs, null, null);
        }
        return new DirectionState(input, hs, cs, saved, m);
    }

    /** {@link #inferenceXp}, grown to at least {@code steps·batch·gh} floats. */
    private Tensor inferenceXp(int steps, int batch, int gh) {
        if (inferenceXp == null || inferenceXp.size() < (long) steps * batch * gh) {
            if (inferenceXp != null) {
                inferenceXp.close();
                inferenceXp = null;
            }
            inferenceXp = Tensor.uninitialized(device, steps, batch, gh);
        }
        return inferenceXp;
    }

    // ====================================================================== backward

    /**
     * Backpropagation through time for a training-mode forward: returns {@code dX}, {@code dh0},
     * {@code dc0} and adds every parameter gradient into {@link #gradients()}. Gradients at padded
     * steps of {@code dY} are ignored.
     *
     * @param dY gradient of the output, shaped like {@code fwd.output()}, or {@code null} for zero
     * @param dhN gradient of {@code fwd.hN()}, or {@code null} for zero
     * @param dcN gradient of {@code fwd.cN()} (LSTM), or {@code null} for zero
     */
    public BackwardResult backward(ForwardResult fwd, Tensor dY, Tensor dhN, Tensor dcN) {
        requireOpen();
        try (ExclusiveUse.Held u = use.enter("backward")) {
            BackwardResult r;
            try {
                r = backwardUnguarded(fwd, dY, dhN, dcN);
            } catch (RuntimeException e) {
                if (fwd != null && fwd.gradientsTouched) {
                    // part of the gradients may have been added: a retry would add them twice
                    fwd.releaseSaved();
                    fwd.failedPartWay = e.toString();
                }
                throw e;
            } finally {
                if (fwd != null) {
                    fwd.gradientsTouched = false;
                }
            }
            if (!fwd.retained) {
                fwd.releaseSaved();
                fwd.backwardDone = true;
            }
            return r;
        }
    }

    private BackwardResult backwardUnguarded(ForwardResult fwd, Tensor dY, Tensor dhN, Tensor dcN) {
        if (fwd == null) {
            throw new IllegalArgumentException("fwd: expected the result of this layer's forward, got null");
        }
        if (fwd.layer != this) {
            throw new IllegalArgumentException("fwd: expected a result of this layer's forward, got another layer's");
        }
        if (fwd.saved == null) {
            if (fwd.failedPartWay != null) {
                throw new IllegalStateException("fwd: an earlier backward on this forward result failed part-way ("
                        + fwd.failedPartWay + ") after adding some parameter gradients; zero the gradients "
                        + "(zeroGrad) and run forward again");
            }
            if (fwd.backwardDone) {
                throw new IllegalStateException("fwd: backward already ran on this forward result, and its saved "
                        + "activations were released; a second backward would add the gradients twice. Call "
                        + "fwd.retainSaved() before the first backward to run backward on it several times "
                        + "(PyTorch's retain_graph=True)");
            }
            throw new IllegalStateException("fwd: nothing saved for backward (forward ran in eval mode, "
                    + "or the result was released or closed)");
        }
        Saved sv = fwd.saved;
        List<String> changed = new ArrayList<>();
        int i = 0;
        for (Map.Entry<String, Tensor> e : params.entrySet()) {
            if (e.getValue().version() != sv.parameterVersions[i++]) {
                changed.add(e.getKey());
            }
        }
        if (!changed.isEmpty()) {
            throw new IllegalStateException("fwd: parameters " + changed + " of " + this + " were written since this "
                    + "forward (an optimizer step, setParameter, a checkpoint load, copyFrom or fill); backward would "
                    + "mix the new weights with the old activations. Run forward again");
        }
        int steps = sv.steps;
        int batch = sv.batch;
        int s = cfg.stateSize();
        int h = cfg.hiddenSize();
        int outF = cfg.outputSize();
        int states = cfg.numLayers() * cfg.directions();
        Checks.optionalShape("dY", dY, device, cfg.batchFirst() ? new int[] {batch, steps, outF}
                : new int[] {steps, batch, outF});
        Checks.optionalShape("dhN", dhN, device, states, batch, s);
        if (cfg.cell() == CellType.LSTM) {
            Checks.optionalShape("dcN", dcN, device, states, batch, h);
        } else if (dcN != null) {
            throw new IllegalArgumentException("dcN: expected null for " + cfg.cell() + ", got " + dcN.describe());
        }
        if (sv.dropoutSeedOnDevice != null && sv.dropoutSeedOnDevice.version() != sv.dropoutSeedVersion) {
            throw new IllegalStateException("fwd: the dropout seed given to this forward was set to another value since "
                    + "(DeviceInts.set); backward would draw other masks. Run forward again");
        }
        if (sv.lengthsOnDevice != null && sv.lengthsOnDevice.version() != sv.lengthsVersion) {
            throw new IllegalStateException("fwd: the lengths given to this forward were set to other values since "
                    + "(DeviceInts.set); backward would mask with the new ones. Run forward again");
        }
        Buffer len = buf(sv.lengthsOnDevice);
        try (Scope scope = new Scope(device)) {
            // Everything is allocated before the first parameter gradient is added: running out of memory
            // leaves the gradients as they were and the forward result ready for another backward.
            Tensor dh0 = scope.zeros(states, batch, s);
            Tensor dc0 = cfg.cell() == CellType.LSTM ? scope.zeros(states, batch, h) : null;
            // the last layer's output gradient, time-major
            Tensor dYTop = dY == null ? scope.zeros(steps, batch, outF) : scope.uninitialized(steps, batch, outF);
            Tensor[] dXs = new Tensor[cfg.numLayers()];        // layer k's input gradient, time-major
            Tensor[] dXReversed = new Tensor[cfg.numLayers()]; // the reverse direction's share, in its step order
            for (int k = 0; k < cfg.numLayers(); k++) {
                // direction 0 assigns dX in full and the reverse direction's GEMM assigns its share in full
                dXs[k] = scope.uninitialized(steps, batch, cfg.layerInputSize(k));
                dXReversed[k] = cfg.directions() == 2 ? scope.uninitialized(steps, batch, cfg.layerInputSize(k)) : null;
            }
            Tensor dXOut = scope.uninitialized(cfg.batchFirst() ? new int[] {batch, steps, cfg.inputSize()}
                    : new int[] {steps, batch, cfg.inputSize()});
            // each direction's BPTT buffers; where the engine overlaps, two sets, so that a layer's weight gradients
            // (on the side stream, reading its set) run beside the BPTT of the layer below (writing the other)
            int sets = overlaps() && cfg.numLayers() > 1 ? 2 : 1;
            DirectionScratch[][] scratch = new DirectionScratch[sets][cfg.directions()];
            for (DirectionScratch[] set : scratch) {
                for (int d = 0; d < set.length; d++) {
                    set[d] = new DirectionScratch(scope, steps, batch, d == 1);
                }
            }
            if (dY != null) {
                toTimeMajor(dY, dYTop, steps, batch, outF);
            }
            fwd.gradientsTouched = true;
            LayerBackward lb = new LayerBackward(sv, scratch, steps, batch, len, dhN, dcN, dh0, dc0, dXs, dXReversed);
            // from the top layer down: layer k's parameter gradients (the side part) beside its input gradient and
            // the BPTT of layer k - 1 (the main part), which reads that input gradient and writes the other set
            int top = cfg.numLayers() - 1;
            lb.bptt(top, dYTop);
            for (int k = top; k >= 0; k--) {
                int layer = k;
                Runnable side = () -> lb.weightGradients(layer);
                Runnable main = () -> {
                    lb.inputGradient(layer);
                    if (layer > 0) {
                        lb.bptt(layer - 1, dXs[layer]);
                    }
                };
                if (sets == 1 && layer > 0) {
                    // one set, as the engine did not overlap when this backward began: an overlap switched on since
                    // (setStreams from another thread) would let the BPTT below overwrite what these gradients read
                    side.run();
                    main.run();
                } else {
                    overlapping(side, main);
                }
            }
            // a write from another thread during backward: the gradients just added mix old and new weights
            Tensor.requireVersions(this, params, sv.parameterVersions, "backward");
            fromTimeMajor(dXs[0], dXOut, steps, batch, cfg.inputSize());
            return new BackwardResult(scope.keep(dXOut), scope.keep(dh0), dc0 == null ? null : scope.keep(dc0));
        }
    }

    /** One direction's work buffers for BPTT, allocated once per backward and cleared for each layer that uses them. */
    private final class DirectionScratch {
        final Tensor dyReversed;   // [T, B, S] the reverse direction's output gradient in its step order
        final Tensor dH;           // [T, B, S] dL/dh_t
        final Tensor dc;           // [B, H] dL/dc (LSTM)
        final Tensor dGx;          // [T, B, G·H] gate gradients (input side)
        final Tensor dGh;          // [T, B, G·H] gate gradients (recurrent side; dGx unless reset-after GRU)
        final Tensor dm;           // [B, H] before the projection (LSTMP)
        final Tensor tmp;          // [B, H] d(r ⊙ h_prev) (reset-before GRU)

        DirectionScratch(Scope scope, int steps, int batch, boolean reverse) {
            CellType cell = cfg.cell();
            int h = cfg.hiddenSize();
            int s = cfg.stateSize();
            int gh = cell.gates() * h;
            // written in full before they are read: reverseSequences, seedStateGrad and the backward kernels
            // (zeros at padded steps)
            dyReversed = reverse ? scope.uninitialized(steps, batch, s) : null;
            dH = scope.uninitialized(steps, batch, s);
            dGx = scope.uninitialized(steps, batch, gh);
            dGh = cell == CellType.GRU && cfg.resetAfter() ? scope.uninitialized(steps, batch, gh) : dGx;
            dc = cell == CellType.LSTM ? scope.zeros(batch, h) : null;
            dm = cfg.projSize() == 0 ? null : scope.zeros(batch, h);
            tmp = cell == CellType.GRU && !cfg.resetAfter() ? scope.zeros(batch, h) : null;
        }

        private boolean fresh = true;   // allocated zeroed and not used yet

        /** Zeroes what the previous layer left in the buffers that start at zero (nothing allocates). */
        void clear() {
            if (fresh) {
                fresh = false;
                return;
            }
            for (Tensor t : new Tensor[] {dc, dm, tmp}) {
                if (t != null) {
                    t.fill(0f);
                }
            }
        }
    }

    /**
     * One backward's layers, in three parts per layer that {@link #backwardUnguarded} pipelines: BPTT (the gate
     * gradients into the layer's scratch set), the parameter gradients from them, the input gradient from them.
     */
    private final class LayerBackward {
        final Saved sv;
        final DirectionScratch[][] scratch;
        final int steps;
        final int batch;
        final Buffer len;
        final Tensor dhN;
        final Tensor dcN;
        final Tensor dh0;
        final Tensor dc0;
        final Tensor[] dXs;
        final Tensor[] dXReversed;

        LayerBackward(Saved sv, DirectionScratch[][] scratch, int steps, int batch, Buffer len, Tensor dhN, Tensor dcN,
                      Tensor dh0, Tensor dc0, Tensor[] dXs, Tensor[] dXReversed) {
            this.sv = sv;
            this.scratch = scratch;
            this.steps = steps;
            this.batch = batch;
            this.len = len;
            this.dhN = dhN;
            this.dcN = dcN;
            this.dh0 = dh0;
            this.dc0 = dc0;
            this.dXs = dXs;
            this.dXReversed = dXReversed;
        }

        DirectionScratch[] set(int k) {
            return scratch[k % scratch.length];
        }

        /** BPTT of layer {@code k} from its output gradient {@code dYk}; the two directions beside each other. */
        void bptt(int k, Tensor dYk) {
            DirectionScratch[] sc = set(k);
            for (DirectionScratch d : sc) {
                d.clear();
            }
            if (cfg.directions() == 2) {
                overlapping(() -> bpttDirection(sc[1], weights[k][1], sv.states[k][1], steps, batch, len, dYk, 1, dhN,
                                dcN, 2 * k + 1, dh0, dc0),
                        () -> bpttDirection(sc[0], weights[k][0], sv.states[k][0], steps, batch, len, dYk, 0, dhN, dcN,
                                2 * k, dh0, dc0));
            } else {
                bpttDirection(sc[0], weights[k][0], sv.states[k][0], steps, batch, len, dYk, 0, dhN, dcN, k, dh0, dc0);
            }
        }

        /** Layer {@code k}'s parameter gradients, added over all steps at once (dG is zero at padded steps). */
        void weightGradients(int k) {
            for (int d = 0; d < cfg.directions(); d++) {
                directionWeightGradients(set(k)[d], weights[k][d], sv.states[k][d], steps, batch);
            }
        }

        /** Layer {@code k}'s input gradient {@code dXs[k]} (the reverse direction's share mapped back and added), dropped out. */
        void inputGradient(int k) {
            Tensor dX = dXs[k];
            int in = cfg.layerInputSize(k);
            int tb = steps * batch;
            for (int d = 0; d < cfg.directions(); d++) {
                Weights w = weights[k][d];
                Tensor dGx = set(k)[d].dGx;
                int gh = cfg.cell().gates() * cfg.hiddenSize();
                // dX[T·B, I] = dG_x[T·B, G·H] · W_ih[G·H, I], in this direction's step order
                gemms.gemm(false, false, tb, in, gh, 1f, dGx.buffer(), 0, gh, w.wih().buffer(), 0, in,
                        0f, (d == 0 ? dX : dXReversed[k]).buffer(), 0, in);
            }
            if (cfg.directions() == 2) {
                engine.reverseSequences(steps, batch, in, len, dXReversed[k].buffer(), 0, in, dX.buffer(), 0, in, true);
            }
            if (k > 0 && cfg.dropout() > 0) {
                // the mask is regenerated from the seed: its backward is the same operation
                Tensor base = sv.dropoutSeedOnDevice;
                engine.dropout((long) tb * in, cfg.dropout(), base == null ? null : base.buffer(), 0,
                        (base == null ? sv.dropoutSeed : 0) + layerSalt(k - 1), dX.buffer(), 0, dX.buffer(), 0);
            }
        }
    }

    /** BPTT of one layer-direction: its gate gradients (and {@code dH}) into {@code scratch}, its share of dh0 and dc0. */
    private void bpttDirection(DirectionScratch scratch, Weights w, DirectionState st, int steps, int batch, Buffer len,
                               Tensor dYk, int d, Tensor dhN, Tensor dcN, int state, Tensor dh0, Tensor dc0) {
        CellType cell = cfg.cell();
        int h = cfg.hiddenSize();
        int s = cfg.stateSize();
        int p = cfg.projSize();
        int gh = cell.gates() * h;
        int outF = cfg.outputSize();
        boolean resetBefore = cell == CellType.GRU && !cfg.resetAfter();

        // this direction's output gradient in its own step order
        Buffer dyBuf = dYk.buffer();
        long dyOff = 0;
        int dyLd = outF;
        if (d == 1) {
            Tensor dyr = scratch.dyReversed;
            engine.reverseSequences(steps, batch, s, len, dYk.buffer(), s, outF, dyr.buffer(), 0, s, false);
            dyBuf = dyr.buffer();
            dyLd = s;
        }
        // dH[t] = dL/dh_t: the masked output gradient plus dhN at each sample's last step; BPTT adds into it
        Tensor dH = scratch.dH;
        engine.seedStateGrad(steps, batch, s, len, dyBuf, dyOff, dyLd, buf(dhN), (long) state * batch * s,
                dH.buffer(), 0);
        Tensor dc = scratch.dc;
        if (cell == CellType.LSTM) {
            if (dcN != null) {
                engine.copy(dcN.buffer(), (long) state * batch * h, dc.buffer(), 0, (long) batch * h);
            }
        }
        Tensor dGx = scratch.dGx;
        Tensor dGh = scratch.dGh;
        Tensor dm = scratch.dm;
        Tensor tmp = scratch.tmp;

        StepArgs a = new StepArgs();
        a.batch = batch;
        a.hidden = h;
        a.lengths = len;
        a.peep = buf(w.peep());
        a.saved = buf(st.saved());
        a.hPrev = st.hs().buffer();
        a.hNext = st.hs().buffer();
        a.cPrev = buf(st.cs());
        a.cNext = buf(st.cs());
        a.dc = buf(dc);
        a.dGx = dGx.buffer();
        a.dGh = dGh.buffer();
        a.tmp = buf(tmp);
        a.cellClip = cfg.cellClip();
        a.coupled = cfg.coupledInputForget();
        a.relu = cell == CellType.RNN_RELU;
        Object shape = List.of("backward", cell, resetBefore, h, s, p, steps, batch, state, a.cellClip, a.coupled);
        Buffer[] used = {a.saved, a.hPrev, a.cPrev, a.dc, a.dGx, a.dGh, a.tmp, dH.buffer(), buf(dm), dh0.buffer(),
            a.lengths, a.peep, w.whh().buffer(), buf(w.whr())};
        Recurrence loop = recurrence(Recurrence.Pass.BACKWARD, w, steps, batch, a);
        loop.hs = st.hs().buffer();
        loop.cs = a.cPrev;
        loop.saved = a.saved;
        loop.dH = dH.buffer();
        loop.dc = a.dc;
        loop.dGx = a.dGx;
        loop.dGh = a.dGh;
        loop.dh0 = dh0.buffer();
        loop.dh0Off = (long) state * batch * s;
        gemms.recurrence(loop, shape, used, () -> {
            for (int t = steps - 1; t >= 0; t--) {
                a.step = t;
                a.hPrevOff = (long) t * batch * s;
                a.hNextOff = (long) (t + 1) * batch * s;
                a.cPrevOff = (long) t * batch * h;
                a.cNextOff = (long) (t + 1) * batch * h;
                a.savedOff = (long) t * batch * 4 * h;
                a.dGxOff = (long) t * batch * gh;
                a.dGhOff = a.dGxOff;
                a.dh = dH.buffer();
                a.dhOff = (long) t * batch * s;
                // the gradient of h_{t-1}: dH[t-1] (already seeded with its own output gradient), or dh0
                Buffer carry = t > 0 ? dH.buffer() : dh0.buffer();
                long carryOff = t > 0 ? (long) (t - 1) * batch * s : (long) state * batch * s;
                a.dhPrev = carry;
                a.dhPrevOff = carryOff;
                switch (cell) {
                    case LSTM -> {
                        if (p > 0) {
                            // dm[B, H] = dH[t][B, P] · W_hr
                            gemms.gemm(false, false, batch, h, p, 1f, dH.buffer(), a.dhOff, p, w.whr().buffer(), 0, h,
                                    0f, dm.buffer(), 0, h);
                            a.dh = dm.buffer();
                            a.dhOff = 0;
                        }
                        engine.lstmBackward(a);
                    }
                    case GRU -> {
                        if (resetBefore) {
                            engine.gruResetBeforeBackwardOutput(a);
                            // tmp[B, H] = dG_n[B, H] · W_hn = d(r ⊙ h_prev)
                            gemms.gemm(false, false, batch, h, h, 1f, dGh.buffer(), a.dGhOff + 2L * h, gh,
                                    w.whh().buffer(), 2L * h * h, h, 0f, tmp.buffer(), 0, h);
                            engine.gruResetBeforeBackwardGates(a);
                            // carry += dG_rz[B, 2H] · W_h(r|z)
                            gemms.gemm(false, false, batch, h, 2 * h, 1f, dGh.buffer(), a.dGhOff, gh,
                                    w.whh().buffer(), 0, h, 1f, carry, carryOff, h);
                            continue;
                        }
                        engine.gruBackward(a);
                    }
                    case RNN_TANH, RNN_RELU -> engine.rnnBackward(a);
                    default -> throw new IllegalStateException("cell " + cell);
                }
                // carry[B, S] += dG_h[B, G·H] · W_hh[G·H, S]
                gemms.gemm(false, false, batch, s, gh, 1f, dGh.buffer(), a.dGhOff, gh, w.whh().buffer(), 0, s,
                        1f, carry, carryOff, s);
            }
        });
        if (dc != null) {
            engine.copy(dc.buffer(), 0, dc0.buffer(), (long) state * batch * h, (long) batch * h);
        }
    }

    /** One layer-direction's parameter gradients from the gate gradients its BPTT left in {@code scratch}. */
    private void directionWeightGradients(DirectionScratch scratch, Weights w, DirectionState st, int steps, int batch) {
        CellType cell = cfg.cell();
        int h = cfg.hiddenSize();
        int s = cfg.stateSize();
        int p = cfg.projSize();
        int gh = cell.gates() * h;
        int tb = steps * batch;
        int in = w.inputSize();
        boolean resetBefore = cell == CellType.GRU && !cfg.resetAfter();
        Tensor dGx = scratch.dGx;
        Tensor dGh = scratch.dGh;
        Tensor dH = scratch.dH;
        // dW_ih[G·H, I] += dG_xᵀ[G·H, T·B] · input[T·B, I]
        gemms.gemm(true, false, gh, in, tb, 1f, dGx.buffer(), 0, gh, st.input().buffer(), 0, in,
                1f, w.gwih().buffer(), 0, in);
        if (resetBefore) {
            // rows r|z see h_prev; rows n see r ⊙ h_prev (saved slot 3)
            gemms.gemm(true, false, 2 * h, h, tb, 1f, dGh.buffer(), 0, gh, st.hs().buffer(), 0, h,
                    1f, w.gwhh().buffer(), 0, h);
            gemms.gemm(true, false, h, h, tb, 1f, dGh.buffer(), 2L * h, gh, st.saved().buffer(), 3L * h, 4 * h,
                    1f, w.gwhh().buffer(), 2L * h * h, h);
        } else {
            // dW_hh[G·H, S] += dG_hᵀ[G·H, T·B] · h_prev[T·B, S]  (hs[0 .. T-1])
            gemms.gemm(true, false, gh, s, tb, 1f, dGh.buffer(), 0, gh, st.hs().buffer(), 0, s,
                    1f, w.gwhh().buffer(), 0, s);
        }
        if (w.gbih() != null) {
            if (dGh == dGx) {
                // both biases see the same gate gradient (LSTM, RNN, reset-before GRU): one column sum, added to both
                engine.sumRows(tb, gh, dGx.buffer(), 0, gh, w.gbih().buffer(), 0, w.gbhh().buffer(), 0);
            } else {
                engine.sumRows(tb, gh, dGx.buffer(), 0, gh, w.gbih().buffer(), 0);
                engine.sumRows(tb, gh, dGh.buffer(), 0, gh, w.gbhh().buffer(), 0);
            }
        }
        if (p > 0) {
            // dW_hr[P, H] += dHᵀ[P, T·B] · m[T·B, H]
            gemms.gemm(true, false, p, h, tb, 1f, dH.buffer(), 0, p, st.m().buffer(), 0, h,
                    1f, w.gwhr().buffer(), 0, h);
        }
        if (w.gpeep() != null) {
            engine.lstmPeepholeGrad(tb, h, dGx.buffer(), 0, st.cs().buffer(), 0, st.cs().buffer(), (long) batch * h,
                    w.gpeep().buffer(), 0);
        }
    }

    /**
     * {@link Engine#concurrently}, except for BF16 layers: their GEMMs convert operands into the layer's one
     * scratch ({@link LayerGemm}), so both parts stay in order on one stream.
     */
    private void overlapping(Runnable side, Runnable main) {
        if (gemms.precision() == Precision.BF16) {
            side.run();
            main.run();
        } else {
            engine.concurrently(side, main);
        }
    }

    private boolean overlaps() {
        return gemms.precision() != Precision.BF16 && engine.overlaps();
    }

    // ====================================================================== helpers

    /** The parts of a layer-direction's time loop that forward and backward share, for {@link Engine#recurrence}. */
    private Recurrence recurrence(Recurrence.Pass pass, Weights w, int steps, int batch, StepArgs a) {
        Recurrence r = new Recurrence();
        r.pass = pass;
        r.cell = cfg.cell();
        r.resetAfter = cfg.resetAfter();
        r.hidden = cfg.hiddenSize();
        r.stateSize = cfg.stateSize();
        r.projSize = cfg.projSize();
        r.steps = steps;
        r.batch = batch;
        r.cellClip = a.cellClip;
        r.coupled = a.coupled;
        r.lengths = a.lengths;
        r.whh = w.whh().buffer();
        r.whr = buf(w.whr());
        r.bih = buf(w.bih());
        r.bhh = buf(w.bhh());
        r.peep = a.peep;
        return r;
    }

    /**
     * {@code x} time-major with its padded steps zeroed: whatever they held never reaches a product, so it
     * cannot leak into an output or (through {@code dW_ih = dGᵀ·x}, where {@code 0·NaN} is NaN) a gradient.
     */
    private Tensor maskedTimeMajor(Scope scope, Tensor x, Tensor lenT, int steps, int batch) {
        int f = cfg.inputSize();
        Tensor out = scope.uninitialized(steps, batch, f);
        if (lenT == null) {
            toTimeMajor(x, out, steps, batch, f);
            return out;
        }
        Tensor src = x;
        if (cfg.batchFirst()) {
            src = scope.uninitialized(steps, batch, f);
            toTimeMajor(x, src, steps, batch, f);
        }
        // a masked copy: the state-gradient seed with no final-state term is out = (t < len[b] ? src : 0)
        engine.seedStateGrad(steps, batch, f, lenT.buffer(), src.buffer(), 0, f, null, 0, out.buffer(), 0);
        return out;
    }

    private void toTimeMajor(Tensor src, Tensor dst, int steps, int batch, int features) {
        if (cfg.batchFirst()) {
            engine.swapLeadingAxes(batch, steps, features, src.buffer(), 0, dst.buffer(), 0);
        } else {
            engine.copy(src.buffer(), 0, dst.buffer(), 0, (long) steps * batch * features);
        }
    }

    private void fromTimeMajor(Tensor src, Tensor dst, int steps, int batch, int features) {
        if (cfg.batchFirst()) {
            engine.swapLeadingAxes(steps, batch, features, src.buffer(), 0, dst.buffer(), 0);
        } else {
            engine.copy(src.buffer(), 0, dst.buffer(), 0, (long) steps * batch * features);
        }
    }

    private long dropoutSeed(long call) {
        return cfg.seed() * 0x9E3779B97F4A7C15L + call * 0xC2B2AE3D27D4EB4FL;
    }

    /** What layer {@code layer}'s dropout adds to the forward's seed. */
    private static long layerSalt(int layer) {
        return (layer + 1) * 0x165667B19E3779F9L;
    }

    private static Buffer buf(Tensor t) {
        return t == null ? null : t.buffer();
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException("layer " + cfg + " is closed");
        }
    }

    /** Releases the parameters and gradients. */
    @Override
    public void close() {
        try (ExclusiveUse.Held u = use.enter("close")) {
            closed = true;
            if (inferenceXp != null) {
                inferenceXp.close();
                inferenceXp = null;
            }
        }
        for (Tensor t : params.values()) {
            t.close();
        }
        for (Tensor t : grads.values()) {
            t.close();
        }
        gemms.close();
    }

    @Override
    public String toString() {
        return cfg + " on " + device + (cfg.precision() == null && precision() != Precision.FP32 ? ", " + precision() : "");
    }
}
