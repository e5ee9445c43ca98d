package org.rnn4j.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;

/** A malformed {@code -Drnn4j.*} number is not ignored without a word: the default is used and a warning says so. */
class ThreadsPropertyTest {

    @Test
    void aMalformedPropertyWarnsNamingItAndItsValue() {
        List<LogRecord> records = new ArrayList<>();
        Handler h = new Handler() {
            @Override
            public void publish(LogRecord r) {
                records.add(r);
            }

            @Override
            public void flush() {
            }

            @Override
            public void close() {
            }
        };
        Logger log = Logger.getLogger("org.rnn4j.cpu");
        log.addHandler(h);
        System.setProperty("rnn4j.test.threads", "abc");
        try {
            assertEquals(3, CpuGemm.intProp("rnn4j.test.threads", 3));
        } finally {
            System.clearProperty("rnn4j.test.threads");
            log.removeHandler(h);
        }
        assertTrue(records.stream().anyMatch(r -> r.getLevel() == Level.WARNING
                && r.getMessage().contains("rnn4j.test.threads") && r.getMessage().contains("abc")), records::toString);
    }
}
