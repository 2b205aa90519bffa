/* test_log_damage.c — the log-mutation campaign: bytes of the sidecar log are damaged after msyncs
 * were acknowledged; what does the next snap_open() give? Counted per medium and kind of damage.
 *
 * Why: records carry CRCs, but a damaged record that ends the chain looks like a torn write and is
 * recovered as one. An open must then give an acknowledged state (the last, or an earlier one: the
 * damaged msyncs are lost) or fail changing nothing (SNAP_E_CORRUPT) — never a region equal to no
 * acknowledged state, a *mix*: what recovery makes of a damaged record that had already reached
 * the data file (snapshot.h, "Damage").
 *
 * A workload creates a region (256 KiB, log capacity 128 KiB: the log fills and is emptied) and
 * acknowledges K msyncs (3..40) of whole lines, 1..64 scattered ones or a run of up to 1280 (some
 * records over 64 KiB). Every word msync k writes is k << 48 | a hash of its place, so a line
 * tells which msync wrote it; the model keeps every acknowledged image (0, the zeros, to K). With
 * the region still open (the page cache as a SIGKILL would leave it), both files are copied, the
 * data file with its xattr (which binds a copy to its log: identity.h). Then a control (the copy
 * as is must open to state K) and 12 mutations, each on a fresh copy: a bit flip, 1..256 random
 * bytes, a zeroed aligned 512 B or 4 KiB block, or a truncation; half of them in the chain's last
 * two records, a quarter in the used part of the record area (a cut: anywhere past 4 KiB), a
 * quarter in the first 4 KiB (header slots). The copy is opened on the back end that wrote it.
 * A mix, a failed control, or a SNAP_E_CORRUPT open that changed a file fails the test; each mix
 * is printed with what reproduces it.
 *
 * Media: a file under SNAPSHOT_TEST_TMP with SNAP_BACKEND_FILE; a file on /dev/shm with
 * SNAP_BACKEND_PMEM and PMEM_IS_PMEM_FORCE=1 (the test re-executes itself with it set: libpmem
 * reads it once).
 *
 * Environment: SNAPSHOT_DAMAGE_MUTATIONS (per medium, default 300), SNAPSHOT_DAMAGE_SEED (default
 * 1), SNAPSHOT_DAMAGE_MEDIA ("shm", "disk" or "both"), SNAPSHOT_DAMAGE_WORKLOAD (only that
 * workload, to reproduce a mix).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "crc32c.h"
#include "redo_log.h"
#include "test_util.h"

#define SIZE (256u << 10)
#define LINES (SIZE / 64)
#define LOG_CAPACITY (128u << 10)
#define PER_WORKLOAD 12 /* mutations per workload */
#define MAX_K 40

/* ---- The workload ------------------------------------------------------------------------------ */

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Word j of line `line` as epoch k writes it. */
static uint64_t word_of(uint64_t wseed, uint64_t k, uint64_t line, unsigned j)
{
    return k << 48 | (mix64(wseed ^ (line * 8 + j + 1) * 0x9e3779b97f4a7c15ull) & ((1ull << 48) - 1));
}

/* Which epoch's bytes line `line` of b holds: 0 for zeros, -1 for bytes no epoch wrote. */
static long line_epoch(const uint8_t *b, uint64_t wseed, uint64_t line)
{
    uint64_t w[8];
    memcpy(w, b + line * 64, 64);
    uint64_t k = w[0] >> 48;
    for (unsigned j = 0; j < 8; j++)
        if (w[j] != (k == 0 && w[0] == 0 ? 0 : word_of(wseed, k, line, j)))
            return -1;
    return (long)k;
}

static void store_lines(snap_region *r, uint8_t *img, uint64_t wseed, uint64_t k, uint64_t line,
                        uint64_t n)
{
    if (line + n > LINES)
        n = LINES - line;
    uint8_t *base = snap_base(r);
    for (uint64_t l = line; l < line + n; l++)
        for (unsigned j = 0; j < 8; j++) {
            uint64_t w = word_of(wseed, k, l, j);
            memcpy(base + l * 64 + j * 8, &w, 8);
            memcpy(img + l * 64 + j * 8, &w, 8);
        }
    REQUIRE_OK(snap_track(r, base + line * 64, n * 64));
}

/* ---- Files as a crash leaves them ---------------------------------------------------------------- */

struct extent {
    uint64_t off, len;
};

struct file_copy {
    uint8_t *bytes;
    uint64_t size;
    struct extent *ext; /* where the file has data (SEEK_DATA): holes stay holes in a copy */
    size_t n_ext;
    char names[1024];   /* extended attributes, as flistxattr lists them */
    ssize_t names_len;
    char vals[4][4096];
    ssize_t val_len[4];
};

static void capture(const char *path, struct file_copy *c)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    struct stat st;
    REQUIRE(fstat(fd, &st) == 0);
    c->size = (uint64_t)st.st_size;
    c->bytes = malloc(c->size + 1);
    REQUIRE(c->bytes);
    REQUIRE(pread(fd, c->bytes, c->size, 0) == (ssize_t)c->size);
    c->n_ext = 0;
    c->ext = NULL;
    size_t cap = 0;
    for (off_t at = 0; (uint64_t)at < c->size;) {
        off_t d = lseek(fd, at, SEEK_DATA);
        if (d < 0) {
            REQUIRE(errno == ENXIO); /* only holes left */
            break;
        }
        off_t h = lseek(fd, d, SEEK_HOLE);
        REQUIRE(h > d);
        if (c->n_ext == cap) {
            cap = cap ? 2 * cap : 16;
            c->ext = realloc(c->ext, cap * sizeof *c->ext);
            REQUIRE(c->ext);
        }
        c->ext[c->n_ext++] = (struct extent){(uint64_t)d, (uint64_t)(h - d)};
        at = h;
    }
    c->names_len = flistxattr(fd, c->names, sizeof c->names);
    REQUIRE(c->names_len >= 0);
    int i = 0;
    for (ssize_t p = 0; p < c->names_len; p += (ssize_t)strlen(c->names + p) + 1, i++) {
        REQUIRE(i < 4);
        c->val_len[i] = fgetxattr(fd, c->names + p, c->vals[i], sizeof c->vals[i]);
        REQUIRE(c->val_len[i] >= 0);
    }
    close(fd);
}

static void copy_free(struct file_copy *c)
{
    free(c->bytes);
    free(c->ext);
}

/* Write c's file anew at path, with `bytes` (c->bytes, or a mutated copy of them) cut to `size`:
 * c's data extents, then [extra, extra + extra_len) (a mutation's bytes, hole or not). No fsync:
 * the open reads the page cache, as after a SIGKILL. */
static void restore(const char *path, const struct file_copy *c, const uint8_t *bytes,
                    uint64_t size, uint64_t extra, uint64_t extra_len)
{
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    for (size_t i = 0; i < c->n_ext; i++) {
        uint64_t off = c->ext[i].off, len = c->ext[i].len;
        if (off >= size)
            break;
        if (len > size - off)
            len = size - off;
        REQUIRE(pwrite(fd, bytes + off, len, (off_t)off) == (ssize_t)len);
    }
    if (extra < size) {
        if (extra_len > size - extra)
            extra_len = size - extra;
        REQUIRE(pwrite(fd, bytes + extra, extra_len, (off_t)extra) == (ssize_t)extra_len);
    }
    REQUIRE(ftruncate(fd, (off_t)size) == 0);
    int i = 0;
    for (ssize_t p = 0; p < c->names_len; p += (ssize_t)strlen(c->names + p) + 1, i++)
        REQUIRE(fsetxattr(fd, c->names + p, c->vals[i], (size_t)c->val_len[i], 0) == 0);
    close(fd);
}

/* ---- The chain, from the log as copied ----------------------------------------------------------- */

struct chain {
    struct extent rec[4096]; /* area offset and size of each record in the chain */
    size_t n;
    uint64_t end;     /* area offset past the last record */
    uint64_t used;    /* file offset past the last non-zero 64 bytes of the record area (stale
                         records of earlier generations included) */
};

static int visit(void *arg, const struct snap_rec_header *h)
{
    struct chain *c = arg;
    REQUIRE(c->n < sizeof c->rec / sizeof c->rec[0]);
    c->rec[c->n++] = (struct extent){c->end, h->total};
    c->end += h->total;
    return 0;
}

static void walk_chain(const char *data, const char *log, const struct file_copy *lc,
                       struct chain *c)
{
    int dfd = open(data, O_RDONLY | O_CLOEXEC), lfd = open(log, O_RDONLY | O_CLOEXEC);
    REQUIRE(dfd >= 0 && lfd >= 0);
    struct snap_backend *be;
    REQUIRE_OK(snap_backend_readonly_open(dfd, lfd, &be));
    struct snap_log_header lh;
    REQUIRE_OK(snap_log_header_read(be, &lh));
    struct snap_log_chain ch;
    c->n = 0;
    c->end = 0;
    REQUIRE_OK(snap_log_walk(be, &lh, visit, c, &ch));
    snap_be_close(be);
    REQUIRE(ch.records == c->n && ch.end_off == c->end && !ch.torn_tail && c->n > 0);
    c->used = SNAP_LOG_AREA_OFF + c->end;
    for (uint64_t off = lc->size & ~63ull; off > c->used; off -= 64) {
        const uint8_t *p = lc->bytes + off - 64;
        int zero = 1;
        for (unsigned i = 0; i < 64 && zero; i++)
            zero = p[i] == 0;
        if (!zero) {
            c->used = off;
            break;
        }
    }
}

/* ---- Mutations and outcomes -------------------------------------------------------------------- */

enum kind { BITFLIP, OVERWRITE, ZERO_BLOCK, TRUNCATE, NKINDS };
static const char *const kind_name[NKINDS] = {"bit flip", "overwrite", "zero block", "truncate"};
enum target { LAST_TWO, USED_AREA, FIRST_4K, UNUSED_TAIL, NTARGETS };
static const char *const target_name[NTARGETS] = {"last 2 records", "used area", "first 4 KiB",
                                                  "unused tail"};
enum outcome { LATEST, PREV1, PREVN, CORRUPT, OTHER, MIX, NOUTCOMES };
static const char *const outcome_name[NOUTCOMES] = {"latest", "prev 1", "prev 2+", "corrupt",
                                                    "other", "mix"};

struct mutation {
    enum kind kind;
    enum target target;
    uint64_t off, len;  /* bytes changed; for TRUNCATE, off is the new length */
    unsigned bit;       /* BITFLIP */
};

/* Choose and apply one mutation to m (a copy of the pristine log, lsize bytes). */
static struct mutation mutate(struct test_rng *g, uint8_t *m, uint64_t lsize, const struct chain *c)
{
    struct mutation mu = {.kind = (enum kind)test_rng_below(g, NKINDS)};
    uint64_t t = test_rng_below(g, 4), a, b;
    mu.target = t < 2 ? LAST_TWO : t == 2 ? USED_AREA : FIRST_4K;
    if (mu.target == LAST_TWO) {
        a = SNAP_LOG_AREA_OFF + c->rec[c->n >= 2 ? c->n - 2 : 0].off;
        b = SNAP_LOG_AREA_OFF + c->end;
    } else if (mu.target == USED_AREA) {
        a = SNAP_LOG_AREA_OFF;
        b = mu.kind == TRUNCATE ? lsize : c->used; /* a cut may fall in the unused tail too */
    } else {
        a = 0;
        b = SNAP_LOG_AREA_OFF;
    }
    uint64_t pos = a + test_rng_below(g, b - a);
    switch (mu.kind) {
    case BITFLIP:
        mu.bit = (unsigned)test_rng_below(g, 8);
        mu.off = pos, mu.len = 1;
        m[pos] ^= (uint8_t)(1u << mu.bit);
        break;
    case OVERWRITE:
        mu.off = pos;
        mu.len = 1 + test_rng_below(g, 256);
        if (mu.len > lsize - pos)
            mu.len = lsize - pos;
        for (uint64_t i = 0; i < mu.len; i++)
            m[pos + i] = (uint8_t)test_rng_next(g);
        break;
    case ZERO_BLOCK: {
        uint64_t bs = test_rng_below(g, 2) ? 4096 : 512;
        mu.off = pos & ~(bs - 1);
        mu.len = bs < lsize - mu.off ? bs : lsize - mu.off;
        memset(m + mu.off, 0, mu.len);
        break;
    }
    case TRUNCATE:
        mu.off = a + test_rng_below(g, b - a + 1); /* the new length; b itself included */
        mu.len = 0;
        if (mu.target == USED_AREA && mu.off >= c->used)
            mu.target = UNUSED_TAIL; /* counted apart: nothing used was cut */
        break;
    default:
        break;
    }
    return mu;
}

struct tally {
    long n[NKINDS][NTARGETS][NOUTCOMES];
    long back[MAX_K + 2]; /* previous: epochs back */
    int other_code[16];
    long other_count[16];
    long mutations, controls, controls_ok, workloads, changed_by_error;
};

static void count_other(struct tally *t, int rc)
{
    for (int i = 0; i < 16; i++) {
        if (t->other_count[i] && t->other_code[i] == rc) {
            t->other_count[i]++;
            return;
        }
        if (!t->other_count[i]) {
            t->other_code[i] = rc;
            t->other_count[i] = 1;
            return;
        }
    }
}

static long sum_outcome(const struct tally *t, int kind, int target, enum outcome o)
{
    long s = 0;
    for (int k = 0; k < NKINDS; k++)
        for (int g = 0; g < NTARGETS; g++)
            if ((kind < 0 || kind == k) && (target < 0 || target == g))
                s += t->n[k][g][o];
    return s;
}

/* ---- One medium ------------------------------------------------------------------------------- */

struct medium {
    const char *name; /* also the test_tmpdir() kind and the SNAPSHOT_DAMAGE_MEDIA value */
    enum snap_backend_kind backend;
};

struct workload {
    uint64_t seed; /* wseed: the words' hash */
    unsigned k;    /* msyncs acknowledged */
    uint8_t *img[MAX_K + 1];
    uint32_t crc[MAX_K + 1];
};

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Create the region and run the workload's msyncs; returns the open region (closing it would empty
 * the log). */
static snap_region *run_workload(const struct medium *m, const char *live, struct test_rng *g,
                                 struct workload *w)
{
    snap_options o = {
        .flags = SNAP_CREATE | SNAP_EXCL | SNAP_NO_CONCURRENT_WRITERS,
        .backend = m->backend,
        .size = SIZE,
        .log_capacity = LOG_CAPACITY,
    };
    snap_region *r;
    REQUIRE_OK(snap_open(live, &o, &r));
    snap_stats st;
    REQUIRE_OK(snap_stats_get(r, &st));
    REQUIRE(st.backend == m->backend); /* on shm: the PM back end really is in use */
    w->k = 3 + (unsigned)test_rng_below(g, MAX_K - 2);
    w->img[0] = calloc(1, SIZE);
    REQUIRE(w->img[0]);
    for (unsigned k = 1; k <= w->k; k++) {
        w->img[k] = malloc(SIZE);
        REQUIRE(w->img[k]);
        memcpy(w->img[k], w->img[k - 1], SIZE);
        if (test_rng_below(g, 5) == 0) { /* a long run: sometimes a record over 64 KiB */
            store_lines(r, w->img[k], w->seed, k, test_rng_below(g, LINES),
                        64 + test_rng_below(g, 1217));
        } else {
            unsigned n = 1 + (unsigned)test_rng_below(g, 64);
            for (unsigned i = 0; i < n; i++)
                store_lines(r, w->img[k], w->seed, k, test_rng_below(g, LINES),
                            test_rng_below(g, 4) ? 1 : 2 + test_rng_below(g, 15));
        }
        REQUIRE_OK(snap_msync(r));
    }
    for (unsigned k = 0; k <= w->k; k++)
        w->crc[k] = snap_crc32c(0, w->img[k], SIZE);
    REQUIRE(memcmp(snap_base(r), w->img[w->k], SIZE) == 0);
    return r;
}

static void workload_free(struct workload *w)
{
    for (unsigned k = 0; k <= w->k; k++)
        free(w->img[k]);
}

/* Open the pair, compare with every acknowledged state. *rc: the open's result; *back: epochs
 * back for LATEST/PREV*; *unchanged: for a failed open, whether both files are as they were
 * (dc's bytes and log[0..lsize)). got: SIZE bytes, the region as opened. */
static enum outcome open_and_classify(const struct medium *m, const struct workload *w,
                                      const char *trial, const char *trial_log,
                                      const struct file_copy *dc, const uint8_t *log,
                                      uint64_t lsize, int *rc, unsigned *back, int *unchanged,
                                      uint8_t *got, uint64_t *got_size)
{
    snap_options o = {.flags = SNAP_NO_CONCURRENT_WRITERS, .backend = m->backend};
    snap_region *r;
    *rc = snap_open(trial, &o, &r);
    if (*rc) {
        *unchanged = test_file_equals(trial, dc->bytes, dc->size) && test_file_equals(trial_log, log, lsize);
        return *rc == SNAP_E_CORRUPT ? CORRUPT : OTHER;
    }
    snap_stats st;
    CHECK_RC(snap_stats_get(r, &st), 0);
    CHECK(st.backend == m->backend);
    *got_size = snap_size(r);
    enum outcome out = MIX;
    memset(got, 0, SIZE);
    memcpy(got, snap_base(r), *got_size < SIZE ? *got_size : SIZE);
    if (*got_size == SIZE) {
        uint32_t crc = snap_crc32c(0, got, SIZE);
        for (long k = w->k; k >= 0; k--)
            if (crc == w->crc[k] && memcmp(got, w->img[k], SIZE) == 0) {
                *back = w->k - (unsigned)k;
                out = *back == 0 ? LATEST : *back == 1 ? PREV1 : PREVN;
                break;
            }
    }
    CHECK_RC(snap_close(r), 0);
    return out;
}

/* What a mix holds: the acknowledged state it differs least from, in how many lines, and which
 * epochs' bytes those lines hold. */
static void describe_mix(char *buf, size_t cap, const struct workload *w, const uint8_t *got,
                         uint64_t got_size)
{
    long best = -1, best_n = LINES + 1;
    for (long k = w->k; k >= 0; k--) {
        long n = 0;
        for (uint64_t l = 0; l < LINES; l++)
            n += memcmp(got + l * 64, w->img[k] + l * 64, 64) != 0;
        if (n < best_n)
            best = k, best_n = n;
    }
    long held[MAX_K + 2] = {0}; /* by epoch; [MAX_K + 1]: bytes of no epoch */
    for (uint64_t l = 0; l < LINES; l++)
        if (memcmp(got + l * 64, w->img[best] + l * 64, 64) != 0) {
            long e = line_epoch(got, w->seed, l);
            held[e < 0 || e > MAX_K ? MAX_K + 1 : e]++;
        }
    int n = snprintf(buf, cap, "size %llu; nearest acknowledged state %ld (%ld back): %ld of %u "
                               "lines differ, holding",
                     (unsigned long long)got_size, best, (long)w->k - best, best_n, LINES);
    for (int e = 0; e <= MAX_K + 1; e++) {
        if (!held[e] || n < 0 || (size_t)n >= cap)
            continue;
        if (e > MAX_K)
            n += snprintf(buf + n, cap - (size_t)n, " %ld lines of no epoch's bytes", held[e]);
        else
            n += snprintf(buf + n, cap - (size_t)n, " %ld lines of epoch %d", held[e], e);
    }
}

static uint64_t workload_seed(uint64_t seed, int medium, long wi)
{
    return mix64(seed * 0x9e3779b97f4a7c15ull ^ (uint64_t)(medium + 1) * 0xd1b54a32d192ed03ull ^
                 (uint64_t)(wi + 1) * 0xa0761d6478bd642full);
}

/* One medium's campaign: `mutations` in all (or PER_WORKLOAD of workload `only` if >= 0). */
static void run_medium(const struct medium *m, int mi, long mutations, uint64_t seed, long only,
                       struct tally *t)
{
    char *dir = test_tmpdir("log_damage", m->name);
    char *live = test_path(dir, "live"), *trial = test_path(dir, "trial");
    char *live_log, *trial_log;
    REQUIRE(asprintf(&live_log, "%s.snaplog", live) > 0 &&
            asprintf(&trial_log, "%s.snaplog", trial) > 0);
    uint8_t *got = malloc(SIZE);
    struct chain *ch = malloc(sizeof *ch);
    REQUIRE(got && ch);
    long nwork = only >= 0 ? 1 : (mutations + PER_WORKLOAD - 1) / PER_WORKLOAD;
    long total = only >= 0 ? PER_WORKLOAD : mutations;
    uint64_t t0 = now_us();
    long next_progress = 1;
    for (long i = 0; i < nwork; i++) {
        long wi = only >= 0 ? only : i;
        uint64_t ws = workload_seed(seed, mi, wi);
        struct test_rng g, mg;
        test_rng_seed(&g, ws);
        test_rng_seed(&mg, ws ^ 0x6d75746174696f6eull);
        struct workload w = {.seed = mix64(ws + 1)};
        snap_region *r = run_workload(m, live, &g, &w);

        /* The files as a SIGKILL now would leave them (the page cache), the region still open. */
        struct file_copy dc, lc;
        capture(live, &dc);
        capture(live_log, &lc);
        walk_chain(live, live_log, &lc, ch);
        REQUIRE_OK(snap_close(r));
        unlink(live);
        unlink(live_log);
        t->workloads++;

        /* Control: the pair as copied opens to the last acknowledged state. */
        int rc, unchanged = 1;
        unsigned back = 0;
        uint64_t got_size = 0;
        restore(trial, &dc, dc.bytes, dc.size, UINT64_MAX, 0);
        restore(trial_log, &lc, lc.bytes, lc.size, UINT64_MAX, 0);
        enum outcome o = open_and_classify(m, &w, trial, trial_log, &dc, lc.bytes, lc.size, &rc,
                                           &back, &unchanged, got, &got_size);
        t->controls++;
        if (o == LATEST) {
            t->controls_ok++;
        } else {
            char d[512] = "";
            if (o == MIX)
                describe_mix(d, sizeof d, &w, got, got_size);
            fprintf(stderr, "log damage %s: CONTROL FAILED: seed %llu workload %ld (no mutation): "
                            "%s, open %d (%s), %u back %s\n", m->name, (unsigned long long)seed,
                    wi, outcome_name[o], rc, snap_strerror(rc), back, d);
            test_failures++;
        }

        uint8_t *mbuf = malloc(lc.size + 1);
        REQUIRE(mbuf);
        long nmut = PER_WORKLOAD;
        if (only < 0 && mutations - t->mutations < nmut)
            nmut = mutations - t->mutations;
        for (long j = 0; j < nmut; j++) {
            memcpy(mbuf, lc.bytes, lc.size);
            struct mutation mu = mutate(&mg, mbuf, lc.size, ch);
            uint64_t msize = mu.kind == TRUNCATE ? mu.off : lc.size;
            restore(trial, &dc, dc.bytes, dc.size, UINT64_MAX, 0);
            restore(trial_log, &lc, mbuf, msize, mu.kind == TRUNCATE ? UINT64_MAX : mu.off, mu.len);
            unchanged = 1;
            back = 0;
            o = open_and_classify(m, &w, trial, trial_log, &dc, mbuf, msize, &rc, &back,
                                  &unchanged, got, &got_size);
            t->n[mu.kind][mu.target][o]++;
            t->mutations++;
            if (o == PREV1 || o == PREVN)
                t->back[back <= MAX_K ? back : MAX_K + 1]++;
            if (o == OTHER)
                count_other(t, rc);
            if ((o == CORRUPT || o == OTHER) && !unchanged) {
                fprintf(stderr, "log damage %s: seed %llu workload %ld mutation %ld: the failed open "
                                "(%s) changed the files (%s at %llu, length %llu)\n", m->name,
                        (unsigned long long)seed, wi, j, snap_strerror(rc), kind_name[mu.kind],
                        (unsigned long long)mu.off, (unsigned long long)mu.len);
                if (o == CORRUPT)
                    test_failures++;
                else
                    t->changed_by_error++;
            }
            if (o == MIX) {
                char d[512], note[32] = "";
                describe_mix(d, sizeof d, &w, got, got_size);
                if (mu.kind == BITFLIP)
                    snprintf(note, sizeof note, " (bit %u)", mu.bit);
                else if (mu.kind == TRUNCATE)
                    snprintf(note, sizeof note, " (the new length)");
                const struct extent *l2 = &ch->rec[ch->n >= 2 ? ch->n - 2 : 0];
                fprintf(stderr, "log damage %s: MIX: seed %llu workload %ld mutation %ld: %s "
                                "(target %s) at log offset %llu, length %llu%s; chain of %zu records, "
                                "the last two at log offset %llu (%llu bytes) and %llu (%llu bytes); "
                                "%u msyncs acked; %s\n",
                        m->name, (unsigned long long)seed, wi, j, kind_name[mu.kind],
                        target_name[mu.target], (unsigned long long)mu.off,
                        (unsigned long long)mu.len, note,
                        ch->n, (unsigned long long)(SNAP_LOG_AREA_OFF + l2->off),
                        (unsigned long long)l2->len,
                        (unsigned long long)(SNAP_LOG_AREA_OFF + ch->rec[ch->n - 1].off),
                        (unsigned long long)ch->rec[ch->n - 1].len, w.k, d);
                test_failures++;
            }
            unlink(trial);
            unlink(trial_log);
            if (t->mutations * 10 >= next_progress * total && next_progress <= 10) {
                fprintf(stderr, "log damage %s: %ld/%ld mutations, %ld mixes, %.1f s\n", m->name,
                        t->mutations, total, sum_outcome(t, -1, -1, MIX),
                        (double)(now_us() - t0) / 1e6);
                while (t->mutations * 10 >= next_progress * total && next_progress <= 10)
                    next_progress++;
            }
        }
        unlink(trial);
        unlink(trial_log);
        free(mbuf);
        copy_free(&dc);
        copy_free(&lc);
        workload_free(&w);
    }
    test_rmdir(dir);
    free(got), free(ch);
    free(live), free(trial), free(live_log), free(trial_log), free(dir);
}

static void report(const struct medium *m, const struct tally *t, double secs)
{
    long latest = sum_outcome(t, -1, -1, LATEST), p1 = sum_outcome(t, -1, -1, PREV1),
         pn = sum_outcome(t, -1, -1, PREVN), corrupt = sum_outcome(t, -1, -1, CORRUPT),
         other = sum_outcome(t, -1, -1, OTHER), mix = sum_outcome(t, -1, -1, MIX);
    printf("log damage %s: by kind and target", m->name);
    for (int o = 0; o < NOUTCOMES; o++)
        printf(" %8s", outcome_name[o]);
    printf("\n");
    for (int k = 0; k < NKINDS; k++)
        for (int g = -1; g < NTARGETS; g++) {
            if (g == UNUSED_TAIL && k != TRUNCATE)
                continue; /* only a cut can fall there */
            char label[64];
            snprintf(label, sizeof label, g < 0 ? "%s" : "  %s", g < 0 ? kind_name[k] : target_name[g]);
            printf("  %-34s", label);
            for (int o = 0; o < NOUTCOMES; o++)
                printf(" %8ld", sum_outcome(t, k, g, (enum outcome)o));
            printf("\n");
        }
    for (int g = 0; g < NTARGETS; g++) {
        char label[64];
        snprintf(label, sizeof label, "all kinds, %s", target_name[g]);
        printf("  %-34s", label);
        for (int o = 0; o < NOUTCOMES; o++)
            printf(" %8ld", sum_outcome(t, -1, g, (enum outcome)o));
        printf("\n");
    }
    if (p1 + pn) {
        printf("log damage %s: previous, by epochs back:", m->name);
        for (int b = 1; b <= MAX_K + 1; b++)
            if (t->back[b])
                printf(" %s%d: %ld", b > MAX_K ? ">" : "", b > MAX_K ? MAX_K : b, t->back[b]);
        printf("\n");
    }
    if (other) {
        printf("log damage %s: other errors:", m->name);
        for (int i = 0; i < 16 && t->other_count[i]; i++)
            printf("%s %d (%s) %ld", i ? "," : "", t->other_code[i],
                   snap_strerror(t->other_code[i]), t->other_count[i]);
        printf("%s\n", t->changed_by_error ? "; some of these opens changed the files" : "");
    }
    printf("log damage %s: %ld workloads, %ld controls, %ld latest; %.1f s\n", m->name,
           t->workloads, t->controls, t->controls_ok, secs);
    printf("log damage %s: %ld mutations: latest %ld, previous %ld (1 back %ld, more %ld), corrupt "
           "%ld, other %ld, mix %ld\n", m->name, t->mutations, latest, p1 + pn, p1, pn, corrupt,
           other, mix);
}

int main(int argc, char **argv)
{
    (void)argc;
    const char *media = getenv("SNAPSHOT_DAMAGE_MEDIA");
    if (!media || !*media)
        media = "both";
    if (strcmp(media, "both") && strcmp(media, "shm") && strcmp(media, "disk")) {
        fprintf(stderr, "SNAPSHOT_DAMAGE_MEDIA: \"shm\", \"disk\" or \"both\", not \"%s\"\n", media);
        return 2;
    }
    /* libpmem reads PMEM_IS_PMEM_FORCE once: have it in the environment from the start. */
    const char *force = getenv("PMEM_IS_PMEM_FORCE");
    if (strcmp(media, "disk") && (!force || strcmp(force, "1"))) {
        setenv("PMEM_IS_PMEM_FORCE", "1", 1);
        fflush(NULL);
        execv("/proc/self/exe", argv);
        fprintf(stderr, "test_log_damage: re-exec with PMEM_IS_PMEM_FORCE=1: %s\n", strerror(errno));
        return 1;
    }
    long mutations = test_env_long("SNAPSHOT_DAMAGE_MUTATIONS", 300);
    uint64_t seed = (uint64_t)test_env_long("SNAPSHOT_DAMAGE_SEED", 1);
    long only = test_env_long("SNAPSHOT_DAMAGE_WORKLOAD", -1);
    REQUIRE(mutations >= 1);
    static const struct medium mediums[] = {
        {"shm", SNAP_BACKEND_PMEM},
        {"disk", SNAP_BACKEND_FILE},
    };
    long all = 0, mixes = 0;
    for (int i = 0; i < 2; i++) {
        const struct medium *m = &mediums[i];
        if (strcmp(media, "both") && strcmp(media, m->name))
            continue;
        struct tally *t = calloc(1, sizeof *t);
        REQUIRE(t);
        uint64_t t0 = now_us();
        run_medium(m, i, mutations, seed, only, t);
        report(m, t, (double)(now_us() - t0) / 1e6);
        fflush(stdout);
        all += t->mutations;
        mixes += sum_outcome(t, -1, -1, MIX);
        free(t);
    }
    printf("log damage: %ld mutations, %ld mixes\n", all, mixes);
    CHECK(all > 0);
    return test_done("test_log_damage", (int)all);
}
