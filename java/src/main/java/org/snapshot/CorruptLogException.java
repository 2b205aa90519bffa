// CorruptLogException — The sidecar log is damaged beyond a torn tail, is not a Snapshot log, or has an incompatible version (SNAP_E_CORRUPT, SNAP_E_BADMAGIC, SNAP_E_VERSION). Nothing was changed; inspect it with `snapshot verify FILE`.
package org.snapshot;

/** The sidecar log is damaged beyond a torn tail, is not a Snapshot log, or has an incompatible version (SNAP_E_CORRUPT, SNAP_E_BADMAGIC, SNAP_E_VERSION). Nothing was changed; inspect it with `snapshot verify FILE`. */
public class CorruptLogException extends SnapshotException {
    private static final long serialVersionUID = 1L;

    public CorruptLogException(int code, String message) {
        super(code, message);
    }
}
