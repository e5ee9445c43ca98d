package org.rnn4j.train;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.rnn4j.Device;
import org.rnn4j.train.TrainTestSupport.Param;

/**
 * Settings that are valid as doubles but not as the float32 the update runs in, and updates that turn
 * finite weights into NaN or infinity: refused by name, never a silently ruined model.
 */
class OptimizerNumericsTest {

    static List<Device> devices() {
        return TrainTestSupport.devices();
    }

    private static void assertRefused(Executable call, String name) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call, name);
        assertTrue(e.getMessage().startsWith(name + ":"), e.getMessage());
    }

    @ParameterizedTest
    @MethodSource("devices")
    void settingsOutsideFloat32AreRefused(Device device) {
        try (Param p = new Param(device, "w", new float[] {1, 2})) {
            List<Param> mods = List.of(p);
            assertRefused(() -> new Adam(mods, 1e39), "lr");
            assertRefused(() -> new Sgd(mods, 1e39), "lr");
            assertRefused(() -> new Adam(mods, 1e-50), "lr");
            assertRefused(() -> new Adam(mods, 1e-3, 0.9, 0.999, 1e-8, 1e39, true), "weightDecay");
            assertRefused(() -> new Adam(mods, 1e-3, 1 - 1e-9, 0.999, 1e-8, 0, false), "beta1");
            assertRefused(() -> new Adam(mods, 1e-3, 0.9, 1 - 1e-12, 1e-8, 0, false), "beta2");
            assertRefused(() -> new Sgd(mods, 0.1, 1 - 1e-9, 0, false), "momentum");
            assertRefused(() -> new Sgd(mods, 0.1, 0.9, 1e39, false), "weightDecay");
            try (Sgd sgd = new Sgd(mods, 0.1)) {
                assertRefused(() -> sgd.setLearningRate(1e39), "learningRate");
            }
            // a small rate that float32 still holds is fine
            new Adam(mods, 1e-30).close();
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void anUpdateThatMakesWeightsNonFiniteStopsNamingTheParameter(Device device) {
        try (Param p = new Param(device, "w", new float[] {1, 2});
             Sgd sgd = new Sgd(List.of(p), 3e38)) {
            p.grad.copyFrom(new float[] {10, 0});
            IllegalStateException e = assertThrows(IllegalStateException.class, sgd::step);
            assertTrue(e.getMessage().contains("'w'") && e.getMessage().contains("learning rate"), e.getMessage());
        }
    }
}
