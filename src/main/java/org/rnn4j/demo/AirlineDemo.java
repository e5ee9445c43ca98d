package org.rnn4j.demo;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.rnn4j.Device;
import org.rnn4j.Lstm;
import org.rnn4j.model.FitOptions;
import org.rnn4j.model.History;
import org.rnn4j.model.SequenceDataset;
import org.rnn4j.model.SequenceModel;
import org.rnn4j.model.Task;

/**
 * Demo 1: the monthly airline passengers of 1949–1960 (144 months). An LSTM is trained on the first
 * 100 months and forecasts the remaining 44.
 *
 * <p>What the network models: the month-to-month change of the log series,
 * {@code d[t] = log y[t] − log y[t−1]}, standardised with the mean and deviation of the training
 * months only. From a sliding window of the last {@code window} changes it predicts the next one
 * ({@link Task#SEQUENCE_REGRESSION}: a linear head on the last state), and the forecast is
 * {@code y[t] = y[t−1] · exp(d[t])}. Logs turn the growing seasonal swings into a
 * steady pattern and differencing removes the level, so the network never has to extrapolate beyond
 * the values it was trained on; it has to learn the seasonal shape of the changes and their trend.
 *
 * <p>How it is scored, in passengers (thousands):
 * <ul>
 *   <li><b>autoregressive</b> (the honest test): from the end of month 100 only, each forecast is fed
 *       back as input for the next one, over all 44 months; its baseline is the seasonal-naive forecast
 *       from the same origin, which repeats the last observed year;</li>
 *   <li><b>one step ahead</b>: each test month is predicted from the true history before it; its
 *       baseline is the value 12 months earlier.</li>
 * </ul>
 */
public final class AirlineDemo {

    /** Months used for training; the rest are the test months. */
    public static final int TRAIN_MONTHS = 100;
    static final int SEASON = 12;

    /** The demo's settings, with defaults that finish in well under a minute on a laptop CPU. */
    public static final class Options extends DemoOptions<Options> {
        int window = 12;
        int batch = 16;
        double learningRate = 5e-3;
        Path outDir = Path.of("rnn4j-demo-output");
        boolean charts = true;

        public Options() {
            super(100, 16);
        }

        public Options window(int v) {
            window = v;
            return this;
        }

        public Options batch(int v) {
            batch = v;
            return this;
        }

        public Options learningRate(double v) {
            learningRate = v;
            return this;
        }

        public Options outDir(Path v) {
            outDir = v;
            return this;
        }

        /** Whether to write the PNG charts (tests turn them off). */
        public Options charts(boolean v) {
            charts = v;
            return this;
        }
    }

    /**
     * What the run measured: RMSEs in passengers (thousands) of the model and its baseline, on the
     * training months (one step ahead), and on the test months both autoregressively and one step ahead.
     */
    public record Result(double trainRmse, double trainBaselineRmse,
                         double testRmse, double testBaselineRmse,
                         double oneStepRmse, double oneStepBaselineRmse,
                         double[] forecast, double[] lossCurve, Device device, double seconds,
                         Path forecastPng, Path lossPng) {
        public boolean beatsBaseline() {
            return testRmse < testBaselineRmse;
        }
    }

    private AirlineDemo() {
    }

    /** Runs the demo; {@code out} receives the report, or nothing when {@code null}. */
    public static Result run(Options o, PrintStream out) {
        long start = System.nanoTime();
        Device device = o.resolvedDevice();
        Datasets.Series series = Datasets.airline();
        double[] y = series.values();
        int n = y.length;
        int w = o.window;
        if (w < 1 || w + 1 >= TRAIN_MONTHS) {
            throw new IllegalArgumentException("window: expected a value in [1, " + (TRAIN_MONTHS - 2)
                    + "], got " + w);
        }
        say(out, "== Airline passengers: LSTM forecast of monthly totals, " + series.months().get(0) + " to "
                + series.months().get(n - 1) + " ==");
        say(out, "device: " + device + " (" + device.selectionNote() + ")");
        say(out, String.format(Locale.ROOT, "train on months 1-%d (%s to %s), forecast months %d-%d (%s to %s)",
                TRAIN_MONTHS, series.months().get(0), series.months().get(TRAIN_MONTHS - 1), TRAIN_MONTHS + 1, n,
                series.months().get(TRAIN_MONTHS), series.months().get(n - 1)));

        // d[t] = log y[t] - log y[t-1], standardised with the training months' statistics only
        double[] logY = new double[n];
        for (int t = 0; t < n; t++) {
            logY[t] = Math.log(y[t]);
        }
        double mean = 0;
        double sq = 0;
        int count = 0;
        final int lagL = 1;
        for (int t = lagL; t < TRAIN_MONTHS; t++) {
            double g = logY[t] - logY[t - lagL];
            mean += g;
            sq += g * g;
            count++;
        }
        mean /= count;
        double std = Math.sqrt(Math.max(1e-12, sq / count - mean * mean));
        double[] z = new double[n]; // standardised change (true values), z[t] for t >= 1
        for (int t = lagL; t < n; t++) {
            z[t] = (logY[t] - logY[t - lagL] - mean) / std;
        }
        // training windows: inputs z[t-w .. t-1], target z[t], for targets inside the training months
        List<Integer> targets = new ArrayList<>();
        for (int t = lagL + w; t < TRAIN_MONTHS; t++) {
            targets.add(t);
        }
        say(out, String.format(Locale.ROOT,
                "model: LSTM(1 -> %d) + Linear(%d -> 1) reads the last %d monthly changes of log(passengers) "
                        + "and predicts the next (%d training windows); forecast = last month x exp(predicted change)",
                o.hidden, o.hidden, w, targets.size()));
        say(out, String.format(Locale.ROOT, "training: %d epochs, batch %d, Adam lr %.0e, clip 1.0, seed %d",
                o.epochs, o.batch, o.learningRate, o.seed));

        // each window z[t-w .. t-1] is trained to predict z[t] from its last state
        List<float[][]> inputs = new ArrayList<>();
        float[][] next = new float[targets.size()][];
        for (int i = 0; i < next.length; i++) {
            int t = targets.get(i);
            inputs.add(column(z, t - w, t));
            next[i] = new float[] {(float) z[t]};
        }
        try (SequenceModel model = SequenceModel.builder(Task.SEQUENCE_REGRESSION).features(1)
                .recurrent(Lstm.builder(1, o.hidden).seed(o.seed)).outputs(1).seed(o.seed).build(device)) {
            History history;
            try {
                history = model.fit(SequenceDataset.sequenceRegression(inputs, next), null, new FitOptions().epochs(o.epochs)
                        .batchSize(o.batch).bucketing(false).adam(o.learningRate).clipNorm(1.0).seed(o.seed).progress(out));
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            double[] lossCurve = history.epochs().stream().mapToDouble(e -> e.train().get("loss")).toArray();

            // one step ahead on every month from w + 1 on, from the true history
            double[] oneStep = new double[n];
            int first = lagL + w;
            int m = n - first;
            List<float[][]> windows = new ArrayList<>();
            for (int j = 0; j < m; j++) {
                windows.add(column(z, first + j - w, first + j));
            }
            float[] zHat = predictNext(model, windows);
            for (int j = 0; j < m; j++) {
                int t = first + j;
                oneStep[t] = y[t - lagL] * Math.exp(zHat[j] * std + mean);
            }

            // autoregressive: from month 100 on, predictions are fed back (both the input window and the level)
            double[] zAr = z.clone();
            double[] logAr = logY.clone();
            double[] forecast = new double[n - TRAIN_MONTHS];
            for (int t = TRAIN_MONTHS; t < n; t++) {
                float zi = predictNext(model, List.<float[][]>of(column(zAr, t - w, t)))[0];
                zAr[t] = zi;
                logAr[t] = logAr[t - lagL] + zi * std + mean;
                forecast[t - TRAIN_MONTHS] = Math.exp(logAr[t]);
            }
            double[] snaive = new double[n - TRAIN_MONTHS]; // repeat the last observed year
            double[] lag12 = new double[n - TRAIN_MONTHS];  // value 12 months earlier (true history)
            for (int t = TRAIN_MONTHS; t < n; t++) {
                int back = t - SEASON;
                while (back >= TRAIN_MONTHS) {
                    back -= SEASON;
                }
                snaive[t - TRAIN_MONTHS] = y[back];
                lag12[t - TRAIN_MONTHS] = y[t - SEASON];
            }
            double[] actualTest = java.util.Arrays.copyOfRange(y, TRAIN_MONTHS, n);
            double trainRmse = rmse(oneStep, y, first, TRAIN_MONTHS, 0);
            double trainBase = rmse(y, y, first, TRAIN_MONTHS, SEASON);
            double testRmse = rmse(forecast, actualTest);
            double testBase = rmse(snaive, actualTest);
            double oneStepRmse = rmse(oneStep, y, TRAIN_MONTHS, n, 0);
            double oneStepBase = rmse(lag12, actualTest);
            double seconds = (System.nanoTime() - start) / 1e9;

            say(out, "");
            say(out, "RMSE in passengers (thousands)                     LSTM   seasonal naive");
            say(out, String.format(Locale.ROOT, "  training months %3d-%3d, one step ahead     %7.2f   %7.2f  (value 12 months earlier)",
                    first + 1, TRAIN_MONTHS, trainRmse, trainBase));
            say(out, String.format(Locale.ROOT, "  test months %3d-%3d, autoregressive (44 mo) %7.2f   %7.2f  (last observed year repeated)",
                    TRAIN_MONTHS + 1, n, testRmse, testBase));
            say(out, String.format(Locale.ROOT, "  test months %3d-%3d, one step ahead         %7.2f   %7.2f  (value 12 months earlier)",
                    TRAIN_MONTHS + 1, n, oneStepRmse, oneStepBase));
            say(out, String.format(Locale.ROOT,
                    "autoregressive: each forecast month is fed back as input; nothing after %s is seen.",
                    series.months().get(TRAIN_MONTHS - 1)));
            say(out, testRmse < testBase
                    ? String.format(Locale.ROOT, "the LSTM beats the seasonal-naive baseline on the test months (%.1f vs %.1f, %.0f%% lower)",
                            testRmse, testBase, 100 * (1 - testRmse / testBase))
                    : String.format(Locale.ROOT, "the LSTM does NOT beat the seasonal-naive baseline on the test months (%.1f vs %.1f)",
                            testRmse, testBase));

            Path forecastPng = null;
            Path lossPng = null;
            if (o.charts) {
                forecastPng = o.outDir.resolve("airline-forecast.png");
                lossPng = o.outDir.resolve("airline-loss.png");
                double[] oneStepTest = java.util.Arrays.copyOfRange(oneStep, TRAIN_MONTHS, n);
                Charts.monthly(forecastPng, String.format(Locale.ROOT,
                                "Airline passengers: 44-month LSTM forecast (RMSE %.1f) vs seasonal naive (RMSE %.1f)",
                                testRmse, testBase), "passengers (thousands)",
                        List.of(new Charts.MonthlyCurve("actual", series.months(), 0, y, false),
                                new Charts.MonthlyCurve("LSTM, autoregressive", series.months(), TRAIN_MONTHS, forecast, false),
                                new Charts.MonthlyCurve("seasonal naive (last year repeated)", series.months(), TRAIN_MONTHS,
                                        snaive, true),
                                new Charts.MonthlyCurve("LSTM, one step ahead", series.months(), TRAIN_MONTHS, oneStepTest, true)),
                        series.months().get(TRAIN_MONTHS));
                double[] epochs = new double[o.epochs];
                for (int i = 0; i < epochs.length; i++) {
                    epochs[i] = i + 1;
                }
                Charts.lines(lossPng, "Airline LSTM: training loss", "epoch", "MSE (standardised monthly change)",
                        List.of(new Charts.Curve("training MSE", epochs, lossCurve, false)), false);
                say(out, "wrote " + forecastPng.toAbsolutePath().normalize());
                say(out, "wrote " + lossPng.toAbsolutePath().normalize());
            }
            say(out, String.format(Locale.ROOT, "airline demo took %.1f s on %s", seconds, device));
            return new Result(trainRmse, trainBase, testRmse, testBase, oneStepRmse, oneStepBase, forecast, lossCurve,
                    device, seconds, forecastPng, lossPng);
        }
    }

    /** The model's standardised change after each window. */
    private static float[] predictNext(SequenceModel model, List<float[][]> windows) {
        List<float[][]> out = model.predict(SequenceDataset.ofFeatures(windows), 256);
        float[] next = new float[out.size()];
        for (int j = 0; j < next.length; j++) {
            next[j] = out.get(j)[0][0];
        }
        return next;
    }

    /** {@code v[from .. to)} as a {@code [steps][1]} sequence. */
    private static float[][] column(double[] v, int from, int to) {
        float[][] c = new float[to - from][1];
        for (int i = from; i < to; i++) {
            c[i - from][0] = (float) v[i];
        }
        return c;
    }

    /** RMSE over {@code t} in {@code [from, to)} of {@code pred[t − lag] − actual[t]}. */
    private static double rmse(double[] pred, double[] actual, int from, int to, int lag) {
        double s = 0;
        for (int t = from; t < to; t++) {
            double d = (lag == 0 ? pred[t] : pred[t - lag]) - actual[t];
            s += d * d;
        }
        return Math.sqrt(s / (to - from));
    }

    private static double rmse(double[] pred, double[] actual) {
        return rmse(pred, actual, 0, actual.length, 0);
    }

    static void say(PrintStream out, String line) {
        if (out != null) {
            out.println(line);
        }
    }
}
