package org.rnn4j.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.rnn4j.Device;

/** The airline demo on the CPU with small settings: the forecast must beat the seasonal-naive baseline. */
class AirlineDemoTest {

    @Test
    void lstmForecastBeatsSeasonalNaiveOnTheTestMonths() {
        AirlineDemo.Result r = AirlineDemo.run(new AirlineDemo.Options()
                .device(Device.cpu()).hidden(8).epochs(60).seed(42).charts(false), null);

        assertEquals(44, r.forecast().length);
        // the honest comparison: 44 months forecast from the training months alone, fed back autoregressively
        assertTrue(r.testRmse() < r.testBaselineRmse(),
                "autoregressive RMSE " + r.testRmse() + " vs seasonal naive " + r.testBaselineRmse());
        // one step ahead from the true history, against the value 12 months earlier
        assertTrue(r.oneStepRmse() < r.oneStepBaselineRmse(),
                "one-step RMSE " + r.oneStepRmse() + " vs value 12 months earlier " + r.oneStepBaselineRmse());
        for (double f : r.forecast()) {
            assertTrue(f > 100 && f < 1000, "forecast out of any plausible range: " + f);
        }
    }

    @Test
    void seasonalNaiveBaselineIsTheLastObservedYearRepeated() {
        AirlineDemo.Result r = AirlineDemo.run(new AirlineDemo.Options()
                .device(Device.cpu()).hidden(4).epochs(1).charts(false), null);
        double[] y = Datasets.airline().values();
        double s = 0;
        for (int t = AirlineDemo.TRAIN_MONTHS; t < y.length; t++) {
            int back = t - 12;
            while (back >= AirlineDemo.TRAIN_MONTHS) {
                back -= 12;
            }
            s += (y[back] - y[t]) * (y[back] - y[t]);
        }
        assertEquals(Math.sqrt(s / (y.length - AirlineDemo.TRAIN_MONTHS)), r.testBaselineRmse(), 1e-9);
        assertEquals(144, y.length);
        assertEquals(112.0, y[0]);
        assertEquals(432.0, y[143]);
    }
}
