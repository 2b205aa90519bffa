// MapBadInputTest — bytes flipped in a closed map's data file: verify reports it or the map is intact.
package org.snapshot.heap;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.snapshot.PersistentRegion;
import org.snapshot.TestFiles;

/**
 * A committed map of 1500 entries is closed; then, one at a time, a random byte of the data file
 * (nine in ten below the heap's top) is XORed with a random non-zero value and the file opened.
 * Either {@code verify()} throws {@link CorruptHeapException} (or opening does), or the map still
 * equals the model entry for entry — never a silently different map. Reads, scans and a put on the
 * damaged map may throw, but must return (no JVM crash, no endless loop). The byte is restored
 * after each flip. Flips: {@code snapshot.heap.flips} (default 400).
 */
class MapBadInputTest {
    @Test
    void flippedBytesAreReportedOrHarmless() throws Exception {
        long seed = PersistentHeapTest.seed("map flips");
        SplittableRandom rnd = new SplittableRandom(seed);
        Path f = TestFiles.diskDir("map-flips").resolve("m.db");
        TreeMap<byte[], byte[]> model = PersistentSortedMapTest.model();
        long top;
        try (PersistentRegion r = PersistentRegion.create(f, 4096)) {
            PersistentSortedMap map = PersistentSortedMap.open(PersistentHeap.open(r));
            for (int i = 0; i < 2500; i++) {
                byte[] k = PersistentSortedMapTest.randomKey(rnd, 3000);
                if (rnd.nextInt(4) == 0) {
                    model.remove(k);
                    map.remove(k);
                } else {
                    byte[] v = PersistentSortedMapTest.randomValue(rnd);
                    model.put(k, v);
                    map.put(k, v);
                }
            }
            map.commit();
            top = map.heap().verify().top();
        }
        assertEquals(0, Tool.run(new String[] {"verify", f.toString()}, quiet(), quiet()));
        int flips = Integer.getInteger("snapshot.heap.flips", 400);
        int detected = 0, harmless = 0;
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            long length = raf.length();
            for (int i = 0; i < flips; i++) {
                long at = rnd.nextInt(10) == 0 ? rnd.nextLong(length) : rnd.nextLong(top);
                raf.seek(at);
                int old = raf.read();
                int flipped = old ^ (1 + rnd.nextInt(255));
                raf.seek(at);
                raf.write(flipped);
                String when = "seed " + seed + " flip " + i + " at " + at;
                boolean caught;
                try (PersistentRegion r = PersistentRegion.open(f)) {
                    caught = check(r, model, when);
                }
                int rc = Tool.run(new String[] {"verify", f.toString()}, quiet(), quiet());
                assertEquals(caught ? 1 : 0, rc, when + ": the tool's exit status");
                if (caught) {
                    detected++;
                } else {
                    harmless++;
                }
                raf.seek(at);
                raf.write(old);
            }
        }
        System.out.printf("MapBadInputTest: %d flips, %d reported by verify, %d harmless (map "
                + "unchanged)%n", flips, detected, harmless);
        assertTrue(detected > flips / 4, "most flips below the top hit checked bytes: " + detected);
        try (PersistentRegion r = PersistentRegion.open(f)) {
            PersistentSortedMap map = PersistentSortedMap.open(PersistentHeap.open(r));
            map.verify();
            PersistentSortedMapTest.assertSame(model, map, "restored");
        }
    }

    /**
     * A pointer in the map's bytes that cannot be a heap handle (the CI's failing flip: a high byte
     * of the root-node pointer) is damage: CorruptHeapException from open, get and verify, never
     * the IllegalArgumentException meant for a caller's bad handle.
     */
    @Test
    void impossibleStoredPointersAreCorruption() throws Exception {
        Path f = TestFiles.diskDir("map-pointers").resolve("m.db");
        long header, leaf;
        try (PersistentRegion r = PersistentRegion.create(f, 4096)) {
            PersistentSortedMap map = PersistentSortedMap.open(PersistentHeap.open(r));
            map.put(LongKey.of(1), new byte[] {1});
            map.commit();
            header = map.heap().root();
            leaf = r.getLong(header + PersistentSortedMap.H_ROOT);
        }
        long impossible = 0xA000000000000L;
        damage(f, header + PersistentSortedMap.H_ROOT, impossible);
        try (PersistentRegion r = PersistentRegion.open(f)) {
            assertThrows(CorruptHeapException.class,
                    () -> PersistentSortedMap.open(PersistentHeap.open(r)));
        }
        damage(f, header + PersistentSortedMap.H_ROOT, leaf);
        damage(f, leaf + PersistentSortedMap.ENTRIES, impossible); // the leaf's first record
        try (PersistentRegion r = PersistentRegion.open(f)) {
            PersistentSortedMap map = PersistentSortedMap.open(PersistentHeap.open(r));
            assertThrows(CorruptHeapException.class, () -> map.get(LongKey.of(1)));
            assertThrows(CorruptHeapException.class, map::verify);
        }
        assertEquals(1, Tool.run(new String[] {"verify", f.toString()}, quiet(), quiet()));
    }

    /**
     * A cursor fetches 64 entries at a time and resumes after the last key it returned. The last
     * entry of its second batch (the 128th of the scan) made to point at the record that ended
     * the first batch: the cursor would resume from that key again and return the same batch for
     * ever. Either direction of scan, over either damage, must end with CorruptHeapException.
     */
    @Test
    void scansOverKeysOutOfOrderEnd() throws Exception {
        Path f = TestFiles.diskDir("map-cycle").resolve("m.db");
        long[] slots = new long[200];
        try (PersistentRegion r = PersistentRegion.create(f, 4096)) {
            PersistentSortedMap map = PersistentSortedMap.open(PersistentHeap.open(r));
            for (int i = 0; i < slots.length; i++) {
                map.put(LongKey.of(i), new byte[] {(byte) i});
            }
            map.commit();
            long root = r.getLong(map.heap().root() + PersistentSortedMap.H_ROOT);
            assertEquals(2, r.getLong(map.heap().root() + PersistentSortedMap.H_HEIGHT));
            int k = 0; // the leaves in key order (height 2: the root's children)
            for (int c = 0; c < r.getShort(root + 6); c++) {
                long leaf = r.getLong(root + PersistentSortedMap.ENTRIES
                        + (long) PersistentSortedMap.INNER_SLOT * c);
                for (int i = 0; i < r.getShort(leaf + 6); i++) {
                    slots[k++] = leaf + PersistentSortedMap.ENTRIES
                            + (long) PersistentSortedMap.LEAF_SLOT * i;
                }
            }
            assertEquals(slots.length, k, "a tree of height 2 holding every key");
        }
        for (boolean asc : new boolean[] {true, false}) {
            int end1 = asc ? 63 : slots.length - 64, last = asc ? 127 : slots.length - 128;
            long saved;
            try (PersistentRegion r = PersistentRegion.open(f)) {
                saved = r.getLong(slots[last]);
                r.putLong(slots[last], r.getLong(slots[end1]));
                r.msync();
            }
            try (PersistentRegion r = PersistentRegion.open(f)) {
                PersistentSortedMap map = PersistentSortedMap.open(PersistentHeap.open(r));
                assertTimeoutPreemptively(Duration.ofSeconds(20), () -> assertThrows(
                        CorruptHeapException.class,
                        () -> map.ascending(null).forEachRemaining(e -> { }), "ascending scan"));
                assertTimeoutPreemptively(Duration.ofSeconds(20), () -> assertThrows(
                        CorruptHeapException.class,
                        () -> map.descending(null).forEachRemaining(e -> { }), "descending scan"));
                assertThrows(CorruptHeapException.class, map::verify);
            }
            damage(f, slots[last], saved);
        }
        assertEquals(0, Tool.run(new String[] {"verify", f.toString()}, quiet(), quiet()));
    }

    private static void damage(Path f, long at, long value) throws Exception {
        try (PersistentRegion r = PersistentRegion.open(f)) {
            r.putLong(at, value);
            r.msync();
        }
    }

    /** True if the damage was reported; fails if verify passes on a map that differs. */
    private static boolean check(PersistentRegion r, TreeMap<byte[], byte[]> model, String when) {
        PersistentSortedMap map;
        try {
            map = PersistentSortedMap.open(PersistentHeap.open(r));
            map.verify();
        } catch (CorruptHeapException e) {
            exercise(r, model); // the damaged map must still never hang or crash
            return true;
        }
        PersistentSortedMapTest.assertSame(model, map, when + ": verify passed, so the map must be intact");
        return false;
    }

    /** Reads, scans and one put on a damaged map: any exception is fine, returning is required. */
    private static void exercise(PersistentRegion r, TreeMap<byte[], byte[]> model) {
        try {
            PersistentSortedMap map = PersistentSortedMap.open(PersistentHeap.open(r));
            for (byte[] k : model.keySet()) {
                try {
                    map.get(k);
                } catch (RuntimeException e) {
                    // damage met: reported, not a crash
                }
            }
            for (Iterator<Map.Entry<byte[], byte[]>> it = map.ascending(null); it.hasNext();) {
                it.next();
            }
            for (Iterator<Map.Entry<byte[], byte[]>> it = map.descending(null); it.hasNext();) {
                it.next();
            }
            map.put(LongKey.of(12345), new byte[100]); // never committed: close discards it
        } catch (RuntimeException e) {
            // damage met
        }
    }

    private static PrintStream quiet() {
        return new PrintStream(new ByteArrayOutputStream());
    }
}
