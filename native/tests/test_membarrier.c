/* test_membarrier.c — where membarrier(2) cannot be used, concurrent writers are refused, not
 * silently unsafe (commit.c, "Racing stores"; snapshot.h, "Concurrent writers").
 *
 * msync clears the dirty bits, then issues membarrier() as a full fence on every thread before it
 * copies the lines: without it a racing store can be lost. Each case runs in a forked child that
 * installs a seccomp filter (raw BPF, no libseccomp) making membarrier() fail with EPERM or ENOSYS,
 * as some container profiles do; no other system call is denied, so that the sanitizers' runtimes
 * keep working. The child reports through its exit status.
 *
 *   denied:        every membarrier command fails (EPERM; ENOSYS). snap_open() with default flags
 *                  returns SNAP_E_NOMEMBARRIER before touching any file: a new data file and its
 *                  sidecar are not created, an existing file is not locked (the next open in the
 *                  same process succeeds) and gets no sidecar. With SNAP_NO_CONCURRENT_WRITERS the
 *                  open succeeds and msync commits (the parent reads the bytes back).
 *                  snap_recover() needs no membarrier.
 *   query only:    QUERY answers (with its full mask) but every command fails: the open must not
 *                  trust the mask alone.
 *   no expedited:  the private expedited commands fail, GLOBAL works: the open falls back to it and
 *                  msync commits.
 *   after open:    the process found membarrier usable at its first open (inherited across fork,
 *                  like the registration) and the filter arrives later, on one thread (a filter
 *                  is per thread): that thread's msync with dirty lines must fail
 *                  (SNAP_E_NOMEMBARRIER; -ENOMEM where the filter answers ENOMEM) instead of
 *                  copying them unfenced, and commit nothing. The failure is transient (issue 12;
 *                  before, the region refused every later commit, SNAP_E_PANIC): the region stays
 *                  open, the lines stay marked, and an msync from the main thread commits them.
 *   available:     here membarrier works: a default open succeeds and msync commits.
 *
 * Before the fix, the open of "denied" and "query only" returned 0 (the commit then used a plain
 * fence, which does not order the writers' store-then-load) and the "after open" msync returned 0.
 *
 * Order matters: the library probes membarrier once per process, so the denied cases run in
 * children forked before the parent's first default open, and "after open" in one forked after it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/membarrier.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

#if defined(__x86_64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TEST_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#define SIZE (64u << 10)

static char *dir;

/* ---- The filter ------------------------------------------------------------------------------ */

enum deny { DENY_ALL, DENY_ALL_BUT_QUERY, DENY_EXPEDITED };

static long membarrier(int cmd)
{
    return syscall(__NR_membarrier, cmd, 0, 0);
}

#ifdef TEST_AUDIT_ARCH
#define LD_W(off) ((struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off)))
#define JEQ(k, jt, jf) ((struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (k), (jt), (jf)))
#define RET(k) ((struct sock_filter)BPF_STMT(BPF_RET | BPF_K, (k)))

/* membarrier(cmd, ...) returns -1 with errno `err` for the commands `what` names; every other
 * system call, and the other commands, are allowed. */
static void deny_membarrier(enum deny what, int err)
{
    const __u32 fail = SECCOMP_RET_ERRNO | ((__u32)err & SECCOMP_RET_DATA);
    /* args[0] is a 64-bit slot; the command is an int: its low half (little-endian). */
    const __u32 cmd_off = offsetof(struct seccomp_data, args[0]);
    struct sock_filter f[16];
    unsigned n = 0;
    f[n++] = LD_W(offsetof(struct seccomp_data, arch));
    f[n++] = JEQ(TEST_AUDIT_ARCH, 1, 0);
    f[n++] = RET(SECCOMP_RET_ALLOW);
    f[n++] = LD_W(offsetof(struct seccomp_data, nr));
    f[n++] = JEQ(__NR_membarrier, 1, 0);
    f[n++] = RET(SECCOMP_RET_ALLOW);
    switch (what) {
    case DENY_ALL:
        f[n++] = RET(fail);
        break;
    case DENY_ALL_BUT_QUERY:
        f[n++] = LD_W(cmd_off);
        f[n++] = JEQ(MEMBARRIER_CMD_QUERY, 0, 1);
        f[n++] = RET(SECCOMP_RET_ALLOW);
        f[n++] = RET(fail);
        break;
    case DENY_EXPEDITED:
        f[n++] = LD_W(cmd_off);
        f[n++] = JEQ(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 2, 0);
        f[n++] = JEQ(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 1, 0);
        f[n++] = RET(SECCOMP_RET_ALLOW);
        f[n++] = RET(fail);
        break;
    }
    struct sock_fprog prog = {.len = (unsigned short)n, .filter = f};
    REQUIRE(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
    REQUIRE(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == 0);

    /* The filter does what it says, and nothing more. */
    errno = 0;
    long q = membarrier(MEMBARRIER_CMD_QUERY);
    if (what == DENY_ALL)
        REQUIRE(q == -1 && errno == err);
    else
        REQUIRE(q > 0 && (q & MEMBARRIER_CMD_GLOBAL));
    errno = 0;
    REQUIRE(membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == -1 && errno == err);
    if (what == DENY_EXPEDITED)
        REQUIRE(membarrier(MEMBARRIER_CMD_GLOBAL) == 0);
    REQUIRE(getppid() > 1 && syscall(SYS_getpid) == getpid());
}
#endif

/* Run fn in a forked child; its failures fail the test. */
static void in_child(const char *what, void (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        test_failures = 0; /* the child's own */
        fn(arg);
        fflush(NULL);
        exit(test_failures ? 1 : 0); /* not _exit: LeakSanitizer checks the child too */
    }
    int st;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "%s: the child failed (status 0x%x)\n", what, st);
        test_failures++;
    }
}

/* ---- Files ----------------------------------------------------------------------------------- */

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

/* A data file of SIZE bytes of `fill`, without a sidecar, written with plain I/O (no snap_open()
 * in the parent before the denied cases). */
static char *plain_file(const char *name, int fill)
{
    char *path = test_path(dir, name);
    static uint8_t buf[SIZE];
    memset(buf, fill, sizeof buf);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0 && write(fd, buf, sizeof buf) == (ssize_t)sizeof buf && close(fd) == 0);
    return path;
}

static snap_options file_opts(uint32_t flags)
{
    return (snap_options){.flags = flags, .backend = SNAP_BACKEND_FILE, .size = SIZE};
}

/* Store `v` over [off, off+len), track it and commit. */
static int store_and_msync(snap_region *r, uint64_t off, size_t len, int v)
{
    uint8_t *p = (uint8_t *)snap_base(r) + off;
    memset(p, v, len);
    int rc = snap_track(r, p, len);
    return rc ? rc : snap_msync(r);
}

/* ---- Cases ----------------------------------------------------------------------------------- */

struct denied_case {
    enum deny what;
    int err;
    char *existing; /* a plain data file of 0x11 bytes */
    char *fresh;    /* a path where nothing exists */
};

#ifdef TEST_AUDIT_ARCH
static void child_denied(void *arg)
{
    const struct denied_case *c = arg;
    deny_membarrier(c->what, c->err);
    char *ex_log = log_of(c->existing), *fr_log = log_of(c->fresh);
    snap_region *r = (snap_region *)1;

    /* (a) Default flags: refused, and before any file is touched. */
    snap_options o = file_opts(SNAP_CREATE);
    CHECK_RC(snap_open(c->fresh, &o, &r), SNAP_E_NOMEMBARRIER);
    CHECK(r == NULL);
    CHECK(!exists(c->fresh) && !exists(fr_log));
    o = file_opts(0);
    CHECK_RC(snap_open(c->existing, &o, &r), SNAP_E_NOMEMBARRIER);
    CHECK_RC(snap_open(c->existing, NULL, &r), SNAP_E_NOMEMBARRIER); /* and again: no retry luck */
    CHECK(r == NULL);
    CHECK(!exists(ex_log));
    CHECK(test_committed_holds(c->existing, 0, 4096, 0x11));
    CHECK_RC(snap_recover(c->existing, &o), 0); /* maps nothing: needs no membarrier */

    /* (b) SNAP_NO_CONCURRENT_WRITERS needs no membarrier: the open succeeds (so the failed ones
     * left no lock behind) and msync commits. */
    o = file_opts(SNAP_NO_CONCURRENT_WRITERS);
    REQUIRE_OK(snap_open(c->existing, &o, &r));
    CHECK_RC(store_and_msync(r, 4096, 200, 0x22), 0);
    snap_stats st;
    CHECK(snap_stats_get(r, &st) == 0 && st.commits == 1);
    CHECK_RC(snap_close(r), 0);
    CHECK(test_committed_holds(c->existing, 4096, 200, 0x22));
    o = file_opts(SNAP_CREATE | SNAP_NO_CONCURRENT_WRITERS);
    REQUIRE_OK(snap_open(c->fresh, &o, &r));
    CHECK_RC(store_and_msync(r, 0, 64, 0x33), 0);
    CHECK_RC(snap_close(r), 0);
    free(ex_log);
    free(fr_log);
}

/* No expedited commands, GLOBAL allowed: the open falls back to GLOBAL and msync commits. */
static void child_global(void *arg)
{
    const struct denied_case *c = arg;
    deny_membarrier(DENY_EXPEDITED, c->err);
    snap_options o = file_opts(0);
    snap_region *r;
    REQUIRE_OK(snap_open(c->existing, &o, &r));
    CHECK_RC(store_and_msync(r, 8192, 100, 0x44), 0);
    CHECK_RC(snap_close(r), 0);
    CHECK(test_committed_holds(c->existing, 8192, 100, 0x44));
}

struct denied_thread {
    snap_region *r;
    int err;        /* the filter's errno */
    uint64_t off;   /* where this thread stores */
    int v;
};

/* On a thread of its own: the filter, then the msyncs it makes fail. */
static void *msync_denied(void *arg)
{
    struct denied_thread *d = arg;
    deny_membarrier(DENY_ALL, d->err);
    int want = d->err == ENOMEM ? -ENOMEM : SNAP_E_NOMEMBARRIER;
    CHECK_RC(store_and_msync(d->r, d->off, 64, d->v), want);
    CHECK_RC(snap_msync(d->r), want); /* again, not SNAP_E_PANIC: the region stays open */
    return NULL;
}

/* The parent has opened a region (membarrier found usable, registration inherited); the filter
 * arrives after this child's open, on one thread. */
static void child_after_open(void *arg)
{
    const char *path = arg;
    snap_options o = file_opts(0);
    snap_region *r;
    REQUIRE_OK(snap_open(path, &o, &r));
    CHECK_RC(store_and_msync(r, 0, 64, 0x55), 0); /* membarrier still allowed here */
    struct denied_thread d[2] = {{r, EPERM, 64, 0x66}, {r, ENOMEM, 128, 0x67}};
    for (int i = 0; i < 2; i++) {
        pthread_t t;
        REQUIRE(pthread_create(&t, NULL, msync_denied, &d[i]) == 0);
        REQUIRE(pthread_join(t, NULL) == 0);
        CHECK(test_committed_holds(path, 0, 64, 0x55));
        CHECK(test_committed_holds(path, d[i].off, 64, 0x11)); /* nothing of the failed msync reached it */
        CHECK_RC(snap_msync(r), 0); /* this thread's membarrier works: the marked lines commit */
        CHECK(test_committed_holds(path, d[i].off, 64, d[i].v));
    }
    CHECK_RC(snap_close(r), 0);
    CHECK(test_committed_holds(path, 64, 64, 0x66) && test_committed_holds(path, 128, 64, 0x67));
}
#endif

static void test_denied(enum deny what, int err, const char *name)
{
#ifdef TEST_AUDIT_ARCH
    struct denied_case c = {what, err, plain_file(name, 0x11), NULL};
    char fresh[64];
    snprintf(fresh, sizeof fresh, "%s.new", name);
    c.fresh = test_path(dir, fresh);
    in_child(name, child_denied, &c);
    /* The child's failed opens left nothing behind; its NO_CONCURRENT_WRITERS commits are there. */
    snap_options o = file_opts(SNAP_NO_CONCURRENT_WRITERS);
    snap_region *r;
    REQUIRE_OK(snap_open(c.existing, &o, &r));
    CHECK(((uint8_t *)snap_base(r))[4096] == 0x22 && ((uint8_t *)snap_base(r))[4095] == 0x11);
    CHECK_RC(snap_close(r), 0);
    REQUIRE_OK(snap_open(c.fresh, &o, &r));
    CHECK(((uint8_t *)snap_base(r))[63] == 0x33 && ((uint8_t *)snap_base(r))[64] == 0);
    CHECK_RC(snap_close(r), 0);
    free(c.existing);
    free(c.fresh);
#else
    (void)what, (void)err;
    printf("%s: skipped (no seccomp filter for this architecture)\n", name);
#endif
}

static void test_global_fallback(void)
{
#ifdef TEST_AUDIT_ARCH
    if (!(membarrier(MEMBARRIER_CMD_QUERY) & MEMBARRIER_CMD_GLOBAL)) {
        printf("global fallback: skipped (no MEMBARRIER_CMD_GLOBAL here, e.g. nohz_full)\n");
        return;
    }
    struct denied_case c = {DENY_EXPEDITED, EPERM, plain_file("global", 0x11), NULL};
    in_child("global fallback", child_global, &c);
    free(c.existing);
#endif
}

/* With membarrier working (the normal case), a default open succeeds and msync commits. Where the
 * machine running the test denies it, the open must say so instead. */
static void test_available(void)
{
    char *path = plain_file("available", 0x11);
    long q = membarrier(MEMBARRIER_CMD_QUERY);
    int usable = q > 0 && (q & (MEMBARRIER_CMD_PRIVATE_EXPEDITED | MEMBARRIER_CMD_GLOBAL));
    snap_options o = file_opts(0);
    snap_region *r;
    if (!usable) {
        printf("available: membarrier is not usable on this machine (QUERY %ld)\n", q);
        CHECK_RC(snap_open(path, &o, &r), SNAP_E_NOMEMBARRIER);
        free(path);
        return;
    }
    REQUIRE_OK(snap_open(path, &o, &r));
    CHECK_RC(store_and_msync(r, 0, 4096, 0x77), 0);
    CHECK_RC(snap_close(r), 0);
    CHECK(test_committed_holds(path, 0, 4096, 0x77));
#ifdef TEST_AUDIT_ARCH
    char *after = plain_file("after-open", 0x11);
    in_child("after open", child_after_open, after);
    /* The failed commits' lines reached the files by the retries that followed them. */
    REQUIRE_OK(snap_open(after, &o, &r));
    CHECK(((uint8_t *)snap_base(r))[0] == 0x55 && ((uint8_t *)snap_base(r))[64] == 0x66 &&
          ((uint8_t *)snap_base(r))[128] == 0x67 && ((uint8_t *)snap_base(r))[192] == 0x11);
    CHECK_RC(snap_close(r), 0);
    free(after);
#endif
    free(path);
}

int main(void)
{
    dir = test_tmpdir("membarrier", "disk");
    /* Before the parent's first default open (see the order note at the top). */
    test_denied(DENY_ALL, EPERM, "eperm");
    test_denied(DENY_ALL, ENOSYS, "enosys");
    test_denied(DENY_ALL_BUT_QUERY, EPERM, "query-only");
    test_global_fallback();
    test_available();
    test_rmdir(dir);
    free(dir);
    return test_done("test_membarrier", 6);
}
