// BudgetChild — BudgetTest's child JVM: waits for "go" on stdin (its parent has moved it into a
// memory cgroup by then), creates the region with default options, writes BudgetTest.writes() in
// order, committing every 32, and prints its stats.
package org.snapshot;

import java.nio.file.Path;
import java.util.SplittableRandom;

public final class BudgetChild {
    public static void main(String[] args) throws Exception {
        Path file = Path.of(args[0]);
        long size = Long.parseLong(args[1]);
        int count = Integer.parseInt(args[2]);
        if (System.in.read() != 'g') {
            System.exit(3);
        }
        SplittableRandom g = new SplittableRandom(17); // BudgetTest.writes(size, count, 17)
        try (PersistentRegion r = PersistentRegion.create(file, size)) {
            byte[] rec = new byte[64];
            for (int i = 0; i < count; i++) {
                long off = g.nextLong(size / 64) * 64;
                g.nextBytes(rec);
                r.putBytes(off, rec);
                if (i % 32 == 31) {
                    r.msync();
                }
            }
            r.msync();
            RegionStats s = r.stats();
            System.out.printf("evictable=%b budget=%dMiB evictions=%d refaults=%d resident=%dMiB%n",
                    s.evictable(), s.budget() >> 20, s.evictions(), s.refaults(),
                    s.residentBytes() >> 20);
        }
    }
}
