package org.rnn4j.spark;

import java.io.Serializable;
import java.util.TreeMap;

/**
 * A sum of per-partition vectors whose floating-point result does not depend on the order in which
 * Spark delivers them. {@code treeAggregate} and {@code fold} merge partial results as tasks finish, so
 * a plain {@code a + b} would round differently from run to run. Here every partial result is a set of
 * nodes of one fixed binary tree over the partition indices {@code [0, n)}; two sibling nodes are merged
 * into their parent as soon as both are present, always as {@code left + right}. Whatever the arrival
 * order, the root is the same sum computed the same way, so a run is bit-identical to the next.
 */
final class FixedOrderSum implements Serializable {
    private static final long serialVersionUID = 1L;

    /** A node of the tree: the sum over partitions {@code [lo, hi)}. */
    record Node(int lo, int hi, float[] values, double loss, long count, long computeNanos) implements Serializable {
        Node plus(Node right) {
            float[] sum;
            if (values == null) {
                sum = right.values;
            } else if (right.values == null) {
                sum = values;
            } else {
                sum = values.clone();
                for (int i = 0; i < sum.length; i++) {
                    sum[i] += right.values[i];
                }
            }
            return new Node(lo, right.hi, sum, loss + right.loss, count + right.count,
                    Math.max(computeNanos, right.computeNanos));
        }
    }

    private final int partitions;
    private final TreeMap<Integer, Node> nodes = new TreeMap<>();

    FixedOrderSum(int partitions) {
        if (partitions < 1) {
            throw new IllegalArgumentException("partitions: expected >= 1, got " + partitions);
        }
        this.partitions = partitions;
    }

    /** The contribution of one partition: {@code values} (or null for none), a loss sum, a count. */
    static Node leaf(int partition, float[] values, double lossSum, long count, long computeNanos) {
        return new Node(partition, partition + 1, values, lossSum, count, computeNanos);
    }

    /** Adds a partition's leaf (Spark's seqOp). */
    FixedOrderSum add(Node leaf) {
        if (leaf.hi != leaf.lo + 1 || leaf.lo < 0 || leaf.lo >= partitions) {
            throw new IllegalArgumentException("leaf: expected one partition in [0, " + partitions + "), got ["
                    + leaf.lo + ", " + leaf.hi + ")");
        }
        insert(leaf);
        return this;
    }

    /** Merges another partial sum into this one (Spark's combOp). */
    FixedOrderSum merge(FixedOrderSum other) {
        if (other.partitions != partitions) {
            throw new IllegalArgumentException("other: expected a sum over " + partitions + " partitions, got "
                    + other.partitions);
        }
        for (Node n : other.nodes.values()) {
            insert(n);
        }
        return this;
    }

    /** The total once every partition has been added. */
    Node total() {
        Node root = nodes.get(0);
        if (nodes.size() != 1 || root.hi != partitions) {
            throw new IllegalStateException("expected contributions of all " + partitions + " partitions, got "
                    + nodes.values().stream().map(n -> "[" + n.lo + ", " + n.hi + ")").toList());
        }
        return root;
    }

    private void insert(Node n) {
        if (nodes.containsKey(n.lo)) {
            // Spark hands each partition's result over once; a second one means a retried attempt leaked in
            throw new IllegalStateException("partition range [" + n.lo + ", " + n.hi + ") contributed twice");
        }
        nodes.put(n.lo, n);
        Node current = n;
        while (current.hi - current.lo < partitions) {
            int[] parent = parentOf(current.lo, current.hi);
            int mid = (parent[0] + parent[1]) >>> 1;
            boolean isLeft = current.lo == parent[0];
            int siblingLo = isLeft ? mid : parent[0];
            int siblingHi = isLeft ? parent[1] : mid;
            Node sibling = nodes.get(siblingLo);
            if (sibling == null || sibling.hi != siblingHi) {
                return;
            }
            Node left = isLeft ? current : sibling;
            Node right = isLeft ? sibling : current;
            nodes.remove(left.lo);
            nodes.remove(right.lo);
            current = left.plus(right);
            nodes.put(current.lo, current);
        }
    }

    /** The tree node whose child is {@code [lo, hi)}: children of {@code [a, b)} split at {@code (a + b) / 2}. */
    private int[] parentOf(int lo, int hi) {
        int a = 0;
        int b = partitions;
        while (true) {
            int mid = (a + b) >>> 1;
            if (hi <= mid) {
                if (a == lo && mid == hi) {
                    return new int[] {a, b};
                }
                b = mid;
            } else {
                if (mid == lo && b == hi) {
                    return new int[] {a, b};
                }
                a = mid;
            }
        }
    }
}
