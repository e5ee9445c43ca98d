package org.rnn4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code spark}: the poem language model trained data-parallel on Apache Spark, with its throughput.
 * Spark is not inside the CLI jar: run it with {@code spark-submit} or with Spark's jars on the classpath.
 */
@Command(name = "spark", mixinStandardHelpOptions = true,
        description = {"Train the Tang-poem character language model data-parallel on Apache Spark and report "
                + "loss, steps/s, sequences/s and the share of a step spent outside gradient computation.",
                "Needs Spark 4 on the classpath: spark-submit --class org.rnn4j.cli.Main target/rnn4j-cli.jar spark ...",
                "The losses equal a local[1] run's bit for bit when --partitions is the same."})
final class SparkCommand implements Callable<Integer> {

    /** The master when neither spark-submit nor {@code --master} names one. */
    static final String DEFAULT_MASTER = "local[2]";

    @Option(names = "--master",
            description = "Spark master, when spark-submit set none (it may not differ from spark-submit's); "
                    + "default: " + DEFAULT_MASTER + ".")
    String master;

    @Option(names = "--partitions", defaultValue = "0",
            description = "Partitions of the data (default: Spark's default parallelism). Runs with the same "
                    + "partitions give the same losses on any master.")
    int partitions;

    @Option(names = "--steps", defaultValue = "60", description = "Optimizer steps (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--batch", defaultValue = "64", description = "Global batch, in sequences (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--seq-len", defaultValue = "32", description = "Characters per sequence (default: ${DEFAULT-VALUE}).")
    int seqLen;

    @Option(names = "--hidden", defaultValue = "128", description = "LSTM hidden size (default: ${DEFAULT-VALUE}).")
    int hidden;

    @Option(names = "--average-every", defaultValue = "0",
            description = "Parameter averaging every K local steps; 0: synchronous gradients (default).")
    int averageEvery;

    @Option(names = "--executor-device", defaultValue = "auto",
            description = "auto (the GPU Spark assigns a task, else the CPU), cpu or cuda:N (default: ${DEFAULT-VALUE}).")
    String executorDevice;

    @Option(names = "--seed", defaultValue = "42", description = "Seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--checkpoints", paramLabel = "DIR",
            description = "Write weights, optimizer state and step to DIR/step-NNNNNNNN.safetensors every "
                    + "--checkpoint-every steps and at the end (the driver writes them: on a cluster, a directory "
                    + "that a restarted driver sees too).")
    Path checkpoints;

    @Option(names = "--checkpoint-every", defaultValue = "50",
            description = "Steps between checkpoints (default: ${DEFAULT-VALUE}).")
    int checkpointEvery;

    @Option(names = "--resume",
            description = "Continue from the newest checkpoint in --checkpoints bit-identically (same options "
                    + "needed); with none there yet, start at step 0 and say so.")
    boolean resume;

    @Option(names = "--loss-log", paramLabel = "FILE",
            description = "Write 'step,loss' of every step this run trains to FILE (CSV, full precision; "
                    + "written by the driver).")
    Path lossLog;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        if (resume && checkpoints == null) {
            throw new IllegalArgumentException("--resume: expected --checkpoints DIR to resume from, got none");
        }
        // every number is checked before Spark starts (0 means "the default" only where the help says so)
        int[][] atLeast = {{checkpointEvery, 1}, {partitions, 0}, {steps, 1}, {batch, 1}, {seqLen, 1}, {hidden, 1}, {averageEvery, 0}};
        String[] names = {"--checkpoint-every", "--partitions", "--steps", "--batch", "--seq-len", "--hidden", "--average-every"};
        for (int i = 0; i < names.length; i++) {
            if (atLeast[i][0] < atLeast[i][1]) {
                throw new IllegalArgumentException(names[i] + ": expected >= " + atLeast[i][1] + ", got " + atLeast[i][0]);
            }
        }
        try {
            Class.forName("org.apache.spark.SparkContext");
        } catch (ClassNotFoundException e) {
            spec.commandLine().getErr().println("Spark is not on the classpath (the CLI jar does not carry it): run "
                    + "spark-submit --class org.rnn4j.cli.Main target/rnn4j-cli.jar spark ..., or see README "
                    + "'Training on Apache Spark'.");
            return Main.USER_ERROR;
        }
        org.rnn4j.demo.SparkPoemDemo.run(new org.rnn4j.demo.SparkPoemDemo.Settings(master, DEFAULT_MASTER, partitions,
                steps, batch, seqLen, hidden, averageEvery, executorDevice, seed, checkpoints, checkpointEvery, resume,
                lossLog), out);
        return 0;
    }
}
