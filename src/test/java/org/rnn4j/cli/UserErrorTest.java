package org.rnn4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** A user's mistake on the command line is one clear line and a non-zero exit, never a stack trace. */
class UserErrorTest {
    @TempDir
    Path dir;

    private record Run(int exit, String err) {
    }

    private static Run run(String... args) {
        StringWriter err = new StringWriter();
        CommandLine cl = Main.commandLine();
        cl.setOut(new PrintWriter(new StringWriter()));
        cl.setErr(new PrintWriter(err));
        int exit = cl.execute(args);
        return new Run(exit, err.toString());
    }

    private static void oneLine(Run r, String expected) {
        assertEquals(Main.USER_ERROR, r.exit(), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertFalse(r.err().contains("\tat ") || r.err().contains("Exception"), r.err());
        assertTrue(r.err().startsWith("generate: " + expected), r.err());
    }

    @Test
    void generateBeforeDemo() {
        Path missing = dir.resolve("tang-lstm.safetensors");
        oneLine(run("generate", "--device", "cpu", "--checkpoint", missing.toString()),
                "--checkpoint: no model at " + missing + "; run 'rnn4j demo poems' first");
    }

    @Test
    void badValues() {
        String ckpt = dir.resolve("x").toString();
        oneLine(run("generate", "--device", "cpu", "--checkpoint", ckpt, "--length", "-3"), "--length: expected >= 0, got -3");
        oneLine(run("generate", "--device", "cpu", "--checkpoint", ckpt, "--prefix", ""),
                "--prefix: expected at least one character");
        oneLine(run("generate", "--device", "cpu", "--checkpoint", ckpt, "--temperature", "NaN"),
                "--temperature: expected a finite value >= 0, got NaN");
        oneLine(run("generate", "--device", "cpu", "--checkpoint", ckpt, "--temperature", "-1"),
                "--temperature: expected a finite value >= 0, got -1.0");
        oneLine(run("generate", "--device", "tpu", "--checkpoint", ckpt), "");
    }

    @Test
    void aFileThatIsNotAModel() throws Exception {
        Path junk = java.nio.file.Files.write(dir.resolve("junk.safetensors"), new byte[] {1, 2, 3});
        oneLine(run("generate", "--device", "cpu", "--checkpoint", junk.toString()), junk + ": not a valid safetensors file");
    }
}
