// RegionLockedException — Another handle, in this process or another, has the data file open (SNAP_E_LOCKED).
package org.snapshot;

/** Another handle, in this process or another, has the data file open (SNAP_E_LOCKED). */
public class RegionLockedException extends SnapshotException {
    private static final long serialVersionUID = 1L;

    public RegionLockedException(int code, String message) {
        super(code, message);
    }
}
