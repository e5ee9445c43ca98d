package org.rnn4j;

import static org.rnn4j.Close.assertClose;
import static org.rnn4j.Devices.toFloat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.rnn4j.reference.ConformanceCase;

/**
 * Every engine against PyTorch's float64 vectors ({@code src/test/resources/conformance}): outputs,
 * final states (in training and in inference mode), and the gradients of {@code L = Σ y·wy + Σ hN·wh + Σ cN·wc} with respect to the input,
 * the initial states and every parameter. Tolerances: float32 against float64 on tiny nets, outputs
 * atol 2e-6 + rtol 1e-5, gradients atol 1e-5 + rtol 1e-4.
 */
class ConformanceTest {

    static List<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (String device : Devices.names()) {
            for (ConformanceCase c : ConformanceCase.all()) {
                out.add(Arguments.of(device, c));
            }
        }
        return out;
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void matchesPyTorch(String deviceName, ConformanceCase c) {
        Device device = Device.parse(deviceName);
        RecurrentConfig cfg = c.config();
        int states = cfg.numLayers() * cfg.directions();
        try (RecurrentLayer layer = new RecurrentLayer(cfg, device);
             Tensor x = Tensor.of(device, toFloat(c.x()), c.steps(), c.batch(), cfg.inputSize());
             Tensor h0 = c.h0() == null ? null : Tensor.of(device, toFloat(c.h0()), states, c.batch(), cfg.stateSize());
             Tensor c0 = c.c0() == null ? null : Tensor.of(device, toFloat(c.c0()), states, c.batch(), cfg.hiddenSize())) {
            for (Map.Entry<String, double[]> p : c.params().entrySet()) {
                layer.setParameter(p.getKey(), toFloat(p.getValue()));
            }
            try (ForwardResult fwd = layer.forward(x, c.lengths(), h0, c0);
                 Tensor dY = Tensor.of(device, toFloat(c.wy()), fwd.output().shape());
                 Tensor dhN = Tensor.of(device, toFloat(c.wh()), fwd.hN().shape());
                 Tensor dcN = c.cN() == null ? null : Tensor.of(device, toFloat(c.wc()), fwd.cN().shape())) {
                assertClose(c.name() + " y", c.y(), fwd.output().toHost(), 2e-6, 1e-5);
                assertClose(c.name() + " hN", c.hN(), fwd.hN().toHost(), 2e-6, 1e-5);
                if (c.cN() != null) {
                    assertClose(c.name() + " cN", c.cN(), fwd.cN().toHost(), 2e-6, 1e-5);
                }
                try (BackwardResult g = layer.backward(fwd, dY, dhN, dcN)) {
                    assertClose(c.name() + " dX", c.grads().get("x"), g.dX().toHost(), 1e-5, 1e-4);
                    if (c.grads().containsKey("h0")) {
                        assertClose(c.name() + " dh0", c.grads().get("h0"), g.dh0().toHost(), 1e-5, 1e-4);
                    }
                    if (c.grads().containsKey("c0")) {
                        assertClose(c.name() + " dc0", c.grads().get("c0"), g.dc0().toHost(), 1e-5, 1e-4);
                    }
                    for (String name : c.params().keySet()) {
                        assertClose(c.name() + " d" + name, c.grads().get(name),
                                layer.gradients().get(name).toHost(), 1e-5, 1e-4);
                    }
                }
            }
            // inference keeps two state slots instead of T+1 and saves nothing: same outputs
            layer.eval();
            try (ForwardResult inf = layer.forward(x, c.lengths(), h0, c0)) {
                assertClose(c.name() + " eval y", c.y(), inf.output().toHost(), 2e-6, 1e-5);
                assertClose(c.name() + " eval hN", c.hN(), inf.hN().toHost(), 2e-6, 1e-5);
                if (c.cN() != null) {
                    assertClose(c.name() + " eval cN", c.cN(), inf.cN().toHost(), 2e-6, 1e-5);
                }
            }
        }
    }
}
