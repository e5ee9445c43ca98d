package org.rnn4j.demo;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A character vocabulary: id 0 is {@code <unk>} (characters seen fewer than {@code minCount}
 * times in the training text, or never), then the kept characters by falling frequency (ties in
 * code-point order). It serialises to a plain string of its characters, so a checkpoint can carry it.
 */
public final class CharVocab {

    /** How {@code <unk>} is shown in generated text. */
    public static final char UNK_GLYPH = '□';

    private final String chars;
    private final int[] codePoints; // codePoints[i - 1] is id i
    private final Map<Integer, Integer> ids = new HashMap<>();

    private CharVocab(String chars) {
        this.chars = chars;
        int[] cps = chars.codePoints().toArray();
        this.codePoints = cps;
        for (int i = 0; i < cps.length; i++) {
            ids.put(cps[i], i + 1);
        }
    }

    /** Builds the vocabulary from training text, keeping characters seen at least {@code minCount} times. */
    public static CharVocab build(String trainingText, int minCount) {
        Map<Integer, Integer> counts = new TreeMap<>();
        trainingText.codePoints().forEach(c -> counts.merge(c, 1, Integer::sum));
        List<Map.Entry<Integer, Integer>> kept = new ArrayList<>();
        for (Map.Entry<Integer, Integer> e : counts.entrySet()) {
            if (e.getValue() >= minCount) {
                kept.add(e);
            }
        }
        kept.sort((a, b) -> b.getValue().equals(a.getValue()) ? Integer.compare(a.getKey(), b.getKey())
                : Integer.compare(b.getValue(), a.getValue()));
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<Integer, Integer> e : kept) {
            sb.appendCodePoint(e.getKey());
        }
        return new CharVocab(sb.toString());
    }

    /** The vocabulary written by {@link #serialize()}. */
    public static CharVocab deserialize(String chars) {
        return new CharVocab(chars);
    }

    /** The kept characters in id order (id 0, {@code <unk>}, is implicit). */
    public String serialize() {
        return chars;
    }

    /** Number of ids, {@code <unk>} included. */
    public int size() {
        return ids.size() + 1;
    }

    public int id(int codePoint) {
        return ids.getOrDefault(codePoint, 0);
    }

    public int[] encode(String text) {
        return text.codePoints().map(this::id).toArray();
    }

    public String decode(int id) {
        if (id <= 0) {
            return String.valueOf(UNK_GLYPH);
        }
        return new String(Character.toChars(codePoints[id - 1]));
    }

    public String decode(int[] idsToDecode) {
        StringBuilder sb = new StringBuilder();
        for (int id : idsToDecode) {
            sb.append(decode(id));
        }
        return sb.toString();
    }

    /** The characters of {@code text} that are not in the vocabulary (mapped to {@code <unk>}). */
    public List<String> unknown(String text) {
        List<String> out = new ArrayList<>();
        text.codePoints().filter(c -> !ids.containsKey(c)).forEach(c -> out.add(new String(Character.toChars(c))));
        return Collections.unmodifiableList(out);
    }
}
