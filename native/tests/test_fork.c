/* test_fork.c — a region belongs to the process that opened it (snapshot.h, "Processes").
 *
 * A forked child shares the parent's open files (the flock()ed data file, the log and its cursor)
 * but not its memory. Before issue 12, a child's snap_msync() appended a record at the parent's
 * log cursor and its snap_close() checkpointed (a new log header): the parent's later records fell
 * outside the chain, and a crash lost commits the parent had acknowledged, while the child's stores
 * reached the data file. Now every call on the parent's region in a child returns SNAP_E_FORKED
 * and writes nothing; snap_close() there releases the child's copy only. Checked here:
 *
 *   - child calls: msync, grow, stats, track and close return SNAP_E_FORKED (a second close
 *     SNAP_E_CLOSED); stores into the child's copy (plain, snap_hook_store()) do not crash and stay
 *     private; neither file changes by a byte; the child can open and commit regions of its own, and
 *     a grandchild cannot use those. The parent keeps committing, is SIGKILLed right after its last
 *     acknowledgement, and a reopen finds every acknowledged commit and none of the child's stores
 *     (the apply is deferred, so only the log holds the parent's last records);
 *   - the lock: a forked child (no exec) that outlives the parent's snap_close() does not keep the
 *     region locked (the data file is mapped through a descriptor of its own, and the child's copy
 *     of the lock's descriptor is closed at fork); while the parent keeps it open, the child's own
 *     snap_open() of it gets SNAP_E_LOCKED;
 *   - exec: a child started with posix_spawn() or fork()+exec() holds no descriptor of the region,
 *     so the parent's close, or its death by SIGKILL, lets the next open in (no SNAP_E_LOCKED while
 *     the child lives);
 *   - a multi-threaded parent committing in three threads while the main thread forks: each child's
 *     calls return SNAP_E_FORKED, its close does not hang on locks or condition variables that the
 *     parent's threads held at fork (an alarm would kill it), and it can open a region of its own.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"
#include "testkit.h"

#define SIZE (64u << 10)

extern char **environ;

static char *dir;
static int cases;

static snap_options opts(uint32_t flags, uint64_t size)
{
    return (snap_options){.flags = flags, .backend = SNAP_BACKEND_FILE, .size = size,
                          .max_size = 4 * SIZE, .log_capacity = 1u << 20};
}

/* Fork; the child runs fn(arg) under an alarm (a hang is a failure) and exits 1 on a failed
 * check. Returns the child's wait status. Children of a multi-threaded parent leave by _exit():
 * LeakSanitizer would look for the parent's threads in them. */
static int in_child_exit(void (*fn)(void *), void *arg, int quick)
{
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        alarm(60);
        test_failures = 0; /* the child's own */
        fn(arg);
        fflush(NULL);
        if (quick)
            _exit(test_failures ? 1 : 0);
        exit(test_failures ? 1 : 0); /* not _exit: LeakSanitizer checks the child too */
    }
    int st;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    return st;
}

static int in_child(void (*fn)(void *), void *arg)
{
    return in_child_exit(fn, arg, 0);
}

static void check_child(const char *what, int st)
{
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "%s: the child failed (status 0x%x%s)\n", what, st,
                WIFSIGNALED(st) ? ", killed by a signal" : "");
        test_failures++;
    }
}

static void fill(snap_region *r, uint64_t off, uint64_t len, uint8_t v)
{
    uint8_t *b = snap_base(r);
    memset(b + off, v, len);
    CHECK_RC(snap_track(r, b + off, len), 0);
}

static int holds(const uint8_t *b, uint64_t off, uint64_t len, uint8_t v)
{
    for (uint64_t i = 0; i < len; i++)
        if (b[off + i] != v)
            return 0;
    return 1;
}

/* ---- Calls in a child ------------------------------------------------------------------------- */

struct child_case {
    const char *path, *log;
    snap_region *r;
    uint8_t *data, *logb; /* both files as they were at fork */
    size_t data_len, log_len;
};

static void grandchild_calls(void *arg)
{
    snap_region **rs = arg;
    CHECK_RC(snap_msync(rs[0]), SNAP_E_FORKED); /* the grandparent's */
    CHECK_RC(snap_msync(rs[1]), SNAP_E_FORKED); /* the child's own, opened after the first fork */
    CHECK_RC(snap_close(rs[1]), SNAP_E_FORKED);
}

static void child_calls(void *arg)
{
    struct child_case *c = arg;
    snap_region *r = c->r;
    uint8_t *b = snap_base(r); /* the child's copy stays readable and writable */
    CHECK(b != NULL && snap_size(r) == SIZE);
    CHECK(b && holds(b, 0, 64, 0xa1));
    /* Stores into the child's private copy: plain, through the hook, tracked by hand. */
    memset(b + 4096, 0xcc, 64);
    snap_hook_store(b + 4096, 8);
    snap_track_slow(b + 4096 + 64, 64);
    CHECK_RC(snap_track(r, b + 4096, 64), SNAP_E_FORKED);
    CHECK_RC(snap_track_offset(r, 4096, 64), SNAP_E_FORKED);
    CHECK_RC(snap_msync(r), SNAP_E_FORKED);
    CHECK_RC(snap_grow(r, 2 * SIZE), SNAP_E_FORKED);
    snap_stats st;
    CHECK_RC(snap_stats_get(r, &st), SNAP_E_FORKED);
    CHECK_RC(snap_msync(r), SNAP_E_FORKED);
    CHECK(holds(b, 4096, 64, 0xcc));
    /* The parent's region is locked by the parent: the child cannot open it either. */
    snap_options o = opts(SNAP_NO_CONCURRENT_WRITERS, 0);
    snap_region *again = NULL;
    CHECK_RC(snap_open(c->path, &o, &again), SNAP_E_LOCKED);
    /* Its own regions work, and belong to it: a grandchild cannot use them. */
    char *own_path = test_path(dir, "child-own");
    o = opts(SNAP_CREATE | SNAP_NO_CONCURRENT_WRITERS, SIZE);
    snap_region *own = NULL;
    CHECK_RC(snap_open(own_path, &o, &own), 0);
    if (own) {
        fill(own, 0, 128, 0x77);
        CHECK_RC(snap_msync(own), 0);
        snap_region *rs[2] = {r, own};
        check_child("grandchild", in_child(grandchild_calls, rs));
        fill(own, 128, 64, 0x78);
        CHECK_RC(snap_msync(own), 0); /* the grandchild's close did not touch it */
        CHECK_RC(snap_close(own), 0);
        CHECK_RC(snap_open(own_path, &o, &own), 0);
        if (own) {
            CHECK(holds(snap_base(own), 0, 128, 0x77) && holds(snap_base(own), 128, 64, 0x78));
            CHECK_RC(snap_close(own), 0);
        }
    }
    free(own_path);
    /* Close releases the child's copy and writes nothing. */
    CHECK_RC(snap_close(r), SNAP_E_FORKED);
    CHECK_RC(snap_close(r), SNAP_E_CLOSED);
    CHECK_RC(snap_msync(r), SNAP_E_CLOSED);
    CHECK(snap_base(r) == NULL);
    /* Nothing of the parent's files changed. */
    CHECK(test_file_equals(c->path, c->data, c->data_len));
    CHECK(test_file_equals(c->log, c->logb, c->log_len));
}

/* The worker: opens, commits, forks the child above, keeps committing, reports its check count
 * on `report` and kills itself right after its last acknowledged msync. */
static void worker_calls(const char *path, const char *log, int report)
{
    snap_commit_defer_apply = 1; /* the last records stay in the log only (commit.c, step 6) */
    snap_options o = opts(SNAP_CREATE | SNAP_NO_CONCURRENT_WRITERS, SIZE);
    snap_region *r;
    REQUIRE_OK(snap_open(path, &o, &r));
    fill(r, 0, 64, 0xa1);
    CHECK_RC(snap_msync(r), 0);
    struct child_case c = {.path = path, .log = log, .r = r};
    c.data = test_slurp(path, &c.data_len);
    c.logb = test_slurp(log, &c.log_len);
    check_child("child calls", in_child(child_calls, &c));
    CHECK(test_file_equals(path, c.data, c.data_len));
    CHECK(test_file_equals(log, c.logb, c.log_len));
    free(c.data);
    free(c.logb);
    uint8_t *b = snap_base(r);
    CHECK(holds(b, 4096, 128, 0)); /* the child's stores stayed in the child */
    fill(r, 8192, 64, 0xb2);
    CHECK_RC(snap_msync(r), 0); /* the parent keeps committing */
    fill(r, 12288, 256, 0xb3);
    CHECK_RC(snap_msync(r), 0);
    CHECK_RC(snap_grow(r, 2 * SIZE), 0);
    fill(r, SIZE + 64, 64, 0xb4);
    CHECK_RC(snap_msync(r), 0);
    int n = test_failures;
    REQUIRE(write(report, &n, sizeof n) == (ssize_t)sizeof n);
    raise(SIGKILL); /* a crash right after the acknowledgements */
}

static void test_child_calls(void)
{
    char *path = test_path(dir, "calls"), *log = test_path(dir, "calls.snaplog");
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    fflush(NULL);
    pid_t w = fork();
    REQUIRE(w >= 0);
    if (w == 0) {
        close(p[0]);
        test_failures = 0;
        worker_calls(path, log, p[1]);
        _exit(2); /* not reached */
    }
    close(p[1]);
    int n = -1, st;
    CHECK(read(p[0], &n, sizeof n) == (ssize_t)sizeof n && n == 0);
    close(p[0]);
    REQUIRE(waitpid(w, &st, 0) == w);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    snap_options o = opts(SNAP_NO_CONCURRENT_WRITERS, 0);
    snap_region *r;
    CHECK_RC(snap_open(path, &o, &r), 0);
    if (r) {
        const uint8_t *b = snap_base(r);
        CHECK(snap_size(r) == 2 * SIZE);
        CHECK(holds(b, 0, 64, 0xa1));
        CHECK(holds(b, 4096, 128, 0)); /* none of the child's stores */
        CHECK(holds(b, 8192, 64, 0xb2));
        CHECK(holds(b, 12288, 256, 0xb3));
        CHECK(snap_size(r) == 2 * SIZE && holds(b, SIZE + 64, 64, 0xb4));
        CHECK_RC(snap_close(r), 0);
    }
    free(path);
    free(log);
    cases++;
}

/* ---- The lock --------------------------------------------------------------------------------- */

static void wait_for_eof(void *arg)
{
    int fd = *(int *)arg;
    char c;
    while (read(fd, &c, 1) > 0)
        ;
}

/* A forked child that does nothing but live on. */
static void test_forked_child_lock(void)
{
    char *path = test_path(dir, "lock");
    snap_options o = opts(SNAP_CREATE | SNAP_NO_CONCURRENT_WRITERS, SIZE);
    snap_region *r;
    REQUIRE_OK(snap_open(path, &o, &r));
    fill(r, 0, 64, 0x31);
    CHECK_RC(snap_msync(r), 0);
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    fflush(NULL);
    pid_t c = fork();
    REQUIRE(c >= 0);
    if (c == 0) {
        close(p[1]);
        alarm(60);
        wait_for_eof(&p[0]);
        _exit(0);
    }
    close(p[0]);
    fill(r, 64, 64, 0x32);
    CHECK_RC(snap_msync(r), 0);
    CHECK_RC(snap_close(r), 0);
    o = opts(SNAP_NO_CONCURRENT_WRITERS, 0);
    CHECK_RC(snap_open(path, &o, &r), 0); /* the child still lives */
    if (r) {
        CHECK(holds(snap_base(r), 0, 64, 0x31) && holds(snap_base(r), 64, 64, 0x32));
        CHECK_RC(snap_close(r), 0);
    }
    close(p[1]);
    int st;
    REQUIRE(waitpid(c, &st, 0) == c);
    free(path);
    cases++;
}

static pid_t spawn_sleep(int use_fork)
{
    char *argv[] = {"sleep", "60", NULL};
    pid_t pid;
    if (!use_fork) {
        int rc = posix_spawn(&pid, "/bin/sleep", NULL, NULL, argv, environ);
        REQUIRE(rc == 0);
        return pid;
    }
    fflush(NULL);
    pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        execve("/bin/sleep", argv, environ);
        _exit(127);
    }
    return pid;
}

/* Descriptors of this process open on `path` or its log (same device and inode: a created data
 * file was opened unnamed, O_TMPFILE, so its descriptors do not carry the name), and how many of
 * them lack FD_CLOEXEC. */
static int count_fds(const char *path, int *without_cloexec)
{
    char log[PATH_MAX + 16];
    snprintf(log, sizeof log, "%s.snaplog", path);
    struct stat data_st, log_st, st;
    REQUIRE(stat(path, &data_st) == 0 && stat(log, &log_st) == 0);
    int n = 0;
    *without_cloexec = 0;
    for (int fd = 0; fd < 1024; fd++) {
        if (fstat(fd, &st) != 0)
            continue;
        if (!(st.st_dev == data_st.st_dev && st.st_ino == data_st.st_ino) &&
            !(st.st_dev == log_st.st_dev && st.st_ino == log_st.st_ino))
            continue;
        n++;
        if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC))
            ++*without_cloexec;
    }
    return n;
}

static void reap(pid_t pid)
{
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
}

/* The parent closes while the exec'd child lives. */
static void test_exec_then_close(int use_fork)
{
    char *path = test_path(dir, use_fork ? "exec-fork" : "exec-spawn");
    snap_options o = opts(SNAP_CREATE | SNAP_NO_CONCURRENT_WRITERS, SIZE);
    snap_region *r;
    REQUIRE_OK(snap_open(path, &o, &r));
    fill(r, 0, 64, 0x41);
    CHECK_RC(snap_msync(r), 0);
    int without;
    CHECK(count_fds(path, &without) >= 3); /* lock, data, log */
    CHECK(without == 0);
    pid_t s = spawn_sleep(use_fork);
    usleep(50000); /* let it exec */
    CHECK_RC(snap_close(r), 0);
    o = opts(SNAP_NO_CONCURRENT_WRITERS, 0);
    CHECK_RC(snap_open(path, &o, &r), 0);
    if (r) {
        CHECK(holds(snap_base(r), 0, 64, 0x41));
        CHECK_RC(snap_close(r), 0);
    }
    reap(s);
    free(path);
    cases++;
}

/* The parent dies (SIGKILL) while the exec'd child lives; a new process opens. */
static void test_exec_then_crash(int use_fork)
{
    char *path = test_path(dir, use_fork ? "crash-fork" : "crash-spawn");
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    fflush(NULL);
    pid_t w = fork();
    REQUIRE(w >= 0);
    if (w == 0) {
        close(p[0]);
        snap_options o = opts(SNAP_CREATE | SNAP_NO_CONCURRENT_WRITERS, SIZE);
        snap_region *r;
        REQUIRE_OK(snap_open(path, &o, &r));
        fill(r, 0, 64, 0x51);
        REQUIRE_OK(snap_msync(r));
        pid_t s = spawn_sleep(use_fork);
        REQUIRE(write(p[1], &s, sizeof s) == (ssize_t)sizeof s);
        usleep(50000);
        raise(SIGKILL);
        _exit(2);
    }
    close(p[1]);
    pid_t s = -1;
    int st;
    CHECK(read(p[0], &s, sizeof s) == (ssize_t)sizeof s);
    close(p[0]);
    REQUIRE(waitpid(w, &st, 0) == w);
    CHECK(s > 0 && kill(s, 0) == 0); /* the exec'd child lives on */
    snap_options o = opts(SNAP_NO_CONCURRENT_WRITERS, 0);
    snap_region *r;
    CHECK_RC(snap_open(path, &o, &r), 0);
    if (r) {
        CHECK(holds(snap_base(r), 0, 64, 0x51));
        CHECK_RC(snap_close(r), 0);
    }
    if (s > 0)
        reap(s);
    free(path);
    cases++;
}

/* ---- A multi-threaded parent ------------------------------------------------------------------ */

#define THREADS 3

struct committer {
    snap_region *r;
    int id;
    volatile int *stop;
    uint32_t last; /* last value acknowledged */
    int err;
};

static void *commit_loop(void *arg)
{
    struct committer *c = arg;
    uint8_t *b = snap_base(c->r);
    for (uint32_t v = 1; !__atomic_load_n(c->stop, __ATOMIC_ACQUIRE); v++) {
        uint32_t *slot = (uint32_t *)(b + 4096 * (c->id + 1));
        __atomic_store_n(slot, v, __ATOMIC_RELAXED);
        snap_hook_store(slot, sizeof *slot);
        int rc = snap_msync(c->r);
        if (rc) {
            c->err = rc;
            break;
        }
        c->last = v;
    }
    return NULL;
}

static void child_of_threads(void *arg)
{
    snap_region *r = arg;
    CHECK_RC(snap_msync(r), SNAP_E_FORKED);
    CHECK_RC(snap_close(r), SNAP_E_FORKED);
    char name[64];
    snprintf(name, sizeof name, "mt-child-%d", (int)getpid());
    char *p = test_path(dir, name);
    snap_options o = opts(SNAP_CREATE | SNAP_NO_CONCURRENT_WRITERS, SIZE);
    snap_region *own = NULL;
    CHECK_RC(snap_open(p, &o, &own), 0); /* the arena and its locks work in the child */
    if (own) {
        fill(own, 0, 64, 0x61);
        CHECK_RC(snap_msync(own), 0);
        CHECK_RC(snap_close(own), 0);
    }
    free(p);
}

static void test_threads(void)
{
    char *path = test_path(dir, "threads");
    snap_options o = opts(SNAP_CREATE, SIZE); /* concurrent writers: membarrier */
    snap_region *r;
    int rc = snap_open(path, &o, &r);
    if (rc == SNAP_E_NOMEMBARRIER) {
        o.flags |= SNAP_NO_CONCURRENT_WRITERS; /* the stores race with msync only on their lines */
        rc = snap_open(path, &o, &r);
    }
    REQUIRE_OK(rc);
    volatile int stop = 0;
    struct committer c[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        c[i] = (struct committer){.r = r, .id = i, .stop = &stop};
        REQUIRE(pthread_create(&t[i], NULL, commit_loop, &c[i]) == 0);
    }
    long forks = test_env_long("SNAPSHOT_FORK_TRIALS", 24);
    for (long i = 0; i < forks; i++) {
        usleep(2000);
        check_child("child of a multi-threaded parent", in_child_exit(child_of_threads, r, 1));
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        CHECK_RC(c[i].err, 0);
    }
    CHECK_RC(snap_close(r), 0);
    o = opts(SNAP_NO_CONCURRENT_WRITERS, 0);
    CHECK_RC(snap_open(path, &o, &r), 0);
    if (r) {
        for (int i = 0; i < THREADS; i++)
            CHECK(*(uint32_t *)((uint8_t *)snap_base(r) + 4096 * (i + 1)) == c[i].last);
        CHECK_RC(snap_close(r), 0);
    }
    free(path);
    cases++;
}

int main(void)
{
    dir = test_tmpdir("fork", "disk");
    test_child_calls();
    test_forked_child_lock();
    test_exec_then_close(0);
    test_exec_then_close(1);
    test_exec_then_crash(0);
    test_exec_then_crash(1);
    test_threads();
    if (!test_failures)
        test_rmdir(dir);
    free(dir);
    return test_done("test_fork", cases);
}
