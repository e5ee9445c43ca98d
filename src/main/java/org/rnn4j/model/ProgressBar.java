package org.rnn4j.model;

import java.io.PrintStream;
import java.util.Locale;
import java.util.Map;

/**
 * The progress of {@code fit}, Keras-style ({@code ProgbarLogger}): on a terminal one line per epoch
 * redrawn in place ({@code epoch 3/10 [=====>    ] 12/40  loss 0.4123  accuracy 0.871  2310 seq/s}); when
 * the output is redirected, only the finished epoch's line; a run of more than 20 epochs keeps about ten of
 * those lines. {@link FitOptions#progress} adds one.
 */
public final class ProgressBar implements Callback {
    private static final int BAR = 24;
    private final PrintStream out;
    private final boolean terminal = System.console() != null;
    private long lastDraw;

    public ProgressBar(PrintStream out) {
        if (out == null) {
            throw new IllegalArgumentException("out: expected a stream, got null");
        }
        this.out = out;
    }

    @Override
    public void onBatchEnd(TrainingRun run, int batch, Map<String, Double> metrics) {
        if (!terminal) {
            return;
        }
        long now = System.nanoTime();
        int total = run.batchesPerEpoch();
        if (batch < total && now - lastDraw < 100_000_000L) {
            return;
        }
        lastDraw = now;
        out.print("\r" + line(run.epoch() + 1, run.epochs(), batch, total, metrics, run.sequencesPerSecond(), Map.of()));
        out.flush();
    }

    @Override
    public void onEpochEnd(TrainingRun run, History.Epoch e) {
        int epochs = run.epochs();
        int epoch = e.epoch();
        // a long run keeps about ten lines: the first epoch, every tenth of the run, and the last
        boolean keep = epochs <= 20 || epoch == 1 || epoch == epochs || epoch % (epochs / 10) == 0;
        if (!keep) {
            return;
        }
        int total = run.batchesPerEpoch();
        String line = line(epoch, epochs, total, total, e.train(), e.sequencesPerSecond(), e.validation())
                + String.format(Locale.ROOT, "  lr %.2e", e.learningRate());
        out.println(terminal ? "\r" + line : line);
    }

    private static String line(int epoch, int epochs, int done, int total, Map<String, Double> metrics,
                               double seqPerSecond, Map<String, Double> validation) {
        int fill = total == 0 ? BAR : (int) ((long) BAR * done / total);
        StringBuilder s = new StringBuilder(String.format(Locale.ROOT, "epoch %d/%d [", epoch, epochs));
        s.append("=".repeat(Math.max(0, fill - (done < total ? 1 : 0)))).append(done < total ? ">" : "")
                .append(" ".repeat(BAR - fill)).append(String.format(Locale.ROOT, "] %d/%d", done, total));
        metrics.forEach((k, v) -> s.append(String.format(Locale.ROOT, "  %s %.4f", k, v)));
        s.append(String.format(Locale.ROOT, "  %.0f seq/s", seqPerSecond));
        validation.forEach((k, v) -> s.append(String.format(Locale.ROOT, "  val_%s %.4f", k, v)));
        return s.toString();
    }
}
