package org.rnn4j.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The named shape sets selected with {@code -p suite=NAME} (see {@link BenchMain}).
 * <ul>
 *   <li>{@code cpu}: the foundation issue's CPU figures, LSTM at (I,H,B,T) = (128,128,32,50),
 *       (256,256,32,100), (512,512,64,50), (1024,1024,16,25); GRU and tanh RNN at (256,256,32,100).
 *       These are also the Deeplearning4j side-by-side shapes (LSTM only).</li>
 *   <li>{@code deepbench}: Baidu DeepBench's recurrent training set: LSTM hidden {512,1024,2048} x batch
 *       {16,32,64,128} x 25 steps; GRU hidden {1024,2048} x batch 32 x steps {187,375}; relu RNN hidden
 *       {1760,2560} x batch {16,64} x 50 steps; input = hidden throughout.</li>
 *   <li>{@code small}: the small-batch grid (where the persistent kernels win), LSTM batch {1,4,16} x hidden
 *       {128,256,512,1024} x 50 steps; GRU and tanh RNN batch {1,16} x hidden {256,1024} x 50 steps.</li>
 *   <li>{@code inference}: the {@code cpu} shapes, each also at batch 1 and 8 (issue #23's inference targets).</li>
 *   <li>{@code bidir}: a 2-layer bidirectional LSTM, hidden 512, batch 64, 100 steps.</li>
 *   <li>{@code gpu}: deepbench + small + bidir. {@code tiny}: three very small shapes (LSTM, GRU, tanh RNN), to
 *       test the plumbing.</li>
 * </ul>
 */
public final class Suites {

    private Suites() {
    }

    private static final Map<String, List<Shape>> SUITES = new LinkedHashMap<>();

    static {
        List<Shape> cpu = List.of(
                Shape.of("lstm", 128, 128, 32, 50),
                Shape.of("lstm", 256, 256, 32, 100),
                Shape.of("lstm", 512, 512, 64, 50),
                Shape.of("lstm", 1024, 1024, 16, 25),
                Shape.of("gru", 256, 256, 32, 100),
                Shape.of("tanh", 256, 256, 32, 100));
        List<Shape> deepbench = new ArrayList<>();
        for (int h : new int[] {512, 1024, 2048}) {
            for (int b : new int[] {16, 32, 64, 128}) {
                deepbench.add(Shape.of("lstm", h, h, b, 25));
            }
        }
        for (int h : new int[] {1024, 2048}) {
            for (int t : new int[] {187, 375}) {
                deepbench.add(Shape.of("gru", h, h, 32, t));
            }
        }
        for (int h : new int[] {1760, 2560}) {
            for (int b : new int[] {16, 64}) {
                deepbench.add(Shape.of("relu", h, h, b, 50));
            }
        }
        List<Shape> small = new ArrayList<>();
        for (int b : new int[] {1, 4, 16}) {
            for (int h : new int[] {128, 256, 512, 1024}) {
                small.add(Shape.of("lstm", h, h, b, 50));
            }
        }
        for (String cell : new String[] {"gru", "tanh"}) {
            for (int b : new int[] {1, 16}) {
                for (int h : new int[] {256, 1024}) {
                    small.add(Shape.of(cell, h, h, b, 50));
                }
            }
        }
        List<Shape> inference = new ArrayList<>();
        for (Shape c : cpu) {
            inference.add(c);
            for (int b : new int[] {1, 8}) {
                inference.add(Shape.of(c.cell(), c.input(), c.hidden(), b, c.steps()));
            }
        }
        List<Shape> bidir = List.of(new Shape("lstm", 2, true, 512, 512, 64, 100));
        List<Shape> gpu = new ArrayList<>(deepbench);
        gpu.addAll(small);
        gpu.addAll(bidir);
        SUITES.put("cpu", cpu);
        SUITES.put("deepbench", List.copyOf(deepbench));
        SUITES.put("small", List.copyOf(small));
        SUITES.put("inference", List.copyOf(inference));
        SUITES.put("bidir", bidir);
        SUITES.put("gpu", List.copyOf(gpu));
        SUITES.put("tiny", List.of(Shape.of("lstm", 16, 16, 4, 5), Shape.of("gru", 16, 16, 4, 5),
                Shape.of("tanh", 16, 16, 4, 5)));
    }

    /** The suite names, in order. */
    public static List<String> names() {
        return List.copyOf(SUITES.keySet());
    }

    /** @throws IllegalArgumentException naming the known suites */
    public static List<Shape> get(String name) {
        List<Shape> s = SUITES.get(name);
        if (s == null) {
            throw new IllegalArgumentException("suite: expected one of " + names() + ", got '" + name + "'");
        }
        return s;
    }
}
