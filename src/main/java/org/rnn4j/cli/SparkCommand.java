package org.rnn4j.cli;

import java.io.PrintWriter;
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
                "Needs Spark 4 on the classpath: spark-submit --class org.rnn4j.cli.Main target/rnn4j-cli.jar spark ..."})
final class SparkCommand implements Callable<Integer> {

    @Option(names = "--master", defaultValue = "local[2]",
            description = "Spark master when spark-submit gave none (default: ${DEFAULT-VALUE}).")
    String master;

    @Option(names = "--partitions", defaultValue = "0",
            description = "Partitions of the data (default: Spark's default parallelism).")
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

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        try {
            Class.forName("org.apache.spark.SparkContext");
        } catch (ClassNotFoundException e) {
            spec.commandLine().getErr().println("Spark is not on the classpath (the CLI jar does not carry it): run "
                    + "spark-submit --class org.rnn4j.cli.Main target/rnn4j-cli.jar spark ..., or see README "
                    + "'Training on Apache Spark'.");
            return 2;
        }
        org.rnn4j.demo.SparkPoemDemo.run(master, partitions, steps, batch, seqLen, hidden, averageEvery, executorDevice,
                seed, out);
        return 0;
    }
}
