package org.rnn4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import jcuda.driver.CUresult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Status names, the hints attached to them, and JCuda's version: pure Java, no GPU needed. */
class DriverTest {

    @Test
    void initFailuresUseTheDriverApisOwnCodes() {
        assertEquals(" (the installed driver is older than the CUDA 12 driver API JCuda needs; update the driver)",
                Driver.initHint(36));
        assertEquals("CUDA_ERROR_CALL_REQUIRES_NEWER_DRIVER", Driver.statusName(36));
        assertTrue(Driver.initHint(CUresult.CUDA_ERROR_SYSTEM_DRIVER_MISMATCH).contains("different driver versions"));
        assertEquals(803, CUresult.CUDA_ERROR_SYSTEM_DRIVER_MISMATCH);
        assertTrue(Driver.initHint(804).contains("forward-compatibility"));
        assertTrue(Driver.initHint(802).contains("fabricmanager"));
        assertTrue(Driver.initHint(CUresult.CUDA_ERROR_STUB_LIBRARY).contains("stub"));
        assertTrue(Driver.initHint(CUresult.CUDA_ERROR_NO_DEVICE).contains("CUDA_VISIBLE_DEVICES"));
        // 35 is the runtime API's cudaErrorInsufficientDriver: the driver API never returns it
        assertEquals("", Driver.initHint(35));
        assertEquals("CUresult 35", Driver.statusName(35));
        assertEquals("", Driver.initHint(CUresult.CUDA_ERROR_UNKNOWN));
    }

    @Test
    void unusableKernelImagesGetTheRebuildOrUpdateHint() {
        for (int status : new int[] {200, 209, 218, 222}) {
            String m = Driver.moduleLoadMessage(status, "org/rnn4j/kernels/lstm.fatbin", "sm_120");
            assertTrue(m.startsWith("kernels not usable on sm_120: cuModuleLoadData(org/rnn4j/kernels/lstm.fatbin)"
                    + " on sm_120 failed with " + CUresult.stringFor(status)), m);
            assertTrue(m.endsWith(" (rebuild the kernels with native/build.sh for sm_120, or update the driver)"), m);
        }
        String other = Driver.moduleLoadMessage(CUresult.CUDA_ERROR_OUT_OF_MEMORY, "org/rnn4j/kernels/gru.fatbin", "sm_90");
        assertEquals("cuModuleLoadData(org/rnn4j/kernels/gru.fatbin) on sm_90 failed with CUDA_ERROR_OUT_OF_MEMORY", other);
    }

    @Test
    void jcudaVersionIsTheOneOfTheJarOnTheClasspath() {
        URL jar = CUresult.class.getProtectionDomain().getCodeSource().getLocation();
        Matcher m = Pattern.compile("jcuda-([0-9][\\w.-]*)\\.jar$").matcher(jar.getPath());
        assertTrue(m.find(), "JCuda loaded from " + jar);
        assertEquals(m.group(1), Driver.jcudaVersion());
    }

    /**
     * The shaded CLI jar: one manifest (rnn4j's Implementation-Version for every package, JCuda's
     * included) and JCuda's Maven descriptor. The version must come from the descriptor.
     */
    @Test
    void inAShadedJarJcudasVersionIsNotRnn4js(@TempDir Path dir) throws IOException {
        Path shaded = dir.resolve("rnn4j-cli.jar");
        Manifest manifest = new Manifest();
        manifest.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        manifest.getMainAttributes().put(Attributes.Name.IMPLEMENTATION_VERSION, "0.1.0-SNAPSHOT");
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(shaded), manifest);
             InputStream cls = CUresult.class.getResourceAsStream("CUresult.class")) {
            out.putNextEntry(new JarEntry("jcuda/driver/CUresult.class"));
            cls.transferTo(out);
            out.putNextEntry(new JarEntry("META-INF/maven/org.jcuda/jcuda/pom.properties"));
            out.write("version=12.6.0\ngroupId=org.jcuda\nartifactId=jcuda\n".getBytes(StandardCharsets.UTF_8));
        }
        try (URLClassLoader loader = new URLClassLoader(new URL[] {shaded.toUri().toURL()},
                ClassLoader.getPlatformClassLoader())) {
            Package p = loader.loadClass("jcuda.driver.CUresult").getPackage();
            assertEquals("0.1.0-SNAPSHOT", p.getImplementationVersion(), "what the old code printed");
            assertEquals("12.6.0", Driver.artifactVersion(loader, "org.jcuda", "jcuda"));
            assertNull(Driver.artifactVersion(loader, "org.jcuda", "jcublas"));
        } catch (ClassNotFoundException e) {
            throw new AssertionError(e);
        }
        assertNotEquals("0.1.0-SNAPSHOT", Driver.jcudaVersion());
        assertFalse(Driver.jcudaVersion().isBlank());
    }
}
