package org.rnn4j.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.rnn4j.Device;

/** The dates demo, shortened (300 steps, 2000 requests): it learns the held-out dates and draws the attention map. */
class DatesDemoTest {

    @Test
    void learnsToNormaliseHeldOutDatesAndDrawsTheAttention(@TempDir Path dir) throws Exception {
        DatesDemo.Result r = DatesDemo.run(new DatesDemo.Options().device(Device.cpu()).examples(2000).epochs(14)
                .hidden(48).outDir(dir), null);
        assertTrue(r.exactMatch() >= 0.9, "greedy exact match " + r.exactMatch());
        assertTrue(r.beamExactMatch() >= 0.9, "beam exact match " + r.beamExactMatch());
        assertEquals(400, r.testExamples());
        assertTrue(r.heldOutTemplateExactMatch() >= 0 && r.heldOutTemplateExactMatch() <= 1);
        assertTrue(Files.size(r.attentionMap()) > 500, "a PNG was written");
    }

    @Test
    void everyTemplateRendersAsSourceCharactersAndTheTargetIsIso() {
        SplittableRandom rnd = new SplittableRandom(1);
        for (int i = 0; i < 200; i++) {
            LocalDate d = LocalDate.of(1950 + i % 100, 1 + i % 12, 1 + i % 28);
            String[] p = DatesDemo.render(d, rnd, i % DatesDemo.TEMPLATES.size());
            DatesDemo.sourceIds(p[0]);   // throws on a character outside the source alphabet
            assertEquals(d.toString(), DatesDemo.text(DatesDemo.targetIds(p[1])));
        }
    }
}
