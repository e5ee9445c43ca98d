// CpuCellDump.java — dev tool, not part of the build: runs every fused cell step of the Java
// CpuEngine (the oracle) on seeded random buffers and writes inputs and results as text, for
// emulate_cells.cpp to replay through the kernel source on the CPU. See kernels/README.md.
import java.io.*;
import java.util.*;
import org.rnn4j.*;
import org.rnn4j.cpu.*;
import org.rnn4j.engine.*;

public class CpuCellDump {
    static Random rnd = new Random(7);
    static CpuEngine e = new CpuEngine(null);
    static PrintWriter w;
    static String[] NAMES = {"xp","hp","bih","bhh","peep","hPrev","hNext","cPrev","cNext","out","saved","dh","dc","dGx","dGh","dhPrev","tmp"};

    static float[] rand(int n, float s) { float[] a = new float[n]; for (int i = 0; i < n; i++) a[i] = (rnd.nextFloat() * 2 - 1) * s; return a; }
    static void arr(String tag, String name, float[] a) {
        StringBuilder sb = new StringBuilder(tag + " " + name + " " + a.length);
        for (float f : a) sb.append(' ').append(Integer.toHexString(Float.floatToRawIntBits(f)));
        w.println(sb);
    }
    static Buffer buf(float[] a) { Buffer b = e.allocate(DType.F32, a.length); e.upload(a, 0, b, 0, a.length); return b; }
    static float[] get(Buffer b, int n) { float[] a = new float[n]; e.download(b, 0, a, 0, n); return a; }

    static void cell(String kernel, int G, int B, int H, int step, int[] len, boolean bias, boolean peep, boolean hNextNull,
                     float clip, boolean coupled, boolean relu) {
        int outLd = H + 2;
        Map<String, float[]> in = new LinkedHashMap<>();
        int[] sizes = {B*G*H, B*G*H, G*H, G*H, 3*H, B*H, B*H, B*H, B*H, B*outLd, B*4*H, B*H, B*H, B*G*H, B*G*H, B*H, B*H};
        for (int k = 0; k < NAMES.length; k++) {
            float s = NAMES[k].equals("saved") ? 0.99f : 1.5f;
            in.put(NAMES[k], rand(sizes[k], s));
        }
        if (!bias) { in.remove("bih"); in.remove("bhh"); }
        if (!peep) in.remove("peep");
        if (hNextNull) in.remove("hNext");
        StepArgs a = new StepArgs();
        a.batch = B; a.hidden = H; a.step = step; a.cellClip = clip; a.coupled = coupled; a.relu = relu; a.outLd = outLd;
        Map<String, Buffer> bufs = new LinkedHashMap<>();
        for (var en : in.entrySet()) bufs.put(en.getKey(), buf(en.getValue()));
        if (len != null) { a.lengths = e.allocate(DType.I32, B); e.upload(len, 0, a.lengths, 0, B); }
        a.xp = bufs.get("xp"); a.hp = bufs.get("hp"); a.bih = bufs.get("bih"); a.bhh = bufs.get("bhh"); a.peep = bufs.get("peep");
        a.hPrev = bufs.get("hPrev"); a.hNext = bufs.get("hNext"); a.cPrev = bufs.get("cPrev"); a.cNext = bufs.get("cNext");
        a.out = bufs.get("out"); a.saved = bufs.get("saved"); a.dh = bufs.get("dh"); a.dc = bufs.get("dc");
        a.dGx = bufs.get("dGx"); a.dGh = bufs.get("dGh"); a.dhPrev = bufs.get("dhPrev"); a.tmp = bufs.get("tmp");
        switch (kernel) {
            case "lstm_forward" -> e.lstmForward(a);
            case "lstm_backward" -> e.lstmBackward(a);
            case "gru_forward" -> e.gruForward(a);
            case "gru_backward" -> e.gruBackward(a);
            case "gru_rb_gates" -> e.gruResetBeforeGates(a);
            case "gru_rb_output" -> e.gruResetBeforeOutput(a);
            case "gru_rb_backward_output" -> e.gruResetBeforeBackwardOutput(a);
            case "gru_rb_backward_gates" -> e.gruResetBeforeBackwardGates(a);
            case "rnn_forward" -> e.rnnForward(a);
            case "rnn_backward" -> e.rnnBackward(a);
            default -> throw new IllegalArgumentException(kernel);
        }
        StringBuilder h = new StringBuilder("case " + kernel + " " + B + " " + H + " " + step + " " + outLd + " "
            + Integer.toHexString(Float.floatToRawIntBits(clip)) + " " + (coupled ? 1 : 0) + " " + (relu ? 1 : 0) + " " + (len == null ? 0 : 1));
        if (len != null) for (int l : len) h.append(' ').append(l);
        w.println(h);
        for (var en : in.entrySet()) arr("in", en.getKey(), en.getValue());
        for (var en : in.entrySet()) arr("want", en.getKey(), get(bufs.get(en.getKey()), en.getValue().length));
        w.println("end");
    }

    static int[] lens70() { int[] l = new int[70]; for (int i = 0; i < 70; i++) l[i] = 1 + i % 3; return l; }
    public static void main(String[] args) throws Exception {
        w = new PrintWriter(new FileWriter(args[0]));
        String[] kernels = {"lstm_forward","lstm_backward","gru_forward","gru_backward","gru_rb_gates","gru_rb_output",
                            "gru_rb_backward_output","gru_rb_backward_gates","rnn_forward","rnn_backward"};
        int[] gates = {4,4,3,3,3,3,3,3,1,1};
        for (int k = 0; k < kernels.length; k++) {
            int G = gates[k];
            cell(kernels[k], G, 3, 5, 0, null, true, false, false, 0f, false, false);
            cell(kernels[k], G, 4, 33, 2, new int[]{2, 4, 1, 3}, true, true, false, 0.7f, false, true);
            cell(kernels[k], G, 1, 1, 0, null, false, true, !kernels[k].contains("backward"), 0f, true, false);
            cell(kernels[k], G, 70, 9, 1, lens70(), true, true, false, 0.5f, true, true); // all lengths 0 -> invalid? fixed below
        }
        w.close();
    }
}
