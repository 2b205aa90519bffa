/* snapshot.h — failure-atomic msync for memory-mapped files: the public contract of libsnapshot.
 *
 * A *region* is a DRAM working copy of a file (the *data file*), placed inside one reserved virtual
 * range of the process (the *arena*). The program reads and writes the region with ordinary loads
 * and stores; every store must be *tracked* (by the clang plugin, by snap_track(), or by the Java
 * accessors), which marks the 64-byte lines it touched. snap_msync() makes the tracked lines durable
 * atomically: after a crash at any instant, reopening the region yields exactly the state of the last
 * snap_msync() that returned 0 — or of the one in flight, if its log record had committed — never a
 * mix of two, never a torn line. Stores not followed by a successful snap_msync() are discarded by a
 * crash and by snap_close().
 *
 * Files. The data file holds the user's bytes and nothing else (existing mmap formats keep working).
 * Beside it, "<name>.snaplog" (the *sidecar log*) holds redo records; it is created with the data
 * file's owner, group and read/write permissions (mode & 0666, whatever the umask: never setuid,
 * setgid or executable), opened with O_NOFOLLOW and never followed through a symlink. An existing
 * sidecar with another owner than the data file's, or with other hard links, is refused with
 * -EPERM (it could be a file planted by another user, or a link to someone's file); so is creating
 * one where the caller cannot give it the data file's owner (a user other than the owner and not
 * root: let the owner open the region first). <name> is the
 * data file's, not the link's: opened through a symlink, the log beside the target is used. The
 * data file is flock()ed for as long as the region is open, so a second opener (through any name),
 * in this or another process, gets SNAP_E_LOCKED instead of a corrupted region.
 *
 * Identity. A log belongs to one data file, and is replayed onto no other. The pair is bound by the
 * log's random id: the log's header holds it, with the data file's device, inode and birth time;
 * the data file holds it in the extended attribute "user.snapshot.log", with where the log is
 * (native/src/identity.h has the rules). So:
 *   - any name of the data file (symlink, hard link, a rename of the data file alone) opens the same
 *     log; after a rename the log is moved beside the new name. Without user xattrs (a file system
 *     that has none: the inode alone binds) that holds for symlinks, and for hard links and renames
 *     within the data file's directory; a data file renamed alone into another directory there has
 *     no way back to its log and is adopted as it is (rename both files);
 *   - copying or restoring both files works. With a tool that keeps xattrs (cp -a,
 *     cp --preserve=xattr, rsync -X, tar --xattrs) the copy opens as the original would, replaying
 *     what its log holds. Without them (plain cp) the copy cannot be told from another file beside
 *     that log: it opens if the log has nothing to replay (a region closed cleanly: its bytes are the
 *     committed state), and otherwise fails with SNAP_E_MISMATCH until `snapshot rebind FILE`
 *     accepts the log;
 *   - a log that is not the data file's is never replayed: a stale log beside a new file of the same
 *     name, another region's log copied in its place. The open fails with SNAP_E_MISMATCH and changes nothing (neither file's bytes nor size), except
 *     that a log proven to hold nothing to replay beside a data file without the xattr is taken over
 *     (its bytes and size are then the committed state; the log gets a new id);
 *   - a data file whose xattr names a log that is not there (deleted, or the data file copied
 *     without it) fails with SNAP_E_MISMATCH: that log could hold committed records the data file
 *     lacks. `snapshot rebind FILE` accepts the data file's bytes as they are.
 * A log written by a version of the library before identities is trusted by its name, as it was
 * then, and bound at its first open (one it put beside a symlink is not looked for: move it beside
 * the target first). Not detected: the two files of a pair taken from different times or copies (an
 * old backup of its own log, the log of a `cp -a` copy of the region put beside the original):
 * restore both files from one backup.
 *
 * Errors. Every call that can fail returns 0 or a negative code: one of the SNAP_E_* codes below, or
 * -errno for an operating-system error (e.g. -ENOENT, -EACCES, -ENOSPC). snap_strerror() names both.
 * Nothing in the library aborts the process on bad input.
 *
 * Verification mode. With SNAPSHOT_VERIFY=1 in the environment, every snap_msync() (also one with
 * nothing to commit) compares the DRAM copy with the data file afterwards and returns SNAP_E_VERIFY,
 * naming the first differing line on stderr, if a line differs that is not marked dirty: a store
 * that was never tracked. It reads the whole region each time (a debugging aid) and assumes no
 * store runs concurrently with the msync (a store not yet marked would be reported).
 *
 * Memory. By default the DRAM copy is a copy-on-write mapping of the data file: opening reads
 * nothing, a page costs memory of its own only once stored to, and pages only read stay the file's
 * reclaimable page cache. Where the file holds only zeros (a region snap_open() just created, the
 * part snap_grow() adds) the copy is fresh anonymous memory instead: the same zeros, without the
 * file read and page copy of a first store. With SNAP_HUGEPAGES (an open flag; SNAPSHOT_HUGEPAGES=1
 * or =0 in the environment at snap_open() overrides it), the copy is instead anonymous memory with
 * transparent huge pages (MADV_HUGEPAGE),
 * and so is the dirty bitmap of a region up to 16 GiB (less with under 32 GiB of memory): fewer
 * TLB misses and page faults for random access to a large region, at a price. snap_open() reads
 * the file's data (not its holes: a sparse file still opens at once) into memory, which stays
 * resident (it can only be swapped, not dropped) for as long as the region is open; a file whose
 * data exceeds half of physical memory keeps the mapping. A store into a never-written part of a
 * region up to half of physical memory makes 2 MiB resident, not 4 KiB. Whether it pays depends
 * on the machine (at SNAP_HUGEPAGES; native/src/copy.h). SNAP_POPULATE makes the whole
 * copy resident at open without them, in 4 KiB pages.
 *
 * Budget. A region whose size (rounded up to pages) exceeds its budget (snap_options.budget) at
 * snap_open() gets an *evictable* copy instead, so that a region larger than memory works: pages
 * come in on first access, read from the data file by a handler thread the region owns
 * (userfaultfd: the access waits in the kernel, tens of microseconds, plus the read), and the
 * snap_msync() that finds more than the budget resident gives back pages whose bytes equal the
 * data file's (committed and applied), oldest filled first. A store racing with the release of its
 * page is never lost: the page is write-protected while it is compared (native/src/budget.c). Only
 * committed pages can go: stores not yet committed stay resident, so commit often enough. Pages
 * read count too, and go first. Huge pages and SNAP_POPULATE do not apply to an evictable copy. A
 * region opened within its budget becomes evictable when snap_grow() takes it past: a region
 * created whole (whose copy is anonymous memory) entirely, a reopened one for the part grown
 * (the copy of the file it opened with stays, neither counted nor evicted). The
 * budget needs userfaultfd with kernel faults (root, CAP_SYS_PTRACE,
 * vm.unprivileged_userfaultfd=1, or access to /dev/userfaultfd): without it snap_open() fails with
 * SNAP_E_UNSUPPORTED if a budget was asked for (the option or SNAPSHOT_BUDGET), and the default
 * budget is not enforced (snap_stats.evictable says which). A forked child gets no copy of an
 * evictable region: its memory is not mapped in the child. A page that cannot be read back from
 * the data file (an I/O error) raises SIGBUS where it is accessed, as in a mapped file (Linux 6.6
 * and later; before, the access waits until the read succeeds). snap_stats reports the budget, the
 * resident bytes, evictions and re-faults.
 *
 * Sticky failure. If writing or flushing the media fails during a commit, the region enters the
 * *panic* state: that snap_msync() returns the error and every later snap_msync()/snap_grow() returns
 * SNAP_E_PANIC. A failed fsync cannot be retried safely (the kernel may have dropped the dirty
 * pages), so the only way forward is snap_close() (which then returns that error) and reopening,
 * which recovers from the log.
 *
 * Transient failure. A commit that fails before anything was made durable, for want of memory or
 * space rather than through the media, leaves the region open instead: -ENOMEM (the commit's
 * buffers, or membarrier(2)), SNAP_E_NOMEMBARRIER, and -ENOSPC or -EDQUOT growing the log or
 * writing the record to it (before its flush). That snap_msync() returns the error; the stores it
 * would have committed stay marked, and a later snap_msync() (once memory or space is back)
 * commits them. The failed call counts as one that may have committed (a record write that ran out
 * of space may have left some of the record in the log): a crash before the next successful
 * snap_msync() recovers the state before it or, if its record happened to reach the media whole,
 * the state as of the failed call (never a mix). A failed flush (fsync,
 * pmem_drain), -EIO and any other write error are media failures: panic.
 *
 * Full file system (or quota). Running out of space is an error, never a signal (SIGBUS from a
 * store into a mapping whose page the file system cannot allocate). Before its commit point,
 * snap_msync() reserves the blocks its record needs in the log and the blocks of the data file it
 * will write (fallocate(2); native/src/backend/space.h). Without room it returns -ENOSPC (or
 * -EDQUOT) with nothing committed: the stores stay marked and the region stays open, not in
 * panic, so a later snap_msync() commits them once there is room (and meanwhile an msync whose
 * lines all have their blocks, with room in the log, commits as usual). snap_grow() and
 * snap_open() return -ENOSPC too; a failed snap_open(SNAP_CREATE) leaves no file behind. The DRAM
 * copy never needs the file system's space: on tmpfs (and any file system not known to read holes
 * without allocating them), where a fault on a hole of a file allocates a page even to read it,
 * the copy maps the data file's holes as anonymous memory (past 1024 data extents in one mapping,
 * it allocates the rest's holes at open instead: -ENOSPC there, not a signal later).
 * Cost: nothing for a region snap_open() created (its data file is preallocated) or an adopted
 * file without holes; an adopted file with holes gets each 64 KiB piece allocated by the first
 * commit that writes into it (one fallocate; nothing at open, so a sparse multi-GiB file stays
 * sparse except where it is written; at most 64 KiB more than written, per piece). A write that
 * fails after the commit point anyway (an I/O error; -ENOSPC on a file system that needs new
 * space even to overwrite, like btrfs, where the file back end therefore writes the data file
 * with pwrite(2) rather than stores) puts the region in the panic state with that error although
 * the record committed: as after a crash during the call, the next open replays it.
 *
 * Damage. Records carry CRC-32C checksums, and the log an apply mark: the last record that may
 * have reached the data file. Damage to the log's headers, to any record but the last, or cutting
 * the log short, is reported by the next open (SNAP_E_CORRUPT, nothing changed). Damage to the
 * last record cannot be told from a write torn by a crash, and is recovered as one: the state
 * before that msync (it is lost; never a mix, since that record is not in the data file yet).
 * Damage to the data file itself is not detected: it carries no checksums.
 *
 * Thread-safety, in one place:
 *   - stores into a region and snap_track()/snap_hook_store() may run on any number of threads,
 *     concurrently with each other and with snap_msync();
 *   - snap_msync() may be called by several threads at once (group commit, see below);
 *   - snap_grow() may run concurrently with snap_msync() and with stores below the old size;
 *   - snap_close() must not run concurrently with any other call on the same region, nor with stores
 *     into it; after it returns the region's memory is gone (a store faults) and every call on the
 *     handle returns SNAP_E_CLOSED.
 *   - different regions are independent.
 *
 * Processes. A region belongs to the process that opened it. After fork(), in the child:
 *   - every call on a region the parent had open returns SNAP_E_FORKED and writes nothing to its
 *     files: snap_msync(), snap_grow(), snap_track(), snap_track_offset(), snap_stats_get();
 *     snap_close() releases the child's copy (its memory and descriptors), writes nothing, returns
 *     SNAP_E_FORKED, and leaves the handle closed in the child (later calls: SNAP_E_CLOSED). The
 *     parent's region is not affected by anything the child does;
 *   - the child's copy of the memory stays readable and writable (snap_base() and snap_size() still
 *     answer): stores into it, tracked or not (the hook, Java), change the child's private copy only
 *     and can never be committed. A child that wants to persist must open a region itself (not the
 *     parent's while the parent has it open: SNAP_E_LOCKED); regions it opens are its own, and
 *     SNAP_E_FORKED again in its children;
 *   - the child never holds the parent's lock: fork() returns in the parent only once the child has
 *     closed its copy of every open region's lock descriptor, and the data file is mapped through a
 *     descriptor other than the one holding the lock (on Linux without /proc mounted it cannot be,
 *     and a forked child's mappings then keep the lock until it exits or execs). A fork() racing
 *     with snap_open() in another thread waits for that open's files to be opened and locked;
 *   - every descriptor the library opens is close-on-exec, so a child that calls exec (or a
 *     process started with posix_spawn()) holds nothing of any region.
 * Detection uses a pthread_atfork() handler and costs no system call per call. A child created
 * without the fork handlers (a raw clone(2) without CLONE_VM) is not detected: it must not call
 * the library on the parent's regions. vfork() and posix_spawn() children that only exec are fine.
 */
#ifndef SNAPSHOT_H
#define SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SNAP_VERSION_MAJOR 0
#define SNAP_VERSION_MINOR 1

/* The sidecar log is named the data file's name + this ("Files" above). */
#define SNAP_LOG_SUFFIX ".snaplog"

/* ---- Error codes ----------------------------------------------------------------------------------
 * One contiguous block, well below any -errno value. snap_strerror(code) returns a message for every
 * one of them and for -errno values, snap_strerrorname(code) its name; both read the one table in
 * errors.c. A new code goes before SNAP_E_LAST (moved to it) with its row in errors.c. */
enum snap_error {
    SNAP_OK = 0,
    SNAP_E_FIRST = -30100,
    SNAP_E_INVAL = SNAP_E_FIRST, /* bad argument: NULL pointer, zero size, unknown flag */
    SNAP_E_CLOSED,               /* the region was closed: use after close */
    SNAP_E_LOCKED,               /* another handle (this or another process) has the file open */
    SNAP_E_CORRUPT,              /* the log is damaged beyond a torn tail: a committed record other
                                    than the last (or one the apply mark covers) or both log headers
                                    fail their checksum, or the log is cut short ("Damage" above).
                                    Nothing was changed; inspect with `snapshot verify` before
                                    deciding what to do */
    SNAP_E_BADMAGIC,             /* the sidecar is not a Snapshot log */
    SNAP_E_VERSION,              /* the log was written by an incompatible version of the format */
    SNAP_E_SIZE,                 /* the size asked for differs from the region's committed size */
    SNAP_E_TRUNCATED,            /* the data file is shorter than its committed size: it was truncated
                                    outside Snapshot; committed bytes are missing */
    SNAP_E_RANGE,                /* address or offset outside the region */
    SNAP_E_SYMLINK,              /* the sidecar log is a symbolic link; refusing to follow it */
    SNAP_E_PANIC,                /* an earlier media write or flush failed; the region refuses commits
                                    (close and reopen to recover) */
    SNAP_E_NOSPACE,              /* the arena or the region's reservation has no room (see max_size
                                    and SNAPSHOT_ARENA_SIZE) */
    SNAP_E_UNSUPPORTED,          /* the back end asked for cannot be used here (e.g. SNAP_BACKEND_PMEM
                                    on a file that is not persistent memory) */
    SNAP_E_VERIFY,               /* verification mode (SNAPSHOT_VERIFY=1) found a DRAM line that
                                    differs from the media after a commit: an untracked store */
    SNAP_E_NOTFILE,              /* the data file is not a regular file */
    SNAP_E_NOMEMBARRIER,         /* membarrier(2) cannot be used in this process (a kernel without
                                    it, or a seccomp filter that denies it), so a store racing with
                                    snap_msync() could be lost: open with
                                    SNAP_NO_CONCURRENT_WRITERS */
    SNAP_E_FORKED,               /* called in a child process: a region belongs to the process that
                                    opened it, and a forked child cannot use it */
    SNAP_E_MISMATCH,             /* the sidecar log belongs to another data file (or the data file
                                    to another log): nothing was replayed or changed */
    SNAP_E_LAST = SNAP_E_MISMATCH
};

/* Message for any code this library returns (SNAP_E_*, -errno, 0). Never NULL; thread-safe. */
const char *snap_strerror(int err);

/* Name of a code: "SNAP_E_CORRUPT" for SNAP_E_CORRUPT, the errno's name ("ENOSPC") for -ENOSPC,
 * "SNAP_OK" for 0, "unknown" for anything else. Never NULL; a static string; thread-safe. */
const char *snap_strerrorname(int err);

/* ---- Opening ------------------------------------------------------------------------------------ */

/* Where the data lives, and so how it is made durable. */
enum snap_backend_kind {
    SNAP_BACKEND_AUTO = 0, /* PMEM if libpmem says the mapped file is persistent memory, else FILE */
    SNAP_BACKEND_FILE,     /* ordinary file: pwrite to the log, fdatasync as the barrier */
    SNAP_BACKEND_PMEM,     /* byte-addressable media through libpmem: non-temporal copies, drain.
                              SNAP_E_UNSUPPORTED where libpmem says the file is not PM */
    SNAP_BACKEND_EMULATED_PMEM /* PMEM's code on a file that is not PM (a file on /dev/shm), as
                              PMEM_IS_PMEM_FORCE=1 in the environment does for every region:
                              durable only as far as the file's page cache is, so for tests and
                              benchmarks. Reported as SNAP_BACKEND_PMEM by snap_stats_get() */
};

/* Flags for snap_options.flags. */
#define SNAP_CREATE 0x1u        /* create the data file if it does not exist (needs size > 0),
                                   atomically: see snap_open() */
#define SNAP_EXCL 0x2u          /* with SNAP_CREATE: fail with -EEXIST if the data file exists */
#define SNAP_NO_CONCURRENT_WRITERS 0x4u
/* Promise that no store into the region runs concurrently with snap_msync() (one writer thread, or
 * writers that finish before the msync under a lock). snap_msync() then skips the process-wide memory
 * barrier (membarrier(2)) it otherwise issues so that a store racing with it cannot be lost; see
 * "Concurrent writers" at snap_msync(). Breaking the promise can lose racing stores. It is also the
 * way to open a region where membarrier(2) is unavailable (SNAP_E_NOMEMBARRIER). */
#define SNAP_POPULATE 0x8u
/* Fault the whole DRAM copy in for writing at snap_open() (and the part snap_grow() adds, there),
 * instead of page by page at first access: madvise(MADV_POPULATE_WRITE) (Linux 5.14), or, where the
 * kernel refuses that advice (EINVAL), one byte per page read and written back before the memory is
 * handed out. It changes no semantics: the bytes stay the same, nothing is marked, and an msync right
 * after the open commits nothing. Cost: memory = the region's size, resident until snap_close()
 * (every page becomes a private copy, on top of the file's page cache, holes included), and the time
 * to copy that much at open (about 0.4 s for 1.2 GB on /dev/shm; a snap_grow() holds the commit lock
 * for as long). In exchange no first store faults: by default the copy is a private mapping of the
 * file (see "Memory"), and the first read and the first write of a page fault separately. Use it for
 * a region that will be written all over right after open (a benchmark's reopen, a bulk rewrite);
 * not for a read-mostly or sparse one. With SNAP_HUGEPAGES the copy's data is already read in at
 * open, and this adds only the holes. A hint: if the kernel cannot populate (e.g. ENOMEM),
 * snap_open() succeeds all the same and pages fault as usual. */
#define SNAP_HUGEPAGES 0x10u
/* Put the DRAM copy, and the dirty bitmap of a region up to 16 GiB, on transparent huge pages
 * (MADV_HUGEPAGE; see "Memory"): the copy becomes anonymous memory into which snap_open() reads the
 * file's data (not its holes), unless that data exceeds half of physical memory. Gain: 2 MiB TLB
 * entries and 512 times fewer first-touch faults, for random stores all over a large region.
 * Cost: the file's data is read at open and stays resident (swappable, not droppable) until
 * snap_close(); a store into a never-written part makes 2 MiB resident, not 4 KiB; THP's defrag
 * setting may make such a fault compact memory; in a virtual machine that reports free pages to
 * its host, every fresh huge page may cost host faults (on this project's VM that made loading a
 * 1 GB store slower than the TLB saved). Use it for a large region written at random, on a machine
 * where it measures faster (docs/ARCHITECTURE.md, "Huge pages"); not for a sparse or small one.
 * SNAPSHOT_HUGEPAGES=1 in the environment at snap_open() turns it on and =0 off, whatever the
 * flag says (other values: the flag decides). Advice only: without THP the copy keeps 4 KiB pages. */

typedef struct snap_options {
    uint32_t flags;            /* SNAP_CREATE, SNAP_EXCL, SNAP_NO_CONCURRENT_WRITERS, SNAP_POPULATE,
                                  SNAP_HUGEPAGES */
    enum snap_backend_kind backend; /* SNAP_BACKEND_AUTO if zero */
    uint64_t size;             /* bytes. 0: take the committed size of an existing region. Non-zero:
                                  must equal it (else SNAP_E_SIZE), or sets the size of a new or empty
                                  data file. At most 2^63-1 (else SNAP_E_INVAL) */
    uint64_t max_size;         /* how far snap_grow() may go without moving the region. 0: size
                                  rounded up to 1 GiB. Only virtual address space is reserved. At
                                  most 2^63-1 (else SNAP_E_INVAL); beyond the arena SNAP_E_NOSPACE */
    uint64_t log_capacity;     /* bytes of log between checkpoints, for a new log; 0: 64 MiB, but
                                  on the PM back end (whose log is preallocated) twice the region's
                                  size, at least 64 KiB and at most 64 MiB. At most 2^40 (else
                                  SNAP_E_INVAL). The log grows past it when a single commit needs
                                  more */
    mode_t mode;               /* permissions of a created data file; 0: 0644. The log copies the
                                  data file's read/write permissions (see "Files") */
    uint64_t budget;           /* bytes of the DRAM copy that may stay resident (see "Memory");
                                  0: the default, a quarter of the smaller of physical memory and
                                  the memory limit of the process's cgroup (v1 or v2) and its
                                  ancestors; SNAP_BUDGET_NONE: no limit. The environment variable
                                  SNAPSHOT_BUDGET (bytes, with an optional k, m or g suffix, or
                                  "none") overrides it */
} snap_options;

#define SNAP_BUDGET_NONE UINT64_MAX

typedef struct snap_region snap_region;

/* Open (or create) the region backed by the data file `path`, run recovery if the sidecar log holds
 * committed records that were not yet applied, and map the DRAM copy into the arena.
 * `opts` may be NULL (defaults: existing file, size from the file, AUTO back end).
 * The log is found from the data file, whatever name `path` is (see "Files" and "Identity" above),
 * and used only if it is the data file's. A data file without a log (and without an xattr naming
 * one) is adopted as it is: its current bytes are the committed state, and a log bound to it is
 * created. On success *out is a new handle; on failure *out is NULL and nothing committed has been
 * changed.
 * Creating (SNAP_CREATE, no data file yet) is atomic: the data file is made without a name
 * (O_TMPFILE), given its size (preallocated zeros) and only then linked under `path`, and the log
 * is made after it (native/src/create.c). A kill or crash at any instant leaves either no data
 * file or one of the full size holding zeros, with or without a log: a valid region, which the
 * next open adopts. A create that fails (e.g. -ENOSPC sizing the data file or the log) leaves no
 * file behind. (Where the file system lacks O_TMPFILE a kill can leave a hidden temporary file,
 * ".<name>.snapnew-<random>", that nothing reads.) An existing empty data file with no log still
 * needs a size (SNAP_E_INVAL without one); with one it is sized, as before.
 * Errors: SNAP_E_INVAL, SNAP_E_LOCKED, SNAP_E_CORRUPT, SNAP_E_BADMAGIC, SNAP_E_VERSION, SNAP_E_SIZE,
 *   SNAP_E_TRUNCATED, SNAP_E_SYMLINK, SNAP_E_NOSPACE, SNAP_E_UNSUPPORTED, SNAP_E_NOTFILE,
 *   SNAP_E_MISMATCH (the log found is not the data file's, or the data file's log is not there:
 *   "Identity" above; nothing replayed or changed; a region created beside a log that is not its
 *   own and has records too: the create then leaves no data file, and the log as it was),
 *   SNAP_E_NOMEMBARRIER (without SNAP_NO_CONCURRENT_WRITERS, where membarrier(2) cannot be used:
 *   see "Concurrent writers" at snap_msync(); checked before any file is opened, so none is
 *   created or locked), -errno (-ENOENT without SNAP_CREATE, -EEXIST with SNAP_EXCL, -EACCES,
 *   -EPERM for a sidecar of another owner or with other hard links (see "Files"), -ENOSPC,
 *   -EIO ...).
 * Thread-safe (opening different files from different threads). */
int snap_open(const char *path, const snap_options *opts, snap_region **out);

/* Run recovery on a region's files and close them again, without mapping anything: what snap_open()
 * does first. Used by `snapshot recover`. Same errors as snap_open() but SNAP_E_NOMEMBARRIER. */
int snap_recover(const char *path, const snap_options *opts);

/* Close the region: release the DRAM copy, the mappings, the lock and the files. Stores since the
 * last successful snap_msync() are discarded. Committed records not yet applied to the data file are
 * applied and flushed first (a failure there loses nothing: the next open replays them).
 * Returns 0, the error of that final flush, in the panic state the error that caused it (nothing is
 * written then; the next open recovers from the log), or SNAP_E_CLOSED if already closed. In a
 * forked child, on a region of the parent: SNAP_E_FORKED, having released the child's copy only
 * (see "Processes"). The handle's memory stays valid, in the closed state, so later calls get
 * SNAP_E_CLOSED rather than undefined behaviour (the library keeps the last 1024 closed handles;
 * older ones are freed).
 * Not thread-safe with respect to other calls on the same region. */
int snap_close(snap_region *r);

/* First byte of the DRAM copy (inside the arena), or NULL if r is NULL or closed. Stable for the
 * region's lifetime, also across snap_grow(). In a forked child, the child's copy. Thread-safe. */
void *snap_base(const snap_region *r);

/* Current size in bytes (grows with snap_grow()), or 0 if r is NULL or closed. Thread-safe. */
uint64_t snap_size(const snap_region *r);

/* ---- Tracking ----------------------------------------------------------------------------------- */

/* Mark [addr, addr+len) as modified, for stores the plugin cannot see (inline assembly, libraries
 * built without the plugin, read(2) into the region). Call it *after* the store.
 * Errors: SNAP_E_RANGE if the range is not inside the region (nothing is marked), SNAP_E_CLOSED,
 * SNAP_E_INVAL (r NULL), SNAP_E_FORKED (see "Processes"). len 0 succeeds. Thread-safe, lock-free. */
int snap_track(snap_region *r, const void *addr, size_t len);

/* Same, by offset from snap_base(). Errors as snap_track(). Thread-safe, lock-free. */
int snap_track_offset(snap_region *r, uint64_t offset, size_t len);

/* The store hook used by the clang plugin and usable by hand: mark [addr, addr+len) in whatever region
 * contains addr; does nothing if addr is outside the arena. Its fast path is inline, in
 * snapshot_hook.h (included below): a store outside the arena costs one compare; a store to an
 * already-marked line a load and a test. Never fails; bytes past the end of a region are ignored. */
void snap_track_slow(const void *addr, size_t len);

/* ---- Committing --------------------------------------------------------------------------------- */

/* Make every tracked store durable, atomically.
 * On return 0, the region's state as of the call is durable: a crash from now on recovers it (or a
 * later committed state). On a crash *during* the call, recovery yields either the previous committed
 * state or this one, never a mix.
 * How: the dirty lines are gathered into one redo record, appended to the sidecar log, and made
 * durable with one barrier (pmem_drain or fdatasync) — the commit point; the record is then applied
 * to the data file once a later record is durable (by the next msync on files, the one after on
 * persistent memory, or the next checkpoint), whose flush is deferred to the next checkpoint. So
 * while the region is open the data file lags the last record or two; the log holds them. An
 * error of such an apply is returned by the msync or the close that runs it. See
 * native/src/commit.c.
 *
 * Concurrent writers. Which stores an msync commits:
 *   - every store whose tracking returned before the call: the calling thread's own, and another
 *     thread's whose tracking returned before something that happens-before the call (a lock it
 *     released afterwards, a join, a release store it made afterwards that the caller acquired).
 *     Tracking runs *after* its store, so a store that itself publishes (a release store into the
 *     region that the caller acquires) may not be tracked yet: it counts as racing, below;
 *   - a store racing with the call (another thread, no ordering) is committed by this msync or by the
 *     next one: the line is either copied after the store became visible, or marked again after this
 *     msync cleared it. Nothing is lost. Racing stores to the *same line* as the copy may be committed
 *     in part by this msync and completely by the next.
 *   To keep the first promise, the call waits for markings that another thread has begun (a few
 *   instructions each, unless that thread is descheduled, stopped or, in a JVM, held at a
 *   safepoint in the middle of one; native/src/dirty_map.h).
 *   This holds because, between clearing the dirty bits and copying the lines, msync issues
 *   membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) (MEMBARRIER_CMD_GLOBAL, much slower, where the
 *   kernel lacks the former): the store hook tests an already-set bit with a plain load, which the
 *   CPU may order before the preceding store; the barrier closes that window, and nothing else can
 *   from the committing side. So where membarrier(2) is unavailable (a kernel without it, or a
 *   seccomp filter that denies it, as some container profiles do), snap_open() without
 *   SNAP_NO_CONCURRENT_WRITERS fails with SNAP_E_NOMEMBARRIER (checked once per process, at the
 *   first such open); with the flag, the barrier is skipped and never needed.
 *
 * Group commit. Several threads may call snap_msync() at once. One of them (the leader) gathers the
 * lines of all of them and issues one barrier; each caller returns only when a commit that started
 * after its call began is durable, so its own stores are durable when it returns. On a slow device,
 * when other threads have been committing too, the leader waits for them a little (at most a
 * quarter of the last commit's time, and never with SNAP_NO_CONCURRENT_WRITERS) so that they share
 * its barrier (docs/ARCHITECTURE.md, "Group commit").
 *
 * Errors: SNAP_E_CLOSED; SNAP_E_FORKED (see "Processes"); SNAP_E_PANIC (an earlier failure);
 *   -EIO, ... from the media (a failed write or flush), after which the region is in the panic
 *   state (sticky: see "Sticky failure"); transient, the region staying open and the stores marked
 *   for the next call (see "Transient failure"): -ENOMEM, -ENOSPC or -EDQUOT before the flush
 *   (-ENOSPC or -EDQUOT when the file system has no room for this commit: see "Full file
 *   system"), and SNAP_E_NOMEMBARRIER (or -ENOMEM) if the membarrier failed although it worked at
 *   open (e.g. a seccomp filter installed since: nothing was written; it keeps failing while the
 *   filter denies it, so close and reopen with SNAP_NO_CONCURRENT_WRITERS); SNAP_E_VERIFY in
 *   verification mode (the commit itself succeeded). With group commit each caller returns its
 *   own result: after a transient failure of the leader, the callers it would have covered commit
 *   in turn. Thread-safe. */
int snap_msync(snap_region *r);

/* Grow the region to new_size bytes (> current size, <= max_size given at open). The data file is
 * extended now; the new bytes read as zero; the new size commits atomically with the next
 * snap_msync() — a crash before that recovers the old size. snap_base() does not move.
 * Errors: SNAP_E_INVAL (new_size smaller than the size), SNAP_E_NOSPACE (beyond max_size),
 * SNAP_E_CLOSED, SNAP_E_PANIC, SNAP_E_FORKED, -errno (e.g. -ENOSPC extending the file: the file
 * and the region keep their size, and the region stays usable).
 * Thread-safe with snap_msync() and with stores below the old size. */
int snap_grow(snap_region *r, uint64_t new_size);

/* ---- Observing ---------------------------------------------------------------------------------- */

typedef struct snap_stats {
    uint64_t size;              /* current size in bytes */
    uint64_t epoch;             /* epoch of the last committed record (0: none yet). A recovery that
                                   finds the first record after a checkpoint torn skips its epoch;
                                   this then names the skipped one until the next commit */
    uint64_t msyncs;            /* snap_msync() calls that returned 0 */
    uint64_t commits;           /* records committed (<= msyncs: group commit, empty msyncs) */
    uint64_t lines_committed;   /* 64-byte lines written to the log */
    uint64_t bytes_committed;   /* payload bytes written to the log (lines_committed * 64 or less at
                                   the end of the region) */
    uint64_t log_bytes;         /* bytes written to the log, headers included */
    uint64_t checkpoints;       /* times the log was emptied after flushing the data file */
    uint64_t commit_ns;         /* wall time spent inside snap_msync(), in nanoseconds */
    uint64_t recovered_records; /* records replayed when this handle was opened */
    enum snap_backend_kind backend;  /* the back end in use (AUTO resolved) */
    uint64_t budget;            /* the copy's budget in bytes (SNAP_BUDGET_NONE: none) */
    uint64_t resident_bytes;    /* bytes of the copy privately resident now: counted when it is
                                   evictable, else read from the page table (costs a scan) */
    uint64_t evictions;         /* pages of the copy given back since the open */
    uint64_t refaults;          /* evicted pages brought back by an access */
    int evictable;              /* 1 if the copy exceeds its budget and pages leave it */
} snap_stats;

/* Fill *out. Errors: SNAP_E_INVAL, SNAP_E_CLOSED, SNAP_E_FORKED. Thread-safe (figures read without a lock may be a
 * few commits apart from each other). */
int snap_stats_get(const snap_region *r, snap_stats *out);

/* Name of a back end ("file", "pmem", "auto"). */
const char *snap_backend_name(enum snap_backend_kind b);

#ifdef __cplusplus
}
#endif

#include "snapshot_hook.h"

#endif /* SNAPSHOT_H */
