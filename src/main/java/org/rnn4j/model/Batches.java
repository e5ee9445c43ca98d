package org.rnn4j.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * How a dataset is cut into padded, time-major batches. Training batches are shuffled from a seed and
 * the epoch (so an epoch's batches do not depend on what ran before it, and a resumed run sees the same
 * ones) and bucketed by length: each pool of {@value #POOL} batches' worth of sequences is sorted by
 * length before it is cut, so a batch holds sequences of similar length and little padding.
 */
final class Batches {
    /** Batches per bucketing pool: large enough to group lengths, small enough to keep batches random. */
    static final int POOL = 32;

    private Batches() {
    }

    /** One padded batch, time-major: position {@code (t, b)} is index {@code t·B + b}. */
    record Batch(int steps, int batch, int[] indices, int[] lengths,
                 int[] ids,          // [T·B] token ids (padded with the padding id), or null
                 float[] x,          // [T·B·F] features (zeros at padding), or null
                 int[] labels,       // [B] for classification, or null
                 int[] positions,    // [N] valid positions t·B + b in time-major order, for per-step tasks
                 int[] stepTargets,  // [N] a class per valid position (tagging, language model), or null
                 float[] values,     // [N·O] per-step or [B·O] per-sequence regression targets, or null
                 float[] weights)    // [B] sample weights, or null (all 1)
            implements Trainable.PaddedBatch {
    }

    static int[] permutation(int n, SplittableRandom rnd) {
        int[] p = IntStream.range(0, n).toArray();
        for (int i = n - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int tmp = p[i];
            p[i] = p[j];
            p[j] = tmp;
        }
        return p;
    }

    /** Shuffled, length-bucketed batches of indices for one training epoch. */
    static List<int[]> shuffled(SequenceDataset d, int batchSize, boolean bucket, long seed, int epoch) {
        SplittableRandom rnd = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + epoch);
        int[] order = permutation(d.size(), rnd);
        if (bucket) {
            int pool = batchSize * POOL;
            for (int s = 0; s < order.length; s += pool) {
                sortByLength(d, order, s, Math.min(order.length, s + pool));
            }
        }
        List<int[]> batches = cut(order, batchSize);
        if (bucket) {
            // the pools were sorted: shuffle the batches so lengths do not rise through each pool
            int[] p = permutation(batches.size(), rnd);
            List<int[]> shuffled = new ArrayList<>(batches.size());
            for (int i : p) {
                shuffled.add(batches.get(i));
            }
            return shuffled;
        }
        return batches;
    }

    /** Batches in dataset order (stateful training: sample b of batch k continues sample b of batch k−1). */
    static List<int[]> inOrder(SequenceDataset d, int batchSize) {
        return cut(IntStream.range(0, d.size()).toArray(), batchSize);
    }

    /** Batches sorted by length, for evaluation and prediction (the indices say where each result goes). */
    static List<int[]> byLength(SequenceDataset d, int batchSize) {
        int[] order = IntStream.range(0, d.size()).toArray();
        sortByLength(d, order, 0, order.length);
        return cut(order, batchSize);
    }

    private static void sortByLength(SequenceDataset d, int[] order, int from, int to) {
        Integer[] part = new Integer[to - from];
        for (int i = from; i < to; i++) {
            part[i - from] = order[i];
        }
        Arrays.sort(part, Comparator.comparingInt(d::length)); // stable: ties keep their shuffled order
        for (int i = from; i < to; i++) {
            order[i] = part[i - from];
        }
    }

    private static List<int[]> cut(int[] order, int batchSize) {
        List<int[]> out = new ArrayList<>();
        for (int s = 0; s < order.length; s += batchSize) {
            out.add(Arrays.copyOfRange(order, s, Math.min(order.length, s + batchSize)));
        }
        return out;
    }

    /**
     * Checks that sequences {@code indices} of {@code data} (all of them for {@code null}) fit a model of
     * {@code cfg}: the input kind and width, the task's targets (or none, unless {@code needTargets}), token
     * ids in the vocabulary, classes in range (a {@link SequenceDataset} holds only finite values). Every path into a model
     * step comes through here ({@link #make}), so {@code fit}, {@code trainOnBatch}, {@code evaluate},
     * {@code predict} and {@link ModelGradients} refuse the same data with the same messages.
     *
     * @throws IllegalArgumentException naming {@code name}, the sequence and the step
     */
    static void check(ModelConfig cfg, String name, SequenceDataset data, int[] indices, boolean needTargets) {
        if (data == null) {
            throw new IllegalArgumentException(name + ": expected a dataset, got null");
        }
        if (cfg.tokens() != data.hasTokens()) {
            throw new IllegalArgumentException(name + ": expected " + (cfg.tokens() ? "token ids" : cfg.inputFeatures()
                    + " features per step") + " as inputs, got " + data);
        }
        if (!cfg.tokens() && data.featureSize() != cfg.inputFeatures()) {
            throw new IllegalArgumentException(name + ": expected " + cfg.inputFeatures() + " features per step, got "
                    + data.featureSize());
        }
        SequenceDataset.Targets want = switch (cfg.task()) {
            case CLASSIFICATION -> SequenceDataset.Targets.LABEL;
            case TAGGING -> SequenceDataset.Targets.TAGS;
            case REGRESSION -> SequenceDataset.Targets.VALUES;
            case SEQUENCE_REGRESSION -> SequenceDataset.Targets.VALUE;
            case LANGUAGE_MODEL -> SequenceDataset.Targets.NEXT_TOKEN;
        };
        if (needTargets ? data.targets() != want
                : data.targets() != want && data.targets() != SequenceDataset.Targets.NONE) {
            throw new IllegalArgumentException(name + ": expected a dataset with " + want.name().toLowerCase(Locale.ROOT)
                    + " targets for a " + cfg.task() + " model (e.g. SequenceDataset."
                    + factory(cfg.task()) + "), got " + data);
        }
        if (!cfg.task().classes() && data.targets() == want && data.targetSize() != cfg.outputs()) {
            throw new IllegalArgumentException(name + ": expected " + cfg.outputs() + " target values per "
                    + (cfg.task().perStep() ? "step" : "sequence") + ", got " + data.targetSize());
        }
        int n = indices == null ? data.size() : indices.length;
        for (int k = 0; k < n; k++) {
            int i = indices == null ? k : indices[k];
            String seq = name + " sequence " + i;
            if (cfg.tokens()) {
                int[] t = data.tokens(i);
                for (int j = 0; j < t.length; j++) {
                    if (t[j] >= cfg.vocabSize()) {
                        throw new IllegalArgumentException(seq + " step " + j + ": expected a token id in [0, "
                                + cfg.vocabSize() + "), got " + t[j]);
                    }
                }
            }
            if (data.targets() == SequenceDataset.Targets.LABEL) {
                classIndex(cfg, name + " label of sequence " + i, data.label(i));
            } else if (data.targets() == SequenceDataset.Targets.TAGS) {
                int[] g = data.tagRow(i);
                for (int j = 0; j < g.length; j++) {
                    classIndex(cfg, seq + " tag " + j, g[j]);
                }
            }
        }
    }

    private static String factory(Task task) {
        return switch (task) {
            case CLASSIFICATION -> "classification";
            case TAGGING -> "tagging";
            case REGRESSION -> "regression";
            case SEQUENCE_REGRESSION -> "sequenceRegression";
            case LANGUAGE_MODEL -> "languageModel";
        };
    }

    private static void classIndex(ModelConfig cfg, String what, int c) {
        if ((c < 0 || c >= cfg.outputs()) && c != cfg.ignoreIndex()) {
            throw new IllegalArgumentException(what + ": expected a class in [0, " + cfg.outputs() + ")"
                    + (cfg.ignoreIndex() != ModelConfig.NO_IGNORE ? " or the ignore index " + cfg.ignoreIndex() : "")
                    + ", got " + c);
        }
    }

    /**
     * The padded batch of sequences {@code indices} of {@code d}, after {@link #check}ing them against
     * {@code cfg}; token inputs are padded with the model's padding id (0 without one).
     */
    static Batch make(ModelConfig cfg, String name, SequenceDataset d, int[] indices, boolean needTargets) {
        check(cfg, name, d, indices, needTargets);
        int padId = cfg.padding() == org.rnn4j.train.Embedding.NO_PADDING ? 0 : cfg.padding();
        int batch = indices.length;
        int[] lengths = new int[batch];
        int steps = 0;
        for (int b = 0; b < batch; b++) {
            lengths[b] = d.length(indices[b]);
            steps = Math.max(steps, lengths[b]);
        }
        int f = d.featureSize();
        long cells = (long) steps * batch * Math.max(1, f);
        if (cells > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(name + ": expected a padded batch of at most " + (Integer.MAX_VALUE - 8)
                    + " values, got " + steps + " steps × " + batch + " sequences" + (f > 1 ? " × " + f + " features" : "")
                    + " = " + cells + " (use smaller batches)");
        }
        int[] ids = null;
        float[] x = null;
        if (d.hasTokens()) {
            ids = new int[steps * batch];
            Arrays.fill(ids, padId);
        } else {
            x = new float[steps * batch * f];
        }
        int n = 0;
        for (int b = 0; b < batch; b++) {
            n += lengths[b];
            for (int t = 0; t < lengths[b]; t++) {
                if (ids != null) {
                    ids[t * batch + b] = d.tokens(indices[b])[t];
                } else {
                    System.arraycopy(d.features(indices[b]), t * f, x, (t * batch + b) * f, f);
                }
            }
        }
        SequenceDataset.Targets kind = d.targets();
        int[] labels = null;
        if (kind == SequenceDataset.Targets.LABEL) {
            labels = new int[batch];
            for (int b = 0; b < batch; b++) {
                labels[b] = d.label(indices[b]);
            }
        }
        int[] positions = new int[n];
        int[] stepTargets = kind == SequenceDataset.Targets.TAGS || kind == SequenceDataset.Targets.NEXT_TOKEN
                ? new int[n] : null;
        int o = d.targetSize();
        float[] values = kind == SequenceDataset.Targets.VALUES ? new float[n * o] : null;
        if (kind == SequenceDataset.Targets.VALUE) {
            values = new float[batch * o];
            for (int b = 0; b < batch; b++) {
                System.arraycopy(d.values(indices[b]), 0, values, b * o, o);
            }
        }
        int r = 0;
        for (int t = 0; t < steps; t++) {
            for (int b = 0; b < batch; b++) {
                if (t >= lengths[b]) {
                    continue;
                }
                positions[r] = t * batch + b;
                int i = indices[b];
                if (kind == SequenceDataset.Targets.TAGS) {
                    stepTargets[r] = d.tagRow(i)[t];
                } else if (kind == SequenceDataset.Targets.NEXT_TOKEN) {
                    stepTargets[r] = d.tokens(i)[t + 1];
                } else if (kind == SequenceDataset.Targets.VALUES) {
                    System.arraycopy(d.values(i), t * o, values, r * o, o);
                }
                r++;
            }
        }
        float[] weights = null;
        if (d.weighted()) {
            weights = new float[batch];
            for (int b = 0; b < batch; b++) {
                weights[b] = d.weight(indices[b]);
            }
        }
        return new Batch(steps, batch, indices, lengths, ids, x, labels, positions, stepTargets, values, weights);
    }
}
