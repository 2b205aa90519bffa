// GrowTest — PersistentRegion.grow: same address, new bytes zero, size durable with msync, racing accessors.
package org.snapshot;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class GrowTest {
    private static final Options MAX_16M = Options.defaults().maxSize(16 << 20);
    static volatile long sink; // keeps the reader's loads

    @Test
    void growKeepsTheAddressAndCommitsWithTheNextMsync() {
        Path f = TestFiles.diskDir("grow").resolve("g.db");
        try (PersistentRegion r = PersistentRegion.create(f, 64 << 10, MAX_16M)) {
            long address = r.address();
            r.putLong(0, 11);
            assertThrows(IndexOutOfBoundsException.class, () -> r.putLong(200 << 10, 1));
            r.grow(256 << 10);
            assertEquals(256 << 10, r.size());
            assertEquals(address, r.address());
            assertEquals(0, r.getLong(200 << 10), "new bytes read as zero");
            r.putLong(200 << 10, 22);
            r.putLong((256 << 10) - 8, 33);
            r.msync();
            r.grow(128 << 10); // smaller: nothing changes
            assertEquals(256 << 10, r.size());
            r.grow(1 << 20); // not committed: the reopen below has the old size
            r.putLong(900 << 10, 44);
            SnapshotException e = assertThrows(SnapshotException.class, () -> r.grow(32 << 20));
            assertTrue(e.getMessage().contains("maxSize"), e.getMessage());
        }
        try (PersistentRegion r = PersistentRegion.open(f, MAX_16M)) {
            assertEquals(256 << 10, r.size());
            assertEquals(11, r.getLong(0));
            assertEquals(22, r.getLong(200 << 10));
            assertEquals(33, r.getLong((256 << 10) - 8));
        }
    }

    /**
     * An access ordered after a grow (here by reading {@code size()}, a volatile) must succeed even
     * in code the JIT compiled with the old bound: the accessors' fast bounds check reads a plain
     * field and re-checks against the published size before refusing (RegionMemory.at). The
     * reader runs hot loops between the grows, so it is compiled while the region is small.
     */
    @Test
    void accessAfterSeeingTheNewSizeIsNeverRefused() throws Exception {
        Path f = TestFiles.diskDir("grow-seen").resolve("g.db");
        try (PersistentRegion r = PersistentRegion.create(f, 64 << 10, MAX_16M)) {
            AtomicReference<Throwable> failure = new AtomicReference<>();
            long last = 8 << 20;
            Thread reader = new Thread(() -> {
                try {
                    long seen = r.size(), sum = 0;
                    while (seen < last) {
                        for (int i = 0; i < 1000; i++) {
                            sum += r.getLong(seen - 8); // the last long of the size seen
                        }
                        long now = r.size();
                        if (now > seen) {
                            r.putLong(now - 8, now); // just grown into: must not be refused
                            seen = now;
                        }
                    }
                    sink = sum;
                } catch (Throwable e) {
                    failure.set(e);
                }
            });
            reader.start();
            for (long size = 128 << 10; size <= last; size += 64 << 10) {
                r.grow(size);
                Thread.sleep(0, 200_000);
            }
            reader.join();
            if (failure.get() != null) {
                throw new AssertionError("an access after the new size was seen failed", failure.get());
            }
            assertEquals(last, r.getLong(last - 8), "the reader's store at the last size");
        }
    }

    @Test
    void accessorsRaceWithGrowth() throws Exception {
        long seed = System.nanoTime();
        Path f = TestFiles.diskDir("grow-race").resolve("g.db");
        try (PersistentRegion r = PersistentRegion.create(f, 64 << 10, MAX_16M)) {
            AtomicReference<Throwable> failure = new AtomicReference<>();
            List<Thread> ts = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                int id = t;
                ts.add(new Thread(() -> {
                    SplittableRandom rnd = new SplittableRandom(seed + id);
                    try {
                        while (r.size() < 16 << 20) {
                            // a store below a size this thread has seen: never out of bounds
                            long at = (rnd.nextLong(r.size() / 16) * 16) + 8 * id;
                            r.putLong(at, at);
                            assertEquals(at, r.getLong(at));
                            r.putBytes(at, new byte[8]);
                            r.putLong(at, at);
                        }
                    } catch (Throwable e) {
                        failure.compareAndSet(null, e);
                    }
                }));
            }
            ts.forEach(Thread::start);
            for (long size = 128 << 10; size <= 16 << 20; size += 64 << 10) {
                r.grow(size);
                if (size % (1 << 20) == 0) {
                    r.msync();
                }
            }
            for (Thread t : ts) {
                t.join();
            }
            if (failure.get() != null) {
                throw new AssertionError("seed " + seed, failure.get());
            }
            r.msync();
        }
        try (PersistentRegion r = PersistentRegion.open(f, MAX_16M)) {
            assertEquals(16 << 20, r.size());
            for (long at = 0; at < r.size(); at += 8) {
                long v = r.getLong(at);
                assertTrue(v == 0 || v == at, "seed " + seed + ": " + v + " at " + at);
            }
        }
    }
}
