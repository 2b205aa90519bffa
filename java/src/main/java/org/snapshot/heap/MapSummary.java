// MapSummary — what a walk of a PersistentSortedMap found: entries, height, nodes, bytes.
package org.snapshot.heap;

/** A map's shape, from {@link PersistentSortedMap#summary()} or {@link PersistentSortedMap#verify()}. */
public final class MapSummary {
    private final long entries, leaves, innerNodes, keyBytes, valueBytes;
    private final int height;

    MapSummary(long entries, int height, long leaves, long innerNodes, long keyBytes,
            long valueBytes) {
        this.entries = entries;
        this.height = height;
        this.leaves = leaves;
        this.innerNodes = innerNodes;
        this.keyBytes = keyBytes;
        this.valueBytes = valueBytes;
    }

    public long entries() {
        return entries;
    }

    /** Levels of the tree (1: the root is a leaf). */
    public int height() {
        return height;
    }

    public long leaves() {
        return leaves;
    }

    public long innerNodes() {
        return innerNodes;
    }

    /** Bytes of the entries' keys (separators not counted). */
    public long keyBytes() {
        return keyBytes;
    }

    public long valueBytes() {
        return valueBytes;
    }

    /** Mean share of a leaf's 62 slots in use. */
    public double leafFill() {
        return leaves == 0 ? 0 : (double) entries / (leaves * PersistentSortedMap.LEAF_CAP);
    }

    @Override
    public String toString() {
        return String.format("map: %d entries, height %d, %d leaves (%.0f%% full), %d inner nodes, "
                + "%d key bytes, %d value bytes", entries, height, leaves, 100 * leafFill(),
                innerNodes, keyBytes, valueBytes);
    }
}
