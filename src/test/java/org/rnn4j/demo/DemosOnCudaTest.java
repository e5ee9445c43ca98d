package org.rnn4j.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rnn4j.Device;
import org.rnn4j.Devices;

/** Both demos for a few steps on the CUDA engine (the stand-in driver under Maven): they train, and agree with the CPU. */
class DemosOnCudaTest {
    @TempDir
    Path dir;

    private static Device cuda() {
        String reason = Devices.cudaUnusableReason();
        assumeTrue(reason == null, () -> "CUDA not usable: " + reason);
        return Device.cuda();
    }

    @Test
    void airlineTrainsTheSameOnCudaAsOnTheCpu() {
        Device cuda = cuda();
        AirlineDemo.Result gpu = AirlineDemo.run(new AirlineDemo.Options().device(cuda).hidden(6).epochs(3).seed(7).charts(false), null);
        AirlineDemo.Result cpu = AirlineDemo.run(new AirlineDemo.Options().device(Device.cpu()).hidden(6).epochs(3).seed(7).charts(false), null);
        assertEquals(cpu.forecast().length, gpu.forecast().length);
        for (int i = 0; i < cpu.forecast().length; i++) {
            // three epochs of Adam from the same seed: the engines differ by float rounding only
            assertEquals(cpu.forecast()[i], gpu.forecast()[i], 1e-3 * Math.abs(cpu.forecast()[i]), "forecast month " + i);
        }
    }

    @Test
    void poemsTrainAndCheckpointOnCuda() throws Exception {
        Device cuda = cuda();
        PoemDemo.Result r = PoemDemo.run(new PoemDemo.Options().device(cuda).seed(42).steps(3).hidden(32).embed(16).batch(4)
                .seqLen(16).minCount(3).learningRate(1e-2).sampleEvery(3).charts(false)
                .outDir(dir).checkpoint(dir.resolve("tang.safetensors")), null);
        assertTrue(Double.isFinite(r.validationPerplexity()), "validation perplexity " + r.validationPerplexity());
        assertTrue(Files.size(r.checkpoint()) > 0);
        try (PoemModel m = PoemModel.load(r.checkpoint(), cuda)) {
            String text = m.generate("床前", 5, 0.8, 7, (char) 0);
            assertEquals(7, text.codePointCount(0, text.length()), text);
        }
    }
}
