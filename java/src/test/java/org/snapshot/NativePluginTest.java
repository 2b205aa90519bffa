// NativePluginTest — Java hands region.address() through JNA to a native library compiled with the clang
// plugin (no snap_track anywhere); both write; one Java msync() commits both; SIGKILL campaigns agree.
package org.snapshot;

import static org.junit.jupiter.api.Assertions.*;

import com.sun.jna.Pointer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The native half is {@code java/src/test/native/kvnative.c}, built by {@link KvNative#build()} with
 * clang-19 and the plugin of this build ({@code build/java-native/llvm-pass/libsnapshot-pass.so}),
 * and once more without it. The source has no tracking call and includes no Snapshot header: the
 * plugin's hooks are the only thing that tells libsnapshot about its stores, and they reach the same
 * libsnapshot (the same arena) as the Java binding. See {@link KvNative} for the layout and the
 * model, {@link NativePluginChild} for the killed JVM.
 *
 * <ol>
 *   <li>Java's stores and the native stores (an sret struct assigned into the region, a struct
 *       copy, a variable-length memcpy, a strided loop through a pointer passed down three calls, a
 *       read-modify-write) are committed by one Java {@code msync()}: after reopening, every byte
 *       equals the model, and values computed independently in Java are there; under
 *       SNAPSHOT_VERIFY=1, 200 msyncs find no untracked line.</li>
 *   <li>SIGKILL at random instants (20% during open/recovery), {@code snapshot.native.kill.trials}
 *       per medium (default 40): emulated PM on /dev/shm (EMULATED_PMEM) and a disk file; every
 *       reopen holds the acknowledged epoch or the next, both sides byte for byte.</li>
 *   <li>The same source built without the plugin is caught three ways: its stores are gone after a
 *       close and reopen, the kill campaign's check fails on the native side (only), and
 *       SNAPSHOT_VERIFY=1 makes the first msync fail with SNAP_E_VERIFY.</li>
 * </ol>
 */
class NativePluginTest {
    static final int SIZE = KvNative.SIZE;
    static final int OFF = KvNative.NATIVE_OFF;

    @Test
    void oneJavaMsyncCommitsJavaAndPluginTrackedNativeStores() throws Exception {
        KvNative.Build b = KvNative.build();
        // The plugin did instrument the library, every write it saw; the source tracks nothing itself.
        Matcher m = Pattern.compile("instrumented (\\d+),.* unhandled (\\d+)").matcher(b.passStats());
        assertTrue(m.find(), "no -snapshot-stats line from the plugin: " + b.passStats());
        assertTrue(Integer.parseInt(m.group(1)) >= 10, b.passStats());
        assertEquals("0", m.group(2), b.passStats());
        assertEquals(Set.of("snap_arena_len", "snap_arena_lo", "snap_arena_slots", "snap_track_slow"),
                KvNative.undefinedSnapSymbols(b.instrumented()), "the plugin's hook references");
        assertEquals(Set.of(), KvNative.undefinedSnapSymbols(b.plain()),
                "kvnative.c itself must not call libsnapshot");

        long seed = 0x5EED_0001L;
        Path p = TestFiles.diskDir("native-plugin").resolve("kv.db");
        byte[] model;
        long[] layout = new long[9];
        try (PersistentRegion r = PersistentRegion.create(p, SIZE)) {
            KvNative.Lib kv = KvNative.load(b.instrumented());
            // One libsnapshot in the process: the library's DT_NEEDED resolved to the binding's copy.
            assertEquals(Set.of(Path.of(PersistentRegion.nativeLibrary()).toRealPath().toString()),
                    KvNative.mappedLibsnapshots());
            kv.kv_layout(layout);
            assertEquals(OFF, layout[0]);
            assertEquals(SIZE, layout[1]);
            Pointer base = new Pointer(r.address());
            for (long e = 1; e <= 3; e++) {
                KvNative.epoch(kv, KvNative.of(r), base, seed, e);
            }
            assertEquals(3, r.getLong(OFF), "Java sees the native stores at once");
            r.msync();
            RegionStats s = r.stats();
            assertEquals(1, s.commits());
            model = new KvNative.Model(kv, seed).at(3);
            int nativeLines = KvNative.nonZeroNativeLines(model);
            assertTrue(nativeLines >= 8, "the native side wrote " + nativeLines + " lines");
            assertTrue(s.linesCommitted() >= nativeLines + 1, // + line 0, Java's epoch
                    s.linesCommitted() + " lines committed, the native side alone wrote "
                            + nativeLines);
        }
        try (PersistentRegion r = PersistentRegion.open(p)) {
            byte[] got = new byte[SIZE];
            r.getBytes(0, got);
            assertNull(KvNative.mismatch(model, got));
            // Independently of the model (kvnative.c's hash, in Java):
            assertEquals(3, r.getLong(0), "Java's epoch");
            assertEquals(3, r.getLong(OFF), "the native epoch stamp");
            long recs = OFF + layout[2], recSize = layout[3], nrecs = layout[4];
            int checked = 0;
            for (long e = 1; e <= 3; e++) {
                long slot = Long.remainderUnsigned(KvNative.h(seed, e, 2), nrecs);
                boolean overwritten = false; // by a later record, or by epoch 3's struct copy
                for (long later = e; later <= 3; later++) {
                    overwritten |= later > e
                            && Long.remainderUnsigned(KvNative.h(seed, later, 2), nrecs) == slot;
                    overwritten |= later % 3 == 0
                            && Long.remainderUnsigned(KvNative.h(seed, later, 7), nrecs) == slot;
                }
                if (!overwritten) {
                    long at = recs + slot * recSize;
                    assertEquals(KvNative.h(seed, e, 1), r.getLong(at), "key of epoch " + e);
                    assertEquals(e, r.getLong(at + 8), "epoch of record " + slot);
                    assertEquals((int) KvNative.h(seed, e, 100), r.getInt(at + 16));
                    checked++;
                }
            }
            assertTrue(checked > 0, "choose another seed: every record was overwritten");
            long row = Long.remainderUnsigned(KvNative.h(seed, 3, 3), layout[7]);
            long start = Long.remainderUnsigned(KvNative.h(seed, 3, 5), 16);
            assertEquals((int) KvNative.h(seed, 3, 6),
                    r.getInt(OFF + layout[6] + 4 * (row * layout[8] + start)), "the grid's loop");
        }
        TestFiles.delete(p.getParent());
    }

    @Test
    void verifyModeFindsNoUntrackedNativeStore() throws Exception {
        String out = runVerify(KvNative.build().instrumented(), "verify");
        assertTrue(out.contains("verified 200"), out);
    }

    @Test
    void sigkillOnEmulatedPersistentMemory() throws Exception {
        Path lib = KvNative.build().instrumented();
        Result res = campaign(TestFiles.shmDir("native-kill-pmem").resolve("kv.db"),
                Backend.EMULATED_PMEM, lib, trials(), false);
        assertNull(res.failure, res.failure);
    }

    @Test
    void sigkillOnDisk() throws Exception {
        Path lib = KvNative.build().instrumented();
        Result res = campaign(TestFiles.diskDir("native-kill-disk").resolve("kv.db"), Backend.FILE,
                lib, trials(), false);
        assertNull(res.failure, res.failure);
    }

    /** The same source without the plugin: every check above must notice. */
    @Test
    void withoutThePluginTheNativeStoresAreCaught() throws Exception {
        KvNative.Build b = KvNative.build();
        // 1. close and reopen: Java's stores are there, the native ones are not.
        long seed = 0x5EED_0003L;
        Path p = TestFiles.diskDir("native-plain").resolve("kv.db");
        KvNative.Lib plain;
        try (PersistentRegion r = PersistentRegion.create(p, SIZE)) {
            plain = KvNative.load(b.plain());
            Pointer base = new Pointer(r.address());
            for (long e = 1; e <= 3; e++) {
                KvNative.epoch(plain, KvNative.of(r), base, seed, e);
            }
            assertEquals(3, r.getLong(OFF), "the plain library did write (into DRAM)");
            r.msync();
        }
        try (PersistentRegion r = PersistentRegion.open(p)) {
            byte[] got = new byte[SIZE];
            r.getBytes(0, got);
            String why = KvNative.mismatch(new KvNative.Model(plain, seed).at(3), got);
            assertNotNull(why, "the untracked native stores were committed");
            assertTrue(why.startsWith("native side") && !why.contains("Java side"), why);
            assertEquals(3, r.getLong(0));
            assertEquals(0, r.getLong(OFF));
        }
        TestFiles.delete(p.getParent());

        // 2. the kill campaign's check fails, on the native side only, within a few trials.
        Result res = campaign(TestFiles.diskDir("native-plain-kill").resolve("kv.db"), Backend.FILE,
                b.plain(), 10, true);
        assertNotNull(res.failure, "10 SIGKILL trials with the uninstrumented library passed");
        assertTrue(res.failure.contains("native side") && !res.failure.contains("Java side"),
                res.failure);
        System.out.println("NativePluginTest without the plugin: caught after " + res.trials
                + " trial(s): " + res.failure);

        // 3. SNAPSHOT_VERIFY=1: the first msync reports the untracked lines.
        String out = runVerify(b.plain(), "verify-plain");
        assertTrue(out.contains("verify-error SNAP_E_VERIFY at 1"), out);
    }

    private static int trials() {
        return Integer.getInteger("snapshot.native.kill.trials", 40);
    }

    /** A child JVM with SNAPSHOT_VERIFY=1 commits 200 epochs on a fresh disk file; its stdout. */
    private static String runVerify(Path lib, String dir) throws Exception {
        Path file = TestFiles.diskDir("native-" + dir).resolve("kv.db");
        Process child = ChildJvm.start(NativePluginChild.class, Map.of("SNAPSHOT_VERIFY", "1"), null,
                "verify", lib.toString(), file.toString(), Backend.FILE.name(), "77", "200");
        String out = new String(child.getInputStream().readAllBytes());
        assertTrue(child.waitFor(120, TimeUnit.SECONDS), "verify child hangs");
        assertEquals(0, child.exitValue(), out);
        TestFiles.delete(file.getParent());
        return out;
    }

    record Result(String failure, int trials) {}

    /**
     * Kill a {@link NativePluginChild} on {@code file} {@code trials} times; after each kill,
     * reopen and compare both sides with the model of the epoch found, which must be the
     * acknowledged one or the next. {@code expectLoss}: stop at (and return) the first failed
     * check instead of failing the test.
     */
    private Result campaign(Path file, Backend backend, Path lib, int trials, boolean expectLoss)
            throws Exception {
        long seed = 0x5EED_0002L ^ System.nanoTime();
        String where = backend + " " + lib.getFileName() + ", seed " + seed;
        SplittableRandom rnd = new SplittableRandom(seed);
        KvNative.Model model = new KvNative.Model(KvNative.load(lib), seed);
        long committed = 0, duringOpen = 0, atAck = 0, atNext = 0, advanced = 0;
        Path acks = file.resolveSibling("child.out");
        for (int trial = 0; trial < trials; trial++) {
            // stdout to a file: after a kill every line the child wrote is there.
            Process child = ChildJvm.start(NativePluginChild.class, Map.of(), acks, "run",
                    lib.toString(), file.toString(), backend.name(), Long.toString(seed));
            boolean killDuringOpen = rnd.nextInt(5) == 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            String wanted = killDuringOpen ? "opening" : "open ";
            while (!Files.readString(acks).contains(wanted)) {
                assertTrue(child.isAlive() && System.nanoTime() < deadline,
                        where + ": child did not start: " + Files.readString(acks));
                Thread.sleep(1);
            }
            Thread.sleep(rnd.nextInt(killDuringOpen ? 30 : 150));
            child.destroyForcibly();
            child.waitFor();
            long ack = -1;
            String last = "";
            String[] lines = Files.readString(acks).split("\n", -1);
            for (String line : Arrays.copyOf(lines, lines.length - 1)) { // complete lines only
                assertFalse(line.startsWith("error"), where + ": " + line);
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
            byte[] got = new byte[SIZE];
            try (PersistentRegion r = PersistentRegion.create(file, SIZE,
                    NativePluginChild.options(Backend.FILE))) {
                assertEquals(SIZE, r.size());
                r.getBytes(0, got);
            }
            long epoch = java.nio.ByteBuffer.wrap(got).order(java.nio.ByteOrder.LITTLE_ENDIAN)
                    .getLong(0);
            String at = where + ", trial " + trial + ": ";
            assertTrue(epoch == ack || epoch == ack + 1, at + "reopened at epoch " + epoch
                    + ", acknowledged " + ack + " (child's last line: " + last + ")");
            assertTrue(epoch >= committed, at + "went back from " + committed);
            String why = KvNative.mismatch(model.at(epoch), got);
            if (why != null) {
                why = at + "epoch " + epoch + " (acknowledged " + ack + "): " + why;
                if (expectLoss) {
                    TestFiles.delete(file.getParent());
                    return new Result(why, trial + 1);
                }
                fail(why);
            }
            if (epoch == ack) {
                atAck++;
            } else {
                atNext++;
            }
            if (epoch > committed) {
                advanced++;
            }
            committed = epoch;
        }
        System.out.printf("NativePluginTest %s: %d SIGKILLs, %d during open/recovery; reopened at "
                + "the acknowledged epoch %d times, at the next %d times; reached epoch %d; both "
                + "sides exact every time%n", where, trials, duringOpen, atAck, atNext, committed);
        TestFiles.delete(file.getParent());
        if (!expectLoss) {
            assertTrue(advanced > trials / 4, where + ": the child made progress in most trials");
        }
        return new Result(null, trials);
    }
}
