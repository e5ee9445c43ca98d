package org.rnn4j.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rnn4j.Device;

/**
 * A {@link Seq2Seq} used by a second thread while one is in a call: the second call fails by name, as a
 * {@link SequenceModel}'s does, before it touches the shared layers; a call nested on the same thread (a fit callback
 * that translates) is fine, and the model is usable again once the first call returns.
 */
class Seq2SeqConcurrentUseTest {

    @Test
    void aCallOverlappingAnotherThreadsFitIsRefusedNamingBoth(@TempDir Path dir) throws Exception {
        Random rnd = new Random(1);
        List<int[]> src = Seq2SeqTest.randomSequences(rnd, 32, 2, 5);
        List<int[]> tgt = src.stream().map(Seq2SeqTest::reversed).toList();
        CountDownLatch inFit = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        AtomicReference<Throwable> fitFailure = new AtomicReference<>();
        try (Seq2Seq model = Seq2SeqTest.reverser(Seq2Seq.Attention.GENERAL, true).build(Device.cpu())) {
            Callback holdFirstBatch = new Callback() {
                @Override
                public void onBatchBegin(TrainingRun run, int batch) {
                    if (batch == 1 && inFit.getCount() == 1) {
                        model.translate(src.subList(0, 2), 4);   // nested on fit's own thread: allowed
                        inFit.countDown();
                        try {
                            release.await();
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }
                }
            };
            Thread trainer = new Thread(() -> {
                try {
                    model.fit(SequenceDataset.sequenceToSequence(src, tgt), null,
                            new FitOptions().epochs(1).batchSize(8).callbacks(holdFirstBatch));
                } catch (Throwable t) {
                    fitFailure.set(t);
                }
            }, "seq2seq-trainer");
            trainer.start();
            inFit.await();
            String prefix = model + ": ";
            String running = "' while fit on thread 'seq2seq-trainer' is running; it is not thread-safe: give each thread "
                    + "its own, or synchronize the calls";
            String me = Thread.currentThread().getName();
            try {
                assertRefused(prefix + "decode on thread '" + me + running, () -> model.translate(src.subList(0, 2), 4));
                assertRefused(prefix + "decode on thread '" + me + running, () -> model.beamSearch(src.subList(0, 2), 2, 4, 0.6));
                assertRefused(prefix + "lossAndGradients on thread '" + me + running, () -> model.lossAndGradients(src, tgt));
                assertRefused(prefix + "evaluate on thread '" + me + running,
                        () -> model.evaluate(SequenceDataset.sequenceToSequence(src, tgt), 8));
                assertRefused(prefix + "save on thread '" + me + running, () -> model.save(dir.resolve("m.safetensors")));
                assertRefused(prefix + "zeroGrad on thread '" + me + running, model::zeroGrad);
                assertRefused(prefix + "resetTraining on thread '" + me + running, model::resetTraining);
                assertRefused(prefix + "close on thread '" + me + running, model::close);
            } finally {
                release.countDown();
                trainer.join();
            }
            assertNull(fitFailure.get(), () -> "fit failed: " + fitFailure.get());
            assertEquals(1, model.epochsTrained(), "the refused calls did not disturb fit");
            assertEquals(2, model.translate(src.subList(0, 2), 4).size(), "free again once fit returned");
        }
    }

    private static void assertRefused(String message, org.junit.jupiter.api.function.Executable call) {
        assertEquals(message, assertThrows(IllegalStateException.class, call).getMessage());
    }
}
