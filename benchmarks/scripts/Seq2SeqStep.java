import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.rnn4j.Device;
import org.rnn4j.Lstm;
import org.rnn4j.model.Seq2Seq;
import org.rnn4j.train.Adam;

/**
 * One Seq2Seq training step on the CPU engine (forward with teacher forcing, backward, Adam), the model of
 * seq2seq_step.py: source and target vocabularies of 40, embeddings 32, a bidirectional LSTM encoder of hidden
 * size 64 summed into an LSTM decoder of 64, Luong general attention; batch 32, sources of 20 tokens, targets of 12
 * (13 decoder steps with the end token). Prints the median and the other quantiles of the step times in ms.
 * Run by seq2seq-vs-torch.sh: java --add-modules jdk.incubator.vector -cp CLASSPATH Seq2SeqStep.java WARMUP STEPS
 */
public class Seq2SeqStep {
    public static void main(String[] args) {
        int warmup = Integer.parseInt(args[0]);
        int steps = Integer.parseInt(args[1]);
        int vocab = 40, batch = 32, sourceLength = 20, targetLength = 12;
        Random rnd = new Random(1);
        List<int[]> src = new ArrayList<>();
        List<int[]> tgt = new ArrayList<>();
        for (int i = 0; i < batch; i++) {
            src.add(rnd.ints(sourceLength, 2, vocab).toArray());
            tgt.add(rnd.ints(targetLength, 2, vocab).toArray());
        }
        try (Seq2Seq model = Seq2Seq.builder(vocab, vocab).encoder(Lstm.builder(32, 64).bidirectional(true))
                .decoder(Lstm.builder(32, 64)).attention(Seq2Seq.Attention.GENERAL).tokens(0, 1).build(Device.cpu());
             Adam adam = new Adam(List.of(model), 1e-3)) {
            double[] ms = new double[steps];
            double loss = 0;
            for (int s = -warmup; s < steps; s++) {
                long t0 = System.nanoTime();
                adam.zeroGrad();
                loss = model.lossAndGradients(src, tgt);
                adam.step();
                if (s >= 0) {
                    ms[s] = (System.nanoTime() - t0) / 1e6;
                }
            }
            Arrays.sort(ms);
            System.out.printf(java.util.Locale.ROOT, "rnn4j median %.2f ms (p10 %.2f, p90 %.2f) over %d steps, loss %.4f%n",
                    ms[steps / 2], ms[steps / 10], ms[steps * 9 / 10], steps, loss);
        }
    }
}
