// Mapping — an open region's memory seen from Java: 1 GiB buffer windows over the DRAM copy, the dirty
// bitmap's levels, the marking protocol of native/src/dirty_map.c, and the memory's lifetime.
package org.snapshot;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.invoke.VarHandle;
import java.lang.ref.Cleaner;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.LongBuffer;

/**
 * How a Java store is tracked, with no JNI call: the accessor stores into the DRAM copy (a raw
 * store, {@link Raw}, or through a direct {@link ByteBuffer} window), then marks the 64-byte lines
 * it touched in the region's level-0 bitmap as the C hook and {@code snap_dirty_mark} do: a store
 * inside one line whose bit is already set costs a load and a test ({@link #marked}); otherwise,
 * per bitmap word, an opaque (relaxed) load, and if the bits are not all set an atomic OR
 * ({@code getAndBitwiseOr}, a full fence); only if the word was zero before, the same one level up,
 * and so on ({@link #setBits}). The bitmap is the one the C hook and {@code snap_msync} use, so
 * Java, instrumented C and {@code snap_track} share one commit.
 *
 * <p>Ordering: why a plain read, and skipping the atomic OR when the bit is set, lose no store.
 * A writer W does S (the store into line L), then R (the plain read of L's bitmap word). The JIT
 * keeps R after S: both are raw off-heap accesses (through a buffer, or {@link Raw}) at addresses
 * from different fields, which it cannot prove disjoint, so it neither hoists R above S nor reuses
 * a value read before S. An msync (commit.c) (1) swaps the word to zero, (2) runs membarrier(2),
 * (3) copies the lines it took: invariant (6), "a line's dirty bit is cleared before its bytes are
 * copied". Claim: S is in the record of the first msync whose (1) follows W's mark (or of an
 * earlier one).
 * <ul>
 *   <li>R sees the bit clear: W ORs it atomically (a full fence, after S); the next msync's (1)
 *       sees the bit, hence S, and its (3) copies L after (1).
 *   <li>R sees the bit set: let M be the next msync whose (1) swaps that value away; it takes L.
 *       Its membarrier acts as a full fence executed by W at some point P during (2). If S came
 *       after P, so did R, and R would have seen M's (1) (zero, or a later value) rather than the
 *       value before it: a contradiction. So S came before P, and is visible to M's (3).
 * </ul>
 * The CPU may satisfy R before S leaves its store buffer; that is the window (2) closes, as for
 * the C hook's relaxed load (commit.c, "Racing stores"). With {@code noConcurrentWriters} there is
 * no (2), and the promise that no store races with msync replaces it. The OR must be atomic: other
 * writers set bits of the same word, and msync swaps it. The test
 * {@code ConcurrencyTest.lastStoresRacingWithMsyncAreNeverLost} fails when R is moved before S.
 * Measured: an opaque load for R costs about 2.5 ns more per store (it stops the JIT from
 * optimising around it).
 *
 * <p>Windows. A JDK 17 buffer holds at most 2 GiB, so the copy is seen through windows of 1 GiB,
 * each extended by {@link #OVERLAP} bytes into the next: an access of up to 64 bytes that starts in
 * window {@code i} lies entirely in window {@code i}, and a primitive access (when not raw)
 * costs one array load more than a plain buffer access. Bulk operations go window by window.
 *
 * <p>Lifetime. {@link PersistentRegion#close()} calls {@code snap_foreign_close}, which swaps the
 * memory behind these buffers for anonymous scratch pages and keeps the address range reserved, so
 * an accessor that passed its "open?" check just before the close stores into scratch memory instead
 * of faulting. The range is returned to the arena ({@code snap_foreign_release}) by a {@link Cleaner}
 * once this object — the only holder of the buffers — is unreachable; every accessor keeps it
 * reachable until its last access ({@code Reference.reachabilityFence}).
 */
final class Mapping {
    static final int WINDOW_SHIFT = 30;
    static final long WINDOW = 1L << WINDOW_SHIFT;
    static final long WINDOW_MASK = WINDOW - 1;
    static final int OVERLAP = 64;
    static final int LINE_SHIFT = 6;

    /** Level words, little-endian like the C side (native order on x86-64). */
    private static final VarHandle WORD =
            MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.nativeOrder());

    private static final Cleaner CLEANER = Cleaner.create();

    final long base;
    private final long level0Address; // the same bitmap, for Raw's plain read
    final long size;
    final ByteBuffer[] windows;
    private final ByteBuffer level0;
    private final LongBuffer level0Words; // the same bitmap, for the fast path's plain read
    private final ByteBuffer[] levels;
    final SnapshotNative.Region handle;
    final Lifetime lifetime;
    /** Set by close before the native close; accessors check it (volatile: a loop sees it). */
    volatile boolean closed;

    /** What the cleaner needs; it must not refer to the Mapping. */
    static final class Lifetime implements Runnable {
        final SnapshotNative.Region handle;
        volatile boolean nativeClosed;

        Lifetime(SnapshotNative.Region handle) {
            this.handle = handle;
        }

        @Override
        public void run() {
            // Unreachable: no accessor can run. An unclosed region is closed here (uncommitted
            // stores are discarded, as by close()), then its quarantined memory released.
            synchronized (this) {
                if (!nativeClosed) {
                    SnapshotNative.snap_foreign_close(handle);
                    nativeClosed = true;
                }
            }
            SnapshotNative.snap_foreign_release(handle);
        }
    }

    Mapping(SnapshotNative.Region handle, long[] layout) {
        this.handle = handle;
        this.base = layout[SnapshotNative.L_BASE];
        this.size = layout[SnapshotNative.L_SIZE];
        int nlevels = (int) layout[SnapshotNative.L_LEVELS];
        if (layout[SnapshotNative.L_LINE_SHIFT] != LINE_SHIFT || nlevels < 1 || nlevels > 8) {
            throw new IllegalStateException("libsnapshot reports an unexpected bitmap layout");
        }
        int nwin = (int) ((size + WINDOW - 1) >>> WINDOW_SHIFT);
        windows = new ByteBuffer[nwin];
        for (int i = 0; i < nwin; i++) {
            long start = (long) i << WINDOW_SHIFT;
            long len = Math.min(WINDOW + OVERLAP, size - start);
            windows[i] = SnapshotNative.buffer(base + start, len).order(ByteOrder.LITTLE_ENDIAN);
        }
        levels = new ByteBuffer[nlevels];
        for (int l = 0; l < nlevels; l++) {
            long addr = layout[SnapshotNative.L_LEVEL0 + 2 * l];
            long bytes = layout[SnapshotNative.L_LEVEL0 + 2 * l + 1] * 8;
            if (bytes > Integer.MAX_VALUE - 7) {
                throw new IllegalStateException("dirty bitmap too large for a buffer");
            }
            levels[l] = SnapshotNative.buffer(addr, bytes).order(ByteOrder.nativeOrder());
        }
        level0 = levels[0];
        level0Address = layout[SnapshotNative.L_LEVEL0];
        level0Words = level0.asLongBuffer();
        lifetime = new Lifetime(handle);
        CLEANER.register(this, lifetime);
    }

    /** Largest reservation whose level-0 bitmap fits one buffer (8 bytes of bitmap per 32 KiB). */
    static final long MAX_RESERVE = (long) (Integer.MAX_VALUE - 7) / 8 * 64 * 64;

    ByteBuffer window(long at) {
        return windows[(int) (at >>> WINDOW_SHIFT)];
    }

    static int index(long at) {
        return (int) (at & WINDOW_MASK);
    }

    /**
     * The fast path of marking a primitive store of {@code len} (1..8) bytes at {@code at}, the C
     * hook's (snapshot_hook.h): true if the store lies inside one line whose bit is already set (a
     * plain load and a test); otherwise the accessor calls {@link #markRange}. It must stay a
     * separate tiny method with no call in it: when it also called the slow path, C2 compiled the
     * slow path into it, found it "already compiled into a big method" and stopped inlining it into
     * the accessors — every store then paid an out-of-line call (random putLongs over 1 MiB: 3.7-4.2
     * ns before the split, 2.7 ns after; java/README.md, "Performance").
     */
    boolean marked(long at, int len) {
        // at >>> 12: the line's word; 1L << (at >>> 6): its bit (Java shifts by the low 6 bits).
        // The raw read needs no bounds check: at < size, and the bitmap covers the reservation.
        return (at & 63) + len <= 64 && ((Raw.ON ? Raw.getLong(level0Address + ((at >>> 12) << 3))
                : level0Words.get((int) (at >>> 12))) & 1L << (at >>> 6)) != 0;
    }

    /**
     * {@link #markRange} for the primitive accessors, called through a method handle kept in an
     * instance field: the JIT does not treat it as a constant, so it never inlines the slow path
     * into an accessor. Inlined, the slow path (atomic ORs, the climb up the levels) made the
     * accessor's compiled code too big for C2 to inline the accessor into the user's loop ("already
     * compiled into a big method"), and every store paid an out-of-line call.
     */
    private final MethodHandle markRangeHandle = MARK_RANGE.bindTo(this);

    private static final MethodHandle MARK_RANGE;

    static {
        try {
            MARK_RANGE = MethodHandles.lookup().findVirtual(Mapping.class, "markRange",
                    MethodType.methodType(void.class, long.class, long.class));
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** The slow path of a primitive store's marking, never inlined (see markRangeHandle). */
    void markSlow(long at, long len) {
        try {
            markRangeHandle.invokeExact(at, len);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new AssertionError(e);
        }
    }

    /** Mark the lines of [at, at + len), len >= 1, word by word as snap_dirty_mark does. */
    void markRange(long at, long len) {
        long first = at >>> LINE_SHIFT, last = (at + len - 1) >>> LINE_SHIFT;
        long w0 = first >>> 6, w1 = last >>> 6;
        for (long w = w0; w <= w1; w++) {
            long mask = -1L;
            if (w == w0) {
                mask &= -1L << (first & 63);
            }
            if (w == w1) {
                mask &= -1L >>> (63 - (last & 63));
            }
            setBits(0, w, mask);
        }
    }

    /**
     * Set {@code mask} in word {@code w} of {@code level}; when the word was zero, set its bit in
     * the parent, and so on up (dirty_map.c's set_bits). Only the marker that turns a word non-zero
     * climbs, which is what keeps a collection from losing a line (dirty_map.h's invariant).
     */
    private void setBits(int level, long w, long mask) {
        for (;;) {
            ByteBuffer words = levels[level];
            int idx = (int) (w << 3);
            if (((long) WORD.getOpaque(words, idx) & mask) == mask) {
                return;
            }
            if ((long) WORD.getAndBitwiseOr(words, idx, mask) != 0) {
                return;
            }
            if (++level == levels.length) {
                return;
            }
            mask = 1L << w;
            w >>>= 6;
        }
    }

    /** Is the line holding byte {@code at} marked? (Tests.) */
    boolean isMarked(long at) {
        return ((long) WORD.getOpaque(level0, (int) ((at >>> 12) << 3)) & 1L << (at >>> 6)) != 0;
    }
}
