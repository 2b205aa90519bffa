/* region.c — a region's life: opening (files, lock, back end, recovery, arena), growing, tracking,
 * statistics and closing. The commit protocol itself is in commit.c. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "identity.h"
#include "region.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14; older headers lack the name */
#endif

static uint64_t page_round(uint64_t n)
{
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    return (n + page - 1) & ~(page - 1);
}

int snap_region_check(const struct snap_region *r)
{
    if (!r || r->magic != SNAP_REGION_MAGIC)
        return SNAP_E_INVAL;
    if (__atomic_load_n(&r->state, __ATOMIC_ACQUIRE) == SNAP_STATE_CLOSED)
        return SNAP_E_CLOSED;
    return 0;
}

/* ---- Files ------------------------------------------------------------------------------------ */

static int fsync_parent_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return -ENOMEM;
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (dfd < 0)
        return -errno;
    int rc = fsync(dfd) ? -errno : 0;
    close(dfd);
    return rc;
}

/* Open the sidecar without ever following a symlink; create it with the data file's permissions if
 * it is missing and `may_create` (else SNAP_E_MISMATCH: identity.h). Lock it as the data file is
 * locked: two data files never use one log at once (a log found through a data file's xattr could
 * be another file's canonical sidecar). */
static int open_log(const char *log_path, mode_t mode, int may_create, int *created)
{
    *created = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = open(log_path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && !may_create)
            return SNAP_E_MISMATCH; /* the data file's log is not there */
        if (fd < 0 && errno == ENOENT) {
            fd = open(log_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
            if (fd < 0 && errno == EEXIST)
                continue; /* lost a race with another creator: open theirs */
            if (fd >= 0) {
                *created = 1;
                if (fchmod(fd, mode)) { /* umask must not narrow the copy of the data file's mode */
                    int e = -errno;
                    close(fd);
                    return e;
                }
            }
        }
        if (fd < 0)
            return errno == ELOOP ? SNAP_E_SYMLINK : -errno;
        struct stat st;
        if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
            close(fd);
            return SNAP_E_NOTFILE;
        }
        if (flock(fd, LOCK_EX | LOCK_NB)) {
            int e = errno == EWOULDBLOCK ? SNAP_E_LOCKED : -errno;
            close(fd);
            return e;
        }
        return fd;
    }
    return -EEXIST;
}

/* The identity hook lives for the time of recovery (prepare()); then it is dropped. */
static void drop_identity(struct snap_backend *be)
{
    if (be && be->identity) {
        snap_identity_free(be->identity);
        free(be->identity);
        be->identity = NULL;
    }
}

/* Open, lock and check the data file and its log, and build the back end over them, with the data
 * file's identity (identity.h) attached for recovery. */
static int open_backend(const char *path, const snap_options *o, struct snap_backend **be,
                        int *lock_fd)
{
    *be = NULL;
    *lock_fd = -1;
    if (o->backend == SNAP_BACKEND_SIM) {
        if (!o->sim)
            return SNAP_E_INVAL;
        return snap_backend_sim_open(o->sim, path, !!(o->flags & SNAP_CREATE), be);
    }
    int oflags = O_RDWR | O_CLOEXEC;
    if (o->flags & SNAP_CREATE)
        oflags |= O_CREAT | ((o->flags & SNAP_EXCL) ? O_EXCL : 0);
    int dfd = open(path, oflags, o->mode ? o->mode : 0644);
    if (dfd < 0)
        return errno == EISDIR ? SNAP_E_NOTFILE : -errno;
    int rc, lfd = -1, created = 0;
    struct snap_identity *id = NULL;
    struct stat st;
    if (fstat(dfd, &st)) {
        rc = -errno;
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = SNAP_E_NOTFILE;
        goto fail;
    }
    if (flock(dfd, LOCK_EX | LOCK_NB)) {
        rc = errno == EWOULDBLOCK ? SNAP_E_LOCKED : -errno;
        goto fail;
    }
    /* The log is found from the data file, not from the name it was opened by. */
    if (!(id = malloc(sizeof *id))) {
        rc = -ENOMEM;
        goto fail;
    }
    if ((rc = snap_identity_init(id, dfd, path)) != 0 || (rc = snap_identity_locate(id)) != 0)
        goto fail;
    lfd = open_log(id->log_path, st.st_mode & 07777, !snap_identity_may_create(id), &created);
    if (lfd < 0) {
        rc = lfd;
        goto fail;
    }
    if (created && (rc = fsync_parent_dir(id->log_path)) != 0)
        goto fail;
    int data_dup = dup(dfd); /* the back end owns its fds; dfd keeps the lock */
    if (data_dup < 0) {
        rc = -errno;
        goto fail;
    }
    enum snap_backend_kind kind = o->backend;
    if (kind == SNAP_BACKEND_AUTO)
        kind = snap_backend_pmem_detect(dfd) == 1 ? SNAP_BACKEND_PMEM : SNAP_BACKEND_FILE;
    if (kind == SNAP_BACKEND_PMEM)
        rc = snap_backend_pmem_open(data_dup, lfd, 1, be);
    else if (kind == SNAP_BACKEND_FILE)
        rc = snap_backend_file_open(data_dup, lfd, be);
    else
        rc = SNAP_E_INVAL;
    lfd = -1; /* owned by the back end now, or closed by it on failure */
    if (rc)
        goto fail;
    (*be)->identity = id;
    *lock_fd = dfd;
    return 0;
fail:
    if (lfd >= 0)
        close(lfd);
    if (created && id)
        unlink(id->log_path); /* nothing can be in a log we just created */
    if (id) {
        snap_identity_free(id);
        free(id);
    }
    close(dfd);
    return rc;
}

/* Give a new, empty data file its size, then recover (or create the log). *fresh (if not NULL) is
 * set when the data file was empty, so that all its bytes are zeros. */
static int prepare(struct snap_backend *be, const snap_options *o, struct snap_recovery *rec,
                   int *fresh)
{
    uint64_t dsize, lsize;
    int rc = snap_be_size(be, SNAP_DATA, &dsize);
    if (!rc)
        rc = snap_be_size(be, SNAP_LOG, &lsize);
    if (rc)
        return rc;
    if (dsize == 0 && lsize == 0) {
        if (!o->size)
            return SNAP_E_INVAL; /* an empty file and no size to give it */
        if ((rc = snap_be_resize(be, SNAP_DATA, o->size)) != 0)
            return rc;
        if (fresh)
            *fresh = 1;
    }
    uint64_t cap = o->log_capacity ? o->log_capacity : SNAP_LOG_DEFAULT_CAPACITY;
    cap = (cap + SNAP_REC_ALIGN - 1) & ~(uint64_t)(SNAP_REC_ALIGN - 1);
    if (cap < 4096)
        cap = 4096;
    rc = snap_recovery_run(be, cap, rec);
    if (rc)
        return rc;
    if (rec->size == 0)
        return SNAP_E_INVAL;
    if (o->size && o->size != rec->size)
        return SNAP_E_SIZE;
    return 0;
}

/* ---- Populating (SNAP_POPULATE) --------------------------------------------------------------- */

int snap_populate_touch_only;

/* Fault [addr, addr+len) of the DRAM copy in for writing, so that no first store to a page faults.
 * The caller runs it before the range is inside the region's published size: no other thread
 * stores there yet, so the fallback may write a byte's own value back. Those are the library's own
 * plain stores, not the hook's, so nothing is marked. A hint: a kernel that cannot (ENOMEM, ...)
 * leaves the pages to fault as usual. */
static void populate(void *addr, size_t len)
{
    if (len == 0)
        return;
    if (!snap_populate_touch_only) {
        int rc, tries = 0;
        do /* EAGAIN: a page was briefly busy; pages already done cost little the second time */
            rc = madvise(addr, len, MADV_POPULATE_WRITE);
        while (rc && (errno == EAGAIN || errno == EINTR) && ++tries < 8);
        if (rc == 0 || errno != EINVAL)
            return;
    }
    /* EINVAL: a kernel before 5.14. volatile: the compiler must keep a store of the same value. */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    volatile uint8_t *p = addr;
    for (size_t off = 0; off < len; off += page)
        p[off] = p[off];
}

/* Give the DRAM copy [off, off+len) its bytes: the back end's private copy of the data file, or,
 * where the file is known to hold only zeros (a new region, the part a grow adds), fresh anonymous
 * memory. The two read the same; the anonymous one spares the first store to each page a fault
 * that reads the file's page (allocating it, on tmpfs) and copies it. */
static int map_copy(struct snap_region *r, uint64_t off, uint64_t len, int zeros)
{
    void *addr = (uint8_t *)r->base + off;
    return zeros ? snap_backend_map_anon(addr, len) : snap_be_map_private(r->be, addr, off, len);
}

/* ---- Handles ---------------------------------------------------------------------------------- */

/* Closed handles are kept (and freed in order) so that a use after close is reported, not a crash. */
#define GRAVEYARD_SIZE 1024
static struct snap_region *graveyard[GRAVEYARD_SIZE];
static unsigned graveyard_next;
static pthread_mutex_t graveyard_mu = PTHREAD_MUTEX_INITIALIZER;

void snap_region_bury(struct snap_region *r)
{
    pthread_mutex_lock(&graveyard_mu);
    free(graveyard[graveyard_next]);
    graveyard[graveyard_next] = r;
    graveyard_next = (graveyard_next + 1) % GRAVEYARD_SIZE;
    pthread_mutex_unlock(&graveyard_mu);
}

static const snap_options default_options;

int snap_recover(const char *path, const snap_options *opts)
{
    if (!path)
        return SNAP_E_INVAL;
    const snap_options *o = opts ? opts : &default_options;
    struct snap_backend *be;
    int lock_fd;
    int rc = open_backend(path, o, &be, &lock_fd);
    if (rc)
        return rc;
    struct snap_recovery rec;
    rc = prepare(be, o, &rec, NULL);
    drop_identity(be);
    snap_be_close(be);
    if (lock_fd >= 0)
        close(lock_fd);
    return rc;
}

int snap_open(const char *path, const snap_options *opts, snap_region **out)
{
    if (!out)
        return SNAP_E_INVAL;
    *out = NULL;
    if (!path || !*path)
        return SNAP_E_INVAL;
    const snap_options *o = opts ? opts : &default_options;
    if (o->flags & ~(SNAP_CREATE | SNAP_EXCL | SNAP_NO_CONCURRENT_WRITERS | SNAP_POPULATE) ||
        (unsigned)o->backend > SNAP_BACKEND_SIM)
        return SNAP_E_INVAL;

    struct snap_region *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->magic = SNAP_REGION_MAGIC;
    r->flags = o->flags;
    r->lock_fd = -1;
    int rc = snap_commit_init(r);
    if (rc) {
        free(r);
        return rc;
    }
    struct snap_recovery rec;
    int fresh = 0;
    rc = open_backend(path, o, &r->be, &r->lock_fd);
    if (!rc)
        rc = prepare(r->be, o, &rec, &fresh);
    drop_identity(r->be);
    if (rc)
        goto fail_files;

    r->size = rec.size;
    r->committed_size = rec.size;
    r->log = rec.log;
    r->next_epoch = rec.log.base_epoch;
    r->st_recovered = rec.replayed;
    uint64_t want = o->max_size > rec.size ? o->max_size : rec.size;
    r->reserve = snap_arena_round(want);
    r->max_size = o->max_size ? want : r->reserve;
    rc = snap_arena_alloc(r, r->reserve, &r->base);
    if (rc)
        goto fail_files;
    rc = snap_dirty_init(&r->dirty, r->reserve >> SNAP_LINE_SHIFT);
    if (rc)
        goto fail_arena;
    r->mapped = page_round(rec.size);
    rc = map_copy(r, 0, r->mapped, fresh);
    if (rc)
        goto fail_dirty;
    if (o->flags & SNAP_POPULATE)
        populate((void *)r->base, r->mapped); /* before the region is published or handed out */
    const char *v = getenv("SNAPSHOT_VERIFY");
    r->verify = v && *v && strcmp(v, "0") != 0;
    snap_arena_publish(r->base, r->reserve, r->size, r->dirty.level[0]);
    *out = r;
    return 0;

fail_dirty:
    snap_dirty_destroy(&r->dirty);
fail_arena:
    snap_arena_free(r->base, r->reserve);
fail_files:
    snap_be_close(r->be);
    if (r->lock_fd >= 0)
        close(r->lock_fd);
    snap_commit_destroy(r);
    free(r);
    return rc;
}

void snap_region_free_memory(struct snap_region *r)
{
    snap_arena_free(r->base, r->reserve);
    snap_dirty_destroy(&r->dirty);
}

int snap_region_close(struct snap_region *r, void (*dispose_memory)(struct snap_region *r))
{
    int rc = 0;
    /* Flush applied records and empty the log, so the next open has nothing to replay. Skipped in
     * PANIC: nothing may be written after a failure (invariant 8); the next open recovers. */
    if (r->state == SNAP_STATE_OPEN && r->log_off > 0)
        rc = snap_checkpoint(r);
    __atomic_store_n(&r->state, SNAP_STATE_CLOSED, __ATOMIC_RELEASE);
    dispose_memory(r);
    snap_be_close(r->be);
    r->be = NULL;
    if (r->lock_fd >= 0)
        close(r->lock_fd);
    r->lock_fd = -1;
    snap_commit_destroy(r);
    return rc;
}

int snap_close(snap_region *r)
{
    int rc = snap_region_check(r);
    if (rc)
        return rc;
    rc = snap_region_close(r, snap_region_free_memory);
    snap_region_bury(r);
    return rc;
}

void *snap_base(const snap_region *r)
{
    return snap_region_check(r) ? NULL : (void *)r->base;
}

uint64_t snap_size(const snap_region *r)
{
    return snap_region_check(r) ? 0 : snap_region_size(r);
}

int snap_grow(snap_region *r, uint64_t new_size)
{
    int rc = snap_region_check(r);
    if (rc)
        return rc;
    pthread_mutex_lock(&r->mu);
    while (r->leader_active) /* the leader reads the size and the mapping */
        pthread_cond_wait(&r->cv, &r->mu);
    uint64_t old = r->size;
    if (r->state != SNAP_STATE_OPEN)
        rc = r->state == SNAP_STATE_PANIC ? SNAP_E_PANIC : SNAP_E_CLOSED;
    else if (new_size < old)
        rc = SNAP_E_INVAL;
    else if (new_size > r->max_size)
        rc = SNAP_E_NOSPACE;
    else if (new_size > old) {
        rc = snap_be_resize(r->be, SNAP_DATA, new_size); /* invariant 7 */
        uint64_t mapped = page_round(new_size);
        if (!rc && mapped > r->mapped) {
            rc = map_copy(r, r->mapped, mapped - r->mapped, 1); /* the file's new bytes: zeros */
            if (!rc && (r->flags & SNAP_POPULATE)) /* before the new size is published */
                populate((uint8_t *)r->base + r->mapped, mapped - r->mapped);
            if (!rc)
                r->mapped = mapped;
        }
        if (!rc) {
            __atomic_store_n(&r->size, new_size, __ATOMIC_RELEASE);
            snap_arena_set_size(r->base, r->reserve, new_size);
        }
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* ---- Tracking --------------------------------------------------------------------------------- */

static void mark_bytes(struct snap_region *r, uint64_t off, uint64_t len)
{
    uint64_t first = off >> SNAP_LINE_SHIFT, last = (off + len - 1) >> SNAP_LINE_SHIFT;
    snap_dirty_mark(&r->dirty, first, last - first + 1);
}

int snap_track_offset(snap_region *r, uint64_t offset, size_t len)
{
    int rc = snap_region_check(r);
    if (rc)
        return rc;
    uint64_t size = snap_region_size(r);
    if (offset > size || len > size - offset)
        return SNAP_E_RANGE;
    if (len)
        mark_bytes(r, offset, len);
    return 0;
}

int snap_track(snap_region *r, const void *addr, size_t len)
{
    int rc = snap_region_check(r);
    if (rc)
        return rc;
    if ((uintptr_t)addr < r->base)
        return SNAP_E_RANGE;
    return snap_track_offset(r, (uintptr_t)addr - r->base, len);
}

void snap_track_slow(const void *addr, size_t len)
{
    struct snap_region *r = snap_arena_lookup((uintptr_t)addr);
    if (!r || !len)
        return;
    uint64_t off = (uintptr_t)addr - r->base, size = snap_region_size(r);
    if (off >= size)
        return;
    mark_bytes(r, off, len < size - off ? len : size - off);
}

/* ---- Statistics ------------------------------------------------------------------------------- */

int snap_stats_get(const snap_region *r, snap_stats *out)
{
    int rc = snap_region_check(r);
    if (rc)
        return rc;
    if (!out)
        return SNAP_E_INVAL;
#define LOAD(x) __atomic_load_n(&r->x, __ATOMIC_RELAXED)
    *out = (snap_stats){
        .size = snap_region_size(r),
        .epoch = LOAD(next_epoch) - 1,
        .msyncs = LOAD(st_msyncs),
        .commits = LOAD(st_commits),
        .lines_committed = LOAD(st_lines),
        .bytes_committed = LOAD(st_bytes),
        .log_bytes = LOAD(st_log_bytes),
        .checkpoints = LOAD(st_checkpoints),
        .commit_ns = LOAD(st_commit_ns),
        .recovered_records = r->st_recovered,
        .backend = r->be->kind,
    };
#undef LOAD
    return 0;
}
