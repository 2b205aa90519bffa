// PersistentHeapTest — allocate/free/resize against a model, reopen between steps, growth, threads.
package org.snapshot.heap;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.snapshot.Options;
import org.snapshot.PersistentRegion;
import org.snapshot.SnapshotException;
import org.snapshot.TestFiles;

class PersistentHeapTest {
    /** Seed from -Dsnapshot.heap.seed, else the clock; printed so a failure can be replayed. */
    static long seed(String test) {
        long s = Long.getLong("snapshot.heap.seed", System.nanoTime());
        System.out.println(test + ": seed " + s + " (replay with -Dsnapshot.heap.seed=" + s + ")");
        return s;
    }

    /** Each live block holds its handle's pattern: a model check that no two blocks overlap. */
    private static void fillPattern(PersistentRegion r, long h, long size) {
        for (long p = 0; p + 8 <= size; p += 8) {
            r.putLong(h + p, h * 31 + p);
        }
    }

    private static void checkPattern(PersistentRegion r, long h, long size, String when) {
        for (long p = 0; p + 8 <= size; p += 8) {
            assertEquals(h * 31 + p, r.getLong(h + p), when + ": block " + h + " overwritten at " + p);
        }
    }

    @Test
    void randomOperationsMatchTheModelAcrossReopensAndGrowth() {
        long seed = seed("heap model");
        SplittableRandom rnd = new SplittableRandom(seed);
        Path f = TestFiles.diskDir("heap-model").resolve("h.db");
        Map<Long, Long> live = new HashMap<>(); // handle -> requested size
        long committedTop = 0;
        Map<Long, Long> committed = new HashMap<>();
        PersistentRegion r = PersistentRegion.create(f, 4096, Options.defaults().maxSize(1L << 30));
        PersistentHeap heap = PersistentHeap.open(r);
        try {
            for (int step = 0; step < 40; step++) {
                int ops = 1 + rnd.nextInt(400);
                for (int i = 0; i < ops; i++) {
                    int what = rnd.nextInt(10);
                    if (what < 5 || live.isEmpty()) {
                        long size = rnd.nextInt(8) == 0 ? rnd.nextInt(40000) : rnd.nextInt(600);
                        long h = heap.allocate(size);
                        assertTrue(heap.usableSize(h) >= size, "seed " + seed);
                        assertNull(live.put(h, size), "seed " + seed + ": handle " + h + " twice");
                        fillPattern(r, h, size);
                    } else {
                        long h = new ArrayList<>(live.keySet()).get(rnd.nextInt(live.size()));
                        if (what < 8) {
                            heap.free(h);
                            live.remove(h);
                        } else {
                            long size = rnd.nextInt(4) == 0 ? rnd.nextInt(20000) : rnd.nextInt(600);
                            long old = live.remove(h);
                            long nh = heap.resize(h, size);
                            // the first min(old, size) bytes moved with the block
                            checkPattern(r, nh == h ? h : nh, 0, "resize");
                            for (long p = 0; p + 8 <= Math.min(old, size); p += 8) {
                                assertEquals(h * 31 + p, r.getLong(nh + p), "seed " + seed + ": resize copy");
                            }
                            assertNull(live.put(nh, size), "seed " + seed);
                            fillPattern(r, nh, size);
                        }
                    }
                }
                if (rnd.nextInt(3) == 0) {
                    heap.setRoot(live.isEmpty() ? 0 : live.keySet().iterator().next());
                }
                for (Map.Entry<Long, Long> e : live.entrySet()) {
                    checkPattern(r, e.getKey(), e.getValue(), "seed " + seed + " step " + step);
                }
                HeapSummary s = heap.verify();
                assertEquals(live.size(), s.allocatedBlocks(), "seed " + seed + ": blocks");
                int choice = rnd.nextInt(3);
                if (choice == 0) { // commit, reopen: everything stays
                    heap.commit();
                    committed = new HashMap<>(live);
                    committedTop = s.top();
                    r.close();
                    r = PersistentRegion.open(f, Options.defaults().maxSize(1L << 30));
                    heap = PersistentHeap.open(r);
                } else if (choice == 1) { // close without commit: back to the last commit
                    r.close();
                    r = PersistentRegion.open(f, Options.defaults().maxSize(1L << 30));
                    heap = PersistentHeap.open(r);
                    live = new HashMap<>(committed);
                    if (committedTop != 0) {
                        assertEquals(committedTop, heap.summary().top(), "seed " + seed);
                    }
                }
                for (Map.Entry<Long, Long> e : live.entrySet()) {
                    checkPattern(r, e.getKey(), e.getValue(), "seed " + seed + " after reopen " + step);
                }
                assertEquals(live.size(), heap.verify().allocatedBlocks(), "seed " + seed);
            }
            assertTrue(r.size() > 1 << 20, "the heap grew its region: " + r.size());
        } finally {
            r.close();
        }
    }

    @Test
    void sizeClassesAndLargeBlocks() {
        Path f = TestFiles.diskDir("heap-classes").resolve("h.db");
        try (PersistentRegion r = PersistentRegion.create(f, 1 << 20)) {
            PersistentHeap heap = PersistentHeap.open(r);
            assertEquals(16, heap.usableSize(heap.allocate(0)));
            assertEquals(16, heap.usableSize(heap.allocate(16)));
            assertEquals(32, heap.usableSize(heap.allocate(17)));
            assertEquals(144, heap.usableSize(heap.allocate(129)));
            assertEquals(4080, heap.usableSize(heap.allocate(4080)));
            long big = heap.allocate(4081);
            assertEquals(8192 - 16, heap.usableSize(big));
            long huge = heap.allocate(100_000);
            assertEquals(102400 - 16, heap.usableSize(huge));
            heap.free(huge); // at the top: the top moves back
            HeapSummary s = heap.verify();
            assertEquals(0, s.freeBlocks(HeapSummary.classes()));
            long top = s.top();
            heap.free(big); // not at the top: onto the large list, then split for a smaller one
            long again = heap.allocate(4500);
            assertEquals(big, again, "first fit reuses the freed large block");
            assertEquals(top, heap.verify().top());
            assertThrows(IllegalArgumentException.class, () -> heap.free(huge), "double free");
            assertThrows(IllegalArgumentException.class, () -> heap.free(12345));
            assertThrows(IllegalArgumentException.class, () -> heap.allocate(-1));
            assertThrows(IllegalArgumentException.class, () -> heap.setRoot(huge));
            assertTrue(heap.summary().toString().contains("large"));
        }
    }

    @Test
    void growthStopsAtMaxSizeWithAClearError() {
        Path f = TestFiles.diskDir("heap-full").resolve("h.db");
        try (PersistentRegion r = PersistentRegion.create(f, 64 << 10,
                Options.defaults().maxSize(1 << 20))) {
            PersistentHeap heap = PersistentHeap.open(r);
            List<Long> got = new ArrayList<>();
            SnapshotException e = assertThrows(SnapshotException.class, () -> {
                for (;;) {
                    got.add(heap.allocate(10_000));
                }
            });
            assertTrue(e.getMessage().contains("maxSize"), e.getMessage());
            assertEquals(1 << 20, r.size());
            assertTrue(got.size() > 80, "filled the region: " + got.size());
            assertEquals(got.size(), heap.verify().allocatedBlocks());
            heap.free(got.get(0));
            heap.allocate(10_000); // usable again
        }
    }

    @Test
    void threadsAllocateAndFreeInParallelWithCommits() throws Exception {
        long seed = seed("heap threads");
        Path f = TestFiles.diskDir("heap-threads").resolve("h.db");
        try (PersistentRegion r = PersistentRegion.create(f, 64 << 10)) {
            PersistentHeap heap = PersistentHeap.open(r);
            int threads = 4;
            List<Map<Long, Long>> owned = new ArrayList<>();
            AtomicReference<Throwable> failure = new AtomicReference<>();
            List<Thread> ts = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                Map<Long, Long> mine = new TreeMap<>();
                owned.add(mine);
                long s = seed + t;
                ts.add(new Thread(() -> {
                    try {
                        SplittableRandom rnd = new SplittableRandom(s);
                        for (int i = 0; i < 20_000; i++) {
                            if (mine.isEmpty() || rnd.nextInt(3) != 0) {
                                long size = rnd.nextInt(20) == 0 ? 5000 + rnd.nextInt(9000) : rnd.nextInt(300);
                                long h = heap.allocate(size);
                                fillPattern(r, h, size);
                                mine.put(h, size);
                            } else {
                                long h = mine.keySet().iterator().next();
                                checkPattern(r, h, mine.remove(h), "thread");
                                heap.free(h);
                            }
                            if (i % 500 == 0) {
                                heap.commit();
                            }
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
            long total = 0;
            for (Map<Long, Long> mine : owned) {
                for (Map.Entry<Long, Long> e : mine.entrySet()) {
                    checkPattern(r, e.getKey(), e.getValue(), "seed " + seed + " after threads");
                }
                total += mine.size();
            }
            assertEquals(total, heap.verify().allocatedBlocks(), "seed " + seed);
        }
    }

    @Test
    void openRejectsForeignOrDamagedHeaders() {
        Path f = TestFiles.diskDir("heap-foreign").resolve("h.db");
        try (PersistentRegion r = PersistentRegion.create(f, 64 << 10)) {
            r.putLong(100, 42);
            CorruptHeapException e = assertThrows(CorruptHeapException.class, () -> PersistentHeap.open(r));
            assertTrue(e.getMessage().contains("magic"), e.getMessage());
            r.fill(0, 4096, (byte) 0);
            PersistentHeap.open(r).allocate(10);
            r.putLong(PersistentHeap.TOP, 1L << 40);
            assertThrows(CorruptHeapException.class, () -> PersistentHeap.open(r));
        }
    }
}
