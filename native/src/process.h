/* process.h — the process a region belongs to: its generation, which a fork() child changes, and
 * the list of lock descriptors that a forked child closes at once (process.c has the why). */
#ifndef SNAPSHOT_PROCESS_H
#define SNAPSHOT_PROCESS_H

#include <stdint.h>

/* The process generation: 0 in the process that loaded the library, incremented in a child by
 * fork() (a pthread_atfork() handler). A region opened in another generation is the parent's. */
extern uint64_t snap_process_gen;

/* Install the fork handlers (once; later calls return the first result). 0 or -errno. */
int snap_process_init(void);

/* An open lock descriptor, listed so that a forked child closes its copy at once. */
struct snap_lock_link {
    int *fd;
    struct snap_lock_link *prev, *next;
};

void snap_lock_link_init(struct snap_lock_link *l, int *fd);

/* A lock descriptor is opened and listed inside enter/leave, so that no fork() sees it open but
 * unlisted. */
void snap_lock_list_enter(void);
void snap_lock_list_add(struct snap_lock_link *l); /* between enter and leave */
void snap_lock_list_leave(void);

/* Unlist and close a lock descriptor (nothing if a fork already closed this copy). */
void snap_lock_release(struct snap_lock_link *l);

/* region.c: the closed-handle graveyard's lock, held across fork() like the arena's. */
void snap_graveyard_fork_lock(void);
void snap_graveyard_fork_unlock(void);

#endif /* SNAPSHOT_PROCESS_H */
