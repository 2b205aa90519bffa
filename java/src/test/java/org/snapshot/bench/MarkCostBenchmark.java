// MarkCostBenchmark — JMH: what each part of a tracked store costs in a sequential loop, without a region.
package org.snapshot.bench;

import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.CompilerControl;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Nanoseconds per 8-byte store over 1 MiB of off-heap memory (in cache), building up what
 * {@code PersistentRegion.putLong} does on JDK 17 (org.snapshot.Raw) one piece at a time: a plain
 * raw store with a bounds check; plus the volatile "closed" check; plus the marking's fast path (a
 * plain read of the line's bitmap word, a test, and a call to an out-of-line slow path with an
 * atomic OR, taken in the first pass only, as in a region); both; both with the atomic OR inline
 * instead of the call; and card marking (an unconditional byte store per line, optionally a summary
 * byte per 4 KiB, with a volatile or a plain closed flag), the floor of per-store tracking. Against
 * the same loop over a direct ByteBuffer. Shows why a per-store check cannot reach a buffer's
 * speed: benchmarks/java-notes.md. Uses sun.misc.Unsafe: run on JDK
 * 17 to 23.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xmx1g"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class MarkCostBenchmark {
    static final int OPS = 1 << 16;
    static final long SIZE = 1 << 20;
    static final sun.misc.Unsafe U;

    static {
        try {
            Field f = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            U = (sun.misc.Unsafe) f.get(null);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** The state an accessor reads: base, bitmap, size, closed flag (as org.snapshot.Mapping). */
    static final class Memory {
        final long base;
        final long bitmap;
        final long size;
        final long cards;   // one byte per 64-byte line
        final long summary; // one byte per 4 KiB
        volatile boolean closed;
        boolean plainClosed;

        Memory(long base, long bitmap, long size) {
            this.base = base;
            this.bitmap = bitmap;
            this.size = size;
            this.cards = U.allocateMemory(size / 64);
            this.summary = U.allocateMemory(size / 4096);
            U.setMemory(cards, size / 64, (byte) 0);
            U.setMemory(summary, size / 4096, (byte) 0);
        }

        void check(long at) {
            if (at < 0 || at > size - 8) {
                throw new IndexOutOfBoundsException(at);
            }
        }

        boolean marked(long at) {
            return (at & 63) <= 56 && (U.getLong(bitmap + ((at >>> 12) << 3)) & 1L << (at >>> 6)) != 0;
        }

        /** The atomic OR of the line's bit (taken on each line's first store, then never). */
        @CompilerControl(CompilerControl.Mode.DONT_INLINE)
        void markSlow(long at) {
            long word = bitmap + ((at >>> 12) << 3);
            long w;
            do {
                w = U.getLongVolatile(null, word);
            } while (!U.compareAndSwapLong(null, word, w, w | 1L << (at >>> 6)));
        }

        void put(long at, long v) {
            check(at);
            U.putLong(base + at, v);
        }

        void putClosed(long at, long v) {
            if (closed) {
                throw new IllegalStateException("closed");
            }
            put(at, v);
        }

        /** As putClosedMarked with the slow path's atomic OR inline (a CAS loop) instead of a call. */
        void putClosedMarkedCas(long at, long v) {
            putClosed(at, v);
            if (!marked(at)) {
                long word = bitmap + ((at >>> 12) << 3);
                long w = U.getLong(word);
                while (!U.compareAndSwapLong(null, word, w, w | 1L << (at >>> 6))) {
                    w = U.getLongVolatile(null, word);
                }
            }
        }

        /** Card marking, as HotSpot's GC write barrier: one unconditional byte store per store. */
        void putClosedCard(long at, long v) {
            putClosed(at, v);
            U.putByte(cards + (at >>> 6), (byte) 1);
        }

        /** Card marking with a plain (not volatile) closed flag, which the JIT may hoist out of a loop. */
        void putPlainClosedCard(long at, long v) {
            if (plainClosed) {
                throw new IllegalStateException("closed");
            }
            put(at, v);
            U.putByte(cards + (at >>> 6), (byte) 1);
        }

        /** As putPlainClosedCard, plus an unconditional summary byte per 4 KiB. */
        void putPlainClosedCardSummary(long at, long v) {
            putPlainClosedCard(at, v);
            U.putByte(summary + (at >>> 12), (byte) 1);
        }

        /** Card marking plus a summary byte per 4 KiB, set inline only when found clear (no call). */
        void putClosedCardSummary(long at, long v) {
            putClosedCard(at, v);
            long s = summary + (at >>> 12);
            if (U.getByte(s) == 0) {
                U.putByte(s, (byte) 1);
            }
        }

        void putMarked(long at, long v) {
            put(at, v);
            if (!marked(at)) {
                markSlow(at);
            }
        }

        void putClosedMarked(long at, long v) {
            putClosed(at, v);
            if (!marked(at)) {
                markSlow(at);
            }
        }
    }

    Memory memory;
    ByteBuffer buffer;
    long next;

    @Setup(Level.Trial)
    public void setUp() {
        long bitmapBytes = SIZE / 64 / 8;
        memory = new Memory(U.allocateMemory(SIZE), U.allocateMemory(bitmapBytes), SIZE);
        U.setMemory(memory.base, SIZE, (byte) 0);
        U.setMemory(memory.bitmap, bitmapBytes, (byte) 0); // the first pass takes the slow path
        buffer = ByteBuffer.allocateDirect((int) SIZE).order(ByteOrder.LITTLE_ENDIAN);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        U.freeMemory(memory.base);
        U.freeMemory(memory.bitmap);
        U.freeMemory(memory.cards);
        U.freeMemory(memory.summary);
    }

    /** OPS consecutive longs, continuing where the last invocation stopped (wrapping). */
    private long start() {
        long s = next;
        next = s + OPS >= SIZE / 8 ? 0 : s + OPS;
        return s;
    }

    @Benchmark
    @OperationsPerInvocation(OPS)
    public void buffer() {
        long s = start();
        for (long i = s; i < s + OPS; i++) {
            buffer.putLong((int) (i << 3), i);
        }
    }

    @Benchmark
    @OperationsPerInvocation(OPS)
    public void raw() {
        long s = start();
        for (long i = s; i < s + OPS; i++) {
            memory.put(i << 3, i);
        }
    }

    @Benchmark
    @OperationsPerInvocation(OPS)
    public void rawClosedCheck() {
        long s = start();
        for (long i = s; i < s + OPS; i++) {
            memory.putClosed(i << 3, i);
        }
    }

    @Benchmark
    @OperationsPerInvocation(OPS)
    public void rawMarkCheck() {
        long s = start();
        for (long i = s; i < s + OPS; i++) {
            memory.putMarked(i << 3, i);
        }
    }

    @Benchmark
    @OperationsPerInvocation(OPS)
    public void rawClosedAndMarkChecks() {
        long s = start();
        for (long i = s; i < s + OPS; i++) {
            memory.putClosedMarked(i << 3, i);
        }
    }

    @Benchmark
    @OperationsPerInvocation(OPS)
    public void rawClosedAndMarkChecksInlineCas() {
        long s = start();
        for (long i = s; i < s + OPS; i++) {
            memory.putClosedMarkedCas(i << 3, i);
        }
    }

    @Benchmark
    @OperationsPerInvocation(OPS)
    public void rawClosedCard() {
        long s = start();
        for (long i = s; i < s + OPS; i++) {
            memory.putClosedCard(i << 3, i);
        }
    }

    @Benchmark
    @OperationsPerInvocation(OPS)
    public void rawClosedCardSummary() {
        long s = start();
        for (long i = s; i < s + OPS; i++) {
            memory.putClosedCardSummary(i << 3, i);
        }
    }

    @Benchmark
    @OperationsPerInvocation(OPS)
    public void rawPlainClosedCard() {
        long s = start();
        for (long i = s; i < s + OPS; i++) {
            memory.putPlainClosedCard(i << 3, i);
        }
    }

    @Benchmark
    @OperationsPerInvocation(OPS)
    public void rawPlainClosedCardSummary() {
        long s = start();
        for (long i = s; i < s + OPS; i++) {
            memory.putPlainClosedCardSummary(i << 3, i);
        }
    }
}
