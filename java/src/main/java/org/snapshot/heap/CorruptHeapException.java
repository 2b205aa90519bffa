// CorruptHeapException — a heap or map structure in a region failed a check: the file was damaged.
package org.snapshot.heap;

/**
 * A {@link PersistentHeap} or {@link PersistentSortedMap} found its bytes in the region inconsistent
 * (a bad header, a block whose check word does not match, a free list that does not end, a tree
 * node out of order, a record whose checksum differs ...). Thrown by {@code open}, {@code verify}
 * and by any operation that meets the damage; nothing more is written. {@link #offset()} is the
 * region offset where the check failed (-1 if none applies). Not caused by crashes: a crash always
 * leaves the state of the last commit, which is consistent.
 */
public class CorruptHeapException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final long offset;

    public CorruptHeapException(long offset, String message) {
        super(message + (offset >= 0 ? " (at offset " + offset + ")" : ""));
        this.offset = offset;
    }

    /** Region offset of the damaged structure, or -1. */
    public long offset() {
        return offset;
    }
}
