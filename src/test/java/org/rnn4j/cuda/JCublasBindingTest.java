package org.rnn4j.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.SplittableRandom;
import jcuda.driver.JCudaDriver;
import org.junit.jupiter.api.Test;
import org.rnn4j.DType;
import org.rnn4j.Device;
import org.rnn4j.Devices;

/**
 * JCublas2 is the fall-back binding now (JNA binds cuBLAS first, CublasLoader), so the suite no longer
 * runs through it: here its {@code sgemm} computes, on the same device buffers, what the engine's own
 * binding computes, bit for bit, for each pair of transpose flags (the same cuBLAS underneath).
 */
class JCublasBindingTest {

    @Test
    void jcublasGivesTheEnginesProductsBitForBit() {
        String unusable = Devices.cudaUnusableReason();
        assumeTrue(unusable == null, () -> "no usable CUDA device: " + unusable);
        CudaEngine engine = (CudaEngine) Device.cuda().engine();
        JCublasBinding jcublas;
        try {
            jcublas = JCublasBinding.load();
        } catch (IllegalStateException e) {
            assumeTrue(false, "JCublas2 does not load here: " + e.getMessage());
            return;
        }
        int m = 5;
        int n = 3;
        int k = 4;
        SplittableRandom r = new SplittableRandom(2);
        float[] a = new float[m * k];
        float[] b = new float[k * n];
        float[] c = new float[m * n];
        for (float[] v : new float[][] {a, b, c}) {
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) r.nextDouble(-1, 1);
            }
        }
        engine.synchronize();   // makes the engine's context current here, for the handle
        jcublas.create();
        try (CudaBuffer da = (CudaBuffer) engine.allocate(DType.F32, a.length);
             CudaBuffer db = (CudaBuffer) engine.allocate(DType.F32, b.length);
             CudaBuffer viaEngine = (CudaBuffer) engine.allocate(DType.F32, c.length);
             CudaBuffer viaJCublas = (CudaBuffer) engine.allocate(DType.F32, c.length)) {
            jcublas.setPointerModeHost();
            jcublas.setMathMode(CublasBinding.EXACT_FP32_MATH);
            engine.upload(a, 0, da, 0, a.length);
            engine.upload(b, 0, db, 0, b.length);
            for (int flags = 0; flags < 4; flags++) {
                boolean transA = (flags & 1) != 0;
                boolean transB = (flags & 2) != 0;
                int lda = transA ? m : k;
                int ldb = transB ? k : n;
                engine.upload(c, 0, viaEngine, 0, c.length);
                engine.upload(c, 0, viaJCublas, 0, c.length);
                engine.gemm(transA, transB, m, n, k, 1.5f, da, 0, lda, db, 0, ldb, 0.5f, viaEngine, 0, n);
                engine.synchronize();
                // the engine's operand swap, on JCublas2's handle (legacy stream: synchronized around it)
                ColumnMajorGemm g = ColumnMajorGemm.of(transA, transB, m, n, k, lda, ldb, n);
                jcublas.sgemm(g.opFirst(), g.opSecond(), g.m(), g.n(), g.k(), 1.5f, db.address(0), g.ldFirst(),
                        da.address(0), g.ldSecond(), 0.5f, viaJCublas.address(0), g.ldc());
                Driver.check(JCudaDriver.cuCtxSynchronize(), "cuCtxSynchronize");
                float[] expected = new float[c.length];
                float[] actual = new float[c.length];
                engine.download(viaEngine, 0, expected, 0, c.length);
                engine.download(viaJCublas, 0, actual, 0, c.length);
                assertArrayEquals(expected, actual, "transA " + transA + ", transB " + transB);
            }
        } finally {
            jcublas.close();
        }
    }
}
