/* create.h — opening a region's data file, and creating it atomically (create.c). */
#ifndef SNAPSHOT_CREATE_H
#define SNAPSHOT_CREATE_H

#include "snapshot.h"

/* The data file `path` opened read-write for a region: the existing one, or, with SNAP_CREATE
 * where there is none, a new one of o->size bytes (zeros, preallocated) that appears under its
 * name only once whole, locked (flock) by the returned fd; *created says which. Returns the fd,
 * or -ENOENT (no SNAP_CREATE), -EEXIST (SNAP_EXCL and the file exists), SNAP_E_INVAL (a new file
 * without a size: nothing is created), -ENOSPC (sizing it: nothing is left behind), -EISDIR,
 * -EACCES, ... */
int snap_data_open(const char *path, const snap_options *o, int *created);

/* fsync() the directory holding `path`, making a name created or removed there durable. Returns 0
 * or -errno. */
int snap_fsync_parent_dir(const char *path);

/* What an open created (region.c's open_backend). */
#define SNAP_CREATED_DATA 1
#define SNAP_CREATED_LOG 2

/* Undo a create that failed after the data file got its name: remove "<path>.snaplog" if this
 * open created it (remove_log; a log that was there before may be another life's, with records
 * identity.h refuses to replay here, and stays), then `path` if it still names fd's file. Best
 * effort, in that order: a kill in between leaves a valid region of zeros, never a log without its
 * data file. */
void snap_data_discard(const char *path, int fd, int remove_log);

#endif /* SNAPSHOT_CREATE_H */
