package org.rnn4j.cuda;

/**
 * The column-major {@code cublasSgemm} call that computes a row-major product.
 *
 * <p>The engine's contract is row-major: {@code C[m,n] = α·op(A)[m,k]·op(B)[k,n] + β·C}, each
 * matrix stored with rows {@code ld} elements apart. cuBLAS is column-major. A row-major
 * {@code R×S} matrix with leading dimension {@code ld} is, read column-major with the same
 * {@code ld}, its transpose {@code S×R}. So cuBLAS, handed C's memory, sees {@code Cᵀ [n,m]},
 * and we ask it for
 * <pre>
 *   Cᵀ = α·(op(A)·op(B))ᵀ + β·Cᵀ = α·op(B)ᵀ·op(A)ᵀ + β·Cᵀ
 * </pre>
 * Handed B's memory, cuBLAS sees the transpose of what is stored: stored {@code [k,n]}
 * (no transB) it sees {@code Bᵀ = op(B)ᵀ}, so no transpose is needed; stored {@code [n,k]}
 * (transB, {@code op(B) = stored ᵀ}) it sees {@code stored ᵀ = op(B)} and must transpose it to get
 * {@code op(B)ᵀ}. The same holds for A. Hence: first operand B with {@code opB}, second operand A
 * with {@code opA}, the flags unchanged, {@code m' = n}, {@code n' = m}, {@code k' = k}, and every
 * leading dimension as given.
 *
 * <p>Fields: {@code opFirst}, {@code ldFirst} belong to the first cuBLAS operand (B's memory),
 * {@code opSecond}, {@code ldSecond} to the second (A's memory); {@code m, n, k} are cuBLAS's.
 */
record ColumnMajorGemm(int opFirst, int opSecond, int m, int n, int k, int ldFirst, int ldSecond, int ldc) {

    static ColumnMajorGemm of(boolean transA, boolean transB, int m, int n, int k, int lda, int ldb, int ldc) {
        return new ColumnMajorGemm(
                transB ? CublasBinding.OP_T : CublasBinding.OP_N,
                transA ? CublasBinding.OP_T : CublasBinding.OP_N,
                n, m, k, ldb, lda, ldc);
    }
}
