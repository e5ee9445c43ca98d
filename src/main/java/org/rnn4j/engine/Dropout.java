package org.rnn4j.engine;

/**
 * The counter-based generator behind {@link Engine#dropout}: a SplitMix64 finaliser of
 * {@code (seed, index)}, so that every engine draws the same mask without storing it and a
 * backward pass regenerates it. {@code kernels/common.cuh} implements the same function.
 */
public final class Dropout {
    private Dropout() {
    }

    /** A uniform float in [0, 1) with 24 random bits, a pure function of {@code seed} and {@code index}. */
    public static float uniform(long seed, long index) {
        long z = seed + (index + 1) * 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z = z ^ (z >>> 31);
        return (z >>> 40) * 0x1.0p-24f;
    }
}
