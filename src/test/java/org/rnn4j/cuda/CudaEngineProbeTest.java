package org.rnn4j.cuda;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.rnn4j.Device;

/**
 * {@link CudaEngine#probe()} and opening where CUDA is not usable. Maven runs this class in the
 * execution without the stand-in driver ({@code without-cuda}); elsewhere its cases skip.
 */
@Tag("without-cuda")
class CudaEngineProbeTest {

    /** Null when CUDA device 0 opens, otherwise the reason it does not. */
    private static String whyNotUsable() {
        try {
            Device.cuda();
            return null;
        } catch (IllegalStateException e) {
            return e.getMessage();
        }
    }

    @Test
    void probeReportsWithoutThrowing() {
        String report = assertDoesNotThrow(CudaEngine::probe);
        assertNotNull(report);
        assertFalse(report.isBlank());
        assertTrue(report.contains("JCuda natives"), report);
        assertTrue(report.contains("kernels"), report);
        assertTrue(report.contains("cuBLAS"), report);
        assertTrue(report.contains("usable: "), report);
        assertTrue(report.lines().count() >= 4, report);
        // a second probe after the natives failed (or loaded) once still works
        assertDoesNotThrow(CudaEngine::probe);
    }

    @Test
    void cudaFailsWithAReasonWhenNotUsable() {
        String reason = whyNotUsable();
        assumeTrue(reason != null, "CUDA is usable here; the failure path is not exercised");
        IllegalStateException e = assertThrows(IllegalStateException.class, Device::cuda);
        // the message is the reason itself (Device.best() puts "CUDA is not usable: " before it)
        assertTrue(e.getMessage() != null && e.getMessage().length() > 10, e.getMessage());
        assertTrue(!e.getMessage().startsWith("CUDA is not usable"), e.getMessage());
        assertTrue(e.getMessage().contains("natives") || e.getMessage().contains("cuInit")
                || e.getMessage().contains("device") || e.getMessage().contains("kernels")
                || e.getMessage().contains("cuBLAS"), e.getMessage());
        // and again (the natives' failure is remembered, not retried into a NoClassDefFoundError)
        IllegalStateException again = assertThrows(IllegalStateException.class, Device::cuda);
        assertTrue(again.getMessage().equals(e.getMessage()), again.getMessage());
    }

    @Test
    void bestFallsBackToTheCpuAndSaysWhy() {
        String reason = whyNotUsable();
        assumeTrue(reason != null, "CUDA is usable here");
        Device best = Device.best();
        assertFalse(best.isCuda());
        assertTrue(best.selectionNote().contains("CUDA is not usable"), best.selectionNote());
    }
}
