// PersistentSortedMapTest — random puts/removes/scans against a TreeMap, reopens, growth, threads.
package org.snapshot.heap;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.BufferOverflowException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.snapshot.PersistentRegion;
import org.snapshot.TestFiles;

class PersistentSortedMapTest {
    static TreeMap<byte[], byte[]> model() {
        return new TreeMap<>(Arrays::compareUnsigned);
    }

    /** Keys from a small alphabet and varied lengths, so prefixes tie and full compares run. */
    static byte[] randomKey(SplittableRandom rnd, int range) {
        int n = rnd.nextInt(range);
        switch (rnd.nextInt(3)) {
            case 0:
                return LongKey.of(n - range / 2);
            case 1:
                return ("k" + n).getBytes();
            default:
                byte[] k = new byte[9 + n % 13];
                Arrays.fill(k, (byte) 0xFF);
                k[k.length - 1] = (byte) n;
                k[k.length - 2] = (byte) (n >> 8);
                return k;
        }
    }

    static byte[] randomValue(SplittableRandom rnd) {
        byte[] v = new byte[rnd.nextInt(10) == 0 ? rnd.nextInt(9000) : rnd.nextInt(200)];
        rnd.nextBytes(v);
        return v;
    }

    /** The whole map, ascending and descending, equals the model. */
    static void assertSame(NavigableMap<byte[], byte[]> model, PersistentSortedMap map, String when) {
        assertEquals(model.size(), map.size(), when + ": size");
        assertEntries(model.entrySet().iterator(), map.ascending(null), when + " ascending");
        assertEntries(model.descendingMap().entrySet().iterator(), map.descending(null),
                when + " descending");
    }

    static void assertEntries(Iterator<Map.Entry<byte[], byte[]>> want,
            Iterator<Map.Entry<byte[], byte[]>> got, String when) {
        int i = 0;
        while (want.hasNext()) {
            assertTrue(got.hasNext(), when + ": ends early at " + i);
            Map.Entry<byte[], byte[]> w = want.next(), g = got.next();
            assertArrayEquals(w.getKey(), g.getKey(), when + ": key " + i);
            assertArrayEquals(w.getValue(), g.getValue(), when + ": value " + i);
            i++;
        }
        assertFalse(got.hasNext(), when + ": too many entries after " + i);
    }

    @Test
    void randomOperationsMatchATreeMapAcrossReopens() {
        long seed = PersistentHeapTest.seed("map model");
        SplittableRandom rnd = new SplittableRandom(seed);
        Path f = TestFiles.diskDir("map-model").resolve("m.db");
        TreeMap<byte[], byte[]> model = model(), committed = model();
        PersistentRegion r = PersistentRegion.create(f, 4096);
        PersistentSortedMap map = PersistentSortedMap.open(PersistentHeap.open(r));
        try {
            for (int step = 0; step < 30; step++) {
                String when = "seed " + seed + " step " + step;
                int range = step < 10 ? 300 : 5000;
                int ops = rnd.nextInt(3000);
                for (int i = 0; i < ops; i++) {
                    byte[] k = randomKey(rnd, range);
                    int what = rnd.nextInt(10);
                    if (what < 6) {
                        byte[] v = randomValue(rnd);
                        assertEquals(model.put(k, v) == null, map.put(k, v), when + ": put");
                    } else if (what < 9) {
                        assertEquals(model.remove(k) != null, map.remove(k), when + ": remove");
                    } else {
                        assertArrayEquals(model.get(k), map.get(k), when + ": get");
                    }
                }
                // range scans from random bounds, both ways
                for (int i = 0; i < 20; i++) {
                    byte[] from = randomKey(rnd, range);
                    assertEntries(model.tailMap(from, true).entrySet().iterator(),
                            map.ascending(from), when + ": ascending from a bound");
                    assertEntries(model.headMap(from, true).descendingMap().entrySet().iterator(),
                            map.descending(from), when + ": descending from a bound");
                }
                assertSame(model, map, when);
                assertEquals(model.size(), map.verify().entries(), when);
                int choice = rnd.nextInt(3);
                if (choice == 0) {
                    map.commit();
                    committed = new TreeMap<>(model);
                } else if (choice == 1) { // close without commit: the last commit comes back
                    model = new TreeMap<>(committed);
                }
                if (choice != 2) {
                    r.close();
                    r = PersistentRegion.open(f);
                    map = PersistentSortedMap.open(PersistentHeap.open(r));
                    assertSame(model, map, when + " after reopen");
                    map.verify();
                }
            }
            assertTrue(map.verify().height() >= 3, "a tree of several levels was exercised");
            // remove everything: nodes are freed and the root collapses; only header and root leaf stay
            for (byte[] k : new ArrayList<>(model.keySet())) {
                assertTrue(map.remove(k));
            }
            MapSummary s = map.verify();
            assertEquals(0, s.entries());
            assertEquals(1, s.height());
            assertEquals(2, map.heap().verify().allocatedBlocks());
        } finally {
            r.close();
        }
    }

    @Test
    void zeroCopyGetLongKeysAndLimits() {
        Path f = TestFiles.diskDir("map-api").resolve("m.db");
        try (PersistentRegion r = PersistentRegion.create(f, 64 << 10)) {
            PersistentSortedMap map = PersistentSortedMap.open(PersistentHeap.open(r));
            for (long k = -500; k < 500; k++) {
                assertTrue(map.put(LongKey.of(k), ("v" + k).getBytes()));
            }
            assertFalse(map.put(LongKey.of(7), "seven".getBytes()));
            ByteBuffer dst = ByteBuffer.allocateDirect(16);
            dst.position(3);
            assertEquals(5, map.get(LongKey.of(7), dst));
            assertEquals(8, dst.position());
            dst.flip().position(3);
            byte[] got = new byte[5];
            dst.get(got);
            assertArrayEquals("seven".getBytes(), got);
            assertEquals(-1, map.get(LongKey.of(1000), ByteBuffer.allocate(8)));
            ByteBuffer small = ByteBuffer.allocate(2);
            assertThrows(BufferOverflowException.class, () -> map.get(LongKey.of(7), small));
            assertEquals(0, small.position());
            // long keys sort numerically, negatives first
            Iterator<Map.Entry<byte[], byte[]>> it = map.ascending(LongKey.of(-3));
            assertEquals(-3, LongKey.toLong(it.next().getKey()));
            assertEquals(-2, LongKey.toLong(it.next().getKey()));
            it = map.descending(LongKey.of(-499));
            assertEquals(-499, LongKey.toLong(it.next().getKey()));
            assertEquals(-500, LongKey.toLong(it.next().getKey()));
            assertFalse(it.hasNext());
            assertTrue(map.put(new byte[0], new byte[0]), "the empty key is a key");
            assertArrayEquals(new byte[0], map.ascending(null).next().getKey());
            assertThrows(IllegalArgumentException.class,
                    () -> map.put(new byte[PersistentSortedMap.MAX_KEY + 1], new byte[1]));
            assertTrue(map.containsKey(LongKey.of(0)));
            assertTrue(map.remove(LongKey.of(0)));
            assertFalse(map.containsKey(LongKey.of(0)));
            assertEquals(1000, map.verify().entries());
        }
    }

    @Test
    void openRefusesARootThatIsNotAMap() {
        Path f = TestFiles.diskDir("map-foreign").resolve("m.db");
        try (PersistentRegion r = PersistentRegion.create(f, 64 << 10)) {
            PersistentHeap heap = PersistentHeap.open(r);
            long h = heap.allocate(64);
            r.putLong(h, 1234);
            heap.setRoot(h);
            assertThrows(CorruptHeapException.class, () -> PersistentSortedMap.open(heap));
        }
    }

    @Test
    void readersWritersAndCommittersInParallel() throws Exception {
        long seed = PersistentHeapTest.seed("map threads");
        Path f = TestFiles.diskDir("map-threads").resolve("m.db");
        int threads = 4, perThread = 4000;
        try (PersistentRegion r = PersistentRegion.create(f, 64 << 10)) {
            PersistentSortedMap map = PersistentSortedMap.open(PersistentHeap.open(r));
            AtomicReference<Throwable> failure = new AtomicReference<>();
            List<Thread> ts = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int id = t;
                ts.add(new Thread(() -> {
                    try {
                        SplittableRandom rnd = new SplittableRandom(seed + id);
                        TreeMap<byte[], byte[]> mine = model(); // each thread owns keys id, id + threads, ...
                        for (int i = 0; i < perThread; i++) {
                            byte[] k = LongKey.of((long) rnd.nextInt(2000) * threads + id);
                            if (rnd.nextInt(4) == 0) {
                                assertEquals(mine.remove(k) != null, map.remove(k));
                            } else {
                                byte[] v = randomValue(rnd);
                                assertEquals(mine.put(k, v) == null, map.put(k, v));
                            }
                            byte[] probe = LongKey.of((long) rnd.nextInt(2000) * threads + id);
                            assertArrayEquals(mine.get(probe), map.get(probe));
                            if (i % 200 == 0) {
                                map.commit();
                                Iterator<Map.Entry<byte[], byte[]>> it = map.ascending(null);
                                byte[] prev = null;
                                for (int n = 0; n < 300 && it.hasNext(); n++) {
                                    byte[] key = it.next().getKey();
                                    assertTrue(prev == null || Arrays.compareUnsigned(prev, key) < 0);
                                    prev = key;
                                }
                            }
                        }
                        map.commit();
                        for (Map.Entry<byte[], byte[]> e : mine.entrySet()) {
                            assertArrayEquals(e.getValue(), map.get(e.getKey()));
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                }));
            }
            ts.forEach(Thread::start);
            for (Thread t : ts) {
                t.join();
            }
            if (failure.get() != null) {
                throw new AssertionError("seed " + seed, failure.get());
            }
            map.verify();
        }
        try (PersistentRegion r = PersistentRegion.open(f)) {
            assertTrue(PersistentSortedMap.open(PersistentHeap.open(r)).verify().entries() > 1000);
        }
    }
}
