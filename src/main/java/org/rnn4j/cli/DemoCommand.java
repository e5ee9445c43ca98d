package org.rnn4j.cli;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.rnn4j.Device;
import org.rnn4j.demo.AirlineDemo;
import org.rnn4j.demo.PoemDemo;
import org.rnn4j.demo.DatesDemo;
import org.rnn4j.demo.SlotsDemo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code demo}: trains small models on bundled or generated data (no downloads). Without a subcommand it runs
 * {@code airline}, {@code poems} and {@code slots} with their defaults; {@code dates} runs on its own.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        subcommands = {DemoCommand.Airline.class, DemoCommand.Poems.class, DemoCommand.Slots.class, DemoCommand.Dates.class},
        description = {
            "Train three small LSTMs (no downloads) and report how they did.",
            "Without a subcommand: 'airline', 'poems', then 'slots', with their defaults (a few minutes on a 2-core CPU, "
                    + "seconds on a GPU).",
            "",
            "  airline  forecast 44 months of airline passengers (1949-1960) after training on the first 100; "
                    + "RMSE vs a seasonal-naive baseline; PNG plot of the forecast and of the loss",
            "  poems    character-level language model of the 300 Tang poems; samples while training, validation "
                    + "vs unigram perplexity, a checkpoint for 'rnn4j generate', PNG loss curve",
            "  slots    tag the slots of travel requests ('leave guangzhou on march 14th' vs 'arrive in ...') with a "
                    + "bidirectional LSTM, on sentences generated from templates; per-slot F1 on held-out sentences",
            "  dates    (run on its own) a seq2seq LSTM with attention that normalises dates in generated travel "
                    + "requests to yyyy-mm-dd; exact match on held-out dates and on a held-out template, PNG attention map",
            "",
            "Each shows a progress bar (step, loss, sequences/s), say which device ran and why, and write "
                    + "their files to --out."},
        footer = {"", "Examples:", "  rnn4j demo", "  rnn4j demo airline --epochs 200 --hidden 32 --seed 7",
            "  rnn4j demo poems --device cpu --steps 400 --out /tmp/poems",
            "  rnn4j generate --checkpoint rnn4j-demo-output/tang-lstm.safetensors --prefix 床前"})
final class DemoCommand implements Callable<Integer> {

    /** Options shared by every demo. */
    static final class Common {
        @Option(names = "--device", defaultValue = "best", paramLabel = "DEVICE",
                description = "cpu, cuda, cuda:N, or best (the GPU when CUDA is usable, otherwise the CPU; "
                        + "the choice and its reason are printed). Default: ${DEFAULT-VALUE}.")
        String device;

        @Option(names = "--seed", defaultValue = "42", paramLabel = "S",
                description = "Seed of the initial weights, the batches and the samples. Default: ${DEFAULT-VALUE}.")
        long seed;

        @Option(names = "--out", defaultValue = "rnn4j-demo-output", paramLabel = "DIR",
                description = "Directory for the demo's files (PNG charts; the poems demo's checkpoint). Default: ${DEFAULT-VALUE}.")
        Path out;

        Device resolveDevice() {
            return Device.parse(device);
        }
    }

    @Mixin
    Common common;

    @Override
    public Integer call() {
        System.setProperty("java.awt.headless", "true");
        long start = System.nanoTime();
        Device device = common.resolveDevice();
        PrintStream out = stdout();
        AirlineDemo.Result a = AirlineDemo.run(new AirlineDemo.Options().device(device).seed(common.seed)
                .outDir(common.out), out);
        PoemDemo.Result p = PoemDemo.run(new PoemDemo.Options().device(device).seed(common.seed)
                .outDir(common.out), out);
        out.println();
        SlotsDemo.Result sl = SlotsDemo.run(new SlotsDemo.Options().device(device).seed(common.seed), out);
        out.println();
        out.println("== Summary ==");
        out.printf(Locale.ROOT, "airline: 44-month forecast RMSE %.1f vs seasonal naive %.1f -> %s%n",
                a.testRmse(), a.testBaselineRmse(), a.beatsBaseline() ? "beats the baseline" : "does not beat it");
        out.printf(Locale.ROOT, "poems:   validation perplexity %.1f vs unigram %.1f (%.2fx)%n",
                p.validationPerplexity(), p.unigramPerplexity(), p.validationPerplexity() / p.unigramPerplexity());
        out.printf(Locale.ROOT, "slots:   held-out span F1 %.3f (from_city %.3f, to_city %.3f, depart_date %.3f, "
                        + "arrive_date %.3f)%n", sl.f1().get("all"), sl.f1().get("from_city"), sl.f1().get("to_city"),
                sl.f1().get("depart_date"), sl.f1().get("arrive_date"));
        out.printf(Locale.ROOT, "total %.1f s on %s (%s)%n", (System.nanoTime() - start) / 1e9, device,
                device.selectionNote());
        return 0;
    }

    @Command(name = "airline", mixinStandardHelpOptions = true,
            description = {"Airline passengers 1949-1960: train an LSTM on the first 100 months (sliding windows of "
                    + "the monthly change of log passengers), forecast the last 44 months autoregressively "
                    + "(each prediction fed back as input), and compare RMSE with the seasonal-naive baseline. "
                    + "Writes airline-forecast.png and airline-loss.png to --out."})
    static final class Airline implements Callable<Integer> {
        @Mixin
        Common common;

        @Option(names = "--epochs", defaultValue = "100", paramLabel = "N",
                description = "Passes over the training windows. Default: ${DEFAULT-VALUE}.")
        int epochs;

        @Option(names = "--hidden", defaultValue = "16", paramLabel = "H",
                description = "LSTM hidden size. Default: ${DEFAULT-VALUE}.")
        int hidden;

        @Option(names = "--window", defaultValue = "12", paramLabel = "W",
                description = "Months the LSTM reads before each prediction. Default: ${DEFAULT-VALUE}.")
        int window;

        @Option(names = "--lr", defaultValue = "5e-3", paramLabel = "LR",
                description = "Adam learning rate. Default: ${DEFAULT-VALUE}.")
        double lr;

        @Override
        public Integer call() {
            System.setProperty("java.awt.headless", "true");
            AirlineDemo.run(new AirlineDemo.Options().device(common.resolveDevice())
                    .seed(common.seed).outDir(common.out).epochs(epochs).hidden(hidden).window(window)
                    .learningRate(lr), stdout());
            return 0;
        }
    }

    @Command(name = "poems", mixinStandardHelpOptions = true,
            description = {"Tang poems: a character-level LSTM language model (embedding, LSTM, linear head) trained "
                    + "on 9 of every 10 poems; prints sample lines while training, the validation perplexity against "
                    + "the unigram perplexity, and writes the checkpoint (for 'rnn4j generate') and poems-loss.png."})
    static final class Poems implements Callable<Integer> {
        @Mixin
        Common common;

        @Option(names = "--epochs", defaultValue = "4", paramLabel = "N",
                description = "Passes over the training characters (in random windows). Default: ${DEFAULT-VALUE}.")
        int epochs;

        @Option(names = "--steps", defaultValue = "0", paramLabel = "N",
                description = "Optimizer steps; overrides --epochs when above 0.")
        int steps;

        @Option(names = "--hidden", defaultValue = "128", paramLabel = "H",
                description = "LSTM hidden size. Default: ${DEFAULT-VALUE}.")
        int hidden;

        @Option(names = "--embedding", defaultValue = "32", paramLabel = "E",
                description = "Character embedding size. Default: ${DEFAULT-VALUE}.")
        int embed;

        @Option(names = "--layers", defaultValue = "1", paramLabel = "L",
                description = "Stacked LSTM layers. Default: ${DEFAULT-VALUE}.")
        int layers;

        @Option(names = "--batch", defaultValue = "16", paramLabel = "B",
                description = "Windows per step. Default: ${DEFAULT-VALUE}.")
        int batch;

        @Option(names = "--seq-len", defaultValue = "64", paramLabel = "T",
                description = "Characters per window (truncated BPTT length). Default: ${DEFAULT-VALUE}.")
        int seqLen;

        @Option(names = "--lr", defaultValue = "1e-2", paramLabel = "LR",
                description = "Adam learning rate (decays linearly to 10% over the second half). Default: ${DEFAULT-VALUE}.")
        double lr;

        @Option(names = "--min-count", defaultValue = "3", paramLabel = "N",
                description = "Characters seen fewer times in training become <unk>. Default: ${DEFAULT-VALUE}.")
        int minCount;

        @Option(names = "--checkpoint", paramLabel = "PATH",
                description = "Where to save the model. Default: DIR/tang-lstm.safetensors under --out.")
        Path checkpoint;

        @Override
        public Integer call() {
            System.setProperty("java.awt.headless", "true");
            PoemDemo.run(new PoemDemo.Options().device(common.resolveDevice()).seed(common.seed)
                    .outDir(common.out).epochs(epochs).steps(steps).hidden(hidden).embed(embed).layers(layers)
                    .batch(batch).seqLen(seqLen).learningRate(lr).minCount(minCount).checkpoint(checkpoint),
                    stdout());
            return 0;
        }
    }

    @Command(name = "slots", mixinStandardHelpOptions = true,
            description = {"Slot tagging of travel requests: a bidirectional LSTM tags each word of sentences such as "
                    + "'leave guangzhou on march 14th' or 'arrive in guangzhou on march 14th' with BIO tags for "
                    + "from_city, to_city, depart_date and arrive_date. The sentences are generated in code from "
                    + "templates; the held-out test sentences may name cities never seen in training. Reports span F1 "
                    + "per slot."})
    static final class Slots implements Callable<Integer> {
        @Mixin
        Common common;

        @Option(names = "--sentences", defaultValue = "3000", paramLabel = "N",
                description = "Sentences to generate (a fifth held out for the test). Default: ${DEFAULT-VALUE}.")
        int sentences;

        @Option(names = "--epochs", defaultValue = "6", paramLabel = "N",
                description = "Passes over the training sentences (early stopping after 2 without improvement). "
                        + "Default: ${DEFAULT-VALUE}.")
        int epochs;

        @Option(names = "--hidden", defaultValue = "48", paramLabel = "H",
                description = "LSTM hidden size per direction. Default: ${DEFAULT-VALUE}.")
        int hidden;

        @Override
        public Integer call() {
            SlotsDemo.run(new SlotsDemo.Options().device(common.resolveDevice()).seed(common.seed)
                    .sentences(sentences).epochs(epochs).hidden(hidden), stdout());
            return 0;
        }
    }

    @Command(name = "dates", mixinStandardHelpOptions = true,
            description = {"Date normalisation with an encoder-decoder and attention: requests such as 'leave guangzhou on "
                    + "sep 26th 1986' or '26.09.1986' become '1986-09-26', character by character. The requests are "
                    + "generated in code from templates; the test dates are never seen in training. Reports exact match "
                    + "(greedy and beam search) and draws one attention map to dates-attention.png."})
    static final class Dates implements Callable<Integer> {
        @Mixin
        Common common;

        @Option(names = "--epochs", defaultValue = "16", paramLabel = "N",
                description = "At most this many epochs (early stopping on the validation exact match may end sooner). "
                        + "Default: ${DEFAULT-VALUE}.")
        int epochs;

        @Option(names = "--hidden", defaultValue = "64", paramLabel = "H",
                description = "LSTM hidden size (per direction in the encoder). Default: ${DEFAULT-VALUE}.")
        int hidden;

        @Override
        public Integer call() {
            DatesDemo.run(new DatesDemo.Options().device(common.resolveDevice()).seed(common.seed).epochs(epochs)
                    .hidden(hidden).outDir(common.out), stdout());
            return 0;
        }
    }

    /** Standard output as UTF-8, whatever the platform's console encoding (the poems are Chinese). */
    static PrintStream stdout() {
        return new PrintStream(System.out, true, StandardCharsets.UTF_8);
    }
}
