// Raw — the primitive accessors' direct memory access (sun.misc.Unsafe) where the JDK allows it quietly.
package org.snapshot;

import java.lang.reflect.Field;

/**
 * Plain loads and stores at absolute addresses, for the primitive accessors. A store through a
 * buffer window costs the window lookup and the buffer's own bounds, order and scope checks, with
 * every field reloaded per store (the marking's slow-path call in a loop makes the JIT forget them;
 * benchmarks/java-notes.md); a raw store needs only the region's base address: about half the
 * time per putLong in a loop.
 * The accessors have already checked the bounds and the closed flag, and the memory stays mapped
 * until the {@link Mapping} is unreachable (closed regions are scratch memory until then), so a raw
 * access is exactly as safe as the buffer's.
 *
 * <p>This class serves JDK 17 to 23 (sun.misc.Unsafe, quiet there). On JDK 24+ the jar's
 * multi-release copy (java/src/main/java24) is used instead: the same accessors through the FFM
 * API, since from JDK 24 on Unsafe's memory methods print a warning (JEP 498). Where neither can be
 * used quietly the accessors go through the buffer windows. {@code -Dorg.snapshot.raw=false} turns
 * raw accesses off anywhere (the window path is tested that way).
 */
final class Raw {
    private Raw() {}

    /** Whether the primitive accessors use the methods below; a constant for the JIT. */
    static final boolean ON;
    private static final sun.misc.Unsafe U;

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

    static byte getByte(long a) { return U.getByte(a); }
    static void putByte(long a, byte v) { U.putByte(a, v); }
    static short getShort(long a) { return U.getShort(a); }
    static void putShort(long a, short v) { U.putShort(a, v); }
    static int getInt(long a) { return U.getInt(a); }
    static void putInt(long a, int v) { U.putInt(a, v); }
    static long getLong(long a) { return U.getLong(a); }
    static void putLong(long a, long v) { U.putLong(a, v); }
    static float getFloat(long a) { return U.getFloat(a); }
    static void putFloat(long a, float v) { U.putFloat(a, v); }
    static double getDouble(long a) { return U.getDouble(a); }
    static void putDouble(long a, double v) { U.putDouble(a, v); }
}
