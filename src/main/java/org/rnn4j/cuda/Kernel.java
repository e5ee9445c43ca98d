package org.rnn4j.cuda;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Every kernel of {@code kernels/ABI.md}: its fatbin (module) and its {@code extern "C"} name.
 * Fatbins live on the classpath under {@value #RESOURCE_DIR}.
 */
enum Kernel {
    LSTM_FORWARD("lstm", "rnn4j_lstm_forward"),
    LSTM_BACKWARD("lstm", "rnn4j_lstm_backward"),
    LSTM_PEEPHOLE_CHUNKS("lstm", "rnn4j_lstm_peephole_chunks"),
    GRU_FORWARD("gru", "rnn4j_gru_forward"),
    GRU_BACKWARD("gru", "rnn4j_gru_backward"),
    GRU_RB_GATES("gru", "rnn4j_gru_rb_gates"),
    GRU_RB_OUTPUT("gru", "rnn4j_gru_rb_output"),
    GRU_RB_BACKWARD_OUTPUT("gru", "rnn4j_gru_rb_backward_output"),
    GRU_RB_BACKWARD_GATES("gru", "rnn4j_gru_rb_backward_gates"),
    RNN_FORWARD("rnn", "rnn4j_rnn_forward"),
    RNN_BACKWARD("rnn", "rnn4j_rnn_backward"),
    FILL("sequence", "rnn4j_fill"),
    AXPBY("sequence", "rnn4j_axpby"),
    CLAMP("sequence", "rnn4j_clamp"),
    SUM_ROWS_CHUNKS("sequence", "rnn4j_sum_rows_chunks"),
    ADD_CHUNK_SUMS("sequence", "rnn4j_add_chunk_sums"),
    SUM_SQUARES("sequence", "rnn4j_sum_squares"),
    NON_FINITE("sequence", "rnn4j_non_finite"),
    SWAP_LEADING_AXES("sequence", "rnn4j_swap_leading_axes"),
    REVERSE_SEQUENCES("sequence", "rnn4j_reverse_sequences"),
    SEED_STATE_GRAD("sequence", "rnn4j_seed_state_grad"),
    MASKED_UPDATE("sequence", "rnn4j_masked_update"),
    DROPOUT("sequence", "rnn4j_dropout"),
    GATHER_ROWS("sequence", "rnn4j_gather_rows"),
    SCATTER_ADD_ROWS("sequence", "rnn4j_scatter_add_rows"),
    SOFTMAX_XENT("train", "rnn4j_softmax_xent"),
    ADAM("train", "rnn4j_adam"),
    SGD("train", "rnn4j_sgd"),
    GLOBAL_NORM("train", "rnn4j_global_norm"),
    SCALE_BY("train", "rnn4j_scale_by"),
    COPY_ROWS("tensor", "rnn4j_copy_rows"),
    POINTWISE("tensor", "rnn4j_pointwise"),
    MASKED_SOFTMAX("tensor", "rnn4j_masked_softmax"),
    MASKED_SOFTMAX_BACKWARD("tensor", "rnn4j_masked_softmax_backward"),
    PERSISTENT_LSTM_FORWARD("persistent", "rnn4j_persistent_lstm_forward"),
    PERSISTENT_LSTM_BACKWARD("persistent", "rnn4j_persistent_lstm_backward"),
    PERSISTENT_GRU_FORWARD("persistent", "rnn4j_persistent_gru_forward"),
    PERSISTENT_GRU_BACKWARD("persistent", "rnn4j_persistent_gru_backward"),
    PERSISTENT_GRU_RB_FORWARD("persistent", "rnn4j_persistent_gru_rb_forward"),
    PERSISTENT_GRU_RB_BACKWARD("persistent", "rnn4j_persistent_gru_rb_backward"),
    PERSISTENT_RNN_FORWARD("persistent", "rnn4j_persistent_rnn_forward"),
    PERSISTENT_RNN_BACKWARD("persistent", "rnn4j_persistent_rnn_backward"),
    F32_TO_BF16_ROWS("precision", "rnn4j_f32_to_bf16_rows"),
    BF16_TO_F32("precision", "rnn4j_bf16_to_f32");

    /** Classpath folder of the fatbins ({@code native/build.sh} output, packaged by Maven). */
    static final String RESOURCE_DIR = "org/rnn4j/kernels/";

    final String module;
    final String symbol;

    Kernel(String module, String symbol) {
        this.module = module;
        this.symbol = symbol;
    }

    /** The module names, in a fixed order: lstm, gru, rnn, sequence, train, tensor, persistent, precision. */
    static Set<String> modules() {
        Set<String> m = new LinkedHashSet<>();
        for (Kernel k : values()) {
            m.add(k.module);
        }
        return m;
    }

    static String resource(String module) {
        return RESOURCE_DIR + module + ".fatbin";
    }

    /** The fatbins missing from the classpath, as resource paths (empty when all are there). */
    static List<String> missingFatbins() {
        List<String> missing = new ArrayList<>();
        for (String m : modules()) {
            if (Kernel.class.getClassLoader().getResource(resource(m)) == null) {
                missing.add(resource(m));
            }
        }
        return missing;
    }

    /**
     * Every fatbin's bytes with a terminating 0 appended ({@code cuModuleLoadData} needs one for
     * PTX text; a fatbin carries its own size and ignores it).
     *
     * @throws IllegalStateException naming the missing ones
     */
    static Map<String, byte[]> readFatbins() {
        List<String> missing = missingFatbins();
        if (!missing.isEmpty()) {
            throw new IllegalStateException("kernels not built: " + String.join(", ", missing)
                    + " missing from the classpath (build them with native/build.sh on a host with nvcc;"
                    + " mvn package runs it)");
        }
        Map<String, byte[]> out = new LinkedHashMap<>();
        for (String m : modules()) {
            try (InputStream in = Kernel.class.getClassLoader().getResourceAsStream(resource(m))) {
                if (in == null) {
                    throw new IllegalStateException("kernels not built: " + resource(m) + " missing from the classpath");
                }
                ByteArrayOutputStream bytes = new ByteArrayOutputStream();
                in.transferTo(bytes);
                bytes.write(0);
                out.put(m, bytes.toByteArray());
            } catch (IOException e) {
                throw new IllegalStateException("kernels unreadable: " + resource(m) + ": " + e.getMessage(), e);
            }
        }
        return out;
    }
}
