package org.rnn4j.demo;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
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

    /** Runs the demo; see {@code rnn4j spark --help} for the parameters. */
    public static void run(String master, int partitions, int steps, int batch, int seqLen, int hidden,
                           int averageEvery, String executorDevice, long seed, PrintWriter out) {
        StringBuilder text = new StringBuilder();
        Datasets.tangPoems().forEach(p -> text.append(p.text()).append('\n'));
        CharVocab vocab = CharVocab.build(text.toString(), 3);
        int[] ids = vocab.encode(text.toString());
        List<Sequence> windows = new ArrayList<>();
        for (int at = 0; at + seqLen + 1 <= ids.length; at += seqLen) {
            windows.add(Sequence.languageModel(Arrays.copyOfRange(ids, at, at + seqLen + 1)));
        }
        SparkConf conf = new SparkConf().setAppName("rnn4j-spark-demo").setIfMissing("spark.master", master)
                .setIfMissing("spark.ui.enabled", "false");
        if (conf.get("spark.master").startsWith("local")) {
            conf.setIfMissing("spark.driver.host", "127.0.0.1").setIfMissing("spark.driver.bindAddress", "127.0.0.1");
        }
        try (JavaSparkContext sc = new JavaSparkContext(conf);
             SequenceModel model = SequenceModel.builder(Task.LANGUAGE_MODEL).embedding(vocab.size(), 32)
                     .recurrent(Lstm.builder(32, hidden).seed(seed)).seed(seed).build(Device.cpu())) {
            sc.setLogLevel("WARN");
            int parts = partitions > 0 ? partitions : sc.defaultParallelism();
            TrainOptions options = new TrainOptions().batchSize(batch).steps(steps).adam(3e-3).clipNorm(1).seed(seed)
                    .executorDevice(executorDevice);
            if (averageEvery > 0) {
                options.averaging(averageEvery);
            }
            out.printf(Locale.ROOT, "%d windows of %d characters, vocabulary %d, LSTM %d; master %s, %d partitions, "
                            + "global batch %d, %s%n", windows.size(), seqLen, vocab.size(), hidden, sc.master(), parts, batch,
                    averageEvery > 0 ? "parameter averaging every " + averageEvery + " steps" : "synchronous gradients");
            out.flush();
            SparkTrainer.Result r = SequenceModelTrainer.fit(sc, model, sc.parallelize(windows, parts).cache(), options);
            int skip = Math.min(5, r.losses().length / 4);
            SparkTrainer.Result timed = new SparkTrainer.Result(r.firstStep() + skip,
                    Arrays.copyOfRange(r.losses(), skip, r.losses().length),
                    Arrays.copyOfRange(r.stepNanos(), skip, r.stepNanos().length),
                    Arrays.copyOfRange(r.computeNanos(), skip, r.computeNanos().length),
                    (long) (r.losses().length - skip) * batch, r.partitions());
            out.printf(Locale.ROOT, "loss %.3f -> %.3f nats/char over %d steps%n", r.losses()[0],
                    r.losses()[r.losses().length - 1], r.losses().length);
            out.printf(Locale.ROOT, "after %d warm-up steps: %.2f steps/s, %.1f sequences/s, %.0f%% of a step outside "
                            + "the slowest task's gradient computation%n", skip, timed.stepsPerSecond(), timed.examplesPerSecond(),
                    100 * timed.communicationFraction());
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
