package org.rnn4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rnn4j.DType;
import org.rnn4j.Device;
import org.rnn4j.engine.Buffer;
import org.rnn4j.engine.Engine;

/**
 * The GPU hosts we borrow have cuBLAS only inside PyTorch's virtual environment, which is on the
 * {@code PATH} but not activated: {@code /opt/torch/.venv/bin/python3} and
 * {@code .../lib/python3.12/site-packages/nvidia/cu13/lib/libcublas.so.13}. This rehearses exactly that
 * in a child JVM: the stand-in driver alone on {@code LD_LIBRARY_PATH} (so neither JCublas2 nor a soname
 * finds a cuBLAS), a fake venv holding only the stand-in's {@code libcublas.so.13} under
 * {@code nvidia/cu13/lib}, its {@code bin} on the {@code PATH}, no {@code RNN4J_CUBLAS} or
 * {@code VIRTUAL_ENV}. The engine must find that file by itself, bind it and compute a GEMM with it.
 */
class CublasVenvFallbackTest {

    @TempDir
    Path tmp;

    /** The stand-in build folder on this JVM's {@code LD_LIBRARY_PATH} (the build puts it there). */
    private static Path standin() {
        for (String dir : System.getenv().getOrDefault("LD_LIBRARY_PATH", "").split(":")) {
            Path d = Path.of(dir.isEmpty() ? "." : dir);
            if (Files.exists(d.resolve("libcuda.so.1")) && Files.exists(d.resolve("libcublas.so.13"))
                    && Files.exists(d.resolve("checks_test"))) {
                return d.toAbsolutePath();
            }
        }
        return null;
    }

    @Test
    void aCublasInsideAVenvOnThePathIsFoundAndUsed() throws Exception {
        Path standin = standin();
        assumeTrue(standin != null, "the stand-in driver is not on LD_LIBRARY_PATH (it is in mvn test)");
        Path driver = Files.createDirectories(tmp.resolve("driver"));
        Files.createSymbolicLink(driver.resolve("libcuda.so.1"), standin.resolve("libcuda.so.1"));
        Path venv = tmp.resolve("opt/torch/.venv");
        Path python = Files.createDirectories(venv.resolve("bin")).resolve("python3");
        Files.writeString(python, "#!/bin/sh\nexit 1\n");
        Path lib = Files.createDirectories(venv.resolve("lib/python3.12/site-packages/nvidia/cu13/lib"));
        // a copy, not a link: /proc/self/maps then names this path, as with the real wheel
        Path cublas = Files.copy(standin.resolve("libcublas.so.13"), lib.resolve("libcublas.so.13"));
        assertEquals(List.of(cublas), CublasLoader.commonLocations(tmp, Map.of("PATH", "/opt/torch/.venv/bin:/bin")),
                "the lookup itself, over the fake root");

        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), Child.class.getName());
        Map<String, String> env = pb.environment();
        env.remove(CublasLoader.ENV);
        env.remove("VIRTUAL_ENV");
        env.remove("CONDA_PREFIX");
        env.put("LD_LIBRARY_PATH", driver.toString());
        env.put("PATH", venv.resolve("bin") + File.pathSeparator + "/usr/bin" + File.pathSeparator + "/bin");
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the child JVM did not finish: " + out);
        assertEquals(0, p.exitValue(), out);
        String expected = "via JNA (" + cublas + ")";
        assertTrue(out.contains("cuBLAS: cuBLAS") && out.lines().anyMatch(l -> l.startsWith("probe: ")
                && l.contains(expected)), "info's probe names the venv's library: " + out);
        assertTrue(out.lines().anyMatch(l -> l.startsWith("engine: ") && l.contains(expected)),
                "the engine bound it: " + out);
        assertTrue(out.contains("gemm matches the CPU"), out);
    }

    /** The child JVM: what {@code info} would say, the engine it opens, and one GEMM against the CPU's. */
    public static final class Child {
        public static void main(String[] args) throws IOException {
            for (String line : Device.cudaStatus().split("\n")) {
                System.out.println("probe: " + line);
            }
            Engine gpu = Device.cuda().engine();
            System.out.println("engine: " + gpu.describe());
            float[] a = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};   // 3×4
            float[] b = {1, -1, 0.5f, 2, -3, 1, 4, 0.25f};          // 4×2
            float[] onGpu = gemm(gpu, a, b);
            float[] onCpu = gemm(Device.cpu().engine(), a, b);
            if (!Arrays.equals(onGpu, onCpu)) {
                throw new IllegalStateException("gemm differs: cuda " + Arrays.toString(onGpu) + ", cpu "
                        + Arrays.toString(onCpu));
            }
            System.out.println("gemm matches the CPU: " + Arrays.toString(onGpu));
        }

        private static float[] gemm(Engine e, float[] a, float[] b) {
            try (Buffer da = e.allocate(DType.F32, a.length); Buffer db = e.allocate(DType.F32, b.length);
                 Buffer dc = e.allocate(DType.F32, 6)) {
                e.upload(a, 0, da, 0, a.length);
                e.upload(b, 0, db, 0, b.length);
                e.gemm(false, false, 3, 2, 4, 1f, da, 0, 4, db, 0, 2, 0f, dc, 0, 2);
                float[] c = new float[6];
                e.download(dc, 0, c, 0, 6);
                return c;
            }
        }
    }
}
