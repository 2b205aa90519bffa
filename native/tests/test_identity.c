/* test_identity.c — a log belongs to one data file (issue 12, point 1): whatever name the data file
 * is opened through, the same log is used; a log is never replayed onto another file; copying both
 * files elsewhere still opens.
 *
 * Most cases need a commit whose record is still in the log and whose apply never reached the data
 * file, as after a power cut before the data file's flush: a child opens the region, commits, and
 * dies without closing; then the data file's bytes are put back as they were before the commit (in
 * place: same inode, extended attributes kept). Reopening must replay the record from the right log,
 * or refuse (SNAP_E_MISMATCH) and change nothing; never adopt the data file without it silently,
 * never replay another file's records.
 *
 * Cases: a symlink to the data file (from another directory); a hard link (same directory, and in
 * xattr mode another directory); the data file renamed alone (same directory; in xattr mode another
 * directory), then a new file under the old name; both renamed; a stale log beside a new data file of
 * the same name (with records pending, and cleanly closed: never replayed, never resizes the new
 * file); a valid log of another region copied in place (with records, and empty: never replayed,
 * never truncates); backup and restore of both files with `cp` (no xattrs) and `cp -a` (xattrs),
 * cleanly closed and with records pending, and the `snapshot rebind` that accepts a restore that
 * cannot be proven; two copies of one region side by side; a log deleted or a data file copied
 * without its log (refused, then resolved with `snapshot rebind`); the states a crash during the
 * binding can leave (constructed by hand); a log of the format before bindings (version 1), with a
 * record pending; and SIGKILL while a child renames, opens, commits and
 * closes a region again and again.
 *
 * Every case runs on a disk directory (SNAPSHOT_TEST_TMP) and on /dev/shm, each in two modes: with
 * extended attributes (both file systems support user xattrs on this kernel; checked at start) and
 * with the library told that they are unsupported (snap_identity_no_xattr), the fallback where only
 * the inode identifies the data file. Where the fallback cannot do as well, the case says so and
 * checks the documented outcome (snapshot.h, "Files").
 *
 * Environment: SNAPSHOT_IDENTITY_KILLS (SIGKILL trials per configuration, default 12).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "test_util.h"
#include "testkit.h" /* snap_identity_no_xattr: the fallback mode */

#define SIZE (64u << 10)
#define XATTR "user.snapshot.log"

static char *dir;
static const char *kind;
static int xattr_mode; /* 1: the library uses xattrs; 0: told they are unsupported */
static int cases;
static const char *cli;

/* ---- Files ------------------------------------------------------------------------------------ */

static char *path_of(const char *name)
{
    return test_path(dir, name);
}

static char *log_of(const char *path)
{
    char *p;
    REQUIRE(asprintf(&p, "%s.snaplog", path) > 0);
    return p;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Overwrite the file's bytes in place (same inode: its extended attributes stay). */
static void put_back(const char *path, const uint8_t *b, size_t len)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(ftruncate(fd, (off_t)len) == 0);
    REQUIRE(pwrite(fd, b, len, 0) == (ssize_t)len);
    close(fd);
}

/* A new file (new inode) with these bytes. */
static void new_file(const char *path, const uint8_t *b, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(pwrite(fd, b, len, 0) == (ssize_t)len);
    close(fd);
}

static void mkdir_in(const char *name)
{
    char *d = path_of(name);
    REQUIRE(mkdir(d, 0755) == 0);
    free(d);
}

/* Run a command (argv[0] looked up in PATH); 0 if it exited 0. */
static int run(const char *const argv[])
{
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int has_xattr(const char *path)
{
    return getxattr(path, XATTR, NULL, 0) >= 0;
}

/* ---- Regions ---------------------------------------------------------------------------------- */

static snap_options opts(uint32_t flags, uint64_t size)
{
    return (snap_options){.flags = flags | SNAP_NO_CONCURRENT_WRITERS,
                          .backend = SNAP_BACKEND_FILE,
                          .size = size,
                          .log_capacity = 256u << 10};
}

static void pattern(uint8_t *b, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(i * 131 + seed * 17 + 1);
}

/* A new region of `size` bytes holding pattern(seed), committed and closed (the log is empty). */
static void create_region(const char *path, uint64_t size, uint8_t seed, uint8_t *expect)
{
    snap_options o = opts(SNAP_CREATE | SNAP_EXCL, size);
    snap_region *r;
    REQUIRE_OK(snap_open(path, &o, &r));
    pattern(snap_base(r), size, seed);
    REQUIRE_OK(snap_track_offset(r, 0, size));
    REQUIRE_OK(snap_msync(r));
    REQUIRE_OK(snap_close(r));
    if (expect)
        pattern(expect, size, seed);
}

/* A child opens the region through `path`, stores v into [off, off+len), commits and dies without
 * closing: the record stays in the log. Then the apply is lost (the data file's bytes put back as
 * they were, as a power cut before its flush can leave them). expect gets the committed state. */
static void commit_lost_apply(const char *path, uint64_t off, uint64_t len, uint8_t v,
                              uint8_t *expect)
{
    size_t blen;
    uint8_t *before = test_slurp(path, &blen);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        snap_options o = opts(0, 0);
        snap_region *r;
        int rc = snap_open(path, &o, &r);
        if (rc) {
            fprintf(stderr, "child: snap_open(%s): %s\n", path, snap_strerror(rc));
            _exit(2);
        }
        memset((uint8_t *)snap_base(r) + off, v, len);
        if (snap_track_offset(r, off, len) || snap_msync(r))
            _exit(3);
        _exit(0);
    }
    int st;
    REQUIRE(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    put_back(path, before, blen);
    free(before);
    if (expect)
        memset(expect + off, v, len);
}

/* Open through `path`; on success compare the region with expect (size bytes) and close. Returns the
 * open's code; a difference counts as a failure. */
static int open_cmp(const char *path, const uint8_t *expect, uint64_t size, int line)
{
    snap_options o = opts(0, 0);
    snap_region *r;
    int rc = snap_open(path, &o, &r);
    if (rc)
        return rc;
    if (snap_size(r) != size || memcmp(snap_base(r), expect, size) != 0) {
        uint64_t n = snap_size(r) < size ? snap_size(r) : size, at = 0;
        while (at < n && ((uint8_t *)snap_base(r))[at] == expect[at])
            at++;
        fprintf(stderr, "%s:%d: %s [%s, %s]: size %" PRIu64 " (want %" PRIu64 "), first difference "
                        "at %" PRIu64 ": not the committed state\n", __FILE__, line, path, kind,
                xattr_mode ? "xattr" : "fallback", snap_size(r), size, at);
        test_failures++;
    }
    CHECK_RC(snap_close(r), 0);
    return rc;
}

/* The open must succeed and show expect. */
#define OPENS(path, expect, size)                                                                  \
    do {                                                                                           \
        int rc__ = open_cmp(path, expect, size, __LINE__);                                         \
        if (rc__) {                                                                                \
            fprintf(stderr, "%s:%d: open %s [%s, %s]: %s, wanted success\n", __FILE__, __LINE__,   \
                    path, kind, xattr_mode ? "xattr" : "fallback", snap_strerror(rc__));          \
            test_failures++;                                                                       \
        }                                                                                          \
    } while (0)

/* The open must fail with `want` and change neither file (nor create a log). */
static void refused(const char *path, int want, int line)
{
    char *lp = log_of(path);
    size_t dlen, llen = 0;
    uint8_t *d = test_slurp(path, &dlen), *l = exists(lp) ? test_slurp(lp, &llen) : NULL;
    snap_options o = opts(0, 0);
    snap_region *r;
    int rc = snap_open(path, &o, &r);
    if (rc != want) {
        fprintf(stderr, "%s:%d: open %s [%s, %s] returned %d (%s), wanted %d (%s)\n", __FILE__, line,
                path, kind, xattr_mode ? "xattr" : "fallback", rc, snap_strerror(rc), want,
                snap_strerror(want));
        test_failures++;
        if (rc == 0)
            snap_close(r);
    }
    rc = snap_recover(path, &o);
    if (rc != want) {
        fprintf(stderr, "%s:%d: snap_recover %s returned %d (%s), wanted %d\n", __FILE__, line, path,
                rc, snap_strerror(rc), want);
        test_failures++;
    }
    if (!test_file_equals(path, d, dlen) || (l && !test_file_equals(lp, l, llen)) || (!l && exists(lp))) {
        fprintf(stderr, "%s:%d: the refused open of %s [%s, %s] changed its files\n", __FILE__, line,
                path, kind, xattr_mode ? "xattr" : "fallback");
        test_failures++;
    }
    free(d);
    free(l);
    free(lp);
}
#define REFUSED(path, want) refused(path, want, __LINE__)

/* `snapshot rebind PATH`: exit status (-1 if the CLI is not there). */
static int rebind(const char *path)
{
    if (!cli)
        return -1;
    const char *argv[] = {cli, "rebind", path, NULL};
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        if (!xattr_mode) /* the CLI behaves as the library under test does */
            setenv("SNAPSHOT_TEST_NO_XATTR", "1", 1);
        execv(cli, (char *const *)argv);
        _exit(127);
    }
    int st;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- Cases ------------------------------------------------------------------------------------ */

/* A symlink to the data file, in another directory: the link opens the same log (beside the file,
 * never beside the link), both ways; so do a relative path and a path through a symlinked
 * directory. */
static void test_symlink(void)
{
    uint8_t expect[SIZE];
    char *f = path_of("sym_data"), *link = path_of("sym_links/alias");
    char *link_log = log_of(link);
    mkdir_in("sym_links");
    create_region(f, SIZE, 1, expect);
    REQUIRE(symlink(f, link) == 0);
    commit_lost_apply(link, 100, 200, 0xb1, expect);
    OPENS(f, expect, SIZE); /* committed through the link, seen through the name */
    commit_lost_apply(f, 5000, 300, 0xc1, expect);
    OPENS(link, expect, SIZE); /* and the reverse */
    CHECK(!exists(link_log));
    commit_lost_apply(link, 9000, 64, 0xd1, expect);
    OPENS(link, expect, SIZE);
    OPENS(f, expect, SIZE);

    /* A relative path, and a path through a symlinked directory: the same log. */
    char *dirlink = path_of("sym_dirlink"), *via_dir = path_of("sym_dirlink/sym_data");
    REQUIRE(symlink(dir, dirlink) == 0);
    char cwd[4096];
    REQUIRE(getcwd(cwd, sizeof cwd));
    REQUIRE(chdir(dir) == 0);
    commit_lost_apply("sym_data", 11000, 64, 0xe1, expect);
    OPENS(via_dir, expect, SIZE);
    commit_lost_apply(via_dir, 12000, 64, 0xf1, expect);
    OPENS("sym_data", expect, SIZE);
    OPENS("sym_links/alias", expect, SIZE);
    REQUIRE(chdir(cwd) == 0);
    if (xattr_mode) { /* the xattr names the log by an absolute path */
        char v[512];
        ssize_t n = getxattr(f, XATTR, v, sizeof v - 1);
        CHECK(n > 20 && v[20] == '/');
    }
    free(dirlink), free(via_dir);
    free(f), free(link), free(link_log);
    cases++;
}

/* A hard link: both names use one log. The fallback finds it by the log's recorded inode in the
 * directory; an xattr names it from anywhere. */
static void test_hardlink(void)
{
    uint8_t expect[SIZE];
    char *f = path_of("hl_data"), *g = path_of("hl_other"), *h = path_of("hl_dir/third");
    char *g_log = log_of(g), *h_log = log_of(h);
    create_region(f, SIZE, 2, expect);
    REQUIRE(link(f, g) == 0);
    commit_lost_apply(g, 200, 100, 0xb2, expect);
    OPENS(f, expect, SIZE);
    commit_lost_apply(f, 7000, 100, 0xc2, expect);
    OPENS(g, expect, SIZE);
    CHECK(!exists(g_log));
    if (xattr_mode) {
        mkdir_in("hl_dir");
        REQUIRE(link(f, h) == 0);
        commit_lost_apply(h, 300, 100, 0xd2, expect);
        OPENS(f, expect, SIZE);
        commit_lost_apply(g, 400, 100, 0xe2, expect);
        OPENS(h, expect, SIZE);
        CHECK(!exists(h_log));
    }
    free(f), free(g), free(h), free(g_log), free(h_log);
    cases++;
}

/* The data file renamed without its log: the log is found (and moved beside it), or the open is
 * refused; never adopted without the pending record. A new file under the old name then gets a log
 * of its own, and the renamed one keeps its. */
static void test_rename_alone(void)
{
    uint8_t expect[SIZE], fresh[SIZE];
    char *f = path_of("ren_data"), *g = path_of("ren_new"), *f_log = log_of(f), *g_log = log_of(g);
    create_region(f, SIZE, 3, expect);
    commit_lost_apply(f, 1000, 500, 0xb3, expect);
    REQUIRE(rename(f, g) == 0);
    OPENS(g, expect, SIZE);
    CHECK(exists(g_log) && !exists(f_log)); /* moved beside the data file */
    pattern(fresh, SIZE, 33);
    new_file(f, fresh, SIZE);
    OPENS(f, fresh, SIZE); /* adopted as it is: the old log is not beside it any more */
    commit_lost_apply(g, 2000, 100, 0xc3, expect);
    OPENS(g, expect, SIZE);
    OPENS(f, fresh, SIZE);

    if (xattr_mode) { /* into another directory: only the xattr knows where the log is */
        char *a = path_of("ren2_data"), *b = path_of("ren2_dir/moved"), *b_log = log_of(b);
        mkdir_in("ren2_dir");
        create_region(a, SIZE, 4, expect);
        commit_lost_apply(a, 3000, 100, 0xd3, expect);
        REQUIRE(rename(a, b) == 0);
        OPENS(b, expect, SIZE);
        CHECK(exists(b_log));
        free(a), free(b), free(b_log);
    }
    free(f), free(g), free(f_log), free(g_log);
    cases++;
}

/* Both files renamed: opens, and replays. */
static void test_rename_both(void)
{
    uint8_t expect[SIZE];
    char *f = path_of("rb_data"), *g = path_of("rb_new"), *f_log = log_of(f), *g_log = log_of(g);
    create_region(f, SIZE, 5, expect);
    commit_lost_apply(f, 100, 1000, 0xb5, expect);
    REQUIRE(rename(f, g) == 0);
    REQUIRE(rename(f_log, g_log) == 0);
    OPENS(g, expect, SIZE);
    free(f), free(g), free(f_log), free(g_log);
    cases++;
}

/* A stale log beside a new data file of the same name (deleted and copied back): never replayed,
 * never resizes it. */
static void test_stale_sidecar(void)
{
    uint8_t expect[SIZE], fresh[SIZE / 2];
    char *f = path_of("stale_data"), *f_log = log_of(f);
    create_region(f, SIZE, 6, expect);
    commit_lost_apply(f, 100, 100, 0xb6, expect); /* a record pending in the old life's log */
    struct stat old;
    REQUIRE(stat(f, &old) == 0);
    REQUIRE(unlink(f) == 0);
    pattern(fresh, sizeof fresh, 66);
    new_file(f, fresh, sizeof fresh);
    struct stat now;
    REQUIRE(stat(f, &now) == 0);
    if (now.st_ino == old.st_ino)
        printf("  [%s, %s] the new file reused the old inode number %llu\n", kind,
               xattr_mode ? "xattr" : "fallback", (unsigned long long)now.st_ino);
    REFUSED(f, SNAP_E_MISMATCH);

    /* The old life closed cleanly: nothing to replay, so the new file is adopted as it is (its size
     * too: the stale header's 64 KiB must not truncate or extend it). */
    char *h = path_of("stale_clean");
    create_region(h, SIZE, 7, NULL);
    REQUIRE(unlink(h) == 0);
    new_file(h, fresh, sizeof fresh);
    OPENS(h, fresh, sizeof fresh);
    OPENS(h, fresh, sizeof fresh);

    /* A region created beside a stale log: created whole first (create.c, zeros of its size),
     * the new file takes over a log with nothing to replay, and refuses one with records — the
     * failed create then leaves no data file, and the stale log as it was. */
    char *k = path_of("stale_create");
    create_region(k, SIZE, 8, NULL);
    REQUIRE(unlink(k) == 0);
    snap_options o = opts(SNAP_CREATE | SNAP_EXCL, SIZE);
    snap_region *r;
    int rc = snap_open(k, &o, &r);
    CHECK_RC(rc, 0);
    if (!rc) {
        const uint8_t *b = snap_base(r);
        int zeros = snap_size(r) == SIZE;
        for (uint64_t i = 0; zeros && i < SIZE; i++)
            zeros = b[i] == 0;
        CHECK(zeros);
        snap_close(r);
    }
    REQUIRE(unlink(f) == 0); /* f's log still holds the old life's pending record */
    rc = snap_open(f, &o, &r);
    CHECK_RC(rc, SNAP_E_MISMATCH);
    if (!rc)
        snap_close(r);
    CHECK(access(f, F_OK) != 0);
    CHECK(access(f_log, F_OK) == 0);
    free(f), free(f_log), free(h), free(k);
    cases++;
}

/* A valid log of another region copied over this one's: never replayed, never truncates. */
static void test_foreign_log(void)
{
    uint8_t a_expect[SIZE / 2], b_expect[SIZE];
    char *a = path_of("for_a"), *b = path_of("for_b"), *a_log = log_of(a), *b_log = log_of(b);
    create_region(a, SIZE / 2, 9, a_expect);
    create_region(b, SIZE, 10, b_expect);
    commit_lost_apply(a, 0, 4096, 0xb9, a_expect); /* A's log holds a record */
    const char *cp1[] = {"cp", a_log, b_log, NULL};
    REQUIRE(run(cp1) == 0);
    REFUSED(b, SNAP_E_MISMATCH);
    OPENS(a, a_expect, SIZE / 2); /* replays and empties A's own log */
    REQUIRE(run(cp1) == 0);       /* A's log, now empty, committed size 32 KiB */
    if (xattr_mode)
        REFUSED(b, SNAP_E_MISMATCH);
    else
        OPENS(b, b_expect, SIZE); /* nothing to replay: adopted, 64 KiB kept */
    struct stat st;
    REQUIRE(stat(b, &st) == 0);
    CHECK(st.st_size == SIZE);
    free(a), free(b), free(a_log), free(b_log);
    cases++;
}

/* Backup and restore of both files. */
static void test_backup_restore(void)
{
    uint8_t expect[SIZE];
    char *f = path_of("bk_data"), *f_log = log_of(f);
    char *plain = path_of("bk_plain"), *kept = path_of("bk_kept");
    char *plain_f = path_of("bk_plain/bk_data"), *kept_f = path_of("bk_kept/bk_data");
    mkdir_in("bk_plain");
    mkdir_in("bk_kept");

    /* Cleanly closed: either copy opens. */
    create_region(f, SIZE, 11, expect);
    const char *cp_plain[] = {"cp", f, f_log, plain, NULL};
    const char *cp_keep[] = {"cp", "-a", f, f_log, kept, NULL};
    REQUIRE(run(cp_plain) == 0);
    REQUIRE(run(cp_keep) == 0);
    OPENS(plain_f, expect, SIZE);
    OPENS(kept_f, expect, SIZE);
    OPENS(f, expect, SIZE);

    /* A record pending (a crash), then copied. With xattrs kept the copy is proven the region's and
     * replays; a plain copy cannot be told from another file beside this log: refused, and
     * `snapshot rebind` accepts it. */
    commit_lost_apply(f, 600, 3000, 0xbb, expect);
    char *plain2 = path_of("bk_plain2"), *kept2 = path_of("bk_kept2");
    char *plain2_f = path_of("bk_plain2/bk_data"), *kept2_f = path_of("bk_kept2/bk_data");
    mkdir_in("bk_plain2");
    mkdir_in("bk_kept2");
    const char *cp_plain2[] = {"cp", f, f_log, plain2, NULL};
    const char *cp_keep2[] = {"cp", "-a", f, f_log, kept2, NULL};
    char *plain3 = path_of("bk_plain3"), *plain3_f = path_of("bk_plain3/bk_data");
    char *plain3_log = log_of(plain3_f);
    mkdir_in("bk_plain3");
    const char *cp_plain3[] = {"cp", f, f_log, plain3, NULL};
    REQUIRE(run(cp_plain2) == 0);
    REQUIRE(run(cp_keep2) == 0);
    REQUIRE(run(cp_plain3) == 0);
    if (xattr_mode) {
        OPENS(kept2_f, expect, SIZE);
    } else {
        REFUSED(kept2_f, SNAP_E_MISMATCH); /* another inode, no xattr: not provable */
        CHECK(rebind(kept2_f) == 0);
        OPENS(kept2_f, expect, SIZE);
    }
    REFUSED(plain2_f, SNAP_E_MISMATCH);
    CHECK(rebind(plain2_f) == 0);
    OPENS(plain2_f, expect, SIZE);

    /* Restored in place, over the original (deleted), from a plain copy taken while the record
     * was pending: the same. */
    REQUIRE(unlink(f) == 0 && unlink(f_log) == 0);
    const char *restore[] = {"cp", plain3_f, plain3_log, dir, NULL};
    REQUIRE(run(restore) == 0);
    REFUSED(f, SNAP_E_MISMATCH);
    CHECK(rebind(f) == 0);
    OPENS(f, expect, SIZE);
    free(plain3), free(plain3_f), free(plain3_log);
    free(f), free(f_log), free(plain), free(kept), free(plain_f), free(kept_f);
    free(plain2), free(kept2), free(plain2_f), free(kept2_f);
    cases++;
}

/* Two copies of one region side by side (cp -a of both under new names): each uses its own log; a
 * record of one is never replayed onto the other. */
static void test_twins(void)
{
    uint8_t expect[SIZE], twin[SIZE];
    char *f = path_of("tw_data"), *g = path_of("tw_copy"), *f_log = log_of(f), *g_log = log_of(g);
    create_region(f, SIZE, 12, expect);
    memcpy(twin, expect, SIZE);
    const char *cp1[] = {"cp", "-a", f, g, NULL}, *cp2[] = {"cp", "-a", f_log, g_log, NULL};
    REQUIRE(run(cp1) == 0 && run(cp2) == 0);
    commit_lost_apply(g, 100, 100, 0xbc, twin);
    commit_lost_apply(f, 200, 100, 0xcc, expect);
    OPENS(f, expect, SIZE);
    OPENS(g, twin, SIZE);
    free(f), free(g), free(f_log), free(g_log);
    cases++;
}

/* The log gone: with an xattr the data file is known to have one, which could hold records the data
 * file lacks: refused until `snapshot rebind`. Without xattrs it cannot be known: adopted. */
static void test_missing_log(void)
{
    uint8_t expect[SIZE], before[SIZE];
    char *f = path_of("ml_data"), *f_log = log_of(f), *c = path_of("ml_copy");
    create_region(f, SIZE, 13, expect);
    memcpy(before, expect, SIZE);
    commit_lost_apply(f, 100, 100, 0xbd, expect);
    REQUIRE(unlink(f_log) == 0);
    if (xattr_mode) {
        REFUSED(f, SNAP_E_MISMATCH);
        CHECK(rebind(f) == 0); /* accept the data file's bytes as they are */
    }
    OPENS(f, before, SIZE);

    /* The data file copied alone, xattrs kept: its recorded log belongs to the original. */
    const char *cp[] = {"cp", "-a", f, c, NULL};
    REQUIRE(run(cp) == 0);
    if (xattr_mode) {
        REFUSED(c, SNAP_E_MISMATCH);
        CHECK(rebind(c) == 0);
    }
    OPENS(c, before, SIZE);
    OPENS(f, before, SIZE);

    /* Truncated to nothing and its log removed (Kyoto Cabinet on Snapshot does this when a
     * database is opened with OTRUNCATE): an empty file holds no committed byte, so it starts a new
     * region of the size asked for, whatever its stale xattr says. */
    REQUIRE(unlink(f_log) == 0);
    REQUIRE(truncate(f, 0) == 0);
    snap_options o = opts(0, SIZE);
    snap_region *r;
    int rc = snap_open(f, &o, &r);
    CHECK_RC(rc, 0);
    if (!rc) {
        const uint8_t *b = snap_base(r);
        int zeros = snap_size(r) == SIZE;
        for (uint64_t i = 0; zeros && i < SIZE; i++)
            zeros = b[i] == 0;
        CHECK(zeros);
        CHECK_RC(snap_close(r), 0);
    }
    free(f), free(f_log), free(c);
    cases++;
}

/* Header slots read raw (offsets of the format, both versions: magic 0, version 8, header_size 12,
 * seq 16, log_id 24), so that this file builds against a library of either format. */
#define SLOT 512
static void read_slots(const char *lp, uint8_t slots[2][SLOT])
{
    int fd = open(lp, O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(pread(fd, slots, 2 * SLOT, 0) == 2 * SLOT);
    close(fd);
}

static uint64_t u64_at(const uint8_t *p, size_t off)
{
    uint64_t v;
    memcpy(&v, p + off, 8);
    return v;
}

static int current_slot(uint8_t slots[2][SLOT])
{
    return u64_at(slots[1], 16) > u64_at(slots[0], 16);
}

/* Log id of a log file: the current header slot's. */
static uint64_t log_id_of(const char *lp)
{
    uint8_t slots[2][SLOT];
    read_slots(lp, slots);
    return u64_at(slots[current_slot(slots)], 24);
}

/* The states a crash during the binding can leave: the log bound first, the data file's xattr not
 * yet written (removed by hand), with and without a record pending; the xattr written but naming an
 * old place for the log. All open, replay, and leave the binding whole. */
static void test_binding_crash(void)
{
    uint8_t expect[SIZE];
    char *f = path_of("bc_data"), *f_log = log_of(f);
    create_region(f, SIZE, 15, expect);
    if (xattr_mode)
        CHECK(has_xattr(f));
    commit_lost_apply(f, 100, 100, 0xbe, expect);
    removexattr(f, XATTR);
    OPENS(f, expect, SIZE);
    if (xattr_mode)
        CHECK(has_xattr(f)); /* written again */
    removexattr(f, XATTR);
    OPENS(f, expect, SIZE);

    if (xattr_mode) {
        /* The xattr names the log's id but an old place (a move whose xattr update was lost). */
        char v[256];
        int n = snprintf(v, sizeof v, "v1 %016" PRIx64 " %s/nowhere/old.snaplog", log_id_of(f_log),
                         dir);
        REQUIRE(setxattr(f, XATTR, v, (size_t)n, 0) == 0);
        commit_lost_apply(f, 300, 100, 0xce, expect);
        OPENS(f, expect, SIZE);
        char now[512];
        ssize_t len = getxattr(f, XATTR, now, sizeof now - 1);
        CHECK(len > 0);
        now[len > 0 ? len : 0] = 0;
        char *canon = realpath(dir, NULL);
        REQUIRE(canon);
        char *want = test_path(canon, "bc_data.snaplog");
        CHECK(strstr(now, want) != NULL); /* the place fixed */
        free(canon), free(want);
    }
    free(f), free(f_log);
    cases++;
}

/* A log written before bindings existed (header format version 1: 64 bytes, the CRC at 56), with a
 * record pending, beside a data file without an xattr: trusted by its name as before, replayed, and
 * bound (version 2 header, xattr) by that open. */
static void test_legacy_log(void)
{
    uint8_t expect[SIZE];
    char *f = path_of("legacy_data"), *f_log = log_of(f);
    create_region(f, SIZE, 16, expect);
    commit_lost_apply(f, 700, 100, 0xbf, expect);
    uint8_t slots[2][SLOT];
    read_slots(f_log, slots);
    for (int i = 0; i < 2; i++) {
        uint8_t *h = slots[i];
        if (u64_at(h, 0) != 0x31474f4c50414e53ull) /* "SNAPLOG1" */
            continue;
        uint32_t version = 1, size = 64, reserved = 0;
        memcpy(h + 8, &version, 4);
        memcpy(h + 12, &size, 4);
        memset(h + 56, 0, SLOT - 56);
        uint32_t crc = snap_crc32c(0, h, 56);
        memcpy(h + 56, &crc, 4);
        memcpy(h + 60, &reserved, 4);
    }
    int fd = open(f_log, O_WRONLY | O_CLOEXEC);
    REQUIRE(fd >= 0 && pwrite(fd, slots, sizeof slots, 0) == (ssize_t)sizeof slots);
    close(fd);
    removexattr(f, XATTR);
    OPENS(f, expect, SIZE);
    read_slots(f_log, slots);
    uint32_t version;
    memcpy(&version, slots[current_slot(slots)] + 8, 4);
    CHECK(version == 2);
    if (xattr_mode)
        CHECK(has_xattr(f));
    commit_lost_apply(f, 900, 100, 0xcf, expect);
    OPENS(f, expect, SIZE);
    free(f), free(f_log);
    cases++;
}

/* SIGKILL while a child renames the data file alone, opens it (which moves the log and rewrites the
 * binding), commits and closes, again and again. The region left must hold the last acknowledged
 * commit or the one in flight. */
static void test_sigkill(void)
{
    long trials = test_env_long("SNAPSHOT_IDENTITY_KILLS", 12);
    char *names[2] = {path_of("kill_a"), path_of("kill_b")};
    create_region(names[0], SIZE, 0, NULL);
    { /* the counter in bytes 0..7 starts at 0: what a kill before the first commit leaves */
        snap_options o = opts(0, 0);
        snap_region *r;
        REQUIRE_OK(snap_open(names[0], &o, &r));
        memset(snap_base(r), 0, 8);
        REQUIRE_OK(snap_track_offset(r, 0, 8));
        REQUIRE_OK(snap_msync(r));
        REQUIRE_OK(snap_close(r));
    }
    struct test_rng rng;
    test_rng_seed(&rng, 7 + (uint64_t)xattr_mode);
    uint64_t acked = 0;
    for (long t = 0; t < trials; t++) {
        int cur = exists(names[0]) ? 0 : 1;
        int p[2];
        REQUIRE(pipe2(p, O_CLOEXEC) == 0);
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            for (uint64_t i = acked + 1;; i++) {
                if (i % 2 == 0) {
                    if (rename(names[cur], names[1 - cur]))
                        _exit(4);
                    cur ^= 1;
                }
                snap_options o = opts(0, 0);
                snap_region *r;
                int rc = snap_open(names[cur], &o, &r);
                if (rc) {
                    fprintf(stderr, "kill child: open %s: %s\n", names[cur], snap_strerror(rc));
                    _exit(2);
                }
                uint8_t *b = snap_base(r);
                memcpy(b, &i, 8);
                memset(b + 64 + (i % 500) * 64, (int)i, 64);
                if (snap_track_offset(r, 0, 8) || snap_track_offset(r, 64 + (i % 500) * 64, 64) ||
                    snap_msync(r))
                    _exit(3);
                if (write(p[1], &i, 8) != 8)
                    _exit(5);
                if (snap_close(r))
                    _exit(6);
            }
        }
        close(p[1]);
        struct timespec d = {0, (long)test_rng_below(&rng, 30) * 1000000L};
        nanosleep(&d, NULL);
        kill(pid, SIGKILL);
        int st;
        REQUIRE(waitpid(pid, &st, 0) == pid);
        if (!WIFSIGNALED(st)) {
            fprintf(stderr, "kill child exited with %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
            test_failures++;
            close(p[0]);
            break;
        }
        uint64_t v;
        while (read(p[0], &v, 8) == 8)
            acked = v;
        close(p[0]);
        int at = exists(names[0]) ? 0 : 1;
        CHECK(exists(names[at]) && !exists(names[1 - at]));
        snap_options o = opts(0, 0);
        snap_region *r;
        int rc = snap_open(names[at], &o, &r);
        if (rc) {
            fprintf(stderr, "%s:%d: [%s, %s] trial %ld: open after the kill: %s\n", __FILE__,
                    __LINE__, kind, xattr_mode ? "xattr" : "fallback", t, snap_strerror(rc));
            test_failures++;
            break;
        }
        uint64_t got;
        memcpy(&got, snap_base(r), 8);
        if (got != acked && got != acked + 1) {
            fprintf(stderr, "%s:%d: [%s, %s] trial %ld: recovered %" PRIu64 ", acknowledged %" PRIu64
                            "\n", __FILE__, __LINE__, kind, xattr_mode ? "xattr" : "fallback", t,
                    got, acked);
            test_failures++;
        }
        acked = got;
        CHECK_RC(snap_close(r), 0);
    }
    printf("  [%s, %s] %ld kills, %" PRIu64 " open-commit-close cycles (a rename before every "
           "second)\n", kind, xattr_mode ? "xattr" : "fallback", trials, acked);
    free(names[0]), free(names[1]);
    cases++;
}

/* ---- Main ------------------------------------------------------------------------------------- */

/* Can this directory's file system store a user xattr? */
static int fs_has_xattrs(void)
{
    char *p = path_of("xattr_probe");
    new_file(p, (const uint8_t *)"x", 1);
    int ok = setxattr(p, "user.snapshot.probe", "1", 1, 0) == 0;
    unlink(p);
    free(p);
    return ok;
}

int main(int argc, char **argv)
{
    cli = argc > 1 ? argv[1] : getenv("SNAPSHOT_CLI");
#ifdef SNAPSHOT_CLI_PATH
    if (!cli || !*cli)
        cli = SNAPSHOT_CLI_PATH;
#endif
    if (cli && access(cli, X_OK))
        cli = NULL;
    const char *kinds[] = {"disk", "shm"};
    for (int k = 0; k < 2; k++) {
        for (int mode = 1; mode >= 0; mode--) {
            kind = kinds[k];
            dir = test_tmpdir("identity", kind);
            xattr_mode = mode;
            if (mode && !fs_has_xattrs()) {
                printf("  [%s] the file system has no user xattrs: xattr mode skipped\n", kind);
                test_rmdir(dir);
                free(dir);
                continue;
            }
            snap_identity_no_xattr = !mode;
            test_symlink();
            test_hardlink();
            test_rename_alone();
            test_rename_both();
            test_stale_sidecar();
            test_foreign_log();
            test_backup_restore();
            test_twins();
            test_missing_log();
            test_binding_crash();
            test_legacy_log();
            test_sigkill();
            printf("  [%s, %s] done, %d failures so far\n", kind, mode ? "xattr" : "fallback",
                   test_failures);
            test_rmdir(dir);
            free(dir);
        }
    }
    return test_done("test_identity", cases);
}
