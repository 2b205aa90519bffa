// SizeMismatchException — The size asked for differs from the region's committed size (SNAP_E_SIZE).
package org.snapshot;

/** The size asked for differs from the region's committed size (SNAP_E_SIZE). */
public class SizeMismatchException extends SnapshotException {
    private static final long serialVersionUID = 1L;

    public SizeMismatchException(int code, String message) {
        super(code, message);
    }
}
