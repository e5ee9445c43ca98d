package org.rnn4j.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import org.junit.jupiter.api.Test;
import org.rnn4j.DType;
import org.rnn4j.Device;
import org.rnn4j.engine.Buffer;
import org.rnn4j.engine.Engine;

/**
 * The CPU engine's answers where only the sign of zero, NaN or ∞ tells forms apart: the kernels copy
 * these (clampf, axpby, the k == 0 GEMM path), and CudaExactnessTest holds the CUDA engine to them bit
 * for bit. {@code assertArrayEquals} on floats compares bits, so −0 ≠ +0.
 */
class SignOfZeroTest {
    private static final float NAN = Float.NaN;
    private static final float INF = Float.POSITIVE_INFINITY;
    private final Engine e = Device.cpu().engine();

    private Buffer of(float... v) {
        Buffer b = e.allocate(DType.F32, v.length);
        e.upload(v, 0, b, 0, v.length);
        return b;
    }

    private float[] host(Buffer b) {
        float[] out = new float[(int) b.length()];
        e.download(b, 0, out, 0, out.length);
        return out;
    }

    @Test
    void clampIsJavasMinOfMaxWithMinusZeroBelowPlusZero() {
        try (Buffer x = of(-0f, 0f, -2f, 2f, NAN, -INF)) {
            e.clamp(6, x, 0, 0f, 1f);
            assertArrayEquals(new float[] {0f, 0f, 0f, 1f, NAN, 0f}, host(x));
        }
        try (Buffer x = of(-0f, 0f, -2f, 2f, NAN)) {
            e.clamp(5, x, 0, -1f, -0f);
            assertArrayEquals(new float[] {-0f, -0f, -1f, -0f, NAN}, host(x));
        }
        try (Buffer x = of(-0f, 0f, 0.5f)) {
            e.clamp(3, x, 0, NAN, 1f);   // a NaN bound wins, as in Math.max
            assertArrayEquals(new float[] {NAN, NAN, NAN}, host(x));
        }
    }

    @Test
    void axpbyWithBetaZeroStoresAlphaTimesXAsIs() {
        try (Buffer x = of(-0f, 0f, 1f, -INF); Buffer y = of(NAN, NAN, 5f, 1f)) {
            e.axpby(4, 2f, x, 0, 0f, y, 0);
            assertArrayEquals(new float[] {-0f, 0f, 2f, -INF}, host(y));
        }
        try (Buffer y = of(-0f, 0f, 3f)) {
            e.axpby(3, -1f, y, 0, 0f, y, 0);   // x == y: a scale
            assertArrayEquals(new float[] {0f, -0f, -3f}, host(y));
        }
    }

    @Test
    void gemmWithNothingToAddIsBetaTimesCLikeReferenceBlas() {
        float[] c = {-0f, 0f, NAN, INF, 3f, -1f};
        try (Buffer a = of(INF, NAN); Buffer b = of(INF, 1f, 2f)) {
            try (Buffer cb = of(c)) {
                e.gemm(false, false, 2, 3, 0, 1f, a, 0, 1, b, 0, 3, 2f, cb, 0, 3);     // k == 0, beta 2
                assertArrayEquals(new float[] {-0f, 0f, NAN, INF, 6f, -2f}, host(cb));
            }
            try (Buffer cb = of(c)) {
                e.gemm(false, false, 2, 3, 0, 1f, a, 0, 1, b, 0, 3, -1f, cb, 0, 3);    // k == 0, beta −1
                assertArrayEquals(new float[] {0f, -0f, NAN, -INF, -3f, 1f}, host(cb));
            }
            try (Buffer cb = of(c)) {
                e.gemm(false, false, 2, 3, 0, 1f, a, 0, 1, b, 0, 3, 0f, cb, 0, 3);     // beta 0 overwrites
                assertArrayEquals(new float[] {0f, 0f, 0f, 0f, 0f, 0f}, host(cb));
            }
            try (Buffer cb = of(c)) {
                e.gemm(false, false, 2, 3, 1, 0f, a, 0, 1, b, 0, 3, 1f, cb, 0, 3);     // alpha 0: A·B not formed
                assertArrayEquals(c, host(cb));
            }
        }
    }
}
