package org.rnn4j.demo;

import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.time.format.TextStyle;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.Function;
import javax.imageio.ImageIO;
import org.rnn4j.Device;
import org.rnn4j.Lstm;
import org.rnn4j.model.EarlyStopping;
import org.rnn4j.model.FitOptions;
import org.rnn4j.model.History;
import org.rnn4j.model.Seq2Seq;
import org.rnn4j.model.SequenceDataset;

/**
 * Date normalisation with an encoder–decoder and attention: character sequences such as "leave guangzhou on sep
 * 26th, 1986" or "26.09.1986" become "1986-09-26". The requests are <b>generated in code</b> from templates (not
 * collected from users); the test dates are dates that training never sees. Trains with {@link Seq2Seq#fit} (a tenth
 * of the training requests for validation, early stopping on its exact match). Reports exact match on the test dates in the
 * training templates, and on a template held out of training entirely (the arrive-on-the-nth-of form), and draws one
 * example's attention weights to {@code dates-attention.png}.
 */
public final class DatesDemo {

    /** Target ids: the 11 characters of "0123456789-", then the start and end tokens. */
    static final String TARGET_CHARS = "0123456789-";
    static final int START = TARGET_CHARS.length(), END = START + 1;
    /** Source ids: 0 is unused (no padding is ever read), then these characters. */
    static final String SOURCE_CHARS = " abcdefghijklmnopqrstuvwxyz0123456789,./-";
    private static final String[] CITIES = {"guangzhou", "beijing", "shanghai", "chengdu", "hong kong", "wuhan"};

    /** The surface forms: each renders a date (and a city) as a request. */
    static final List<Function<Object[], String>> TEMPLATES = List.of(
            a -> month(a, true) + " " + day(a) + ", " + year(a),
            a -> day(a) + " " + month(a, false) + " " + year(a),
            a -> "leave " + a[1] + " on " + month(a, false) + " " + ordinal(a) + " " + year(a),
            a -> "arrive in " + a[1] + " on the " + ordinal(a) + " of " + month(a, false) + " " + year(a),
            a -> monthNumber(a) + "/" + day(a) + "/" + year(a),
            a -> twoDigits(day(a)) + "." + twoDigits(monthNumber(a)) + "." + year(a),
            a -> "from " + a[1] + " " + month(a, true) + " " + ordinal(a) + " " + year(a),
            a -> year(a) + "/" + twoDigits(monthNumber(a)) + "/" + twoDigits(day(a)));

    private DatesDemo() {
    }

    /** The demo's settings. */
    public static final class Options extends DemoOptions<Options> {
        int examples = 6000;
        Path outDir = Path.of("rnn4j-demo-output");

        /** At most 16 epochs (early stopping on the validation exact match ends it sooner), hidden size 64. */
        public Options() {
            super(16, 64);
        }

        /** Requests generated for training (a further fifth, of other dates, for the test). */
        public Options examples(int v) {
            examples = atLeast("examples", 5, v);   // a fifth more, of other dates, for the test
            return this;
        }

        public Options outDir(Path v) {
            outDir = v;
            return this;
        }
    }

    /** The template no training request uses. */
    static final int HELD_OUT_TEMPLATE = 3;

    /**
     * What the run measured on the held-out dates: exact match greedy and with beam search (width 3) in the training
     * templates, and greedy in the held-out template.
     */
    public record Result(double exactMatch, double beamExactMatch, double heldOutTemplateExactMatch, int trainExamples,
                         int testExamples, Device device, double seconds, Path attentionMap) {
    }

    /** Runs the demo; {@code out} receives the report, or nothing when {@code null}. */
    public static Result run(Options o, PrintStream out) {
        long start = System.nanoTime();
        Device device = o.resolvedDevice();
        SplittableRandom rnd = new SplittableRandom(o.seed);
        List<LocalDate> dates = new ArrayList<>();
        Set<LocalDate> seen = new HashSet<>();
        int testCount = o.examples / 5;
        while (dates.size() < o.examples + testCount) {
            LocalDate d = LocalDate.ofEpochDay(LocalDate.of(1950, 1, 1).toEpochDay() + rnd.nextInt(100 * 365));
            if (seen.add(d)) {
                dates.add(d);
            }
        }
        List<String[]> train = new ArrayList<>();
        List<String[]> test = new ArrayList<>();
        List<String[]> heldOutTemplate = new ArrayList<>();
        for (int i = 0; i < dates.size(); i++) {
            int template = rnd.nextInt(TEMPLATES.size() - 1);
            String[] pair = render(dates.get(i), rnd, template < HELD_OUT_TEMPLATE ? template : template + 1);
            (i < testCount ? test : train).add(pair);
            if (i < testCount) {
                heldOutTemplate.add(render(dates.get(i), rnd, HELD_OUT_TEMPLATE));
            }
        }
        say(out, "== Date normalisation: encoder-decoder (bidirectional LSTM, Luong general attention), characters in, ISO date out ==");
        say(out, "device: " + device + " (" + device.selectionNote() + ")");
        say(out, String.format(Locale.ROOT, "data: requests generated in code from %d templates (not real user requests): "
                + "%d for training in %d of them (a tenth of those for validation), %d held out whose dates training never "
                + "sees, and the same dates in the template training never sees (\"%s\")", TEMPLATES.size(), train.size(), TEMPLATES.size() - 1, test.size(),
                heldOutTemplate.get(0)[0]));
        for (String[] p : train.subList(0, 3)) {
            say(out, "  e.g. \"" + p[0] + "\" -> " + p[1]);
        }
        SequenceDataset[] fitAndValidation = SequenceDataset.sequenceToSequence(
                train.stream().map(p -> sourceIds(p[0])).toList(), train.stream().map(p -> targetIds(p[1])).toList())
                .split(0.1, o.seed);
        int emb = 16;
        try (Seq2Seq model = Seq2Seq.builder(SOURCE_CHARS.length() + 1, TARGET_CHARS.length() + 2)
                .encoder(Lstm.builder(emb, o.hidden).bidirectional(true).seed(o.seed))
                .decoder(Lstm.builder(emb, o.hidden).seed(o.seed + 1))
                .attention(Seq2Seq.Attention.GENERAL).tokens(START, END).seed(o.seed + 2).build(device)) {
            EarlyStopping stopping = new EarlyStopping("val_exact_match").patience(2).restoreBestWeights(true);
            History h;
            try {
                h = model.fit(fitAndValidation[0], fitAndValidation[1], new FitOptions().epochs(o.epochs).batchSize(64)
                        .adam(3e-3).clipNorm(0).seed(o.seed).progress(out).callbacks(stopping));
            } catch (IOException e) {   // no checkpoints are written: not expected
                throw new UncheckedIOException(e);
            }
            say(out, String.format(Locale.ROOT, "trained %d epochs (%d Adam steps of 64 requests)%s; best %s "
                    + "%.4f at epoch %d  (%.0f s)", h.last().epoch(), model.stepsTrained(), h.stoppedEarly() ? ", stopped early" : "",
                    stopping.monitor(), stopping.best(), stopping.bestEpoch(), (System.nanoTime() - start) / 1e9));
            List<Seq2Seq.Translation> greedy = decode(model, test, 1);
            List<Seq2Seq.Translation> beam = decode(model, test, 3);
            double exact = exactMatch(test, greedy), beamExact = exactMatch(test, beam);
            double unseenTemplate = exactMatch(heldOutTemplate, decode(model, heldOutTemplate, 1));
            for (int i = 0; i < 3; i++) {
                say(out, "  test \"" + test.get(i)[0] + "\" -> " + text(greedy.get(i).tokens()) + "   (expected " + test.get(i)[1] + ")");
            }
            Path png = o.outDir.resolve("dates-attention.png");
            attentionMap(png, test.get(2)[0], text(greedy.get(2).tokens()), greedy.get(2).attention());
            double seconds = (System.nanoTime() - start) / 1e9;
            say(out, String.format(Locale.ROOT, "exact match on %d requests held out of training: dates training never saw, "
                    + "in the %d training templates: greedy %.4f, beam search (width 3) %.4f; the same dates in the template "
                    + "held out of training (\"arrive in ... on the nth of month year\"): greedy %.4f; attention map of the third "
                    + "in %s; %.0f s", test.size(), TEMPLATES.size() - 1, exact, beamExact, unseenTemplate, png, seconds));
            return new Result(exact, beamExact, unseenTemplate, train.size(), test.size(), device, seconds, png);
        }
    }

    /** A request for {@code date} in template {@code template} (with a random city), and its ISO form. */
    static String[] render(LocalDate date, SplittableRandom rnd, int template) {
        Object[] a = {date, CITIES[rnd.nextInt(CITIES.length)]};
        return new String[] {TEMPLATES.get(template).apply(a), date.toString()};
    }

    /** Greedy ({@code beams == 1}) or beam-search translations of the requests, 256 at a time. */
    private static List<Seq2Seq.Translation> decode(Seq2Seq model, List<String[]> requests, int beams) {
        List<int[]> sources = requests.stream().map(p -> sourceIds(p[0])).toList();
        List<Seq2Seq.Translation> out = new ArrayList<>();
        for (int i = 0; i < sources.size(); i += 256) {
            out.addAll(model.beamSearch(sources.subList(i, Math.min(sources.size(), i + 256)), beams, 12, 1.0));
        }
        return out;
    }

    static int[] sourceIds(String s) {
        int[] ids = new int[s.length()];
        for (int i = 0; i < ids.length; i++) {
            int c = SOURCE_CHARS.indexOf(s.charAt(i));
            if (c < 0) {
                throw new IllegalArgumentException("source: expected characters of \"" + SOURCE_CHARS + "\", got '" + s.charAt(i) + "' in \"" + s + "\"");
            }
            ids[i] = c + 1;
        }
        return ids;
    }

    static int[] targetIds(String iso) {
        return iso.chars().map(TARGET_CHARS::indexOf).toArray();
    }

    static String text(int[] tokens) {
        StringBuilder sb = new StringBuilder();
        for (int t : tokens) {
            sb.append(t < TARGET_CHARS.length() ? TARGET_CHARS.charAt(t) : '?');
        }
        return sb.toString();
    }

    private static double exactMatch(List<String[]> test, List<Seq2Seq.Translation> out) {
        int hits = 0;
        for (int i = 0; i < test.size(); i++) {
            hits += test.get(i)[1].equals(text(out.get(i).tokens())) ? 1 : 0;
        }
        return (double) hits / test.size();
    }

    /** The attention weights as a grey-scale grid: a row per output character, a column per source character. */
    static void attentionMap(Path png, String source, String output, float[][] weights) {
        int cell = 22, left = 40, top = 30;
        int width = left + cell * source.length() + 10, height = top + cell * Math.max(1, output.length()) + 10;
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, width, height);
            g.setFont(new Font(Font.MONOSPACED, Font.PLAIN, 14));
            for (int s = 0; s < source.length(); s++) {
                g.setColor(Color.BLACK);
                g.drawString(String.valueOf(source.charAt(s)), left + s * cell + 7, top - 10);
            }
            for (int t = 0; t < weights.length; t++) {
                g.setColor(Color.BLACK);
                g.drawString(String.valueOf(output.charAt(t)), 15, top + t * cell + 16);
                for (int s = 0; s < weights[t].length; s++) {
                    int shade = 255 - Math.round(255 * Math.min(1f, weights[t][s]));
                    g.setColor(new Color(shade, shade, shade));
                    g.fillRect(left + s * cell, top + t * cell, cell - 1, cell - 1);
                }
            }
        } finally {
            g.dispose();
        }
        try {
            Path parent = png.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            ImageIO.write(img, "png", png.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException("writing " + png + ": " + e.getMessage(), e);
        }
    }

    private static LocalDate date(Object[] a) {
        return (LocalDate) a[0];
    }

    private static String month(Object[] a, boolean abbreviated) {
        return date(a).getMonth().getDisplayName(abbreviated ? TextStyle.SHORT : TextStyle.FULL, Locale.ENGLISH)
                .toLowerCase(Locale.ROOT);
    }

    private static int monthNumber(Object[] a) {
        return date(a).getMonthValue();
    }

    private static int day(Object[] a) {
        return date(a).getDayOfMonth();
    }

    private static int year(Object[] a) {
        return date(a).getYear();
    }

    private static String twoDigits(int v) {
        return String.format(Locale.ROOT, "%02d", v);
    }

    private static String ordinal(Object[] a) {
        int d = day(a);
        String suffix = d % 10 == 1 && d != 11 ? "st" : d % 10 == 2 && d != 12 ? "nd" : d % 10 == 3 && d != 13 ? "rd" : "th";
        return d + suffix;
    }

    private static void say(PrintStream out, String line) {
        if (out != null) {
            out.println(line);
        }
    }
}
