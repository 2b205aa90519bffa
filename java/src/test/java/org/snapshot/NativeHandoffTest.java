// NativeHandoffTest — region.address() handed to native code through JNA: its stores, once tracked with
// snap_track_offset / snap_track in the same libsnapshot, commit with Java's msync.
package org.snapshot;

import static org.junit.jupiter.api.Assertions.*;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class NativeHandoffTest {
    /** The C library's memset: a native store the tracking cannot see by itself. */
    public interface LibC extends Library {
        Pointer memset(Pointer dst, int c, long n);
    }

    /** libsnapshot, the very instance the binding loaded (PersistentRegion.nativeLibrary()). */
    public interface LibSnapshot extends Library {
        int snap_track_offset(Pointer region, long offset, long len);

        int snap_track(Pointer region, Pointer addr, long len);

        void snap_track_slow(Pointer addr, long len);

        int snap_msync(Pointer region);
    }

    static final LibC LIBC = Native.load("c", LibC.class);
    static final LibSnapshot SNAP = Native.load(PersistentRegion.nativeLibrary(), LibSnapshot.class);

    @Test
    void nativeStoresTrackedThroughJnaAreCommittedByJavaMsync() {
        Path p = TestFiles.diskDir("handoff").resolve("h.db");
        try (PersistentRegion r = PersistentRegion.create(p, 1 << 20)) {
            Pointer base = new Pointer(r.address());
            Pointer handle = new Pointer(r.handle());
            LIBC.memset(base.share(1000), 0x5A, 3000); // tracked by offset
            assertEquals(0, SNAP.snap_track_offset(handle, 1000, 3000));
            LIBC.memset(base.share(100_000), 0x33, 100); // tracked by address
            assertEquals(0, SNAP.snap_track(handle, base.share(100_000), 100));
            LIBC.memset(base.share(200_000), 0x44, 64); // the plugin's hook, by address only
            SNAP.snap_track_slow(base.share(200_000), 64);
            LIBC.memset(base.share(500_000), 0x77, 10); // never tracked: must not be committed
            r.putLong(0, 12345); // and a Java store, in the same commit
            assertEquals(0x5A, r.getByte(3999)); // Java sees native stores at once
            assertEquals(-30092, SNAP.snap_track_offset(handle, (1 << 20) - 1, 2)); // SNAP_E_RANGE
            r.msync();
            assertEquals(1, r.stats().commits());
        }
        try (PersistentRegion r = PersistentRegion.open(p)) {
            assertEquals(12345, r.getLong(0));
            assertEquals(0, r.getByte(999));
            for (long i = 1000; i < 4000; i++) {
                assertEquals(0x5A, r.getByte(i), "offset " + i);
            }
            assertEquals(0, r.getByte(4000));
            assertEquals(0x33, r.getByte(100_099));
            assertEquals(0x44, r.getByte(200_063));
            assertEquals(0, r.getByte(500_000), "an untracked native store was committed");
        }
    }

    @Test
    void nativeMsyncCommitsJavaStores() {
        Path p = TestFiles.diskDir("handoff2").resolve("h.db");
        try (PersistentRegion r = PersistentRegion.create(p, 4096)) {
            r.putInt(64, 99);
            assertEquals(0, SNAP.snap_msync(new Pointer(r.handle())));
        }
        try (PersistentRegion r = PersistentRegion.open(p)) {
            assertEquals(99, r.getInt(64));
        }
    }
}
