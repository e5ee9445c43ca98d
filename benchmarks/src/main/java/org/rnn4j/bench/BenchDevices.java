package org.rnn4j.bench;

import java.util.Locale;
import org.rnn4j.Device;

/** Opens the device a benchmark names, or fails with why it is not usable (JMH then skips that benchmark). */
final class BenchDevices {

    private BenchDevices() {
    }

    /** {@code cpu} or {@code cuda}; a CUDA failure names the reason and is printed by JMH. */
    static Device open(String name) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        if (n.equals("cpu")) {
            return Device.cpu();
        }
        if (n.equals("cuda") || n.startsWith("cuda:")) {
            try {
                return Device.parse(n);
            } catch (IllegalStateException e) {
                throw new IllegalStateException("SKIPPED: CUDA is not usable here: " + e.getMessage(), e);
            }
        }
        throw new IllegalArgumentException("device: expected cpu or cuda, got '" + name + "'");
    }

    /** {@code null} when CUDA device 0 is usable, otherwise the reason. */
    static String cudaUnusableReason() {
        try {
            Device.cuda();
            return null;
        } catch (IllegalStateException | LinkageError e) {
            return e.getMessage();
        }
    }
}
