// LongKey — long keys as 8-byte arrays whose unsigned lexicographic order is the numeric order.
package org.snapshot.heap;

/**
 * Converts {@code long} keys for {@link PersistentSortedMap}: big-endian with the sign bit flipped,
 * so the map's unsigned byte order sorts them as signed numbers ({@code -1 < 0 < 1}).
 * {@code map.put(LongKey.of(42), value)}, {@code LongKey.toLong(entry.getKey())}.
 */
public final class LongKey {
    private LongKey() {}

    /** The 8-byte key of {@code v}. */
    public static byte[] of(long v) {
        long u = v ^ Long.MIN_VALUE;
        byte[] k = new byte[8];
        for (int i = 0; i < 8; i++) {
            k[i] = (byte) (u >>> (56 - 8 * i));
        }
        return k;
    }

    /** The long of a key made by {@link #of(long)}. */
    public static long toLong(byte[] key) {
        if (key.length != 8) {
            throw new IllegalArgumentException("a long key has 8 bytes, not " + key.length);
        }
        long u = 0;
        for (int i = 0; i < 8; i++) {
            u = u << 8 | (key[i] & 0xFF);
        }
        return u ^ Long.MIN_VALUE;
    }
}
