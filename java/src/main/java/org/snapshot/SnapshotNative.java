// SnapshotNative — the whole native boundary: the JNI binding JavaCPP generates, and nothing else.
package org.snapshot;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.annotation.ByPtrPtr;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.MemberGetter;
import org.bytedeco.javacpp.annotation.Name;
import org.bytedeco.javacpp.annotation.Opaque;
import org.bytedeco.javacpp.annotation.Platform;

import java.nio.ByteBuffer;

/**
 * JNI is crossed for open, msync, close and stats only: the accessors write the DRAM copy and mark
 * the dirty bitmap from Java ({@link Mapping}). JavaCPP generates the glue (libjniSnapshotNative.so)
 * from these declarations at build time and links it against libsnapshot.so.0; both are packed in
 * the jar under org/snapshot/linux-x86_64/ and extracted and loaded by {@link Loader} at first use.
 * The C contract is native/include/snapshot.h; the flat entry points are in snapshot_foreign.h.
 */
@Platform(value = "linux-x86_64", include = {"snapshot.h", "snapshot_foreign.h"}, link = "snapshot@.0")
final class SnapshotNative {
    /** Path of the libsnapshot the binding uses, for JNA and other native callers (same instance). */
    static final String LIBRARY_PATH;

    /** The SNAP_FOREIGN_ABI this binding was written for. */
    static final int ABI = 2;

    static {
        String path;
        try {
            Loader.load();
            path = Loader.getLoadedLibraries().get("snapshot@.0");
        } catch (UnsatisfiedLinkError e) {
            throw new UnsatisfiedLinkError("Snapshot: cannot load its native library for "
                    + Loader.getPlatform() + " (" + e.getMessage() + "). The jar carries "
                    + "libsnapshot for linux-x86_64; it needs libpmem.so.1 (Debian/Ubuntu: "
                    + "apt-get install libpmem1) and glibc. Set -Dorg.bytedeco.javacpp.logger.debug"
                    + "=true to see where it looked.");
        }
        LIBRARY_PATH = path;
        int abi = snap_foreign_abi();
        if (abi != ABI) {
            throw new UnsatisfiedLinkError("Snapshot: libsnapshot speaks foreign ABI " + abi
                    + ", this jar expects " + ABI + ": a stale libsnapshot.so.0 was loaded ("
                    + path + ")");
        }
    }

    private SnapshotNative() {}

    // snapshot.h error codes (enum snap_error): one contiguous block.
    static final int E_INVAL = -30100, E_CLOSED = -30099, E_LOCKED = -30098, E_CORRUPT = -30097,
            E_BADMAGIC = -30096, E_VERSION = -30095, E_SIZE = -30094, E_TRUNCATED = -30093,
            E_RANGE = -30092, E_SYMLINK = -30091, E_PANIC = -30090, E_NOSPACE = -30089,
            E_UNSUPPORTED = -30088, E_VERIFY = -30087, E_NOTFILE = -30086, E_NOMEMBARRIER = -30085,
            E_FORKED = -30084, E_MISMATCH = -30083;

    // snap_options.flags
    static final int CREATE = 0x1, EXCL = 0x2, NO_CONCURRENT_WRITERS = 0x4, POPULATE = 0x8,
            HUGEPAGES = 0x10;

    // snapshot_foreign.h: enum snap_foreign_layout_index, SNAP_FOREIGN_STATS_COUNT
    static final int L_ABI = 0, L_BASE = 1, L_SIZE = 2, L_RESERVE = 3, L_LINE_SHIFT = 4,
            L_LEVELS = 5, L_LEVEL0 = 6, L_GATE = L_LEVEL0 + 2 * 8, L_COUNT = L_GATE + 1;
    static final int STATS_COUNT = 11;

    /** A snap_region *: an opaque handle, never dereferenced from Java. */
    @Name("snap_region")
    @Opaque
    static final class Region extends Pointer {
        Region() {
            super((Pointer) null);
        }
    }

    /** A raw address range, only to turn it into a direct ByteBuffer. */
    static final class Raw extends BytePointer {
        Raw(long address, long bytes) {
            super((Pointer) null);
            this.address = address;
            this.limit = bytes;
            this.capacity = bytes;
        }
    }

    /** A direct buffer over [address, address + bytes), bytes <= Integer.MAX_VALUE. */
    static ByteBuffer buffer(long address, long bytes) {
        return new Raw(address, bytes).asByteBuffer();
    }

    @MemberGetter
    @Name("SNAP_FOREIGN_ABI")
    static native int snap_foreign_abi();

    static native int snap_foreign_open(String path, @Cast("uint32_t") int flags, int backend,
            @Cast("uint64_t") long size, @Cast("uint64_t") long maxSize,
            @Cast("uint64_t") long logCapacity, @Cast("uint32_t") int mode, @ByPtrPtr Region out);

    static native int snap_foreign_layout(@Cast("const snap_region*") Region r,
            @Cast("int64_t*") long[] out, @Cast("size_t") long n);

    static native int snap_foreign_stats(@Cast("const snap_region*") Region r,
            @Cast("int64_t*") long[] out, @Cast("size_t") long n);

    static native int snap_msync(Region r);

    static native int snap_foreign_close(Region r);

    static native void snap_foreign_release(Region r);

    static native int snap_foreign_emulate_pmem();

    static native @Cast("const char*") String snap_strerror(int err);
}
