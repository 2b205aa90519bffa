/* test_sidecar.c — who owns the sidecar log, and with which permissions (snapshot.h, "Files").
 *
 * Issue 12, point 6: the sidecar copied all of the data file's mode bits (a setuid, executable
 * data file gave a setuid, executable log, whose record bodies are the region's bytes), and an
 * existing sidecar's owner and link count were not looked at, so a log planted by another user, or
 * a hard link to someone else's file, was replayed or written to. Now:
 *
 *   - a new sidecar's mode is the data file's & 0666, whatever the umask (04755 -> 0644,
 *     0660 -> 0660 under umask 077); an existing one's setuid/setgid/execute bits are dropped;
 *   - an existing sidecar with another hard link is refused with -EPERM, nothing changed in it or
 *     in the data file; removing the extra link lets the open in;
 *   - as root (skipped otherwise): a sidecar owned by another user than the data file's owner is
 *     refused with -EPERM; root creating the sidecar of another user's data file gives it that
 *     user's owner and group, so that the owner's own opens accept it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"

#define SIZE 4096u
#define OTHER_UID 65534 /* nobody */
#define OTHER_GID 65534

static char *dir;
static int cases;

static char *log_of(const char *path)
{
    char *p;
    REQUIRE(asprintf(&p, "%s.snaplog", path) > 0);
    return p;
}

static struct stat stat_of(const char *p)
{
    struct stat st;
    REQUIRE(stat(p, &st) == 0);
    return st;
}

static snap_options opts(uint32_t flags)
{
    return (snap_options){.flags = flags | SNAP_NO_CONCURRENT_WRITERS,
                          .backend = SNAP_BACKEND_FILE, .size = flags & SNAP_CREATE ? SIZE : 0};
}

/* Open, store v at 0, msync, close: 0 or the first error. */
static int commit_one(const char *path, uint32_t flags, uint8_t v)
{
    snap_options o = opts(flags);
    snap_region *r;
    int rc = snap_open(path, &o, &r);
    if (rc)
        return rc;
    uint8_t *b = snap_base(r);
    b[0] = v;
    rc = snap_track(r, b, 1);
    if (!rc)
        rc = snap_msync(r);
    int crc = snap_close(r);
    return rc ? rc : crc;
}

static uint8_t first_byte(const char *path)
{
    uint8_t b = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(pread(fd, &b, 1, 0) == 1);
    close(fd);
    return b;
}

/* The data file made by hand with this mode (chmod'ed: the umask does not narrow it). */
static char *data_file(const char *name, mode_t mode)
{
    char *p = test_path(dir, name);
    int fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(ftruncate(fd, SIZE) == 0);
    REQUIRE(fchmod(fd, mode) == 0);
    close(fd);
    return p;
}

static void test_modes(void)
{
    static const struct {
        mode_t data, umask, want;
    } cs[] = {
        {04755, 022, 0644}, {04755, 077, 0644}, {06775, 0, 0664},
        {0660, 077, 0660},  {0700, 022, 0600},  {01666, 077, 0666},
    };
    for (unsigned i = 0; i < sizeof cs / sizeof cs[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "mode%u", i);
        char *path = data_file(name, cs[i].data), *lp = log_of(path);
        mode_t old = umask(cs[i].umask);
        CHECK_RC(commit_one(path, 0, 0x11), 0);
        umask(old);
        mode_t got = stat_of(lp).st_mode & 07777;
        if (got != cs[i].want) {
            fprintf(stderr, "data file %04o, umask %03o: sidecar %04o, wanted %04o\n",
                    (unsigned)cs[i].data, (unsigned)cs[i].umask, (unsigned)got,
                    (unsigned)cs[i].want);
            test_failures++;
        }
        CHECK((stat_of(path).st_mode & 07777) == cs[i].data); /* the data file keeps its own */
        free(path), free(lp);
    }
    /* An existing sidecar with bits it should not have (an older version's) loses them. */
    char *path = data_file("old-bits", 0644), *lp = log_of(path);
    CHECK_RC(commit_one(path, 0, 0x12), 0);
    REQUIRE(chmod(lp, 04755) == 0);
    CHECK_RC(commit_one(path, 0, 0x13), 0);
    CHECK((stat_of(lp).st_mode & 07777) == 0644);
    free(path), free(lp);
    cases++;
}

static void test_hard_link(void)
{
    char *path = data_file("linked", 0644), *lp = log_of(path), *other = test_path(dir, "other");
    CHECK_RC(commit_one(path, 0, 0x21), 0);
    REQUIRE(link(lp, other) == 0);
    struct stat before = stat_of(lp);
    CHECK_RC(commit_one(path, 0, 0x22), -EPERM);
    struct stat after = stat_of(lp);
    CHECK(after.st_size == before.st_size && after.st_mtim.tv_sec == before.st_mtim.tv_sec &&
          after.st_mtim.tv_nsec == before.st_mtim.tv_nsec); /* not written */
    CHECK(first_byte(path) == 0x21);
    snap_options o = opts(0);
    CHECK_RC(snap_recover(path, &o), -EPERM);
    REQUIRE(unlink(other) == 0);
    CHECK_RC(commit_one(path, 0, 0x23), 0);
    CHECK(first_byte(path) == 0x23);
    free(path), free(lp), free(other);
    cases++;
}

static void test_owners(void)
{
    if (geteuid() != 0) {
        printf("owners: not root, skipped (needs chown)\n");
        return;
    }
    /* A sidecar of another owner than the data file's: refused. */
    char *path = data_file("foreign", 0644), *lp = log_of(path);
    CHECK_RC(commit_one(path, 0, 0x31), 0);
    REQUIRE(chown(lp, OTHER_UID, (gid_t)-1) == 0);
    CHECK_RC(commit_one(path, 0, 0x32), -EPERM);
    CHECK(first_byte(path) == 0x31);
    REQUIRE(chown(lp, 0, (gid_t)-1) == 0);
    CHECK_RC(commit_one(path, 0, 0x33), 0);
    free(path), free(lp);

    /* Root opening another user's data file: the new sidecar is that user's. */
    path = data_file("users", 0640), lp = log_of(path);
    REQUIRE(chown(path, OTHER_UID, OTHER_GID) == 0);
    CHECK_RC(commit_one(path, 0, 0x41), 0);
    struct stat st = stat_of(lp);
    CHECK(st.st_uid == OTHER_UID && st.st_gid == OTHER_GID && (st.st_mode & 07777) == 0640);
    CHECK_RC(commit_one(path, 0, 0x42), 0); /* and it is accepted from then on */
    /* A sidecar root left behind for another user's file (an older version's): refused. */
    REQUIRE(chown(lp, 0, 0) == 0);
    CHECK_RC(commit_one(path, 0, 0x43), -EPERM);
    CHECK(first_byte(path) == 0x42);
    free(path), free(lp);
    cases++;
}

int main(void)
{
    dir = test_tmpdir("sidecar", "disk");
    test_modes();
    test_hard_link();
    test_owners();
    if (!test_failures)
        test_rmdir(dir);
    free(dir);
    return test_done("test_sidecar", cases);
}
