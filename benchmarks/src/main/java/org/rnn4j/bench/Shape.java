package org.rnn4j.bench;

import java.util.Locale;
import org.rnn4j.Device;
import org.rnn4j.Gru;
import org.rnn4j.Lstm;
import org.rnn4j.RecurrentConfig;
import org.rnn4j.RecurrentLayer;
import org.rnn4j.Rnn;

/**
 * One benchmark shape, written as a JMH parameter value without commas (JMH splits {@code -p} values
 * on commas): {@code CELL[-NL][-bi]-I<input>-H<hidden>-B<batch>-T<steps>}, e.g. {@code lstm-I512-H512-B64-T50},
 * {@code relu-I1760-H1760-B16-T50}, {@code lstm-2L-bi-I512-H512-B64-T100}. CELL is {@code lstm}, {@code gru},
 * {@code tanh} (vanilla RNN, tanh) or {@code relu} (vanilla RNN, relu).
 *
 * <p>FLOPs follow DESIGN.md: one layer-direction forward is {@code 2·G·H·(I_k+H)·B·T} (G = 4 LSTM, 3 GRU,
 * 1 RNN; I_k = I for layer 0, D·H above it), summed over layers and directions; a training step
 * (forward + backward with weight gradients) counts three times that. Pointwise work is not counted.
 */
public record Shape(String cell, int layers, boolean bidirectional, int input, int hidden, int batch, int steps) {

    public static Shape parse(String spec) {
        String cell = null;
        int layers = 1;
        boolean bi = false;
        int i = -1;
        int h = -1;
        int b = -1;
        int t = -1;
        String[] parts = spec.trim().split("-");
        try {
            for (int k = 0; k < parts.length; k++) {
                String p = parts[k];
                if (k == 0) {
                    cell = p.toLowerCase(Locale.ROOT);
                } else if (p.equals("bi")) {
                    bi = true;
                } else if (p.endsWith("L")) {
                    layers = Integer.parseInt(p.substring(0, p.length() - 1));
                } else if (p.startsWith("I")) {
                    i = Integer.parseInt(p.substring(1));
                } else if (p.startsWith("H")) {
                    h = Integer.parseInt(p.substring(1));
                } else if (p.startsWith("B")) {
                    b = Integer.parseInt(p.substring(1));
                } else if (p.startsWith("T")) {
                    t = Integer.parseInt(p.substring(1));
                } else {
                    throw new IllegalArgumentException("unknown part '" + p + "'");
                }
            }
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("shape: expected CELL[-NL][-bi]-I<n>-H<n>-B<n>-T<n>, got '"
                    + spec + "'", e);
        }
        if (cell == null || !(cell.equals("lstm") || cell.equals("gru") || cell.equals("tanh") || cell.equals("relu"))
                || i < 1 || h < 1 || b < 1 || t < 1 || layers < 1) {
            throw new IllegalArgumentException("shape: expected CELL[-NL][-bi]-I<n>-H<n>-B<n>-T<n> with CELL one of "
                    + "lstm, gru, tanh, relu and every size >= 1, got '" + spec + "'");
        }
        return new Shape(cell, layers, bi, i, h, b, t);
    }

    /** A single-layer unidirectional shape. */
    public static Shape of(String cell, int input, int hidden, int batch, int steps) {
        return new Shape(cell, 1, false, input, hidden, batch, steps);
    }

    public int gates() {
        return switch (cell) {
            case "lstm" -> 4;
            case "gru" -> 3;
            default -> 1;
        };
    }

    public int directions() {
        return bidirectional ? 2 : 1;
    }

    /** FLOPs of one forward pass (GEMMs only). */
    public double forwardFlops() {
        double total = 0;
        for (int k = 0; k < layers; k++) {
            int in = k == 0 ? input : directions() * hidden;
            total += directions() * 2.0 * gates() * hidden * (double) (in + hidden) * batch * steps;
        }
        return total;
    }

    /** FLOPs of one training step: three times the forward. */
    public double trainingFlops() {
        return 3 * forwardFlops();
    }

    /** The rnn4j layer of this shape on {@code device}, seeded, time-major. */
    public RecurrentLayer build(Device device, long seed) {
        RecurrentConfig.Builder<?> b = switch (cell) {
            case "lstm" -> Lstm.builder(input, hidden);
            case "gru" -> Gru.builder(input, hidden);
            case "tanh" -> Rnn.builder(input, hidden);
            case "relu" -> Rnn.reluBuilder(input, hidden);
            default -> throw new IllegalStateException(cell);
        };
        RecurrentConfig cfg = b.numLayers(layers).bidirectional(bidirectional).seed(seed).config();
        return new RecurrentLayer(cfg, device);
    }

    @Override
    public String toString() {
        return cell + (layers > 1 ? "-" + layers + "L" : "") + (bidirectional ? "-bi" : "")
                + "-I" + input + "-H" + hidden + "-B" + batch + "-T" + steps;
    }
}
