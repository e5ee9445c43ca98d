package org.rnn4j.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The order in which cuBLAS libraries are looked for, over a fake file system root. */
class CublasLoaderTest {

    @TempDir
    Path root;

    private Path touch(String relative) throws IOException {
        Path p = root.resolve(relative);
        Files.createDirectories(p.getParent());
        Files.createFile(p);
        return p;
    }

    @Test
    void commonLocationsListCuda13BeforeCuda12AndFindPythonWheels() throws IOException {
        Path toolkit12 = touch("usr/local/cuda/lib64/libcublas.so.12");
        Path wheel13 = touch("usr/local/lib/python3.11/dist-packages/nvidia/cublas/lib/libcublas.so.13");
        Path wheelCu13 = touch("usr/lib/python3.12/site-packages/nvidia/cu13/lib/libcublas.so.13");
        Path versioned = touch("usr/local/cuda-13.0/lib64/libcublas.so.13");
        touch("usr/lib/python3.12/site-packages/nvidia/cublas/lib/libcublasLt.so.13");   // not cuBLAS itself
        List<Path> found = CublasLoader.commonLocations(root, Map.of());
        assertEquals(List.of(versioned, wheelCu13, wheel13, toolkit12), found);
    }

    @Test
    void candidatesTrySonamesThenJCublasThenFiles() throws IOException {
        Path wheel = touch("usr/lib/python3.10/site-packages/nvidia/cublas/lib/libcublas.so.12");
        List<CublasLoader.Candidate> c = CublasLoader.candidates(Map.of(), root);
        assertEquals(4, c.size(), c.toString());
        assertEquals("libcublas.so.13", c.get(0).library());
        assertEquals("libcublas.so.12", c.get(1).library());
        assertTrue(c.get(2).isJCublas());
        assertEquals(wheel.toString(), c.get(3).library());
    }

    @Test
    void theEnvironmentVariableIsAnExplicitChoice() throws IOException {
        touch("usr/local/cuda/lib64/libcublas.so.12");
        List<CublasLoader.Candidate> path = CublasLoader.candidates(
                Map.of(CublasLoader.ENV, "/opt/x/libcublas.so.13"), root);
        assertEquals(1, path.size());
        assertEquals("/opt/x/libcublas.so.13", path.get(0).library());
        List<CublasLoader.Candidate> jcublas = CublasLoader.candidates(Map.of(CublasLoader.ENV, "JCublas"), root);
        assertEquals(1, jcublas.size());
        assertTrue(jcublas.get(0).isJCublas());
    }

    @Test
    void aMissingLibraryGivesAOneLineReason() {
        List<String> lines = CublasLoader.probe();
        assertTrue(!lines.isEmpty() && lines.get(0).startsWith("cuBLAS: "), lines.toString());
        for (String l : lines) {
            assertTrue(!l.contains("\n") && l.length() < 400, l);
        }
    }
}
