package org.rnn4j.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code rnn4j} command line: each subcommand is a class of this package. */
@Command(name = "rnn4j", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = "Recurrent layers (RNN, LSTM, GRU) on the CPU and on NVIDIA GPUs.")
public final class Main {

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The command tree, also used by tests. */
    public static CommandLine commandLine() {
        return new CommandLine(new Main())
                .addSubcommand(new InfoCommand())
                .addSubcommand(new DemoCommand())
                .addSubcommand(new GenerateCommand())
                .addSubcommand(new BenchCommand())
                .addSubcommand(new SparkCommand());
    }
}
