package org.rnn4j;

import java.util.ArrayList;
import java.util.List;

/** The devices a test can run on here: the CPU always, CUDA when usable (with the reason when not). */
public final class Devices {
    private Devices() {
    }

    /** Why CUDA cannot be used on this machine, or {@code null} when it can. */
    public static String cudaUnusableReason() {
        try {
            Device.cuda();
            return null;
        } catch (IllegalStateException e) {
            return e.getMessage();
        }
    }

    /** "cpu", plus "cuda" when usable. */
    public static List<String> names() {
        List<String> out = new ArrayList<>(List.of("cpu"));
        if (cudaUnusableReason() == null) {
            out.add("cuda");
        }
        return out;
    }

    public static float[] toFloat(double[] d) {
        if (d == null) {
            return null;
        }
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
        }
        return f;
    }

    public static double[] toDouble(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }
}
