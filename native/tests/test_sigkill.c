/* test_sigkill.c — the SIGKILL campaign on real back ends: a child process commits epoch after epoch
 * and is killed at a random instant (during open and recovery too); the region it leaves must hold
 * exactly the last acknowledged epoch or the one after it, byte for byte.
 *
 * The child (this executable re-run with "child ...", so it is a fresh process) opens the region,
 * reads the epoch E in bytes 0..7 and loops: e = E+1; apply the writes of epoch e (1..64 writes at
 * offsets and lengths drawn from a generator seeded by (seed, e) only, some spanning hundreds of
 * lines), snap_track() each, store e in bytes 0..7, snap_msync(), then write "e\n" to a pipe: the
 * acknowledgement. Before snap_open() it writes "o\n"; the parent's random delay (0..50 ms, a
 * quarter of the trials under 1 ms) starts there, so kills land in open and recovery as well.
 *
 * The parent kills the child with SIGKILL, reads every acknowledgement, and checks the files the
 * kill left: the epoch E recovered must be `acked` or `acked + 1` (acked = the last acknowledgement,
 * or the previous trial's epoch if none came), the first acknowledgement must follow the previous
 * trial's epoch (the child recovered the same state), and the whole region must equal the model
 * image of epoch E, which the parent rebuilds by replaying the generator. Three trials in four it
 * checks a copy of the files, so the next child starts on a log that still needs recovery (and may
 * be killed during it); one in four it opens and closes the files themselves.
 *
 * Media: a file on /dev/shm with PMEM_IS_PMEM_FORCE=1 in the child's environment and
 * SNAP_BACKEND_PMEM, and a file under SNAPSHOT_TEST_TMP with SNAP_BACKEND_FILE. The parent always
 * recovers with SNAP_BACKEND_FILE (libpmem reads PMEM_IS_PMEM_FORCE when it loads).
 *
 * Environment: SNAPSHOT_KILL_TRIALS (per medium, default 250), SNAPSHOT_KILL_SEED (default 1),
 * SNAPSHOT_KILL_MAX_DELAY_US (default 50000), SNAPSHOT_KILL_MEDIA ("shm", "disk" or "both").
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"

#define ACK_FD 3
#define LOG_CAPACITY (128u << 10) /* small: checkpoints and log growth happen in the campaign */

/* ---- The workload: a deterministic function of (seed, epoch) ----------------------------------- */

static void gen_seed(struct test_rng *g, uint64_t seed, uint64_t e)
{
    test_rng_seed(g, seed * 0x9e3779b97f4a7c15ull ^ e * 0xd1b54a32d192ed03ull ^ 0x51c4111ull);
}

/* Apply epoch e's writes to img (size bytes); with r, track each one. 0 or the first track error. */
static int apply_epoch(uint8_t *img, uint64_t size, uint64_t seed, uint64_t e, snap_region *r)
{
    struct test_rng g;
    gen_seed(&g, seed, e);
    unsigned n = 1 + (unsigned)test_rng_below(&g, 64);
    int rc = 0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t k = test_rng_below(&g, 16);
        uint64_t len = 1 + test_rng_below(&g, k == 0 ? 32768 : k < 3 ? 2048 : 256);
        if (len > size - 8)
            len = size - 8;
        uint64_t off = 8 + test_rng_below(&g, size - 8 - len + 1);
        for (uint64_t j = 0; j < len; j += 8) {
            uint64_t x = test_rng_next(&g);
            memcpy(img + off + j, &x, len - j < 8 ? len - j : 8);
        }
        if (r && !rc)
            rc = snap_track(r, img + off, len);
    }
    memcpy(img, &e, 8); /* the epoch, last */
    if (r && !rc)
        rc = snap_track(r, img, 8);
    return rc;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- Child ------------------------------------------------------------------------------------ */

static int write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w, n -= (size_t)w;
    }
    return 0;
}

/* child PATH BACKEND SIZE SEED: runs until killed (or 60 s, or its parent dies). */
static int child_main(int argc, char **argv)
{
    if (argc != 6)
        return 2;
    const char *path = argv[2];
    snap_options o = {
        .flags = SNAP_CREATE | SNAP_NO_CONCURRENT_WRITERS,
        .backend = (enum snap_backend_kind)strtol(argv[3], NULL, 0),
        .size = strtoull(argv[4], NULL, 0),
        .log_capacity = LOG_CAPACITY,
    };
    uint64_t seed = strtoull(argv[5], NULL, 0);
    if (write_all(ACK_FD, "o\n", 2))
        return 3;
    snap_region *r;
    int rc = snap_open(path, &o, &r);
    if (rc) {
        fprintf(stderr, "sigkill child: snap_open(%s): %s\n", path, snap_strerror(rc));
        return 4;
    }
    uint8_t *base = snap_base(r);
    uint64_t e;
    memcpy(&e, base, 8);
    uint64_t t0 = now_us();
    for (;;) {
        e++;
        rc = apply_epoch(base, o.size, seed, e, r);
        if (!rc)
            rc = snap_msync(r);
        if (rc) {
            fprintf(stderr, "sigkill child: epoch %llu: %s\n", (unsigned long long)e,
                    snap_strerror(rc));
            return 5;
        }
        char line[32];
        int n = snprintf(line, sizeof line, "%llu\n", (unsigned long long)e);
        if (write_all(ACK_FD, line, (size_t)n))
            return 6;
        if ((e & 63) == 0 && now_us() - t0 > 60000000u)
            return 7; /* never meant to get here: the parent kills us within 50 ms */
    }
}

/* ---- Parent ----------------------------------------------------------------------------------- */

struct medium {
    const char *name, *kind; /* kind: test_tmpdir() "shm" or "disk" */
    enum snap_backend_kind backend;
    uint64_t size;
    int pmem_force;
};

struct totals {
    long trials, recovered_acked, recovered_next, before_first_ack, in_place;
    uint64_t epochs;
};

static pid_t spawn_child(const struct medium *m, const char *path, uint64_t seed, int *ack_fd)
{
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    pid_t parent = getpid();
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(9);
        if (p[1] == ACK_FD)
            fcntl(ACK_FD, F_SETFD, 0);
        else if (dup2(p[1], ACK_FD) < 0)
            _exit(8);
        if (m->pmem_force)
            setenv("PMEM_IS_PMEM_FORCE", "1", 1);
        else
            unsetenv("PMEM_IS_PMEM_FORCE");
        char b[16], s[32], sd[32];
        snprintf(b, sizeof b, "%d", (int)m->backend);
        snprintf(s, sizeof s, "%llu", (unsigned long long)m->size);
        snprintf(sd, sizeof sd, "%llu", (unsigned long long)seed);
        char *args[] = {"test_sigkill", "child", (char *)path, b, s, sd, NULL};
        execv("/proc/self/exe", args);
        _exit(10);
    }
    close(p[1]);
    *ack_fd = p[0];
    return pid;
}

struct acks {
    char buf[64];
    size_t len;
    int opened;       /* "o" seen */
    uint64_t first, last, count;
    int bad;          /* a line that is neither "o" nor the next number */
};

static void acks_feed(struct acks *a, const char *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (data[i] != '\n') {
            if (a->len < sizeof a->buf - 1)
                a->buf[a->len++] = data[i];
            continue;
        }
        a->buf[a->len] = 0;
        a->len = 0;
        if (strcmp(a->buf, "o") == 0 && !a->opened && !a->count) {
            a->opened = 1;
            continue;
        }
        char *end;
        uint64_t e = strtoull(a->buf, &end, 10);
        if (!a->opened || *end || end == a->buf || (a->count && e != a->last + 1)) {
            a->bad = 1;
            continue;
        }
        if (!a->count)
            a->first = e;
        a->last = e;
        a->count++;
    }
}

/* Read what is there until the deadline (us, monotonic), or until `until_open` and "o" seen, or
 * EOF. Returns 1 at EOF. */
static int acks_read(struct acks *a, int fd, uint64_t deadline, int until_open)
{
    char data[4096];
    for (;;) {
        if (until_open && a->opened)
            return 0;
        uint64_t now = now_us();
        int timeout = deadline == UINT64_MAX ? -1 : now >= deadline ? 0 : (int)((deadline - now + 999) / 1000);
        if (deadline != UINT64_MAX && now >= deadline)
            return 0;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int n = poll(&pfd, 1, timeout);
        if (n < 0 && errno == EINTR)
            continue;
        REQUIRE(n >= 0);
        if (n == 0)
            continue; /* the loop re-checks the deadline */
        ssize_t got = read(fd, data, sizeof data);
        if (got < 0 && errno == EINTR)
            continue;
        REQUIRE(got >= 0);
        if (got == 0)
            return 1;
        acks_feed(a, data, (size_t)got);
    }
}

static void busy_wait_us(uint64_t us)
{
    uint64_t end = now_us() + us;
    while (now_us() < end)
        ;
}

static void copy_file(const char *from, const char *to)
{
    unlink(to);
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        REQUIRE(errno == ENOENT);
        return;
    }
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    REQUIRE(out >= 0);
    static char buf[1 << 16];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        REQUIRE(n >= 0);
        if (n == 0)
            break;
        REQUIRE(write(out, buf, (size_t)n) == n);
    }
    /* And its extended attributes, as cp -a does: the data file's user.snapshot.log binds it to
     * its log, and a copy without it whose log holds records cannot be told from another file
     * beside that log (SNAP_E_MISMATCH; native/src/identity.h). */
    char names[1024], val[4096];
    ssize_t len = flistxattr(in, names, sizeof names);
    for (ssize_t i = 0; i < len; i += (ssize_t)strlen(names + i) + 1) {
        ssize_t v = fgetxattr(in, names + i, val, sizeof val);
        REQUIRE(v >= 0 && fsetxattr(out, names + i, val, (size_t)v, 0) == 0);
    }
    close(in);
    close(out);
}

static long first_difference(const uint8_t *a, const uint8_t *b, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return (long)i;
    return -1;
}

/* One medium's campaign. Returns 0, or -1 after a failure (later trials would only repeat it). */
static int run_medium(const struct medium *m, long trials, uint64_t seed, uint64_t max_delay,
                      struct totals *tot)
{
    char *dir = test_tmpdir("sigkill", m->kind);
    char *path = test_path(dir, "region"), *vpath = test_path(dir, "verify");
    char *log_path, *vlog_path;
    REQUIRE(asprintf(&log_path, "%s.snaplog", path) > 0 && asprintf(&vlog_path, "%s.snaplog", vpath) > 0);
    uint64_t size = m->size;
    uint8_t *model = calloc(1, size), *next = malloc(size), *got = malloc(size);
    REQUIRE(model && next && got);
    uint64_t committed = 0; /* the epoch the files hold, as the last check found */
    struct test_rng rng;
    test_rng_seed(&rng, seed ^ 0xc0ffee);
    int failed = 0;
    long t;
    uint64_t t0 = now_us();
    for (t = 0; t < trials && !failed; t++) {
        int fd;
        pid_t pid = spawn_child(m, path, seed, &fd);
        struct acks a = {0};
        int eof = acks_read(&a, fd, now_us() + 20000000u, 1); /* wait for "o" (exec, start-up) */
        uint64_t delay;
        switch (test_rng_below(&rng, 8)) {
        case 0: delay = 0; break;
        case 1: delay = test_rng_below(&rng, 1000); break;
        case 2: delay = test_rng_below(&rng, 5000); break;
        default: delay = test_rng_below(&rng, max_delay + 1);
        }
        if (!eof) {
            if (delay < 2000)
                busy_wait_us(delay); /* sub-millisecond precision, for kills inside open */
            else
                eof = acks_read(&a, fd, now_us() + delay, 0);
        }
        kill(pid, SIGKILL);
        if (!eof)
            acks_read(&a, fd, UINT64_MAX, 0);
        close(fd);
        int status;
        REQUIRE(waitpid(pid, &status, 0) == pid);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
            fprintf(stderr, "sigkill %s trial %ld: the child ended by itself (status 0x%x) before "
                            "the kill\n", m->name, t, status);
            test_failures++;
            failed = 1;
            break;
        }
        if (!a.opened || a.bad) {
            fprintf(stderr, "sigkill %s trial %ld: malformed acknowledgements\n", m->name, t);
            test_failures++;
            failed = 1;
            break;
        }
        if (a.count && a.first != committed + 1) {
            fprintf(stderr, "sigkill %s trial %ld: the child's first epoch was %llu, but the files "
                            "held epoch %llu when it started\n", m->name, t,
                    (unsigned long long)a.first, (unsigned long long)committed);
            test_failures++;
            failed = 1;
            break;
        }
        uint64_t acked = a.count ? a.last : committed;

        /* Check the files the kill left: a copy of them (the next child then recovers the
         * originals), or one in four times the files themselves. */
        int in_place = test_rng_below(&rng, 4) == 0;
        const char *check_path = path;
        if (!in_place) {
            copy_file(path, vpath);
            copy_file(log_path, vlog_path);
            check_path = vpath;
        }
        snap_options o = {
            .flags = SNAP_CREATE | SNAP_NO_CONCURRENT_WRITERS,
            .backend = SNAP_BACKEND_FILE,
            .size = size,
            .log_capacity = LOG_CAPACITY,
        };
        snap_region *r;
        int rc = snap_open(check_path, &o, &r);
        if (rc) {
            fprintf(stderr, "sigkill %s trial %ld: recovery failed: %s (acked %llu)\n", m->name, t,
                    snap_strerror(rc), (unsigned long long)acked);
            test_failures++;
            failed = 1;
            break;
        }
        memcpy(got, snap_base(r), size);
        CHECK_RC(snap_close(r), 0);
        uint64_t e;
        memcpy(&e, got, 8);
        /* Model images for acked and acked + 1, from the last checked epoch. */
        for (uint64_t k = committed + 1; k <= acked; k++)
            apply_epoch(model, size, seed, k, NULL);
        memcpy(next, model, size);
        apply_epoch(next, size, seed, acked + 1, NULL);
        const uint8_t *want = e == acked ? model : e == acked + 1 ? next : NULL;
        if (!want) {
            fprintf(stderr, "sigkill %s trial %ld: recovered epoch %llu, acknowledged %llu "
                            "(%llu acks this trial)\n", m->name, t, (unsigned long long)e,
                    (unsigned long long)acked, (unsigned long long)a.count);
            test_failures++;
            failed = 1;
            break;
        }
        long diff = first_difference(got, want, size);
        if (diff >= 0) {
            fprintf(stderr, "sigkill %s trial %ld: epoch %llu recovered (acked %llu) but byte %ld "
                            "is 0x%02x, the model has 0x%02x\n", m->name, t, (unsigned long long)e,
                    (unsigned long long)acked, diff, got[diff], want[diff]);
            test_failures++;
            failed = 1;
            break;
        }
        if (want == next) {
            uint8_t *x = model;
            model = next, next = x;
            tot->recovered_next++;
        } else {
            tot->recovered_acked++;
        }
        tot->epochs += e - committed;
        committed = e;
        tot->before_first_ack += a.count == 0;
        tot->in_place += in_place;
        tot->trials++;
        if (trials >= 10 && (t + 1) % (trials / 10) == 0)
            fprintf(stderr, "sigkill %s: %ld/%ld trials, epoch %llu, %.1f s\n", m->name, t + 1,
                    trials, (unsigned long long)committed, (double)(now_us() - t0) / 1e6);
    }
    if (!failed)
        test_rmdir(dir);
    else
        fprintf(stderr, "sigkill %s: files kept in %s\n", m->name, dir);
    free(model), free(next), free(got);
    free(log_path), free(vlog_path), free(path), free(vpath), free(dir);
    return failed ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "child") == 0)
        return child_main(argc, argv);
    long trials = test_env_long("SNAPSHOT_KILL_TRIALS", 250);
    uint64_t seed = (uint64_t)test_env_long("SNAPSHOT_KILL_SEED", 1);
    uint64_t max_delay = (uint64_t)test_env_long("SNAPSHOT_KILL_MAX_DELAY_US", 50000);
    const char *media = getenv("SNAPSHOT_KILL_MEDIA");
    if (!media || !*media)
        media = "both";
    static const struct medium mediums[] = {
        {"shm/pmem", "shm", SNAP_BACKEND_PMEM, 1u << 20, 1},
        {"disk/file", "disk", SNAP_BACKEND_FILE, (256u << 10) + 4000, 0},
    };
    struct totals all = {0};
    for (size_t i = 0; i < sizeof mediums / sizeof mediums[0]; i++) {
        const struct medium *m = &mediums[i];
        if (strcmp(media, "both") != 0 && strcmp(media, m->kind) != 0)
            continue;
        struct totals tot = {0};
        run_medium(m, trials, seed + i, max_delay, &tot);
        printf("sigkill %s: %ld trials, %llu epochs committed; recovered the acked epoch %ld times, "
               "acked+1 %ld times; %ld kills before the first ack; %ld checked in place\n",
               m->name, tot.trials, (unsigned long long)tot.epochs, tot.recovered_acked,
               tot.recovered_next, tot.before_first_ack, tot.in_place);
        all.trials += tot.trials;
        all.recovered_acked += tot.recovered_acked;
        all.recovered_next += tot.recovered_next;
        all.before_first_ack += tot.before_first_ack;
        all.epochs += tot.epochs;
    }
    printf("sigkill: %ld trials: %ld recovered the acked epoch, %ld acked+1; %ld kills landed before "
           "the first ack; %llu epochs committed\n",
           all.trials, all.recovered_acked, all.recovered_next, all.before_first_ack,
           (unsigned long long)all.epochs);
    CHECK(all.trials > 0);
    return test_done("test_sigkill", (int)all.trials);
}
