package org.rnn4j.engine;

import org.rnn4j.CellType;

/**
 * One layer-direction's whole time loop, forward or backward (BPTT), described for
 * {@link Engine#recurrence}: an engine may run it as one algorithm of its own (a persistent kernel)
 * instead of the per-step primitives. The loop runs in the direction's own step order (a reverse
 * direction's sequences are already reversed per sample), over the same buffers and with the same
 * semantics as the per-step loop of {@code RecurrentLayer}; shapes in elements, time-major.
 *
 * <p>Forward reads {@code xp [T, B, G·H]} (the input projection), {@code whh [G·H, S]}, {@code bih},
 * {@code bhh} {@code [G·H]} (or null), {@code peep} (or null), slot 0 of {@code hs [slots, B, S]} and
 * {@code cs [slots, B, H]} (LSTM); it writes the other slots ({@code keep}: {@code slots = T + 1}, one per
 * step; otherwise two, ping-pong), {@code out} (row {@code (t, b)} at {@code outOff + (t·B + b)·outLd})
 * and {@code saved [T, B, 4H]} (training) or nothing there.
 * Backward reads {@code hs}, {@code cs}, {@code saved} of a training forward and adds into
 * {@code dH [T, B, S]} (the seeded output gradients), {@code dc [B, H]}, and {@code dh0} at
 * {@code dh0Off} ({@code [B, S]}); it writes the gate gradients {@code dGx [T, B, G·H]} (and
 * {@code dGh} where it differs).
 */
public final class Recurrence {

    /** Which loop. */
    public enum Pass { FORWARD, BACKWARD }

    public Pass pass;
    public CellType cell;
    /** GRU only: the cuDNN / PyTorch form ({@code true}) or the original ({@code false}). */
    public boolean resetAfter;
    public int hidden;
    public int stateSize;
    public int projSize;
    public int steps;
    public int batch;
    /** Forward: one state slot per step (training) rather than two. */
    public boolean keep;
    public float cellClip;
    public boolean coupled;

    public Buffer lengths;
    public Buffer whh;
    public Buffer whr;
    public Buffer bih;
    public Buffer bhh;
    public Buffer peep;
    public Buffer xp;
    public Buffer hs;
    public Buffer cs;
    public Buffer out;
    public long outOff;
    public int outLd;
    public Buffer saved;

    public Buffer dH;
    public Buffer dc;
    public Buffer dGx;
    public Buffer dGh;
    public Buffer dh0;
    public long dh0Off;
}
