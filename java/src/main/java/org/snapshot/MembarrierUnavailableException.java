// MembarrierUnavailableException — membarrier(2) cannot be used in this process (SNAP_E_NOMEMBARRIER), so msync could lose stores racing with it; open with Options.noConcurrentWriters(true).
package org.snapshot;

/**
 * membarrier(2) cannot be used in this process (SNAP_E_NOMEMBARRIER): a kernel without it, or a
 * seccomp filter that denies it (some container profiles do). Without it an msync could lose a
 * store racing with it, so the region is not opened unless {@link Options#noConcurrentWriters}
 * promises that none races. Also thrown by an msync whose membarrier failed although it worked at
 * open; nothing was written, the region stays open and the writes stay pending for the next
 * msync (which fails the same way while membarrier is denied: close and reopen with
 * noConcurrentWriters).
 */
public class MembarrierUnavailableException extends SnapshotException {
    private static final long serialVersionUID = 1L;

    public MembarrierUnavailableException(int code, String message) {
        super(code, message);
    }
}
