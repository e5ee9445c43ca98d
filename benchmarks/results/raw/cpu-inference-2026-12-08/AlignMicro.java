package org.rnn4j.cpu;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.reflect.Method;

/**
 * The Vector API kernel's 12 x 2 panel tile (VectorGemmKernel.panel12x2, called through a method handle) alone: 84
 * groups of 12 packed rows at k = 256 against 32 strips (1 MiB), the strips read from float offset 0, 4, 8 or 12 of
 * one array, so that one of the four makes the 64-byte loads line-aligned (which one depends on where the JVM put
 * the array). Gfma/s per round, one core. In the library's package: javac --add-modules jdk.incubator.vector -cp
 * target/classes -d /tmp/am AlignMicro.java; taskset -c 0 java --add-modules jdk.incubator.vector -cp
 * target/classes:/tmp/am org.rnn4j.cpu.AlignMicro.
 */
public class AlignMicro {
    static final MethodHandle TILE;
    static {
        try {
            Method m = VectorGemmKernel.class.getDeclaredMethod("panel12x2", int.class, float[].class, int.class,
                    float[].class, int.class, float[].class, int.class, int.class);
            m.setAccessible(true);
            TILE = MethodHandles.lookup().unreflect(m);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    public static void main(String[] a) throws Throwable {
        int k = 256, groups = 84, strips = 32, st = 32;   // st: the strip width, two 16-float vectors
        float[] ap = new float[groups * 12 * k + 64], fp = new float[strips * st * k + 64];
        float[] z = new float[groups * 12 * strips * st + 64];
        for (int i = 0; i < ap.length; i++) ap[i] = (float) Math.sin(i);
        for (int i = 0; i < fp.length; i++) fp[i] = (float) Math.cos(i);
        for (int round = 0; round < 12; round++) {
            for (int off = 0; off < 16; off += 4) {
                long t0 = System.nanoTime(), fm = 0;
                for (int rep = 0; rep < 6; rep++) {
                    for (int g = 0; g < groups; g++) {
                        for (int x = 0; x < strips; x++) {
                            TILE.invokeExact(k, ap, g * 12 * k, fp, off + x * st * k, z, g * 12 * strips * st + x * st,
                                    strips * st);
                            fm += 12L * st * k;
                        }
                    }
                }
                double s = (System.nanoTime() - t0) / 1e9;
                if (round >= 3) System.out.printf("off %2d: %.1f Gfma/s%n", off, fm / s / 1e9);
            }
        }
    }
}
