package org.rnn4j.cpu;

/**
 * The serial part of {@link CpuGemm}: {@code C[i0:i1, j0:j1] += op(A)[i0:i1, :] · op(B)[:, j0:j1] · alpha}
 * for one tile of C (beta already applied by the caller). Two implementations with the same arithmetic:
 * {@link ScalarGemmKernel} (plain Java, always available) and {@code VectorGemmKernel} (the JDK's Vector
 * API, loaded only when the JVM has {@code jdk.incubator.vector}). Both compute every element of C as
 * the same chain {@code c = fma(alpha·a[i,p], b[p,j], c)} for {@code p = 0, 1, ..., k-1} starting from C,
 * so their results agree bit for bit (the scalar kernel on a JVM without FMA intrinsics excepted, see
 * {@link ScalarGemmKernel}), whatever the tiling.
 */
interface GemmKernel {

    /** One line for {@code info} and benchmark output: which kernel, which vector shape. */
    String describe();

    /** Rows of C a parallel tile should be a multiple of (the micro-kernel's row count). */
    int rowAlign();

    /** Columns of C a parallel tile should be a multiple of (the micro-kernel's width). */
    int colAlign();

    /**
     * Columns of a {@link #panelProduct} panel must come in multiples of this; {@code 0} when the kernel has no
     * panel product (the plain-Java kernel without FMA intrinsics, whose rounding then differs from {@link #tile}'s).
     */
    int panelAlign();

    /**
     * Copies rows {@code a[aOff + r·lda .. + k]}, {@code r < rows}, into {@code packed} ({@code rows·k} floats) in the
     * layout {@link #panelProduct} reads: done once per step (or chunk of input rows) for the rows that every block's
     * product reads.
     */
    void packRows(int rows, int k, float[] a, int aOff, int lda, float[] packed);

    /**
     * How {@link #panelProduct} reads a panel: {@code 0}, as k row arrays ({@code panel[p]} is row p: the plain-Java
     * row kernel vectorises only over separate arrays); otherwise as one array of column strips this many floats
     * wide, each strip's k rows contiguous: element (p, x) at {@code (x / s)·s·k + p·s + x % s} of {@code panel[0]}.
     * The Vector API kernel then reads each strip at a constant stride: in its 8 x 2 loop C2 drops the per-load
     * bounds checks and the multiply that one row-major array of a variable width left (and row arrays about 25
     * scalar instructions per 24 fmas).
     */
    int panelStrip();

    /**
     * {@code z[zOff + r·ldz + x] = Σ_p a[r][p] · panel[p][x]} for {@code r < rows}, {@code x < width}, the rows of a as
     * {@link #packRows} left them in {@code packed}, each element the chain of {@link #tile}
     * from 0 (C zeroed, alpha 1), so the same bits as that product: the recurrent product of the inference path, on
     * weights packed once ({@code width} floats a row, a multiple of {@link #panelAlign()}; laid out as
     * {@link #panelStrip()} says) and reused for every step.
     */
    void panelProduct(int rows, int k, float[] packed, float[][] panel, int width, float[] z, int zOff, int ldz);

    void tile(boolean transA, boolean transB, int k, float alpha,
              float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
              float[] c, int cOff, int ldc, int i0, int i1, int j0, int j1);
}
