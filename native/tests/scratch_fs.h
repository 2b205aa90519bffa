/* scratch_fs.h — small file systems for tests that need one to run full: a tmpfs of a given size,
 * or an ext4 image mounted through a loop device, and filling one up. Mounting needs root (CI runs
 * as root); scratch_can_mount() says why not otherwise, and the tests skip with that reason.
 * Header-only (static functions): the test glob builds every test_*.c with test_util.c alone. */
#ifndef SNAPSHOT_SCRATCH_FS_H
#define SNAPSHOT_SCRATCH_FS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* NULL if this process may mount, else the reason it may not. */
static inline const char *scratch_can_mount(void)
{
    return geteuid() == 0 ? NULL : "not root: mounting a scratch file system needs root";
}

/* Mount a tmpfs of `size` (mount(8) syntax: "1m") at dir, which must exist. 0 or -errno. */
static inline int scratch_mount_tmpfs(const char *dir, const char *size)
{
    char opts[64];
    snprintf(opts, sizeof opts, "size=%s,mode=0755", size);
    return mount("tmpfs", dir, "tmpfs", 0, opts) ? -errno : 0;
}

/* Run a shell command quietly; 0 if it exited 0. */
static inline int scratch_sh(const char *cmd)
{
    int st = system(cmd);
    return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Make an ext4 image of `mib` MiB at img (no blocks reserved for root, so root fills it too) and
 * mount it at dir through a loop device. 0 or -1 (the tools' output says why). */
static inline int scratch_mount_ext4(const char *dir, const char *img, unsigned mib)
{
    char cmd[4096 + 256];
    snprintf(cmd, sizeof cmd,
             "rm -f '%s' && truncate -s %uM '%s' && mkfs.ext4 -q -F -m 0 '%s' >/dev/null && "
             "mount -o loop '%s' '%s'",
             img, mib, img, img, img, dir);
    return scratch_sh(cmd);
}

/* Unmount dir (lazily if still busy) and, if img is not NULL, remove the image. */
static inline void scratch_umount(const char *dir, const char *img)
{
    if (umount2(dir, 0) != 0)
        umount2(dir, MNT_DETACH);
    if (img)
        unlink(img);
}

/* Fill the file system holding dir: write to dir/name in ever smaller pieces until not even one
 * byte fits. Returns the bytes written (the file stays, for scratch_unfill()). */
static inline long long scratch_fill(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    static char buf[1 << 20];
    memset(buf, 0xa5, sizeof buf);
    long long total = 0;
    for (size_t piece = sizeof buf; piece > 0; piece /= 2) {
        for (;;) {
            ssize_t n = write(fd, buf, piece);
            if (n <= 0)
                break;
            total += n;
        }
    }
    fsync(fd); /* ext4: turn delayed allocations into blocks, so the count is real */
    for (size_t piece = 4096; piece > 0; piece /= 2) /* what the flush freed of reservations */
        while (write(fd, buf, piece) > 0)
            total += (long long)piece;
    close(fd);
    return total;
}

static inline void scratch_unfill(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
    sync(); /* ext4 frees the blocks at the next journal commit */
}

/* Number of entries in dir other than . and .. (and `except`, if not NULL); -1 if unreadable. */
static inline int scratch_entries(const char *dir, const char *except, char *first, size_t cap)
{
    char cmd[4096 + 64];
    snprintf(cmd, sizeof cmd, "ls -A '%s'", dir);
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char line[4096];
    int n = 0;
    if (first && cap)
        first[0] = 0;
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = 0;
        if (except && strcmp(line, except) == 0)
            continue;
        if (first && cap && n == 0)
            snprintf(first, cap, "%s", line);
        n++;
    }
    pclose(p);
    return n;
}

#endif /* SNAPSHOT_SCRATCH_FS_H */
