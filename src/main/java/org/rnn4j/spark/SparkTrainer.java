package org.rnn4j.spark;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.stream.Stream;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.storage.StorageLevel;
import org.rnn4j.Device;
import org.rnn4j.HasParameters;
import org.rnn4j.Tensor;
import org.rnn4j.train.Checkpoint;
import org.rnn4j.train.Optimizer;
import org.rnn4j.train.SafeTensors;
import scala.Tuple2;

/**
 * Data-parallel training on Apache Spark with Spark's own primitives, after MLlib's distributed
 * optimizers and BigDL: the parameters are broadcast, every task computes its partition's gradients with
 * rnn4j on its executor's device, the gradients are summed with {@code treeAggregate} in a fixed order
 * ({@code FixedOrderSum}), and the optimizer steps once on the driver.
 *
 * <p>Each epoch the examples are put in a seeded order and cut into global batches of
 * {@link TrainOptions#batchSize(int)}; step {@code s} uses batch {@code s}, of which every partition computes
 * the part it holds. A partition's gradient is weighted by its loss's term count, so the sum is the
 * gradient of the global batch's mean loss: N partitions give the parameters one process gets on the
 * same global batches, to float rounding, and the same parameters run after run.
 *
 * <p>Executors keep their replicas between steps (per executor JVM, run and device; on a GPU executor
 * they stay on the GPU) and only load each step's broadcast parameters. A task that fails is retried by
 * Spark; the driver touches its own state only after {@code treeAggregate} has returned one result per
 * partition, so a retry cannot corrupt a step. With {@link TrainOptions#checkpoints(java.nio.file.Path, int)} a killed job
 * resumes from its last checkpoint ({@link TrainOptions#resumeFrom(java.nio.file.Path)}).
 *
 * <p>{@link TrainOptions#averaging(int) Parameter averaging} is the other mode: each partition takes K
 * local steps on its share of K global batches, then parameters and optimizer state are averaged.
 *
 * @param <E> the example type, serializable
 */
public final class SparkTrainer<E> implements AutoCloseable {
    private static final String META = "rnn4j.spark.";
    private static final String OPT = "optimizer.";

    private final JavaSparkContext sc;
    private final Replica.Factory<E> factory;
    private final TrainOptions options;
    private final String run = UUID.randomUUID().toString();
    private final Replica<E> master;
    private final Optimizer optimizer;
    private long step;

    /**
     * A trainer whose model starts as {@code factory} builds it on the driver's CPU; its parameters are
     * what the executors receive at step 0.
     */
    public SparkTrainer(JavaSparkContext sc, Replica.Factory<E> factory, TrainOptions options) {
        if (sc == null) {
            throw new IllegalArgumentException("sc: expected a JavaSparkContext, got null");
        }
        if (factory == null) {
            throw new IllegalArgumentException("factory: expected a replica factory, got null");
        }
        if (options == null) {
            throw new IllegalArgumentException("options: expected train options, got null");
        }
        requireSerializable(factory);
        this.sc = sc;
        this.factory = factory;
        this.options = options;
        this.master = factory.create(Device.cpu());
        try {
            this.optimizer = options.newOptimizer(List.of(master.module()));
        } catch (RuntimeException e) {
            master.close();
            throw e;
        }
    }

    /** Refuses, on the driver, a factory that Spark could not send to the executors (it would fail there, late). */
    private static void requireSerializable(Replica.Factory<?> factory) {
        try (java.io.ObjectOutputStream out = new java.io.ObjectOutputStream(java.io.OutputStream.nullOutputStream())) {
            out.writeObject(factory);
        } catch (java.io.IOException e) {
            throw new IllegalArgumentException("factory: expected a serializable factory (Spark sends it to the "
                    + "executors), got one that is not: " + e, e);
        }
    }

    /** The driver's model: the trained parameters after {@link #fit(JavaRDD)}. */
    public HasParameters model() {
        return master.module();
    }

    /** Optimizer steps taken so far (including those before a resumed checkpoint). */
    public long step() {
        return step;
    }

    /** What one {@link #fit(JavaRDD)} did: per-step mean losses over the global batch, and where the time went. */
    public record Result(long firstStep, double[] losses, long[] stepNanos, long[] computeNanos, long examples,
                         int partitions) {
        /** Optimizer steps per second of wall time. */
        public double stepsPerSecond() {
            return losses.length / seconds(Arrays.stream(stepNanos).sum());
        }

        /** Examples per second of wall time. */
        public double examplesPerSecond() {
            return examples / seconds(Arrays.stream(stepNanos).sum());
        }

        /**
         * The share of a step's wall time not spent computing gradients in the slowest task: scheduling,
         * broadcast, serialization, the aggregation and the driver's update.
         */
        public double communicationFraction() {
            long wall = Arrays.stream(stepNanos).sum();
            return wall == 0 ? 0 : 1 - Arrays.stream(computeNanos).sum() / (double) wall;
        }

        private static double seconds(long nanos) {
            return Math.max(1e-9, nanos / 1e9);
        }
    }

    /**
     * Trains on {@code data} until {@link TrainOptions#steps(long)} (or the epochs) are done, from step 0 or
     * from {@link TrainOptions#resumeFrom(java.nio.file.Path)}. The RDD is read once per epoch; cache it if it is expensive.
     *
     * @throws IOException when a checkpoint cannot be written, or the one to resume from cannot be read
     */
    public Result fit(JavaRDD<E> data) throws IOException {
        if (data == null) {
            throw new IllegalArgumentException("data: expected an RDD of examples, got null");
        }
        if (options.checkpointDir != null) {
            Checkpoint.requireWritableFolder("checkpoints", Path.of(options.checkpointDir));
        }
        if (options.resumeFrom != null) {
            resume(Path.of(options.resumeFrom));
        }
        JavaPairRDD<E, Long> indexed = data.zipWithIndex().persist(StorageLevel.MEMORY_AND_DISK());
        JavaRDD<List<List<E>>> byStep = null;
        try {
            long n = indexed.count();
            if (n == 0) {
                throw new IllegalArgumentException("data: expected at least one example, got an empty RDD");
            }
            if (n > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("data: expected at most " + Integer.MAX_VALUE + " examples, got " + n);
            }
            int partitions = indexed.getNumPartitions();
            int perEpoch = (int) ((n + options.batchSize - 1) / options.batchSize);
            long total = options.steps > 0 ? options.steps : (long) options.epochs * perEpoch;
            long first = step;
            List<Double> losses = new ArrayList<>();
            List<Long> wall = new ArrayList<>();
            List<Long> compute = new ArrayList<>();
            long examples = 0;
            long epoch = -1;
            while (step < total) {
                if (step / perEpoch != epoch) {
                    epoch = step / perEpoch;
                    if (byStep != null) {
                        byStep.unpersist(false);
                    }
                    byStep = epochBatches(indexed, (int) n, perEpoch, epoch);
                }
                int inEpoch = (int) (step % perEpoch);
                int k = options.averageEvery == 0 ? 1
                        : (int) Math.min(options.averageEvery, Math.min(perEpoch - inEpoch, total - step));
                long start = System.nanoTime();
                FixedOrderSum.Node sum = options.averageEvery == 0 ? gradientStep(byStep, partitions, inEpoch)
                        : averagingRound(byStep, partitions, inEpoch, k);
                long before = step;
                step += k;
                long nanos = System.nanoTime() - start;
                losses.add(sum.count() == 0 ? Double.NaN : sum.loss() / sum.count());
                wall.add(nanos);
                compute.add(sum.computeNanos());
                examples += Math.min((long) (inEpoch + k) * options.batchSize, n) - (long) inEpoch * options.batchSize;
                if (options.checkpointDir != null
                        && (step / options.checkpointEvery != before / options.checkpointEvery || step == total)) {
                    saveCheckpoint(Path.of(options.checkpointDir).resolve(checkpointName(step)));
                }
            }
            return new Result(first, losses.stream().mapToDouble(Double::doubleValue).toArray(),
                    wall.stream().mapToLong(Long::longValue).toArray(),
                    compute.stream().mapToLong(Long::longValue).toArray(), examples, partitions);
        } finally {
            if (byStep != null) {
                byStep.unpersist(false);
            }
            indexed.unpersist(false);
        }
    }

    // ------------------------------------------------------------------ the data plan

    /**
     * The position of every example in epoch {@code epoch}'s order (a seeded permutation); position
     * {@code p} belongs to step {@code p / batchSize} of the epoch. One process training on the same
     * global batches uses the same function.
     */
    public static int[] epochPositions(int n, long seed, long epoch) {
        if (n < 1) {
            throw new IllegalArgumentException("n: expected >= 1, got " + n);
        }
        SplittableRandom rnd = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + epoch);
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        int[] position = new int[n];
        for (int p = 0; p < n; p++) {
            position[order[p]] = p;
        }
        return position;
    }

    /** One element per partition: its examples grouped by step of the epoch, each group in epoch order. */
    private JavaRDD<List<List<E>>> epochBatches(JavaPairRDD<E, Long> indexed, int n, int perEpoch, long epoch) {
        Broadcast<int[]> positions = sc.broadcast(epochPositions(n, options.seed, epoch));
        int batchSize = options.batchSize;
        JavaRDD<List<List<E>>> rdd = indexed.mapPartitions(it -> {
            int[] pos = positions.value();
            List<List<Tuple2<Integer, E>>> groups = new ArrayList<>();
            for (int s = 0; s < perEpoch; s++) {
                groups.add(new ArrayList<>());
            }
            while (it.hasNext()) {
                Tuple2<E, Long> t = it.next();
                int p = pos[Math.toIntExact(t._2())];
                groups.get(p / batchSize).add(new Tuple2<>(p, t._1()));
            }
            List<List<E>> out = new ArrayList<>(perEpoch);
            for (List<Tuple2<Integer, E>> g : groups) {
                g.sort(Comparator.comparingInt(Tuple2::_1));
                List<E> examples = new ArrayList<>(g.size());
                g.forEach(t -> examples.add(t._2()));
                out.add(examples);
            }
            return List.of(out).iterator();
        }, true);
        return rdd.persist(StorageLevel.MEMORY_AND_DISK());
    }

    // ------------------------------------------------------------------ synchronous step

    private FixedOrderSum.Node gradientStep(JavaRDD<List<List<E>>> byStep, int partitions, int inEpoch) {
        Map<String, Tensor> params = master.module().parameters();
        Broadcast<float[]> weights = sc.broadcast(flatten(params.values()));
        try {
            FixedOrderSum.Node sum = requireFinite(aggregate(byStep.mapPartitionsWithIndex(
                    gradientTask(run, factory, options.executorDevice, weights, step, inEpoch), true), partitions));
            if (sum.count() > 0) {
                // the gradient of the global batch's mean loss: Σ_p count_p · grad_p / Σ_p count_p
                float[] g = sum.values();
                float scale = (float) (1.0 / sum.count());
                for (int i = 0; i < g.length; i++) {
                    g[i] *= scale;
                }
                unflatten(g, 0, master.module().gradients().values());
                optimizer.step();   // clips first where options.clipNorm > 0 (newOptimizer)
            }
            return sum;
        } finally {
            weights.destroy();
        }
    }

    private static <E> org.apache.spark.api.java.function.Function2<Integer, Iterator<List<List<E>>>,
            Iterator<FixedOrderSum.Node>> gradientTask(String run, Replica.Factory<E> factory, String deviceSpec,
                                                       Broadcast<float[]> weights, long step, int inEpoch) {
        return (partition, it) -> {
            List<E> examples = it.next().get(inEpoch);
            if (examples.isEmpty()) {
                return List.of(FixedOrderSum.leaf(partition, null, 0, 0, 0)).iterator();
            }
            long start = System.nanoTime();
            Device device = TaskDevice.choose(deviceSpec, TaskContext.get());
            ReplicaCache.Slot slot = ReplicaCache.borrow(run, device.toString(), () -> factory.create(device));
            try {
                @SuppressWarnings("unchecked")
                Replica<E> replica = (Replica<E>) slot.replica;
                HasParameters module = replica.module();
                // keyed by the broadcast, not the step: a resumed fit repeats step numbers with other weights
                if (slot.broadcast != weights.id()) {
                    slot.broadcast = -1;
                    unflatten(weights.value(), 0, module.parameters().values());
                    slot.broadcast = weights.id();
                }
                module.zeroGrad();
                Replica.Loss loss = replica.accumulate(examples, step);
                float[] g = flatten(module.gradients().values());
                // the gradient of this part's loss sum, so that the partitions' gradients add up
                for (int i = 0; i < g.length; i++) {
                    g[i] *= loss.count();
                }
                FixedOrderSum.Node leaf = FixedOrderSum.leaf(partition, g, loss.mean() * loss.count(), loss.count(),
                        System.nanoTime() - start);
                ReplicaCache.release(run, device.toString(), slot);
                return List.of(leaf).iterator();
            } catch (RuntimeException | Error e) {
                slot.close();
                throw e;
            }
        };
    }

    // ------------------------------------------------------------------ parameter averaging

    private FixedOrderSum.Node averagingRound(JavaRDD<List<List<E>>> byStep, int partitions, int inEpoch, int k) {
        Collection<Tensor> params = master.module().parameters().values();
        Collection<Tensor> state = optimizer.state().values();
        Broadcast<float[]> weights = sc.broadcast(concat(flatten(params), flatten(state)));
        try {
            FixedOrderSum.Node sum = requireFinite(aggregate(byStep.mapPartitionsWithIndex(
                    averagingTask(run, factory, options, weights, step, inEpoch, k), true), partitions));
            if (sum.values() != null) {
                float[] v = sum.values();
                float participants = v[v.length - 1];
                for (int i = 0; i < v.length - 1; i++) {
                    v[i] /= participants;
                }
                int used = unflatten(v, 0, params);
                unflatten(v, used, state);
            }
            optimizer.restoreSteps(step + k);
            return sum;
        } finally {
            weights.destroy();
        }
    }

    private static <E> org.apache.spark.api.java.function.Function2<Integer, Iterator<List<List<E>>>,
            Iterator<FixedOrderSum.Node>> averagingTask(String run, Replica.Factory<E> factory, TrainOptions options,
                                                        Broadcast<float[]> weights, long step, int inEpoch, int k) {
        return (partition, it) -> {
            List<List<E>> groups = it.next();
            if (groups.subList(inEpoch, inEpoch + k).stream().allMatch(List::isEmpty)) {
                return List.of(FixedOrderSum.leaf(partition, null, 0, 0, 0)).iterator();
            }
            long start = System.nanoTime();
            Device device = TaskDevice.choose(options.executorDevice, TaskContext.get());
            ReplicaCache.Slot slot = ReplicaCache.borrow(run, device.toString(), () -> factory.create(device));
            try {
                @SuppressWarnings("unchecked")
                Replica<E> replica = (Replica<E>) slot.replica;
                HasParameters module = replica.module();
                if (slot.optimizer == null) {
                    slot.optimizer = options.newOptimizer(List.of(module));
                }
                Optimizer opt = slot.optimizer;
                slot.broadcast = -1;
                int used = unflatten(weights.value(), 0, module.parameters().values());
                unflatten(weights.value(), used, opt.state().values());
                opt.restoreSteps(step);
                double lossSum = 0;
                long count = 0;
                for (int j = 0; j < k; j++) {
                    List<E> examples = groups.get(inEpoch + j);
                    if (examples.isEmpty()) {
                        continue;
                    }
                    opt.zeroGrad();
                    Replica.Loss loss = replica.accumulate(examples, step + j);
                    lossSum += loss.mean() * loss.count();
                    count += loss.count();
                    opt.step();   // clips first where options.clipNorm > 0 (newOptimizer)
                }
                // parameters and optimizer state, and a 1 that counts the partitions taking part
                float[] out = concat(concat(flatten(module.parameters().values()), flatten(opt.state().values())),
                        new float[] {1f});
                FixedOrderSum.Node leaf = FixedOrderSum.leaf(partition, out, lossSum, count, System.nanoTime() - start);
                ReplicaCache.release(run, device.toString(), slot);
                return List.of(leaf).iterator();
            } catch (RuntimeException | Error e) {
                slot.close();
                throw e;
            }
        };
    }

    private FixedOrderSum.Node aggregate(JavaRDD<FixedOrderSum.Node> leaves, int partitions) {
        FixedOrderSum sum = leaves.treeAggregate(new FixedOrderSum(partitions), FixedOrderSum::add,
                FixedOrderSum::merge, options.treeDepth);
        return sum.total();
    }

    /** Refuses a step whose loss is NaN or infinite, before the driver's model changes. */
    private FixedOrderSum.Node requireFinite(FixedOrderSum.Node sum) {
        if (!Double.isFinite(sum.loss())) {
            throw new IllegalStateException(String.format(Locale.ROOT, "loss: expected a finite value, got %s at step %d "
                    + "(learning rate %g); the model is left at step %d: lower the learning rate or clip harder",
                    sum.loss(), step + 1, options.learningRate, step));
        }
        return sum;
    }

    // ------------------------------------------------------------------ checkpoints

    /** {@code step-NNNNNNNN.safetensors}. */
    static String checkpointName(long step) {
        return String.format(Locale.ROOT, "step-%08d.safetensors", step);
    }

    /** The checkpoint with the highest step in {@code dir}, or {@code null} when it holds none. */
    public static Path latestCheckpoint(Path dir) throws IOException {
        if (dir == null || !Files.isDirectory(dir)) {
            return null;
        }
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> p.getFileName().toString().matches("step-\\d{8}\\.safetensors"))
                    .max(Comparator.comparing(p -> p.getFileName().toString())).orElse(null);
        }
    }

    private void saveCheckpoint(Path file) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        Map<String, Tensor> tensors = new LinkedHashMap<>(master.module().parameters());
        optimizer.state().forEach((name, t) -> tensors.put(OPT + name, t));
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.putAll(master.module().configMetadata());
        meta.put(META + "step", Long.toString(step));
        meta.put(META + "optimizer_steps", Long.toString(optimizer.steps()));
        meta.put(META + "seed", Long.toString(options.seed));
        meta.put(META + "batch_size", Integer.toString(options.batchSize));
        meta.put(META + "optimizer", options.optimizerDescription());
        meta.put(META + "average_every", Integer.toString(options.averageEvery));
        meta.put(META + "clip_norm", Double.toString(options.clipNorm));
        Checkpoint.save(file, tensors, meta);
    }

    private void resume(Path file) throws IOException {
        SafeTensors.Contents contents = Checkpoint.read(file);
        Map<String, String> meta = contents.metadata();
        if (meta == null || meta.get(META + "step") == null) {
            throw new IllegalArgumentException("resumeFrom: expected a checkpoint written by SparkTrainer, " + file
                    + " has no " + META + "step");
        }
        expectSame(file, meta, "seed", Long.toString(options.seed));
        expectSame(file, meta, "batch_size", Integer.toString(options.batchSize));
        expectSame(file, meta, "optimizer", options.optimizerDescription());
        expectSame(file, meta, "average_every", Integer.toString(options.averageEvery));
        if (meta.containsKey(META + "clip_norm")) {   // files from before it was saved are not checked for it
            expectSame(file, meta, "clip_norm", Double.toString(options.clipNorm));
        }
        Map<String, Tensor> targets = new LinkedHashMap<>(master.module().parameters());
        optimizer.state().forEach((name, t) -> targets.put(OPT + name, t));
        List<String> problems = new ArrayList<>(master.module().configMismatches(meta, ""));
        for (Map.Entry<String, Tensor> e : targets.entrySet()) {
            SafeTensors.HostTensor t = contents.tensors().get(e.getKey());
            if (t == null || !Arrays.equals(t.shape(), e.getValue().shape())) {
                problems.add(e.getKey() + " (expected " + Arrays.toString(e.getValue().shape()) + ", got "
                        + (t == null ? "none" : Arrays.toString(t.shape())) + ")");
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("resumeFrom: " + file + " does not match the model: " + problems);
        }
        targets.forEach((name, t) -> t.copyFrom(contents.tensors().get(name).data()));
        optimizer.restoreSteps(Long.parseLong(meta.get(META + "optimizer_steps")));
        step = Long.parseLong(meta.get(META + "step"));
    }

    private static void expectSame(Path file, Map<String, String> meta, String key, String expected) {
        String got = meta.get(META + key);
        if (!expected.equals(got)) {
            throw new IllegalArgumentException("resumeFrom: " + file + " was written with " + key + " " + got
                    + ", the options ask for " + expected);
        }
    }

    // ------------------------------------------------------------------ flat host vectors

    /** The tensors' values one after another, copied to the host. */
    static float[] flatten(Collection<Tensor> tensors) {
        long total = 0;
        for (Tensor t : tensors) {
            total += t.size();
        }
        float[] out = new float[Math.toIntExact(total)];
        int at = 0;
        for (Tensor t : tensors) {
            float[] v = t.toHost();
            System.arraycopy(v, 0, out, at, v.length);
            at += v.length;
        }
        return out;
    }

    /** Copies consecutive slices of {@code values} from {@code offset} into the tensors; returns the end offset. */
    static int unflatten(float[] values, int offset, Collection<Tensor> tensors) {
        int at = offset;
        for (Tensor t : tensors) {
            int size = Math.toIntExact(t.size());
            t.copyFrom(Arrays.copyOfRange(values, at, at + size));
            at += size;
        }
        return at;
    }

    private static float[] concat(float[] a, float[] b) {
        float[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /** Releases the driver's model and optimizer, and this run's replicas in the driver's JVM (local mode). */
    @Override
    public void close() {
        try {
            optimizer.close();
            master.close();
        } finally {
            ReplicaCache.evict(run);
        }
    }

    /** The replicas built for this trainer in this JVM (in local mode, all of them). */
    int replicasBuiltHere() {
        return ReplicaCache.built(run);
    }

}
