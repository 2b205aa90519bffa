/* create.c — opening a region's data file, and creating it atomically (issue 12, point 5).
 *
 * A created data file appears under its name only whole. It is made without a name in the target
 * directory (O_TMPFILE), locked, given its size (preallocated: zeros, and blocks for the stores of
 * file.c and pmem.c, see space.h) and flushed, and only then linked to its name with linkat(2),
 * which fails if the name exists: SNAP_EXCL for free, and never clobbering a file that another
 * process created meanwhile. The log is made after that, by the usual open path (region.c).
 *
 * So a kill or a crash at any instant of snap_open(SNAP_CREATE) leaves either no data file (an
 * unnamed file is freed at once by the kernel, or after a power loss by the file system's orphan
 * cleanup), or a data file of the full size holding zeros, with no log, an empty or all-zero log
 * (both read as "no log yet"), or a new log: each a valid region of zeros, which the next open
 * adopts (or recreates, with SNAP_CREATE). Never the 0-byte data file that an open without a size
 * rejects (SNAP_E_INVAL), as when the file was created under its name and sized afterwards.
 *
 * Where O_TMPFILE is not supported, the file is made under a hidden temporary name in the same
 * directory (".<name>.snapnew-<random>") and renamed into place with RENAME_NOREPLACE (or linked
 * and unlinked where the file system lacks that flag); a kill can then leave that temporary file
 * behind, which nothing opens or reads.
 *
 * A create that fails after the link (sizing or writing the log, mapping the copy ...) removes
 * the log and then the data file again (snap_data_discard), so a failed create leaves nothing.
 *
 * The name is only ever linked, never opened with O_CREAT, so a dangling symlink at `path` is an
 * existing name (-EEXIST), not a way to create its target; an existing file is opened as before
 * (following a symlink to it).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "create.h"

static int fsync_dir(const char *dir)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    int rc = fsync(dfd) ? -errno : 0;
    close(dfd);
    return rc;
}

int snap_fsync_parent_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return -ENOMEM;
    int rc = fsync_dir(dirname(copy));
    free(copy);
    return rc;
}

/* The fallback for file systems without O_TMPFILE: a new file under a hidden, random name in
 * dir, beside `base`. Its path in *tmp (malloc'd). */
static int open_temp_name(const char *dir, const char *base, mode_t mode, char **tmp)
{
    for (int attempt = 0; attempt < 16; attempt++) {
        uint64_t r = 0;
        if (getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r)
            r = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull + (uint64_t)attempt;
        if (asprintf(tmp, "%s/.%s.snapnew-%016llx", dir, base, (unsigned long long)r) < 0) {
            *tmp = NULL;
            return -ENOMEM;
        }
        int fd = open(*tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd >= 0)
            return fd;
        int e = -errno;
        free(*tmp);
        *tmp = NULL;
        if (e != -EEXIST)
            return e;
    }
    return -EEXIST;
}

/* Give the unnamed (or temporarily named) file fd the name path; -EEXIST if taken. */
static int give_name(int fd, const char *tmp, const char *path)
{
    if (tmp) {
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
            return 0;
        if (errno != EINVAL && errno != ENOSYS)
            return -errno;
        if (link(tmp, path)) /* no RENAME_NOREPLACE here: link, which never replaces */
            return -errno;
        unlink(tmp);
        return 0;
    }
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0)
        return 0;
    if (errno != ENOENT) /* ENOENT: no /proc; AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH */
        return -errno;
    return linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH) ? -errno : 0;
}

/* Create path whole (see the top). Returns the locked fd, or a negative code with nothing left. */
static int create_whole(const char *path, const snap_options *o)
{
    char *copy_d = strdup(path), *copy_b = strdup(path);
    if (!copy_d || !copy_b) {
        free(copy_d);
        free(copy_b);
        return -ENOMEM;
    }
    const char *dir = dirname(copy_d), *base = basename(copy_b);
    mode_t mode = o->mode ? o->mode : 0644;
    char *tmp = NULL;
    int rc = 0, named = 0;
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL))
        fd = open_temp_name(dir, base, mode, &tmp); /* EISDIR, EINVAL: kernels without it */
    else if (fd < 0)
        fd = -errno;
    if (fd < 0) {
        rc = fd;
        goto out;
    }
    /* Locked before it has a name: nobody can take the region between the link and our lock. */
    if (flock(fd, LOCK_EX | LOCK_NB))
        rc = errno == EWOULDBLOCK ? SNAP_E_LOCKED : -errno;
    if (!rc)
        rc = snap_backend_fd_resize(fd, 0, o->size, 1);
    if (!rc && fsync(fd)) /* the size and the blocks are durable before the name is */
        rc = -errno;
    if (!rc && (rc = give_name(fd, tmp, path)) == 0)
        named = 1;
    if (!rc)
        rc = fsync_dir(dir);
out:
    if (rc && fd >= 0) {
        if (named)
            snap_data_discard(path, fd, 0);
        else if (tmp)
            unlink(tmp);
        close(fd); /* an unnamed file goes with its last descriptor */
    }
    free(tmp);
    free(copy_d);
    free(copy_b);
    return rc ? rc : fd;
}

int snap_data_open(const char *path, const snap_options *o, int *created)
{
    *created = 0;
    const int create = !!(o->flags & SNAP_CREATE), excl = create && (o->flags & SNAP_EXCL);
    for (int attempt = 0; attempt < 8; attempt++) {
        struct stat st;
        if (!excl) {
            int fd = open(path, O_RDWR | O_CLOEXEC);
            if (fd >= 0 || errno != ENOENT || !create)
                return fd >= 0 ? fd : -errno;
            if (lstat(path, &st) == 0)
                return -EEXIST; /* a dangling symlink: the name is taken; no creating through it */
        } else if (lstat(path, &st) == 0) { /* early answer only: the link below decides */
            return -EEXIST;
        }
        if (o->size == 0)
            return SNAP_E_INVAL; /* a new data file needs a size; nothing made */
        int fd = create_whole(path, o);
        if (fd >= 0) {
            *created = 1;
            return fd;
        }
        if (fd != -EEXIST || excl)
            return fd;
        /* Another process created it since we looked: open theirs. */
    }
    return -EEXIST;
}

void snap_data_discard(const char *path, int fd, int remove_log)
{
    char *log = NULL;
    if (remove_log && asprintf(&log, "%s" SNAP_LOG_SUFFIX, path) >= 0) {
        unlink(log);
        free(log);
    }
    struct stat mine, named;
    if (fstat(fd, &mine) == 0 && lstat(path, &named) == 0 && mine.st_dev == named.st_dev &&
        mine.st_ino == named.st_ino)
        unlink(path);
    snap_fsync_parent_dir(path); /* best effort: the names are gone for this process either way */
}
