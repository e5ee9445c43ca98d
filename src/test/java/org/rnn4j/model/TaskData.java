package org.rnn4j.model;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** Small seeded synthetic tasks, one per {@link Task} shape, each with a rule a small model can learn. */
final class TaskData {
    private TaskData() {
    }

    /** Ids 1..vocab−1 (0 is padding); label 1 when token 1 occurs more often than token 2, else 0 (never tied). */
    static SequenceDataset majority(int n, int vocab, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<int[]> seqs = new ArrayList<>();
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            int[] s;
            int diff;
            do {
                s = new int[3 + rnd.nextInt(10)];
                diff = 0;
                for (int t = 0; t < s.length; t++) {
                    s[t] = 1 + rnd.nextInt(vocab - 1);
                    diff += s[t] == 1 ? 1 : s[t] == 2 ? -1 : 0;
                }
            } while (diff == 0);
            seqs.add(s);
            labels[i] = diff > 0 ? 1 : 0;
        }
        return SequenceDataset.classification(seqs, labels);
    }

    /** Tag 1 where a token is larger than the one before it, else 0 (0 at the first step). */
    static SequenceDataset rising(int n, int vocab, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<int[]> seqs = new ArrayList<>();
        List<int[]> tags = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int[] s = new int[2 + rnd.nextInt(12)];
            int[] g = new int[s.length];
            for (int t = 0; t < s.length; t++) {
                s[t] = rnd.nextInt(vocab);
                g[t] = t > 0 && s[t] > s[t - 1] ? 1 : 0;
            }
            seqs.add(s);
            tags.add(g);
        }
        return SequenceDataset.tagging(seqs, tags);
    }

    /** x[t] uniform in [−1, 1]; target y[t] = (x[t] + x[t−1]) / 2, with x[−1] = 0. */
    static SequenceDataset smoothing(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<float[][]> xs = new ArrayList<>();
        List<float[][]> ys = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int len = 4 + rnd.nextInt(12);
            float[][] x = new float[len][1];
            float[][] y = new float[len][1];
            for (int t = 0; t < len; t++) {
                x[t][0] = (float) rnd.nextDouble(-1, 1);
                y[t][0] = (x[t][0] + (t > 0 ? x[t - 1][0] : 0)) / 2;
            }
            xs.add(x);
            ys.add(y);
        }
        return SequenceDataset.regression(xs, ys);
    }

    /** x[t] uniform in [−1, 1]; the target is the sequence's mean. */
    static SequenceDataset means(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<float[][]> xs = new ArrayList<>();
        float[][] ys = new float[n][1];
        for (int i = 0; i < n; i++) {
            float[][] x = new float[3 + rnd.nextInt(10)][1];
            for (float[] row : x) {
                row[0] = (float) rnd.nextDouble(-1, 1);
                ys[i][0] += row[0] / x.length;
            }
            xs.add(x);
        }
        return SequenceDataset.sequenceRegression(xs, ys);
    }

    /** The cycle 1, 2, ..., period, 1, 2, ... from a random phase and of random length (0 is padding). */
    static SequenceDataset cycles(int n, int period, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<int[]> seqs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int[] s = new int[4 + rnd.nextInt(12)];
            int phase = rnd.nextInt(period);
            for (int t = 0; t < s.length; t++) {
                s[t] = 1 + (phase + t) % period;
            }
            seqs.add(s);
        }
        return SequenceDataset.languageModel(seqs);
    }
}
