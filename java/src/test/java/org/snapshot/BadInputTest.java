// BadInputTest — every bad input of the core, seen from Java: the right exception, a message that says
// what to do, and committed data intact.
package org.snapshot;

import static org.junit.jupiter.api.Assertions.*;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class BadInputTest {
    static final int SIZE = 64 << 10;
    static final long SEED = 5;
    static final int EPOCHS = 4;
    static Path dir;

    @BeforeAll
    static void setUp() {
        dir = TestFiles.diskDir("bad-input");
    }

    /** A region whose log holds EPOCHS committed records (a child commits them and halts). */
    static Path withRecords(String name) throws Exception {
        Path p = dir.resolve(name);
        ChildJvm.run(Map.of(), "commit", p.toString(), "FILE", Long.toString(SEED),
                Integer.toString(SIZE), Integer.toString(EPOCHS));
        return p;
    }

    static void assertContent(Path p, long epoch) {
        try (PersistentRegion r = PersistentRegion.open(p)) {
            byte[] got = new byte[SIZE];
            r.getBytes(0, got);
            assertArrayEquals(Workload.model(SEED, epoch, SIZE), got, "committed content of " + p);
        }
    }

    /** Both files, to show a failed open changed nothing. */
    static byte[][] files(Path p) {
        Path log = TestFiles.log(p);
        return new byte[][] {TestFiles.read(p), Files.exists(log) ? TestFiles.read(log) : null};
    }

    static <T extends Throwable> T failsAndChangesNothing(Class<T> type, Path p, Runnable open) {
        byte[][] before = files(p);
        T e = assertThrows(type, open::run);
        byte[][] after = files(p);
        assertArrayEquals(before[0], after[0], "the failed open changed the data file");
        assertArrayEquals(before[1], after[1], "the failed open changed the log");
        return e;
    }

    /** File offsets of the log's records (redo_log.h: area at 4096; total at +56). */
    static long[] records(Path p) throws Exception {
        ByteBuffer log = ByteBuffer.wrap(TestFiles.read(TestFiles.log(p))).order(ByteOrder.LITTLE_ENDIAN);
        long[] offs = new long[EPOCHS];
        long off = 4096;
        for (int i = 0; i < EPOCHS; i++) {
            assertEquals(0x3143455250414e53L, log.getLong((int) off), "record magic"); // SNAPREC1
            offs[i] = off;
            off += log.getLong((int) off + 56);
        }
        return offs;
    }

    static void xorByte(Path p, long off, int x) throws Exception {
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.seek(off);
            int b = f.read();
            f.seek(off);
            f.write(b ^ x);
        }
    }

    @Test
    void recordsAreReplayedOnOpen() throws Exception {
        Path p = withRecords("replay");
        try (PersistentRegion r = PersistentRegion.open(p)) {
            assertEquals(EPOCHS, r.stats().recoveredRecords());
        }
        assertContent(p, EPOCHS);
    }

    @Test
    void corruptCommittedRecord() throws Exception {
        Path p = withRecords("corrupt");
        long rec = records(p)[1];
        Path log = TestFiles.log(p);
        xorByte(log, rec + 72 + 16 + 8, 0x40); // inside record 1's body; records 2, 3 follow
        CorruptLogException e = failsAndChangesNothing(CorruptLogException.class, p,
                () -> PersistentRegion.open(p));
        assertEquals(-30097, e.code());
        assertEquals("SNAP_E_CORRUPT", e.codeName());
        assertTrue(e.getMessage().contains("snapshot verify"), e.getMessage());
        xorByte(log, rec + 72 + 16 + 8, 0x40); // repaired: everything committed is there
        assertContent(p, EPOCHS);
    }

    @Test
    void tornLastRecordGivesThePreviousEpoch() throws Exception {
        Path p = withRecords("torn");
        // A crash tears the last record before its apply can happen (apply follows the commit):
        // the data file holds the epoch before, as the model says.
        Files.write(p, Workload.model(SEED, EPOCHS - 1, SIZE));
        long rec = records(p)[EPOCHS - 1];
        xorByte(TestFiles.log(p), rec + 72 + 16 + 8, 0x01);
        try (PersistentRegion r = PersistentRegion.open(p)) {
            assertEquals(EPOCHS - 1, r.stats().recoveredRecords());
            assertEquals(EPOCHS - 1, r.getLong(0));
            r.putLong(0, 99); // and the region goes on from there
            r.msync();
        }
        byte[] want = Workload.model(SEED, EPOCHS - 1, SIZE);
        want[0] = 99;
        try (PersistentRegion r = PersistentRegion.open(p)) {
            byte[] got = new byte[SIZE];
            r.getBytes(0, got);
            assertArrayEquals(want, got);
        }
    }

    @Test
    void foreignSidecar() throws Exception {
        Path p = dir.resolve("foreign");
        PersistentRegion.create(p, SIZE).close();
        byte[] junk = new byte[8192];
        java.util.Arrays.fill(junk, (byte) 'x');
        Files.write(TestFiles.log(p), junk);
        CorruptLogException e = failsAndChangesNothing(CorruptLogException.class, p,
                () -> PersistentRegion.open(p));
        assertEquals("SNAP_E_BADMAGIC", e.codeName());
    }

    @Test
    void lockedRegion() throws Exception {
        Path p = dir.resolve("locked");
        try (PersistentRegion r = PersistentRegion.create(p, SIZE)) {
            r.putLong(0, 7);
            r.msync();
            RegionLockedException e = assertThrows(RegionLockedException.class,
                    () -> PersistentRegion.open(p));
            assertEquals("SNAP_E_LOCKED", e.codeName());
            assertTrue(e.getMessage().contains("Close the other handle"), e.getMessage());
            assertEquals(7, r.getLong(0)); // the open handle is unharmed
            r.putLong(0, 8);
            r.msync();
        }
        try (PersistentRegion r = PersistentRegion.open(p)) {
            assertEquals(8, r.getLong(0));
        }
    }

    @Test
    void sizeMismatch() throws Exception {
        Path p = dir.resolve("size");
        try (PersistentRegion r = PersistentRegion.create(p, SIZE)) {
            r.putLong(8, 5);
            r.msync();
        }
        SizeMismatchException e = failsAndChangesNothing(SizeMismatchException.class, p,
                () -> PersistentRegion.create(p, SIZE * 2));
        assertEquals("SNAP_E_SIZE", e.codeName());
        assertTrue(e.getMessage().contains("PersistentRegion.open"), e.getMessage());
        // With records pending in the log: recovery runs before the size is checked, so the log
        // is rewritten, but nothing committed changes.
        Path q = withRecords("size-records");
        assertThrows(SizeMismatchException.class, () -> PersistentRegion.create(q, SIZE - 1));
        assertContent(q, EPOCHS);
    }

    @Test
    void truncatedDataFile() throws Exception {
        Path p = dir.resolve("truncated");
        try (PersistentRegion r = PersistentRegion.create(p, SIZE)) {
            r.putLong(SIZE - 8, 1);
            r.msync();
        }
        try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
            f.setLength(SIZE / 2);
        }
        DataTruncatedException e = failsAndChangesNothing(DataTruncatedException.class, p,
                () -> PersistentRegion.open(p));
        assertEquals("SNAP_E_TRUNCATED", e.codeName());
    }

    @Test
    void symlinkedSidecar() throws Exception {
        Path p = withRecords("symlink");
        Path log = TestFiles.log(p);
        Path target = dir.resolve("symlink-target.snaplog");
        Files.move(log, target);
        Files.createSymbolicLink(log, target);
        byte[] targetBefore = TestFiles.read(target);
        SidecarSymlinkException e = assertThrows(SidecarSymlinkException.class,
                () -> PersistentRegion.open(p));
        assertEquals("SNAP_E_SYMLINK", e.codeName());
        assertArrayEquals(targetBefore, TestFiles.read(target), "the symlink's target was touched");
        Files.delete(log);
        Files.move(target, log);
        assertContent(p, EPOCHS);
    }

    @Test
    void notAFileMissingFileExistingFile() throws Exception {
        Path d = dir.resolve("a-directory");
        Files.createDirectories(d);
        SnapshotException e = assertThrows(SnapshotException.class, () -> PersistentRegion.open(d));
        assertEquals("SNAP_E_NOTFILE", e.codeName());
        e = assertThrows(SnapshotException.class, () -> PersistentRegion.open(dir.resolve("missing")));
        assertEquals(-2, e.code());
        assertTrue(e.getMessage().contains("PersistentRegion.create"), e.getMessage());
        Path p = dir.resolve("exists");
        PersistentRegion.create(p, SIZE).close();
        e = assertThrows(SnapshotException.class,
                () -> PersistentRegion.create(p, SIZE, Options.defaults().exclusive(true)));
        assertEquals("EEXIST", e.codeName());
        assertThrows(IllegalArgumentException.class, () -> PersistentRegion.create(p, 0));
        assertThrows(NullPointerException.class, () -> PersistentRegion.open(null));
    }

    @Test
    void persistentMemoryBackEndOnADiskFile() {
        Path p = dir.resolve("not-pm");
        UnsupportedBackendException e = assertThrows(UnsupportedBackendException.class,
                () -> PersistentRegion.create(p, SIZE, Options.defaults().backend(Backend.PMEM)));
        assertEquals("SNAP_E_UNSUPPORTED", e.codeName());
        assertTrue(e.getMessage().contains("EMULATED_PMEM"), e.getMessage());
    }

    /**
     * EMULATED_PMEM is a property of the region it opens, not of the process: a disk file opened
     * with it runs on the PM back end, and a PMEM open of another disk file afterwards is still
     * refused (when emulation set PMEM_IS_PMEM_FORCE for the process, libpmem took every later
     * file for PM, and this open succeeded).
     */
    @Test
    void emulatedPersistentMemoryIsPerRegion() {
        Path emulated = dir.resolve("emulated");
        try (PersistentRegion r = PersistentRegion.create(emulated, SIZE,
                Options.defaults().backend(Backend.EMULATED_PMEM))) {
            assertEquals(Backend.PMEM, r.stats().backend());
            r.putLong(0, 42);
            r.msync();
        }
        try (PersistentRegion r = PersistentRegion.open(emulated)) {
            assertEquals(42, r.getLong(0));
        }
        assertThrows(UnsupportedBackendException.class, () -> PersistentRegion.create(
                dir.resolve("still-not-pm"), SIZE, Options.defaults().backend(Backend.PMEM)));
    }

    /** Java names every native code from libsnapshot's table, errno names from the platform. */
    @Test
    void everyNativeCodeHasAName() {
        for (int code = SnapshotNative.E_FIRST; code <= SnapshotNative.E_LAST; code++) {
            assertTrue(Errors.name(code).startsWith("SNAP_E_"), code + ": " + Errors.name(code));
            assertEquals(code, Errors.code(Errors.name(code)));
            assertNotEquals("unknown error", SnapshotNative.snap_strerror(code), "code " + code);
        }
        assertEquals("unknown error", SnapshotNative.snap_strerror(SnapshotNative.E_LAST + 1));
        assertEquals("errno " + -(SnapshotNative.E_LAST + 1), Errors.name(SnapshotNative.E_LAST + 1));
        assertEquals("code 5", Errors.name(5));
        assertEquals("ENOSPC", Errors.name(-28)); // Linux's number, here only to test the lookup
        assertEquals("EPERM", Errors.name(-1));
        assertEquals("errno 4000", Errors.name(-4000));
    }

    /** membarrier(2) denied (the C test test_membarrier.c makes it so with a seccomp filter). */
    @Test
    void membarrierUnavailable() {
        RuntimeException e = Errors.of("open", "F", Errors.code("SNAP_E_NOMEMBARRIER"));
        MembarrierUnavailableException m = assertInstanceOf(MembarrierUnavailableException.class, e);
        assertEquals("SNAP_E_NOMEMBARRIER", m.codeName());
        assertTrue(m.getMessage().contains("membarrier(2) is unavailable"), m.getMessage());
        assertTrue(m.getMessage().contains("noConcurrentWriters(true)"), m.getMessage());
    }

    @Test
    void emptyDataFileWithoutASize() throws Exception {
        Path p = dir.resolve("empty");
        Files.write(p, new byte[0]);
        SnapshotException e = assertThrows(SnapshotException.class, () -> PersistentRegion.open(p));
        assertEquals("SNAP_E_INVAL", e.codeName());
    }
}
