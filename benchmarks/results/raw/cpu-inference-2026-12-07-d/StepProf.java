// Allocation / execution profile driver of the streaming step (JFR settings=profile): java --add-modules jdk.incubator.vector -Drnn4j.threads=1 -XX:StartFlightRecording=filename=s.jfr,settings=profile -cp .:target/classes StepProf STEPS WIDTH
import org.rnn4j.*;
public class StepProf {
    public static void main(String[] a) throws Exception {
        Device cpu = Device.cpu();
        RecurrentLayer layer = Lstm.builder(Integer.parseInt(a[1]), Integer.parseInt(a[1])).seed(1).build(cpu);
        layer.eval();
        float[] xs = new float[Integer.parseInt(a[1])];
        for (int i = 0; i < xs.length; i++) xs[i] = (float) Math.sin(i);
        Tensor x = Tensor.of(cpu, xs, 1, 1, xs.length);
        RecurrentStream s = layer.stream(1);
        long t0 = System.nanoTime();
        for (int i = 0; i < Integer.parseInt(a[0]); i++) s.step(x).close();
        System.out.println((System.nanoTime() - t0) / 1e3 / Integer.parseInt(a[0]) + " us/step");
    }
}
