package org.rnn4j.demo;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.rnn4j.Device;
import org.rnn4j.model.SequenceModel;
import org.rnn4j.train.Adam;

/**
 * Demo 2: a character-level LSTM language model of the 300 Tang poems.
 *
 * <p>Data: the body of each poem (titles and authors are left out), one line per couplet, each line
 * ending in a newline and each poem followed by a blank line. Every tenth poem is held out for
 * validation, so no validation poem is seen in training. The vocabulary is built from the training
 * poems: characters seen fewer than {@code minCount} times there become {@code <unk>} (id 0).
 *
 * <p>Training: random windows of {@code seqLen + 1} characters from the training text; the model reads
 * the first {@code seqLen} and predicts each next character (cross-entropy at every step), with Adam and
 * clipping by global norm. The validation perplexity, {@code exp(mean cross-entropy)} over every held-out
 * character, is set against the unigram perplexity of the training character frequencies (a model that
 * ignores context).
 */
public final class PoemDemo {

    /** Prefixes used for the samples printed during training. */
    static final String[] SAMPLE_PREFIXES = {"春风", "明月", "白日", "故人", "山中", "秋"};

    /** The demo's settings, with defaults that finish in one to two minutes on a 2-core CPU. */
    public static final class Options extends DemoOptions<Options> {
        int steps = 0;
        int embed = 32;
        int layers = 1;
        int batch = 16;
        int seqLen = 64;
        int minCount = 3;
        double learningRate = 1e-2;
        double clip = 1.0;
        int sampleEvery = 0;
        Path outDir = Path.of("rnn4j-demo-output");
        Path checkpoint;
        boolean charts = true;
        int poemLimit = 0;

        public Options() {
            super(4, 128);
        }

        /** The number of optimizer steps; when above 0 it overrides {@link #epochs}. */
        public Options steps(int v) {
            steps = atLeast("steps", 0, v);
            return this;
        }

        public Options embed(int v) {
            embed = atLeast("embed", 1, v);
            return this;
        }

        public Options layers(int v) {
            layers = atLeast("layers", 1, v);
            return this;
        }

        public Options batch(int v) {
            batch = atLeast("batch", 1, v);
            return this;
        }

        public Options seqLen(int v) {
            seqLen = atLeast("seqLen", 1, v);
            return this;
        }

        public Options minCount(int v) {
            minCount = atLeast("minCount", 0, v);
            return this;
        }

        public Options learningRate(double v) {
            learningRate = positive("learningRate", v);
            return this;
        }

        /** Print a sample line every this many steps; 0 picks about six over the run. */
        public Options sampleEvery(int v) {
            sampleEvery = atLeast("sampleEvery", 0, v);
            return this;
        }

        public Options outDir(Path v) {
            outDir = v;
            return this;
        }

        /** Where to write the checkpoint; {@code null} means {@code outDir/tang-lstm.safetensors}. */
        public Options checkpoint(Path v) {
            checkpoint = v;
            return this;
        }

        public Options charts(boolean v) {
            charts = v;
            return this;
        }

        /** Use only the first {@code n} poems (0: all), for quick runs. */
        public Options poemLimit(int v) {
            poemLimit = atLeast("poemLimit", 0, v);
            return this;
        }
    }

    /** What the run measured, and where it wrote. */
    public record Result(double validationPerplexity, double unigramPerplexity, double finalTrainLoss,
                         int vocabSize, int trainChars, int validationPoems, int steps, double sequencesPerSecond,
                         List<String> samples, Device device, double seconds, Path checkpoint, Path lossPng) {
    }

    private PoemDemo() {
    }

    /** Runs the demo; {@code out} receives the report, or nothing when {@code null}. */
    public static Result run(Options o, PrintStream out) {
        long start = System.nanoTime();
        Device device = o.resolvedDevice();
        List<Datasets.Poem> poems = Datasets.tangPoems();
        if (o.poemLimit > 0 && o.poemLimit < poems.size()) {
            poems = poems.subList(0, o.poemLimit);
        }
        StringBuilder trainText = new StringBuilder();
        List<String> valPoemTexts = new ArrayList<>();
        for (int i = 0; i < poems.size(); i++) {
            if (i % 10 == 9) {
                valPoemTexts.add("\n" + poems.get(i).text() + "\n");
            } else {
                trainText.append(poems.get(i).text()).append('\n');
            }
        }
        int trainPoems = poems.size() - valPoemTexts.size();
        CharVocab vocab = CharVocab.build(trainText.toString(), o.minCount);
        int[] train = vocab.encode(trainText.toString());
        List<int[]> valPoems = valPoemTexts.stream().map(vocab::encode).toList();
        int[] val = vocab.encode(String.join("", valPoemTexts));
        int v = vocab.size();
        int tokensPerStep = o.batch * o.seqLen;
        int stepsPerEpoch = Math.max(1, (train.length + tokensPerStep - 1) / tokensPerStep);
        int steps = o.steps > 0 ? o.steps : o.epochs * stepsPerEpoch;
        int sampleEvery = o.sampleEvery > 0 ? o.sampleEvery : Math.max(1, steps / 6);
        Path checkpoint = o.checkpoint != null ? o.checkpoint : o.outDir.resolve("tang-lstm.safetensors");

        say(out, "");
        say(out, "== Tang poems: a character-level LSTM language model ==");
        say(out, "device: " + device + " (" + device.selectionNote() + ")");
        say(out, String.format(Locale.ROOT,
                "data: %d poems (titles and authors left out); %d for training (%d characters), every 10th poem "
                        + "held out for validation: %d (%d characters)",
                poems.size(), trainPoems, train.length, valPoems.size(), val.length - 2 * valPoems.size()));
        long unkVal = java.util.Arrays.stream(val).filter(id -> id == 0).count();
        say(out, String.format(Locale.ROOT,
                "vocabulary: %d ids = <unk> + the %d characters seen at least %d times in training "
                        + "(%.1f%% of validation characters are <unk>)",
                v, v - 1, o.minCount, 100.0 * unkVal / Math.max(1, val.length)));
        say(out, String.format(Locale.ROOT,
                "model: Embedding(%d, %d) -> LSTM(%d -> %d%s) -> Linear(%d -> %d), cross-entropy at every step",
                v, o.embed, o.embed, o.hidden, o.layers > 1 ? ", " + o.layers + " layers" : "", o.hidden, v));
        say(out, String.format(Locale.ROOT,
                "training: %d steps (%s) of %d windows x %d characters, Adam lr %.0e, clip %.1f, seed %d",
                steps, o.steps > 0 ? "--steps" : o.epochs + " epochs of " + stepsPerEpoch + " steps", o.batch,
                o.seqLen, o.learningRate, o.clip, o.seed));

        double unigramPpl = unigramPerplexity(train, valPoems, v);
        List<String> samples = new ArrayList<>();
        List<double[]> trainCurve = new ArrayList<>();
        List<double[]> valCurve = new ArrayList<>();
        SplittableRandom rnd = new SplittableRandom(o.seed);
        double lastLoss = Double.NaN;
        double smoothed = Double.NaN;
        double seqPerSec;
        try (PoemModel model = new PoemModel(vocab, o.embed, o.hidden, o.layers, 0.0, o.seed, device)) {
            List<SequenceModel> modules = List.of(model.model());
            try (Adam adam = new Adam(modules, o.learningRate);
                 Progress bar = new Progress(out, "poems", steps)) {
                adam.setGlobalClipNorm(o.clip);
                for (int step = 1; step <= steps; step++) {
                    // B random windows of seqLen + 1 characters: each predicts its characters 2.. from 1..
                    List<int[]> windows = new ArrayList<>(o.batch);
                    for (int b = 0; b < o.batch; b++) {
                        int off = rnd.nextInt(train.length - o.seqLen);
                        windows.add(java.util.Arrays.copyOfRange(train, off, off + o.seqLen + 1));
                    }
                    // a linear decay to 10% of the rate over the second half
                    double frac = (double) (step - 1) / steps;
                    adam.setLearningRate(o.learningRate * (frac < 0.5 ? 1.0 : 1.0 - 1.8 * (frac - 0.5)));
                    adam.zeroGrad();
                    lastLoss = model.trainStep(windows, step);
                    adam.step();   // clips by global norm first, on the device (setGlobalClipNorm above)
                    smoothed = Double.isNaN(smoothed) ? lastLoss : 0.9 * smoothed + 0.1 * lastLoss;
                    trainCurve.add(new double[] {step, lastLoss});
                    bar.step(o.batch, smoothed);
                    if (step % sampleEvery == 0 || step == steps) {
                        double valLoss = model.validationLoss(valPoems);
                        valCurve.add(new double[] {step, valLoss});
                        String prefix = SAMPLE_PREFIXES[samples.size() % SAMPLE_PREFIXES.length];
                        String line = model.generate(prefix, 32, 0.8, o.seed + step, '\n').strip();
                        samples.add(line);
                        bar.println(out, String.format(Locale.ROOT, "step %5d | train loss %.3f | val ppl %7.1f | %s",
                                step, smoothed, Math.exp(valLoss), line));
                    }
                }
                seqPerSec = bar.sequencesPerSecond();
            }
            double valLoss = valCurve.get(valCurve.size() - 1)[1];
            double valPpl = Math.exp(valLoss);
            try {
                model.save(checkpoint);
            } catch (IOException e) {
                throw new UncheckedIOException("writing the checkpoint " + checkpoint, e);
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            say(out, "");
            say(out, String.format(Locale.ROOT, "validation perplexity %.1f vs unigram perplexity %.1f "
                            + "(training character frequencies): %.2fx, %s",
                    valPpl, unigramPpl, valPpl / unigramPpl,
                    valPpl < 0.75 * unigramPpl ? "clearly below" : valPpl < unigramPpl ? "below" : "NOT below"));
            say(out, String.format(Locale.ROOT, "throughput: %.0f sequences/s (%.0f characters/s) on %s",
                    seqPerSec, seqPerSec * o.seqLen, device));
            say(out, "samples at temperature 0.8:");
            for (int i = 0; i < 4; i++) {
                say(out, "  " + model.generate(SAMPLE_PREFIXES[i], 48, 0.8, o.seed + 1000 + i, (char) 0)
                        .replace("\n", " / ").strip());
            }
            say(out, "wrote " + checkpoint.toAbsolutePath().normalize()
                    + "  (continue a prefix: rnn4j generate --checkpoint " + checkpoint + " --prefix 床前)");
            Path lossPng = null;
            if (o.charts) {
                lossPng = o.outDir.resolve("poems-loss.png");
                Charts.lines(lossPng, String.format(Locale.ROOT,
                                "Tang poems char-LSTM: validation perplexity %.0f (unigram %.0f)", valPpl, unigramPpl),
                        "step", "cross-entropy (nats per character)",
                        List.of(curve("training loss (per batch)", trainCurve, false),
                                curve("validation loss", valCurve, false),
                                flat("unigram baseline", Math.log(unigramPpl), steps)), false);
                say(out, "wrote " + lossPng.toAbsolutePath().normalize());
            }
            say(out, String.format(Locale.ROOT, "poem demo took %.1f s on %s", seconds, device));
            return new Result(valPpl, unigramPpl, lastLoss, v, train.length, valPoems.size(), steps, seqPerSec,
                    List.copyOf(samples), device, seconds, checkpoint, lossPng);
        }
    }

    /**
     * The perplexity on the validation characters (the same ones the model predicts: all but the
     * leading newline of each poem) of the unigram distribution of the training characters, add-one smoothed.
     */
    static double unigramPerplexity(int[] train, List<int[]> valPoems, int vocabSize) {
        Map<Integer, Integer> counts = new HashMap<>();
        for (int id : train) {
            counts.merge(id, 1, Integer::sum);
        }
        double total = train.length + vocabSize;
        double nll = 0;
        long n = 0;
        for (int[] seq : valPoems) {
            for (int i = 1; i < seq.length; i++) {
                nll -= Math.log((counts.getOrDefault(seq[i], 0) + 1) / total);
                n++;
            }
        }
        return Math.exp(nll / n);
    }

    private static Charts.Curve curve(String name, List<double[]> points, boolean dashed) {
        double[] x = new double[points.size()];
        double[] y = new double[points.size()];
        for (int i = 0; i < x.length; i++) {
            x[i] = points.get(i)[0];
            y[i] = points.get(i)[1];
        }
        return new Charts.Curve(name, x, y, dashed);
    }

    private static Charts.Curve flat(String name, double value, int steps) {
        return new Charts.Curve(name, new double[] {1, steps}, new double[] {value, value}, true);
    }

    private static void say(PrintStream out, String line) {
        AirlineDemo.say(out, line);
    }
}
