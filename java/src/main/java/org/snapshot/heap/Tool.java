// Tool — command line: print or verify the heap and sorted map in a region's data file.
package org.snapshot.heap;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.snapshot.PersistentRegion;

/**
 * {@code java -cp snapshot.jar org.snapshot.heap.Tool summary|verify FILE}: opens the region
 * (recovering it if a crash left log records, as any open does), prints the heap's summary and, if
 * the heap's root is a sorted map, the map's. {@code verify} also checks every invariant of both.
 * Commits nothing. Exit status: 0 fine, 1 corruption found, 2 usage or I/O error.
 */
public final class Tool {
    private Tool() {}

    public static void main(String[] args) {
        System.exit(run(args, System.out, System.err));
    }

    static int run(String[] args, PrintStream out, PrintStream err) {
        if (args.length != 2 || !(args[0].equals("summary") || args[0].equals("verify"))) {
            err.println("usage: java -cp snapshot.jar org.snapshot.heap.Tool summary|verify FILE");
            return 2;
        }
        boolean verify = args[0].equals("verify");
        Path file = Path.of(args[1]);
        if (!Files.isRegularFile(file)) {
            err.println(file + ": no such file");
            return 2;
        }
        try (PersistentRegion region = PersistentRegion.open(file)) {
            PersistentHeap heap = PersistentHeap.open(region);
            out.print(verify ? heap.verify() : heap.summary());
            if (heap.root() != 0) {
                PersistentSortedMap map = PersistentSortedMap.open(heap);
                out.println(verify ? map.verify() : map.summary());
            } else {
                out.println("map: none (the heap has no root)");
            }
            if (verify) {
                out.println("verify: OK");
            }
            return 0;
        } catch (CorruptHeapException e) {
            out.println("verify: CORRUPT: " + e.getMessage());
            return 1;
        } catch (RuntimeException e) {
            err.println(file + ": " + e);
            return 2;
        }
    }
}
