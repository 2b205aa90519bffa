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
 * JNI is crossed for open, msync, grow, close and stats only: the accessors write the DRAM copy and mark
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
    static final int ABI = 3;

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

    // The numbers below are not copies: each is compiled into this binding from the C header that
    // defines it (a @MemberGetter of that name) and read once, here. As static finals they are
    // constants to the JIT, like literals.

    // snapshot.h: the SNAP_E_* codes, one contiguous block (names and messages: errors.c, Errors)
    static final int E_FIRST = snapErrorFirst(), E_LAST = snapErrorLast();

    // snapshot.h: the sidecar log's name is the data file's + this
    static final String LOG_SUFFIX = snapLogSuffix();

    // snapshot.h: snap_options.flags
    static final int CREATE = snapCreate(), EXCL = snapExcl(),
            NO_CONCURRENT_WRITERS = snapNoConcurrentWriters(), POPULATE = snapPopulate(),
            HUGEPAGES = snapHugepages();

    // snapshot_layout.h: the dirty map every marker shares (Mapping)
    static final int LINE_SHIFT = snapLineShift(), DIRTY_WORD_SHIFT = snapDirtyWordShift(),
            DIRTY_MAX_LEVELS = snapDirtyMaxLevels(), MARK_GATE_EPOCH = snapMarkGateEpoch(),
            MARK_GATE_ACTIVE = snapMarkGateActive(), MARK_GATE_BYTES = snapMarkGateBytes();

    // snapshot_foreign.h: enum snap_foreign_layout_index, SNAP_FOREIGN_STATS_COUNT
    static final int L_BASE = snapLayoutBase(), L_SIZE = snapLayoutSize(),
            L_RESERVE = snapLayoutReserve(), L_LINE_SHIFT = snapLayoutLineShift(),
            L_LEVELS = snapLayoutLevels(), L_LEVEL0 = snapLayoutLevel0(), L_GATE = snapLayoutGate(),
            L_COUNT = snapLayoutCount(), STATS_COUNT = snapStatsCount();

    // snapshot.h: enum snap_backend_kind. Backend keeps its numbers as literals, so that Options
    // needs no native library; they are held to the header's here, once, at load.
    static {
        Backend[] ours = {Backend.AUTO, Backend.FILE, Backend.PMEM, Backend.EMULATED_PMEM};
        int[] header = {snapBackendAuto(), snapBackendFile(), snapBackendPmem(),
                snapBackendEmulatedPmem()};
        for (int i = 0; i < ours.length; i++) {
            if (ours[i].nativeValue != header[i]) {
                throw new UnsatisfiedLinkError("Snapshot: Backend." + ours[i] + " is "
                        + ours[i].nativeValue + " in this jar, " + header[i] + " in snapshot.h");
            }
        }
    }

    @MemberGetter @Name("SNAP_E_FIRST") static native int snapErrorFirst();
    @MemberGetter @Name("SNAP_E_LAST") static native int snapErrorLast();
    @MemberGetter @Name("SNAP_LOG_SUFFIX") static native @Cast("const char*") String snapLogSuffix();
    @MemberGetter @Name("SNAP_CREATE") static native int snapCreate();
    @MemberGetter @Name("SNAP_EXCL") static native int snapExcl();
    @MemberGetter @Name("SNAP_NO_CONCURRENT_WRITERS") static native int snapNoConcurrentWriters();
    @MemberGetter @Name("SNAP_POPULATE") static native int snapPopulate();
    @MemberGetter @Name("SNAP_HUGEPAGES") static native int snapHugepages();
    @MemberGetter @Name("SNAP_BACKEND_AUTO") static native int snapBackendAuto();
    @MemberGetter @Name("SNAP_BACKEND_FILE") static native int snapBackendFile();
    @MemberGetter @Name("SNAP_BACKEND_PMEM") static native int snapBackendPmem();
    @MemberGetter @Name("SNAP_BACKEND_EMULATED_PMEM") static native int snapBackendEmulatedPmem();
    @MemberGetter @Name("SNAP_LINE_SHIFT") static native int snapLineShift();
    @MemberGetter @Name("SNAP_DIRTY_WORD_SHIFT") static native int snapDirtyWordShift();
    @MemberGetter @Name("SNAP_DIRTY_MAX_LEVELS") static native int snapDirtyMaxLevels();
    @MemberGetter @Name("SNAP_MARK_GATE_EPOCH") static native int snapMarkGateEpoch();
    @MemberGetter @Name("SNAP_MARK_GATE_ACTIVE") static native int snapMarkGateActive();
    @MemberGetter @Name("SNAP_MARK_GATE_BYTES") static native int snapMarkGateBytes();
    @MemberGetter @Name("SNAP_FOREIGN_L_BASE") static native int snapLayoutBase();
    @MemberGetter @Name("SNAP_FOREIGN_L_SIZE") static native int snapLayoutSize();
    @MemberGetter @Name("SNAP_FOREIGN_L_RESERVE") static native int snapLayoutReserve();
    @MemberGetter @Name("SNAP_FOREIGN_L_LINE_SHIFT") static native int snapLayoutLineShift();
    @MemberGetter @Name("SNAP_FOREIGN_L_LEVELS") static native int snapLayoutLevels();
    @MemberGetter @Name("SNAP_FOREIGN_L_LEVEL0") static native int snapLayoutLevel0();
    @MemberGetter @Name("SNAP_FOREIGN_L_GATE") static native int snapLayoutGate();
    @MemberGetter @Name("SNAP_FOREIGN_L_COUNT") static native int snapLayoutCount();
    @MemberGetter @Name("SNAP_FOREIGN_STATS_COUNT") static native int snapStatsCount();

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

    static native int snap_grow(Region r, @Cast("uint64_t") long newSize);

    static native int snap_foreign_close(Region r);

    static native void snap_foreign_release(Region r);

    static native @Cast("const char*") String snap_strerror(int err);

    static native @Cast("const char*") String snap_strerrorname(int err);
}
