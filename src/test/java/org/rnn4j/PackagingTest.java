package org.rnn4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * A project depending on rnn4j gets only what the engines need: the CLI and demo libraries are optional
 * in the POM, and only the CLI and the demos use them. (The full check, a consumer project built from
 * README's dependency snippet whose {@code mvn dependency:tree} lists no CLI or chart library, needs
 * {@code mvn install} and is described in CONTRIBUTING.md.)
 */
class PackagingTest {
    private static final List<String> CLI_ONLY = List.of("info.picocli", "org.jfree", "me.tongfei");

    @Test
    void cliAndChartLibrariesAreOptional() throws IOException {
        assumeTrue(Files.exists(Path.of("pom.xml")), "not run from the repository (a GPU-host bundle has no pom.xml)");
        String pom = Files.readString(Path.of("pom.xml"));
        Matcher m = Pattern.compile("<dependency>(.*?)</dependency>", Pattern.DOTALL).matcher(pom);
        int found = 0;
        while (m.find()) {
            String dep = m.group(1);
            for (String group : CLI_ONLY) {
                if (dep.contains("<groupId>" + group + "</groupId>")) {
                    found++;
                    assertTrue(dep.contains("<optional>true</optional>") || dep.contains("<scope>test</scope>"),
                            group + " must be optional: " + dep);
                }
            }
        }
        assertEquals(CLI_ONLY.size(), found, "each CLI-only library is declared once");
    }

    @Test
    void onlyTheCliAndTheDemosImportThem() throws IOException {
        assumeTrue(Files.isDirectory(Path.of("src/main/java")), "not run from the repository (a GPU-host bundle has no sources)");
        Path root = Path.of("src/main/java/org/rnn4j");
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).toList()) {
                String rel = root.relativize(f).toString();
                if (rel.startsWith("cli") || rel.startsWith("demo")) {
                    continue;
                }
                String src = Files.readString(f);
                for (String pkg : List.of("picocli", "org.jfree", "me.tongfei")) {
                    assertTrue(!src.contains("import " + pkg), f + " imports " + pkg + ", a CLI-only library");
                }
            }
        }
    }
}
