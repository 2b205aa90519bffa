// RegionPanicException — An earlier media write or flush failed, so the region refuses commits (SNAP_E_PANIC); close it and reopen to recover.
package org.snapshot;

/** An earlier media write or flush failed, so the region refuses commits (SNAP_E_PANIC); close it and reopen to recover. */
public class RegionPanicException extends SnapshotException {
    private static final long serialVersionUID = 1L;

    public RegionPanicException(int code, String message) {
        super(code, message);
    }
}
