package org.rnn4j;

import java.util.Locale;

/**
 * The arithmetic of a recurrent layer's matrix products (its GEMMs; the pointwise cell kernels, the state,
 * the biases, the optimizer and checkpoints are FP32 in every mode).
 * <ul>
 *   <li>{@link #FP32}: exact FP32 (the default): no TF32, no reduced-precision reductions, so that the CUDA
 *       engine agrees with the CPU engine near 1e-5 relative.</li>
 *   <li>{@link #TF32}: FP32 data, the operands of each product rounded to TF32 (10 explicit mantissa bits)
 *       on tensor cores, FP32 accumulation: PyTorch's {@code allow_tf32 = True}.</li>
 *   <li>{@link #BF16}: BF16 operands (8 mantissa bits), FP32 accumulation and an FP32 result; the FP32 weights
 *       stay the master copy that the optimizer updates and checkpoints save, and a BF16 copy of each weight
 *       is refreshed from it when it changed (after each optimizer step). BF16 has FP32's 8-bit exponent, so
 *       no gradient underflows that would not underflow in FP32: unlike FP16, it needs no loss scale.</li>
 * </ul>
 * Where it is chosen, first match wins: the layer's configuration ({@code builder.precision(..)}), the device
 * ({@link Device#withPrecision}), the system property {@value #PROPERTY} (CUDA layers only, as PyTorch's
 * {@code torch.backends.cuda.matmul.allow_tf32} leaves the CPU alone), then FP32. The CPU engine is the FP32
 * oracle: it refuses an explicit TF32 or BF16 request. Tolerances per mode: README, section "Precision".
 */
public enum Precision {
    FP32, TF32, BF16;

    /** System property: the default precision of CUDA layers ({@code fp32}, {@code tf32} or {@code bf16}). */
    public static final String PROPERTY = "rnn4j.precision";

    /**
     * Parses {@code fp32}, {@code tf32} or {@code bf16} (any case).
     *
     * @param argument the name of the argument or property, for the message
     * @throws IllegalArgumentException naming {@code argument} for anything else
     */
    public static Precision parse(String argument, String value) {
        if (value != null) {
            switch (value.trim().toLowerCase(Locale.ROOT)) {
                case "fp32": return FP32;
                case "tf32": return TF32;
                case "bf16": return BF16;
                default: break;
            }
        }
        throw new IllegalArgumentException(argument + ": expected fp32, tf32 or bf16, got "
                + (value == null ? "null" : "'" + value + "'"));
    }

    /**
     * The precision of a layer on {@code device}: {@code configured} (the layer's own, or {@code null}), else the
     * device's, else {@value #PROPERTY} on a CUDA device, else FP32.
     *
     * @throws IllegalArgumentException naming {@code precision} for an explicit non-FP32 request on the CPU, and
     *                                  naming {@value #PROPERTY} when the property is not a precision
     */
    static Precision resolve(Precision configured, Device device) {
        String property = System.getProperty(PROPERTY);
        Precision fromProperty = property == null ? null : parse("-D" + PROPERTY, property);   // refused on any device
        Precision chosen = configured != null ? configured : device.precision();
        if (chosen != null) {
            requireSupported(chosen, device);
            return chosen;
        }
        return device.isCuda() && fromProperty != null ? fromProperty : FP32;
    }

    /** Refuses TF32 and BF16 on the CPU: its engine is the FP32 oracle the other modes are held against. */
    static void requireSupported(Precision precision, Device device) {
        if (precision != FP32 && !device.isCuda()) {
            throw new IllegalArgumentException("precision: expected FP32 on " + device + " (the CPU engine computes "
                    + "exact FP32 only: it is the oracle TF32 and BF16 are held against), got " + precision);
        }
    }
}
