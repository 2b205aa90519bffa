/* test_util.c — helpers shared by the C tests (see test_util.h). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "redo_log.h"

int test_failures;

int test_done(const char *name, int passed_cases)
{
    printf("%s: %d passed, %d failed\n", name, test_failures ? 0 : passed_cases, test_failures);
    return test_failures ? 1 : 0;
}

char *test_tmpdir(const char *name, const char *kind)
{
    const char *root = getenv("SNAPSHOT_TEST_TMP");
    char *base;
    if (kind && strcmp(kind, "shm") == 0)
        root = "/dev/shm";
    else if (!root)
        root = "/tmp";
    mkdir(root, 0755);
    if (asprintf(&base, "%s/snaptest-%s-%d-XXXXXX", root, name, (int)getpid()) < 0)
        exit(1);
    if (!mkdtemp(base)) {
        fprintf(stderr, "mkdtemp %s: %s\n", base, strerror(errno));
        exit(1);
    }
    return base;
}

char *test_path(const char *dir, const char *file)
{
    char *p;
    if (asprintf(&p, "%s/%s", dir, file) < 0)
        exit(1);
    return p;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

void test_rmdir(const char *dir)
{
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

long test_env_long(const char *name, long def)
{
    const char *v = getenv(name);
    return v && *v ? strtol(v, NULL, 0) : def;
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void test_rng_seed(struct test_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t test_rng_next(struct test_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t test_rng_below(struct test_rng *r, uint64_t n)
{
    return n ? test_rng_next(r) % n : 0;
}

uint8_t *test_slurp(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    struct stat st;
    REQUIRE(fstat(fd, &st) == 0);
    uint8_t *b = malloc((size_t)st.st_size + 1);
    REQUIRE(b);
    REQUIRE(pread(fd, b, (size_t)st.st_size, 0) == st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return b;
}

int test_file_equals(const char *path, const void *want, size_t len)
{
    size_t n;
    uint8_t *now = test_slurp(path, &n);
    int same = n == len && (len == 0 || memcmp(now, want, len) == 0);
    free(now);
    return same;
}

struct overlay {
    uint8_t *buf;
    uint64_t off, len;
};

static int overlay_record(void *arg, const struct snap_rec_header *h)
{
    const struct overlay *o = arg;
    const struct snap_rec_run *runs = snap_rec_runs(h);
    const uint8_t *data = snap_rec_data(h);
    for (uint64_t i = 0; i < h->nruns; data += runs[i].len, i++) {
        uint64_t lo = runs[i].off > o->off ? runs[i].off : o->off;
        uint64_t hi = runs[i].off + runs[i].len < o->off + o->len ? runs[i].off + runs[i].len
                                                                   : o->off + o->len;
        if (lo < hi)
            memcpy(o->buf + (lo - o->off), data + (lo - runs[i].off), hi - lo);
    }
    return 0;
}

/* One look: header, data file, chain, header again. 1: look again (a checkpoint ran meanwhile, or
 * the walk met a commit in progress: the next record's header before its body, or its mark before
 * the record; an error that stays is believed). */
static int committed_look(struct snap_backend *be, int dfd, uint64_t off, void *buf, size_t len)
{
    struct snap_log_header h1, h2;
    int rc = snap_log_header_read(be, &h1);
    memset(buf, 0, len);
    if (rc < 0 || pread(dfd, buf, len, (off_t)off) < 0)
        return rc < 0 ? rc : -errno;
    if (rc == 1)
        return 0; /* a log never written: the data file's bytes are the state */
    struct overlay o = {buf, off, len};
    int walk = snap_log_walk(be, &h1, overlay_record, &o, NULL);
    rc = snap_log_header_read(be, &h2);
    if (rc)
        return rc < 0 ? rc : SNAP_E_CORRUPT;
    return h1.seq != h2.seq || walk == SNAP_E_CORRUPT ? 1 : walk;
}

int test_committed_read(const char *path, uint64_t off, void *buf, size_t len)
{
    char log[4096];
    snprintf(log, sizeof log, "%s.snaplog", path);
    int rc = 1;
    for (int attempt = 0; attempt < 1000 && rc == 1; attempt++) {
        int dfd = open(path, O_RDONLY | O_CLOEXEC), lfd = open(log, O_RDONLY | O_CLOEXEC);
        if (dfd >= 0 && lfd < 0 && errno == ENOENT) { /* no log: the data file's bytes */
            memset(buf, 0, len);
            rc = pread(dfd, buf, len, (off_t)off) < 0 ? -errno : 0;
            close(dfd);
            return rc;
        }
        if (dfd < 0 || lfd < 0) {
            rc = -errno;
            close(dfd >= 0 ? dfd : lfd);
            return rc;
        }
        struct snap_backend *be;
        rc = snap_backend_readonly_open(dfd, lfd, &be); /* owns the descriptors from here */
        if (rc)
            return rc;
        rc = committed_look(be, dfd, off, buf, len);
        snap_be_close(be);
    }
    return rc == 1 ? SNAP_E_CORRUPT : rc;
}

int test_committed_holds(const char *path, uint64_t off, size_t len, int v)
{
    uint8_t *b = malloc(len);
    REQUIRE(b);
    int ok = test_committed_read(path, off, b, len) == 0;
    for (size_t i = 0; ok && i < len; i++)
        ok = b[i] == (uint8_t)v;
    free(b);
    return ok;
}
