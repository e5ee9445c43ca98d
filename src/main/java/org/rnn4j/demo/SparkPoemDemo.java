package org.rnn4j.demo;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.rnn4j.Device;
import org.rnn4j.Lstm;
import org.rnn4j.model.SequenceModel;
import org.rnn4j.model.Task;
import org.rnn4j.spark.Sequence;
import org.rnn4j.spark.SequenceModelTrainer;
import org.rnn4j.spark.SparkTrainer;
import org.rnn4j.spark.TrainOptions;

/**
 * The {@code rnn4j spark} command: a character-level LSTM language model of the Tang poems (embedding 32)
 * trained with {@link SequenceModelTrainer} on non-overlapping windows of the training text, reporting
 * the loss and the throughput. The first steps (JIT, replica builds) are left out of the rates.
 */
public final class SparkPoemDemo {
    private SparkPoemDemo() {
    }

    /**
     * What {@code rnn4j spark} was asked for; see {@code rnn4j spark --help}. {@code master} is the
     * {@code --master} option (null: none), {@code checkpoints} and {@code lossLog} may be null.
     */
    public record Settings(String master, String defaultMaster, int partitions, int steps, int batch, int seqLen,
                           int hidden, int averageEvery, String executorDevice, long seed, Path checkpoints,
                           int checkpointEvery, boolean resume, Path lossLog) {
    }

    /** Runs the demo as {@code s} says, printing to {@code out}. */
    public static void run(Settings s, PrintWriter out) throws IOException {
        StringBuilder text = new StringBuilder();
        Datasets.tangPoems().forEach(p -> text.append(p.text()).append('\n'));
        CharVocab vocab = CharVocab.build(text.toString(), 3);
        int[] ids = vocab.encode(text.toString());
        List<Sequence> windows = new ArrayList<>();
        for (int at = 0; at + s.seqLen() + 1 <= ids.length; at += s.seqLen()) {
            windows.add(Sequence.languageModel(Arrays.copyOfRange(ids, at, at + s.seqLen() + 1)));
        }
        SparkConf conf = new SparkConf().setAppName("rnn4j-spark-demo").setIfMissing("spark.ui.enabled", "false");
        String master = master(conf, s);
        conf.setMaster(master);
        if (master.startsWith("local")) {
            conf.setIfMissing("spark.driver.host", "127.0.0.1").setIfMissing("spark.driver.bindAddress", "127.0.0.1");
        }
        TrainOptions options = new TrainOptions().batchSize(s.batch()).steps(s.steps()).adam(3e-3).clipNorm(1)
                .seed(s.seed()).executorDevice(s.executorDevice());
        if (s.averageEvery() > 0) {
            options.averaging(s.averageEvery());
        }
        if (s.checkpoints() != null) {
            options.checkpoints(s.checkpoints(), s.checkpointEvery());
        }
        if (s.resume()) {
            Path latest = SparkTrainer.latestCheckpoint(s.checkpoints());
            out.println(latest == null ? "no checkpoint in " + s.checkpoints() + " yet: starting at step 0"
                    : "resuming from " + latest);
            options.resumeFrom(latest);
        }
        try (JavaSparkContext sc = new JavaSparkContext(conf);
             SequenceModel model = SequenceModel.builder(Task.LANGUAGE_MODEL).embedding(vocab.size(), 32)
                     .recurrent(Lstm.builder(32, s.hidden()).seed(s.seed())).seed(s.seed()).build(Device.cpu())) {
            sc.setLogLevel("WARN");
            int parts = s.partitions() > 0 ? s.partitions() : sc.defaultParallelism();
            out.printf(Locale.ROOT, "%d windows of %d characters, vocabulary %d, LSTM %d; master %s, %d partitions, "
                            + "global batch %d, %s%n", windows.size(), s.seqLen(), vocab.size(), s.hidden(), sc.master(),
                    parts, s.batch(), s.averageEvery() > 0 ? "parameter averaging every " + s.averageEvery() + " steps"
                            : "synchronous gradients");
            out.flush();
            SparkTrainer.Result r = SequenceModelTrainer.fit(sc, model, sc.parallelize(windows, parts).cache(), options);
            if (s.lossLog() != null) {
                writeLossLog(s.lossLog(), r, s.averageEvery() > 0);
            }
            if (r.losses().length == 0) {
                out.printf(Locale.ROOT, "nothing to train: the checkpoint is at step %d, --steps is %d%n", r.firstStep(),
                        s.steps());
                out.flush();
                return;
            }
            int skip = Math.min(5, r.losses().length / 4);
            SparkTrainer.Result timed = new SparkTrainer.Result(r.firstStep() + skip,
                    Arrays.copyOfRange(r.losses(), skip, r.losses().length),
                    Arrays.copyOfRange(r.stepNanos(), skip, r.stepNanos().length),
                    Arrays.copyOfRange(r.computeNanos(), skip, r.computeNanos().length),
                    (long) (r.losses().length - skip) * s.batch(), r.partitions());
            out.printf(Locale.ROOT, "loss %.3f -> %.3f nats/char over %d steps%n", r.losses()[0],
                    r.losses()[r.losses().length - 1], r.losses().length);
            out.printf(Locale.ROOT, "after %d warm-up steps: %.2f steps/s, %.1f sequences/s, %.0f%% of a step outside "
                            + "the slowest task's gradient computation%n", skip, timed.stepsPerSecond(), timed.examplesPerSecond(),
                    100 * timed.communicationFraction());
            out.flush();
        }
    }

    /**
     * The master: spark-submit's ({@code spark.master}, which {@code conf} read from the system properties), else
     * {@code --master}, else the default; a {@code --master} that contradicts spark-submit's is refused rather
     * than one of them silently ignored.
     */
    static String master(SparkConf conf, Settings s) {
        if (conf.contains("spark.master")) {
            String submitted = conf.get("spark.master");
            if (s.master() != null && !s.master().equals(submitted)) {
                throw new IllegalArgumentException("--master: expected none or spark-submit's master " + submitted
                        + ", got " + s.master());
            }
            return submitted;
        }
        return s.master() != null ? s.master() : s.defaultMaster();
    }

    /** {@code step,loss} per step (per round of {@code k} local steps with averaging), losses in full precision. */
    private static void writeLossLog(Path file, SparkTrainer.Result r, boolean averaging) throws IOException {
        List<String> lines = new ArrayList<>();
        lines.add(averaging ? "round,loss" : "step,loss");
        for (int i = 0; i < r.losses().length; i++) {
            lines.add((averaging ? i + 1 : r.firstStep() + i + 1) + "," + r.losses()[i]);
        }
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.write(file, lines);
    }
}
