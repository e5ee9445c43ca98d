package org.rnn4j.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.rnn4j.Device;

class SlotsDemoTest {

    @Test
    void spansFollowConlleval() {
        assertEquals(List.of("from_city@1-3", "depart_date@4-5"),
                SlotsDemo.spans(List.of("O", "B-from_city", "I-from_city", "O", "B-depart_date")));
        assertEquals(List.of("to_city@0-1", "to_city@1-2"), SlotsDemo.spans(List.of("B-to_city", "B-to_city")));
        assertEquals(List.of("to_city@1-2"), SlotsDemo.spans(List.of("O", "I-to_city")));
    }

    @Test
    void aSmallRunTagsHeldOutSentencesWell() {
        SlotsDemo.Result r = SlotsDemo.run(new SlotsDemo.Options().sentences(1000).epochs(5).hidden(32)
                .device(Device.cpu()), null);
        // a majority-tag baseline (all O) scores F1 0; the templates need context on both sides
        assertTrue(r.f1().get("all") > 0.9, r::toString);
        assertEquals(200, r.testSentences());
    }
}
