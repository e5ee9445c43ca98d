package org.rnn4j.demo;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/** The two bundled data sets, read from the classpath ({@code /data/...}): no downloads. */
public final class Datasets {

    private Datasets() {
    }

    /** Monthly totals of international airline passengers (thousands), January 1949 to December 1960. */
    public record Series(List<String> months, double[] values) {
    }

    /** One poem: title, author and its body lines (each a couplet such as {@code 床前明月光，疑是地上霜。}). */
    public record Poem(String title, String author, List<String> lines) {
        /** The body as the model sees it: each line followed by a newline. */
        public String text() {
            StringBuilder sb = new StringBuilder();
            for (String l : lines) {
                sb.append(l).append('\n');
            }
            return sb.toString();
        }
    }

    public static Series airline() {
        List<String> months = new ArrayList<>();
        List<Double> values = new ArrayList<>();
        for (String line : read("/data/airline-passengers.csv").split("\n")) {
            String l = line.strip();
            if (l.isEmpty() || l.startsWith("month")) {
                continue;
            }
            String[] parts = l.split(",");
            months.add(parts[0].strip());
            values.add(Double.parseDouble(parts[1].strip()));
        }
        return new Series(months, values.stream().mapToDouble(Double::doubleValue).toArray());
    }

    /**
     * The 300 Tang poems. The file holds blocks separated by blank lines: {@code 《title》}, then
     * {@code 作者：author}, then the body lines; titles and authors are kept apart from the text.
     */
    public static List<Poem> tangPoems() {
        List<Poem> poems = new ArrayList<>();
        String title = null;
        String author = "";
        List<String> lines = new ArrayList<>();
        for (String raw : read("/data/tang300.txt").split("\n")) {
            String l = raw.strip().replace("\u3000", "");
            if (l.startsWith("《") && l.endsWith("》")) {
                if (title != null && !lines.isEmpty()) {
                    poems.add(new Poem(title, author, List.copyOf(lines)));
                }
                title = l.substring(1, l.length() - 1);
                author = "";
                lines.clear();
            } else if (l.startsWith("作者：")) {
                author = l.substring(3);
            } else if (!l.isEmpty() && title != null) {
                lines.add(l);
            }
        }
        if (title != null && !lines.isEmpty()) {
            poems.add(new Poem(title, author, List.copyOf(lines)));
        }
        return poems;
    }

    private static String read(String resource) {
        try (InputStream in = Datasets.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("resource " + resource + " is missing from the classpath");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).replace("\r", "");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
