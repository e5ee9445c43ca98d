package org.rnn4j.engine;

/**
 * The element-wise functions of {@link Engine#pointwise}, each {@code dst[i] = f(x[i], y[i mod period])}. The codes
 * are those of {@code kernels/tensor.cu}'s {@code PointwiseOp}; tanh and σ are the cells' own ({@code CpuCells},
 * {@code tanhf} / {@code sigmoidf} in the kernels), so a layer and an attention step round alike.
 */
public enum Pointwise {
    /** {@code x + y}. */
    ADD(0),
    /** {@code x · y} (also the backward of a product: {@code dA = dC · B}). */
    MUL(1),
    /** {@code tanh x}; y is not read. */
    TANH(2),
    /** {@code σ(x) = 1 / (1 + e^−x)}; y is not read. */
    SIGMOID(3),
    /** The backward of tanh from its output: {@code y · (1 − x²)} with {@code x = tanh(·)}, {@code y} the gradient. */
    TANH_GRAD(4),
    /** The backward of σ from its output: {@code y · x · (1 − x)} with {@code x = σ(·)}, {@code y} the gradient. */
    SIGMOID_GRAD(5);

    /** The kernel's op code. */
    public final int code;

    Pointwise(int code) {
        this.code = code;
    }

    /** Whether f reads y. */
    public boolean binary() {
        return this != TANH && this != SIGMOID;
    }
}
