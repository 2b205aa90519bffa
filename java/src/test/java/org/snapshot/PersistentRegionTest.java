// PersistentRegionTest — accessors round-trip, bounds, byte order, slices, bulk operations, commit
// and discard, tracking of the lines written, stats.
package org.snapshot;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class PersistentRegionTest {
    static final int SIZE = 1 << 20;
    static Path dir;

    @BeforeAll
    static void setUp() {
        dir = TestFiles.diskDir("region");
    }

    static PersistentRegion fresh(String name) {
        return PersistentRegion.create(dir.resolve(name), SIZE, Options.defaults().exclusive(true));
    }

    @Test
    void primitivesRoundTrip() {
        try (PersistentRegion r = fresh("primitives")) {
            r.putByte(1, (byte) -7);
            r.putShort(3, (short) 0x1234);
            r.putInt(61, 0xCAFEBABE); // spans two lines
            r.putLong(SIZE - 8, Long.MIN_VALUE + 5);
            r.putFloat(100, 3.25f);
            r.putDouble(200, -Math.PI);
            assertEquals((byte) -7, r.getByte(1));
            assertEquals((short) 0x1234, r.getShort(3));
            assertEquals(0xCAFEBABE, r.getInt(61));
            assertEquals(Long.MIN_VALUE + 5, r.getLong(SIZE - 8));
            assertEquals(3.25f, r.getFloat(100));
            assertEquals(-Math.PI, r.getDouble(200));
            r.msync();
        }
        try (PersistentRegion r = PersistentRegion.open(dir.resolve("primitives"))) {
            assertEquals(SIZE, r.size());
            assertEquals((byte) -7, r.getByte(1));
            assertEquals((short) 0x1234, r.getShort(3));
            assertEquals(0xCAFEBABE, r.getInt(61));
            assertEquals(Long.MIN_VALUE + 5, r.getLong(SIZE - 8));
            assertEquals(3.25f, r.getFloat(100));
            assertEquals(-Math.PI, r.getDouble(200));
        }
    }

    /**
     * The accessors take the raw path wherever the JDK allows it without a warning: Unsafe on JDK 17
     * to 23, FFM on 24+ (the jar's META-INF/versions/24 copy of Raw; the tests run with native
     * access enabled, as users on 24+ must for JNI). Fails if the jar lost its multi-release part.
     * The failsafe execution "windows" runs the accessor tests again with raw accesses off.
     */
    @Test
    void rawAccessesWhereTheJdkAllowsThem() {
        boolean wanted = Boolean.parseBoolean(System.getProperty("org.snapshot.raw", "true"));
        assertEquals(wanted, Raw.ON, "org.snapshot.raw=" + wanted + " on JDK " + Runtime.version());
    }

    @Test
    void littleEndianLikeC() {
        try (PersistentRegion r = fresh("endian")) {
            assertEquals(ByteOrder.LITTLE_ENDIAN, r.order());
            r.putLong(0, 0x0102030405060708L);
            byte[] b = new byte[8];
            r.getBytes(0, b);
            assertArrayEquals(new byte[] {8, 7, 6, 5, 4, 3, 2, 1}, b);
            r.putInt(16, 0x11223344);
            assertEquals(0x44, r.getByte(16));
            assertEquals(0x3344, r.getShort(16));
            r.putDouble(32, 1.0);
            assertEquals(Double.doubleToLongBits(1.0), r.getLong(32));
        }
    }

    @Test
    void uncommittedWritesAreDiscardedByClose() {
        Path p = dir.resolve("discard");
        try (PersistentRegion r = PersistentRegion.create(p, SIZE)) {
            r.putLong(0, 1);
            r.msync();
            r.putLong(0, 2);
            r.putLong(4096, 3);
            assertEquals(2, r.getLong(0));
        }
        try (PersistentRegion r = PersistentRegion.open(p)) {
            assertEquals(1, r.getLong(0));
            assertEquals(0, r.getLong(4096));
        }
    }

    @Test
    void arraysAndBuffers() {
        SplittableRandom rnd = new SplittableRandom(1);
        byte[] data = new byte[10_000];
        rnd.nextBytes(data);
        try (PersistentRegion r = fresh("arrays")) {
            r.putBytes(123, data);
            r.putBytes(50_000, data, 100, 500);
            byte[] back = new byte[data.length];
            r.getBytes(123, back);
            assertArrayEquals(data, back);
            byte[] part = new byte[600];
            r.getBytes(50_000, part, 50, 500);
            assertArrayEquals(Arrays.copyOfRange(data, 100, 600), Arrays.copyOfRange(part, 50, 550));

            ByteBuffer heap = ByteBuffer.wrap(data, 10, 300);
            r.putBytes(200_000, heap);
            assertEquals(310, heap.position());
            ByteBuffer direct = ByteBuffer.allocateDirect(1000);
            direct.position(100).limit(400);
            r.getBytes(200_000, direct);
            assertEquals(400, direct.position());
            for (int i = 0; i < 300; i++) {
                assertEquals(data[10 + i], direct.get(100 + i));
            }
            direct.clear();
            r.putBytes(300_000, direct); // from a direct buffer: 1000 bytes
            assertEquals(direct.limit(), direct.position());
            r.msync();
        }
        try (PersistentRegion r = PersistentRegion.open(dir.resolve("arrays"))) {
            byte[] back = new byte[data.length];
            r.getBytes(123, back);
            assertArrayEquals(data, back);
            assertEquals(data[10 + 299], r.getByte(200_000 + 299));
        }
    }

    @Test
    void fillAndCopyWithOverlap() {
        byte[] model = new byte[SIZE];
        try (PersistentRegion r = fresh("bulk")) {
            SplittableRandom rnd = new SplittableRandom(2);
            byte[] noise = new byte[SIZE];
            rnd.nextBytes(noise);
            r.putBytes(0, noise);
            System.arraycopy(noise, 0, model, 0, SIZE);
            r.fill(1000, 70_000, (byte) 0x5A);
            Arrays.fill(model, 1000, 71_000, (byte) 0x5A);
            r.fill(80_000, 300, (byte) 0);
            Arrays.fill(model, 80_000, 80_300, (byte) 0);
            r.copy(100_000, 100_100, 5000); // overlapping, forward: copied from the end
            System.arraycopy(model, 100_000, model, 100_100, 5000);
            r.copy(200_100, 200_000, 5000); // overlapping, backward
            System.arraycopy(model, 200_100, model, 200_000, 5000);
            r.copy(0, 500_000, 300_000); // disjoint
            System.arraycopy(model, 0, model, 500_000, 300_000);
            byte[] back = new byte[SIZE];
            r.getBytes(0, back);
            assertArrayEquals(model, back);
            r.msync();
        }
        try (PersistentRegion r = PersistentRegion.open(dir.resolve("bulk"))) {
            byte[] back = new byte[SIZE];
            r.getBytes(0, back);
            assertArrayEquals(model, back);
        }
    }

    @Test
    void boundsAreChecked() {
        try (PersistentRegion r = fresh("bounds")) {
            assertThrows(IndexOutOfBoundsException.class, () -> r.getByte(-1));
            assertThrows(IndexOutOfBoundsException.class, () -> r.putByte(SIZE, (byte) 1));
            assertThrows(IndexOutOfBoundsException.class, () -> r.putLong(SIZE - 7, 1));
            assertThrows(IndexOutOfBoundsException.class, () -> r.getInt(SIZE - 3));
            assertThrows(IndexOutOfBoundsException.class, () -> r.putShort(Long.MAX_VALUE, (short) 1));
            assertThrows(IndexOutOfBoundsException.class, () -> r.getDouble(Long.MIN_VALUE));
            assertThrows(IndexOutOfBoundsException.class, () -> r.putBytes(SIZE - 10, new byte[11]));
            assertThrows(IndexOutOfBoundsException.class, () -> r.putBytes(0, new byte[10], 5, 6));
            assertThrows(IndexOutOfBoundsException.class, () -> r.getBytes(SIZE, new byte[1]));
            assertThrows(IndexOutOfBoundsException.class, () -> r.putLongs(SIZE - 15, new long[2], 0, 2));
            assertThrows(IndexOutOfBoundsException.class, () -> r.getLongs(0, new long[2], 1, 2));
            assertThrows(IndexOutOfBoundsException.class, () -> r.putLongs(-8, new long[1], 0, 1));
            assertThrows(IndexOutOfBoundsException.class,
                    () -> r.putBytes(SIZE - 1, ByteBuffer.allocate(2)));
            assertThrows(IndexOutOfBoundsException.class, () -> r.fill(10, -1, (byte) 0));
            assertThrows(IndexOutOfBoundsException.class, () -> r.fill(1, SIZE, (byte) 0));
            assertThrows(IndexOutOfBoundsException.class, () -> r.copy(0, SIZE - 5, 6));
            assertThrows(IndexOutOfBoundsException.class, () -> r.copy(Long.MAX_VALUE, 0, 2));
            assertThrows(IndexOutOfBoundsException.class, () -> r.slice(SIZE - 10, 11));
            assertThrows(IndexOutOfBoundsException.class, () -> r.slice(-1, 1));
            // Nothing was written by the failed calls.
            assertEquals(0, r.stats().msyncs());
            r.msync();
            assertEquals(0, r.stats().linesCommitted());
            // Zero-length operations at the end are fine.
            r.putBytes(SIZE, new byte[0]);
            r.fill(SIZE, 0, (byte) 1);
            assertEquals(0, r.slice(SIZE, 0).size());
        }
    }

    @Test
    @SuppressWarnings("try") // closes the region inside its try, on purpose
    void slices() {
        try (PersistentRegion r = fresh("slices")) {
            RegionSlice s = r.slice(4096, 8192);
            assertEquals(8192, s.size());
            assertEquals(4096, s.offsetInRegion());
            assertSame(r, s.region());
            assertEquals(r.address() + 4096, s.address());
            s.putLong(0, 77);
            s.putInt(8188, 5);
            assertEquals(77, r.getLong(4096));
            assertEquals(5, r.getInt(4096 + 8188));
            assertThrows(IndexOutOfBoundsException.class, () -> s.putInt(8189, 1));
            assertThrows(IndexOutOfBoundsException.class, () -> s.getByte(-1));
            RegionSlice inner = s.slice(100, 10);
            inner.fill(0, 10, (byte) 9);
            assertEquals(9, r.getByte(4096 + 109));
            assertEquals(0, r.getByte(4096 + 110));
            assertThrows(IndexOutOfBoundsException.class, () -> inner.fill(1, 10, (byte) 1));
            inner.copy(0, 5, 5);
            s.copy(0, 16, 8);
            assertEquals(77, s.getLong(16));
            r.msync();
            r.close();
            assertFalse(s.isOpen());
            assertThrows(RegionClosedException.class, () -> s.getLong(0));
            assertThrows(RegionClosedException.class, () -> inner.putByte(0, (byte) 1));
        }
        try (PersistentRegion r = PersistentRegion.open(dir.resolve("slices"))) {
            assertEquals(77, r.getLong(4096));
            assertEquals(77, r.getLong(4096 + 16));
            assertEquals(9, r.getByte(4096 + 105));
        }
    }

    @Test
    void longArraysAreConsecutiveLittleEndianLongs() {
        long[] src = new long[1000];
        for (int i = 0; i < src.length; i++) {
            src[i] = 0x0101010101010101L * i ^ Long.MIN_VALUE;
        }
        try (PersistentRegion r = fresh("longs")) {
            r.putLongs(4 * 64 + 4, src, 10, 100); // unaligned: 801 bytes over lines 4 .. 16
            for (int i = 0; i < 100; i++) {
                assertEquals(src[10 + i], r.getLong(4 * 64 + 4 + 8L * i));
            }
            assertFalse(r.map.isMarked(3 * 64) || r.map.isMarked(17 * 64));
            for (long line = 4; line <= 16; line++) {
                assertTrue(r.map.isMarked(line * 64), "line " + line);
            }
            r.putLongs(SIZE - 8L * src.length, src, 0, src.length); // the region's end
            long[] back = new long[src.length + 2];
            r.getLongs(SIZE - 8L * src.length, back, 1, src.length);
            assertArrayEquals(src, Arrays.copyOfRange(back, 1, src.length + 1));
            assertEquals(0, back[0]);
            r.putLongs(0, src, 5, 0); // nothing
            r.msync();
            assertEquals(13 + 125, r.stats().linesCommitted());
        }
        try (PersistentRegion r = PersistentRegion.open(dir.resolve("longs"))) {
            long[] back = new long[100];
            r.getLongs(4 * 64 + 4, back, 0, 100);
            assertArrayEquals(Arrays.copyOfRange(src, 10, 110), back);
            assertEquals(src[999], r.getLong(SIZE - 8));
            assertEquals(0, r.getLong(0));
        }
    }

    @Test
    void writesMarkTheirLinesAndMsyncCommitsExactlyThose() {
        try (PersistentRegion r = fresh("tracking")) {
            Mapping m = r.map;
            assertFalse(m.isMarked(0));
            r.putLong(0, 1); // line 0
            r.putLong(60, 1); // lines 0 and 1
            r.putByte(64 * 1000, (byte) 1); // line 1000 (another level-0 word)
            r.putBytes(SIZE - 200, new byte[200]); // the last 4 lines (200 bytes from a line's middle)
            assertTrue(m.isMarked(0) && m.isMarked(64) && m.isMarked(64 * 1000));
            assertFalse(m.isMarked(128));
            r.msync();
            assertFalse(m.isMarked(0) || m.isMarked(64) || m.isMarked(64 * 1000));
            RegionStats s = r.stats();
            assertEquals(1, s.msyncs());
            assertEquals(1, s.commits());
            assertEquals(2 + 1 + 4, s.linesCommitted());
            r.putLong(8, 2); // an already committed line, again
            r.msync();
            assertEquals(8, r.stats().linesCommitted());
            r.msync(); // nothing to commit
            assertEquals(3, r.stats().msyncs());
            assertEquals(8, r.stats().linesCommitted());
        }
    }

    @Test
    void populateKeepsTheBytesAndMarksNothing() throws IOException {
        byte[] pattern = new byte[SIZE];
        new SplittableRandom(7).nextBytes(pattern);
        try (PersistentRegion r = fresh("populate")) {
            r.putBytes(0, pattern);
            r.msync();
        }
        // Without the flag the copy is a lazy private mapping of the file: nothing copied yet
        // (with SNAPSHOT_HUGEPAGES=1 the core fills anonymous memory at open either way).
        if (!"1".equals(System.getenv("SNAPSHOT_HUGEPAGES"))) {
            try (PersistentRegion r = PersistentRegion.open(dir.resolve("populate"))) {
                assertTrue(anonymousKb(r.map.base) < SIZE / 1024 / 8, "lazy copy already resident");
            }
        }
        Options o = Options.defaults().populate(true);
        assertTrue(o.toString().contains("populate=true"));
        try (PersistentRegion r = PersistentRegion.open(dir.resolve("populate"), o)) {
            // The core (SNAP_POPULATE) copied every page for writing at open.
            assertTrue(anonymousKb(r.map.base) >= SIZE / 1024, "populated copy not resident");
            for (long at = 0; at < SIZE; at += 64) {
                assertFalse(r.map.isMarked(at), "line at " + at);
            }
            byte[] back = new byte[SIZE];
            r.getBytes(0, back);
            assertArrayEquals(pattern, back);
            r.msync();
            assertEquals(0, r.stats().linesCommitted());
            r.putLong(4096, 42); // a populated page still commits its stores
            r.msync();
            assertEquals(1, r.stats().linesCommitted());
        }
        try (PersistentRegion r = PersistentRegion.open(dir.resolve("populate"))) {
            assertEquals(42, r.getLong(4096));
            assertEquals(pattern[0], r.getByte(0));
            assertEquals(pattern[SIZE - 1], r.getByte(SIZE - 1));
        }
    }

    @Test
    void hugepagesReachTheCore() throws IOException {
        // The core advises MADV_HUGEPAGE on the copy (SNAP_HUGEPAGES): smaps shows it as "hg" in
        // the mapping's VmFlags whether or not THP then backs it with huge pages.
        Assumptions.assumeTrue(Files.exists(Path.of("/sys/kernel/mm/transparent_hugepage/enabled")),
                "no transparent huge pages in this kernel");
        Assumptions.assumeTrue(System.getenv("SNAPSHOT_HUGEPAGES") == null,
                "SNAPSHOT_HUGEPAGES overrides the option");
        Options o = Options.defaults().hugepages(true);
        assertTrue(o.toString().contains("hugepages=true"));
        try (PersistentRegion r = PersistentRegion.create(dir.resolve("huge"), SIZE, o)) {
            assertTrue(vmFlags(r.map.base).contains(" hg"), "copy not advised huge pages");
            r.putLong(8, 42);
            r.msync();
        }
        try (PersistentRegion r = PersistentRegion.open(dir.resolve("huge"), o)) { // read in
            assertTrue(vmFlags(r.map.base).contains(" hg"), "reopened copy not advised");
            assertEquals(42, r.getLong(8));
        }
        try (PersistentRegion r = PersistentRegion.open(dir.resolve("huge"))) { // off by default
            assertFalse(vmFlags(r.map.base).contains(" hg"), "advised without the option");
        }
    }

    /** The "VmFlags:" line of the mapping that holds {@code address}, from /proc/self/smaps. */
    static String vmFlags(long address) throws IOException {
        boolean in = false;
        for (String line : Files.readAllLines(Path.of("/proc/self/smaps"))) {
            int dash = line.indexOf('-'), space = line.indexOf(' ');
            if (dash > 0 && dash < space && line.substring(0, dash).matches("[0-9a-f]+")) {
                long lo = Long.parseUnsignedLong(line.substring(0, dash), 16);
                long hi = Long.parseUnsignedLong(line.substring(dash + 1, space), 16);
                in = Long.compareUnsigned(lo, address) <= 0 && Long.compareUnsigned(address, hi) < 0;
            } else if (in && line.startsWith("VmFlags:")) {
                return line;
            }
        }
        throw new AssertionError("no mapping at 0x" + Long.toHexString(address));
    }

    /** "Anonymous:" of the mapping that starts at {@code address}, from /proc/self/smaps, in kB. */
    static long anonymousKb(long address) throws IOException {
        boolean in = false;
        for (String line : Files.readAllLines(Path.of("/proc/self/smaps"))) {
            int dash = line.indexOf('-'), space = line.indexOf(' ');
            if (dash > 0 && dash < space && line.substring(0, dash).matches("[0-9a-f]+")) {
                in = Long.parseUnsignedLong(line.substring(0, dash), 16) == address;
            } else if (in && line.startsWith("Anonymous:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new AssertionError("no mapping at 0x" + Long.toHexString(address));
    }

    @Test
    void statsAndAccessors() {
        try (PersistentRegion r = fresh("stats")) {
            RegionStats s = r.stats();
            assertEquals(SIZE, s.size());
            assertEquals(Backend.FILE, s.backend());
            assertEquals(0, s.epoch());
            r.putInt(0, 1);
            r.msync();
            assertEquals(1, r.stats().epoch());
            assertTrue(r.isOpen());
            assertNotEquals(0, r.address());
            assertNotEquals(0, r.handle());
            assertTrue(r.toString().contains("stats"));
            assertTrue(PersistentRegion.nativeLibrary().endsWith("libsnapshot.so.0"));
        }
    }

    @Test
    void closeIsIdempotentAndEverythingAfterItThrows() {
        PersistentRegion r = fresh("closed");
        r.close();
        r.close();
        assertFalse(r.isOpen());
        RegionClosedException e = assertThrows(RegionClosedException.class, () -> r.putLong(0, 1));
        assertEquals(-30099, e.code());
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> r.getLong(0));
        assertThrows(IllegalStateException.class, () -> r.getBytes(0, new byte[4]));
        assertThrows(IllegalStateException.class, () -> r.putLongs(0, new long[1], 0, 1));
        assertThrows(IllegalStateException.class, () -> r.fill(0, 4, (byte) 0));
        assertThrows(IllegalStateException.class, () -> r.copy(0, 8, 4));
        assertThrows(IllegalStateException.class, r::msync);
        assertThrows(IllegalStateException.class, r::stats);
        assertThrows(IllegalStateException.class, r::address);
        assertThrows(IllegalStateException.class, r::handle);
        assertThrows(IllegalStateException.class, () -> r.slice(0, 1));
        assertEquals(SIZE, r.size());
    }

    @Test
    void scatteredLinesInALargeRegionAreAllCommitted() {
        // Lines far apart sit under different summary words at every level: a missing parent bit
        // would hide them from msync.
        Path p = dir.resolve("scattered");
        long size = 1L << 30;
        SplittableRandom rnd = new SplittableRandom(3);
        long[] offs = new long[2000];
        try (PersistentRegion r = PersistentRegion.create(p, size)) {
            for (int i = 0; i < offs.length; i++) {
                offs[i] = rnd.nextLong(size / 8) * 8;
                r.putLong(offs[i], offs[i] ^ 0x5555);
            }
            r.msync();
        }
        try (PersistentRegion r = PersistentRegion.open(p)) {
            for (long o : offs) {
                assertEquals(o ^ 0x5555, r.getLong(o), "offset " + o);
            }
        }
    }
}
