// Mapping — an open region's memory seen from Java: 1 GiB buffer windows over the DRAM copy, the dirty
// bitmap's levels, the marking protocol of native/src/dirty_map.h, and the memory's lifetime.
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
 * store, {@link Raw}, or through a direct {@link ByteBuffer} window), then marks the lines it
 * touched in the dirty map the C hook and {@code snap_msync} use, so Java, instrumented C and
 * {@code snap_track} share one commit. It follows the marking protocol written once in
 * native/src/dirty_map.h (fast path: {@link #marked}; slow path: {@link #markRange}, with
 * {@link #enterGate} and {@link #setBits}), on the layout of native/include/snapshot_layout.h,
 * whose numbers {@link SnapshotNative} reads from the native side at load; only this Java's
 * departures from the C marker are argued here.
 *
 * <p>Ordering: why the fast path's plain read, and skipping the OR when the bit is set, lose no
 * store. A writer W does S (the store into line L), then R (the read of L's bitmap word). An msync
 * (commit.c) (1) collects: waits for the markers in the gate, then swaps the words to zero, parent
 * before child; (2) runs membarrier(2); (3) copies the lines it took: invariant (6), "a line's dirty
 * bit is cleared before its bytes are copied". Claim: S is in the record of the first msync whose
 * (1) begins after W's mark returned, or of an earlier one. That (1) must take L's bit, and its (3)
 * must see S.
 * <ul>
 *   <li>It takes the bit. Whoever set it, W or another thread, did the OR inside the gate and sets
 *       the bits above before leaving; (1) waits for the markers in the gate, so its walk reaches
 *       L, unless an earlier collection took L: the proof is dirty_map.h's ("THE MARKING
 *       PROTOCOL"). It needs R ordered before that msync's start, as an acquire load would be, and
 *       the plain read is: on x86-64 (TSO) a load is not reordered with later loads or stores, so
 *       not with msync's lock and epoch increment, and the JIT does not move an off-heap access
 *       across the JNI call to msync (a native call may touch any memory; R's value decides a
 *       branch long before it anyway).
 *   <li>It sees S, if R saw the bit clear: W ORs it atomically (a full fence, after S); (1) swaps
 *       the bit away after the OR, so after S, and (3) copies L after (1).
 *   <li>It sees S, if R saw the bit set: let M be the next msync whose (1) swaps that value away;
 *       it takes L. Its membarrier acts as a full fence executed by W at some point P during (2).
 *       If S came after P, so did R, and R would have seen M's (1) (zero, or a later value) rather
 *       than the value before it: a contradiction. So S came before P, and is visible to M's (3).
 * </ul>
 * The JIT keeps R after S: both are raw off-heap accesses (through a buffer, or {@link Raw}) at
 * addresses from different fields, which it cannot prove disjoint, so it neither hoists R above S
 * nor reuses a value read before S. The CPU may satisfy R before S leaves its store buffer; that is
 * the window (2) closes, as for the C hook's load (commit.c, "Racing stores"). With
 * {@code noConcurrentWriters} there is no (2), and the promise that no store races with msync
 * replaces it. The OR must be atomic: other writers set bits of the same word, and msync swaps it.
 * {@code ConcurrencyTest.lastStoresRacingWithMsyncAreNeverLost} fails when R is moved before S;
 * {@code ConcurrencyTest.msyncReturnsOnlyWithTheStoreInTheFile} fails without the gate. Measured:
 * an opaque load for R costs about 2.5 ns more per store (it stops the JIT from optimising around
 * it).
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
 * reachable until its last access ({@code Reference.reachabilityFence}). The gate is scratch too
 * after the close: a marker that entered before it leaves by decrementing a zero counter, which
 * nothing reads any more.
 */
final class Mapping {
    static final int WINDOW_SHIFT = 30;
    static final long WINDOW = 1L << WINDOW_SHIFT;
    static final long WINDOW_MASK = WINDOW - 1;
    static final int OVERLAP = 64;

    // snapshot_layout.h, read at load (SnapshotNative): constants to the JIT, as literals would be.
    static final int LINE_SHIFT = SnapshotNative.LINE_SHIFT;
    static final long LINE_BYTES = 1L << LINE_SHIFT;
    /** Lines per bitmap word, log2: the word of line n is n >>> WORD_SHIFT. */
    static final int WORD_SHIFT = SnapshotNative.DIRTY_WORD_SHIFT;
    /** Bytes one bitmap word covers, log2: the word of byte offset at is at >>> WORD_SPAN_SHIFT. */
    static final int WORD_SPAN_SHIFT = LINE_SHIFT + WORD_SHIFT;

    static {
        // The words are Java longs, and marked() lets Java's shift take a line's bit modulo 64.
        if (1 << WORD_SHIFT != Long.SIZE) {
            throw new ExceptionInInitializerError("libsnapshot's bitmap words have "
                    + (1 << WORD_SHIFT) + " bits; this binding marks 64-bit words");
        }
    }

    /** Level words, little-endian like the C side (native order on x86-64). */
    private static final VarHandle WORD =
            MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.nativeOrder());

    private static final Cleaner CLEANER = Cleaner.create();

    final long base;
    private final long level0Address; // the same bitmap, for Raw's plain read
    /** Size at open; {@link PersistentRegion#grow(long)} may raise the region's size up to reserve. */
    final long size;
    /** Bytes of address space reserved from base: the windows and the bitmap cover all of it. */
    final long reserve;
    final ByteBuffer[] windows;
    private final ByteBuffer level0;
    private final LongBuffer level0Words; // the same bitmap, for the fast path's plain read
    private final ByteBuffer[] levels;
    private final ByteBuffer gate; // the marking gate (dirty_map.h): epoch, in-flight counters
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
        this.reserve = layout[SnapshotNative.L_RESERVE];
        int nlevels = (int) layout[SnapshotNative.L_LEVELS];
        if (layout[SnapshotNative.L_LINE_SHIFT] != LINE_SHIFT || nlevels < 1
                || nlevels > SnapshotNative.DIRTY_MAX_LEVELS) {
            throw new IllegalStateException("libsnapshot reports an unexpected bitmap layout");
        }
        // Windows over the whole reservation, not just the size: growing the region (snap_grow maps
        // more of the reserved range, base unchanged) then needs no new buffers, only a new bound.
        // A buffer over reserved, not yet mapped memory is never touched: accesses stay below size.
        if (reserve < size) {
            throw new IllegalStateException("libsnapshot reports a reservation below the size");
        }
        int nwin = (int) ((reserve + WINDOW - 1) >>> WINDOW_SHIFT);
        windows = new ByteBuffer[nwin];
        for (int i = 0; i < nwin; i++) {
            long start = (long) i << WINDOW_SHIFT;
            long len = Math.min(WINDOW + OVERLAP, reserve - start);
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
        long gateAddress = layout[SnapshotNative.L_GATE];
        if (gateAddress == 0 || (gateAddress & 7) != 0) {
            throw new IllegalStateException("libsnapshot reports an unexpected marking gate");
        }
        gate = SnapshotNative.buffer(gateAddress, SnapshotNative.MARK_GATE_BYTES).order(ByteOrder.nativeOrder());
        level0 = levels[0];
        level0Address = layout[SnapshotNative.L_LEVEL0];
        level0Words = level0.asLongBuffer();
        lifetime = new Lifetime(handle);
        CLEANER.register(this, lifetime);
    }

    /** Largest reservation whose level-0 bitmap fits one buffer (a word per 1 << WORD_SPAN_SHIFT). */
    static final long MAX_RESERVE = (long) (Integer.MAX_VALUE - 7) / 8 << WORD_SPAN_SHIFT;

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
     * ns before the split, 2.7 ns after; benchmarks/java-notes.md).
     */
    boolean marked(long at, int len) {
        // at >>> WORD_SPAN_SHIFT: the line's word; 1L << (at >>> LINE_SHIFT): its bit (Java shifts
        // by the low 6 bits). The raw read needs no bounds check: at < size, and the bitmap covers
        // the reservation.
        return (at & LINE_BYTES - 1) + len <= LINE_BYTES
                && ((Raw.ON ? Raw.getLong(level0Address + ((at >>> WORD_SPAN_SHIFT) << 3))
                : level0Words.get((int) (at >>> WORD_SPAN_SHIFT))) & 1L << (at >>> LINE_SHIFT)) != 0;
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

    /**
     * Mark the lines of [at, at + len), len >= 1, word by word as snap_dirty_mark does: the gate is
     * entered only if some word needs an OR, and left after the last one.
     */
    void markRange(long at, long len) {
        long first = at >>> LINE_SHIFT, last = (at + len - 1) >>> LINE_SHIFT;
        long w0 = first >>> WORD_SHIFT, w1 = last >>> WORD_SHIFT;
        int counter = -1; // the gate's counter, once entered
        try {
            for (long w = w0; w <= w1; w++) {
                long mask = -1L;
                if (w == w0) {
                    mask &= -1L << (first & 63);
                }
                if (w == w1) {
                    mask &= -1L >>> (63 - (last & 63));
                }
                // Acquire, as in snap_dirty_mark: bits found set need no OR, since this load is
                // ordered before any later msync (the class comment; dirty_map.h's proof).
                if (((long) WORD.getAcquire(level0, (int) (w << 3)) & mask) == mask) {
                    continue;
                }
                if (counter < 0) {
                    counter = enterGate();
                }
                setBits(0, w, mask);
            }
        } finally {
            if (counter >= 0) { // leave: our ORs and climbs come before (release)
                WORD.getAndAddRelease(gate, counter, -1L);
            }
        }
    }

    /** Byte offsets in the gate (snapshot_layout.h): the epoch; the counters for even, odd epochs. */
    private static final int GATE_EPOCH = SnapshotNative.MARK_GATE_EPOCH,
            GATE_ACTIVE = SnapshotNative.MARK_GATE_ACTIVE;

    /**
     * Register as a marker in flight in the current epoch (dirty_map.h's gate_enter): the
     * collection that ends that epoch waits for this counter. Returns its offset in the gate.
     */
    private int enterGate() {
        for (;;) {
            long e = (long) WORD.getVolatile(gate, GATE_EPOCH);
            int counter = GATE_ACTIVE + 8 * (int) (e & 1);
            WORD.getAndAdd(gate, counter, 1L);
            if ((long) WORD.getVolatile(gate, GATE_EPOCH) == e) {
                return counter;
            }
            WORD.getAndAddRelease(gate, counter, -1L); // a collection began: retry
        }
    }

    /**
     * Set {@code mask} in word {@code w} of {@code level}; when the word was zero, set its bit in
     * the parent, and so on up (dirty_map.c's set_bits). Only the marker that turns a word non-zero
     * climbs; a collection reaches the bit once that marker has left the gate. Called inside it.
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
            w >>>= WORD_SHIFT;
        }
    }

    /** Is the line holding byte {@code at} marked? (Tests.) */
    boolean isMarked(long at) {
        return ((long) WORD.getOpaque(level0, (int) ((at >>> WORD_SPAN_SHIFT) << 3))
                & 1L << (at >>> LINE_SHIFT)) != 0;
    }
}
