package org.rnn4j.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/** A/B of panel-product loop orders, interleaved call by call, one JVM. Args: rows K blocks rounds. */
public class GemmAB {
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();

    static FloatVector load(float[] a, int i) { return FloatVector.fromArray(S, a, i); }

    // variant 0: row groups outer (as main)
    static void v0(int rows, int k, float[] packed, float[][] panel, int width, float[] z, int ldz) {
        for (int r = 0; r + 12 <= rows; r += 12)
            for (int x = 0; x < width; x += 2 * L) p12(0, k, packed, r * k, panel, x, z, r * ldz + x, ldz, false);
    }
    // variant 1: column pairs outer
    static void v1(int rows, int k, float[] packed, float[][] panel, int width, float[] z, int ldz) {
        for (int x = 0; x < width; x += 2 * L)
            for (int r = 0; r + 12 <= rows; r += 12) p12(0, k, packed, r * k, panel, x, z, r * ldz + x, ldz, false);
    }
    static int KC = Integer.getInteger("kc", 128);
    // variant 2: K chunks, column pairs, row groups
    static void v2(int rows, int k, float[] packed, float[][] panel, int width, float[] z, int ldz) {
        for (int p0 = 0; p0 < k; p0 += KC) {
            int p1 = Math.min(k, p0 + KC);
            for (int x = 0; x < width; x += 2 * L)
                for (int r = 0; r + 12 <= rows; r += 12) p12(p0, p1, packed, r * k, panel, x, z, r * ldz + x, ldz, p0 > 0);
        }
    }

    static void p12(int p0, int p1, float[] ap, int ao, float[][] panel, int x, float[] z, int zo, int ldz, boolean acc) {
        FloatVector c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71, c80, c81, c90, c91, ca0, ca1, cb0, cb1;
        if (acc) {
            int o = zo;
            c00 = load(z, o); c01 = load(z, o + L); o += ldz; c10 = load(z, o); c11 = load(z, o + L); o += ldz;
            c20 = load(z, o); c21 = load(z, o + L); o += ldz; c30 = load(z, o); c31 = load(z, o + L); o += ldz;
            c40 = load(z, o); c41 = load(z, o + L); o += ldz; c50 = load(z, o); c51 = load(z, o + L); o += ldz;
            c60 = load(z, o); c61 = load(z, o + L); o += ldz; c70 = load(z, o); c71 = load(z, o + L); o += ldz;
            c80 = load(z, o); c81 = load(z, o + L); o += ldz; c90 = load(z, o); c91 = load(z, o + L); o += ldz;
            ca0 = load(z, o); ca1 = load(z, o + L); o += ldz; cb0 = load(z, o); cb1 = load(z, o + L);
        } else {
            c00 = FloatVector.zero(S); c01 = c00; c10 = c00; c11 = c00; c20 = c00; c21 = c00; c30 = c00; c31 = c00;
            c40 = c00; c41 = c00; c50 = c00; c51 = c00; c60 = c00; c61 = c00; c70 = c00; c71 = c00;
            c80 = c00; c81 = c00; c90 = c00; c91 = c00; ca0 = c00; ca1 = c00; cb0 = c00; cb1 = c00;
        }
        for (int p = p0, q = ao + p0 * 12; p < p1; p++, q += 12) {
            float[] row = panel[p];
            FloatVector b0 = load(row, x), b1 = load(row, x + L);
            FloatVector v;
            v = FloatVector.broadcast(S, ap[q]); c00 = v.fma(b0, c00); c01 = v.fma(b1, c01);
            v = FloatVector.broadcast(S, ap[q + 1]); c10 = v.fma(b0, c10); c11 = v.fma(b1, c11);
            v = FloatVector.broadcast(S, ap[q + 2]); c20 = v.fma(b0, c20); c21 = v.fma(b1, c21);
            v = FloatVector.broadcast(S, ap[q + 3]); c30 = v.fma(b0, c30); c31 = v.fma(b1, c31);
            v = FloatVector.broadcast(S, ap[q + 4]); c40 = v.fma(b0, c40); c41 = v.fma(b1, c41);
            v = FloatVector.broadcast(S, ap[q + 5]); c50 = v.fma(b0, c50); c51 = v.fma(b1, c51);
            v = FloatVector.broadcast(S, ap[q + 6]); c60 = v.fma(b0, c60); c61 = v.fma(b1, c61);
            v = FloatVector.broadcast(S, ap[q + 7]); c70 = v.fma(b0, c70); c71 = v.fma(b1, c71);
            v = FloatVector.broadcast(S, ap[q + 8]); c80 = v.fma(b0, c80); c81 = v.fma(b1, c81);
            v = FloatVector.broadcast(S, ap[q + 9]); c90 = v.fma(b0, c90); c91 = v.fma(b1, c91);
            v = FloatVector.broadcast(S, ap[q + 10]); ca0 = v.fma(b0, ca0); ca1 = v.fma(b1, ca1);
            v = FloatVector.broadcast(S, ap[q + 11]); cb0 = v.fma(b0, cb0); cb1 = v.fma(b1, cb1);
        }
        c00.intoArray(z, zo); c01.intoArray(z, zo + L); zo += ldz; c10.intoArray(z, zo); c11.intoArray(z, zo + L); zo += ldz;
        c20.intoArray(z, zo); c21.intoArray(z, zo + L); zo += ldz; c30.intoArray(z, zo); c31.intoArray(z, zo + L); zo += ldz;
        c40.intoArray(z, zo); c41.intoArray(z, zo + L); zo += ldz; c50.intoArray(z, zo); c51.intoArray(z, zo + L); zo += ldz;
        c60.intoArray(z, zo); c61.intoArray(z, zo + L); zo += ldz; c70.intoArray(z, zo); c71.intoArray(z, zo + L); zo += ldz;
        c80.intoArray(z, zo); c81.intoArray(z, zo + L); zo += ldz; c90.intoArray(z, zo); c91.intoArray(z, zo + L); zo += ldz;
        ca0.intoArray(z, zo); ca1.intoArray(z, zo + L); zo += ldz; cb0.intoArray(z, zo); cb1.intoArray(z, zo + L);
    }

    static float[] packed8;
    static void v3(int rows, int k, float[] packed, float[][] panel, int width, float[] z, int ldz) {
        for (int r = 0; r + 8 <= rows; r += 8)
            for (int x = 0; x < width; x += 2 * L) p8(k, packed8, r * k, panel, x, z, r * ldz + x, ldz);
    }
    static void p8(int k, float[] ap, int ao, float[][] panel, int x, float[] z, int zo, int ldz) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00;
        FloatVector c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
        for (int p = 0, q = ao; p < k; p++, q += 8) {
            float[] row = panel[p];
            FloatVector b0 = load(row, x), b1 = load(row, x + L);
            FloatVector v;
            v = FloatVector.broadcast(S, ap[q]); c00 = v.fma(b0, c00); c01 = v.fma(b1, c01);
            v = FloatVector.broadcast(S, ap[q + 1]); c10 = v.fma(b0, c10); c11 = v.fma(b1, c11);
            v = FloatVector.broadcast(S, ap[q + 2]); c20 = v.fma(b0, c20); c21 = v.fma(b1, c21);
            v = FloatVector.broadcast(S, ap[q + 3]); c30 = v.fma(b0, c30); c31 = v.fma(b1, c31);
            v = FloatVector.broadcast(S, ap[q + 4]); c40 = v.fma(b0, c40); c41 = v.fma(b1, c41);
            v = FloatVector.broadcast(S, ap[q + 5]); c50 = v.fma(b0, c50); c51 = v.fma(b1, c51);
            v = FloatVector.broadcast(S, ap[q + 6]); c60 = v.fma(b0, c60); c61 = v.fma(b1, c61);
            v = FloatVector.broadcast(S, ap[q + 7]); c70 = v.fma(b0, c70); c71 = v.fma(b1, c71);
        }
        c00.intoArray(z, zo); c01.intoArray(z, zo + L); zo += ldz; c10.intoArray(z, zo); c11.intoArray(z, zo + L); zo += ldz;
        c20.intoArray(z, zo); c21.intoArray(z, zo + L); zo += ldz; c30.intoArray(z, zo); c31.intoArray(z, zo + L); zo += ldz;
        c40.intoArray(z, zo); c41.intoArray(z, zo + L); zo += ldz; c50.intoArray(z, zo); c51.intoArray(z, zo + L); zo += ldz;
        c60.intoArray(z, zo); c61.intoArray(z, zo + L); zo += ldz; c70.intoArray(z, zo); c71.intoArray(z, zo + L);
    }
    static void v5(int rows, int k, float[] packed, float[][] panel, int width, float[] z, int ldz) {
        for (int p0 = 0; p0 < k; p0 += KC) {
            int p1 = Math.min(k, p0 + KC);
            for (int x = 0; x < width; x += 2 * L)
                for (int r = 0; r + 8 <= rows; r += 8) p8c(p0, p1, packed8, r * k, panel, x, z, r * ldz + x, ldz, p0 > 0);
        }
    }
    static void p8c(int p0, int p1, float[] ap, int ao, float[][] panel, int x, float[] z, int zo, int ldz, boolean acc) {
        FloatVector c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71;
        if (acc) {
            int o = zo;
            c00 = load(z, o); c01 = load(z, o + L); o += ldz; c10 = load(z, o); c11 = load(z, o + L); o += ldz;
            c20 = load(z, o); c21 = load(z, o + L); o += ldz; c30 = load(z, o); c31 = load(z, o + L); o += ldz;
            c40 = load(z, o); c41 = load(z, o + L); o += ldz; c50 = load(z, o); c51 = load(z, o + L); o += ldz;
            c60 = load(z, o); c61 = load(z, o + L); o += ldz; c70 = load(z, o); c71 = load(z, o + L);
        } else {
            c00 = FloatVector.zero(S); c01 = c00; c10 = c00; c11 = c00; c20 = c00; c21 = c00; c30 = c00; c31 = c00;
            c40 = c00; c41 = c00; c50 = c00; c51 = c00; c60 = c00; c61 = c00; c70 = c00; c71 = c00;
        }
        for (int p = p0, q = ao + p0 * 8; p < p1; p++, q += 8) {
            float[] row = panel[p];
            FloatVector b0 = load(row, x), b1 = load(row, x + L);
            FloatVector v;
            v = FloatVector.broadcast(S, ap[q]); c00 = v.fma(b0, c00); c01 = v.fma(b1, c01);
            v = FloatVector.broadcast(S, ap[q + 1]); c10 = v.fma(b0, c10); c11 = v.fma(b1, c11);
            v = FloatVector.broadcast(S, ap[q + 2]); c20 = v.fma(b0, c20); c21 = v.fma(b1, c21);
            v = FloatVector.broadcast(S, ap[q + 3]); c30 = v.fma(b0, c30); c31 = v.fma(b1, c31);
            v = FloatVector.broadcast(S, ap[q + 4]); c40 = v.fma(b0, c40); c41 = v.fma(b1, c41);
            v = FloatVector.broadcast(S, ap[q + 5]); c50 = v.fma(b0, c50); c51 = v.fma(b1, c51);
            v = FloatVector.broadcast(S, ap[q + 6]); c60 = v.fma(b0, c60); c61 = v.fma(b1, c61);
            v = FloatVector.broadcast(S, ap[q + 7]); c70 = v.fma(b0, c70); c71 = v.fma(b1, c71);
        }
        c00.intoArray(z, zo); c01.intoArray(z, zo + L); zo += ldz; c10.intoArray(z, zo); c11.intoArray(z, zo + L); zo += ldz;
        c20.intoArray(z, zo); c21.intoArray(z, zo + L); zo += ldz; c30.intoArray(z, zo); c31.intoArray(z, zo + L); zo += ldz;
        c40.intoArray(z, zo); c41.intoArray(z, zo + L); zo += ldz; c50.intoArray(z, zo); c51.intoArray(z, zo + L); zo += ldz;
        c60.intoArray(z, zo); c61.intoArray(z, zo + L); zo += ldz; c70.intoArray(z, zo); c71.intoArray(z, zo + L);
    }

    static float[][] flat;
    static void vf12(int rows, int k, float[] packed, float[][] panel, int width, float[] z, int ldz) {
        float[] f = flatOf(panel, width);
        for (int r = 0; r + 12 <= rows; r += 12)
            for (int x = 0; x < width; x += 2 * L) f12(k, packed, r * k, f, width, x, z, r * ldz + x, ldz);
    }
    static java.util.IdentityHashMap<float[][], float[]> FL = new java.util.IdentityHashMap<>();
    static float[] flatOf(float[][] panel, int width) {
        return FL.computeIfAbsent(panel, pp -> { float[] f = new float[pp.length * width];
            for (int i = 0; i < pp.length; i++) System.arraycopy(pp[i], 0, f, i * width, width); return f; });
    }
    static void f12(int k, float[] ap, int ao, float[] pf, int width, int x, float[] z, int zo, int ldz) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00;
        FloatVector c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
        FloatVector c80 = c00, c81 = c00, c90 = c00, c91 = c00, ca0 = c00, ca1 = c00, cb0 = c00, cb1 = c00;
        for (int p = 0; p < k; p++) {
            int q = ao + p * 12, o = p * width + x;
            FloatVector b0 = load(pf, o), b1 = load(pf, o + L);
            FloatVector v;
            v = FloatVector.broadcast(S, ap[q]); c00 = v.fma(b0, c00); c01 = v.fma(b1, c01);
            v = FloatVector.broadcast(S, ap[q + 1]); c10 = v.fma(b0, c10); c11 = v.fma(b1, c11);
            v = FloatVector.broadcast(S, ap[q + 2]); c20 = v.fma(b0, c20); c21 = v.fma(b1, c21);
            v = FloatVector.broadcast(S, ap[q + 3]); c30 = v.fma(b0, c30); c31 = v.fma(b1, c31);
            v = FloatVector.broadcast(S, ap[q + 4]); c40 = v.fma(b0, c40); c41 = v.fma(b1, c41);
            v = FloatVector.broadcast(S, ap[q + 5]); c50 = v.fma(b0, c50); c51 = v.fma(b1, c51);
            v = FloatVector.broadcast(S, ap[q + 6]); c60 = v.fma(b0, c60); c61 = v.fma(b1, c61);
            v = FloatVector.broadcast(S, ap[q + 7]); c70 = v.fma(b0, c70); c71 = v.fma(b1, c71);
            v = FloatVector.broadcast(S, ap[q + 8]); c80 = v.fma(b0, c80); c81 = v.fma(b1, c81);
            v = FloatVector.broadcast(S, ap[q + 9]); c90 = v.fma(b0, c90); c91 = v.fma(b1, c91);
            v = FloatVector.broadcast(S, ap[q + 10]); ca0 = v.fma(b0, ca0); ca1 = v.fma(b1, ca1);
            v = FloatVector.broadcast(S, ap[q + 11]); cb0 = v.fma(b0, cb0); cb1 = v.fma(b1, cb1);
        }
        c00.intoArray(z, zo); c01.intoArray(z, zo + L); zo += ldz; c10.intoArray(z, zo); c11.intoArray(z, zo + L); zo += ldz;
        c20.intoArray(z, zo); c21.intoArray(z, zo + L); zo += ldz; c30.intoArray(z, zo); c31.intoArray(z, zo + L); zo += ldz;
        c40.intoArray(z, zo); c41.intoArray(z, zo + L); zo += ldz; c50.intoArray(z, zo); c51.intoArray(z, zo + L); zo += ldz;
        c60.intoArray(z, zo); c61.intoArray(z, zo + L); zo += ldz; c70.intoArray(z, zo); c71.intoArray(z, zo + L); zo += ldz;
        c80.intoArray(z, zo); c81.intoArray(z, zo + L); zo += ldz; c90.intoArray(z, zo); c91.intoArray(z, zo + L); zo += ldz;
        ca0.intoArray(z, zo); ca1.intoArray(z, zo + L); zo += ldz; cb0.intoArray(z, zo); cb1.intoArray(z, zo + L);
    }
    // 6 rows x 4 vectors (24 acc), A k-major groups of 6 via packed8 reuse (first 6 of 8)
    static void v4(int rows, int k, float[] packed, float[][] panel, int width, float[] z, int ldz) {
        for (int r = 0; r + 8 <= rows; r += 8)
            for (int x = 0; x < width; x += 4 * L) { p4x4(k, packed8, r * k, 8, panel, x, z, r * ldz + x, ldz); p4x4(k, packed8, r * k + 4, 8, panel, x, z, (r + 4) * ldz + x, ldz); }
    }
    static void p4x4(int k, float[] ap, int ao, int st, float[][] panel, int x, float[] z, int zo, int ldz) {
        FloatVector c00 = FloatVector.zero(S), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
        for (int p = 0, q = ao; p < k; p++, q += st) {
            float[] row = panel[p];
            FloatVector b0 = load(row, x), b1 = load(row, x + L), b2 = load(row, x + 2 * L), b3 = load(row, x + 3 * L);
            FloatVector v;
            v = FloatVector.broadcast(S, ap[q]); c00 = v.fma(b0, c00); c01 = v.fma(b1, c01); c02 = v.fma(b2, c02); c03 = v.fma(b3, c03);
            v = FloatVector.broadcast(S, ap[q + 1]); c10 = v.fma(b0, c10); c11 = v.fma(b1, c11); c12 = v.fma(b2, c12); c13 = v.fma(b3, c13);
            v = FloatVector.broadcast(S, ap[q + 2]); c20 = v.fma(b0, c20); c21 = v.fma(b1, c21); c22 = v.fma(b2, c22); c23 = v.fma(b3, c23);
            v = FloatVector.broadcast(S, ap[q + 3]); c30 = v.fma(b0, c30); c31 = v.fma(b1, c31); c32 = v.fma(b2, c32); c33 = v.fma(b3, c33);
        }
        int o1 = zo + ldz, o2 = zo + 2 * ldz, o3 = zo + 3 * ldz;
        c00.intoArray(z, zo); c01.intoArray(z, zo + L); c02.intoArray(z, zo + 2 * L); c03.intoArray(z, zo + 3 * L);
        c10.intoArray(z, o1); c11.intoArray(z, o1 + L); c12.intoArray(z, o1 + 2 * L); c13.intoArray(z, o1 + 3 * L);
        c20.intoArray(z, o2); c21.intoArray(z, o2 + L); c22.intoArray(z, o2 + 2 * L); c23.intoArray(z, o2 + 3 * L);
        c30.intoArray(z, o3); c31.intoArray(z, o3 + L); c32.intoArray(z, o3 + 2 * L); c33.intoArray(z, o3 + 3 * L);
    }

    interface V { void run(int rows, int k, float[] packed, float[][] panel, int width, float[] z, int ldz); }

    public static void main(String[] a) {
        int rows = Integer.parseInt(a[0]), K = Integer.parseInt(a[1]), blocks = Integer.parseInt(a[2]), rounds = Integer.parseInt(a[3]);
        int width = 128;
        java.util.Random rnd = new java.util.Random(1);
        float[][][] pan = new float[blocks][K][width];
        for (float[][] b : pan) for (float[] r : b) for (int i = 0; i < width; i++) r[i] = rnd.nextFloat() - 0.5f;
        float[] packed = new float[rows * K];
        for (int i = 0; i < packed.length; i++) packed[i] = rnd.nextFloat() - 0.5f;
        V[] vs = {GemmAB::v0, GemmAB::vf12, GemmAB::v3};
        // the same rows, k-major in groups of 8 (v3, v4), from packed's 12-groups
        packed8 = new float[rows * K];
        for (int r = 0; r < rows; r++) for (int p = 0; p < K; p++) { int g12 = r / 12 * 12, g8 = r / 8 * 8;
            packed8[g8 * K + p * 8 + (r - g8)] = packed[g12 * K + p * 12 + (r - g12)]; }
        float[][] zs = new float[vs.length][rows * width];
        int reps = Math.max(1, (int) (2e7 / ((double) rows * K * width * blocks)));
        double[][] t = new double[vs.length][rounds];
        for (int r = 0; r < rounds + 5; r++) {
            for (int v = 0; v < vs.length; v++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < reps; i++) for (int b = 0; b < blocks; b++) vs[v].run(rows, K, packed, pan[b], width, zs[v], width);
                double gf = (double) rows * K * width * blocks * reps / (System.nanoTime() - t0);
                if (r >= 5) t[v][r - 5] = gf;
            }
        }
        for (int v = 1; v < vs.length; v++) if (!java.util.Arrays.equals(zs[0], zs[v])) System.out.println("v" + v + " DIFFERS");
        StringBuilder sb = new StringBuilder(String.format("rows %d K %d blocks %d (%d KB):", rows, K, blocks, K * width * 4 * blocks / 1024));
        for (int v = 0; v < vs.length; v++) { double[] s = t[v].clone(); java.util.Arrays.sort(s);
            sb.append(String.format("  v%d med %.1f max %.1f", v, s[s.length / 2], s[s.length - 1])); }
        System.out.println(sb);
    }
}
