/* process.c — the process generation, the list of lock descriptors and the fork() handlers that
 * keep a region its opener's (process.h).
 *
 * A region belongs to the process that opened it. fork() gives the child a copy of the handle, the
 * DRAM copy and the commit state (log cursor, epoch), and shares the open files with it: a child's
 * msync would append at the parent's cursor and its close would checkpoint the parent's log, so that
 * records the parent acknowledged later fall outside the chain. So every call checks the process
 * generation (snap_region_check(): a load and a compare; getpid() would be a system call in
 * current glibc), which the pthread_atfork() child handler increments: in a child, calls on the
 * parent's regions return SNAP_E_FORKED and write nothing, and snap_close() releases only the
 * child's copy (region.c, close_forked()).
 *
 * The lock. A flock() belongs to an open file description and lasts until the last reference to
 * that description goes: a descriptor, but also a mapping made through one. So the data file is
 * mapped (the DRAM copy, the file back end's shared view, libpmem's mapping through /proc) through a
 * descriptor with a description of its own (region.c, reopen_data()), and only lock_fd refers to
 * the one holding the lock. The atfork child handler closes the child's copy of every lock_fd, so a forked
 * child never keeps the region locked once the parent has closed it or died; every descriptor is
 * O_CLOEXEC, so an exec'd child holds none at all. Where /proc/self/fd cannot reopen the file, the
 * data descriptor is a duplicate (F_DUPFD_CLOEXEC) and a forked child's mappings keep the lock
 * until it exits or execs.
 *
 * fork_mu orders the list of lock descriptors (lock_list) against fork(): the prepare handler takes
 * it, with the arena's and the graveyard's locks, so that the child finds them consistent and not
 * held by a thread it does not have. A lock descriptor is opened (open_backend()) and listed, or
 * unlisted and closed, under fork_mu, so no fork() sees it open but unlisted. The child handler
 * does only async-signal-safe work: close() and plain stores; the parent's waits for it (fork_pipe)
 * so that when fork() returns in the parent the child holds no lock. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "arena.h"
#include "process.h"
#include "region.h"

uint64_t snap_process_gen;
static pthread_mutex_t fork_mu = PTHREAD_MUTEX_INITIALIZER;
static struct snap_lock_link lock_list = {NULL, &lock_list, &lock_list};
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static int fork_setup_rc;

/* While a lock descriptor is listed, fork() in the parent returns only once the child has closed
 * its copies: the child holds the write end of this pipe until then, and the parent handler reads
 * it to EOF (which also comes at once if the fork failed, or when the child dies). Without the wait
 * a parent that closed and reopened its region right after fork() could find it still locked by a
 * child not yet scheduled. Best effort: without a pipe (EMFILE) the parent does not wait. */
static int fork_pipe[2] = {-1, -1};

static void fork_prepare(void)
{
    int e = errno;
    pthread_mutex_lock(&fork_mu);
    snap_graveyard_fork_lock();
    snap_arena_fork_lock();
    if (lock_list.next != &lock_list && pipe2(fork_pipe, O_CLOEXEC) != 0)
        fork_pipe[0] = fork_pipe[1] = -1;
    errno = e;
}

static void fork_parent(void)
{
    int e = errno; /* fork()'s, if it failed */
    if (fork_pipe[0] >= 0) {
        close(fork_pipe[1]);
        char c;
        while (read(fork_pipe[0], &c, 1) < 0 && errno == EINTR)
            ;
        close(fork_pipe[0]);
        fork_pipe[0] = fork_pipe[1] = -1;
    }
    snap_arena_fork_unlock();
    snap_graveyard_fork_unlock();
    pthread_mutex_unlock(&fork_mu);
    errno = e;
}

/* In the child, before fork() returns there: the parent's regions become foreign, and the child's
 * copies of their lock descriptors are closed. The list is emptied: a listed node may sit on the
 * stack of a thread the child does not have (snap_recover()), which glibc may reuse. */
static void fork_child(void)
{
    int e = errno;
    snap_process_gen++;
    struct snap_lock_link *l = lock_list.next;
    while (l != &lock_list) {
        struct snap_lock_link *next = l->next;
        if (*l->fd >= 0)
            close(*l->fd);
        *l->fd = -1;
        l->prev = l->next = l; /* unlisted: unlinking it again does nothing */
        l = next;
    }
    lock_list.prev = lock_list.next = &lock_list;
    if (fork_pipe[0] >= 0) { /* the lock descriptors are closed: let the parent go on */
        close(fork_pipe[0]);
        close(fork_pipe[1]);
        fork_pipe[0] = fork_pipe[1] = -1;
    }
    snap_arena_fork_unlock();
    snap_graveyard_fork_unlock();
    pthread_mutex_unlock(&fork_mu);
    errno = e;
}

static void fork_setup(void)
{
    fork_setup_rc = -pthread_atfork(fork_prepare, fork_parent, fork_child);
}

int snap_process_init(void)
{
    pthread_once(&fork_once, fork_setup);
    return fork_setup_rc;
}

void snap_lock_link_init(struct snap_lock_link *l, int *fd)
{
    l->fd = fd;
    l->prev = l->next = l;
}

void snap_lock_list_add(struct snap_lock_link *l)
{
    l->next = &lock_list;
    l->prev = lock_list.prev;
    lock_list.prev->next = l;
    lock_list.prev = l;
}

void snap_lock_release(struct snap_lock_link *l)
{
    pthread_mutex_lock(&fork_mu);
    l->prev->next = l->next;
    l->next->prev = l->prev;
    l->prev = l->next = l;
    if (*l->fd >= 0)
        close(*l->fd);
    *l->fd = -1;
    pthread_mutex_unlock(&fork_mu);
}

void snap_lock_list_enter(void)
{
    pthread_mutex_lock(&fork_mu);
}

void snap_lock_list_leave(void)
{
    pthread_mutex_unlock(&fork_mu);
}
