// FullFsChild — the scenario of FullFileSystemTest, in a JVM of its own: a SIGBUS in native code (or
// the InternalError a faulting putLong becomes) must show as a failed test, not a dead test JVM.
package org.snapshot;

import java.io.IOException;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * {@code DIR BACKEND created|adopted}: a 1 MiB region in DIR (a small, otherwise empty file
 * system), created by {@link PersistentRegion#create} or adopted from a sparse file (one page of
 * data, the rest a hole). Commits once, fills the file system, then: a store into a page that
 * has its blocks commits; a store into every page (holes, for the adopted file) either commits or
 * throws a {@link SnapshotException} with ENOSPC, and the region is not in panic (the next
 * msync throws ENOSPC again); with room again, msync commits everything, and a reopen holds it.
 * Prints "ok ..." and exits 0, or dies of the first failed check.
 */
public final class FullFsChild {
    static final int SIZE = 1 << 20;
    static final int PAGE = 4096;
    static final int ENOSPC = -28;

    static void check(boolean ok, String what) {
        if (!ok) {
            throw new AssertionError(what);
        }
    }

    /** msync; the code of the SnapshotException it threw (ENOSPC only), or 0. */
    static int msync(PersistentRegion r, String round) {
        try {
            r.msync();
            System.out.println(round + ": committed");
            return 0;
        } catch (SnapshotException e) {
            System.out.println(round + ": " + e.getClass().getSimpleName() + " " + e.codeName());
            check(!(e instanceof RegionPanicException), round + ": " + e.getMessage());
            check(e.code() == ENOSPC, round + ": wanted ENOSPC: " + e.getMessage());
            return e.code();
        }
    }

    static void fill(Path filler) throws IOException {
        byte[] buf = new byte[1 << 20];
        try (FileChannel ch = FileChannel.open(filler, StandardOpenOption.CREATE,
                StandardOpenOption.WRITE, StandardOpenOption.APPEND);
                OutputStream out = java.nio.channels.Channels.newOutputStream(ch)) {
            for (int round = 0; round < 2; round++) {
                for (int piece = buf.length; piece > 0; piece /= 2) {
                    try {
                        for (;;) {
                            out.write(buf, 0, piece);
                        }
                    } catch (IOException full) {
                        // smaller pieces next
                    }
                }
                try {
                    ch.force(true); // ext4: delayed allocations become blocks; what they freed, next
                } catch (IOException ignored) {
                    // a flush error on a full file system: the filler is only ballast
                }
            }
        }
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        Backend backend = Backend.valueOf(args[1]);
        boolean adopted = args[2].equals("adopted");
        Path p = dir.resolve("r.db");
        Options o = Options.defaults().backend(backend).logCapacity(256 << 10);
        PersistentRegion r;
        if (adopted) {
            try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
                byte[] first = new byte[PAGE];
                for (int i = 0; i < PAGE; i++) {
                    first[i] = (byte) (i * 7 + 3);
                }
                f.write(first);
                f.setLength(SIZE); // the rest: one hole
                f.getFD().sync();
            }
            r = PersistentRegion.open(p, o);
        } else {
            r = PersistentRegion.create(p, SIZE, o);
        }
        r.putLong(3000, 1);
        r.msync();

        Path filler = dir.resolve("filler");
        fill(filler);
        r.putLong(3200, 2); // page 0 has its blocks, the log room for a small record
        check(msync(r, "page 0") == 0, "a store into blocks that exist must commit");
        for (long page = 0; page < SIZE / PAGE; page++) {
            r.putLong(page * PAGE + 8, page + 3); // into holes of the adopted file
        }
        int every = msync(r, "every page");
        r.putLong(3500, 4);
        int next = msync(r, "page 0 again"); // PM: runs the deferred apply of "every page"
        check(!adopted || every == ENOSPC, "the adopted file's holes need blocks: wanted ENOSPC");
        check(every == 0 || next == ENOSPC, "still full, the same stores: wanted ENOSPC");

        Files.delete(filler);
        new ProcessBuilder("sync").inheritIO().start().waitFor(); // ext4 frees at the next commit
        r.msync();
        r.close();

        try (PersistentRegion again = PersistentRegion.open(p, Options.defaults().backend(backend))) {
            check(again.getLong(3000) == 1 && again.getLong(3200) == 2 && again.getLong(3500) == 4,
                    "page 0's commits after reopen");
            for (long page = 0; page < SIZE / PAGE; page++) {
                check(again.getLong(page * PAGE + 8) == page + 3, "page " + page + " after reopen");
            }
            check(!adopted || again.getByte(100) == (byte) (100 * 7 + 3), "the adopted data");
        }
        System.out.println("ok " + (every == 0 ? "committed on the full file system" : "ENOSPC, then committed"));
    }
}
