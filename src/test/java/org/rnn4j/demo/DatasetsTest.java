package org.rnn4j.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class DatasetsTest {

    @Test
    void poemsKeepBodiesAndDropTitlesAndAuthors() {
        List<Datasets.Poem> poems = Datasets.tangPoems();
        assertTrue(poems.size() > 300, "poems: " + poems.size());
        Datasets.Poem first = poems.get(0);
        assertEquals("感遇・其一", first.title());
        assertEquals("张九龄", first.author());
        assertEquals("兰叶春葳蕤，桂华秋皎洁。", first.lines().get(0));
        for (Datasets.Poem p : poems) {
            for (String line : p.lines()) {
                // a preface may quote a title (聊为《剑器行》), but no line is a title or an author
                assertFalse(line.startsWith("作者："), p.title());
                assertFalse(line.startsWith("《") && line.endsWith("》"), p.title());
                assertFalse(line.isBlank(), p.title());
            }
        }
    }

    @Test
    void vocabularyMapsRareCharactersToUnkAndRoundTrips() {
        CharVocab v = CharVocab.build("春春春风风月", 2);
        assertEquals(3, v.size()); // <unk>, 春, 风
        assertEquals(1, v.id("春".codePointAt(0)));
        assertEquals(0, v.id("月".codePointAt(0)));
        assertEquals("春风" + CharVocab.UNK_GLYPH, v.decode(v.encode("春风月")));
        CharVocab back = CharVocab.deserialize(v.serialize());
        assertEquals(v.size(), back.size());
        assertEquals(List.of("月"), back.unknown("春月"));
    }
}
