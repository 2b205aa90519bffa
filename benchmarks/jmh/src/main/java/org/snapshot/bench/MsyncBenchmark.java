// MsyncBenchmark — JMH: a 64-byte update made durable, on disk and on emulated PM: region.msync()
// against MappedByteBuffer.force() and against one bare pwrite + fdatasync of the same 64 bytes.
package org.snapshot.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.snapshot.Backend;
import org.snapshot.Options;
import org.snapshot.PersistentRegion;

/**
 * Microseconds per durable 64-byte update (eight {@code putLong}s at a random 64-byte-aligned offset
 * of a 1 GiB file, then the sync), sampled (JMH SampleTime: read the p50 lines):
 *
 * <ul>
 *   <li>{@code diskRegionMsync}: a {@link PersistentRegion} (back end FILE) on disk, {@code msync()};
 *   <li>{@code diskMappedForce}: {@code FileChannel.map(READ_WRITE)} of the same kind of file,
 *       {@code MappedByteBuffer.force()};
 *   <li>{@code diskPwriteFdatasync}: {@code FileChannel.write(buf, pos)} of the 64 bytes and
 *       {@code force(false)} — Java's pwrite + fdatasync, the floor for one durable small write;
 *   <li>{@code pmemRegionMsync}: a region on emulated PM ({@code Backend.EMULATED_PMEM}, /dev/shm);
 *       {@code pmemRegionMsyncNoConcurrentWriters} the same opened with
 *       {@code noConcurrentWriters(true)} (no membarrier).
 * </ul>
 *
 * The disk files go to {@code -Dsnapshot.bench.dir} (default {@code build/bench}, which must be on a
 * real disk, not tmpfs). Every file is written in full first (no holes, so no block allocation
 * during the measurement) and every page of the region's DRAM copy is touched before measuring (no
 * copy-on-write faults). Each benchmark runs in its own JVM (EMULATED_PMEM sets PMEM_IS_PMEM_FORCE
 * for the process). Run: {@code mvn -q -Pbench verify -DskipTests
 * -Dbench.args='org.snapshot.bench.MsyncBenchmark'} (benchmarks/java-notes.md).
 */
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xmx1g"})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 4)
public class MsyncBenchmark {
    static final long SIZE = 1L << 30;
    static final int OFFSETS = 1 << 16;

    static Path dir(String medium) throws IOException {
        Path d = medium.equals("pmem") ? Path.of("/dev/shm")
                : Path.of(System.getProperty("snapshot.bench.dir", "build/bench"));
        Files.createDirectories(d);
        return d;
    }

    /** A data file of SIZE bytes, all of them written (no holes). */
    static Path fullFile(Path dir) throws IOException {
        Path f = Files.createTempFile(dir, "snapshot-msync-bench", ".db");
        ByteBuffer zeros = ByteBuffer.allocateDirect(8 << 20);
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
            for (long pos = 0; pos < SIZE; pos += zeros.capacity()) {
                zeros.clear();
                while (zeros.hasRemaining()) {
                    ch.write(zeros, pos + zeros.position());
                }
            }
            ch.force(true);
        }
        return f;
    }

    static long[] offsets() {
        SplittableRandom rnd = new SplittableRandom(42);
        long[] o = new long[OFFSETS];
        for (int i = 0; i < OFFSETS; i++) {
            o[i] = rnd.nextLong(SIZE / 64) * 64;
        }
        return o;
    }

    @State(Scope.Benchmark)
    public abstract static class Base {
        Path file;
        long[] offsets = offsets();
        int next;
        long value;

        long nextOffset() {
            long o = offsets[next];
            next = (next + 1) & (OFFSETS - 1);
            return o;
        }

        void deleteFiles() throws IOException {
            Files.deleteIfExists(file);
            Files.deleteIfExists(Path.of(file + ".snaplog"));
        }
    }

    public abstract static class RegionState extends Base {
        PersistentRegion region;

        void open(String medium, Backend backend) throws IOException {
            file = fullFile(dir(medium));
            region = PersistentRegion.create(file, SIZE, Options.defaults().backend(backend));
            touch();
        }

        void touch() {
            // Touch every page of the DRAM copy (MAP_PRIVATE: copy-on-write on the first store).
            for (long p = 0; p < SIZE; p += 4096) {
                region.putLong(p, 0);
                if ((p & ((64L << 20) - 1)) == 0) {
                    region.msync();
                }
            }
            region.msync();
        }

        @TearDown(Level.Trial)
        public void tearDown() throws IOException {
            region.close();
            deleteFiles();
        }
    }

    public static class DiskRegion extends RegionState {
        @Setup(Level.Trial)
        public void setUp() throws IOException {
            open("disk", Backend.FILE);
        }
    }

    public static class PmemRegion extends RegionState {
        @Setup(Level.Trial)
        public void setUp() throws IOException {
            open("pmem", Backend.EMULATED_PMEM);
        }
    }

    /** Emulated PM, opened with noConcurrentWriters(true): msync skips its membarrier. */
    public static class PmemRegionNcw extends RegionState {
        @Setup(Level.Trial)
        public void setUp() throws IOException {
            file = fullFile(dir("pmem"));
            region = PersistentRegion.create(file, SIZE,
                    Options.defaults().backend(Backend.EMULATED_PMEM).noConcurrentWriters(true));
            touch();
        }
    }

    public static class DiskMapped extends Base {
        FileChannel channel;
        MappedByteBuffer mapped;

        @Setup(Level.Trial)
        public void setUp() throws IOException {
            file = fullFile(dir("disk"));
            channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
            mapped = channel.map(FileChannel.MapMode.READ_WRITE, 0, SIZE);
            mapped.order(ByteOrder.LITTLE_ENDIAN);
            mapped.load();
        }

        @TearDown(Level.Trial)
        public void tearDown() throws IOException {
            channel.close();
            deleteFiles();
        }
    }

    public static class DiskChannel extends Base {
        FileChannel channel;
        final ByteBuffer buf = ByteBuffer.allocateDirect(64).order(ByteOrder.LITTLE_ENDIAN);

        @Setup(Level.Trial)
        public void setUp() throws IOException {
            file = fullFile(dir("disk"));
            channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        }

        @TearDown(Level.Trial)
        public void tearDown() throws IOException {
            channel.close();
            deleteFiles();
        }
    }

    static void update(PersistentRegion r, long off, long v) {
        for (int i = 0; i < 64; i += 8) {
            r.putLong(off + i, v + i);
        }
    }

    @Benchmark
    public void diskRegionMsync(DiskRegion s) {
        update(s.region, s.nextOffset(), s.value++);
        s.region.msync();
    }

    @Benchmark
    public void pmemRegionMsync(PmemRegion s) {
        update(s.region, s.nextOffset(), s.value++);
        s.region.msync();
    }

    @Benchmark
    public void pmemRegionMsyncNoConcurrentWriters(PmemRegionNcw s) {
        update(s.region, s.nextOffset(), s.value++);
        s.region.msync();
    }

    @Benchmark
    public void diskMappedForce(DiskMapped s) {
        int off = (int) s.nextOffset();
        long v = s.value++;
        for (int i = 0; i < 64; i += 8) {
            s.mapped.putLong(off + i, v + i);
        }
        s.mapped.force();
    }

    @Benchmark
    public void diskPwriteFdatasync(DiskChannel s) throws IOException {
        long off = s.nextOffset();
        long v = s.value++;
        ByteBuffer b = s.buf;
        b.clear();
        for (int i = 0; i < 64; i += 8) {
            b.putLong(i, v + i);
        }
        while (b.hasRemaining()) {
            s.channel.write(b, off + b.position());
        }
        s.channel.force(false);
    }
}
