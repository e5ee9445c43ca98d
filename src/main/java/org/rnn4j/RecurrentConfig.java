package org.rnn4j;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Everything that defines a recurrent layer's shape and semantics, validated once when built.
 * Obtain one through {@link Lstm#builder}, {@link Gru#builder} or {@link Rnn#builder}.
 */
public final class RecurrentConfig {
    private final CellType cell;
    private final int inputSize;
    private final int hiddenSize;
    private final int numLayers;
    private final boolean bidirectional;
    private final boolean bias;
    private final boolean batchFirst;
    private final float dropout;
    private final long seed;
    private final int projSize;
    private final boolean peepholes;
    private final float cellClip;
    private final boolean coupledInputForget;
    private final boolean unitForgetBias;
    private final boolean resetAfter;
    private final Precision precision;

    RecurrentConfig(Builder<?> b) {
        this.cell = b.cell;
        this.inputSize = b.inputSize;
        this.hiddenSize = b.hiddenSize;
        this.numLayers = b.numLayers;
        this.bidirectional = b.bidirectional;
        this.bias = b.bias;
        this.batchFirst = b.batchFirst;
        this.dropout = b.dropout;
        this.seed = b.seed;
        this.projSize = b.projSize;
        this.peepholes = b.peepholes;
        this.cellClip = b.cellClip;
        this.coupledInputForget = b.coupledInputForget;
        this.unitForgetBias = b.unitForgetBias;
        this.resetAfter = b.resetAfter;
        this.precision = b.precision;
        positive("inputSize", inputSize);
        positive("hiddenSize", hiddenSize);
        positive("numLayers", numLayers);
        if (!(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException("dropout: expected a probability in [0, 1), got " + dropout);
        }
        if (dropout > 0 && numLayers == 1) {
            throw new IllegalArgumentException("dropout: expected 0 with numLayers 1 (it acts between stacked layers "
                    + "only, so it would do nothing; PyTorch warns), got " + dropout);
        }
        if (projSize < 0 || (projSize > 0 && projSize >= hiddenSize)) {
            throw new IllegalArgumentException("projSize: expected 0 (off) or in [1, hiddenSize=" + hiddenSize
                    + "), got " + projSize);
        }
        if (!(cellClip >= 0) || Float.isInfinite(cellClip)) {
            throw new IllegalArgumentException("cellClip: expected 0 (off) or a finite positive bound, got " + cellClip);
        }
        checkTensorSizes();
    }

    /**
     * Every parameter must fit a tensor ({@link Tensor#MAX_ELEMENTS}); sizes are multiplied in {@code long}
     * so that {@code 4·H} cannot wrap (an {@code int} product would build a layer with no parameters).
     */
    private void checkTensorSizes() {
        long gh = (long) cell.gates() * hiddenSize;
        long widestInput = Math.max(inputSize, (long) directions() * stateSize());
        long[][] shapes = {{gh, widestInput}, {gh, stateSize()}, {projSize, hiddenSize}};
        for (long[] shape : shapes) {
            long elements = shape[0] * shape[1]; // each factor < 2^33: no overflow
            if (elements > Tensor.MAX_ELEMENTS) {
                throw new IllegalArgumentException(sizeArguments() + ": a weight of [" + shape[0] + ", " + shape[1]
                        + "] has " + elements + " elements, more than a tensor holds (" + Tensor.MAX_ELEMENTS
                        + "); the layer's parameters would need " + parameterBytes(1) + " bytes");
            }
        }
    }

    /** The size arguments as given, for messages: {@code inputSize=4, hiddenSize=1073741824}. */
    String sizeArguments() {
        return "inputSize=" + inputSize + ", hiddenSize=" + hiddenSize + (projSize > 0 ? ", projSize=" + projSize : "")
                + (numLayers > 1 ? ", numLayers=" + numLayers : "") + (bidirectional ? ", bidirectional" : "");
    }

    /** Number of parameters (floats) of the whole stack, counted in {@code long} ({@code Long.MAX_VALUE} if more). */
    public long parameterCount() {
        long gh = (long) cell.gates() * hiddenSize;
        long perDirection = gh * stateSize() + (bias ? 2 * gh : 0) + (long) projSize * hiddenSize
                + (peepholes ? 3L * hiddenSize : 0);
        try {
            long first = directions() * (perDirection + gh * layerInputSize(0));
            long rest = directions() * (perDirection + gh * outputSize());
            return Math.addExact(first, Math.multiplyExact(rest, numLayers - 1L));
        } catch (ArithmeticException tooMany) {
            return Long.MAX_VALUE;
        }
    }

    /** Bytes of {@code copies} float32 copies of the parameters ({@code Long.MAX_VALUE} if more). */
    public long parameterBytes(int copies) {
        long n = parameterCount();
        return n > Long.MAX_VALUE / (4L * copies) ? Long.MAX_VALUE : 4L * copies * n;
    }

    private static void positive(String name, int value) {
        if (value < 1) {
            throw new IllegalArgumentException(name + ": expected >= 1, got " + value);
        }
    }

    public CellType cell() {
        return cell;
    }

    public int inputSize() {
        return inputSize;
    }

    public int hiddenSize() {
        return hiddenSize;
    }

    public int numLayers() {
        return numLayers;
    }

    public boolean bidirectional() {
        return bidirectional;
    }

    /** 2 when bidirectional, else 1. */
    public int directions() {
        return bidirectional ? 2 : 1;
    }

    public boolean bias() {
        return bias;
    }

    public boolean batchFirst() {
        return batchFirst;
    }

    public float dropout() {
        return dropout;
    }

    public long seed() {
        return seed;
    }

    /** LSTM projection size P (PyTorch's {@code proj_size}), 0 when off. */
    public int projSize() {
        return projSize;
    }

    public boolean peepholes() {
        return peepholes;
    }

    /** LSTM cell-state clip bound, 0 when off. */
    public float cellClip() {
        return cellClip;
    }

    public boolean coupledInputForget() {
        return coupledInputForget;
    }

    public boolean unitForgetBias() {
        return unitForgetBias;
    }

    /** GRU: {@code n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))} when true (cuDNN, PyTorch), else the original form. */
    public boolean resetAfter() {
        return resetAfter;
    }

    /** Width of the recurrent state h: P for a projected LSTM, else H. */
    /**
     * The precision of the layer's GEMMs, or {@code null} for the device's (see {@link Precision}). A run-time
     * choice, not part of the model: {@link #toMetadata()} leaves it out, so a checkpoint (always FP32) loads
     * into a layer of any precision.
     */
    public Precision precision() {
        return precision;
    }

    public int stateSize() {
        return projSize > 0 ? projSize : hiddenSize;
    }

    /** Feature width of the output sequence: directions × state size. */
    public int outputSize() {
        return directions() * stateSize();
    }

    /** Input width of layer k: the input size for layer 0, the previous layer's output otherwise. */
    public int layerInputSize(int layer) {
        return layer == 0 ? inputSize : outputSize();
    }

    // ------------------------------------------------------------------ as checkpoint metadata

    /**
     * Metadata keys, PyTorch's argument names where it has one. The first eleven change what the weights
     * compute (a checkpoint refuses to load into a layer that differs in any of them); the rest do not:
     * {@code batch_first} is the input layout, {@code dropout} acts in training only, {@code unit_forget_bias}
     * and {@code seed} only initialise.
     */
    private static final List<String> SEMANTIC_KEYS = List.of("cell", "input_size", "hidden_size", "num_layers",
            "bidirectional", "bias", "proj_size", "peepholes", "cell_clip", "coupled_input_forget", "reset_after");

    /** This configuration as string metadata ({@code cell=LSTM}, {@code hidden_size=256}, ...), every field. */
    public Map<String, String> toMetadata() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("cell", cell.name());
        m.put("input_size", Integer.toString(inputSize));
        m.put("hidden_size", Integer.toString(hiddenSize));
        m.put("num_layers", Integer.toString(numLayers));
        m.put("bidirectional", Boolean.toString(bidirectional));
        m.put("bias", Boolean.toString(bias));
        m.put("proj_size", Integer.toString(projSize));
        m.put("peepholes", Boolean.toString(peepholes));
        m.put("cell_clip", Float.toString(cellClip));
        m.put("coupled_input_forget", Boolean.toString(coupledInputForget));
        m.put("reset_after", Boolean.toString(resetAfter));
        m.put("batch_first", Boolean.toString(batchFirst));
        m.put("dropout", Float.toString(dropout));
        m.put("unit_forget_bias", Boolean.toString(unitForgetBias));
        m.put("seed", Long.toString(seed));
        return Collections.unmodifiableMap(m);
    }

    /**
     * The configuration that {@link #toMetadata()} wrote under {@code prefix} ({@code ""} for a bare layer,
     * {@code "lstm."} in a group). {@code cell}, {@code input_size} and {@code hidden_size} are required; a
     * missing option takes PyTorch's default (so a file that PyTorch's tooling describes with its own
     * arguments loads too).
     *
     * @throws IllegalArgumentException naming the key that is missing or malformed, or an option the cell lacks
     */
    public static RecurrentConfig fromMetadata(Map<String, String> metadata, String prefix) {
        if (metadata == null) {
            throw new IllegalArgumentException("metadata: expected a map, got null");
        }
        if (prefix == null) {
            throw new IllegalArgumentException("prefix: expected a key prefix (\"\" for none), got null");
        }
        Meta m = new Meta(metadata, prefix);
        String cellName = m.required("cell");
        CellType cell;
        try {
            cell = CellType.valueOf(cellName);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("metadata['" + prefix + "cell']: expected one of "
                    + Arrays.toString(CellType.values()) + ", got '" + cellName + "'");
        }
        AnyCellBuilder b = new AnyCellBuilder(cell, m.integer("input_size", null), m.integer("hidden_size", null));
        b.numLayers(m.integer("num_layers", 1)).bidirectional(m.bool("bidirectional", false)).bias(m.bool("bias", true))
                .batchFirst(m.bool("batch_first", false)).dropout(m.decimal("dropout", 0f)).seed(m.longValue("seed", 0));
        b.projSize = m.integer("proj_size", 0);
        b.peepholes = m.bool("peepholes", false);
        b.cellClip = m.decimal("cell_clip", 0f);
        b.coupledInputForget = m.bool("coupled_input_forget", false);
        b.unitForgetBias = m.bool("unit_forget_bias", false);
        b.resetAfter = m.bool("reset_after", true);
        if (cell != CellType.LSTM) {
            for (String key : List.of("proj_size", "peepholes", "cell_clip", "coupled_input_forget", "unit_forget_bias")) {
                if (!m.isDefault(key)) {
                    throw new IllegalArgumentException("metadata['" + prefix + key + "']: only an LSTM has this option, got '"
                            + m.raw(key) + "' for " + cell);
                }
            }
        }
        if (cell != CellType.GRU && !b.resetAfter) {
            throw new IllegalArgumentException("metadata['" + prefix + "reset_after']: only a GRU has this option, got 'false' for "
                    + cell);
        }
        return b.config();
    }

    /**
     * The keys of {@code metadata} (under {@code prefix}) that describe a different computation than this
     * configuration, e.g. {@code reset_after (resetAfter): file false, layer true}; empty when they agree or
     * the file does not say. Only the keys present are compared: a file without them (PyTorch's) passes.
     */
    public List<String> mismatches(Map<String, String> metadata, String prefix) {
        Map<String, String> mine = toMetadata();
        List<String> out = new ArrayList<>();
        Meta m = new Meta(metadata, prefix);
        for (String key : SEMANTIC_KEYS) {
            String theirs = m.raw(key);
            if (theirs == null) {
                continue;
            }
            boolean same = switch (key) {
                case "cell_clip" -> parsesTo(theirs, cellClip);
                default -> theirs.trim().equalsIgnoreCase(mine.get(key));
            };
            if (!same) {
                out.add(prefix + key + " (" + javaName(key) + "): file " + theirs + ", layer " + mine.get(key));
            }
        }
        return out;
    }

    private static boolean parsesTo(String s, float value) {
        try {
            return Float.parseFloat(s.trim()) == value;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    /** {@code reset_after} → {@code resetAfter}. */
    private static String javaName(String key) {
        StringBuilder out = new StringBuilder();
        boolean upper = false;
        for (char c : key.toCharArray()) {
            if (c == '_') {
                upper = true;
            } else {
                out.append(upper ? Character.toUpperCase(c) : c);
                upper = false;
            }
        }
        return out.toString();
    }

    /** Sets every field, whatever the cell (the cell-specific builders expose only their own options). */
    private static final class AnyCellBuilder extends Builder<AnyCellBuilder> {
        AnyCellBuilder(CellType cell, int inputSize, int hiddenSize) {
            super(cell, inputSize, hiddenSize);
        }

        @Override
        AnyCellBuilder self() {
            return this;
        }
    }

    /** Typed reads of prefixed metadata keys; a malformed value names its key. */
    private record Meta(Map<String, String> map, String prefix) {
        String raw(String key) {
            return map.get(prefix + key);
        }

        boolean isDefault(String key) {
            String v = raw(key);
            return v == null || v.equals("0") || v.equals("0.0") || v.equals("false");
        }

        String required(String key) {
            String v = raw(key);
            if (v == null) {
                throw new IllegalArgumentException("metadata: expected a '" + prefix + key
                        + "' entry describing the layer, got none (keys: " + map.keySet() + ")");
            }
            return v.trim();
        }

        private IllegalArgumentException bad(String key, String expected) {
            return new IllegalArgumentException("metadata['" + prefix + key + "']: expected " + expected + ", got '"
                    + raw(key) + "'");
        }

        /** The value of {@code key} parsed, or {@code fallback} when absent ({@code null}: required). */
        <T> T parse(String key, T fallback, java.util.function.Function<String, T> parser, String expected) {
            if (raw(key) == null && fallback != null) {
                return fallback;
            }
            try {
                return parser.apply(required(key));
            } catch (NumberFormatException e) {
                throw bad(key, expected);
            }
        }

        int integer(String key, Integer fallback) {
            return parse(key, fallback, Integer::parseInt, "an integer");
        }

        long longValue(String key, long fallback) {
            return parse(key, fallback, Long::parseLong, "an integer");
        }

        float decimal(String key, float fallback) {
            return parse(key, fallback, Float::parseFloat, "a number");
        }

        boolean bool(String key, boolean fallback) {
            if (raw(key) == null) {
                return fallback;
            }
            String v = required(key);
            if (v.equalsIgnoreCase("true")) {
                return true;
            }
            if (v.equalsIgnoreCase("false")) {
                return false;
            }
            throw bad(key, "true or false");
        }
    }

    /** The fields a user set, e.g. {@code LSTM(I=128, H=256, layers=2, bidirectional)}. */
    @Override
    public String toString() {
        StringBuilder s = new StringBuilder(cell + "(I=" + inputSize + ", H=" + hiddenSize);
        if (numLayers > 1) {
            s.append(", layers=").append(numLayers);
        }
        if (bidirectional) {
            s.append(", bidirectional");
        }
        if (!bias) {
            s.append(", no bias");
        }
        if (projSize > 0) {
            s.append(", proj=").append(projSize);
        }
        if (peepholes) {
            s.append(", peepholes");
        }
        if (cellClip > 0) {
            s.append(", cellClip=").append(cellClip);
        }
        if (coupledInputForget) {
            s.append(", coupled i/f");
        }
        if (cell == CellType.GRU && !resetAfter) {
            s.append(", reset-before");
        }
        if (dropout > 0) {
            s.append(", dropout=").append(dropout);
        }
        if (precision != null) {
            s.append(", ").append(precision);
        }
        return s.append(')').toString();
    }

    /** Options shared by every cell; the cell-specific builders add their own. */
    public abstract static class Builder<B extends Builder<B>> {
        private final CellType cell;
        private final int inputSize;
        private final int hiddenSize;
        private int numLayers = 1;
        private boolean bidirectional;
        private boolean bias = true;
        private boolean batchFirst;
        private float dropout;
        private long seed;
        private boolean seedSet;
        int projSize;
        boolean peepholes;
        float cellClip;
        boolean coupledInputForget;
        boolean unitForgetBias;
        boolean resetAfter = true;
        private Precision precision;

        Builder(CellType cell, int inputSize, int hiddenSize) {
            this.cell = cell;
            this.inputSize = inputSize;
            this.hiddenSize = hiddenSize;
        }

        abstract B self();

        public B numLayers(int numLayers) {
            this.numLayers = numLayers;
            return self();
        }

        public B bidirectional(boolean bidirectional) {
            this.bidirectional = bidirectional;
            return self();
        }

        /** With {@code false}, no {@code bias_ih}/{@code bias_hh} parameters (PyTorch's {@code bias=False}). */
        public B bias(boolean bias) {
            this.bias = bias;
            return self();
        }

        /** Input and output as {@code [B, T, F]} instead of {@code [T, B, F]}; states stay {@code [L·D, B, H]}. */
        public B batchFirst(boolean batchFirst) {
            this.batchFirst = batchFirst;
            return self();
        }

        /** Dropout on every layer's output but the last, in training mode (PyTorch's {@code dropout}). */
        public B dropout(double dropout) {
            this.dropout = (float) dropout;
            return self();
        }

        /** Seeds the initial weights and the dropout masks (default 0). */
        public B seed(long seed) {
            this.seed = seed;
            this.seedSet = true;
            return self();
        }

        /** Whether {@link #seed} was called (a model seeds an unseeded stack from its own seed). */
        public boolean hasSeed() {
            return seedSet;
        }

        /**
         * The precision of the layer's GEMMs: {@link Precision#FP32} (exact), {@link Precision#TF32} or
         * {@link Precision#BF16}; unset, the device's or the default (see {@link Precision}).
         */
        public B precision(Precision precision) {
            if (precision == null) {
                throw new IllegalArgumentException("precision: expected FP32, TF32 or BF16, got null");
            }
            this.precision = precision;
            return self();
        }

        public RecurrentConfig config() {
            return new RecurrentConfig(this);
        }
    }
}
