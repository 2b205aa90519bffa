/* backend.h — the one small interface behind which every persistence primitive sits.
 *
 * A back end owns two media files, the data file and the sidecar log, and offers on each: size,
 * resize, read, write (volatile until the next barrier), barrier (everything written to that file is
 * durable), and filling the DRAM copy. The commit protocol (commit.c) and recovery (recovery.c) are
 * written only against these calls, so the same protocol runs on persistent memory, on ordinary
 * files and in the power-loss simulator.
 *
 * Contract of every back end:
 *   - write(f, off, buf, len) with off + len <= size(f); bytes may reach the media in any order, in
 *     any subset of 64-byte lines, until barrier(f) returns 0;
 *   - barrier(f) returning 0 means all writes and resizes of f before it are durable. A back end may
 *     make more durable than asked (pmem_drain is global); the protocol never relies on less;
 *   - resize(f, n) changes the file's size; new bytes read as zero; durable at the next barrier(f);
 *   - every call returns 0 or a negative code (-errno, SNAP_E_*); none aborts.
 */
#ifndef SNAPSHOT_BACKEND_H
#define SNAPSHOT_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "snapshot.h"

enum snap_media_file { SNAP_DATA = 0, SNAP_LOG = 1 };

struct snap_backend;

struct snap_backend_ops {
    int (*size)(struct snap_backend *b, int f, uint64_t *out);
    int (*resize)(struct snap_backend *b, int f, uint64_t new_size);
    int (*read)(struct snap_backend *b, int f, uint64_t off, void *buf, size_t len);
    int (*write)(struct snap_backend *b, int f, uint64_t off, const void *buf, size_t len);
    int (*barrier)(struct snap_backend *b, int f);
    /* Fill the DRAM copy: make [addr, addr+len) (page-aligned, inside the reserved arena) hold the
     * data file's bytes [off, off+len) as private, writable memory: stores to it never reach the
     * media. `huge`: the region asked for huge pages. Called by copy.c only, which has the helpers
     * (the file back ends: snap_copy_fill_file()). */
    int (*map_private)(struct snap_backend *b, void *addr, uint64_t off, size_t len, int huge);
    /* Optional hint (NULL: none): a write of [off, off+len) of f follows soon; start what it would
     * wait for (address translation, line fills) now. Never fails, never changes the media. */
    void (*prefetch)(struct snap_backend *b, int f, uint64_t off, size_t len);
    /* Optional (NULL: nothing to reserve, writes cannot fault for want of space): make a later
     * write of [off, off+len) of f (inside its size) unable to fail or fault for want of space,
     * by allocating the file system blocks it will fill (space.h). Changes no byte of f as read
     * (the file back end also writes zeros into holes of L past off+len, so that the next
     * records' fdatasync finds their blocks written: file.c, prewrite_log). 0, or -ENOSPC,
     * -EDQUOT, -EIO ... The commit protocol calls it before its commit point (commit.c, step 4b),
     * so that a full file system fails an msync with nothing committed. */
    int (*reserve)(struct snap_backend *b, int f, uint64_t off, size_t len);
    /* Optional (NULL: every byte may be data): in *out, the first offset >= off of f that may hold
     * a non-zero byte, or f's size if none (SEEK_DATA): lets a scan of the log skip its holes. */
    int (*next_data)(struct snap_backend *b, int f, uint64_t off, uint64_t *out);
    /* Optional hint (NULL: none): memory is tight and the data file's pages will be written at
     * random places (an evictable copy, budget.h): read no more of it than a write needs and
     * keep no view of it mapped. Never fails, never changes the media. */
    void (*random_access)(struct snap_backend *b);
    void (*close)(struct snap_backend *b);
};

struct snap_identity;

struct snap_backend {
    const struct snap_backend_ops *ops;
    enum snap_backend_kind kind;
    /* The identity hook: which data file the two media files are (identity.h), so that recovery
     * can tell whether the log is this data file's, and bind it. Set by snap_open() over real
     * files, for the time of recovery; NULL for the simulator (no file identities: the log is the
     * data file's by construction) and for read-only looks. Not owned by the back end. */
    struct snap_identity *identity;
#ifdef SNAPSHOT_TESTKIT
    /* Fault injection (see snap_backend_inject_fault()). fail_after counts down the calls of kind
     * fail_op still to succeed, plus one: it stays at 1 once the failing call is reached. fail_op
     * SNAP_FAULT_NONE = off. */
    int fail_op;       /* one of SNAP_FAULT_* */
    int fail_err;
    uint64_t fail_after;
#endif
};

/* The power-loss simulator's kind (sim.h): a back end of the test kit only, not in snapshot.h. */
#define SNAP_BACKEND_SIM ((enum snap_backend_kind)(SNAP_BACKEND_EMULATED_PMEM + 1))

enum { SNAP_FAULT_NONE = 0, SNAP_FAULT_WRITE, SNAP_FAULT_BARRIER, SNAP_FAULT_RESIZE, SNAP_FAULT_READ };

#ifdef SNAPSHOT_TESTKIT
/* Arm fault injection on b (test kit only; not thread-safe with calls on b). Counting the calls of
 * kind `op` made through the snap_be_* wrappers from now on, starting at 1, the after-th one and
 * every later one return `err` (-EIO if err is 0) without reaching the back end, so a failed flush
 * stays failed. Calls of other kinds are neither counted nor failed. after == 0 or
 * op == SNAP_FAULT_NONE disarms; arming again replaces the previous fault and restarts the count.
 * Example: (SNAP_FAULT_BARRIER, 1, -EIO) fails the very next barrier. */
void snap_backend_inject_fault(struct snap_backend *b, int op, uint64_t after, int err);

/* Called by the wrappers before a call of kind `op`: 0, or the injected error for this call. */
int snap_backend_fault_check(struct snap_backend *b, int op);
#else
/* Release objects: no fault injection, and the wrappers' checks fold away. */
static inline int snap_backend_fault_check(struct snap_backend *b, int op)
{
    return 0;
}
#endif

static inline int snap_be_size(struct snap_backend *b, int f, uint64_t *out)
{
    return b->ops->size(b, f, out);
}
static inline int snap_be_resize(struct snap_backend *b, int f, uint64_t n)
{
    int e = snap_backend_fault_check(b, SNAP_FAULT_RESIZE);
    return e ? e : b->ops->resize(b, f, n);
}
static inline int snap_be_read(struct snap_backend *b, int f, uint64_t off, void *buf, size_t len)
{
    int e = snap_backend_fault_check(b, SNAP_FAULT_READ);
    return e ? e : b->ops->read(b, f, off, buf, len);
}
static inline int snap_be_write(struct snap_backend *b, int f, uint64_t off, const void *buf,
                                size_t len)
{
    int e = snap_backend_fault_check(b, SNAP_FAULT_WRITE);
    return e ? e : b->ops->write(b, f, off, buf, len);
}
static inline int snap_be_barrier(struct snap_backend *b, int f)
{
    int e = snap_backend_fault_check(b, SNAP_FAULT_BARRIER);
    return e ? e : b->ops->barrier(b, f);
}
static inline int snap_be_map_private(struct snap_backend *b, void *addr, uint64_t off, size_t len,
                                      int huge)
{
    return b->ops->map_private(b, addr, off, len, huge);
}
static inline int snap_be_reserve(struct snap_backend *b, int f, uint64_t off, size_t len)
{
    return b->ops->reserve ? b->ops->reserve(b, f, off, len) : 0;
}
static inline void snap_be_prefetch(struct snap_backend *b, int f, uint64_t off, size_t len)
{
    if (b->ops->prefetch)
        b->ops->prefetch(b, f, off, len);
}
static inline int snap_be_next_data(struct snap_backend *b, int f, uint64_t off, uint64_t *out)
{
    *out = off;
    return b->ops->next_data ? b->ops->next_data(b, f, off, out) : 0;
}

static inline void snap_be_random_access(struct snap_backend *b)
{
    if (b->ops->random_access)
        b->ops->random_access(b);
}

static inline void snap_be_close(struct snap_backend *b)
{
    if (b)
        b->ops->close(b);
}

/* Helpers shared by the back ends over real files (backend.c). */

/* Change fd's size from old_size to new_size. With `prealloc`, an extension allocates its blocks
 * (fallocate) so that stores through a shared mapping cannot fault with SIGBUS on a full disk: the
 * ENOSPC comes here instead, and the file keeps old_size (a partial extension is cut back). Falls
 * back to ftruncate where fallocate is unsupported. */
int snap_backend_fd_resize(int fd, uint64_t old_size, uint64_t new_size, int prealloc);

/* next_data for a file of `size` bytes: lseek(SEEK_DATA) from off; size if only holes follow; off
 * itself where the file system cannot tell. */
int snap_backend_fd_next_data(int fd, uint64_t off, uint64_t size, uint64_t *out);

/* Constructors. On success they own nothing the caller passed except as stated. */

/* Ordinary files: log written with pwrite, data applied through a shared mapping (with pwrite on
 * file systems not known to overwrite in place: space.h), fdatasync as the barrier; reserve
 * allocates the data file's blocks (space.h) and writes the log's ahead of its records. Takes
 * ownership of both fds (closes them in close(), and on failure). */
int snap_backend_file_open(int data_fd, int log_fd, struct snap_backend **out);
/* How file_open's back ends apply to the data file: by file system (space.h), or as the test-kit
 * knob snap_file_apply_pwrite says (testkit.h). */

/* Persistent memory through libpmem: both files mapped with pmem_map_file(), writes are
 * pmem_memcpy_nodrain(), the barrier pmem_drain(). `pmem` says what if libpmem does not report the
 * mapping as persistent memory: SNAP_PMEM_REQUIRE fails with SNAP_E_UNSUPPORTED, SNAP_PMEM_EMULATE
 * treats it as PM all the same (SNAP_BACKEND_EMULATED_PMEM), SNAP_PMEM_AS_IS uses memcpy and
 * fdatasync as the barrier. Takes ownership of the fds (also on failure). */
enum { SNAP_PMEM_AS_IS = 0, SNAP_PMEM_REQUIRE, SNAP_PMEM_EMULATE };
int snap_backend_pmem_open(int data_fd, int log_fd, int pmem, struct snap_backend **out);

/* libpmem's view of the data file: 1 if persistent memory (or PMEM_IS_PMEM_FORCE=1), 0 if not,
 * -errno if the file cannot be examined. An empty file is probed with a one-page mapping. */
int snap_backend_pmem_detect(int data_fd);

#ifdef SNAPSHOT_TESTKIT
/* Power-loss simulator (sim.h, test kit only): the files named `path` and `path`.snaplog inside
 * `sim`. A missing data file is created empty if `create`, else -ENOENT; a missing log is always
 * created empty (size 0 = "no log yet"). The back end refers to `sim`, which must outlive it. */
struct snap_sim;
int snap_backend_sim_open(struct snap_sim *sim, const char *path, int create,
                          struct snap_backend **out);
#endif

int snap_backend_readonly_open(int data_fd, int log_fd, struct snap_backend **out);

#endif /* SNAPSHOT_BACKEND_H */
