package org.rnn4j.cli;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.module.ModuleFinder;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code rnn4j} command line: each subcommand is a class of this package. */
@Command(name = "rnn4j", mixinStandardHelpOptions = true, versionProvider = Version.class,
        description = "Recurrent layers (RNN, LSTM, GRU) on the CPU and on NVIDIA GPUs.",
        footer = {"", "A JVM without jdk.incubator.vector reruns the command in a child JVM with --add-modules "
                + "jdk.incubator.vector (the CPU engine's fast kernels), except under Spark; environment variable "
                + "RNN4J_NO_RELAUNCH=1 keeps it in this JVM."})
public final class Main {

    private static final String VECTOR_MODULE = "jdk.incubator.vector";

    public static void main(String[] args) throws Exception {
        Integer relaunched = launchedBySpark() ? null : relaunchWithVectorModule(args);
        System.exit(relaunched != null ? relaunched : commandLine().execute(args));
    }

    /**
     * {@code java -jar} cannot add a module from the jar's manifest, and the CPU engine is several times
     * faster with the Vector API: when this JVM lacks {@code jdk.incubator.vector} but its JDK has it, run
     * the same command in a child JVM with {@code --add-modules} (same java, JVM options, class path and
     * arguments; its exit code is returned). Set {@code RNN4J_NO_RELAUNCH=1} to stay in this JVM. Never under
     * Spark (see {@link #launchedBySpark}).
     *
     * @return the child's exit code, or null when this JVM runs the command itself
     */
    private static Integer relaunchWithVectorModule(String[] args) throws Exception {
        if (ModuleLayer.boot().findModule(VECTOR_MODULE).isPresent()
                || ModuleFinder.ofSystem().find(VECTOR_MODULE).isEmpty()
                || System.getenv("RNN4J_NO_RELAUNCH") != null) {
            return null;
        }
        String java = ProcessHandle.current().info().command().orElse(null);
        if (java == null) {
            return null;
        }
        List<String> cmd = new ArrayList<>(List.of(java, "--add-modules", VECTOR_MODULE));
        if (Runtime.version().feature() >= 22) {
            // what the jar's Enable-Native-Access manifest entry gave this JVM, which a -cp child does not read
            cmd.add("--enable-native-access=ALL-UNNAMED");
        }
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).inheritIO();
        pb.environment().put("RNN4J_NO_RELAUNCH", "1");
        return pb.start().waitFor();
    }

    /**
     * Whether Spark runs this command: Spark's code is on the stack ({@code spark-submit} in client mode, a
     * standalone worker's {@code DriverWrapper} in cluster mode, YARN's application master) or {@code spark.*}
     * system properties are set. Such a JVM must not hand the command to a child: Spark loaded the application
     * jar into its own class loader (not {@code java.class.path}) and set the master and the rest of its
     * configuration as system properties in-process, so a child would not find {@code Main} or would
     * silently train in local mode, outside the cluster.
     */
    static boolean launchedBySpark() {
        boolean sparkOnStack = StackWalker.getInstance().walk(frames ->
                frames.anyMatch(f -> f.getClassName().startsWith("org.apache.spark.")));
        return sparkOnStack || System.getProperties().stringPropertyNames().stream().anyMatch(k -> k.startsWith("spark."));
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
        if (e instanceof IllegalArgumentException || e instanceof IllegalStateException || e instanceof IOException
                || e instanceof java.io.UncheckedIOException) {   // a file the user named that cannot be written (a demo's)
            cmd.getErr().println(cmd.getCommandName() + ": " + e.getMessage());
            cmd.getErr().flush();
            return USER_ERROR;
        }
        throw e;
    }
}
