// SidecarSymlinkException — The sidecar log FILE.snaplog is a symbolic link, which Snapshot refuses to follow (SNAP_E_SYMLINK).
package org.snapshot;

/** The sidecar log FILE.snaplog is a symbolic link, which Snapshot refuses to follow (SNAP_E_SYMLINK). */
public class SidecarSymlinkException extends SnapshotException {
    private static final long serialVersionUID = 1L;

    public SidecarSymlinkException(int code, String message) {
        super(code, message);
    }
}
