/* region.c — a region's life: opening (files, lock, back end, recovery, the DRAM copy), growing,
 * closing, and the graveyard of closed handles. The commit protocol is in commit.c, the copy in
 * copy.c, fork handling in process.c, tracking in track.c, statistics in stats.c. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "copy.h"
#include "create.h"
#include "identity.h"
#include "region.h"
#include "testkit.h"

/* ---- Files ------------------------------------------------------------------------------------ */

/* A new sidecar gets the data file's owner and group (root creating one for another user's file,
 * a group member creating one for a group-writable file), and its read and write bits: never
 * setuid, setgid, sticky or execute (record bodies are the region's bytes), whatever the umask.
 * Who cannot give it the owner gets -EPERM (an existing sidecar of another owner is refused, so
 * the owner must open the region first); who cannot give it the group drops the group bits. */
static int own_new_log(int fd, const struct stat *data)
{
    mode_t mode = data->st_mode & 0666;
    struct stat st;
    if (fstat(fd, &st))
        return -errno;
    if ((st.st_uid != data->st_uid || st.st_gid != data->st_gid) &&
        fchown(fd, data->st_uid, data->st_gid) != 0) {
        if (st.st_uid != data->st_uid)
            return -EPERM;
        if (fchown(fd, (uid_t)-1, data->st_gid) != 0)
            mode &= ~(mode_t)0070; /* another group's file: no access for that group */
    }
    return fchmod(fd, mode) ? -errno : 0; /* after fchown, which may clear bits */
}

/* Open the sidecar without ever following a symlink; create it with the data file's owner and
 * permissions (own_new_log()) if it is missing and `may_create` (else SNAP_E_MISMATCH:
 * identity.h). An existing sidecar must be a regular file (SNAP_E_NOTFILE) with no other hard link
 * and the data file's owner (-EPERM): otherwise it could be another file of someone's (a link to
 * it) or a log planted by another user, and the commit would write the region's bytes into it or
 * recovery replay it into the data file. Bits it should not have (setuid, setgid, sticky,
 * execute: from an older version) are dropped if we may. */
static int open_log(const char *log_path, const struct stat *data, int may_create, int *created)
{
    *created = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = open(log_path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && !may_create)
            return SNAP_E_MISMATCH; /* the data file's log is not there */
        if (fd < 0 && errno == ENOENT) {
            fd = open(log_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
            if (fd < 0 && errno == EEXIST)
                continue; /* lost a race with another creator: open theirs */
            if (fd >= 0) {
                *created = 1;
                int rc = own_new_log(fd, data);
                if (rc) {
                    close(fd);
                    return rc; /* the caller removes it */
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
        if (st.st_nlink != 1 || st.st_uid != data->st_uid) {
            close(fd);
            return -EPERM;
        }
        if (st.st_mode & 07111)
            (void)fchmod(fd, st.st_mode & 0666); /* best effort: refusing would strand the region */
        return fd;
    }
    return -EEXIST;
}

/* A descriptor of the data file dfd with an open file description of its own, so that no mapping
 * refers to the one holding the lock (process.c): reopened through /proc/self/fd and checked to
 * be the same file, or else a duplicate. */
static int reopen_data(int dfd, const struct stat *st)
{
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", dfd);
    int fd = open(proc, O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        struct stat again;
        if (fstat(fd, &again) == 0 && again.st_dev == st->st_dev && again.st_ino == st->st_ino)
            return fd;
        close(fd);
    }
    fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
    return fd < 0 ? -errno : fd;
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
 * file's identity (identity.h) attached for recovery. *created: what this call created
 * (SNAP_CREATED_DATA, SNAP_CREATED_LOG); on failure both are removed again (a log that was there
 * before, another life's, stays). Called inside snap_lock_list_enter() (process.c): the caller lists
 * *lock_fd before it lets go. With `sim` (test kit only: snap_open_sim()), the simulator's files
 * instead. */
static int open_backend(const char *path, const snap_options *o, struct snap_sim *sim,
                        struct snap_backend **be, int *lock_fd, int *created_out)
{
    *be = NULL;
    *lock_fd = -1;
    int data_created = 0;
    *created_out = 0;
#ifdef SNAPSHOT_TESTKIT
    if (sim)
        return snap_backend_sim_open(sim, path, !!(o->flags & SNAP_CREATE), be);
#endif
    int dfd = snap_data_open(path, o, &data_created); /* whole, or not there: create.c */
    if (dfd < 0)
        return dfd == -EISDIR ? SNAP_E_NOTFILE : dfd;
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
    lfd = open_log(id->log_path, &st, !snap_identity_may_create(id), &created);
    if (lfd < 0) {
        rc = lfd;
        goto fail;
    }
    if (created && (rc = snap_fsync_parent_dir(id->log_path)) != 0)
        goto fail;
    int data_dup = reopen_data(dfd, &st); /* the back end owns its fds; dfd keeps the lock */
    if (data_dup < 0) {
        rc = data_dup;
        goto fail;
    }
    enum snap_backend_kind kind = o->backend;
    if (kind == SNAP_BACKEND_AUTO)
        kind = snap_backend_pmem_detect(dfd) == 1 ? SNAP_BACKEND_PMEM : SNAP_BACKEND_FILE;
    if (kind == SNAP_BACKEND_PMEM || kind == SNAP_BACKEND_EMULATED_PMEM)
        rc = snap_backend_pmem_open(data_dup, lfd,
                                    kind == SNAP_BACKEND_PMEM ? SNAP_PMEM_REQUIRE : SNAP_PMEM_EMULATE, be);
    else if (kind == SNAP_BACKEND_FILE)
        rc = snap_backend_file_open(data_dup, lfd, be);
    else
        rc = SNAP_E_INVAL;
    lfd = -1; /* owned by the back end now, or closed by it on failure */
    if (rc)
        goto fail;
    (*be)->identity = id;
    *lock_fd = dfd;
    *created_out = (data_created ? SNAP_CREATED_DATA : 0) | (created ? SNAP_CREATED_LOG : 0);
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
    if (data_created)
        snap_data_discard(path, dfd, 0); /* a failed create leaves nothing; our log went above */
    close(dfd);
    return rc;
}

/* The record area of a new log when log_capacity is 0. 64 MiB, but on PM, whose log is
 * preallocated (stored to through a mapping: space.h), twice the region (at least
 * SNAP_LOG_MIN_CAPACITY): a small region then fits on a small file system. A record larger than
 * the area grows the log first (commit.c, step 4), so the size only sets how often the log is
 * emptied: with twice the region, a commit of the whole region still fits. */
static uint64_t default_log_capacity(const struct snap_backend *be, uint64_t data_size)
{
    if (be->kind != SNAP_BACKEND_PMEM || data_size >= SNAP_LOG_DEFAULT_CAPACITY / 2)
        return SNAP_LOG_DEFAULT_CAPACITY;
    return 2 * data_size > SNAP_LOG_MIN_CAPACITY ? 2 * data_size : SNAP_LOG_MIN_CAPACITY;
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
        dsize = o->size;
        if (fresh)
            *fresh = 1;
    }
    uint64_t cap = o->log_capacity ? o->log_capacity : default_log_capacity(be, dsize);
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

/* ---- Handles ---------------------------------------------------------------------------------- */

/* Closed handles are kept (and freed in order) so that a use after close is reported, not a crash. */
#define GRAVEYARD_SIZE 1024
static struct snap_region *graveyard[GRAVEYARD_SIZE];
static unsigned graveyard_next;
static pthread_mutex_t graveyard_mu = PTHREAD_MUTEX_INITIALIZER; /* held across fork: process.c */

void snap_graveyard_fork_lock(void)
{
    pthread_mutex_lock(&graveyard_mu);
}

void snap_graveyard_fork_unlock(void)
{
    pthread_mutex_unlock(&graveyard_mu);
}

void snap_region_bury(struct snap_region *r)
{
    pthread_mutex_lock(&graveyard_mu);
    free(graveyard[graveyard_next]);
    graveyard[graveyard_next] = r;
    graveyard_next = (graveyard_next + 1) % GRAVEYARD_SIZE;
    pthread_mutex_unlock(&graveyard_mu);
}

static const snap_options default_options;

/* The largest log_capacity accepted: beyond it an option is a mistake, not a wish (the log's
 * record area is a file's extent, and on PM preallocated). */
#define SNAP_LOG_MAX_CAPACITY (1ull << 40)

/* Checks of the options that need no file: bad ones are refused before anything is created. */
static int check_options(const snap_options *o)
{
    if (o->flags & ~(SNAP_CREATE | SNAP_EXCL | SNAP_NO_CONCURRENT_WRITERS | SNAP_POPULATE |
                     SNAP_HUGEPAGES) ||
        (unsigned)o->backend > SNAP_BACKEND_EMULATED_PMEM)
        return SNAP_E_INVAL;
    if (o->size > (uint64_t)INT64_MAX || o->max_size > (uint64_t)INT64_MAX || /* no file is */
        o->log_capacity > SNAP_LOG_MAX_CAPACITY)
        return SNAP_E_INVAL;
    return 0;
}

int snap_recover(const char *path, const snap_options *opts)
{
    if (!path)
        return SNAP_E_INVAL;
    const snap_options *o = opts ? opts : &default_options;
    struct snap_backend *be;
    int lock_fd = -1, created = 0;
    struct snap_lock_link link;
    snap_lock_link_init(&link, &lock_fd);
    int rc = check_options(o);
    if (!rc)
        rc = snap_process_init();
    if (rc)
        return rc;
    snap_lock_list_enter();
    rc = open_backend(path, o, NULL, &be, &lock_fd, &created);
    if (!rc)
        snap_lock_list_add(&link);
    snap_lock_list_leave();
    if (rc)
        return rc;
    struct snap_recovery rec;
    rc = prepare(be, o, &rec, NULL);
    drop_identity(be);
    snap_be_close(be);
    if (rc && (created & SNAP_CREATED_DATA))
        snap_data_discard(path, lock_fd, created & SNAP_CREATED_LOG);
    snap_lock_release(&link);
    return rc;
}

static int open_region(const char *path, const snap_options *opts, struct snap_sim *sim,
                       snap_region **out)
{
    if (!out)
        return SNAP_E_INVAL;
    *out = NULL;
    if (!path || !*path)
        return SNAP_E_INVAL;
    const snap_options *o = opts ? opts : &default_options;
    if (check_options(o))
        return SNAP_E_INVAL;

    struct snap_region *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->magic = SNAP_REGION_MAGIC;
    r->gen = snap_process_gen;
    r->flags = snap_copy_flags(o->flags); /* SNAPSHOT_HUGEPAGES overrides */
    r->lock_fd = -1;
    snap_lock_link_init(&r->lock_link, &r->lock_fd);
    int rc = snap_process_init();
    if (!rc)
        rc = snap_commit_init(r);
    if (rc) {
        free(r);
        return rc;
    }
    struct snap_recovery rec;
    int fresh = 0, created = 0;
    snap_lock_list_enter();
    rc = open_backend(path, o, sim, &r->be, &r->lock_fd, &created);
    if (!rc)
        snap_lock_list_add(&r->lock_link);
    snap_lock_list_leave();
    if (!rc)
        rc = prepare(r->be, o, &rec, &fresh);
    fresh |= created & SNAP_CREATED_DATA; /* created whole (create.c): zeros */
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
    rc = snap_copy_reserve(r);
    if (rc)
        goto fail_files;
    rc = snap_budget_init(r, o->budget, rec.size, r->lock_fd);
    if (rc)
        goto fail_copy;
    rc = snap_dirty_init(&r->dirty, r->reserve >> SNAP_LINE_SHIFT,
                         (r->flags & SNAP_HUGEPAGES) != 0);
    if (rc)
        goto fail_copy;
    rc = snap_copy_fill(r, rec.size, fresh);
    if (rc)
        goto fail_copy;
    const char *v = getenv("SNAPSHOT_VERIFY");
    r->verify = v && *v && strcmp(v, "0") != 0;
    snap_arena_publish(r->base, r->reserve, r->size, r->dirty.level[0]);
    *out = r;
    return 0;

fail_copy:
    snap_copy_release(r); /* the slots, and the bitmaps if there are any */
fail_files:
    snap_be_close(r->be);
    if (created & SNAP_CREATED_DATA) /* a failed create leaves nothing */
        snap_data_discard(path, r->lock_fd, created & SNAP_CREATED_LOG);
    snap_lock_release(&r->lock_link);
    snap_commit_destroy(r);
    free(r);
    return rc;
}

int snap_open(const char *path, const snap_options *opts, snap_region **out)
{
    return open_region(path, opts, NULL, out);
}

#ifdef SNAPSHOT_TESTKIT
int snap_open_sim(const char *path, const snap_options *opts, struct snap_sim *sim,
                  snap_region **out)
{
    if (!sim) {
        if (out)
            *out = NULL;
        return SNAP_E_INVAL;
    }
    return open_region(path, opts, sim, out);
}
#endif

/* Close the parent's region in a forked child (process.c): the child's copy of the memory and of
 * the back end's descriptors and mappings goes (closing them writes nothing); the lock descriptor
 * was closed at fork. The mutex and condition variables are left as they are: a thread of the
 * parent may have held or waited on them at fork, and destroying them could wait forever. */
static int close_forked(struct snap_region *r, void (*dispose_memory)(struct snap_region *r))
{
    __atomic_store_n(&r->state, SNAP_STATE_CLOSED, __ATOMIC_RELEASE);
    dispose_memory(r);
    snap_be_close(r->be);
    r->be = NULL;
    snap_lock_release(&r->lock_link);
    snap_commit_free_scratch(r);
    return SNAP_E_FORKED;
}

int snap_region_close(struct snap_region *r, void (*dispose_memory)(struct snap_region *r))
{
    if (r->gen != __atomic_load_n(&snap_process_gen, __ATOMIC_RELAXED))
        return close_forked(r, dispose_memory);
    snap_budget_quiesce(r); /* the handler no longer evicts */
    int rc = 0;
    /* Flush applied records and empty the log, so the next open has nothing to replay. Skipped in
     * PANIC: nothing may be written after a failure (invariant 8); the next open recovers, and
     * the close reports the failure that caused the panic. */
    if (r->state == SNAP_STATE_OPEN && r->log_off > 0)
        rc = snap_checkpoint(r);
    else if (r->state == SNAP_STATE_PANIC)
        rc = r->panic_err;
    __atomic_store_n(&r->state, SNAP_STATE_CLOSED, __ATOMIC_RELEASE);
    dispose_memory(r);
    snap_be_close(r->be);
    r->be = NULL;
    snap_lock_release(&r->lock_link);
    snap_commit_destroy(r);
    return rc;
}

int snap_close(snap_region *r)
{
    int rc = snap_region_check(r);
    if (rc && rc != SNAP_E_FORKED) /* in a forked child: release the child's copy */
        return rc;
    rc = snap_region_close(r, snap_copy_release);
    snap_region_bury(r);
    return rc;
}

/* Also in a forked child: its copy of the memory stays readable and writable. */
void *snap_base(const snap_region *r)
{
    int rc = snap_region_check(r);
    return rc && rc != SNAP_E_FORKED ? NULL : (void *)r->base;
}

uint64_t snap_size(const snap_region *r)
{
    int rc = snap_region_check(r);
    return rc && rc != SNAP_E_FORKED ? 0 : snap_region_size(r);
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
        /* The handler's fills read D and the copy's size: not while they change (budget.c) */
        int locked = r->budget.evicting; /* a grow may make the copy evictable: budget.h */
        if (locked)
            pthread_mutex_lock(&r->budget.mu);
        rc = snap_be_resize(r->be, SNAP_DATA, new_size); /* invariant 7 */
        if (!rc)
            rc = snap_copy_grow(r, new_size);
        if (!rc) {
            __atomic_store_n(&r->size, new_size, __ATOMIC_RELEASE);
            snap_arena_set_size(r->base, r->reserve, new_size);
        }
        if (locked)
            pthread_mutex_unlock(&r->budget.mu);
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}
