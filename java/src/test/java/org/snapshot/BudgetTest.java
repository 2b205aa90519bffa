// BudgetTest — regions larger than their memory budget, from Java (snapshot.h, "Budget").
package org.snapshot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

class BudgetTest {
    private static final Path CGROUP_ROOT = Path.of("/sys/fs/cgroup/memory");

    /** Writes of 64-byte records at random 64-byte slots, the same in the child and the model. */
    static Map<Long, byte[]> writes(long size, int count, long seed) {
        SplittableRandom g = new SplittableRandom(seed);
        Map<Long, byte[]> m = new HashMap<>();
        for (int i = 0; i < count; i++) {
            long off = g.nextLong(size / 64) * 64;
            byte[] rec = new byte[64];
            g.nextBytes(rec);
            m.put(off, rec);
        }
        return m;
    }

    /** Every byte of the region: the model's records, zeros elsewhere. */
    static void assertHolds(PersistentRegion r, Map<Long, byte[]> model) {
        byte[] line = new byte[64], zeros = new byte[64];
        for (long off = 0; off < r.size(); off += 64) {
            r.getBytes(off, line);
            byte[] want = model.getOrDefault(off, zeros);
            if (!java.util.Arrays.equals(want, line)) {
                assertArrayEquals(want, line, "line at offset " + off);
            }
        }
    }

    @Test
    void smallBudgetEvictsAndReadsBack() throws IOException {
        Path dir = TestFiles.diskDir("budget");
        Path file = dir.resolve("data");
        long size = 8 << 20;
        Map<Long, byte[]> model = new HashMap<>();
        SplittableRandom g = new SplittableRandom(5);
        try (PersistentRegion r = PersistentRegion.create(file, size, Options.defaults().budget(256 << 10))) {
            RegionStats s = r.stats();
            assertTrue(s.evictable());
            assertEquals(256 << 10, s.budget());
            for (int i = 0; i < 4000; i++) {
                long off = g.nextLong(size / 64) * 64;
                byte[] rec = new byte[64];
                g.nextBytes(rec);
                r.putBytes(off, rec);
                model.put(off, rec);
                long probe = g.nextLong(size / 64) * 64; // pages brought back hold their bytes
                byte[] got = new byte[64];
                r.getBytes(probe, got);
                assertArrayEquals(model.getOrDefault(probe, new byte[64]), got, "read at " + probe);
                if (i % 8 == 7) {
                    r.msync();
                    assertTrue(r.stats().residentBytes() <= (256 << 10) + (64 << 10),
                            "resident " + r.stats().residentBytes());
                }
            }
            r.msync();
            s = r.stats();
            assertTrue(s.evictions() > 0, "evictions");
            assertTrue(s.refaults() > 0, "re-faults");
        }
        try (PersistentRegion r = PersistentRegion.open(file, Options.defaults().budget(Options.BUDGET_NONE))) {
            assertFalse(r.stats().evictable());
            assertHolds(r, model);
        }
        TestFiles.delete(dir);
    }

    /**
     * A child JVM in a memory cgroup of LIMIT bytes, with default options, writes a region 4x the
     * limit and commits every 32 writes; it must finish (not be OOM-killed) with its peak usage
     * within the limit, and the parent must find every byte after reopening.
     */
    @Test
    void regionFourTimesTheCgroupLimit() throws Exception {
        Assumptions.assumeTrue(Files.isWritable(CGROUP_ROOT),
                "no writable cgroup v1 memory controller at " + CGROUP_ROOT + " (needs root)");
        long limit = Long.getLong("snapshot.budget.cgroupMiB", 192) << 20, size = 4 * limit;
        int count = (int) Math.min(Integer.MAX_VALUE, size / 4096 / 2);
        Path cg = CGROUP_ROOT.resolve("snaptest-jvm-" + ProcessHandle.current().pid());
        Files.createDirectory(cg);
        Path dir = TestFiles.diskDir("budget-cgroup");
        Path file = dir.resolve("data");
        try {
            Files.writeString(cg.resolve("memory.limit_in_bytes"), Long.toString(limit));
            Process p = ChildJvm.start(BudgetChild.class, Map.of(), null, file.toString(),
                    Long.toString(size), Integer.toString(count));
            // The child waits for "go": from then on its memory (the copy, the files' page
            // cache, heap growth) counts against the limit.
            Files.writeString(cg.resolve("cgroup.procs"), Long.toString(p.pid()));
            try (OutputStream in = p.getOutputStream()) {
                in.write("go\n".getBytes(StandardCharsets.US_ASCII));
            }
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            int rc = p.waitFor();
            long peak = Long.parseLong(Files.readString(cg.resolve("memory.max_usage_in_bytes")).trim());
            System.out.printf("cgroup %d MiB, region %d MiB: child exit %d, peak %d MiB; %s%n",
                    limit >> 20, size >> 20, rc, peak >> 20, out.trim());
            assertEquals(0, rc, "child exit status (137: OOM-killed): " + out);
            assertTrue(peak <= limit, "peak " + peak);
            assertTrue(out.contains("evictable=true"), out);
        } finally {
            Files.deleteIfExists(cg); // rmdir of an empty cgroup
        }
        try (PersistentRegion r = PersistentRegion.open(file, Options.defaults().budget(Options.BUDGET_NONE))) {
            assertEquals(size, r.size());
            assertHolds(r, writes(size, count, 17));
        }
        TestFiles.delete(dir);
    }
}
