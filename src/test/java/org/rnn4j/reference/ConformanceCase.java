package org.rnn4j.reference;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.rnn4j.Gru;
import org.rnn4j.Lstm;
import org.rnn4j.RecurrentConfig;
import org.rnn4j.Rnn;

/**
 * One conformance vector from {@code src/test/resources/conformance/*.json}, written by
 * {@code benchmarks/scripts/make_conformance.py} from PyTorch in float64 (see that script for the fields).
 * All arrays are flat, row-major and time-major; absent optional tensors are null.
 *
 * @param source    "torch.nn" (PyTorch's own modules) or "torch-manual" (rnn4j's extensions as a torch loop)
 * @param lengths   per-sample lengths, or null for all T
 * @param params    parameters by PyTorch name, in state_dict order
 * @param shapes    parameter shapes by name, in state_dict order
 * @param grads     dL/d(tensor) by name: "x", "h0", "c0" (when given) and every parameter name
 */
public record ConformanceCase(String name, String source, RecurrentConfig config, int steps, int batch,
                              int[] lengths, double[] x, double[] h0, double[] c0,
                              Map<String, double[]> params, Map<String, int[]> shapes,
                              double[] y, double[] hN, double[] cN, double[] wy, double[] wh, double[] wc,
                              double loss, Map<String, double[]> grads) {

    /** The classpath folder holding the vectors. */
    public static final String RESOURCE_DIR = "/conformance";

    /** Every case, sorted by file name. */
    public static List<ConformanceCase> all() {
        URL url = ConformanceCase.class.getResource(RESOURCE_DIR);
        if (url == null) {
            throw new IllegalStateException("classpath folder " + RESOURCE_DIR + " not found");
        }
        try (Stream<Path> files = Files.list(Path.of(url.toURI()))) {
            List<ConformanceCase> out = new ArrayList<>();
            for (Path p : files.filter(f -> f.toString().endsWith(".json")).sorted().toList()) {
                out.add(load(RESOURCE_DIR + "/" + p.getFileName()));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** One case by classpath resource name. */
    @SuppressWarnings("unchecked")
    public static ConformanceCase load(String resource) {
        Map<String, Object> doc = (Map<String, Object>) Json.parseResource(resource);
        Map<String, Object> c = (Map<String, Object>) doc.get("config");
        Map<String, double[]> params = new LinkedHashMap<>();
        ((Map<String, Object>) doc.get("params")).forEach((k, v) -> params.put(k, Json.doubles(v)));
        Map<String, int[]> shapes = new LinkedHashMap<>();
        ((Map<String, Object>) doc.get("param_shapes")).forEach((k, v) -> shapes.put(k, Json.ints(v)));
        Map<String, double[]> grads = new LinkedHashMap<>();
        doc.forEach((k, v) -> {
            if (k.startsWith("grad.")) {
                grads.put(k.substring("grad.".length()), Json.doubles(v));
            }
        });
        if (Boolean.TRUE.equals(c.get("batch_first"))) {
            throw new IllegalArgumentException(resource + ": vectors are time-major, batch_first must be false");
        }
        return new ConformanceCase((String) doc.get("name"), (String) doc.get("source"), config(c),
                integer(doc.get("T")), integer(doc.get("B")), Json.ints(doc.get("lengths")),
                Json.doubles(doc.get("x")), Json.doubles(doc.get("h0")), Json.doubles(doc.get("c0")),
                params, shapes, Json.doubles(doc.get("y")), Json.doubles(doc.get("hN")), Json.doubles(doc.get("cN")),
                Json.doubles(doc.get("wy")), Json.doubles(doc.get("wh")), Json.doubles(doc.get("wc")),
                (Double) doc.get("loss"), grads);
    }

    private static RecurrentConfig config(Map<String, Object> c) {
        String cell = (String) c.get("cell");
        int in = integer(c.get("input"));
        int hid = integer(c.get("hidden"));
        int layers = integer(c.get("layers"));
        boolean bidir = (Boolean) c.get("bidirectional");
        boolean bias = (Boolean) c.get("bias");
        return switch (cell) {
            case "RNN_TANH" -> Rnn.builder(in, hid).numLayers(layers).bidirectional(bidir).bias(bias).config();
            case "RNN_RELU" -> Rnn.reluBuilder(in, hid).numLayers(layers).bidirectional(bidir).bias(bias).config();
            case "LSTM" -> Lstm.builder(in, hid).numLayers(layers).bidirectional(bidir).bias(bias)
                    .projSize(integer(c.get("proj")))
                    .peepholes((Boolean) c.get("peepholes"))
                    .cellClip((Double) c.get("cell_clip"))
                    .coupledInputForget((Boolean) c.get("coupled"))
                    .config();
            case "GRU" -> Gru.builder(in, hid).numLayers(layers).bidirectional(bidir).bias(bias)
                    .resetAfter((Boolean) c.get("reset_after")).config();
            default -> throw new IllegalArgumentException("unknown cell " + cell);
        };
    }

    private static int integer(Object v) {
        return (int) (double) (Double) v;
    }

    /** The reference forward on this case's inputs (eval mode). */
    public ReferenceRnn.Result referenceForward() {
        return ReferenceRnn.forward(config, params, x, steps, batch, lengths, h0, c0, false, 0L);
    }

    @Override
    public String toString() {
        return name;
    }
}
