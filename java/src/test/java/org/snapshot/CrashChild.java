// CrashChild — the process the crash tests kill or abandon: it writes epochs and acknowledges each msync.
package org.snapshot;

import java.io.PrintStream;
import java.nio.file.Path;

/**
 * {@code run PATH BACKEND SEED SIZE}: open (or create) the region, print "open E" with its committed
 * epoch E, then commit epochs E+1, E+2, ... forever (Workload), printing "ack K" after each msync
 * returned. {@code commit PATH BACKEND SEED SIZE N}: commit epochs 1..N and halt without closing, so
 * the log keeps its records.
 */
public final class CrashChild {
    /** A small log, so that checkpoints (and kills during them) come often. */
    static Options options(Backend backend) {
        return Options.defaults().backend(backend).logCapacity(1 << 20);
    }

    public static void main(String[] args) {
        String mode = args[0];
        Path path = Path.of(args[1]);
        Backend backend = Backend.valueOf(args[2]);
        long seed = Long.parseLong(args[3]);
        long size = Long.parseLong(args[4]);
        PrintStream out = System.out;
        out.println("opening");
        out.flush();
        PersistentRegion r = PersistentRegion.create(path, size, options(backend));
        long epoch = r.getLong(0);
        out.println("open " + epoch);
        out.flush();
        long last = mode.equals("commit") ? Long.parseLong(args[5]) : Long.MAX_VALUE;
        Workload.Target t = Workload.of(r);
        for (long k = epoch + 1; k <= last; k++) {
            Workload.epoch(seed, k, size, t);
            r.msync();
            out.println("ack " + k);
            out.flush();
        }
        Runtime.getRuntime().halt(0);
    }
}
