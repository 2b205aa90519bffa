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

/* Undo a create that failed after the data file got its name: remove "<path>.snaplog" (a log
 * beside a data file that did not exist belongs to no region), then `path` if it still names
 * fd's file. Best effort, in that order: a kill in between leaves a valid region of zeros, never
 * a log without its data file. */
void snap_data_discard(const char *path, int fd);

#endif /* SNAPSHOT_CREATE_H */
