// MapCrashChild — the JVM MapCrashTest kills: commits batches of map updates, acknowledging each.
package org.snapshot.heap;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.snapshot.Backend;
import org.snapshot.Options;
import org.snapshot.PersistentRegion;

/**
 * {@code PATH BACKEND SEED}: open (or create) the region, heap and map; print "open K" with the
 * commit number K stored in the map (under the empty key); then for k = K+1, K+2, ... apply
 * {@link #batch} k, store k, commit, and print "ack k" once commit returned. Batch k depends only
 * on (seed, k), so the parent replays the same batches on a TreeMap.
 */
public final class MapCrashChild {
    static final byte[] COMMIT_KEY = new byte[0];

    /** A small log and a small start, so checkpoints and growth happen during the campaign. */
    static Options options(Backend backend) {
        return Options.defaults().backend(backend).logCapacity(1 << 20).maxSize(1L << 30);
    }

    interface Target {
        void put(byte[] k, byte[] v);

        void remove(byte[] k);
    }

    /** Batch k: a few puts and removes on 3000 keys, values of 0-300 bytes (sometimes 5-9 KB). */
    static void batch(long seed, long k, Target t) {
        SplittableRandom rnd = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + k);
        int ops = 1 + rnd.nextInt(24);
        for (int i = 0; i < ops; i++) {
            byte[] key = LongKey.of(rnd.nextInt(3000));
            if (rnd.nextInt(3) == 0) {
                t.remove(key);
            } else {
                byte[] v = new byte[rnd.nextInt(30) == 0 ? 5000 + rnd.nextInt(4000) : rnd.nextInt(300)];
                rnd.nextBytes(v);
                t.put(key, v);
            }
        }
    }

    static long commitNumber(byte[] v) {
        return v == null ? 0 : LongKey.toLong(v);
    }

    /** The model after commits 1..k. */
    static void replay(long seed, long from, long to, TreeMap<byte[], byte[]> model) {
        Target t = new Target() {
            public void put(byte[] k, byte[] v) {
                model.put(k, v);
            }

            public void remove(byte[] k) {
                model.remove(k);
            }
        };
        for (long k = from + 1; k <= to; k++) {
            batch(seed, k, t);
            model.put(COMMIT_KEY, LongKey.of(k));
        }
    }

    public static void main(String[] args) throws Exception {
        Path path = Path.of(args[0]);
        Backend backend = Backend.valueOf(args[1]);
        long seed = Long.parseLong(args[2]);
        PrintStream out = System.out;
        out.println("opening");
        out.flush();
        PersistentRegion r = Files.exists(path) ? PersistentRegion.open(path, options(backend))
                : PersistentRegion.create(path, 4096, options(backend));
        PersistentSortedMap map = PersistentSortedMap.open(PersistentHeap.open(r));
        long k = commitNumber(map.get(COMMIT_KEY));
        out.println("open " + k);
        out.flush();
        Target t = new Target() {
            public void put(byte[] key, byte[] v) {
                map.put(key, v);
            }

            public void remove(byte[] key) {
                map.remove(key);
            }
        };
        for (;;) {
            k++;
            batch(seed, k, t);
            map.put(COMMIT_KEY, LongKey.of(k));
            map.commit();
            out.println("ack " + k);
            out.flush();
        }
    }
}
