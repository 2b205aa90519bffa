// PutLongBenchmark — JMH: a putLong loop over a region against the same loop over a direct ByteBuffer.
package org.snapshot.bench;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.snapshot.Backend;
import org.snapshot.Options;
import org.snapshot.PersistentRegion;

/**
 * Nanoseconds per 8-byte store. {@code region*} write a {@link PersistentRegion} (a file on
 * /dev/shm), {@code buffer*} a direct little-endian ByteBuffer of the same size: the goal is a
 * region at most 1.3x slower. Sequential and random offsets; {@code regionSequentialMsync} adds an
 * msync after each pass, so every line's first store takes the marking's slow path and the commit
 * is included. {@code regionPutLongs} and {@code bufferPutLongs} write the same longs, computed
 * into an array first (counted in the time), with one bulk call. Run:
 * {@code mvn -q -Pbench verify -DskipTests} (benchmarks/java-notes.md).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx1g"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class PutLongBenchmark {
    static final int OPS = 1 << 16;

    @Param({"1", "64"})
    int mib;

    Path file;
    PersistentRegion region;
    ByteBuffer buffer;
    LongBuffer bufferLongs; // the same buffer, for its bulk put
    long[] offsets;
    long[] values = new long[OPS];
    long longs;
    long next;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        file = Files.createTempFile(Path.of("/dev/shm"), "snapshot-bench", ".db");
        Files.delete(file);
        long size = (long) mib << 20;
        region = PersistentRegion.create(file, size, Options.defaults().backend(Backend.FILE));
        buffer = ByteBuffer.allocateDirect((int) size).order(ByteOrder.LITTLE_ENDIAN);
        bufferLongs = buffer.asLongBuffer();
        longs = size / 8;
        SplittableRandom rnd = new SplittableRandom(1);
        offsets = new long[OPS];
        for (int i = 0; i < OPS; i++) {
            offsets[i] = rnd.nextLong(longs) * 8;
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        region.close();
        Files.deleteIfExists(file);
        Files.deleteIfExists(Path.of(file + ".snaplog"));
    }

    /** OPS consecutive longs, continuing where the last invocation stopped (wrapping). */
    private long start() {
        long s = next;
        next = s + OPS >= longs ? 0 : s + OPS;
        return s;
    }

    @Benchmark
    @OperationsPerInvocation(OPS)
    public void regionSequential() {
        long s = start();
        for (long i = s; i < s + OPS; i++) {
            region.putLong(i << 3, i);
        }
    }

    @Benchmark
    @OperationsPerInvocation(OPS)
    public void bufferSequential() {
        long s = start();
        for (long i = s; i < s + OPS; i++) {
            buffer.putLong((int) (i << 3), i);
        }
    }

    @Benchmark
    @OperationsPerInvocation(OPS)
    public void regionRandom() {
        long[] o = offsets;
        for (int i = 0; i < o.length; i++) {
            region.putLong(o[i], i);
        }
    }

    @Benchmark
    @OperationsPerInvocation(OPS)
    public void bufferRandom() {
        long[] o = offsets;
        for (int i = 0; i < o.length; i++) {
            buffer.putLong((int) o[i], i);
        }
    }

    @Benchmark
    @OperationsPerInvocation(OPS)
    public void regionSequentialMsync() {
        long s = start();
        for (long i = s; i < s + OPS; i++) {
            region.putLong(i << 3, i);
        }
        region.msync();
    }

    @Benchmark
    @OperationsPerInvocation(OPS)
    public void regionPutLongs() {
        long s = start();
        long[] v = values;
        for (int i = 0; i < OPS; i++) {
            v[i] = s + i;
        }
        region.putLongs(s << 3, v, 0, OPS);
    }

    @Benchmark
    @OperationsPerInvocation(OPS)
    public void bufferPutLongs() {
        long s = start();
        long[] v = values;
        for (int i = 0; i < OPS; i++) {
            v[i] = s + i;
        }
        bufferLongs.put((int) s, v);
    }
}
