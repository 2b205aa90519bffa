/* identity.c — binding a log to its data file, finding it, judging it (rules in identity.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "create.h"
#include "identity.h"
#include "testkit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

/* ---- The data file ---------------------------------------------------------------------------- */

/* "v1 <16 hex digits>[ <absolute path>]" */
static int parse_xattr(struct snap_identity *id, const char *v, size_t n)
{
    if (n < 19 || memcmp(v, "v1 ", 3) != 0 || memchr(v, 0, n))
        return SNAP_XATTR_GARBLED;
    uint64_t x = 0;
    for (int i = 3; i < 19; i++) {
        char c = v[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return SNAP_XATTR_GARBLED;
        x = x << 4 | (uint64_t)d;
    }
    if (n > 19) {
        if (v[19] != ' ' || n < 21 || v[20] != '/')
            return SNAP_XATTR_GARBLED;
        if (!(id->xattr_log_path = strndup(v + 20, n - 20)))
            return -ENOMEM;
    }
    id->xattr_log_id = x;
    return SNAP_XATTR_PRESENT;
}

static int read_xattr(struct snap_identity *id)
{
    if (snap_identity_no_xattr) {
        id->xattr = SNAP_XATTR_UNSUPPORTED;
        return 0;
    }
    char buf[SNAP_XATTR_MAX_PATH + 64];
    ssize_t n = fgetxattr(id->dfd, SNAP_IDENTITY_XATTR, buf, sizeof buf);
    if (n < 0) {
        if (errno == ENODATA)
            id->xattr = SNAP_XATTR_ABSENT;
        else if (errno == ENOTSUP)
            id->xattr = SNAP_XATTR_UNSUPPORTED;
        else if (errno == ERANGE || errno == E2BIG)
            id->xattr = SNAP_XATTR_GARBLED; /* longer than any we write */
        else
            return -errno;
        return 0;
    }
    int st = parse_xattr(id, buf, (size_t)n);
    if (st < 0)
        return st;
    id->xattr = st;
    return 0;
}

/* The name the sidecar goes beside: `path` made absolute if its last component is this file itself
 * (a symlinked directory on the way leads to the same directory, so to the same sidecar); else,
 * for a symlink, the file's own name: the kernel's (/proc/self/fd, no race with a rename on the
 * way), or realpath() where /proc is not mounted. The first costs an lstat, the second about
 * 5 us (procfs), so the common case takes the first. */
static int data_path_of(struct snap_identity *id, const char *path)
{
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISLNK(st.st_mode) && (uint64_t)st.st_dev == id->self.dev &&
        (uint64_t)st.st_ino == id->self.ino) {
        if (path[0] == '/') {
            id->data_path = strdup(path);
            return id->data_path ? 0 : -ENOMEM;
        }
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof cwd) && cwd[0] == '/') {
            if (asprintf(&id->data_path, "%s%s%s", cwd, strcmp(cwd, "/") ? "/" : "", path) < 0) {
                id->data_path = NULL;
                return -ENOMEM;
            }
            return 0;
        }
    }
    char link[40], buf[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", id->dfd);
    ssize_t n = readlink(link, buf, sizeof buf);
    if (n > 0 && (size_t)n < sizeof buf && buf[0] == '/') {
        buf[n] = 0;
        id->data_path = strdup(buf);
        return id->data_path ? 0 : -ENOMEM;
    }
    id->data_path = realpath(path, NULL);
    return id->data_path ? 0 : -errno;
}

int snap_identity_init(struct snap_identity *id, int dfd, const char *path)
{
    *id = (struct snap_identity){.dfd = dfd};
    struct statx sx;
    if (statx(dfd, "", AT_EMPTY_PATH, STATX_INO | STATX_NLINK | STATX_BTIME | STATX_SIZE, &sx))
        return -errno;
    id->size = sx.stx_size;
    if (sx.stx_nlink == 0)
        return -ENOENT; /* deleted since it was opened: no name to put a log beside */
    id->self.dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
    id->self.ino = sx.stx_ino;
    if (sx.stx_mask & STATX_BTIME) {
        id->self.btime_sec = sx.stx_btime.tv_sec;
        id->self.btime_nsec = sx.stx_btime.tv_nsec;
    }
    int rc = data_path_of(id, path);
    if (rc)
        return rc;
    if (asprintf(&id->canon_log, "%s%s", id->data_path, SNAP_LOG_SUFFIX) < 0) {
        id->canon_log = NULL;
        return -ENOMEM;
    }
    id->log_path = id->canon_log;
    rc = read_xattr(id);
    if (rc)
        return rc;
    id->self.kind = id->xattr == SNAP_XATTR_UNSUPPORTED ? SNAP_BIND_INODE : SNAP_BIND_XATTR;
    return 0;
}

static void set_log_path(struct snap_identity *id, char *p)
{
    if (id->log_path != id->canon_log)
        free(id->log_path);
    id->log_path = p;
}

void snap_identity_free(struct snap_identity *id)
{
    set_log_path(id, NULL);
    free(id->data_path);
    free(id->canon_log);
    free(id->xattr_log_path);
    *id = (struct snap_identity){.dfd = -1};
}

int snap_identity_same_inode(const struct snap_log_binding *a, const struct snap_log_binding *b,
                             int strict)
{
    if (a->dev != b->dev || a->ino != b->ino)
        return 0;
    int ka = a->btime_sec || a->btime_nsec, kb = b->btime_sec || b->btime_nsec;
    if (ka && kb)
        return a->btime_sec == b->btime_sec && a->btime_nsec == b->btime_nsec;
    return !strict;
}

/* ---- Finding the log -------------------------------------------------------------------------- */

/* The data file a sidecar path belongs to by name (malloc'd), or NULL. */
static char *data_name(const char *log_path)
{
    size_t n = strlen(log_path), s = strlen(SNAP_LOG_SUFFIX);
    if (n <= s || strcmp(log_path + n - s, SNAP_LOG_SUFFIX) != 0)
        return NULL;
    return strndup(log_path, n - s);
}

static int is_this_file(const struct snap_identity *id, const char *path)
{
    struct stat st;
    return path && lstat(path, &st) == 0 && (uint64_t)st.st_dev == id->self.dev &&
           (uint64_t)st.st_ino == id->self.ino;
}

/* Found at p, not at C: linked if p's data name is this file, else moved. Takes p. */
static void found_at(struct snap_identity *id, char *p)
{
    char *dn = data_name(p);
    id->found = is_this_file(id, dn) ? SNAP_FOUND_LINKED : SNAP_FOUND_MOVED;
    free(dn);
    set_log_path(id, p);
}

/* Does the log file at dirfd/name hold a header bound, by inode, to this data file? */
static int bound_here(const struct snap_identity *id, int dirfd, const char *name)
{
    int lfd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (lfd < 0)
        return 0;
    struct stat st;
    int dfd = -1;
    if (fstat(lfd, &st) || !S_ISREG(st.st_mode) || (dfd = dup(id->dfd)) < 0) {
        close(lfd);
        return 0;
    }
    struct snap_backend *be;
    if (snap_backend_readonly_open(dfd, lfd, &be))
        return 0; /* it closed both */
    struct snap_log_header lh;
    int yes = snap_log_header_read(be, &lh) == 0 && lh.binding.kind == SNAP_BIND_INODE &&
              snap_identity_same_inode(&lh.binding, &id->self, 0);
    snap_be_close(be);
    return yes;
}

/* Without xattrs, a data file renamed or linked within its directory is known by its inode only:
 * look in the directory for a log bound to it. Only run when C does not exist. */
static int search_directory(struct snap_identity *id)
{
    char *copy = strdup(id->canon_log);
    if (!copy)
        return -ENOMEM;
    const char *dir = dirname(copy);
    DIR *d = opendir(dir);
    if (!d) {
        free(copy);
        return 0; /* nothing to search: C it is */
    }
    size_t s = strlen(SNAP_LOG_SUFFIX);
    const char *base = id->canon_log + strlen(id->canon_log);
    while (base > id->canon_log && base[-1] != '/')
        base--;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n <= s || strcmp(e->d_name + n - s, SNAP_LOG_SUFFIX) != 0 || strcmp(e->d_name, base) == 0)
            continue;
        if (!bound_here(id, dirfd(d), e->d_name))
            continue;
        char *p;
        if (asprintf(&p, "%s/%s", strcmp(dir, "/") ? dir : "", e->d_name) < 0) {
            rc = -ENOMEM;
            break;
        }
        found_at(id, p);
        break;
    }
    closedir(d);
    free(copy);
    return rc;
}

int snap_identity_locate(struct snap_identity *id)
{
    set_log_path(id, id->canon_log);
    id->found = SNAP_FOUND_CANONICAL;
    struct stat st;
    const char *p = id->xattr_log_path;
    if (id->xattr == SNAP_XATTR_PRESENT && p && strcmp(p, id->canon_log) != 0) {
        char *dn = data_name(p);
        int linked = is_this_file(id, dn) && lstat(p, &st) == 0;
        free(dn);
        if (!linked && (lstat(id->canon_log, &st) == 0 || errno != ENOENT))
            return 0; /* C: the pair moved or was copied together */
        if (linked || lstat(p, &st) == 0) {
            char *q = strdup(p);
            if (!q)
                return -ENOMEM;
            found_at(id, q);
        }
        return 0;
    }
    if (id->xattr == SNAP_XATTR_UNSUPPORTED && lstat(id->canon_log, &st) != 0 && errno == ENOENT)
        return search_directory(id);
    return 0;
}

/* ---- Deciding --------------------------------------------------------------------------------- */

int snap_identity_may_create(const struct snap_identity *id)
{
    if (id->size == 0)
        return 0; /* an empty data file starts a new region (the rules above) */
    return id->xattr == SNAP_XATTR_PRESENT || id->xattr == SNAP_XATTR_GARBLED ? SNAP_E_MISMATCH : 0;
}

enum snap_log_verdict snap_identity_judge(const struct snap_identity *id,
                                          const struct snap_log_header *lh)
{
    const struct snap_log_binding *b = &lh->binding;
    if (id->found != SNAP_FOUND_CANONICAL &&
        (b->kind == SNAP_BIND_NONE || !snap_identity_same_inode(b, &id->self, 0)))
        return SNAP_LOG_FOREIGN;
    if (id->xattr == SNAP_XATTR_PRESENT)
        return lh->log_id == id->xattr_log_id ? SNAP_LOG_OURS : SNAP_LOG_FOREIGN;
    if (id->xattr == SNAP_XATTR_GARBLED)
        return SNAP_LOG_FOREIGN;
    if (b->kind == SNAP_BIND_NONE)
        return SNAP_LOG_OURS; /* unbound (before bindings): trusted by its name, as it was */
    if (snap_identity_same_inode(b, &id->self, b->kind == SNAP_BIND_XATTR))
        return SNAP_LOG_OURS;
    return SNAP_LOG_UNPROVEN;
}

void snap_identity_stamp(const struct snap_identity *id, struct snap_log_header *lh)
{
    lh->binding = id->self;
}

/* The kind is not compared: a header bound by inode stays so while the xattr cannot be written
 * (snap_identity_finish), and it needs no rewrite when the xattr can be written after all. */
int snap_identity_is_stamped(const struct snap_identity *id, const struct snap_log_header *lh)
{
    const struct snap_log_binding *b = &lh->binding;
    return b->kind != SNAP_BIND_NONE && b->dev == id->self.dev && b->ino == id->self.ino &&
           b->btime_sec == id->self.btime_sec && b->btime_nsec == id->self.btime_nsec;
}

/* ---- Binding ---------------------------------------------------------------------------------- */

/* Rename a log found "moved" to C, never replacing anything there. If it cannot be (C appeared
 * meanwhile, another file system), it stays where it is: the xattr keeps naming it. */
static int move_home(struct snap_identity *id)
{
    if (renameat2(AT_FDCWD, id->log_path, AT_FDCWD, id->canon_log, RENAME_NOREPLACE))
        return 0;
    char *old = id->log_path;
    id->log_path = id->canon_log; /* old is ours to free now */
    id->found = SNAP_FOUND_CANONICAL;
    int rc = snap_fsync_parent_dir(id->canon_log);
    if (!rc)
        rc = snap_fsync_parent_dir(old);
    free(old);
    return rc;
}

/* Has the data file's xattr already the value we would write? */
static int xattr_says(const struct snap_identity *id, uint64_t log_id, const char *path)
{
    if (id->xattr != SNAP_XATTR_PRESENT || id->xattr_log_id != log_id)
        return 0;
    if (!path || !id->xattr_log_path)
        return !path && !id->xattr_log_path;
    return strcmp(path, id->xattr_log_path) == 0;
}

/* The xattr cannot be stored: the binding falls back to the inode, and the header says so,
 * durably (once: a header already bound by inode stays as it is). */
static int bind_by_inode(struct snap_identity *id, struct snap_backend *be,
                         struct snap_log_header *lh)
{
    id->self.kind = SNAP_BIND_INODE;
    if (lh->binding.kind == SNAP_BIND_INODE)
        return 0;
    snap_identity_stamp(id, lh);
    lh->seq++;
    int rc = snap_log_header_write(be, lh);
    return rc ? rc : snap_be_barrier(be, SNAP_LOG);
}

/* Errors of fsetxattr() that mean "no xattr here", not a failing device: not supported, not
 * allowed (user xattrs of another user's file in a sticky directory), no room for it. */
static int xattr_refused(int e)
{
    return e == ENOTSUP || e == EPERM || e == EACCES || e == ENOSPC || e == EDQUOT || e == E2BIG ||
           e == ERANGE;
}

int snap_identity_finish(struct snap_identity *id, struct snap_backend *be,
                         struct snap_log_header *lh)
{
    int rc;
    if (id->found == SNAP_FOUND_MOVED && (rc = move_home(id)) != 0)
        return rc;
    if (id->self.kind != SNAP_BIND_XATTR)
        return 0;
    const char *path = strlen(id->log_path) <= SNAP_XATTR_MAX_PATH ? id->log_path : NULL;
    if (xattr_says(id, lh->log_id, path))
        return 0; /* the common open: nothing to write */
    char val[SNAP_XATTR_MAX_PATH + 64];
    int n = snprintf(val, sizeof val, "v1 %016" PRIx64 "%s%s", lh->log_id, path ? " " : "",
                     path ? path : "");
    rc = fsetxattr(id->dfd, SNAP_IDENTITY_XATTR, val, (size_t)n, 0);
    if (rc && path && (errno == E2BIG || errno == ENOSPC || errno == ERANGE)) {
        path = NULL; /* no room for the path: the id alone still binds */
        n = snprintf(val, sizeof val, "v1 %016" PRIx64, lh->log_id);
        rc = fsetxattr(id->dfd, SNAP_IDENTITY_XATTR, val, (size_t)n, 0);
    }
    if (rc && xattr_refused(errno))
        return bind_by_inode(id, be, lh);
    if (rc)
        return -errno;
    if (fsync(id->dfd))
        return -errno;
    char *copy = path ? strdup(path) : NULL;
    if (path && !copy)
        return -ENOMEM;
    free(id->xattr_log_path);
    id->xattr_log_path = copy;
    id->xattr_log_id = lh->log_id;
    id->xattr = SNAP_XATTR_PRESENT;
    return 0;
}

int snap_identity_forget(struct snap_identity *id)
{
    if (id->xattr == SNAP_XATTR_UNSUPPORTED)
        return 0;
    if (fremovexattr(id->dfd, SNAP_IDENTITY_XATTR) && errno != ENODATA && errno != ENOTSUP)
        return -errno;
    if (fsync(id->dfd))
        return -errno;
    free(id->xattr_log_path);
    id->xattr_log_path = NULL;
    id->xattr = SNAP_XATTR_ABSENT;
    return 0;
}
