// RegionMemory — the accessors shared by a region and its slices: primitives, arrays, buffers, fill, copy.
package org.snapshot;

import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.LongBuffer;
import java.util.Objects;

/**
 * Bytes of a {@link PersistentRegion}, read and written with {@code long} offsets from this view's
 * start. Every write goes straight to the region's DRAM copy and marks the 64-byte lines it touched
 * (no JNI call); {@link PersistentRegion#msync()} makes all marked lines durable at once.
 *
 * <p><b>Byte order.</b> Multi-byte values are little-endian — the native order of x86-64, the only
 * platform the jar carries — so C code handed {@link #address()} reads the same values
 * ({@code *(int64_t *)(base + off)}). This differs from {@link ByteBuffer}'s big-endian default.
 *
 * <p><b>Errors.</b> An access outside the view throws {@link IndexOutOfBoundsException}; any access
 * after the region was closed throws {@link RegionClosedException} (an {@link IllegalStateException}).
 * A store racing with {@code close()} on another thread either throws or lands in discarded scratch
 * memory; it never crashes the JVM (see {@link Mapping}).
 *
 * <p><b>Memory ordering.</b> A write stores the bytes (plain), then marks the line: an opaque load
 * of its bitmap word and, if the bit is clear, an atomic OR (a full fence). msync clears bits before
 * copying lines and issues membarrier(2) in between, so: a write that happens-before a call to
 * {@code msync()} (same thread, or ordered by a lock, a volatile, a join) is committed by it; a write
 * racing with it (another thread, no ordering) is committed by it or by the next one, never lost.
 * Reads see the DRAM copy: the last write of this process, committed or not. Plain accesses carry no
 * inter-thread ordering of their own (as with a {@code ByteBuffer}): use the usual synchronisation
 * to publish data between threads.
 */
public abstract sealed class RegionMemory permits PersistentRegion, RegionSlice {
    final Mapping map;
    final long start;
    /**
     * Bytes in this view. Final in effect for a slice; a region's grows with
     * {@link PersistentRegion#grow(long)}, which sets it, and {@link #size}, only after the memory
     * behind the new size is mapped. Every value ever written here is at most what is mapped at
     * that moment, and the size only increases while the region is open, so no accessor can see a
     * bound beyond the mapping. Plain, not volatile: the accessors' bounds check reads it, and a
     * volatile read there kept the JIT from hoisting the region's other fields (a putLong loop in
     * cache went from 2.0 to 2.9 ns per store). A thread that reads a stale, smaller value falls
     * back to the volatile {@link #size} (at()), so an offset just grown into is never refused
     * after the grow happened-before the access.
     */
    long length;
    /** {@link #length}, published: what an access beyond a stale length re-checks against. */
    volatile long size;

    /** Bulk operations touch at most this much per step (keeps time-to-safepoint short). */
    private static final int CHUNK = 1 << 20;
    private static final byte[] ZEROS = new byte[64 << 10];

    RegionMemory(Mapping map, long start, long length) {
        this.map = map;
        this.start = start;
        this.length = length;
        this.size = length;
    }

    /** The region this memory belongs to. */
    public abstract PersistentRegion region();

    /** Bytes in this view (for a region: its size). */
    public final long size() {
        return size;
    }

    /** True until the region is closed. */
    public final boolean isOpen() {
        return !map.closed;
    }

    /** Byte order of multi-byte accessors: always little-endian. */
    public final ByteOrder order() {
        return ByteOrder.LITTLE_ENDIAN;
    }

    /**
     * Address of this view's first byte in the DRAM copy, for native code (e.g. through JNA). Valid
     * while the region is open; native stores there must be tracked — {@code snap_track()} or
     * {@code snap_track_offset()} on {@link PersistentRegion#handle()}, or {@code snap_hook_store()} /
     * the clang plugin — and are then committed by the next {@code msync()} like Java's.
     */
    public final long address() {
        Mapping m = map;
        if (m.closed) {
            throw closed();
        }
        return m.base + start;
    }

    /** A view of {@code [offset, offset + length)} of this view, sharing the region's lifetime. */
    public final RegionSlice slice(long offset, long length) {
        Objects.checkFromIndexSize(offset, length, this.length);
        if (map.closed) {
            throw closed();
        }
        return new RegionSlice(map, start + offset, length, region());
    }

    final RegionClosedException closed() {
        return new RegionClosedException("region " + region().path() + " is closed: open it again "
                + "with PersistentRegion.open() to use it");
    }

    /** Check the range and the region's state; returns the offset in the region. */
    private long at(Mapping m, long offset, long len) {
        if (m.closed) {
            throw closed();
        }
        if ((offset | len) < 0 || offset > length - len) {
            return atGrown(offset, len);
        }
        return start + offset;
    }

    /** at() beyond the length this thread read: re-check against the published size. */
    private long atGrown(long offset, long len) {
        long n = size;
        if ((offset | len) < 0 || offset > n - len) {
            Objects.checkFromIndexSize(offset, len, n); // throws, with the JDK's message
        }
        return start + offset;
    }

    // ---- Primitives ------------------------------------------------------------------------------

    public final byte getByte(long offset) {
        Mapping m = map;
        long at = at(m, offset, 1);
        byte v = Raw.ON ? Raw.getByte(m.base + at) : m.window(at).get(Mapping.index(at));
        Reference.reachabilityFence(m);
        return v;
    }

    public final void putByte(long offset, byte value) {
        Mapping m = map;
        long at = at(m, offset, 1);
        if (Raw.ON) {
            Raw.putByte(m.base + at, value);
        } else {
            m.window(at).put(Mapping.index(at), value);
        }
        if (!m.marked(at, 1)) {
            m.markSlow(at, 1);
        }
        Reference.reachabilityFence(m);
    }

    public final short getShort(long offset) {
        Mapping m = map;
        long at = at(m, offset, 2);
        short v = Raw.ON ? Raw.getShort(m.base + at) : m.window(at).getShort(Mapping.index(at));
        Reference.reachabilityFence(m);
        return v;
    }

    public final void putShort(long offset, short value) {
        Mapping m = map;
        long at = at(m, offset, 2);
        if (Raw.ON) {
            Raw.putShort(m.base + at, value);
        } else {
            m.window(at).putShort(Mapping.index(at), value);
        }
        if (!m.marked(at, 2)) {
            m.markSlow(at, 2);
        }
        Reference.reachabilityFence(m);
    }

    public final int getInt(long offset) {
        Mapping m = map;
        long at = at(m, offset, 4);
        int v = Raw.ON ? Raw.getInt(m.base + at) : m.window(at).getInt(Mapping.index(at));
        Reference.reachabilityFence(m);
        return v;
    }

    public final void putInt(long offset, int value) {
        Mapping m = map;
        long at = at(m, offset, 4);
        if (Raw.ON) {
            Raw.putInt(m.base + at, value);
        } else {
            m.window(at).putInt(Mapping.index(at), value);
        }
        if (!m.marked(at, 4)) {
            m.markSlow(at, 4);
        }
        Reference.reachabilityFence(m);
    }

    public final long getLong(long offset) {
        Mapping m = map;
        long at = at(m, offset, 8);
        long v = Raw.ON ? Raw.getLong(m.base + at) : m.window(at).getLong(Mapping.index(at));
        Reference.reachabilityFence(m);
        return v;
    }

    public final void putLong(long offset, long value) {
        Mapping m = map;
        long at = at(m, offset, 8);
        if (Raw.ON) {
            Raw.putLong(m.base + at, value);
        } else {
            m.window(at).putLong(Mapping.index(at), value);
        }
        if (!m.marked(at, 8)) {
            m.markSlow(at, 8);
        }
        Reference.reachabilityFence(m);
    }

    public final float getFloat(long offset) {
        Mapping m = map;
        long at = at(m, offset, 4);
        float v = Raw.ON ? Raw.getFloat(m.base + at) : m.window(at).getFloat(Mapping.index(at));
        Reference.reachabilityFence(m);
        return v;
    }

    public final void putFloat(long offset, float value) {
        Mapping m = map;
        long at = at(m, offset, 4);
        if (Raw.ON) {
            Raw.putFloat(m.base + at, value);
        } else {
            m.window(at).putFloat(Mapping.index(at), value);
        }
        if (!m.marked(at, 4)) {
            m.markSlow(at, 4);
        }
        Reference.reachabilityFence(m);
    }

    public final double getDouble(long offset) {
        Mapping m = map;
        long at = at(m, offset, 8);
        double v = Raw.ON ? Raw.getDouble(m.base + at) : m.window(at).getDouble(Mapping.index(at));
        Reference.reachabilityFence(m);
        return v;
    }

    public final void putDouble(long offset, double value) {
        Mapping m = map;
        long at = at(m, offset, 8);
        if (Raw.ON) {
            Raw.putDouble(m.base + at, value);
        } else {
            m.window(at).putDouble(Mapping.index(at), value);
        }
        if (!m.marked(at, 8)) {
            m.markSlow(at, 8);
        }
        Reference.reachabilityFence(m);
    }

    // ---- Arrays and buffers ----------------------------------------------------------------------

    /** Bytes that can be moved from {@code at} without leaving its window, at most {@code rest}. */
    private static int step(long at, long rest) {
        return (int) Math.min(Math.min(rest, CHUNK), Mapping.WINDOW - Mapping.index(at));
    }

    public final void getBytes(long offset, byte[] dst) {
        getBytes(offset, dst, 0, dst.length);
    }

    /** Copy {@code len} bytes at {@code offset} into {@code dst[off .. off + len)}. */
    public final void getBytes(long offset, byte[] dst, int off, int len) {
        Objects.checkFromIndexSize(off, len, dst.length);
        Mapping m = map;
        long at = at(m, offset, len);
        for (int done = 0; done < len;) {
            long p = at + done;
            int n = step(p, len - done);
            m.window(p).get(Mapping.index(p), dst, off + done, n);
            done += n;
        }
        Reference.reachabilityFence(m);
    }

    public final void putBytes(long offset, byte[] src) {
        putBytes(offset, src, 0, src.length);
    }

    /** Store {@code src[off .. off + len)} at {@code offset}. */
    public final void putBytes(long offset, byte[] src, int off, int len) {
        Objects.checkFromIndexSize(off, len, src.length);
        Mapping m = map;
        long at = at(m, offset, len);
        for (int done = 0; done < len;) {
            long p = at + done;
            int n = step(p, len - done);
            m.window(p).put(Mapping.index(p), src, off + done, n);
            done += n;
        }
        if (len > 0) {
            m.markRange(at, len);
        }
        Reference.reachabilityFence(m);
    }

    /** Fill {@code dst}'s remaining bytes from {@code offset}; dst's position moves to its limit. */
    public final void getBytes(long offset, ByteBuffer dst) {
        int len = dst.remaining(), pos = dst.position();
        Mapping m = map;
        long at = at(m, offset, len);
        for (int done = 0; done < len;) {
            long p = at + done;
            int n = step(p, len - done);
            dst.put(pos + done, m.window(p), Mapping.index(p), n);
            done += n;
        }
        Reference.reachabilityFence(m);
        dst.position(pos + len);
    }

    /** Store {@code src}'s remaining bytes at {@code offset}; src's position moves to its limit. */
    public final void putBytes(long offset, ByteBuffer src) {
        int len = src.remaining(), pos = src.position();
        Mapping m = map;
        long at = at(m, offset, len);
        for (int done = 0; done < len;) {
            long p = at + done;
            int n = step(p, len - done);
            m.window(p).put(Mapping.index(p), src, pos + done, n);
            done += n;
        }
        if (len > 0) {
            m.markRange(at, len);
        }
        Reference.reachabilityFence(m);
        src.position(pos + len);
    }

    /**
     * Store {@code src[off .. off + len)} as consecutive little-endian longs from {@code offset}: the
     * same bytes as {@code putLong(offset + 8 * i, src[off + i])} for each i, at the speed of a copy
     * (one closed check, one bounds check and one marking for the whole range instead of one per
     * long; benchmarks/java-notes.md). {@code offset} need not be a multiple of 8.
     */
    public final void putLongs(long offset, long[] src, int off, int len) {
        Objects.checkFromIndexSize(off, len, src.length);
        Mapping m = map;
        long at = at(m, offset, (long) len << 3);
        moveLongs(m, at, src, off, len, true);
        if (len > 0) {
            m.markRange(at, (long) len << 3);
        }
        Reference.reachabilityFence(m);
    }

    /** Read {@code len} consecutive little-endian longs from {@code offset} into {@code dst[off ..]}. */
    public final void getLongs(long offset, long[] dst, int off, int len) {
        Objects.checkFromIndexSize(off, len, dst.length);
        Mapping m = map;
        long at = at(m, offset, (long) len << 3);
        moveLongs(m, at, dst, off, len, false);
        Reference.reachabilityFence(m);
    }

    /**
     * Store {@code a[off .. off + len)} at {@code at} in the region (or load it, {@code !store}),
     * window by window: each step ends at its window's end rounded up to a whole long, which the
     * window's 64-byte overlap holds.
     */
    private static void moveLongs(Mapping m, long at, long[] a, int off, int len, boolean store) {
        for (int done = 0; done < len;) {
            long p = at + ((long) done << 3);
            long toEnd = (Mapping.WINDOW - Mapping.index(p) + 7) >>> 3;
            int n = (int) Math.min(Math.min(len - done, CHUNK >>> 3), toEnd);
            LongBuffer longs = m.window(p).slice(Mapping.index(p), n << 3)
                    .order(ByteOrder.LITTLE_ENDIAN).asLongBuffer();
            if (store) {
                longs.put(0, a, off + done, n);
            } else {
                longs.get(0, a, off + done, n);
            }
            done += n;
        }
    }

    // ---- Bulk ------------------------------------------------------------------------------------

    /** Set {@code [offset, offset + length)} to {@code value}. */
    public final void fill(long offset, long length, byte value) {
        Mapping m = map;
        long at = at(m, offset, length);
        byte[] pattern = ZEROS;
        if (value != 0) {
            pattern = new byte[(int) Math.min(length, ZEROS.length)];
            java.util.Arrays.fill(pattern, value);
        }
        for (long done = 0; done < length;) {
            long p = at + done;
            int n = Math.min(step(p, length - done), pattern.length);
            m.window(p).put(Mapping.index(p), pattern, 0, n);
            done += n;
        }
        if (length > 0) {
            m.markRange(at, length);
        }
        Reference.reachabilityFence(m);
    }

    /** Copy {@code length} bytes from {@code srcOffset} to {@code dstOffset} (overlap allowed, like
     *  memmove); both ranges in this view. */
    public final void copy(long srcOffset, long dstOffset, long length) {
        Mapping m = map;
        long src = at(m, srcOffset, length);
        long dst = at(m, dstOffset, length);
        if (dst <= src || dst >= src + length) {
            for (long done = 0; done < length;) {
                long s = src + done, d = dst + done;
                int n = Math.min(step(s, length - done), step(d, length - done));
                m.window(d).put(Mapping.index(d), m.window(s), Mapping.index(s), n);
                done += n;
            }
        } else { // dst above src and overlapping: from the end, so no byte is read after it is overwritten
            for (long done = 0; done < length;) {
                long sEnd = src + length - done, dEnd = dst + length - done;
                long rest = length - done;
                int n = (int) Math.min(Math.min(rest, CHUNK),
                        Math.min(Mapping.index(sEnd - 1) + 1L, Mapping.index(dEnd - 1) + 1L));
                long s = sEnd - n, d = dEnd - n;
                m.window(d).put(Mapping.index(d), m.window(s), Mapping.index(s), n);
                done += n;
            }
        }
        if (length > 0) {
            m.markRange(dst, length);
        }
        Reference.reachabilityFence(m);
    }
}
