package org.rnn4j.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * {@link CpuCells#sigmoid} and {@link CpuCells#tanh} (float arithmetic only) against double: {@code 1/(1+e^−x)}
 * with {@link Math#exp} and {@link Math#tanh}, the error in ulps of the float nearest the double result. The bound,
 * {@value #MAX_ULPS} ulp, is the one measured over every float bit pattern ({@link #everyFloat}, run with
 * {@code -Drnn4j.test.exhaustive=true}: sigmoid 2.402 ulp at x = −4.157294, tanh 2.498 ulp at x = 4.5050907).
 * The default run sweeps every 64th bit pattern of [−20, 20], where neither function has saturated, and the
 * special values.
 */
class CellMathTest {

    static final double MAX_ULPS = 2.5;

    @Test
    void everySixtyFourthFloatOfMinusTwentyToTwentyIsWithinTheBound() {
        int top = Float.floatToRawIntBits(20f);
        Worst w = sweep(0, top, 64).merge(sweep(0x80000000, 0x80000000 | top, 64));
        w.check();
    }

    @Test
    @EnabledIfSystemProperty(named = "rnn4j.test.exhaustive", matches = "true")
    void everyFloat() {
        Worst w = IntStream.range(0, 1 << 12).parallel()
                .mapToObj(s -> sweep(s << 20, (s << 20) + (1 << 20) - 1, 1))
                .reduce(new Worst(), Worst::merge);
        System.out.println(w);
        w.check();
    }

    @Test
    void specialValues() {
        assertTrue(Float.isNaN(CpuCells.sigmoid(Float.NaN)));
        assertTrue(Float.isNaN(CpuCells.tanh(Float.NaN)));
        assertEquals(1f, CpuCells.sigmoid(Float.POSITIVE_INFINITY));
        assertEquals(0f, CpuCells.sigmoid(Float.NEGATIVE_INFINITY));
        assertEquals(1f, CpuCells.tanh(Float.POSITIVE_INFINITY));
        assertEquals(-1f, CpuCells.tanh(Float.NEGATIVE_INFINITY));
        assertEquals(0.5f, CpuCells.sigmoid(0f));
        assertEquals(0.5f, CpuCells.sigmoid(-0f));
        assertEquals(Float.floatToRawIntBits(0f), Float.floatToRawIntBits(CpuCells.tanh(0f)));
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(CpuCells.tanh(-0f)));
        for (float tiny : new float[] {Float.MIN_VALUE, Float.MIN_NORMAL, 1e-30f, 9.99e-5f}) {
            assertEquals(tiny, CpuCells.tanh(tiny));
            assertEquals(-tiny, CpuCells.tanh(-tiny));
        }
        for (float tiny : new float[] {Float.MIN_VALUE, Float.MIN_NORMAL, 1e-30f, 1e-8f}) {
            assertEquals(0.5f, CpuCells.sigmoid(tiny));   // 1/2 + x/4 rounds to 1/2
            assertEquals(0.5f, CpuCells.sigmoid(-tiny));
        }
        assertEquals(1f, CpuCells.sigmoid(Float.MAX_VALUE));
        assertEquals(0f, CpuCells.sigmoid(-Float.MAX_VALUE));
        assertEquals(1f, CpuCells.sigmoid(17f));        // 1 − 4e-8 rounds to 1
        assertEquals(1f, CpuCells.tanh(9.1f));
        assertEquals(-1f, CpuCells.tanh(-Float.MAX_VALUE));
        // sigmoid of very negative x is e^x, subnormal below −87.3 and 0 only below −103.97
        for (float x : new float[] {-87f, -88f, -90f, -95f, -100f, -103f, -103.9f}) {
            double want = 1 / (1 + Math.exp(-(double) x));
            assertTrue(ulps(CpuCells.sigmoid(x), want) <= MAX_ULPS, "sigmoid(" + x + ") = " + CpuCells.sigmoid(x) + ", double " + want);
            assertTrue(CpuCells.sigmoid(x) > 0f, "sigmoid(" + x + ") > 0");
        }
        assertEquals(0f, CpuCells.sigmoid(-104.5f));
    }

    /** The worst error in ulps of each function and where. */
    private static final class Worst {
        double sigmoid, tanh;
        float sigmoidAt, tanhAt;

        Worst merge(Worst o) {
            if (o.sigmoid > sigmoid) {
                sigmoid = o.sigmoid;
                sigmoidAt = o.sigmoidAt;
            }
            if (o.tanh > tanh) {
                tanh = o.tanh;
                tanhAt = o.tanhAt;
            }
            return this;
        }

        void check() {
            assertTrue(sigmoid <= MAX_ULPS, this::toString);
            assertTrue(tanh <= MAX_ULPS, this::toString);
        }

        @Override
        public String toString() {
            return String.format("sigmoid: %.4f ulp at %s, tanh: %.4f ulp at %s", sigmoid, sigmoidAt, tanh, tanhAt);
        }
    }

    /** Bit patterns {@code from, from + stride, …} up to {@code to} (inclusive, unsigned order). */
    private static Worst sweep(int from, int to, int stride) {
        Worst w = new Worst();
        for (long b = from & 0xFFFFFFFFL; b <= (to & 0xFFFFFFFFL); b += stride) {
            float x = Float.intBitsToFloat((int) b);
            double s = ulps(CpuCells.sigmoid(x), 1 / (1 + Math.exp(-(double) x)));
            double t = ulps(CpuCells.tanh(x), Math.tanh(x));
            if (s > w.sigmoid) {
                w.sigmoid = s;
                w.sigmoidAt = x;
            }
            if (t > w.tanh) {
                w.tanh = t;
                w.tanhAt = x;
            }
        }
        return w;
    }

    /**
     * |got − want| in ulps of the float nearest want (the smaller ulp just below a power of two); NaN for NaN
     * only, anything else is infinitely wrong.
     */
    static double ulps(float got, double want) {
        if (Double.isNaN(want) || Float.isNaN(got)) {
            return Double.isNaN(want) && Float.isNaN(got) ? 0 : Double.POSITIVE_INFINITY;
        }
        float w = (float) want;
        double ulp = Math.ulp(w);
        if (Math.abs(want) < Math.abs(w)) {
            ulp = Math.min(ulp, Math.ulp(Math.nextDown(Math.abs(w))));
        }
        return Math.abs(got - want) / ulp;
    }
}
