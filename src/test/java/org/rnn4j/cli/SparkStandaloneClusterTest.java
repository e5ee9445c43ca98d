package org.rnn4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.spark.launcher.JavaModuleOptions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's {@code spark-submit} line against a real standalone cluster: a master and two workers started
 * from the Maven class path on 127.0.0.1 (every port chosen free on loopback, every process bound there), the
 * {@code spark} command submitted through {@code SparkSubmit} as a user does, with the application jar
 * holding rnn4j's classes and nothing but Spark's class loader knowing it. The reference is {@code local[1]}
 * with the same partitions; client mode trains two steps with checkpoints, cluster mode resumes to step
 * three, and every step's loss must equal the reference's bit for bit. Every JVM gets Spark's own options
 * ({@code JavaModuleOptions}, as {@code spark-class} gives them, {@code jdk.incubator.vector} included), except
 * the cluster-mode driver, which a worker starts without it: there {@code Main} would relaunch itself (and fail
 * to find its own class) if it did not see Spark.
 *
 * <p>Skipped, with the reason, when the cluster cannot start here. Tagged {@code spark-cluster}: {@code mvn test
 * -Drnn4j.test.exclude=spark-cluster} leaves it out.
 */
@Tag("spark-cluster")
class SparkStandaloneClusterTest {
    /** The tiny model and data: 3 steps of 16 windows of 8 characters, LSTM 8, over 2 partitions. */
    private static final List<String> TRAIN = List.of("spark", "--hidden", "8", "--seq-len", "8", "--batch", "16",
            "--partitions", "2");
    private static final long START_SECONDS = 120;
    private static final long SUBMIT_SECONDS = 240;

    /** Kept when the test fails, with every process's log. */
    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path dir;

    /** Every process started, by name, in start order. */
    private final Map<String, Process> processes = new LinkedHashMap<>();

    @Test
    @Timeout(value = 10, unit = TimeUnit.MINUTES)
    void clientAndClusterModeEqualLocalOneWithTheSamePartitions() throws Exception {
        Path home = dir.resolve("spark-home");   // an empty Spark "installation": the jars come from extraClassPath
        Files.createDirectories(home.resolve("jars"));
        Path appJar = appJar(dir.resolve("rnn4j-app.jar"));
        String libraries = libraries();
        int[] ports;
        try {
            ports = freePorts(6);
        } catch (IOException e) {
            Assumptions.abort("no free ports on loopback, so the cluster cannot run here: " + e);
            return;
        }
        String master = "spark://127.0.0.1:" + ports[0];
        try {
            start("master", "org.apache.spark.deploy.master.Master", home, "--host", "127.0.0.1",
                    "--port", Integer.toString(ports[0]), "--webui-port", Integer.toString(ports[1]));
            for (int w = 1; w <= 2; w++) {
                start("worker" + w, "org.apache.spark.deploy.worker.Worker", home, "--host", "127.0.0.1",
                        "--port", Integer.toString(ports[2 * w]), "--webui-port", Integer.toString(ports[2 * w + 1]),
                        "--cores", "2", "--memory", "1g", "--work-dir", dir.resolve("work" + w).toString(), master);
            }

            // the reference, while the cluster starts
            Path reference = dir.resolve("local.csv");
            Submitted local = submit("local", home, appJar, libraries, List.of("--master", "local[1]"),
                    List.of("--steps", "3", "--loss-log", reference.toString()));
            assertTrue(local.exit() == 0 && Files.exists(reference), local.describe());
            List<String> expected = Files.readAllLines(reference);
            assertEquals(4, expected.size(), local.describe());

            awaitLog("master", "I have been elected leader", "the standalone master did not start");
            awaitLog("worker1", "Successfully registered with master", "worker 1 did not register");
            awaitLog("worker2", "Successfully registered with master", "worker 2 did not register");

            Path checkpoints = dir.resolve("checkpoints");
            Path clientLog = dir.resolve("client.csv");
            Submitted client = submit("client", home, appJar, libraries, List.of("--master", master),
                    List.of("--steps", "2", "--checkpoints", checkpoints.toString(), "--checkpoint-every", "1",
                            "--loss-log", clientLog.toString()));
            assertEquals(0, client.exit(), client.describe());
            assertTrue(client.stdout().contains("master " + master + ","), client.describe());
            assertEquals(1, applications(), "one application ran on the cluster\n" + client.describe());
            assertEquals(expected.subList(0, 3), Files.readAllLines(clientLog), client.describe());

            Path clusterLog = dir.resolve("cluster.csv");
            Submitted cluster = submit("cluster", home, appJar, libraries, List.of("--master", master,
                            "--deploy-mode", "cluster", "--conf", "spark.standalone.submit.waitAppCompletion=true"),
                    List.of("--steps", "3", "--checkpoints", checkpoints.toString(), "--resume",
                            "--loss-log", clusterLog.toString()));
            // spark-submit exits 0 even when a cluster-mode driver fails: its log says how the driver ended
            String driverOut = driverOutput();
            String seen = cluster.describe() + "\n--- driver stdout:\n" + driverOut;
            assertTrue(cluster.stderr().matches("(?s).*State of driver \\S+ is FINISHED.*"), seen);
            assertTrue(driverOut.contains("master " + master + ","), seen);
            assertTrue(driverOut.contains("resuming from " + checkpoints.resolve("step-00000002.safetensors")), seen);
            assertEquals(2, applications(), "a second application ran on the cluster\n" + seen);
            assertEquals(List.of(expected.get(0), expected.get(3)), Files.readAllLines(clusterLog), seen);
        } finally {
            stopAll();
        }
    }

    /** rnn4j's classes as an application jar: what {@code target/rnn4j-cli.jar} is to a user. */
    private static Path appJar(Path jar) throws IOException {
        Path classes = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().getPath());
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar));
             Stream<Path> files = Files.walk(classes)) {
            for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
                out.putNextEntry(new JarEntry(classes.relativize(f).toString().replace(File.separatorChar, '/')));
                Files.copy(f, out);
                out.closeEntry();
            }
        }
        return jar;
    }

    /** The test's class path without its class directories: Spark and the libraries, never rnn4j itself. */
    private static String libraries() {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        return Arrays.stream(cp.split(File.pathSeparator)).filter(e -> e.endsWith(".jar"))
                .collect(Collectors.joining(File.pathSeparator));
    }

    /** {@code n} distinct ports that are free on loopback now. */
    private static int[] freePorts(int n) throws IOException {
        List<ServerSocket> held = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                held.add(new ServerSocket(0, 1, InetAddress.getLoopbackAddress()));
            }
            return held.stream().mapToInt(ServerSocket::getLocalPort).toArray();
        } finally {
            for (ServerSocket s : held) {
                s.close();
            }
        }
    }

    private ProcessBuilder java(String name, Path home, String classPath, String mainClass, List<String> args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx512m"));
        cmd.addAll(List.of(JavaModuleOptions.defaultModuleOptionArray()));
        cmd.addAll(List.of("-cp", classPath, mainClass));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(dir.resolve(name + ".out").toFile())
                .redirectError(dir.resolve(name + ".err").toFile());
        pb.environment().put("SPARK_HOME", home.toString());
        pb.environment().put("SPARK_SCALA_VERSION", "2.13");
        pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");   // every service, the web UIs included, on loopback
        pb.environment().remove("RNN4J_NO_RELAUNCH");
        pb.environment().remove("JDK_JAVA_OPTIONS");
        return pb;
    }

    private void start(String name, String mainClass, Path home, String... args) throws IOException {
        processes.put(name, java(name, home, libraries(), mainClass, List.of(args)).start());
    }

    private record Submitted(int exit, String stdout, String stderr) {
        String describe() {
            return "exit " + exit + "\n--- stdout:\n" + stdout + "\n--- stderr (last lines):\n" + tail(stderr);
        }
    }

    /** One {@code spark-submit} of the {@code spark} command, as the README's line, bounded in time. */
    private Submitted submit(String name, Path home, Path appJar, String libraries, List<String> submitArgs,
                             List<String> commandArgs) throws Exception {
        List<String> args = new ArrayList<>(submitArgs);
        args.addAll(List.of("--conf", "spark.driver.extraClassPath=" + libraries,
                "--conf", "spark.executor.extraClassPath=" + libraries,
                "--conf", "spark.driver.memory=512m", "--conf", "spark.executor.memory=512m",
                "--conf", "spark.executor.cores=1", "--conf", "spark.cores.max=2",
                "--conf", "spark.port.maxRetries=4", "--conf", "spark.ui.enabled=false",
                "--class", Main.class.getName(), appJar.toString()));
        args.addAll(TRAIN);
        args.addAll(commandArgs);
        Process p = java(name, home, libraries, "org.apache.spark.deploy.SparkSubmit", args).start();
        processes.put(name, p);
        boolean done = p.waitFor(SUBMIT_SECONDS, TimeUnit.SECONDS);
        Submitted s = new Submitted(done ? p.exitValue() : -1, read(name + ".out"), read(name + ".err"));
        assertTrue(done, "spark-submit (" + name + ") did not end within " + SUBMIT_SECONDS + " s\n" + s.describe());
        return s;
    }

    /**
     * Waits for {@code line} in a cluster process's log; skips the test when the process ended or the line
     * did not come in time: the cluster cannot start here.
     */
    private void awaitLog(String name, String line, String what) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(START_SECONDS);
        Process p = processes.get(name);
        while (System.nanoTime() < deadline && p.isAlive()) {
            if (read(name + ".err").contains(line)) {
                return;
            }
            Thread.sleep(250);
        }
        String why = p.isAlive() ? "within " + START_SECONDS + " s" : "(it exited with " + p.exitValue() + ")";
        Assumptions.abort(what + " " + why + " on 127.0.0.1, so the cluster cannot run here:\n" + tail(read(name + ".err")));
    }

    /** Applications that ran executors on the workers (each leaves an {@code app-*} directory on a worker it used). */
    private long applications() throws IOException {
        return workDirs().filter(p -> p.getFileName().toString().startsWith("app-"))
                .map(p -> p.getFileName().toString()).distinct().count();
    }

    private String driverOutput() throws IOException {
        StringBuilder out = new StringBuilder();
        for (Path d : (Iterable<Path>) workDirs().filter(p -> p.getFileName().toString().startsWith("driver-"))::iterator) {
            out.append(Files.exists(d.resolve("stdout")) ? Files.readString(d.resolve("stdout")) : "")
                    .append(Files.exists(d.resolve("stderr")) ? tail(Files.readString(d.resolve("stderr"))) : "");
        }
        return out.toString();
    }

    private Stream<Path> workDirs() throws IOException {
        List<Path> all = new ArrayList<>();
        for (int w = 1; w <= 2; w++) {
            Path work = dir.resolve("work" + w);
            if (Files.isDirectory(work)) {
                try (Stream<Path> s = Files.list(work)) {
                    s.forEach(all::add);
                }
            }
        }
        return all.stream();
    }

    private String read(String file) throws IOException {
        Path p = dir.resolve(file);
        return Files.exists(p) ? Files.readString(p) : "";
    }

    private static String tail(String log) {
        List<String> lines = log.lines().toList();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    }

    /**
     * Stops the submissions, then the workers (which stop their executors and drivers) and the master, and kills
     * whatever of theirs is left.
     */
    private void stopAll() throws InterruptedException {
        List<Process> started = new ArrayList<>(processes.values());
        List<ProcessHandle> all = new ArrayList<>();
        for (Process p : started) {
            p.descendants().forEach(all::add);
            all.add(p.toHandle());
        }
        for (int i = started.size() - 1; i >= 0; i--) {
            started.get(i).destroy();
        }
        for (Process p : started) {
            p.waitFor(20, TimeUnit.SECONDS);
        }
        all.forEach(ProcessHandle::destroyForcibly);
    }
}
