package org.rnn4j.demo;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.rnn4j.Device;
import org.rnn4j.Lstm;
import org.rnn4j.model.FitOptions;
import org.rnn4j.model.History;
import org.rnn4j.model.SequenceDataset;
import org.rnn4j.model.SequenceModel;
import org.rnn4j.model.Task;

/**
 * Demo 3: slot tagging of travel requests. Whether "GuangZhou" in "leave GuangZhou on March 14th" is
 * where the trip starts or, in "arrive in GuangZhou on March 14th", where it ends, and whether the date
 * is a departure or an arrival, depends on words around it, on either side: a bidirectional LSTM tags
 * each word with BIO slot tags ({@code B-from_city}, {@code I-to_city}, {@code B-depart_date}, ...).
 *
 * <p>The data set is <b>generated in code from templates</b> (twenty sentence patterns, cities and
 * date phrases, seeded), not collected from users. The test sentences are new draws from the same
 * templates, held out harder than a random split: they may use {@value #TEST_CITIES} cities that
 * training never sees, which reach the model as {@code <unk>} (in training 5% of the words are replaced
 * by {@code <unk>} so that it learns to tag from context). Scored with span-level F1 per slot (a slot
 * counts when its type and its exact words match, as CoNLL's {@code conlleval}).
 */
public final class SlotsDemo {

    static final String[] SLOTS = {"from_city", "to_city", "depart_date", "arrive_date"};
    private static final String[] CITIES = {"guangzhou", "beijing", "shanghai", "shenzhen", "chengdu", "hong kong",
        "new york", "san francisco", "los angeles", "london", "paris", "tokyo", "kuala lumpur", "singapore",
        "berlin", "rio de janeiro", "cape town", "sydney", "toronto", "mexico city", "seoul", "boston", "xi'an"};
    private static final String[] MONTHS = {"january", "february", "march", "april", "may", "june", "july",
        "august", "september", "october", "november", "december"};
    private static final String[] DAYS = {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"};
    /** {F} from city, {T} to city, {D} departure date, {A} arrival date. */
    private static final String[] TEMPLATES = {
        "leave {F} on {D}", "arrive in {T} on {A}", "arrive {T} {A}", "leave {F} {D}",
        "i want to fly from {F} to {T} on {D}", "book a flight from {F} to {T} leaving {D}",
        "flights to {T} arriving {A}", "i need to be in {T} by {A}", "depart {F} on {D} and arrive in {T} on {A}",
        "show me flights from {F} departing {D}", "from {F} to {T}", "to {T} from {F} on {D}",
        "what flights leave {F} on {D} for {T}", "i would like to get to {T} on {A} from {F}",
        "a one way ticket from {F} to {T} on {D}", "leaving {D} from {F} arriving in {T} {A}",
        "please find a flight to {T} that lands {A}", "going from {F} to {T} {D}",
        "fly out of {F} {D}", "land in {T} on {A}"};

    /** The last cities appear in test sentences only. */
    static final int TEST_CITIES = 5;

    private SlotsDemo() {
    }

    /** The demo's settings. */
    public static final class Options extends DemoOptions<Options> {
        int sentences = 3000;

        public Options() {
            super(6, 48);
        }

        /** At least 5: a fifth is held out for the test. */
        public Options sentences(int v) {
            sentences = atLeast("sentences", 5, v);
            return this;
        }
    }

    /**
     * What the run measured on the held-out sentences.
     *
     * @param f1 span F1 per slot type, in {@link #SLOTS} order, then the micro average under "all"
     * @param tokenAccuracy the share of words tagged right (including O)
     */
    public record Result(Map<String, Double> f1, double tokenAccuracy, int trainSentences, int testSentences,
                         Device device, double seconds) {
    }

    /** One generated sentence: its words and their BIO tags. */
    record Sentence(List<String> words, List<String> tags) {
    }

    /** Runs the demo; {@code out} receives the report, or nothing when {@code null}. */
    public static Result run(Options o, PrintStream out) {
        long start = System.nanoTime();
        Device device = o.resolvedDevice();
        List<String> tagNames = new ArrayList<>(List.of("O"));
        for (String s : SLOTS) {
            tagNames.add("B-" + s);
            tagNames.add("I-" + s);
        }
        SplittableRandom rnd = new SplittableRandom(o.seed);
        int testCount = o.sentences / 5;
        List<Sentence> train = new ArrayList<>();
        List<Sentence> test = new ArrayList<>();
        for (int i = 0; i < o.sentences; i++) {
            if (i < testCount) {
                test.add(generate(rnd, CITIES.length));
            } else {
                train.add(generate(rnd, CITIES.length - TEST_CITIES));
            }
        }
        Map<String, Integer> vocab = new LinkedHashMap<>();
        vocab.put("<pad>", 0);
        vocab.put("<unk>", 1);
        for (Sentence s : train) {
            for (String w : s.words()) {
                vocab.putIfAbsent(w, vocab.size());
            }
        }
        Map<String, Integer> tagIds = new HashMap<>();
        for (int i = 0; i < tagNames.size(); i++) {
            tagIds.put(tagNames.get(i), i);
        }
        say(out, "== Slot tagging of travel requests: bidirectional LSTM, per-word BIO tags ==");
        say(out, "device: " + device + " (" + device.selectionNote() + ")");
        say(out, String.format(Locale.ROOT, "data: %d sentences generated in code from %d templates (not real user "
                        + "requests), %d for training, %d held out for the test; vocabulary %d words",
                o.sentences, TEMPLATES.length, train.size(), test.size(), vocab.size()));
        say(out, "the test sentences may name " + TEST_CITIES + " cities that training never sees (as <unk>)");
        for (Sentence s : train.subList(0, 2)) {
            say(out, "  e.g. " + render(s.words(), s.tags()));
        }
        try (SequenceModel model = SequenceModel.builder(Task.TAGGING).embedding(vocab.size(), 32, 0)
                .recurrent(Lstm.builder(32, o.hidden).bidirectional(true).seed(o.seed))
                .dropout(0.25).outputs(tagNames.size()).seed(o.seed + 1).build(device)) {
            say(out, model.summary().stripTrailing());
            SequenceDataset trainSet = dataset(train, vocab, tagIds, 0.05, new SplittableRandom(o.seed + 2));
            SequenceDataset[] parts = trainSet.split(0.1, o.seed);
            History h = model.fit(parts[0], parts[1], new FitOptions().epochs(o.epochs).batchSize(32).adam(5e-3)
                    .seed(o.seed).earlyStopping(3, true).progress(out));   // 3 stops where the recorded run's 2 did before patience counted as Keras counts it
            SequenceDataset testSet = dataset(test, vocab, tagIds, 0, null);
            List<int[]> predicted = model.predictClasses(testSet, 128);
            Map<String, Double> f1 = spanF1(test, predicted, tagNames);
            double acc = model.evaluate(testSet, 128).get("accuracy");
            double seconds = (System.nanoTime() - start) / 1e9;
            say(out, "");
            say(out, String.format(Locale.ROOT, "held-out test, %d sentences (best epoch %d of %d):", test.size(),
                    h.bestEpoch(), h.last().epoch()));
            f1.forEach((slot, v) -> say(out, String.format(Locale.ROOT, "  F1 %-12s %.3f", slot, v)));
            say(out, String.format(Locale.ROOT, "  word accuracy  %.3f", acc));
            for (int i = 0; i < 3; i++) {
                List<String> tags = new ArrayList<>();
                for (int t : predicted.get(i)) {
                    tags.add(tagNames.get(t));
                }
                say(out, "  " + render(test.get(i).words(), tags));
            }
            say(out, String.format(Locale.ROOT, "slots demo took %.1f s on %s", seconds, device));
            return new Result(f1, acc, train.size(), test.size(), device, seconds);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** A sentence from a random template with cities among the first {@code cities}. */
    static Sentence generate(SplittableRandom rnd, int cities) {
        String template = TEMPLATES[rnd.nextInt(TEMPLATES.length)];
        String from = CITIES[rnd.nextInt(cities)];
        String to;
        do {
            to = CITIES[rnd.nextInt(cities)];
        } while (to.equals(from));
        List<String> words = new ArrayList<>();
        List<String> tags = new ArrayList<>();
        for (String piece : template.split(" ")) {
            String slot = switch (piece) {
                case "{F}" -> "from_city";
                case "{T}" -> "to_city";
                case "{D}" -> "depart_date";
                case "{A}" -> "arrive_date";
                default -> null;
            };
            if (slot == null) {
                words.add(piece);
                tags.add("O");
                continue;
            }
            String value = slot.endsWith("city") ? (slot.startsWith("from") ? from : to) : date(rnd);
            String[] ws = value.split(" ");
            for (int i = 0; i < ws.length; i++) {
                words.add(ws[i]);
                tags.add((i == 0 ? "B-" : "I-") + slot);
            }
        }
        return new Sentence(words, tags);
    }

    private static String date(SplittableRandom rnd) {
        int day = 1 + rnd.nextInt(28);
        String month = MONTHS[rnd.nextInt(MONTHS.length)];
        return switch (rnd.nextInt(5)) {
            case 0 -> month + " " + ordinal(day);
            case 1 -> "the " + ordinal(day) + " of " + month;
            case 2 -> "next " + DAYS[rnd.nextInt(DAYS.length)];
            case 3 -> rnd.nextBoolean() ? "tomorrow" : "tomorrow morning";
            default -> DAYS[rnd.nextInt(DAYS.length)] + " " + month + " " + ordinal(day);
        };
    }

    private static String ordinal(int d) {
        String suffix = d % 10 == 1 && d != 11 ? "st" : d % 10 == 2 && d != 12 ? "nd" : d % 10 == 3 && d != 13 ? "rd" : "th";
        return d + suffix;
    }

    /** Word and tag ids; unknown words, and a share {@code unk} of the others, become {@code <unk>} (1). */
    private static SequenceDataset dataset(List<Sentence> sentences, Map<String, Integer> vocab,
                                           Map<String, Integer> tagIds, double unk, SplittableRandom rnd) {
        List<int[]> ids = new ArrayList<>();
        List<int[]> tags = new ArrayList<>();
        for (Sentence s : sentences) {
            int[] w = new int[s.words().size()];
            int[] t = new int[w.length];
            for (int i = 0; i < w.length; i++) {
                w[i] = unk > 0 && rnd.nextDouble() < unk ? 1 : vocab.getOrDefault(s.words().get(i), 1);
                t[i] = tagIds.get(s.tags().get(i));
            }
            ids.add(w);
            tags.add(t);
        }
        return SequenceDataset.tagging(ids, tags);
    }

    /** Span F1 per slot type and micro-averaged ("all"): a span counts when its type, start and end match. */
    static Map<String, Double> spanF1(List<Sentence> gold, List<int[]> predicted, List<String> tagNames) {
        Map<String, int[]> counts = new LinkedHashMap<>(); // slot -> {true positives, predicted, gold}
        for (String s : SLOTS) {
            counts.put(s, new int[3]);
        }
        for (int i = 0; i < gold.size(); i++) {
            List<String> p = new ArrayList<>();
            for (int t : predicted.get(i)) {
                p.add(tagNames.get(t));
            }
            List<String> g = spans(gold.get(i).tags());
            List<String> q = spans(p);
            for (String span : q) {
                counts.get(span.substring(0, span.indexOf('@')))[1]++;
                if (g.contains(span)) {
                    counts.get(span.substring(0, span.indexOf('@')))[0]++;
                }
            }
            for (String span : g) {
                counts.get(span.substring(0, span.indexOf('@')))[2]++;
            }
        }
        Map<String, Double> f1 = new LinkedHashMap<>();
        int[] total = new int[3];
        counts.forEach((slot, c) -> {
            f1.put(slot, f1(c));
            for (int k = 0; k < 3; k++) {
                total[k] += c[k];
            }
        });
        f1.put("all", f1(total));
        return f1;
    }

    private static double f1(int[] c) {
        return c[1] + c[2] == 0 ? 1.0 : 2.0 * c[0] / (c[1] + c[2]);
    }

    /** The spans of a BIO sequence as {@code slot@start-end}; an I- without its B- starts a span (as conlleval). */
    static List<String> spans(List<String> tags) {
        List<String> out = new ArrayList<>();
        String slot = null;
        int begin = 0;
        for (int i = 0; i <= tags.size(); i++) {
            String tag = i < tags.size() ? tags.get(i) : "O";
            boolean continues = slot != null && tag.equals("I-" + slot);
            if (!continues && slot != null) {
                out.add(slot + "@" + begin + "-" + i);
                slot = null;
            }
            if (!continues && !tag.equals("O")) {
                slot = tag.substring(2);
                begin = i;
            }
        }
        return out;
    }

    private static String render(List<String> words, List<String> tags) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < words.size(); i++) {
            s.append(words.get(i));
            if (!tags.get(i).equals("O")) {
                s.append('/').append(tags.get(i));
            }
            s.append(' ');
        }
        return s.toString().strip();
    }

    private static void say(PrintStream out, String line) {
        if (out != null) {
            out.println(line);
        }
    }
}
