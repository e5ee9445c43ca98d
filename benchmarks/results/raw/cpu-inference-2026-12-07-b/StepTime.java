import org.rnn4j.*;
/**
 * Streaming step latency on the calling thread's CPU time (what the step costs when it has a core; a loaded machine
 * adds its waiting to wall time): a B = 1 stream of an I = H = 256 layer, one step per call, args CELLS (comma list
 * of CellType names) and calls per round (10 rounds). Compile against rnn4j's classes:
 *   javac -cp target/classes -d /tmp StepTime.java
 *   taskset -c 0 java --add-modules jdk.incubator.vector -Drnn4j.vector.warmUp=false -Drnn4j.threads=1 \
 *       -cp /tmp:target/classes StepTime LSTM,GRU,RNN_TANH 3000          (no --add-modules: plain Java)
 */
public class StepTime {
    public static void main(String[] args) {
        Device dev = Device.cpu();
        int H = 256;
        for (String cellName : args[0].split(",")) {
            CellType cell = CellType.valueOf(cellName);
            RecurrentLayer layer = switch (cell) {
                case LSTM -> Lstm.builder(H, H).seed(42).build(dev);
                case GRU -> Gru.builder(H, H).seed(42).build(dev);
                default -> Rnn.builder(H, H).seed(42).build(dev);
            };
            layer.eval();
            RecurrentStream s = layer.stream(1);
            float[] xs = new float[H];
            for (int i = 0; i < H; i++) xs[i] = (float) Math.sin(i);
            Tensor x = Tensor.of(dev, xs, 1, 1, H);
            int n = Integer.parseInt(args[1]);
            for (int rep = 0; rep < 10; rep++) {
                java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean(); long t0 = mx.getCurrentThreadCpuTime(); long w0 = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    try (Tensor y = s.step(x)) { }
                }
                long dt = mx.getCurrentThreadCpuTime() - t0; long wall = System.nanoTime() - w0;
                System.out.printf("%s step %.1f us cpu (%.1f wall)%n", cell, dt / 1e3 / n, wall / 1e3 / n);
            }
            s.close(); layer.close();
        }
    }
}
