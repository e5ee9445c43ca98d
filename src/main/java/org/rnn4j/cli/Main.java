package org.rnn4j.cli;

import java.io.IOException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code rnn4j} command line: each subcommand is a class of this package. */
@Command(name = "rnn4j", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = "Recurrent layers (RNN, LSTM, GRU) on the CPU and on NVIDIA GPUs.")
public final class Main {

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** Exit code of a user error (a bad option value, a missing file): one line on stderr, no stack trace. */
    static final int USER_ERROR = 2;

    /** The command tree, also used by tests. */
    public static CommandLine commandLine() {
        return new CommandLine(new Main())
                .addSubcommand(new InfoCommand())
                .addSubcommand(new DemoCommand())
                .addSubcommand(new GenerateCommand())
                .addSubcommand(new BenchCommand())
                .addSubcommand(new SparkCommand())
                .setExecutionExceptionHandler(Main::userError);
    }

    /**
     * What the user got wrong (a bad value, a misuse, a file that cannot be read) is one line naming it; anything
     * else is a bug in rnn4j and keeps its stack trace.
     */
    private static int userError(Exception e, CommandLine cmd, CommandLine.ParseResult parsed) throws Exception {
        if (e instanceof IllegalArgumentException || e instanceof IllegalStateException || e instanceof IOException) {
            cmd.getErr().println(cmd.getCommandName() + ": " + e.getMessage());
            cmd.getErr().flush();
            return USER_ERROR;
        }
        throw e;
    }
}
