// DataTruncatedException — The data file is shorter than its committed size: it was truncated outside Snapshot (SNAP_E_TRUNCATED).
package org.snapshot;

/** The data file is shorter than its committed size: it was truncated outside Snapshot (SNAP_E_TRUNCATED). */
public class DataTruncatedException extends SnapshotException {
    private static final long serialVersionUID = 1L;

    public DataTruncatedException(int code, String message) {
        super(code, message);
    }
}
