// Raw — the primitive accessors' direct memory access (sun.misc.Unsafe) where the JDK allows it quietly.
package org.snapshot;

import java.lang.reflect.Field;

/**
 * Plain loads and stores at absolute addresses, for the primitive accessors. A store through a
 * buffer window costs the window lookup and the buffer's own bounds, order and scope checks, with
 * every field reloaded per store (the marking's slow-path call in a loop makes the JIT forget them;
 * java/README.md, "Performance"); a raw store needs only the region's base address: about half the
 * time per putLong in a loop.
 * The accessors have already checked the bounds and the closed flag, and the memory stays mapped
 * until the {@link Mapping} is unreachable (closed regions are scratch memory until then), so a raw
 * access is exactly as safe as the buffer's.
 *
 * <p>Used on JDK 17 to 23, and on JDK 24+ started with {@code --sun-misc-unsafe-memory-access=allow}:
 * otherwise, from JDK 24 on, the first use of these methods prints a warning (JEP 498), so the
 * accessors go through the buffer windows instead. {@code -Dorg.snapshot.raw=false} turns it off
 * anywhere. The suite runs on JDK 17 (raw) and JDK 25 (windows), so both ways are tested.
 */
final class Raw {
    private Raw() {}

    /** Whether the primitive accessors use {@link #U}; a constant for the JIT. */
    static final boolean ON;
    static final sun.misc.Unsafe U;

    static {
        sun.misc.Unsafe u = null;
        // JDK 24+ sets this property from --sun-misc-unsafe-memory-access; "allow" prints no warning
        boolean quiet = Runtime.version().feature() <= 23
                || "allow".equals(System.getProperty("sun.misc.unsafe.memory.access"));
        if (quiet && Boolean.parseBoolean(System.getProperty("org.snapshot.raw", "true"))) {
            try {
                Field f = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
                f.setAccessible(true);
                u = (sun.misc.Unsafe) f.get(null);
            } catch (ReflectiveOperationException | RuntimeException e) {
                u = null; // not available (a restricted runtime): the buffer windows work everywhere
            }
        }
        U = u;
        ON = u != null;
    }
}
