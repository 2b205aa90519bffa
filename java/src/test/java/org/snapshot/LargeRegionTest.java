// LargeRegionTest — a 3 GiB sparse region: offsets past 2 GiB, accesses across the 1 GiB windows.
package org.snapshot;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class LargeRegionTest {
    static final long GIB = 1L << 30;
    static final long SIZE = 3 * GIB;

    @Test
    void threeGibRegion() throws Exception {
        Path p = TestFiles.diskDir("large").resolve("big.db");
        byte[] across = new byte[100_000];
        for (int i = 0; i < across.length; i++) {
            across[i] = (byte) (i * 31 + 1);
        }
        try (PersistentRegion r = PersistentRegion.create(p, SIZE)) {
            assertEquals(SIZE, r.size());
            r.putLong(0, 1);
            r.putLong(GIB - 4, 0x1122334455667788L); // straddles windows 0 and 1
            assertEquals(0x1122334455667788L, r.getLong(GIB - 4));
            r.putLong(2 * GIB + 123_456, 42); // past 2^31
            r.putDouble(SIZE - 8, 2.5); // the very end
            r.putBytes(2 * GIB - 50_000, across); // a bulk write across a window boundary
            long[] longs = new long[40_000], back = new long[40_000];
            for (int i = 0; i < longs.length; i++) {
                longs[i] = i * 0x9E3779B97F4A7C15L;
            }
            r.putLongs(GIB - 8L * 20_000 + 3, longs, 0, longs.length); // longs across windows 0 and 1
            r.getLongs(GIB - 8L * 20_000 + 3, back, 0, back.length);
            assertArrayEquals(longs, back);
            assertEquals(longs[19_999], r.getLong(GIB - 5));
            r.fill(GIB - 8L * 20_000 + 3, 8L * longs.length, (byte) 0); // zero again, as checked below
            r.fill(GIB - 10_000, 20_000, (byte) 7); // and a fill
            r.putLong(GIB - 1, -2); // straddling again, over the fill
            r.copy(2 * GIB - 50_000, SIZE - 200_000, across.length); // and a copy to the end
            r.putInt(2 * GIB - 2, 0xA1B2C3D4); // straddles windows 1 and 2
            RegionSlice s = r.slice(2 * GIB + 4096, GIB - 4096);
            s.putLong(s.size() - 16, 99);
            assertEquals(99, r.getLong(SIZE - 16));
            r.msync();
        }
        assertEquals(SIZE, Files.size(p));
        try (PersistentRegion r = PersistentRegion.open(p)) {
            assertEquals(1, r.getLong(0));
            assertEquals(7, r.getByte(GIB - 4)); // the fill came after the first long
            assertEquals(-2, r.getLong(GIB - 1));
            assertEquals(7, r.getByte(GIB + 7));
            assertEquals(7, r.getByte(GIB + 9_999));
            assertEquals(0, r.getByte(GIB + 10_000));
            assertEquals(0xA1B2C3D4, r.getInt(2 * GIB - 2));
            assertEquals(42, r.getLong(2 * GIB + 123_456));
            assertEquals(2.5, r.getDouble(SIZE - 8));
            assertEquals(99, r.getLong(SIZE - 16));
            byte[] back = new byte[across.length];
            r.getBytes(SIZE - 200_000, back);
            assertArrayEquals(across, back);
            r.getBytes(2 * GIB - 50_000, back);
            byte[] patched = across.clone();
            patched[49_998] = (byte) 0xD4;
            patched[49_999] = (byte) 0xC3;
            patched[50_000] = (byte) 0xB2;
            patched[50_001] = (byte) 0xA1;
            assertArrayEquals(patched, back);
            assertThrows(IndexOutOfBoundsException.class, () -> r.getLong(SIZE - 7));
        }
        TestFiles.delete(p.getParent());
    }
}
