// PersistentSortedMap — a B+tree of byte-array keys and values on a PersistentHeap.
package org.snapshot.heap;

import java.util.Iterator;
import java.util.Map;

/**
 * A sorted map (keys in unsigned lexicographic order) stored in a {@link PersistentHeap}.
 * Skeleton: the API other code compiles against; the implementation follows.
 */
public final class PersistentSortedMap {
    private final PersistentHeap heap;

    private PersistentSortedMap(PersistentHeap heap) {
        this.heap = heap;
    }

    /** The map at the heap's root, created there if the heap has no root yet. */
    public static PersistentSortedMap open(PersistentHeap heap) {
        throw new UnsupportedOperationException("not yet");
    }

    /** The value of {@code key}, or null. */
    public byte[] get(byte[] key) {
        throw new UnsupportedOperationException("not yet");
    }

    /** Set {@code key} to {@code value}; true if the key was new. */
    public boolean put(byte[] key, byte[] value) {
        throw new UnsupportedOperationException("not yet");
    }

    /** Remove {@code key}; true if it was there. */
    public boolean remove(byte[] key) {
        throw new UnsupportedOperationException("not yet");
    }

    /** Number of keys. */
    public long size() {
        throw new UnsupportedOperationException("not yet");
    }

    /** Entries in ascending key order from {@code fromInclusive} (null: from the first key). */
    public Iterator<Map.Entry<byte[], byte[]>> ascending(byte[] fromInclusive) {
        throw new UnsupportedOperationException("not yet");
    }

    /** Entries in descending key order from {@code fromInclusive} (null: from the last key). */
    public Iterator<Map.Entry<byte[], byte[]>> descending(byte[] fromInclusive) {
        throw new UnsupportedOperationException("not yet");
    }

    /** Make every change so far durable and atomic: the region's msync (group commit). */
    public void commit() {
        heap.commit();
    }
}
