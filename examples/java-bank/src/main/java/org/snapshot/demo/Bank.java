// Bank — the demo: accounts moved by random transfers, one msync per transfer, killed at will.
package org.snapshot.demo;

import java.nio.file.Path;
import java.util.SplittableRandom;
import org.snapshot.Backend;
import org.snapshot.Options;
import org.snapshot.PersistentRegion;
import org.snapshot.RegionStats;

/**
 * A bank whose balances live in a {@link PersistentRegion}.
 *
 * <pre>
 *   java ... org.snapshot.demo.Bank run FILE     open (or create) the bank and transfer forever,
 *                                                printing the transfer count after each msync
 *   java ... org.snapshot.demo.Bank check FILE   reopen the bank (after a crash) and verify it;
 *                                                prints "TRANSFERS TOTAL RECOVERED_RECORDS"
 * </pre>
 *
 * A transfer takes {@code amount} from one account and gives it to another: two writes, and a third
 * that bumps the transfer counter. If a crash could keep one write and lose the other, money would
 * appear or vanish. With Snapshot, {@code msync()} makes all three durable together: whenever the
 * process is killed, the reopened bank holds exactly the state after some completed transfer, so
 * the total is always {@code ACCOUNTS * START_BALANCE}, and the counter is never below the last
 * one printed (printed only after msync returned). scripts/demo-java kills it and checks this.
 *
 * <p>Layout of the region (little-endian): {@code int magic, int accounts, long transfers,
 * long balance[ACCOUNTS]}.
 */
public final class Bank {
    static final int ACCOUNTS = 1000;
    static final long START_BALANCE = 1000;
    static final int MAGIC = 0x4b4e4142; // "BANK"
    static final long TRANSFERS = 8, BALANCES = 16, SIZE = BALANCES + 8L * ACCOUNTS;

    private Bank() {}

    static long balanceAt(int account) {
        return BALANCES + 8L * account;
    }

    /** Open the bank; a new one is funded in one atomic msync. */
    static PersistentRegion open(Path file, Backend backend) {
        // One thread writes, and never during msync: promising it lets msync skip a barrier.
        Options options = Options.defaults().backend(backend).noConcurrentWriters(true);
        PersistentRegion bank = PersistentRegion.create(file, SIZE, options);
        if (bank.getInt(0) != MAGIC) {
            for (int a = 0; a < ACCOUNTS; a++) {
                bank.putLong(balanceAt(a), START_BALANCE);
            }
            bank.putInt(4, ACCOUNTS);
            bank.putInt(0, MAGIC);
            bank.msync();
        }
        return bank;
    }

    static long total(PersistentRegion bank) {
        long t = 0;
        for (int a = 0; a < ACCOUNTS; a++) {
            t += bank.getLong(balanceAt(a));
        }
        return t;
    }

    static void run(Path file, Backend backend) {
        try (PersistentRegion bank = open(file, backend)) {
            SplittableRandom random = new SplittableRandom();
            for (;;) {
                int from = random.nextInt(ACCOUNTS), to = random.nextInt(ACCOUNTS);
                long amount = random.nextInt(100);
                bank.putLong(balanceAt(from), bank.getLong(balanceAt(from)) - amount);
                bank.putLong(balanceAt(to), bank.getLong(balanceAt(to)) + amount);
                long transfers = bank.getLong(TRANSFERS) + 1;
                bank.putLong(TRANSFERS, transfers);
                bank.msync(); // the three writes above: all durable, or (after a crash) none
                System.out.println(transfers);
                System.out.flush();
            }
        }
    }

    static int check(Path file, Backend backend) {
        try (PersistentRegion bank = open(file, backend)) {
            long total = total(bank);
            RegionStats stats = bank.stats();
            System.out.println(bank.getLong(TRANSFERS) + " " + total + " " + stats.recoveredRecords());
            return total == ACCOUNTS * START_BALANCE ? 0 : 3;
        }
    }

    public static void main(String[] args) {
        if (args.length < 2 || !(args[0].equals("run") || args[0].equals("check"))) {
            System.err.println("usage: Bank run FILE | Bank check FILE   "
                    + "(-Dsnapshot.backend=AUTO|FILE|PMEM|EMULATED_PMEM)");
            System.exit(2);
        }
        Path file = Path.of(args[1]);
        Backend backend = Backend.valueOf(System.getProperty("snapshot.backend", "AUTO"));
        if (args[0].equals("run")) {
            run(file, backend);
        } else {
            System.exit(check(file, backend));
        }
    }
}
