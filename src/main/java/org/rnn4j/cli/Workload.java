package org.rnn4j.cli;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.rnn4j.Device;
import org.rnn4j.Gru;
import org.rnn4j.Lstm;
import org.rnn4j.RecurrentConfig;
import org.rnn4j.RecurrentLayer;
import org.rnn4j.Rnn;

/**
 * One single-layer benchmark shape: cell, input size, hidden size, batch, steps. Its {@link #name()} is the
 * shape string of {@code benchmarks/} ({@code Suites.java}, {@code cudnn_bench.py}), e.g.
 * {@code lstm-I512-H512-B64-T25}, so that rnn4j's figures join the cuDNN ones by name.
 */
record Workload(String cell, int in, int hidden, int batch, int steps) {

    private static final Pattern NAME = Pattern.compile("(lstm|gru|tanh|relu)-I(\\d+)-H(\\d+)-B(\\d+)-T(\\d+)",
            Pattern.CASE_INSENSITIVE);

    /** {@code lstm}, {@code gru}, {@code tanh} or {@code relu}, any case. */
    static String cellName(String c) {
        String s = c.trim().toLowerCase(Locale.ROOT);
        if (!(s.equals("lstm") || s.equals("gru") || s.equals("tanh") || s.equals("relu"))) {
            throw new IllegalArgumentException("--cell: expected lstm, gru, tanh or relu, got '" + c + "'");
        }
        return s;
    }

    /** A shape string, {@code CELL-I<n>-H<n>-B<n>-T<n>} with every number >= 1. */
    static Workload parse(String spec) {
        Matcher m = NAME.matcher(spec.trim());
        if (m.matches()) {
            try {
                Workload w = new Workload(m.group(1).toLowerCase(Locale.ROOT), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)),
                        Integer.parseInt(m.group(4)), Integer.parseInt(m.group(5)));
                if (w.in >= 1 && w.hidden >= 1 && w.batch >= 1 && w.steps >= 1) {
                    return w;
                }
            } catch (NumberFormatException e) {
                // too large: the message below
            }
        }
        throw new IllegalArgumentException("--shape: expected I,H,B,T or CELL-I<n>-H<n>-B<n>-T<n> (cell lstm, gru, "
                + "tanh or relu; numbers >= 1), got '" + spec + "'");
    }

    String name() {
        return cell + "-I" + in + "-H" + hidden + "-B" + batch + "-T" + steps;
    }

    /** LSTM, GRU or RNN, as printed. */
    String label() {
        return switch (cell) {
            case "lstm" -> "LSTM";
            case "gru" -> "GRU";
            default -> "RNN-" + cell;
        };
    }

    /** Gate blocks per hidden unit: 4 LSTM, 3 GRU, 1 RNN. */
    int gates() {
        return switch (cell) {
            case "lstm" -> 4;
            case "gru" -> 3;
            default -> 1;
        };
    }

    /** GEMM FLOPs of one forward (DESIGN.md): {@code 2·G·H·(I+H)·B·T}; a training step is three times that. */
    double forwardFlops() {
        return 2.0 * gates() * hidden * (double) (in + hidden) * batch * steps;
    }

    RecurrentLayer build(Device device, long seed) {
        return new RecurrentLayer(builder(seed).config(), device);
    }

    /** The layer's builder, for a model around it. */
    RecurrentConfig.Builder<?> builder(long seed) {
        return switch (cell) {
            case "lstm" -> Lstm.builder(in, hidden).seed(seed);
            case "gru" -> Gru.builder(in, hidden).seed(seed);
            case "tanh" -> Rnn.builder(in, hidden).seed(seed);
            default -> Rnn.reluBuilder(in, hidden).seed(seed);
        };
    }
}
