package org.rnn4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rnn4j.Device;
import org.rnn4j.ForwardResult;
import org.rnn4j.Gru;
import org.rnn4j.Lstm;
import org.rnn4j.RecurrentLayer;
import org.rnn4j.Tensor;

/**
 * Runs benchmarks/scripts/torch_checkpoint_check.py with /usr/bin/python3 where torch imports there:
 * our checkpoint loaded by torch.nn.LSTM/GRU.load_state_dict gives our outputs within 1e-5, and a
 * torch state_dict saved as safetensors loads into our layer and gives torch's outputs within 1e-5.
 * The script's lines are appended to target/torch-checkpoint-check.log.
 */
class TorchCheckpointCheckTest {
    private static final String PYTHON = "/usr/bin/python3";
    private static final Path SCRIPT = Path.of("benchmarks/scripts/torch_checkpoint_check.py");
    private static final Path LOG = Path.of("target/torch-checkpoint-check.log");

    @TempDir
    Path dir;

    private static String torchProblem;

    @BeforeAll
    static void probe() {
        try {
            List<String> out = new ArrayList<>();
            int rc = exec(out, PYTHON, "-c", "import torch");
            torchProblem = rc == 0 ? null : "torch does not import in " + PYTHON + ": " + String.join(" ", out);
        } catch (IOException | InterruptedException e) {
            torchProblem = PYTHON + " cannot run: " + e.getMessage();
        }
    }

    private static int exec(List<String> out, String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] bytes = p.getInputStream().readAllBytes();
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("timed out: " + String.join(" ", cmd));
        }
        out.add(new String(bytes, StandardCharsets.UTF_8).strip());
        return p.exitValue();
    }

    private String script(String... args) throws IOException, InterruptedException {
        assumeTrue(torchProblem == null, torchProblem);
        assumeTrue(Files.exists(SCRIPT), "the script is not at " + SCRIPT.toAbsolutePath());
        List<String> cmd = new ArrayList<>(List.of(PYTHON, SCRIPT.toString()));
        cmd.addAll(List.of(args));
        List<String> out = new ArrayList<>();
        int rc = exec(out, cmd.toArray(new String[0]));
        Files.createDirectories(LOG.getParent());
        Files.writeString(LOG, out.get(0) + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        assertEquals(0, rc, "script failed: " + out.get(0));
        return out.get(0);
    }

    /** Saves x (and h0, c0, lengths) with the layer's config as metadata. */
    private Path input(RecurrentLayer layer, Tensor x, Tensor h0, Tensor c0, int[] lengths) throws IOException {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("x", x);
        if (h0 != null) {
            m.put("h0", h0);
        }
        if (c0 != null) {
            m.put("c0", c0);
        }
        Tensor len = null;
        if (lengths != null) {
            float[] l = new float[lengths.length];
            for (int i = 0; i < l.length; i++) {
                l[i] = lengths[i];
            }
            len = Tensor.of(x.device(), l, l.length);
            m.put("lengths", len);
        }
        Path p = dir.resolve("input.safetensors");
        try {
            Checkpoint.save(p, m, layer.config().toMetadata());
        } finally {
            if (len != null) {
                len.close();
            }
        }
        return p;
    }

    private static Map<String, Tensor> outputs(ForwardResult r) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("y", r.output());
        m.put("h_n", r.hN());
        if (r.cN() != null) {
            m.put("c_n", r.cN());
        }
        return m;
    }

    /** ours -> torch, then torch -> ours, for one configuration. */
    private void bothDirections(RecurrentLayer ours, RecurrentLayer fresh, int steps, int batch, boolean states,
                                int[] lengths) throws Exception {
        Device device = ours.device();
        var cfg = ours.config();
        int layersDirs = cfg.numLayers() * cfg.directions();
        ours.eval();
        fresh.eval();
        try (Tensor x = Tensor.of(device, TrainTestSupport.uniform(61, steps * batch * cfg.inputSize(), -1, 1),
                     cfg.batchFirst() ? new int[] {batch, steps, cfg.inputSize()}
                             : new int[] {steps, batch, cfg.inputSize()});
             Tensor h0 = states ? Tensor.of(device, TrainTestSupport.uniform(62, layersDirs * batch * cfg.stateSize(),
                     -1, 1), layersDirs, batch, cfg.stateSize()) : null;
             Tensor c0 = states && cfg.cell() == org.rnn4j.CellType.LSTM ? Tensor.of(device,
                     TrainTestSupport.uniform(63, layersDirs * batch * cfg.hiddenSize(), -1, 1), layersDirs, batch,
                     cfg.hiddenSize()) : null) {
            Path in = input(ours, x, h0, c0, lengths);
            // ours -> torch
            Path ckpt = dir.resolve("ours.safetensors");
            Path out = dir.resolve("ours-output.safetensors");
            Checkpoint.save(ckpt, ours);
            try (ForwardResult r = ours.forward(x, lengths, h0, c0)) {
                Checkpoint.save(out, outputs(r), Map.of());
            }
            String verdict = script(ckpt.toString(), in.toString(), out.toString());
            assertTrue(verdict.contains("PASS"), verdict);

            // torch -> ours
            Path torchCkpt = dir.resolve("torch.safetensors");
            Path torchOut = dir.resolve("torch-output.safetensors");
            script("--from-torch", in.toString(), torchCkpt.toString(), torchOut.toString());
            Checkpoint.load(torchCkpt, fresh);
            SafeTensors.Contents want = Checkpoint.read(torchOut);
            double worst = 0;
            try (ForwardResult r = fresh.forward(x, lengths, h0, c0)) {
                for (Map.Entry<String, Tensor> e : outputs(r).entrySet()) {
                    float[] w = want.tensors().get(e.getKey()).data();
                    TrainTestSupport.assertClose("torch->ours " + e.getKey(), w, e.getValue().toHost(), 1e-5, 0);
                    float[] g = e.getValue().toHost();
                    for (int i = 0; i < w.length; i++) {
                        worst = Math.max(worst, Math.abs(w[i] - g[i]));
                    }
                }
            }
            Files.writeString(LOG, String.format("PASS torch->ours %s: max |diff| %.3e (tolerance 1e-05)%n",
                    cfg, worst), StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        }
    }

    @Test
    void lstmTwoLayersBidirectionalProjected() throws Exception {
        Device device = Device.cpu();
        try (RecurrentLayer ours = Lstm.builder(5, 8).numLayers(2).bidirectional(true).projSize(3).seed(11)
                .build(device);
             RecurrentLayer fresh = Lstm.builder(5, 8).numLayers(2).bidirectional(true).projSize(3).seed(12)
                .build(device)) {
            bothDirections(ours, fresh, 7, 3, true, null);
        }
    }

    @Test
    void gruTwoLayersBidirectionalWithLengths() throws Exception {
        Device device = Device.cpu();
        try (RecurrentLayer ours = Gru.builder(4, 6).numLayers(2).bidirectional(true).seed(21).build(device);
             RecurrentLayer fresh = Gru.builder(4, 6).numLayers(2).bidirectional(true).seed(22).build(device)) {
            bothDirections(ours, fresh, 6, 3, false, new int[] {6, 2, 4});
        }
    }

    @Test
    void lstmBatchFirstWithLengths() throws Exception {
        Device device = Device.cpu();
        try (RecurrentLayer ours = Lstm.builder(3, 5).batchFirst(true).seed(31).build(device);
             RecurrentLayer fresh = Lstm.builder(3, 5).batchFirst(true).seed(32).build(device)) {
            bothDirections(ours, fresh, 5, 4, true, new int[] {5, 3, 1, 4});
        }
    }
}
