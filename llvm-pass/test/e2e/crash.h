/* crash.h — the SIGKILL crash checks of the plugin's end-to-end tests: a program built with the
 * plugin, which tracks its stores only through the plugin (no snap_track() anywhere), is killed at
 * random instants while it inserts keys into a structure in a region, one snap_msync() per insert;
 * the region it leaves must hold a valid structure with exactly the first K keys of the sequence,
 * K = the last acknowledged insert count or the one after it, and no other key.
 *
 * One executable, two roles:
 *   prog [--expect-inconsistent] [--trials N] [--max-delay-us US]
 *                                               the parent: runs the trials, checks, reports
 *   prog child PATH BACKEND SEED                the child (re-executed from /proc/self/exe)
 *
 * The child writes "o\n" to fd 3, opens (or creates) the region, formats it if it is all zero (and
 * msyncs that), reads how many keys it holds (K) and inserts keys K, K+1, ... of the generation's
 * sequence: after each insert one snap_msync(), then "<count>\n" to fd 3, the acknowledgement. At
 * the workload's cap it stops and waits to be killed.
 *
 * The parent starts the child, waits for "o", sleeps a random delay (0, under 1 ms, under 5 ms, or
 * up to the maximum: kills land in open, recovery and formatting as well as in inserts), kills it
 * with SIGKILL and reads every acknowledgement. Then it recovers the files (three times in four a
 * copy of them, so that the next child starts on a log that still needs recovery; otherwise the
 * files themselves) and checks the region read-only with the workload's checker: the structure's
 * invariants, each key's value, and that its keys are exactly keys 0..K-1 of the sequence (the
 * keys are a bijection of the index, so each key names its index). K must be `acked` or `acked +
 * 1` (acked: the last acknowledgement, or the count the previous check found if none came); the
 * child's first acknowledgement must be the count the previous check found plus one. A generation
 * that reaches the cap is removed and the next one starts from an empty file with a new seed.
 *
 * Media: a file on /dev/shm with PMEM_IS_PMEM_FORCE=1 in the child's environment and
 * SNAP_BACKEND_PMEM (emulated persistent memory), and a file under $SNAPSHOT_TEST_TMP (else /tmp)
 * with SNAP_BACKEND_FILE. The parent recovers with SNAP_BACKEND_FILE.
 *
 * --expect-inconsistent: for the same program built without the plugin (or with a kind of
 * instrumentation turned off). Passes iff a check fails — the crash checks can fail — and stops at
 * the first failure.
 *
 * Environment (over the options): SNAPSHOT_PASS_KILL_TRIALS (trials per medium; default 100),
 * SNAPSHOT_PASS_KILL_SEED (default 1), SNAPSHOT_PASS_KILL_MAX_DELAY_US (default 5000 on /dev/shm,
 * where an insert and its msync take microseconds, 20000 on disk),
 * SNAPSHOT_PASS_KILL_MEDIA ("shm", "disk" or "both").
 * Header-only; C and C++. */
#ifndef E2E_CRASH_H
#define E2E_CRASH_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <snapshot.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#define CRASH_ACK_FD 3
#define CRASH_LOG_CAPACITY (256u << 10) /* small: checkpoints happen during the trials */

struct crash_workload {
    const char *name;
    uint64_t size; /* region bytes */
    uint64_t cap;  /* keys per generation */
    /* Child. Formats an all-zero region (returns 1), or leaves a formatted one alone (returns 0). */
    int (*format)(char *base);
    uint64_t (*count)(char *base);                    /* keys in a formatted region */
    void (*insert)(char *base, uint64_t seed, uint64_t i); /* insert key i of the sequence */
    /* Parent. Checks a recovered region (read only): returns the number of keys K, with keys 0..K-1
     * of the sequence `seed` and nothing else, or -1 with the reason in why. An all-zero region is
     * valid and empty. */
    int64_t (*check)(char *base, uint64_t size, uint64_t seed, char *why, size_t whylen);
};

/* ---- The key sequence: key(seed, i) is a bijection of i (so a key names its index) ------------- */

static inline uint64_t crash_mix(uint64_t x) /* splitmix64's finaliser: a bijection */
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static inline uint64_t crash_unshift(uint64_t y, unsigned s) /* inverse of x ^= x >> s */
{
    uint64_t x = y;
    for (unsigned k = s; k < 64; k += s)
        x = y ^ (x >> s);
    return x;
}

static inline uint64_t crash_inv_odd(uint64_t a) /* a^-1 mod 2^64, a odd (Newton) */
{
    uint64_t x = a;
    for (int i = 0; i < 6; i++)
        x *= 2 - a * x;
    return x;
}

static inline uint64_t crash_unmix(uint64_t x)
{
    x = crash_unshift(x, 31);
    x *= crash_inv_odd(0x94d049bb133111ebull);
    x = crash_unshift(x, 27);
    x *= crash_inv_odd(0xbf58476d1ce4e5b9ull);
    return crash_unshift(x, 30);
}

static inline uint64_t crash_salt(uint64_t seed) { return crash_mix(seed * 0x9e3779b97f4a7c15ull + 1); }
static inline uint64_t crash_key(uint64_t seed, uint64_t i) { return crash_mix(i ^ crash_salt(seed)); }
static inline uint64_t crash_index(uint64_t seed, uint64_t key) { return crash_unmix(key) ^ crash_salt(seed); }
/* The value stored with a key. */
static inline uint64_t crash_val(uint64_t key) { return crash_mix(key ^ 0x5bd1e9955bd1e995ull); }

static inline int crash_why(char *why, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline int crash_why(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return -1;
}

/* Whether n bytes at p are all zero. */
static inline int crash_all_zero(const char *p, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

static inline uint64_t crash_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static inline long crash_env_long(const char *name, long def)
{
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 0) : def;
}

static inline void crash_fatal(const char *what)
{
    fprintf(stderr, "crash: %s: %s\n", what, strerror(errno));
    exit(2);
}

/* ---- Child ------------------------------------------------------------------------------------ */

static inline int crash_write_all(int fd, const char *s, size_t n)
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

static inline int crash_child(const struct crash_workload *w, int argc, char **argv)
{
    if (argc != 5)
        return 2;
    snap_options o;
    memset(&o, 0, sizeof o);
    o.flags = SNAP_CREATE | SNAP_NO_CONCURRENT_WRITERS;
    o.backend = (enum snap_backend_kind)strtol(argv[3], NULL, 0);
    o.size = w->size;
    o.log_capacity = CRASH_LOG_CAPACITY;
    uint64_t seed = strtoull(argv[4], NULL, 0);
    if (crash_write_all(CRASH_ACK_FD, "o\n", 2))
        return 3;
    snap_region *r;
    int rc = snap_open(argv[2], &o, &r);
    if (rc) {
        fprintf(stderr, "%s child: snap_open(%s): %s\n", w->name, argv[2], snap_strerror(rc));
        return 4;
    }
    char *base = (char *)snap_base(r);
    if (w->format(base) && (rc = snap_msync(r)) != 0) {
        fprintf(stderr, "%s child: snap_msync after formatting: %s\n", w->name, snap_strerror(rc));
        return 5;
    }
    uint64_t t0 = crash_now_us();
    for (uint64_t i = w->count(base); i < w->cap; i++) {
        w->insert(base, seed, i);
        if ((rc = snap_msync(r)) != 0) {
            fprintf(stderr, "%s child: snap_msync after insert %llu: %s\n", w->name,
                    (unsigned long long)i, snap_strerror(rc));
            return 5;
        }
        char line[32];
        int n = snprintf(line, sizeof line, "%llu\n", (unsigned long long)(i + 1));
        if (crash_write_all(CRASH_ACK_FD, line, (size_t)n))
            return 6;
        if ((i & 255) == 0 && crash_now_us() - t0 > 120000000u)
            return 7; /* never meant to get here: the parent kills us within a second */
    }
    for (;;) /* the generation is full: wait for the kill (PR_SET_PDEATHSIG if the parent dies) */
        pause();
}

/* ---- Parent ----------------------------------------------------------------------------------- */

struct crash_medium {
    const char *name;
    int shm;
    enum snap_backend_kind backend;
    uint64_t max_delay; /* us; emulated PM commits in microseconds, a disk in a millisecond */
};

struct crash_totals {
    long trials, recovered_acked, recovered_next, before_first_ack, at_cap, in_place, generations;
    uint64_t inserts;
};

struct crash_acks {
    char buf[64];
    size_t len;
    int opened;
    uint64_t first, last, count;
    int bad;
};

static inline void crash_acks_feed(struct crash_acks *a, const char *data, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (data[i] != '\n') {
            if (a->len < sizeof a->buf - 1)
                a->buf[a->len++] = data[i];
            continue;
        }
        a->buf[a->len] = 0;
        a->len = 0;
        if (strcmp(a->buf, "o") == 0 && !a->opened) {
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

/* Reads until the deadline (us; UINT64_MAX: none), or until "o" if until_open, or EOF (returns 1). */
static inline int crash_acks_read(struct crash_acks *a, int fd, uint64_t deadline, int until_open)
{
    char data[4096];
    for (;;) {
        if (until_open && a->opened)
            return 0;
        uint64_t now = crash_now_us();
        if (deadline != UINT64_MAX && now >= deadline)
            return 0;
        int timeout = deadline == UINT64_MAX ? -1 : (int)((deadline - now + 999) / 1000);
        struct pollfd pfd;
        pfd.fd = fd;
        pfd.events = POLLIN;
        int n = poll(&pfd, 1, timeout);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            crash_fatal("poll");
        if (n == 0)
            continue;
        ssize_t got = read(fd, data, sizeof data);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            crash_fatal("read");
        if (got == 0)
            return 1;
        crash_acks_feed(a, data, (size_t)got);
    }
}

static inline pid_t crash_spawn(const struct crash_medium *m, const char *path, uint64_t seed, int *fd)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC))
        crash_fatal("pipe2");
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        crash_fatal("fork");
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(9);
        if (p[1] == CRASH_ACK_FD)
            fcntl(CRASH_ACK_FD, F_SETFD, 0);
        else if (dup2(p[1], CRASH_ACK_FD) < 0)
            _exit(8);
        if (m->shm)
            setenv("PMEM_IS_PMEM_FORCE", "1", 1);
        else
            unsetenv("PMEM_IS_PMEM_FORCE");
        char b[16], s[32];
        snprintf(b, sizeof b, "%d", (int)m->backend);
        snprintf(s, sizeof s, "%llu", (unsigned long long)seed);
        char *args[] = {(char *)"crash-child", (char *)"child", (char *)path, b, s, NULL};
        execv("/proc/self/exe", args);
        _exit(10);
    }
    close(p[1]);
    *fd = p[0];
    return pid;
}

static inline void crash_copy_file(const char *from, const char *to)
{
    unlink(to);
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        if (errno != ENOENT)
            crash_fatal(from);
        return;
    }
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0)
        crash_fatal(to);
    static char buf[1 << 16];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0)
            crash_fatal(from);
        if (n == 0)
            break;
        if (write(out, buf, (size_t)n) != n)
            crash_fatal(to);
    }
    /* And its extended attributes, as cp -a does: the data file's user.snapshot.log binds it to
     * its log, and a copy without it whose log holds records cannot be told from another file
     * beside that log (SNAP_E_MISMATCH; native/src/identity.h). */
    char names[1024], val[4096];
    ssize_t len = flistxattr(in, names, sizeof names);
    for (ssize_t i = 0; i < len; i += (ssize_t)strlen(names + i) + 1) {
        ssize_t v = fgetxattr(in, names + i, val, sizeof val);
        if (v < 0 || fsetxattr(out, names + i, val, (size_t)v, 0))
            crash_fatal(to);
    }
    close(in);
    close(out);
}

static inline uint64_t crash_rand(uint64_t *s) /* xorshift64* */
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* One medium's trials. Returns 0, or -1 at the first failed check (reported in why). */
static inline int crash_medium_run(const struct crash_workload *w, const struct crash_medium *m,
                                   long trials, uint64_t seed, uint64_t max_delay,
                                   struct crash_totals *tot, char *why, size_t whylen)
{
    char dir[512], path[600], vpath[600], log[700], vlog[700];
    const char *root = m->shm ? "/dev/shm" : getenv("SNAPSHOT_TEST_TMP");
    if (!root || !*root)
        root = "/tmp";
    mkdir(root, 0755);
    snprintf(dir, sizeof dir, "%s/snap-crash-%s-%d-XXXXXX", root, w->name, (int)getpid());
    if (!mkdtemp(dir))
        crash_fatal(dir);
    snprintf(path, sizeof path, "%s/region", dir);
    snprintf(vpath, sizeof vpath, "%s/check", dir);
    snprintf(log, sizeof log, "%s.snaplog", path);
    snprintf(vlog, sizeof vlog, "%s.snaplog", vpath);
    uint64_t gen = 0, gen_seed = seed * 1000003u;
    uint64_t committed = 0; /* the count the last check found */
    uint64_t rng = crash_mix(seed ^ 0xc0ffee) | 1;
    int failed = 0;
    uint64_t t0 = crash_now_us();
    for (long t = 0; t < trials && !failed; t++) {
        int fd;
        pid_t pid = crash_spawn(m, path, gen_seed, &fd);
        struct crash_acks a;
        memset(&a, 0, sizeof a);
        int eof = crash_acks_read(&a, fd, crash_now_us() + 30000000u, 1);
        uint64_t delay;
        switch (crash_rand(&rng) % 8) {
        case 0: delay = 0; break;
        case 1: delay = crash_rand(&rng) % 1000; break;
        case 2: delay = crash_rand(&rng) % 5000; break;
        default: delay = crash_rand(&rng) % (max_delay + 1);
        }
        if (!eof) {
            if (delay < 2000) { /* busy wait: sub-millisecond kills, inside open and recovery */
                uint64_t end = crash_now_us() + delay;
                while (crash_now_us() < end)
                    ;
            } else {
                eof = crash_acks_read(&a, fd, crash_now_us() + delay, 0);
            }
        }
        kill(pid, SIGKILL);
        if (!eof)
            crash_acks_read(&a, fd, UINT64_MAX, 0);
        close(fd);
        int status;
        if (waitpid(pid, &status, 0) != pid)
            crash_fatal("waitpid");
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
            /* Not an inconsistency: the child failed (its error is on stderr). */
            fprintf(stderr, "%s %s trial %ld: the child ended by itself (status 0x%x)\n", w->name,
                    m->name, t, status);
            exit(2);
        }
        if (!a.opened || a.bad) {
            fprintf(stderr, "%s %s trial %ld: malformed acknowledgements\n", w->name, m->name, t);
            exit(2);
        }
        if (a.count && a.first != committed + 1) {
            crash_why(why, whylen, "trial %ld: the child's first insert was number %llu, but the "
                      "files held %llu keys when it started", t, (unsigned long long)a.first,
                      (unsigned long long)committed);
            failed = 1;
            break;
        }
        uint64_t acked = a.count ? a.last : committed;

        int in_place = crash_rand(&rng) % 4 == 0;
        const char *check_path = path;
        if (!in_place) {
            crash_copy_file(path, vpath);
            crash_copy_file(log, vlog);
            check_path = vpath;
        }
        snap_options o;
        memset(&o, 0, sizeof o);
        o.flags = SNAP_CREATE | SNAP_NO_CONCURRENT_WRITERS;
        o.backend = SNAP_BACKEND_FILE;
        o.size = w->size;
        o.log_capacity = CRASH_LOG_CAPACITY;
        snap_region *r;
        int rc = snap_open(check_path, &o, &r);
        if (rc) {
            crash_why(why, whylen, "trial %ld: recovery failed: %s (acked %llu)", t,
                      snap_strerror(rc), (unsigned long long)acked);
            failed = 1;
            break;
        }
        char detail[256];
        int64_t k = w->check((char *)snap_base(r), w->size, gen_seed, detail, sizeof detail);
        snap_close(r);
        if (k < 0) {
            crash_why(why, whylen, "trial %ld: acked %llu, recovered an invalid structure: %s", t,
                      (unsigned long long)acked, detail);
            failed = 1;
            break;
        }
        if ((uint64_t)k != acked && (uint64_t)k != acked + 1) {
            crash_why(why, whylen, "trial %ld: recovered %lld keys (a valid structure), but %llu "
                      "inserts were acknowledged", t, (long long)k, (unsigned long long)acked);
            failed = 1;
            break;
        }
        tot->trials++;
        tot->inserts += (uint64_t)k - committed;
        if ((uint64_t)k == acked)
            tot->recovered_acked++;
        else
            tot->recovered_next++;
        tot->before_first_ack += a.count == 0;
        tot->at_cap += acked == w->cap;
        tot->in_place += in_place;
        committed = (uint64_t)k;
        if (committed == w->cap) { /* a new generation on new files */
            unlink(path), unlink(log);
            committed = 0;
            gen_seed = seed * 1000003u + ++gen;
            tot->generations++;
        }
        if (trials >= 10 && (t + 1) % (trials / 5) == 0)
            fprintf(stderr, "%s %s: %ld/%ld trials, %llu keys, %.1f s\n", w->name, m->name, t + 1,
                    trials, (unsigned long long)committed, (double)(crash_now_us() - t0) / 1e6);
    }
    unlink(path), unlink(log), unlink(vpath), unlink(vlog);
    rmdir(dir);
    return failed ? -1 : 0;
}

static inline int crash_main(const struct crash_workload *w, int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "child") == 0)
        return crash_child(w, argc, argv);
    for (uint64_t i = 0; i < 1000000; i += 997) /* the keys name their index */
        if (crash_index(7, crash_key(7, i)) != i) {
            fprintf(stderr, "%s: crash_index does not invert crash_key\n", w->name);
            return 2;
        }
    int expect_inconsistent = 0;
    long trials = 100, max_delay = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--expect-inconsistent") == 0) {
            expect_inconsistent = 1;
        } else if (strcmp(argv[i], "--trials") == 0 && i + 1 < argc) {
            trials = strtol(argv[++i], NULL, 0);
        } else if (strcmp(argv[i], "--max-delay-us") == 0 && i + 1 < argc) {
            max_delay = strtol(argv[++i], NULL, 0);
        } else {
            fprintf(stderr, "usage: %s [--expect-inconsistent] [--trials N] [--max-delay-us US]\n",
                    argv[0]);
            return 2;
        }
    }
    trials = crash_env_long("SNAPSHOT_PASS_KILL_TRIALS", trials);
    uint64_t seed = (uint64_t)crash_env_long("SNAPSHOT_PASS_KILL_SEED", 1);
    max_delay = crash_env_long("SNAPSHOT_PASS_KILL_MAX_DELAY_US", max_delay);
    const char *media = getenv("SNAPSHOT_PASS_KILL_MEDIA");
    if (!media || !*media)
        media = "both";
    static const struct crash_medium mediums[] = {
        {"shm/pmem", 1, SNAP_BACKEND_PMEM, 5000},
        {"disk/file", 0, SNAP_BACKEND_FILE, 20000},
    };
    struct crash_totals all;
    memset(&all, 0, sizeof all);
    for (size_t i = 0; i < sizeof mediums / sizeof mediums[0]; i++) {
        const struct crash_medium *m = &mediums[i];
        if (strcmp(media, "both") != 0 && strcmp(media, m->shm ? "shm" : "disk") != 0)
            continue;
        if (m->shm && access("/dev/shm", W_OK) != 0) {
            printf("%s %s: skipped (no writable /dev/shm)\n", w->name, m->name);
            continue;
        }
        struct crash_totals tot;
        memset(&tot, 0, sizeof tot);
        char why[512];
        if (crash_medium_run(w, m, trials, seed + i,
                             max_delay >= 0 ? (uint64_t)max_delay : m->max_delay, &tot, why,
                             sizeof why)) {
            if (expect_inconsistent) {
                printf("%s %s: PASS: the crash check failed, as expected: %s\n", w->name, m->name,
                       why);
                return 0;
            }
            printf("%s %s: FAIL after %ld good trials: %s\n", w->name, m->name, tot.trials, why);
            return 1;
        }
        printf("%s %s: %ld trials, %llu inserts committed, %ld generations of %llu keys completed; "
               "recovered the acked count %ld times, acked+1 %ld times; %ld kills before the first "
               "ack, %ld at the cap; %ld checked in place\n",
               w->name, m->name, tot.trials, (unsigned long long)tot.inserts, tot.generations,
               (unsigned long long)w->cap, tot.recovered_acked, tot.recovered_next,
               tot.before_first_ack, tot.at_cap, tot.in_place);
        all.trials += tot.trials;
        all.recovered_acked += tot.recovered_acked;
        all.recovered_next += tot.recovered_next;
        all.inserts += tot.inserts;
    }
    if (expect_inconsistent) {
        printf("%s: FAIL: %ld trials and no crash check failed; built without the plugin, the "
               "untracked stores should have been lost\n", w->name, all.trials);
        return 1;
    }
    printf("%s: PASS: %ld trials, %llu inserts; acked %ld, acked+1 %ld\n", w->name, all.trials,
           (unsigned long long)all.inserts, all.recovered_acked, all.recovered_next);
    return all.trials > 0 ? 0 : 1;
}

#endif /* E2E_CRASH_H */
