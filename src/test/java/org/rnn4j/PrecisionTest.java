package org.rnn4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.rnn4j.engine.Buffer;
import org.rnn4j.engine.Engine;
import org.rnn4j.train.Sgd;

/**
 * {@link Precision}: parsing, where it is chosen, the CPU engine's refusal, and BF16's FP32 master weights (an
 * update far below BF16's resolution must still land in the FP32 weights that the optimizer and checkpoints see).
 */
class PrecisionTest {

    @Test
    void parsesTheThreeNamesAndRefusesAnythingElseNamingTheArgument() {
        assertEquals(Precision.TF32, Precision.parse("precision", " Tf32 "));
        assertEquals(Precision.BF16, Precision.parse("precision", "bf16"));
        assertEquals(Precision.FP32, Precision.parse("precision", "FP32"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Precision.parse("rnn4j.precision", "fp16"));
        assertEquals("rnn4j.precision: expected fp32, tf32 or bf16, got 'fp16'", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Lstm.builder(2, 3).precision(null));
        assertThrows(IllegalArgumentException.class, () -> Device.cpu().withPrecision(null));
    }

    @Test
    void theCpuEngineIsTheFp32OracleAndRefusesAnExplicitReducedPrecision() {
        IllegalArgumentException layer = assertThrows(IllegalArgumentException.class,
                () -> Lstm.builder(2, 3).precision(Precision.BF16).build(Device.cpu()));
        assertTrue(layer.getMessage().startsWith("precision: expected FP32 on cpu"), layer.getMessage());
        IllegalArgumentException device = assertThrows(IllegalArgumentException.class,
                () -> Device.cpu().withPrecision(Precision.TF32));
        assertTrue(device.getMessage().startsWith("precision: "), device.getMessage());
        try (RecurrentLayer l = Lstm.builder(2, 3).precision(Precision.FP32).build(Device.cpu())) {
            assertEquals(Precision.FP32, l.precision());
        }
    }

    @Test
    void theSystemPropertyIsTheDefaultOfCudaLayersOnlyAndABadValueIsRefusedByItsName() {
        String before = System.getProperty(Precision.PROPERTY);
        try {
            System.setProperty(Precision.PROPERTY, "bf16");
            try (RecurrentLayer cpu = Gru.builder(2, 3).build(Device.cpu())) {
                assertEquals(Precision.FP32, cpu.precision(), "the CPU computes FP32 under the CUDA-only default");
            }
            System.setProperty(Precision.PROPERTY, "half");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Gru.builder(2, 3).build(Device.cpu()));
            assertTrue(e.getMessage().startsWith("-Drnn4j.precision: "), e.getMessage());
            if (Devices.cudaUnusableReason() == null) {
                System.setProperty(Precision.PROPERTY, "tf32");
                Device gpu = Device.cuda();
                try (RecurrentLayer byProperty = Gru.builder(2, 3).build(gpu);
                     RecurrentLayer byDevice = Gru.builder(2, 3).build(gpu.withPrecision(Precision.BF16));
                     RecurrentLayer byLayer = Gru.builder(2, 3).precision(Precision.FP32).build(gpu.withPrecision(Precision.BF16))) {
                    assertEquals(Precision.TF32, byProperty.precision());
                    assertEquals(Precision.BF16, byDevice.precision());
                    assertEquals(Precision.FP32, byLayer.precision(), "the layer's own choice comes first");
                    assertEquals(gpu, gpu.withPrecision(Precision.BF16), "the same device: tensors move freely");
                }
            }
        } finally {
            if (before == null) {
                System.clearProperty(Precision.PROPERTY);
            } else {
                System.setProperty(Precision.PROPERTY, before);
            }
        }
    }

    @Test
    void bf16KeepsFp32MasterWeightsSoThatUpdatesBelowBf16ResolutionAddUp() {
        String unusable = Devices.cudaUnusableReason();
        assumeTrue(unusable == null, () -> "no usable CUDA device: " + unusable);
        Device gpu = Device.cuda();
        int steps = 5;
        int batch = 2;
        // lr·g is about 1e-5 of a weight: far below half a BF16 ulp (2^-9 relative), well above FP32's (2^-24)
        float lr = 1e-4f;
        try (RecurrentLayer l = Lstm.builder(4, 8).precision(Precision.BF16).seed(9).build(gpu);
             Sgd sgd = new Sgd(List.of(l), lr);
             Tensor x = Tensor.of(gpu, PrecisionParityTest.random(new java.util.SplittableRandom(3), steps * batch * 4), steps, batch, 4);
             Tensor dy = Tensor.of(gpu, PrecisionParityTest.random(new java.util.SplittableRandom(4), steps * batch * 8), steps, batch, 8)) {
            for (int step = 0; step < 3; step++) {
                float[] before = l.parameter("weight_hh_l0").toHost();
                l.zeroGrad();
                try (ForwardResult f = l.forward(x); BackwardResult g = l.backward(f, dy, null, null)) {
                    // the step's product read the weights (their BF16 copy, refreshed after the last step)
                }
                float[] grad = l.gradients().get("weight_hh_l0").toHost();
                sgd.step();
                float[] after = l.parameter("weight_hh_l0").toHost();
                int moved = 0;
                for (int i = 0; i < before.length; i++) {
                    float expected = before[i] - lr * grad[i];
                    assertEquals(expected, after[i], Math.ulp(expected) * 2, "weight_hh_l0[" + i + "] after step " + step
                            + ": the FP32 master must take the whole update (BF16 would round it away)");
                    if (after[i] != before[i]) {
                        moved++;
                    }
                }
                assertTrue(moved > before.length / 2, "step " + step + ": only " + moved + " of " + before.length + " weights moved");
            }
        }
    }

    @Test
    void bf16ConversionRoundsToNearestEvenKeepsNanAndOverflowsToInfinity() {
        String unusable = Devices.cudaUnusableReason();
        assumeTrue(unusable == null, () -> "no usable CUDA device: " + unusable);
        Engine e = Device.cuda().engine();
        float tie = 1f + 0x1p-8f;   // halfway between 1 and 1 + 2^-7: to the even one, 1
        float[] in = {tie, 1f + 3 * 0x1p-8f, tie + 0x1p-20f, Float.NaN, Float.MAX_VALUE, -0f, Float.NEGATIVE_INFINITY, -2.5f};
        float[] want = {1f, 1f + 0x1p-6f, 1f + 0x1p-7f, Float.NaN, Float.POSITIVE_INFINITY, -0f, Float.NEGATIVE_INFINITY, -2.5f};
        float[] got = new float[in.length];
        try (Buffer src = e.allocate(DType.F32, 2L * in.length); Buffer half = e.allocate(DType.BF16, in.length);
             Buffer back = e.allocate(DType.F32, in.length)) {
            int cols = in.length / 2;   // two rows, stored 8 apart, converted into one dense block
            e.upload(in, 0, src, 0, cols);
            e.upload(in, cols, src, in.length, cols);
            e.toBf16(2, cols, src, 0, in.length, half, 0);
            e.fromBf16(in.length, half, 0, back, 0);
            e.download(back, 0, got, 0, in.length);
            for (int i = 0; i < in.length; i++) {
                assertEquals(Float.floatToIntBits(want[i]), Float.floatToIntBits(got[i]), "bf16(" + in[i] + ") = " + got[i]);
            }
            IllegalArgumentException wrong = assertThrows(IllegalArgumentException.class,
                    () -> e.gemm(Precision.BF16, false, false, 1, 1, 1, 1f, src, 0, 1, half, 0, 1, 0f, back, 0, 1));
            assertTrue(wrong.getMessage().startsWith("a: expected a BF16 buffer"), wrong.getMessage());
        }
    }
}
