// MapCrashTest — SIGKILL a JVM updating a PersistentSortedMap; every reopen equals an acknowledged commit.
package org.snapshot.heap;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.snapshot.Backend;
import org.snapshot.ChildJvm;
import org.snapshot.PersistentRegion;
import org.snapshot.TestFiles;

/**
 * Each trial starts {@link MapCrashChild} on the same file and kills it with SIGKILL
 * ({@code destroyForcibly}) at a random instant (one in five while it opens and recovers). The
 * test then reopens region, heap and map and checks: the map's commit number is the last
 * acknowledged one or the next (whose msync may have completed before the kill), the map equals
 * the model replayed to that commit entry by entry, and {@code verify()} passes — heap invariants,
 * tree invariants, checksums, and no leak (every allocated block reachable from the root).
 * Trials per medium: {@code snapshot.heap.kill.trials} (default 200).
 */
class MapCrashTest {
    @Test
    void sigkillOnEmulatedPersistentMemory() throws Exception {
        campaign(TestFiles.shmDir("map-crash-pmem").resolve("m.db"), Map.of("PMEM_IS_PMEM_FORCE", "1"),
                Backend.PMEM);
    }

    @Test
    void sigkillOnDisk() throws Exception {
        campaign(TestFiles.diskDir("map-crash-disk").resolve("m.db"), Map.of(), Backend.FILE);
    }

    private void campaign(Path file, Map<String, String> env, Backend backend) throws Exception {
        int trials = Integer.getInteger("snapshot.heap.kill.trials", 200);
        long seed = PersistentHeapTest.seed("map crash " + backend);
        SplittableRandom rnd = new SplittableRandom(seed);
        TreeMap<byte[], byte[]> model = PersistentSortedMapTest.model();
        long modelCommit = 0, committed = 0, advanced = 0, duringOpen = 0, maxHeight = 0;
        long start = System.nanoTime();
        for (int trial = 0; trial < trials; trial++) {
            Path acks = file.resolveSibling("child.out");
            Process child = ChildJvm.start(MapCrashChild.class, env, acks, file.toString(),
                    backend.name(), Long.toString(seed));
            boolean killDuringOpen = rnd.nextInt(5) == 0;
            String wanted = killDuringOpen ? "opening" : "open ";
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!Files.readString(acks).contains(wanted)) {
                assertTrue(child.isAlive() && System.nanoTime() < deadline,
                        "child did not start: " + Files.readString(acks));
                Thread.sleep(1);
            }
            Thread.sleep(rnd.nextInt(killDuringOpen ? 30 : 120));
            child.destroyForcibly();
            child.waitFor();
            long ack = -1;
            String[] lines = Files.readString(acks).split("\n", -1);
            for (String line : Arrays.copyOf(lines, lines.length - 1)) {
                if (line.startsWith("ack ")) {
                    ack = Long.parseLong(line.substring(4));
                } else if (line.startsWith("open ")) {
                    ack = Long.parseLong(line.substring(5));
                }
            }
            if (ack < 0) {
                duringOpen++;
                ack = committed;
            }
            if (!Files.exists(file)) {
                continue; // killed before it created the file
            }
            String when = "seed " + seed + " trial " + trial;
            try (PersistentRegion r = PersistentRegion.open(file, MapCrashChild.options(Backend.FILE))) {
                PersistentSortedMap map = PersistentSortedMap.open(PersistentHeap.open(r));
                MapSummary s = map.verify();
                maxHeight = Math.max(maxHeight, s.height());
                long k = MapCrashChild.commitNumber(map.get(MapCrashChild.COMMIT_KEY));
                assertTrue(k == ack || k == ack + 1, when + ": reopened at commit " + k
                        + ", acknowledged " + ack);
                assertTrue(k >= committed, when + ": went back from " + committed + " to " + k);
                MapCrashChild.replay(seed, modelCommit, k, model);
                modelCommit = k;
                PersistentSortedMapTest.assertSame(model, map, when + " at commit " + k);
                if (k > committed) {
                    advanced++;
                }
                committed = k;
            }
        }
        System.out.printf("MapCrashTest %s: %d SIGKILLs in %.1f s, %d during open, %d commits, "
                + "%d entries, height %d: every reopen exact and verified%n", backend, trials,
                (System.nanoTime() - start) / 1e9, duringOpen, committed, model.size(), maxHeight);
        TestFiles.delete(file.getParent());
        assertTrue(advanced > trials / 4, "the child made progress in most trials: " + advanced);
    }
}
