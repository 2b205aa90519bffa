// RegionClosedException — use of a region (or of a slice of it) after close().
package org.snapshot;

/**
 * The region was closed: a programming error, so an {@link IllegalStateException} as the JDK's
 * closed resources throw, carrying {@code SNAP_E_CLOSED} for symmetry with {@link SnapshotException}.
 */
public class RegionClosedException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    public RegionClosedException(String message) {
        super(message);
    }

    /** Always {@code SNAP_E_CLOSED} (-30099). */
    public int code() {
        return Errors.E_CLOSED;
    }
}
