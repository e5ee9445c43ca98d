package org.rnn4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The usage example in README.md compiles and runs as it stands there. */
class ReadmeExampleTest {

    @Test
    void readmeExampleCompilesAndRuns(@TempDir Path dir) throws Exception {
        String readme = Files.readString(Path.of("README.md"));
        Matcher m = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(readme);
        assertTrue(m.find(), "README.md has a ```java block");
        Path source = dir.resolve("Example.java");
        Files.writeString(source, m.group(1));

        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assumeTrue(javac != null, "this runtime has no Java compiler (a jlink bundle without jdk.compiler)");
        ByteArrayOutputStream diagnostics = new ByteArrayOutputStream();
        int rc = javac.run(null, null, diagnostics, "-d", dir.toString(),
                "-cp", System.getProperty("java.class.path"), source.toString());
        assertEquals(0, rc, () -> "the README example does not compile:\n" + diagnostics);

        PrintStream stdout = System.out;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        try (URLClassLoader loader = new URLClassLoader(new URL[] {dir.toUri().toURL()}, getClass().getClassLoader())) {
            System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
            loader.loadClass("Example").getMethod("main", String[].class).invoke(null, (Object) new String[0]);
        } finally {
            System.setOut(stdout);
        }
        List<String> lines = printed.toString(StandardCharsets.UTF_8).lines().toList();
        assertTrue(lines.get(0).startsWith("best available"), lines.toString());
        assertTrue(lines.stream().anyMatch(l -> l.contains("LSTM(I=8, H=16, bidirectional)")), lines.toString());
        assertTrue(lines.stream().anyMatch(l -> l.startsWith("epoch 4/4")), lines.toString());
        String last = lines.get(lines.size() - 1);
        assertTrue(last.startsWith("validation accuracy "), lines.toString());
        // chance is about one half; the model learns the rule
        assertTrue(Double.parseDouble(last.substring("validation accuracy ".length())) > 0.85, lines.toString());
    }
}
