// SnapshotException — a failure reported by libsnapshot, with its native code and what to do about it.
package org.snapshot;

/**
 * A call into libsnapshot failed. {@link #code()} is the native code: one of the {@code SNAP_E_*}
 * values of snapshot.h, or {@code -errno} for an operating-system error. The message says which call
 * failed, on which file, the library's description ({@code snap_strerror}) and what to do.
 *
 * <p>Unchecked, like lmdbjava's: most failures here are either programming errors (a wrong size) or
 * conditions the caller cannot repair inside the loop that calls {@code msync()} (a failed flush).
 * The subclasses name the failures a program may want to handle: {@link CorruptLogException},
 * {@link RegionLockedException}, {@link SizeMismatchException}, {@link DataTruncatedException},
 * {@link SidecarSymlinkException}, {@link RegionPanicException}, {@link UnsupportedBackendException},
 * {@link MembarrierUnavailableException}.
 * Use after close is an {@link RegionClosedException} (an {@link IllegalStateException}).
 */
public class SnapshotException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int code;

    public SnapshotException(int code, String message) {
        super(message);
        this.code = code;
    }

    /** The native code: {@code SNAP_E_*} (from -30100) or {@code -errno}. */
    public int code() {
        return code;
    }

    /** The code's symbolic name, e.g. {@code SNAP_E_LOCKED} or {@code ENOENT} when known. */
    public String codeName() {
        return Errors.name(code);
    }
}
