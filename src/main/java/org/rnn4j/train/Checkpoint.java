package org.rnn4j.train;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.rnn4j.Device;
import org.rnn4j.HasParameters;
import org.rnn4j.RecurrentConfig;
import org.rnn4j.RecurrentLayer;
import org.rnn4j.Tensor;

/**
 * Parameters saved to and loaded from {@link SafeTensors safetensors} files under PyTorch's names, so
 * that a checkpoint moves between rnn4j and PyTorch as it is:
 * <ul>
 *   <li>a bare {@link RecurrentLayer} is saved under its exact {@code state_dict} names
 *       ({@code weight_ih_l0}, {@code bias_hh_l1_reverse}, {@code weight_hr_l0}, ...), so
 *       {@code torch.nn.LSTM(...).load_state_dict(safetensors.torch.load_file(path))} takes it, and a
 *       file saved that way by PyTorch loads back with {@link #load};</li>
 *   <li>a {@link ModuleGroup} is saved under {@code prefix.name} ({@code lstm.weight_ih_l0},
 *       {@code head.weight}), as PyTorch names a module's submodules.</li>
 * </ul>
 * The {@code __metadata__} map records each recurrent layer's full configuration
 * ({@link RecurrentConfig#toMetadata()}: {@code cell}, {@code input_size}, {@code hidden_size},
 * {@code num_layers}, {@code bidirectional}, {@code bias}, {@code proj_size}, the options PyTorch lacks,
 * {@code batch_first}, {@code dropout}, {@code unit_forget_bias}, {@code seed}), keys prefixed like the
 * tensors in a group, plus {@code format=pt} as {@code safetensors.torch} writes, plus a CRC-32C digest of
 * each tensor ({@link SafeTensors}). {@link #load} refuses a file whose configuration describes a
 * different computation than the target's (a reset-before GRU into a reset-after one, another cell clip),
 * naming the field; {@link #loadLayer} builds the layer from the file alone. A file without configuration
 * or digests (PyTorch's, or an older rnn4j's) loads with the checks that remain: names and shapes.
 *
 * <p>Metadata in, metadata out: {@link #save(Path, HasParameters, Map)} takes extra string entries (an
 * epoch, a whole training state's description) and {@link #load} and {@link #read} return the file's
 * entries, without the digests.
 *
 * <p>{@link #save} is atomic (temporary file, fsync, rename): a failure leaves the previous file intact.
 * {@link #load} reads and validates the whole file and compares every name and shape with the target
 * before it copies anything, so a corrupt, truncated or mismatched file, or one holding NaN or infinite
 * weights (which would predict nonsense without a word), leaves the model unchanged.
 */
public final class Checkpoint {
    private Checkpoint() {
    }

    /**
     * Saves every parameter of {@code model} under its name, with the configuration of the recurrent
     * layers in the metadata.
     */
    public static void save(Path file, HasParameters model) throws IOException {
        save(file, model, Map.of());
    }

    /** {@link #save(Path, HasParameters)} with extra metadata entries (e.g. the epoch), which win over generated ones. */
    public static void save(Path file, HasParameters model, Map<String, String> extraMetadata) throws IOException {
        save(file, model, Map.of(), extraMetadata);
    }

    /** {@link #save(Path, HasParameters, Map)} with extra tensors beside the parameters (optimizer state, weight snapshots). */
    public static void save(Path file, HasParameters model, Map<String, Tensor> extraTensors, Map<String, String> extraMetadata)
            throws IOException {
        if (model == null) {
            throw new IllegalArgumentException("model: expected a module, got null");
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.putAll(model.configMetadata());
        if (extraMetadata != null) {
            meta.putAll(extraMetadata);
        }
        Map<String, Tensor> tensors = new LinkedHashMap<>(model.parameters());
        tensors.putAll(extraTensors);
        save(file, tensors, meta);
    }

    /**
     * Saves named tensors (F32, any device; each is copied to the host in turn while the file is written).
     *
     * @param metadata the {@code __metadata__} map, or {@code null}
     */
    public static void save(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        if (file == null) {
            throw new IllegalArgumentException("file: expected a path, got null");
        }
        if (tensors == null) {
            throw new IllegalArgumentException("tensors: expected a map of named tensors, got null");
        }
        Map<String, int[]> shapes = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            TrainChecks.usable("tensors['" + e.getKey() + "']", e.getValue(), null);
            shapes.put(e.getKey(), e.getValue().shape());
        }
        SafeTensors.writeTensors(file, shapes, name -> tensors.get(name).toHost(), metadata);
    }

    /**
     * Loads {@code file} into {@code target}'s parameters, matched by name (strict, like PyTorch's
     * {@code load_state_dict}): every parameter must be present with its exact shape and nothing else may
     * be in the file. Nothing is copied unless all of it matches.
     *
     * @return the file's metadata
     * @throws IOException when the file cannot be read or is not a valid safetensors file (model unchanged)
     * @throws IllegalArgumentException listing missing and unexpected names and wrong shapes (model unchanged)
     */
    public static Map<String, String> load(Path file, HasParameters target) throws IOException {
        if (file == null) {
            throw new IllegalArgumentException("file: expected a path, got null");
        }
        if (target == null) {
            throw new IllegalArgumentException("target: expected a module, got null");
        }
        SafeTensors.Contents contents = SafeTensors.read(file);
        copyInto(file, contents, target);
        return contents.metadata();
    }

    /**
     * Builds the recurrent layer that {@code file} describes (saved by {@link #save} from a bare layer) on
     * {@code device}, with the file's weights: no configuration to repeat by hand.
     *
     * @throws IllegalArgumentException when the file holds no layer configuration (saved by PyTorch: build the
     *         layer and use {@link #load}) or its tensors do not match it
     */
    public static RecurrentLayer loadLayer(Path file, Device device) throws IOException {
        if (file == null) {
            throw new IllegalArgumentException("file: expected a path, got null");
        }
        if (device == null) {
            throw new IllegalArgumentException("device: expected a device, got null");
        }
        SafeTensors.Contents contents = SafeTensors.read(file);
        if (!contents.metadata().containsKey("cell")) {
            throw new IllegalArgumentException("file: " + file + " holds no layer configuration (no 'cell' in its "
                    + "metadata; it was not saved from a bare layer by Checkpoint.save): build the layer and use "
                    + "Checkpoint.load(file, layer)");
        }
        RecurrentConfig cfg = RecurrentConfig.fromMetadata(contents.metadata(), "");
        RecurrentLayer layer = new RecurrentLayer(cfg, device);
        try {
            copyInto(file, contents, layer);
            return layer;
        } catch (RuntimeException e) {
            layer.close();
            throw e;
        }
    }

    /** Checks {@code contents} against {@code target} (configuration, names, shapes), then copies it in. */
    private static void copyInto(Path file, SafeTensors.Contents contents, HasParameters target) {
        List<String> config = target.configMismatches(contents.metadata(), "");
        if (!config.isEmpty()) {
            throw new IllegalArgumentException("file: " + file + " was saved from a differently configured model, "
                    + "which is left unchanged: " + String.join("; ", config));
        }
        Map<String, Tensor> params = target.parameters();
        List<String> missing = new ArrayList<>();
        List<String> wrongShape = new ArrayList<>();
        List<String> nonFinite = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : params.entrySet()) {
            SafeTensors.HostTensor t = contents.tensors().get(e.getKey());
            if (t == null) {
                missing.add(e.getKey());
            } else if (!Arrays.equals(t.shape(), e.getValue().shape())) {
                wrongShape.add(e.getKey() + " (file " + Arrays.toString(t.shape()) + ", model "
                        + Arrays.toString(e.getValue().shape()) + ")");
            } else if (t.firstNonFinite() >= 0) {
                nonFinite.add(e.getKey() + " (holds " + t.data()[t.firstNonFinite()] + " at flat index "
                        + t.firstNonFinite() + ": non-finite weights)");
            }
        }
        List<String> unexpected = new ArrayList<>();
        for (String name : contents.tensors().keySet()) {
            if (!params.containsKey(name)) {
                unexpected.add(name);
            }
        }
        if (!missing.isEmpty() || !unexpected.isEmpty() || !wrongShape.isEmpty() || !nonFinite.isEmpty()) {
            StringBuilder m = new StringBuilder(file + ": does not match the model, which is left unchanged:");
            if (!missing.isEmpty()) {
                m.append(" missing ").append(missing).append(';');
            }
            if (!unexpected.isEmpty()) {
                m.append(" unexpected ").append(unexpected).append(';');
            }
            if (!wrongShape.isEmpty()) {
                m.append(" wrong shape ").append(wrongShape).append(';');
            }
            if (!nonFinite.isEmpty()) {
                m.append(" non-finite ").append(nonFinite).append(';');
            }
            m.setLength(m.length() - 1);
            String hint = hint(missing, unexpected);
            throw new IllegalArgumentException(m + hint);
        }
        for (Map.Entry<String, Tensor> e : params.entrySet()) {
            e.getValue().copyFrom(contents.tensors().get(e.getKey()).data());
        }
    }

    /**
     * Checks, before any training, that checkpoints can be written into {@code dir}: it is a folder (created
     * if missing) that this process may write.
     *
     * @param name the option that gave it, for the message
     * @throws IllegalArgumentException when {@code dir} is a file or not writable
     * @throws IOException when it cannot be created
     */
    public static void requireWritableFolder(String name, Path dir) throws IOException {
        if (java.nio.file.Files.exists(dir) && !java.nio.file.Files.isDirectory(dir)) {
            throw new IllegalArgumentException(name + ": expected a folder for the checkpoints, got the file " + dir);
        }
        java.nio.file.Files.createDirectories(dir);
        if (!java.nio.file.Files.isWritable(dir)) {
            throw new IllegalArgumentException(name + ": expected a folder this process may write, got " + dir
                    + ", which it may not");
        }
    }

    /** Reads a file's tensors and metadata without a model (validated as {@link #load} does). */
    public static SafeTensors.Contents read(Path file) throws IOException {
        return SafeTensors.read(file);
    }

    /** A hint when the names differ only by a module prefix (a bare layer's file loaded into a group, or back). */
    private static String hint(List<String> missing, List<String> unexpected) {
        if (missing.isEmpty() || unexpected.isEmpty()) {
            return "";
        }
        String m = missing.get(0);
        String u = unexpected.get(0);
        if (m.endsWith("." + u) || u.endsWith("." + m)) {
            return " (the names differ by a module prefix: load a bare layer's file into the layer itself, "
                    + "or a group's file into the group)";
        }
        return "";
    }
}
