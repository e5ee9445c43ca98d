package org.rnn4j.engine;

/**
 * The buffers of one fused pointwise step, filled in by the layer and reused for every step of a
 * layer-direction (so nothing is allocated inside the time loop). Every (buffer, offset) pair
 * points at the first element of a row-major block; a {@code null} buffer means "absent".
 *
 * <p>Shapes, with {@code B = batch}, {@code H = hidden}, {@code G} gates (LSTM 4: i,f,g,o;
 * GRU 3: r,z,n; RNN 1) and {@code S = 4} saved values per unit (LSTM i,f,g,o; GRU r,z,n and
 * {@code W_hn h + b_hn} (reset-after) or {@code r ⊙ h_prev} (reset-before)):
 * <pre>
 *   xp     [B, G·H]  input projection W_ih·x of this step, without bias
 *   hp     [B, G·H]  recurrent projection W_hh·h_prev, without bias
 *   bih, bhh [G·H]   biases, both or neither (a layer without bias)
 *   peep   [3H]      LSTM peephole weights (i, f, o), or null
 *   hPrev, hNext [B, H]  state before / after the step (hNext null: not written)
 *   cPrev, cNext [B, H]  LSTM cell state before / after the step
 *   out    rows outLd apart, H wide: y[s], or m[s] = o⊙tanh(c) for a projected LSTM
 *   saved  [B, S·H]  activations kept for backward, or null in inference
 *   dh     [B, H]    gradient arriving at this step's output state (in)
 *   dc     [B, H]    LSTM cell-state gradient carry (in: at c_s, out: at c_{s-1})
 *   dGx, dGh [B, G·H] gradients of the pre-activations seen by W_ih / W_hh: the same buffer for
 *                    LSTM, RNN and the reset-before GRU, two buffers for the reset-after GRU (n blocks differ)
 *   dhPrev [B, H]    GRU's direct gradient term is added here ({@code +=})
 *   tmp    [B, H]    reset-before GRU backward: d(r ⊙ h_prev) from the W_hn GEMM
 * </pre>
 * A sample that is not valid at the step (see {@link Engine}) keeps its state
 * ({@code hNext = hPrev}, {@code cNext = cPrev}), gets 0 in {@code out}, {@code saved}, {@code dGx}
 * and {@code dGh}, and leaves {@code dc} and {@code dhPrev} as they were.
 */
public final class StepArgs {
    public int batch;
    public int hidden;
    public int step;
    public Buffer lengths;

    public Buffer xp;
    public long xpOff;
    public Buffer hp;
    public long hpOff;
    public Buffer bih;
    public Buffer bhh;
    public Buffer peep;

    public Buffer hPrev;
    public long hPrevOff;
    public Buffer hNext;
    public long hNextOff;
    public Buffer cPrev;
    public long cPrevOff;
    public Buffer cNext;
    public long cNextOff;
    public Buffer out;
    public long outOff;
    public int outLd;
    public Buffer saved;
    public long savedOff;

    public Buffer dh;
    public long dhOff;
    public Buffer dc;
    public long dcOff;
    public Buffer dGx;
    public long dGxOff;
    public Buffer dGh;
    public long dGhOff;
    public Buffer dhPrev;
    public long dhPrevOff;
    public Buffer tmp;
    public long tmpOff;

    /** LSTM: the cell state is clamped to [-cellClip, cellClip] when positive. */
    public float cellClip;
    /** LSTM: coupled input-forget gate, f = 1 - i (the f rows of the weights are unused). */
    public boolean coupled;
    /** RNN: relu instead of tanh. */
    public boolean relu;

    /** A copy of every field (the buffers shared), for a caller that moves its own offsets. */
    public StepArgs copy() {
        StepArgs a = new StepArgs();
        a.batch = batch;
        a.hidden = hidden;
        a.step = step;
        a.lengths = lengths;
        a.xp = xp;
        a.xpOff = xpOff;
        a.hp = hp;
        a.hpOff = hpOff;
        a.bih = bih;
        a.bhh = bhh;
        a.peep = peep;
        a.hPrev = hPrev;
        a.hPrevOff = hPrevOff;
        a.hNext = hNext;
        a.hNextOff = hNextOff;
        a.cPrev = cPrev;
        a.cPrevOff = cPrevOff;
        a.cNext = cNext;
        a.cNextOff = cNextOff;
        a.out = out;
        a.outOff = outOff;
        a.outLd = outLd;
        a.saved = saved;
        a.savedOff = savedOff;
        a.dh = dh;
        a.dhOff = dhOff;
        a.dc = dc;
        a.dcOff = dcOff;
        a.dGx = dGx;
        a.dGxOff = dGxOff;
        a.dGh = dGh;
        a.dGhOff = dGhOff;
        a.dhPrev = dhPrev;
        a.dhPrevOff = dhPrevOff;
        a.tmp = tmp;
        a.tmpOff = tmpOff;
        a.cellClip = cellClip;
        a.coupled = coupled;
        a.relu = relu;
        return a;
    }
}
