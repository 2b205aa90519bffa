// CrashTest — a JVM writing and msyncing is killed with SIGKILL at random instants; every reopen must
// show exactly the acknowledged epoch or the next one, byte for byte. On emulated PM and on disk.
package org.snapshot;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Each trial starts {@link CrashChild} on the same file; the child reopens the region (recovering
 * after the previous kill), reports the committed epoch, and commits epoch after epoch
 * ({@link Workload}), acknowledging each on stdout once msync returned. The test kills it with
 * {@code Process.destroyForcibly()} (SIGKILL) at a random instant — mostly while it commits, some
 * while it opens and recovers — then reopens the region itself and checks: the epoch is the last
 * acknowledged one or the next (whose record may have committed before the kill), and every byte
 * equals the model of that epoch. Trials per medium: {@code snapshot.kill.trials} (default 100).
 */
class CrashTest {
    static final int SIZE = 256 << 10;

    @Test
    void sigkillOnEmulatedPersistentMemory() throws Exception {
        campaign(TestFiles.shmDir("crash-pmem").resolve("r.db"), Map.of("PMEM_IS_PMEM_FORCE", "1"),
                Backend.PMEM, 11);
    }

    @Test
    void sigkillOnDisk() throws Exception {
        campaign(TestFiles.diskDir("crash-disk").resolve("r.db"), Map.of(), Backend.FILE, 12);
    }

    private void campaign(Path file, Map<String, String> env, Backend backend, long seed)
            throws Exception {
        int trials = Integer.getInteger("snapshot.kill.trials", 100);
        SplittableRandom rnd = new SplittableRandom(seed ^ System.nanoTime());
        byte[] model = new byte[SIZE]; // state of epoch `modelEpoch`
        long modelEpoch = 0, committed = 0, duringOpen = 0, advanced = 0;
        for (int trial = 0; trial < trials; trial++) {
            // The child's stdout goes to a file, not a pipe: after a kill, every line it wrote is
            // there (a pipe's last lines can be lost when the JDK closes it at the child's exit).
            Path acks = file.resolveSibling("child.out");
            Process child = ChildJvm.start(env, acks, "run", file.toString(), backend.name(),
                    Long.toString(seed), Integer.toString(SIZE));
            boolean killDuringOpen = rnd.nextInt(5) == 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            String wanted = killDuringOpen ? "opening" : "open ";
            while (!java.nio.file.Files.readString(acks).contains(wanted)) {
                assertTrue(child.isAlive() && System.nanoTime() < deadline,
                        "child did not start: " + java.nio.file.Files.readString(acks));
                Thread.sleep(1);
            }
            Thread.sleep(rnd.nextInt(killDuringOpen ? 30 : 150));
            child.destroyForcibly();
            child.waitFor();
            long ack = -1;
            String last = "";
            String all = java.nio.file.Files.readString(acks);
            String[] lines = all.split("\n", -1); // the last element: after the last newline
            for (String line : Arrays.copyOf(lines, lines.length - 1)) {
                if (line.startsWith("ack ")) {
                    ack = Long.parseLong(line.substring(4));
                } else if (line.startsWith("open ")) {
                    ack = Long.parseLong(line.substring(5));
                }
                last = line;
            }
            if (ack < 0) {
                duringOpen++;
                ack = committed; // killed before it reported: what the last check saw
            }
            long epoch;
            byte[] got = new byte[SIZE];
            // create(): the first child may have died before it created or sized the file.
            try (PersistentRegion r = PersistentRegion.create(file, SIZE,
                    CrashChild.options(Backend.FILE))) {
                assertEquals(SIZE, r.size());
                epoch = r.getLong(0);
                r.getBytes(0, got);
            }
            assertTrue(epoch == ack || epoch == ack + 1,
                    "trial " + trial + ": reopened at epoch " + epoch + ", acknowledged " + ack
                            + " (child's last line: " + last + ")");
            assertTrue(epoch >= committed, "trial " + trial + ": went back from " + committed);
            if (epoch < modelEpoch) {
                Arrays.fill(model, (byte) 0);
                modelEpoch = 0;
            }
            for (; modelEpoch < epoch; modelEpoch++) {
                Workload.epoch(seed, modelEpoch + 1, SIZE, Workload.of(model));
            }
            if (!Arrays.equals(model, got)) {
                int at = Arrays.mismatch(model, got);
                fail("trial " + trial + ": epoch " + epoch + " differs from its model at byte " + at);
            }
            if (epoch > committed) {
                advanced++;
            }
            committed = epoch;
        }
        System.out.printf("CrashTest %s: %d SIGKILLs, %d during open/recovery, reached epoch %d, "
                + "every reopen exact%n", backend, trials, duringOpen, committed);
        TestFiles.delete(file.getParent());
        assertTrue(advanced > trials / 4, "the child made progress in most trials");
    }
}
