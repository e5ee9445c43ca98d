package org.rnn4j.demo;

import java.io.PrintStream;
import java.util.Locale;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.DelegatingProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * The training progress bar: step count, loss and throughput in sequences per second. On a terminal it
 * redraws in place; when the output is redirected it prints a plain line every few seconds instead;
 * quiet (a {@code null} stream) it shows nothing.
 */
final class Progress implements AutoCloseable {

    private final ProgressBar bar;
    private final long startNanos = System.nanoTime();
    private long sequences;

    Progress(PrintStream out, String task, long steps) {
        if (out == null) {
            bar = null;
            return;
        }
        boolean terminal = System.console() != null;
        ProgressBarBuilder b = new ProgressBarBuilder()
                .setTaskName(task)
                .setInitialMax(steps)
                .setStyle(terminal ? ProgressBarStyle.COLORFUL_UNICODE_BLOCK : ProgressBarStyle.ASCII)
                .setMaxRenderedLength(110)
                .setUnit(" steps", 1);
        if (terminal) {
            b.setConsumer(new ConsoleProgressBarConsumer(out, 110)).setUpdateIntervalMillis(250);
        } else {
            b.setConsumer(new DelegatingProgressBarConsumer(out::println, 110)).setUpdateIntervalMillis(15_000);
        }
        bar = b.build();
    }

    /** Records one finished step of {@code batch} sequences with its loss. */
    void step(int batch, double loss) {
        sequences += batch;
        if (bar == null) {
            return;
        }
        double seconds = Math.max(1e-9, (System.nanoTime() - startNanos) / 1e9);
        bar.setExtraMessage(String.format(Locale.ROOT, "loss %.4f | %.0f seq/s", loss, sequences / seconds));
        bar.step();
    }

    /** Sequences per second since the bar started. */
    double sequencesPerSecond() {
        double seconds = Math.max(1e-9, (System.nanoTime() - startNanos) / 1e9);
        return sequences / seconds;
    }

    /** Prints a line above the bar (e.g. a sample) without breaking it. */
    void println(PrintStream out, String line) {
        if (out == null) {
            return;
        }
        if (bar != null && System.console() != null) {
            // clear the bar's line, print, and let the bar redraw below
            out.print("\r" + " ".repeat(110) + "\r");
            out.println(line);
            bar.refresh();
        } else {
            out.println(line);
        }
    }

    @Override
    public void close() {
        if (bar != null) {
            bar.close();
        }
    }
}
