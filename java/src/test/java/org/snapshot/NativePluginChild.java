// NativePluginChild — the JVM NativePluginTest kills or runs under SNAPSHOT_VERIFY=1: Java and a
// plugin-instrumented native library write one region, one Java msync() per epoch.
package org.snapshot;

import com.sun.jna.Pointer;
import java.io.PrintStream;
import java.nio.file.Path;

/**
 * {@code run LIB PATH BACKEND SEED}: open (or create) the region, load LIB (a build of
 * kvnative.c), print "open E" with the committed epoch, then for k = E+1, E+2, ... forever: Java's
 * data, {@code kv_epoch(region.address(), SEED, k)}, Java's epoch counter, {@code msync()}, and
 * "ack k" on stdout.
 *
 * <p>{@code verify LIB PATH BACKEND SEED N}: the same for epochs 1..N on a fresh file, started
 * with SNAPSHOT_VERIFY=1 in the environment (every msync compares the DRAM copy with the media);
 * prints "verified N", or "verify-error CODE_NAME at K" for the first msync that failed.
 */
public final class NativePluginChild {
    static Options options(Backend backend) {
        // A 64 KiB log: a checkpoint every few dozen epochs, so kills land in checkpoints too.
        return Options.defaults().backend(backend).logCapacity(64 << 10);
    }

    public static void main(String[] args) {
        String mode = args[0];
        Path lib = Path.of(args[1]);
        Path path = Path.of(args[2]);
        Backend backend = Backend.valueOf(args[3]);
        long seed = Long.parseLong(args[4]);
        PrintStream out = System.out;
        out.println("opening");
        out.flush();
        // The region first: the binding's libsnapshot is loaded before the native library comes in.
        PersistentRegion r = PersistentRegion.create(path, KvNative.SIZE, options(backend));
        KvNative.Lib kv = KvNative.load(lib);
        if (KvNative.mappedLibsnapshots().size() != 1) {
            out.println("error: two libsnapshot copies " + KvNative.mappedLibsnapshots());
            Runtime.getRuntime().halt(3);
        }
        long epoch = r.getLong(0);
        out.println("open " + epoch);
        out.flush();
        long last = mode.equals("verify") ? Long.parseLong(args[5]) : Long.MAX_VALUE;
        KvNative.JavaSide java = KvNative.of(r);
        Pointer base = new Pointer(r.address());
        for (long k = epoch + 1; k <= last; k++) {
            KvNative.epoch(kv, java, base, seed, k);
            try {
                r.msync();
            } catch (SnapshotException e) {
                if (!mode.equals("verify")) {
                    throw e;
                }
                out.println("verify-error " + e.codeName() + " at " + k);
                out.flush();
                Runtime.getRuntime().halt(0);
            }
            out.println("ack " + k);
            out.flush();
        }
        r.close();
        out.println("verified " + last);
        out.flush();
        Runtime.getRuntime().halt(0);
    }
}
