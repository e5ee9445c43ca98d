package org.rnn4j.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * A new user's bad command lines, many at once: each must end with the user-error exit and one line on stderr that
 * names the option, never a stack trace, and never run anyway. Every demo is given otherwise tiny settings, so that a
 * value that slipped through shows up as a run that exited 0, not as minutes of training.
 */
class CliProbeTest {
    @TempDir
    Path dir;

    /** {what the message must name (the option, or the library's name for it), args...}. */
    private List<String[]> cases() throws Exception {
        String out = dir.toString();
        Path junk = Files.write(dir.resolve("junk.safetensors"), new byte[] {1, 2, 3});
        String[] airline = {"demo", "airline", "--device", "cpu", "--epochs", "1", "--hidden", "2", "--window", "2", "--out", out};
        String[] poems = {"demo", "poems", "--device", "cpu", "--epochs", "1", "--steps", "1", "--hidden", "4", "--embedding", "4",
                "--batch", "2", "--seq-len", "4", "--out", out};
        String[] slots = {"demo", "slots", "--device", "cpu", "--sentences", "10", "--epochs", "1", "--hidden", "4", "--out", out};
        String[] dates = {"demo", "dates", "--device", "cpu", "--epochs", "1", "--hidden", "4", "--out", out};
        String[] generate = {"generate", "--device", "cpu", "--checkpoint", junk.toString(), "--length", "2"};
        List<String[]> c = new ArrayList<>();
        for (String[] base : List.of(airline, poems, slots, dates)) {
            c.add(with(base, "device", "--device", "tpu"));
            c.add(with(base, "ordinal", "--device", "cuda:-1"));
            c.add(with(base, "hidden", "--hidden", "0"));
            c.add(with(base, "hidden", "--hidden", "-3"));
            c.add(with(base, "--seed", "--seed", "x"));
        }
        c.add(with(airline, "epochs", "--epochs", "0"));
        c.add(with(airline, "window", "--window", "0"));
        c.add(with(airline, "window", "--window", "100000"));
        c.add(with(airline, "lr", "--lr", "NaN"));
        c.add(with(airline, "lr", "--lr", "-1"));
        c.add(with(airline, "lr", "--lr", "Infinity"));
        c.add(with(poems, "epochs", "--epochs", "-1"));
        c.add(with(poems, "steps", "--steps", "-1"));
        c.add(with(poems, "embed", "--embedding", "0"));
        c.add(with(poems, "layers", "--layers", "0"));
        c.add(with(poems, "batch", "--batch", "0"));
        c.add(with(poems, "seqLen", "--seq-len", "0"));
        c.add(with(poems, "learningRate", "--lr", "0"));
        c.add(with(poems, "learningRate", "--lr", "NaN"));
        c.add(with(poems, "minCount", "--min-count", "-1"));
        c.add(with(poems, "under-a-file", "--checkpoint", junk + "/under-a-file.safetensors"));
        c.add(with(slots, "sentences", "--sentences", "0"));
        c.add(with(slots, "sentences", "--sentences", "4"));
        c.add(with(slots, "epochs", "--epochs", "0"));
        c.add(with(dates, "epochs", "--epochs", "0"));
        c.add(with(generate, "--length", "--length", "-1"));
        c.add(with(generate, "--temperature", "--temperature", "Infinity"));
        c.add(with(generate, "junk.safetensors", "--checkpoint", junk.toString()));
        c.add(with(generate, "--checkpoint", "--checkpoint", dir.toString()));
        c.add(with(generate, "device", "--device", "gpu:0"));
        c.add(new String[] {"--repeat", "bench", "--device", "cpu", "--quick", "--repeat", "0"});
        c.add(new String[] {"--warmup", "bench", "--device", "cpu", "--quick", "--warmup", "-1"});
        c.add(new String[] {"--settle", "bench", "--device", "cpu", "--quick", "--settle", "NaN"});
        c.add(new String[] {"--settle", "bench", "--device", "cpu", "--quick", "--settle", "-5"});
        c.add(new String[] {"--device", "bench", "--device", "tpu", "--quick"});
        c.add(new String[] {"--shape", "bench", "--device", "cpu", "--shape", "0,4,4,4"});
        c.add(new String[] {"--shape", "bench", "--device", "cpu", "--shape", "4,4,4"});
        c.add(new String[] {"--shape", "bench", "--device", "cpu", "--shape", "4,-4,4,4"});
        c.add(new String[] {"--shape", "bench", "--device", "cpu", "--shape", "lstm-I4-H0-B1-T1"});
        c.add(new String[] {"--cell", "bench", "--device", "cpu", "--quick", "--cell", "transformer"});
        c.add(new String[] {"--phases-shape", "bench", "--device", "cpu", "--quick", "--phases", "--phases-shape", "nope"});
        // spark: each is refused before Spark starts (a started local Spark would outlive the test)
        c.add(new String[] {"--partitions", "spark", "--partitions", "-1", "--steps", "1"});
        c.add(new String[] {"--steps", "spark", "--steps", "0"});
        c.add(new String[] {"--batch", "spark", "--batch", "0", "--steps", "1"});
        c.add(new String[] {"--seq-len", "spark", "--seq-len", "0", "--steps", "1"});
        c.add(new String[] {"--hidden", "spark", "--hidden", "0", "--steps", "1"});
        c.add(new String[] {"--average-every", "spark", "--average-every", "-1", "--steps", "1"});
        c.add(new String[] {"--checkpoint-every", "spark", "--checkpoint-every", "0", "--steps", "1"});
        c.add(new String[] {"--resume", "spark", "--resume", "--steps", "1"});
        c.add(new String[] {"executorDevice", "spark", "--executor-device", "tpu", "--steps", "1"});
        return c;
    }

    /** {@code base} with {@code option} set to {@code value} (replacing its value if present), what the message names first. */
    private static String[] with(String[] base, String expected, String option, String value) {
        List<String> args = new ArrayList<>(List.of(expected));
        boolean replaced = false;
        for (int i = 0; i < base.length; i++) {
            args.add(base[i]);
            if (base[i].equals(option) && i + 1 < base.length) {
                args.add(value);
                i++;
                replaced = true;
            }
        }
        if (!replaced) {
            args.add(option);
            args.add(value);
        }
        return args.toArray(new String[0]);
    }

    @Test
    void everyBadCommandLineIsOneLineNamingTheOption() throws Exception {
        List<String> failures = new ArrayList<>();
        List<String[]> cases = cases();
        for (String[] c : cases) {
            String option = c[0];
            String[] args = java.util.Arrays.copyOfRange(c, 1, c.length);
            StringWriter err = new StringWriter();
            CommandLine cl = Main.commandLine();
            cl.setOut(new PrintWriter(new StringWriter()));
            cl.setErr(new PrintWriter(err));
            int exit;
            try {
                exit = cl.execute(args);
            } catch (RuntimeException | Error e) {
                failures.add(String.join(" ", args) + ": threw " + e);
                continue;
            }
            String e = err.toString().strip();
            if (exit == 0) {
                failures.add(String.join(" ", args) + ": ran (exit 0)");
            } else if (e.contains("\tat ") || e.contains("Exception") || !e.lines().findFirst().orElse("").contains(option)
                    || e.lines().count() != 1 && !e.startsWith("Invalid value for option")) {   // picocli's own adds the usage
                failures.add(String.join(" ", args) + ": exit " + exit + ", stderr should be one line naming " + option + ": " + e);
            }
        }
        assertTrue(failures.isEmpty(), failures.size() + " of " + cases.size() + " command lines:\n  " + String.join("\n  ", failures));
    }
}
