package org.rnn4j.model;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes every epoch's metrics to a CSV file as Keras's {@code CSVLogger}: a header
 * {@code epoch,learning_rate,loss,accuracy,...,val_loss,val_accuracy,...,seconds,sequences_per_second}, then
 * one row per epoch, written and flushed as the epoch ends (values as Java's {@code Double.toString}, exact).
 * Without {@code append} the file is replaced when training begins; with it, rows are added to an existing
 * file (the header is written only into a new or empty one), for a continued or resumed run.
 */
public final class CsvLogger implements Callback {
    private final Path file;
    private final boolean append;
    private List<String> columns;

    public CsvLogger(Path file, boolean append) {
        if (file == null) {
            throw new IllegalArgumentException("file: expected a path, got null");
        }
        this.file = file;
        this.append = append;
    }

    @Override
    public void onTrainBegin(TrainingRun run) {
        columns = null;
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            if (!append || !Files.exists(file)) {
                Files.write(file, new byte[0]);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("CsvLogger " + file + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void onEpochEnd(TrainingRun run, History.Epoch e) {
        StringBuilder s = new StringBuilder();
        if (columns == null) {
            columns = new ArrayList<>();
            columns.addAll(e.train().keySet());
            e.validation().keySet().forEach(k -> columns.add("val_" + k));
            try {
                if (Files.size(file) == 0) {
                    s.append("epoch,learning_rate,").append(String.join(",", columns)).append(",seconds,sequences_per_second\n");
                }
            } catch (IOException ex) {
                throw new UncheckedIOException("CsvLogger " + file + ": " + ex.getMessage(), ex);
            }
        }
        s.append(e.epoch()).append(',').append(e.learningRate());
        for (String c : columns) {
            Double v = e.find(c);
            s.append(',').append(v == null ? "" : v.toString());
        }
        s.append(',').append(e.seconds()).append(',').append(e.sequencesPerSecond()).append('\n');
        try {
            Files.writeString(file, s, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
        } catch (IOException ex) {
            throw new UncheckedIOException("CsvLogger " + file + ": " + ex.getMessage(), ex);
        }
    }
}
