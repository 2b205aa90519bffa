// Errors — native codes to typed exceptions whose messages say what happened and what to do.
package org.snapshot;

import java.util.HashMap;
import java.util.Map;

/**
 * Names, messages and exception classes of native codes. Names and messages come from libsnapshot's
 * one table (native/src/errors.c: snap_strerrorname, snap_strerror), errno names from the platform
 * through it; this class maps names to exception classes and advice, so a new SNAP_E_* code needs a
 * case here only if it deserves a class or advice of its own.
 */
final class Errors {
    private Errors() {}

    /** The SNAP_E_* codes by name, read once from the native table. */
    private static final Map<String, Integer> CODES = new HashMap<>();

    static {
        for (int code = SnapshotNative.E_FIRST; code <= SnapshotNative.E_LAST; code++) {
            CODES.put(SnapshotNative.snap_strerrorname(code), code);
        }
    }

    /** The code of a SNAP_E_* name; fails at load if libsnapshot has no such code. */
    static int code(String name) {
        Integer code = CODES.get(name);
        if (code == null) {
            throw new IllegalStateException("libsnapshot has no error code " + name);
        }
        return code;
    }

    static final int E_CLOSED = code("SNAP_E_CLOSED"), E_NOSPACE = code("SNAP_E_NOSPACE");

    /** "SNAP_E_CORRUPT", "ENOSPC", ...; "errno N" or "code N" for what the native side cannot name. */
    static String name(int code) {
        String name = SnapshotNative.snap_strerrorname(code);
        if (!name.equals("unknown")) {
            return name;
        }
        return code < 0 ? "errno " + -code : "code " + code;
    }

    /** What to do about a code, or "" when the description says it all. */
    private static String advice(String name, String path) {
        String p = path == null ? "FILE" : path;
        String suffix = SnapshotNative.LOG_SUFFIX, log = p + suffix;
        switch (name) {
            case "SNAP_E_LOCKED":
                return "Close the other handle on this file, or stop the process that holds it: a "
                        + "file can be open in one region at a time.";
            case "SNAP_E_CORRUPT":
                return "Nothing was changed. Run `snapshot verify " + p + "` to see which record is "
                        + "damaged; restore the file and its " + suffix + " from a backup, or "
                        + "move the " + suffix + " away to accept the data file's last "
                        + "checkpointed bytes.";
            case "SNAP_E_BADMAGIC":
                return "Nothing was changed. " + log + " belongs to another program; move it "
                        + "away if the data file is yours.";
            case "SNAP_E_VERSION":
                return "Nothing was changed. Open it with the Snapshot version that wrote it.";
            case "SNAP_E_SIZE":
                return "Open it with PersistentRegion.open(path) to take its committed size, or "
                        + "pass that size (stats().size()).";
            case "SNAP_E_TRUNCATED":
                return "Committed bytes are missing; nothing was changed. Restore the data file to "
                        + "at least its committed size (`snapshot inspect " + p + "` shows it).";
            case "SNAP_E_SYMLINK":
                return "Replace " + log + " by a regular file (or remove it) if you trust it.";
            case "SNAP_E_PANIC":
                return "Close the region and open it again: recovery restores the last commit.";
            case "SNAP_E_NOSPACE":
                return "Close regions you no longer use, lower Options.maxSize, or raise "
                        + "SNAPSHOT_ARENA_SIZE (default 1 TiB of address space).";
            case "SNAP_E_UNSUPPORTED":
                return "Use Backend.AUTO or Backend.FILE, or Backend.EMULATED_PMEM on /dev/shm "
                        + "(or start the JVM with PMEM_IS_PMEM_FORCE=1 set).";
            case "SNAP_E_NOTFILE":
                return "Give the path of a regular file.";
            case "SNAP_E_VERIFY":
                return "A store was not tracked: write the region through this API, or call "
                        + "snap_track after native stores.";
            case "SNAP_E_NOMEMBARRIER":
                return "If no thread writes the region while msync() runs, open it with "
                        + "Options.noConcurrentWriters(true); otherwise allow membarrier(2) in the "
                        + "process's seccomp profile (container runtime).";
            case "SNAP_E_FORKED":
                return "Open the region in the child process itself (after exec), not before fork.";
            case "SNAP_E_MISMATCH":
                return "Nothing was changed. Run `snapshot inspect " + p + "`: it tells which "
                        + "file the log is bound to; `snapshot rebind " + p + "` accepts the files "
                        + "as they are (a restore made without xattrs, a log deleted).";
            case "EPERM":
                return "If " + log + " has another owner than the data file or other hard "
                        + "links, it is refused: remove it (or the other links) if you trust it. "
                        + "Only the data file's owner (or root) can create it.";
            case "ENOENT":
                return "Use PersistentRegion.create(path, size) to create it.";
            case "EEXIST":
                return "Drop Options.exclusive() to open the existing file.";
            case "ENOSPC":
            case "EDQUOT":
                return "Free space on the file system holding " + p + " (or raise the quota). A "
                        + "failed msync() committed nothing and keeps the writes: the next msync() "
                        + "commits them once there is room.";
            default:
                return "";
        }
    }

    static String describe(String op, String path, int code) {
        String what = SnapshotNative.snap_strerror(code);
        String name = name(code);
        String advice = advice(name, path);
        return op + (path == null ? "" : " " + path) + ": " + what + " (" + name + ")"
                + (advice.isEmpty() ? "" : ". " + advice);
    }

    static RuntimeException of(String op, String path, int code) {
        String m = describe(op, path, code);
        switch (name(code)) {
            case "SNAP_E_CORRUPT":
            case "SNAP_E_BADMAGIC":
            case "SNAP_E_VERSION":
                return new CorruptLogException(code, m);
            case "SNAP_E_LOCKED":
                return new RegionLockedException(code, m);
            case "SNAP_E_SIZE":
                return new SizeMismatchException(code, m);
            case "SNAP_E_TRUNCATED":
                return new DataTruncatedException(code, m);
            case "SNAP_E_SYMLINK":
                return new SidecarSymlinkException(code, m);
            case "SNAP_E_PANIC":
                return new RegionPanicException(code, m);
            case "SNAP_E_UNSUPPORTED":
                return new UnsupportedBackendException(code, m);
            case "SNAP_E_NOMEMBARRIER":
                return new MembarrierUnavailableException(code, m);
            case "SNAP_E_CLOSED":
                return new RegionClosedException(m);
            default:
                return new SnapshotException(code, m);
        }
    }
}
