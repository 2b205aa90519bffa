package org.snapshot.ycsb;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.SplittableRandom;
import java.util.function.LongSupplier;

import site.ycsb.ByteArrayByteIterator;
import site.ycsb.ByteIterator;
import site.ycsb.generator.ScrambledZipfianGenerator;

/**
 * The tables without YCSB's client: loads {@code records} records, then times rounds of one-field
 * updates (YCSB-A's update: one 100-byte field, durable on return) and of reads of all fields.
 * Shows what each store costs per operation, apart from the client's own several microseconds.
 * Usage (PMEM_IS_PMEM_FORCE=1 in the environment for llpl):
 * <pre>
 *   java -cp ... org.snapshot.ycsb.TableBench snapshot|llpl load|run|both FILE [records [ops [rounds [uniform|zipfian]]]]
 * </pre>
 * {@code load} creates FILE (which must not exist) and fills it; {@code run} opens it and times
 * the rounds, as YCSB's run phase does in a second JVM (the store's pages are then first touched
 * during the run); {@code both} does both in one JVM and deletes FILE at the end. Keys are uniform,
 * or YCSB's scrambled zipfian (workload A's request distribution). Prints one line per round and
 * the median of the rounds, in microseconds per operation.
 */
public final class TableBench {
  private TableBench() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 3) {
      System.err.println("usage: TableBench snapshot|llpl load|run|both FILE [records [ops [rounds [uniform|zipfian]]]]");
      System.exit(2);
    }
    String system = args[0];
    String phase = args[1];
    Path file = Path.of(args[2]);
    long records = args.length > 3 ? Long.parseLong(args[3]) : 1_000_000;
    int ops = args.length > 4 ? Integer.parseInt(args[4]) : 200_000;
    int rounds = args.length > 5 ? Integer.parseInt(args[5]) : 5;
    String dist = args.length > 6 ? args[6] : "uniform";
    boolean load = phase.equals("load") || phase.equals("both");
    boolean run = phase.equals("run") || phase.equals("both");
    if (!load && !run) {
      throw new IllegalArgumentException("phase is load, run or both, not " + phase);
    }
    if (load && Files.exists(file)) {
      throw new IllegalArgumentException(file + " exists: give a new file");
    }
    LongSupplier next;
    SplittableRandom rnd = new SplittableRandom(42);
    if (dist.equals("zipfian")) {
      ScrambledZipfianGenerator z = new ScrambledZipfianGenerator(records);
      next = () -> z.nextValue();
    } else if (dist.equals("uniform")) {
      next = () -> rnd.nextLong(records);
    } else {
      throw new IllegalArgumentException("distribution is uniform or zipfian, not " + dist);
    }
    Properties p = new Properties();
    p.setProperty("recordcount", Long.toString(records));
    Records rec = new Records(p);
    long capacity = Records.capacity(p);
    long o0 = System.nanoTime();
    try (HashTable t = open(system, file, rec, capacity)) {
      // YCSB's RunTime includes this (the binding's init): it dominates short runs
      System.out.printf("%s: %s in %.1f ms%n", system, load ? "created" : "opened", (System.nanoTime() - o0) / 1e6);
      if (load) {
        long t0 = System.nanoTime();
        for (long i = 0; i < records; i++) {
          t.insert(key(i), values(rec, rnd, rec.fields));
        }
        System.out.printf("%s: loaded %d records in %.2f s%n", system, records, (System.nanoTime() - t0) / 1e9);
      }
      if (run) {
        double[] upd = new double[rounds], rd = new double[rounds];
        for (int r = 0; r < rounds; r++) {
          upd[r] = updates(t, rec, rnd, next, ops);
          rd[r] = reads(t, rec, next, ops);
          System.out.printf("%s: round %d: update %.2f us, read %.2f us%n", system, r + 1, upd[r], rd[r]);
        }
        System.out.printf("%s: %s, records %d, median of %d rounds of %d: update %.2f us, read %.2f us%n",
            system, dist, records, rounds, ops, median(upd), median(rd));
      }
    } finally {
      if (phase.equals("both")) {
        Files.deleteIfExists(file);
        Files.deleteIfExists(file.resolveSibling(file.getFileName() + ".snaplog"));
      }
    }
  }

  private static HashTable open(String system, Path file, Records rec, long capacity) {
    switch (system) {
      case "snapshot":
        return SnapshotTable.openOrCreate(file, true,
            Boolean.parseBoolean(System.getProperty("snapshot.populate", "true")), rec, capacity);
      case "llpl":
        return LlplTable.openOrCreate(file, rec, capacity);
      default:
        throw new IllegalArgumentException("system is snapshot or llpl, not " + system);
    }
  }

  // YCSB's key shape ("user" and digits); the order of insertion does not matter to a hash table.
  private static String key(long i) {
    return "user" + i;
  }

  /** {@code n} fields of random bytes: all of them, or {@code n} from a random one on. */
  private static Map<String, ByteIterator> values(Records rec, SplittableRandom rnd, int n) {
    Map<String, ByteIterator> v = new HashMap<>();
    int first = n == rec.fields ? 0 : rnd.nextInt(rec.fields);
    for (int i = 0; i < n; i++) {
      byte[] b = new byte[rec.length];
      rnd.nextBytes(b);
      v.put("field" + (first + i), new ByteArrayByteIterator(b));
    }
    return v;
  }

  /** Microseconds per update of one random field of a random record. */
  private static double updates(HashTable t, Records rec, SplittableRandom rnd, LongSupplier next, int ops) {
    String[] keys = new String[ops];
    @SuppressWarnings("unchecked")
    Map<String, ByteIterator>[] vals = new Map[ops];
    for (int i = 0; i < ops; i++) { // made before the clock starts, as YCSB's client does
      keys[i] = key(next.getAsLong());
      vals[i] = values(rec, rnd, 1);
    }
    long t0 = System.nanoTime();
    for (int i = 0; i < ops; i++) {
      if (!t.update(keys[i], vals[i])) {
        throw new IllegalStateException("no record " + keys[i]);
      }
    }
    return (System.nanoTime() - t0) / 1e3 / ops;
  }

  /** Microseconds per read of all fields of a random record. */
  private static double reads(HashTable t, Records rec, LongSupplier next, int ops) {
    String[] keys = new String[ops];
    for (int i = 0; i < ops; i++) {
      keys[i] = key(next.getAsLong());
    }
    long t0 = System.nanoTime();
    for (int i = 0; i < ops; i++) {
      Map<String, ByteIterator> out = new HashMap<>();
      if (!t.read(keys[i], null, out) || out.size() != rec.fields) {
        throw new IllegalStateException("no record " + keys[i]);
      }
    }
    return (System.nanoTime() - t0) / 1e3 / ops;
  }

  private static double median(double[] a) {
    double[] s = a.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }
}
