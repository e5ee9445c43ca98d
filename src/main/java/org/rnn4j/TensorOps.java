package org.rnn4j;

import java.util.Arrays;
import org.rnn4j.engine.Engine;
import org.rnn4j.engine.Pointwise;

/**
 * Tensor operations on either engine, device-resident (nothing goes through the host): the layout operations
 * (concatenate, split, slice, select, reshape, transpose of the leading axes), element-wise functions, a
 * softmax over the last axis masked to per-sample lengths and batched matrix products — what attention and
 * encoder–decoder models are built from — each with its backward, written once on {@link Engine} primitives.
 *
 * <p>Every function returns a new float32 tensor that the caller owns (and closes); inputs are never written,
 * except by the {@code add…Into} accumulators, which add a gradient into an existing one. Backward functions
 * take the forward's inputs or output as their names say and return the gradients of the inputs. Arguments
 * are checked before anything is queued: a violation is an {@link IllegalArgumentException} naming the
 * argument, what was expected and what was given.
 */
public final class TensorOps {
    private TensorOps() {
    }

    // ------------------------------------------------------------------ layout

    /**
     * Concatenates along {@code axis} (PyTorch's {@code torch.cat}): every part has the same shape except on
     * {@code axis}. Its backward is {@link #split} with the parts' sizes.
     */
    public static Tensor concat(int axis, Tensor... parts) {
        if (parts == null || parts.length == 0) {
            throw new IllegalArgumentException("parts: expected at least one tensor, got none");
        }
        Tensor first = parts[0];
        Checks.usable("parts[0]", first, first == null ? null : first.device());
        checkAxis("axis", axis, first.rank());
        int[] shape = first.shape();
        int total = 0;
        for (int i = 0; i < parts.length; i++) {
            Checks.usable("parts[" + i + "]", parts[i], first.device());
            int[] s = parts[i].shape();
            int along = s.length == shape.length ? s[axis] : -1;
            if (along >= 0) {
                s[axis] = shape[axis];
            }
            if (!Arrays.equals(s, shape)) {
                throw new IllegalArgumentException("parts[" + i + "]: expected shape " + Arrays.toString(shape)
                        + " except on axis " + axis + ", got " + Arrays.toString(parts[i].shape()));
            }
            total = Math.addExact(total, along);
        }
        shape[axis] = total;
        Tensor out = Tensor.uninitialized(first.device(), shape);
        long inner = inner(shape, axis);
        int outer = outer(shape, axis);
        long at = 0;
        for (Tensor p : parts) {
            int width = Math.toIntExact(p.dim(axis) * inner);
            copyBlock(first.engine(), outer, width, p, 0, width, out, at, Math.toIntExact(total * inner), false);
            at += width;
        }
        return out;
    }

    /** Splits along {@code axis} into parts of {@code sizes} (which add up to the axis' length); the backward of {@link #concat}. */
    public static Tensor[] split(Tensor x, int axis, int... sizes) {
        Checks.usable("x", x, x == null ? null : x.device());
        checkAxis("axis", axis, x.rank());
        if (sizes == null || sizes.length == 0) {
            throw new IllegalArgumentException("sizes: expected at least one size, got none");
        }
        long sum = 0;
        for (int i = 0; i < sizes.length; i++) {
            if (sizes[i] < 0) {
                throw new IllegalArgumentException("sizes[" + i + "]: expected a size >= 0, got " + sizes[i]);
            }
            sum += sizes[i];
        }
        if (sum != x.dim(axis)) {
            throw new IllegalArgumentException("sizes: expected sizes adding up to " + x.dim(axis) + " (axis " + axis
                    + " of " + Arrays.toString(x.shape()) + "), got " + Arrays.toString(sizes) + " = " + sum);
        }
        Tensor[] out = new Tensor[sizes.length];
        try {
            int start = 0;
            for (int i = 0; i < sizes.length; i++) {
                out[i] = slice(x, axis, start, sizes[i]);
                start += sizes[i];
            }
            return out;
        } catch (RuntimeException | Error e) {
            for (Tensor t : out) {
                if (t != null) {
                    t.close();
                }
            }
            throw e;
        }
    }

    /** {@code x[..., start : start + length, ...]} on {@code axis} (a copy); its backward is {@link #addSliceInto}. */
    public static Tensor slice(Tensor x, int axis, int start, int length) {
        Checks.usable("x", x, x == null ? null : x.device());
        checkAxis("axis", axis, x.rank());
        checkRange(x, axis, start, length);
        int[] shape = x.shape();
        shape[axis] = length;
        Tensor out = Tensor.uninitialized(x.device(), shape);
        long inner = inner(shape, axis);
        int width = Math.toIntExact(length * inner);
        copyBlock(x.engine(), outer(shape, axis), width, x, start * inner, Math.toIntExact(x.dim(axis) * inner),
                out, 0, width, false);
        return out;
    }

    /** The backward of {@link #slice}: {@code grad[..., start : start + d.dim(axis), ...] += d}. */
    public static void addSliceInto(Tensor grad, int axis, int start, Tensor d) {
        Checks.usable("grad", grad, grad == null ? null : grad.device());
        Checks.usable("d", d, grad.device());
        checkAxis("axis", axis, grad.rank());
        int[] expected = grad.shape();
        expected[axis] = d.rank() == grad.rank() ? d.dim(axis) : -1;
        if (!Arrays.equals(expected, d.shape())) {
            throw new IllegalArgumentException("d: expected the shape of grad " + Arrays.toString(grad.shape())
                    + " with any length on axis " + axis + ", got " + Arrays.toString(d.shape()));
        }
        checkRange(grad, axis, start, d.dim(axis));
        long inner = inner(expected, axis);
        int width = Math.toIntExact(d.dim(axis) * inner);
        copyBlock(grad.engine(), outer(expected, axis), width, d, 0, width, grad, start * inner,
                Math.toIntExact(grad.dim(axis) * inner), true);
        grad.bufferForWrite();
    }

    /** {@code x[index]} on the first axis (a time step of a time-major {@code [T, B, F]}), one rank lower. */
    public static Tensor select(Tensor x, int index) {
        Checks.usable("x", x, x == null ? null : x.device());
        if (x.rank() < 2) {
            throw new IllegalArgumentException("x: expected rank >= 2, got " + Arrays.toString(x.shape()));
        }
        checkRange(x, 0, index, 1);
        int[] shape = Arrays.copyOfRange(x.shape(), 1, x.rank());
        Tensor out = Tensor.uninitialized(x.device(), shape);
        x.engine().copy(x.buffer(), index * out.size(), out.buffer(), 0, out.size());
        return out;
    }

    /** The backward of {@link #select}: {@code grad[index] += d}. */
    public static void addSelectedInto(Tensor grad, int index, Tensor d) {
        Checks.usable("grad", grad, grad == null ? null : grad.device());
        Checks.usable("d", d, grad.device());
        int[] row = Arrays.copyOfRange(grad.shape(), 1, grad.rank());
        if (grad.rank() < 2 || !Arrays.equals(row, d.shape())) {
            throw new IllegalArgumentException("d: expected shape " + Arrays.toString(row) + " (grad "
                    + Arrays.toString(grad.shape()) + " without its first axis), got " + Arrays.toString(d.shape()));
        }
        checkRange(grad, 0, index, 1);
        grad.engine().axpby(d.size(), 1f, d.buffer(), 0, 1f, grad.bufferForWrite(), index * d.size());
    }

    /**
     * The same elements in a new shape (a copy; one dimension may be {@code -1}, inferred), as
     * {@code torch.reshape}. Its backward is a reshape back.
     */
    public static Tensor reshape(Tensor x, int... shape) {
        Checks.usable("x", x, x == null ? null : x.device());
        if (shape == null) {
            throw new IllegalArgumentException("shape: expected dimensions, got null");
        }
        int[] s = shape.clone();
        int inferred = -1;
        long known = 1;
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1 && inferred < 0) {
                inferred = i;
            } else if (s[i] < 0) {
                throw new IllegalArgumentException("shape: expected dimensions >= 0 and at most one -1, got "
                        + Arrays.toString(shape));
            } else {
                known *= s[i];
            }
        }
        if (inferred >= 0 && known > 0 && x.size() % known == 0) {
            s[inferred] = Math.toIntExact(x.size() / known);
        }
        if ((inferred >= 0 && s[inferred] < 0) || Arrays.stream(s).asLongStream().reduce(1, (a, b) -> a * b) != x.size()) {
            throw new IllegalArgumentException("shape: expected " + x.size() + " elements (x is "
                    + Arrays.toString(x.shape()) + "), got " + Arrays.toString(shape));
        }
        Tensor out = Tensor.uninitialized(x.device(), s);
        x.engine().copy(x.buffer(), 0, out.buffer(), 0, x.size());
        return out;
    }

    /** Swaps the two leading axes ({@code [d0, d1, ...] → [d1, d0, ...]}, time-major ⇄ batch-major); its own backward. */
    public static Tensor transposeLeading(Tensor x) {
        Checks.usable("x", x, x == null ? null : x.device());
        if (x.rank() < 2) {
            throw new IllegalArgumentException("x: expected rank >= 2, got " + Arrays.toString(x.shape()));
        }
        int[] shape = x.shape();
        int features = Math.toIntExact(inner(shape, 1));
        shape[0] = x.dim(1);
        shape[1] = x.dim(0);
        Tensor out = Tensor.uninitialized(x.device(), shape);
        if (out.size() > 0) {
            x.engine().swapLeadingAxes(x.dim(0), x.dim(1), features, x.buffer(), 0, out.buffer(), 0);
        }
        return out;
    }

    // ------------------------------------------------------------------ element-wise

    /**
     * {@code a + b}, where b has a's shape or the shape of a's trailing axes (broadcast over the leading ones,
     * as a bias). The gradient of b in the broadcast case is {@link #sumLeading}.
     */
    public static Tensor add(Tensor a, Tensor b) {
        return binary(Pointwise.ADD, a, b);
    }

    /** {@code a ⊙ b} with {@link #add}'s broadcasting; its backward is {@code mul(d, b)} and {@code mul(d, a)}. */
    public static Tensor mul(Tensor a, Tensor b) {
        return binary(Pointwise.MUL, a, b);
    }

    /** {@code s · x}; its backward is {@code scale(d, s)}. */
    public static Tensor scale(Tensor x, float s) {
        Checks.usable("x", x, x == null ? null : x.device());
        Tensor out = Tensor.uninitialized(x.device(), x.shape());
        x.engine().axpby(x.size(), s, x.buffer(), 0, 0f, out.buffer(), 0);
        return out;
    }

    /** {@code tanh x}, as the cells compute it; backward {@link #tanhBackward}. */
    public static Tensor tanh(Tensor x) {
        return unary(Pointwise.TANH, x);
    }

    /** {@code σ(x)}, as the cells compute it; backward {@link #sigmoidBackward}. */
    public static Tensor sigmoid(Tensor x) {
        return unary(Pointwise.SIGMOID, x);
    }

    /** {@code dx = dy ⊙ (1 − y²)} from the output {@code y = tanh(x)}. */
    public static Tensor tanhBackward(Tensor y, Tensor dy) {
        return binary(Pointwise.TANH_GRAD, y, dy, true);
    }

    /** {@code dx = dy ⊙ y ⊙ (1 − y)} from the output {@code y = σ(x)}. */
    public static Tensor sigmoidBackward(Tensor y, Tensor dy) {
        return binary(Pointwise.SIGMOID_GRAD, y, dy, true);
    }

    /**
     * The sum over the leading axes down to {@code trailing}'s shape: the gradient of a broadcast operand of
     * {@link #add} or {@link #mul}, in {@link Engine#ROW_CHUNK}'s fixed order (the engines agree bit for bit).
     */
    public static Tensor sumLeading(Tensor d, int... trailing) {
        Checks.usable("d", d, d == null ? null : d.device());
        long cols = trailingSize("trailing", d, trailing);
        Tensor out = Tensor.zeros(d.device(), trailing);   // sumRows adds into it
        if (cols > 0) {
            int rows = Math.toIntExact(d.size() / cols);
            d.engine().sumRows(rows, (int) cols, d.buffer(), 0, (int) cols, out.buffer(), 0);
        }
        return out;
    }

    // ------------------------------------------------------------------ softmax and products

    /**
     * Softmax over the last axis of {@code x [B, ..., S]}, masked to per-sample lengths: for sample b (the
     * first axis) only the first {@code lengths[b]} entries of every row take part (max and sum over them),
     * the others come out 0 and are never read — attention over sources of different lengths.
     * {@code lengths == null} means every row is whole. Backward: {@link #maskedSoftmaxBackward}.
     *
     * @throws IllegalArgumentException when a length is outside {@code [1, S]} (a zero-length source has no
     *         attention), or there is not one per sample
     */
    public static Tensor maskedSoftmax(Tensor x, int[] lengths) {
        Checks.usable("x", x, x == null ? null : x.device());
        int[] len = softmaxLengths(x, lengths);
        Tensor out = Tensor.uninitialized(x.device(), x.shape());
        if (x.size() == 0) {
            return out;
        }
        int cols = x.dim(x.rank() - 1);
        int rows = Math.toIntExact(x.size() / cols);
        try (Tensor lengthsOnDevice = len == null ? null : Tensor.ofInts(x.device(), len, len.length)) {
            x.engine().maskedSoftmax(rows, cols, rows / x.dim(0), lengthsOnDevice == null ? null : lengthsOnDevice.buffer(),
                    x.buffer(), 0, out.buffer(), 0);
            return out;
        } catch (RuntimeException | Error e) {
            out.close();
            throw e;
        }
    }

    /** {@code dx = y ⊙ (dy − Σ_valid y ⊙ dy)} per row, 0 on the masked entries, from the output {@code y}. */
    public static Tensor maskedSoftmaxBackward(Tensor y, Tensor dy, int[] lengths) {
        Checks.usable("y", y, y == null ? null : y.device());
        sameShape("dy", dy, y);
        int[] len = softmaxLengths(y, lengths);
        Tensor out = Tensor.uninitialized(y.device(), y.shape());
        if (y.size() == 0) {
            return out;
        }
        int cols = y.dim(y.rank() - 1);
        int rows = Math.toIntExact(y.size() / cols);
        try (Tensor lengthsOnDevice = len == null ? null : Tensor.ofInts(y.device(), len, len.length)) {
            y.engine().maskedSoftmaxBackward(rows, cols, rows / y.dim(0),
                    lengthsOnDevice == null ? null : lengthsOnDevice.buffer(), y.buffer(), 0, dy.buffer(), 0, out.buffer(), 0);
            return out;
        } catch (RuntimeException | Error e) {
            out.close();
            throw e;
        }
    }

    /**
     * Batched matrix product {@code C[i] = op(A[i]) · op(B[i])} of {@code a [batch, ·, ·]} and {@code b [batch, ·, ·]}
     * ({@code torch.bmm}, with {@code op(X) = Xᵀ} when its flag is set): one strided-batched GEMM. Backward:
     * {@link #bmmBackward}.
     */
    public static Tensor bmm(Tensor a, boolean transA, Tensor b, boolean transB) {
        int[] mnk = bmmShape(a, transA, b, transB);
        int batch = a.dim(0), m = mnk[0], n = mnk[1], k = mnk[2];
        Tensor c = Tensor.uninitialized(a.device(), batch, m, n);
        a.engine().gemmStridedBatched(transA, transB, m, n, k, 1f,
                a.buffer(), 0, Math.max(1, a.dim(2)), (long) a.dim(1) * a.dim(2),
                b.buffer(), 0, Math.max(1, b.dim(2)), (long) b.dim(1) * b.dim(2),
                0f, c.buffer(), 0, Math.max(1, n), (long) m * n, batch);
        return c;
    }

    /** {@code {m, n, k}} of {@code op(a) · op(b)}, checked. */
    private static int[] bmmShape(Tensor a, boolean transA, Tensor b, boolean transB) {
        Checks.usable("a", a, a == null ? null : a.device());
        Checks.usable("b", b, a.device());
        if (a.rank() != 3 || b.rank() != 3 || a.dim(0) != b.dim(0)) {
            throw new IllegalArgumentException("a, b: expected [batch, ·, ·] each with the same batch, got "
                    + Arrays.toString(a.shape()) + " and " + Arrays.toString(b.shape()));
        }
        int m = transA ? a.dim(2) : a.dim(1), k = transA ? a.dim(1) : a.dim(2);
        int kb = transB ? b.dim(2) : b.dim(1), n = transB ? b.dim(1) : b.dim(2);
        if (k != kb) {
            throw new IllegalArgumentException("b: expected op(b) with " + k + " rows (the columns of op(a), a "
                    + Arrays.toString(a.shape()) + (transA ? " transposed" : "") + "), got " + kb + " (b "
                    + Arrays.toString(b.shape()) + (transB ? " transposed" : "") + ")");
        }
        return new int[] {m, n, k};
    }

    /** The gradients {@code {dA, dB}} of {@link #bmm} from {@code dC}. */
    public static Tensor[] bmmBackward(Tensor a, boolean transA, Tensor b, boolean transB, Tensor dC) {
        int[] mnk = bmmShape(a, transA, b, transB);
        Checks.usable("dC", dC, a.device());
        if (!Arrays.equals(dC.shape(), new int[] {a.dim(0), mnk[0], mnk[1]})) {
            throw new IllegalArgumentException("dC: expected shape " + Arrays.toString(new int[] {a.dim(0), mnk[0], mnk[1]})
                    + ", got " + Arrays.toString(dC.shape()));
        }
        Tensor[] out = new Tensor[2];
        try {
            out[0] = transA ? bmm(b, transB, dC, true) : bmm(dC, false, b, !transB);
            out[1] = transB ? bmm(dC, true, a, transA) : bmm(a, !transA, dC, false);
            return out;
        } catch (RuntimeException | Error e) {
            if (out[0] != null) {
                out[0].close();
            }
            throw e;
        }
    }

    // ------------------------------------------------------------------ helpers

    private static Tensor unary(Pointwise f, Tensor x) {
        Checks.usable("x", x, x == null ? null : x.device());
        Tensor out = Tensor.uninitialized(x.device(), x.shape());
        x.engine().pointwise(f, x.size(), x.buffer(), 0, null, 0, x.size(), out.buffer(), 0);
        return out;
    }

    private static Tensor binary(Pointwise f, Tensor a, Tensor b) {
        return binary(f, a, b, false);
    }

    /** {@code f(a, b)} with b of a's shape, or (unless {@code sameShape}) of a's trailing shape. */
    private static Tensor binary(Pointwise f, Tensor a, Tensor b, boolean sameShape) {
        String an = sameShape ? "y" : "a", bn = sameShape ? "dy" : "b";
        Checks.usable(an, a, a == null ? null : a.device());
        Checks.usable(bn, b, a.device());
        if (sameShape) {
            sameShape(bn, b, a);
        } else {
            trailingSize(bn, a, b.shape());
        }
        Tensor out = Tensor.uninitialized(a.device(), a.shape());
        if (a.size() > 0) {
            a.engine().pointwise(f, a.size(), a.buffer(), 0, b.buffer(), 0, b.size(), out.buffer(), 0);
        }
        return out;
    }

    /** The element count of {@code trailing}, which must be the shape of x's last axes. */
    private static long trailingSize(String name, Tensor x, int[] trailing) {
        int[] shape = x.shape();
        boolean ok = trailing != null && trailing.length >= 1 && trailing.length <= shape.length
                && Arrays.equals(trailing, Arrays.copyOfRange(shape, shape.length - trailing.length, shape.length));
        if (!ok) {
            throw new IllegalArgumentException(name + ": expected shape " + Arrays.toString(shape)
                    + " or a trailing part of it, got " + (trailing == null ? "null" : Arrays.toString(trailing)));
        }
        long n = 1;
        for (int d : trailing) {
            n *= d;
        }
        return n;
    }

    private static void sameShape(String name, Tensor t, Tensor like) {
        Checks.usable(name, t, like.device());
        if (!Arrays.equals(t.shape(), like.shape())) {
            throw new IllegalArgumentException(name + ": expected shape " + Arrays.toString(like.shape()) + ", got "
                    + Arrays.toString(t.shape()));
        }
    }

    private static int[] softmaxLengths(Tensor x, int[] lengths) {
        if (x.rank() < 2) {
            throw new IllegalArgumentException("x: expected [B, ..., S] (rank >= 2), got " + Arrays.toString(x.shape()));
        }
        return Checks.lengths(lengths, x.dim(x.rank() - 1), x.dim(0));
    }

    private static void checkAxis(String name, int axis, int rank) {
        if (axis < 0 || axis >= rank) {
            throw new IllegalArgumentException(name + ": expected an axis in [0, " + rank + "), got " + axis);
        }
    }

    private static void checkRange(Tensor x, int axis, int start, int length) {
        if (start < 0 || length < 0 || start > x.dim(axis) - length) {
            throw new IllegalArgumentException("start, length: expected a range within [0, " + x.dim(axis) + ") of axis "
                    + axis + " of " + Arrays.toString(x.shape()) + ", got start " + start + " length " + length);
        }
    }

    /** Elements per index of {@code axis}: the product of the dimensions after it. */
    private static long inner(int[] shape, int axis) {
        long n = 1;
        for (int i = axis + 1; i < shape.length; i++) {
            n *= shape[i];
        }
        return n;
    }

    /** The product of the dimensions before {@code axis}. */
    private static int outer(int[] shape, int axis) {
        long n = 1;
        for (int i = 0; i < axis; i++) {
            n *= shape[i];
        }
        return Math.toIntExact(n);
    }

    private static void copyBlock(Engine e, int rows, int cols, Tensor src, long srcOff, int srcLd,
                                  Tensor dst, long dstOff, int dstLd, boolean accumulate) {
        if (rows > 0 && cols > 0) {
            e.copyRows(rows, cols, src.buffer(), srcOff, srcLd, dst.buffer(), dstOff, dstLd, accumulate);
        }
    }
}
