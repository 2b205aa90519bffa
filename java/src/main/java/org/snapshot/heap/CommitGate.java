// CommitGate — keeps commits out of half-done heap operations, and lets concurrent commits share one.
package org.snapshot.heap;

import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * msync commits every line written so far, whichever thread wrote it; racing stores of two lines
 * may be committed one without the other. So a commit must never run while a heap (or map)
 * operation is half done: operations hold the shared side ({@link #enter()}, reentrant; operations
 * on different size classes still run in parallel), a commit holds the exclusive side for the
 * length of its msync. Commits requested while one runs are served together (group commit): a
 * caller takes a ticket; a leader commits for every ticket issued before its msync began; the
 * others wait for it. A caller's writes come before its ticket, the ticket before the leader's
 * msync, so each caller returns only once its own writes are durable.
 */
final class CommitGate {
    private final ReentrantReadWriteLock rw = new ReentrantReadWriteLock();
    private final Object monitor = new Object();
    private long issued; // tickets handed out (under monitor)
    private long done;   // every ticket <= done is committed
    private boolean leading;

    void enter() {
        rw.readLock().lock();
    }

    void leave() {
        rw.readLock().unlock();
    }

    /** Run {@code action} with no operation in flight (verify, summary). */
    <T> T exclusive(java.util.function.Supplier<T> action) {
        rw.writeLock().lock();
        try {
            return action.get();
        } finally {
            rw.writeLock().unlock();
        }
    }

    /** Commit through {@code msync}, sharing it with concurrent callers. */
    void commit(Runnable msync) {
        long ticket;
        synchronized (monitor) {
            ticket = ++issued;
        }
        long upTo;
        synchronized (monitor) {
            while (leading && done < ticket) {
                try {
                    monitor.wait();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted while waiting for a commit", e);
                }
            }
            if (done >= ticket) {
                return; // a leader's msync covered this ticket
            }
            leading = true;
            upTo = issued;
        }
        boolean ok = false;
        try {
            exclusive(() -> {
                msync.run();
                return null;
            });
            ok = true;
        } finally {
            synchronized (monitor) {
                leading = false;
                if (ok) {
                    done = Math.max(done, upTo);
                }
                monitor.notifyAll(); // after a failure, a waiter leads and commits in turn
            }
        }
    }
}
