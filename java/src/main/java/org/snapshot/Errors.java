// Errors — native codes to typed exceptions whose messages say what happened and what to do.
package org.snapshot;

import static org.snapshot.SnapshotNative.*;

final class Errors {
    private Errors() {}

    private static final String[] SNAP_NAMES = {
        "SNAP_E_INVAL", "SNAP_E_CLOSED", "SNAP_E_LOCKED", "SNAP_E_CORRUPT", "SNAP_E_BADMAGIC",
        "SNAP_E_VERSION", "SNAP_E_SIZE", "SNAP_E_TRUNCATED", "SNAP_E_RANGE", "SNAP_E_SYMLINK",
        "SNAP_E_PANIC", "SNAP_E_NOSPACE", "SNAP_E_UNSUPPORTED", "SNAP_E_VERIFY", "SNAP_E_NOTFILE",
        "SNAP_E_NOMEMBARRIER", "SNAP_E_FORKED", "SNAP_E_MISMATCH",
    };

    static String name(int code) {
        if (code >= E_INVAL && code < E_INVAL + SNAP_NAMES.length) {
            return SNAP_NAMES[code - E_INVAL];
        }
        switch (-code) {
            case 2: return "ENOENT";
            case 5: return "EIO";
            case 12: return "ENOMEM";
            case 13: return "EACCES";
            case 17: return "EEXIST";
            case 21: return "EISDIR";
            case 22: return "EINVAL";
            case 28: return "ENOSPC";
            case 122: return "EDQUOT";
            case 30: return "EROFS";
            default: return code < 0 ? "errno " + -code : "code " + code;
        }
    }

    /** What to do about a code, or "" when the description says it all. */
    private static String advice(int code, String path) {
        String p = path == null ? "FILE" : path;
        switch (code) {
            case E_LOCKED:
                return "Close the other handle on this file, or stop the process that holds it: a "
                        + "file can be open in one region at a time.";
            case E_CORRUPT:
                return "Nothing was changed. Run `snapshot verify " + p + "` to see which record is "
                        + "damaged; restore the file and its .snaplog from a backup, or move the "
                        + ".snaplog away to accept the data file's last checkpointed bytes.";
            case E_BADMAGIC:
                return "Nothing was changed. " + p + ".snaplog belongs to another program; move it "
                        + "away if the data file is yours.";
            case E_VERSION:
                return "Nothing was changed. Open it with the Snapshot version that wrote it.";
            case E_SIZE:
                return "Open it with PersistentRegion.open(path) to take its committed size, or "
                        + "pass that size (stats().size()).";
            case E_TRUNCATED:
                return "Committed bytes are missing; nothing was changed. Restore the data file to "
                        + "at least its committed size (`snapshot inspect " + p + "` shows it).";
            case E_SYMLINK:
                return "Replace " + p + ".snaplog by a regular file (or remove it) if you trust it.";
            case E_PANIC:
                return "Close the region and open it again: recovery restores the last commit.";
            case E_NOSPACE:
                return "Close regions you no longer use, lower Options.maxSize, or raise "
                        + "SNAPSHOT_ARENA_SIZE (default 1 TiB of address space).";
            case E_UNSUPPORTED:
                return "Use Backend.AUTO or Backend.FILE, or Backend.EMULATED_PMEM on /dev/shm "
                        + "(or start the JVM with PMEM_IS_PMEM_FORCE=1 set).";
            case E_NOTFILE:
                return "Give the path of a regular file.";
            case E_VERIFY:
                return "A store was not tracked: write the region through this API, or call "
                        + "snap_track after native stores.";
            case E_NOMEMBARRIER:
                return "If no thread writes the region while msync() runs, open it with "
                        + "Options.noConcurrentWriters(true); otherwise allow membarrier(2) in the "
                        + "process's seccomp profile (container runtime).";
            case E_FORKED:
                return "Open the region in the child process itself (after exec), not before fork.";
            case E_MISMATCH:
                return "Nothing was changed. Run `snapshot inspect " + p + "`: it tells which "
                        + "file the log is bound to; `snapshot rebind " + p + "` accepts the files "
                        + "as they are (a restore made without xattrs, a log deleted).";
            case -1:
                return "If " + p + ".snaplog has another owner than the data file or other hard "
                        + "links, it is refused: remove it (or the other links) if you trust it. "
                        + "Only the data file's owner (or root) can create it.";
            case -2:
                return "Use PersistentRegion.create(path, size) to create it.";
            case -17:
                return "Drop Options.exclusive() to open the existing file.";
            case -28:
            case -122:
                return "Free space on the file system holding " + p + " (or raise the quota). A "
                        + "failed msync() committed nothing and keeps the writes: the next msync() "
                        + "commits them once there is room.";
            default:
                return "";
        }
    }

    static String describe(String op, String path, int code) {
        String what = SnapshotNative.snap_strerror(code);
        String advice = advice(code, path);
        return op + (path == null ? "" : " " + path) + ": " + what + " (" + name(code) + ")"
                + (advice.isEmpty() ? "" : ". " + advice);
    }

    static RuntimeException of(String op, String path, int code) {
        String m = describe(op, path, code);
        switch (code) {
            case E_CORRUPT:
            case E_BADMAGIC:
            case E_VERSION:
                return new CorruptLogException(code, m);
            case E_LOCKED:
                return new RegionLockedException(code, m);
            case E_SIZE:
                return new SizeMismatchException(code, m);
            case E_TRUNCATED:
                return new DataTruncatedException(code, m);
            case E_SYMLINK:
                return new SidecarSymlinkException(code, m);
            case E_PANIC:
                return new RegionPanicException(code, m);
            case E_UNSUPPORTED:
                return new UnsupportedBackendException(code, m);
            case E_NOMEMBARRIER:
                return new MembarrierUnavailableException(code, m);
            case E_CLOSED:
                return new RegionClosedException(m);
            default:
                return new SnapshotException(code, m);
        }
    }
}
