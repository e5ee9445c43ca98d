package org.rnn4j.cli;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.rnn4j.Device;
import org.rnn4j.demo.PoemModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code generate}: continues a prefix with the poem model saved by {@code demo poems}. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Continue a prefix with a character-level model saved by 'rnn4j demo poems'.",
            "Characters are sampled one at a time from softmax(logits / temperature) (<unk> is never sampled); "
                    + "the same seed gives the same text."},
        footer = {"", "Example:", "  rnn4j generate --checkpoint rnn4j-demo-output/tang-lstm.safetensors --prefix 床前 "
                + "--length 48 --temperature 0.8"})
final class GenerateCommand implements Callable<Integer> {

    @Option(names = "--checkpoint", defaultValue = "rnn4j-demo-output/tang-lstm.safetensors", paramLabel = "PATH",
            description = "Checkpoint written by 'rnn4j demo poems'. Default: ${DEFAULT-VALUE}.")
    Path checkpoint;

    @Option(names = "--prefix", defaultValue = "床前", paramLabel = "TEXT",
            description = "Text to continue. Default: ${DEFAULT-VALUE}.")
    String prefix;

    @Option(names = "--length", defaultValue = "48", paramLabel = "N",
            description = "Characters to generate after the prefix. Default: ${DEFAULT-VALUE}.")
    int length;

    @Option(names = "--temperature", defaultValue = "0.8", paramLabel = "T",
            description = "Sampling temperature: lower is safer, higher is wilder; 0 takes the most likely "
                    + "character each time. Default: ${DEFAULT-VALUE}.")
    double temperature;

    @Option(names = "--seed", defaultValue = "42", paramLabel = "S",
            description = "Seed of the sampling. Default: ${DEFAULT-VALUE}.")
    long seed;

    @Option(names = "--device", defaultValue = "best", paramLabel = "DEVICE",
            description = "cpu, cuda, cuda:N, or best. Default: ${DEFAULT-VALUE}.")
    String device;

    @Override
    public Integer call() throws Exception {
        if (length < 0) {
            throw new IllegalArgumentException("--length: expected >= 0, got " + length);
        }
        if (prefix.isEmpty()) {
            throw new IllegalArgumentException("--prefix: expected at least one character, got ''");
        }
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("--temperature: expected a finite value >= 0, got " + temperature);
        }
        if (!Files.isRegularFile(checkpoint)) {
            throw new IllegalArgumentException("--checkpoint: no model at " + checkpoint.toAbsolutePath()
                    + "; run 'rnn4j demo poems' first (it trains one and saves it there)");
        }
        Device d = Device.parse(device);
        System.err.println("device: " + d + " (" + d.selectionNote() + ")");
        try (PoemModel model = PoemModel.load(checkpoint, d)) {
            List<String> unknown = model.vocab().unknown(prefix);
            if (!unknown.isEmpty()) {
                System.err.println("note: not in the model's vocabulary, read as <unk>: " + String.join(" ", unknown));
            }
            stdout().println(model.generate(prefix, length, temperature, seed, (char) 0));
        }
        return 0;
    }

    /** Standard output as UTF-8, whatever the platform's console encoding (the poems are Chinese). */
    static PrintStream stdout() {
        return new PrintStream(System.out, true, StandardCharsets.UTF_8);
    }
}
