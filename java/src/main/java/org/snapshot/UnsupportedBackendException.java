// UnsupportedBackendException — The back end asked for cannot be used on this file (SNAP_E_UNSUPPORTED), e.g. PMEM on a file that is not persistent memory.
package org.snapshot;

/** The back end asked for cannot be used on this file (SNAP_E_UNSUPPORTED), e.g. PMEM on a file that is not persistent memory. */
public class UnsupportedBackendException extends SnapshotException {
    private static final long serialVersionUID = 1L;

    public UnsupportedBackendException(int code, String message) {
        super(code, message);
    }
}
