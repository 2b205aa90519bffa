// MapBadInputTest — bytes flipped in a closed map's data file: verify reports it or the map is intact.
package org.snapshot.heap;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.file.Path;
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
