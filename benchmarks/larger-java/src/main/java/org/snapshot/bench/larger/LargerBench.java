// LargerBench — random 64-byte durable updates from Java: PersistentRegion against lmdbjava, on the
// files benchmarks/core/bench_larger loads (its header says how; run-larger.sh drives both).
package org.snapshot.bench.larger;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import org.lmdbjava.Dbi;
import org.lmdbjava.Env;
import org.lmdbjava.Txn;
import org.snapshot.PersistentRegion;
import org.snapshot.RegionStats;

/**
 * {@code LargerBench --system snapshot|lmdbjava --dir DIR --size BYTES [--seconds T] [--warmup W]
 * [--csv FILE] [--run K] [--workload NAME] [--seed S]}: the run phase of bench_larger.c in Java,
 * the same workload on the same files (DIR/larger-snapshot.data; DIR/larger-lmdb with
 * BYTES/4096*49 records). Snapshot: PersistentRegion.open with default Options; each op
 * {@code putLongs} of 64 bytes into a random slot of BYTES/64, then {@code msync()}. lmdbjava: default
 * environment flags (sync commits); each op one write transaction putting one random record.
 * Prints a key=value line (with the region's budget, resident bytes, evictions and re-faults for
 * Snapshot) and appends a report.py row, system "snapshot" or "lmdbjava".
 */
public final class LargerBench {
    private LargerBench() {
    }

    /** xorshift64*, as bench_util.h's bench_rand, so the slots are the C run's. */
    private static long seed;

    /** Snapshot's budget figures for the key=value line ("" for lmdbjava). */
    private static String stats = "";

    private static long rand() {
        long x = seed;
        x ^= x >>> 12;
        x ^= x << 25;
        x ^= x >>> 27;
        seed = x;
        return x * 0x2545f4914f6cdd1dL;
    }

    private static long vmhwmKib() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (l.startsWith("VmHWM:")) {
                    return Long.parseLong(l.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException e) {
            return -1;
        }
        return -1;
    }

    public static void main(String[] args) throws IOException {
        String system = null, dir = null, csv = null, workload = "update64-java";
        long size = 0;
        double seconds = 30, warmup = -1;
        int run = 1;
        seed = 0x9e3779b97f4a7c15L;
        for (int i = 0; i + 1 < args.length; i += 2) {
            String v = args[i + 1];
            switch (args[i]) {
                case "--system" -> system = v;
                case "--dir" -> dir = v;
                case "--size" -> size = Long.decode(v);
                case "--seconds" -> seconds = Double.parseDouble(v);
                case "--warmup" -> warmup = Double.parseDouble(v);
                case "--csv" -> csv = v;
                case "--run" -> run = Integer.parseInt(v);
                case "--workload" -> workload = v;
                case "--seed" -> seed = Long.decode(v) | 1;
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        if (system == null || dir == null || size < (1 << 20)) {
            throw new IllegalArgumentException("usage: LargerBench --system snapshot|lmdbjava --dir DIR "
                    + "--size BYTES [--seconds T] [--warmup W] [--csv FILE] [--run K]");
        }
        if (warmup < 0) {
            warmup = seconds / 3;
        }
        long records = size / 4096 * 49;
        long[] result = switch (system) { // {timed ops, timed nanoseconds}
            case "snapshot" -> snapshot(Path.of(dir, "larger-snapshot.data"), size, warmup, seconds);
            case "lmdbjava" -> lmdbjava(Path.of(dir, "larger-lmdb"), size, records, warmup, seconds);
            default -> throw new IllegalArgumentException("unknown system " + system);
        };
        double secs = result[1] / 1e9, rate = result[0] / secs;
        System.out.printf("system=%s ops=%d seconds=%.3f ops_per_sec=%.0f vmhwm_kib=%d%s%n",
                system.equals("snapshot") ? "snapshot-java" : system,
                result[0], secs, rate, vmhwmKib(), stats);
        if (csv != null) {
            String row = String.format("larger,%s,%s,disk,1,%d,%d,%d,%.6f,%.0f%n", workload, system,
                    records, result[0], run, secs, rate);
            try {
                Files.writeString(Path.of(csv), row, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    private static long[] snapshot(Path file, long size, double warmup, double seconds) {
        try (PersistentRegion r = PersistentRegion.open(file)) {
            if (r.size() != size) {
                throw new IllegalStateException(file + " holds " + r.size() + " bytes, not " + size);
            }
            long slots = size / 64, ops = 0, timedFrom = 0, start = 0;
            long[] value = new long[8];
            RegionStats st0 = r.stats();
            long t0 = System.nanoTime();
            long warmEnd = t0 + (long) (warmup * 1e9), end = warmEnd + (long) (seconds * 1e9);
            for (;;) {
                long now = System.nanoTime();
                if (start == 0 && now >= warmEnd) {
                    start = now;
                    timedFrom = ops;
                    st0 = r.stats();
                }
                if (now >= end) {
                    break;
                }
                long slot = Long.remainderUnsigned(rand(), slots);
                value[0] = ++ops;
                r.putLongs(slot * 64, value, 0, 8);
                r.msync();
            }
            long nanos = System.nanoTime() - start;
            RegionStats st = r.stats();
            stats = String.format(" budget=%d resident=%d evictions=%d refaults=%d evictable=%d "
                    + "timed_evictions=%d timed_refaults=%d", st.budget(), st.residentBytes(),
                    st.evictions(), st.refaults(), st.evictable() ? 1 : 0,
                    st.evictions() - st0.evictions(), st.refaults() - st0.refaults());
            return new long[] {ops - timedFrom, nanos};
        }
    }

    private static long[] lmdbjava(Path dir, long size, long records, double warmup, double seconds) {
        try (Env<ByteBuffer> env = Env.create().setMapSize(size * 2 + (64L << 20)).open(dir.toFile())) {
            Dbi<ByteBuffer> db = env.openDbi((byte[]) null);
            ByteBuffer key = ByteBuffer.allocateDirect(8).order(ByteOrder.BIG_ENDIAN);
            ByteBuffer val = ByteBuffer.allocateDirect(64).order(ByteOrder.nativeOrder());
            long ops = 0, timedFrom = 0, start = 0;
            long t0 = System.nanoTime();
            long warmEnd = t0 + (long) (warmup * 1e9), end = warmEnd + (long) (seconds * 1e9);
            for (;;) {
                long now = System.nanoTime();
                if (start == 0 && now >= warmEnd) {
                    start = now;
                    timedFrom = ops;
                }
                if (now >= end) {
                    break;
                }
                key.clear();
                key.putLong(0, Long.remainderUnsigned(rand(), records));
                val.clear();
                val.putLong(0, ++ops);
                try (Txn<ByteBuffer> txn = env.txnWrite()) {
                    db.put(txn, key, val);
                    txn.commit();
                }
            }
            return new long[] {ops - timedFrom, System.nanoTime() - start};
        }
    }
}
