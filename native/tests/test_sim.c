/* test_sim.c — the power-loss simulator: pending units, crash images of every subset, the barrier
 * callback, power off, failing barriers, resize semantics; and fault injection (backend.c). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend.h"
#include "sim.h"
#include "test_util.h"

static const char *DATA = "f", *LOG = "f.snaplog";

/* A file's image (cache or media) as a fresh malloc'd buffer; its size in *size. */
static uint8_t *image_of(const struct snap_sim *sim, const char *name, int media, uint64_t *size)
{
    REQUIRE_OK(snap_sim_size(sim, name, media, size));
    uint8_t *b = malloc(*size + 1);
    REQUIRE(b);
    REQUIRE_OK(snap_sim_read(sim, name, media, 0, b, *size));
    return b;
}

/* A crash image must look like a machine after a reboot: nothing pending, cache == media. */
static void check_settled(const struct snap_sim *img, const char *name)
{
    uint64_t cs, ms;
    uint8_t *c = image_of(img, name, 0, &cs), *m = image_of(img, name, 1, &ms);
    CHECK(cs == ms && memcmp(c, m, cs) == 0);
    CHECK(snap_sim_pending(img) == 0);
    free(c);
    free(m);
}

static void fill(uint8_t *b, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(seed + i * 7 + 1);
}

static void test_open(void)
{
    struct snap_sim *sim = snap_sim_new();
    REQUIRE(sim);
    struct snap_backend *be;
    uint64_t n;
    CHECK_RC(snap_backend_sim_open(sim, DATA, 0, &be), -ENOENT);
    CHECK(be == NULL);
    CHECK_RC(snap_backend_sim_open(NULL, DATA, 1, &be), SNAP_E_INVAL);
    REQUIRE_OK(snap_backend_sim_open(sim, DATA, 1, &be));
    CHECK(be->kind == SNAP_BACKEND_SIM);
    CHECK_RC(snap_sim_size(sim, DATA, 1, &n), 0);
    CHECK(n == 0);
    CHECK_RC(snap_sim_size(sim, LOG, 0, &n), 0);
    CHECK(n == 0);
    CHECK_RC(snap_sim_size(sim, "other", 0, &n), -ENOENT);
    snap_be_close(be);

    /* An existing data file without its log: the log appears, empty. */
    struct snap_sim *s2 = snap_sim_new();
    uint8_t b[100];
    fill(b, sizeof b, 3);
    REQUIRE_OK(snap_sim_put(s2, "g", b, sizeof b));
    REQUIRE_OK(snap_backend_sim_open(s2, "g", 0, &be));
    uint8_t r[100];
    CHECK_RC(snap_be_size(be, SNAP_DATA, &n), 0);
    CHECK(n == 100);
    CHECK_RC(snap_be_read(be, SNAP_DATA, 0, r, 100), 0);
    CHECK(memcmp(r, b, 100) == 0);
    CHECK_RC(snap_be_read(be, SNAP_DATA, 1, r, 100), SNAP_E_RANGE);
    CHECK_RC(snap_be_write(be, SNAP_DATA, 99, r, 2), SNAP_E_RANGE);
    CHECK_RC(snap_be_size(be, SNAP_LOG, &n), 0);
    CHECK(n == 0);
    CHECK(snap_sim_pending(s2) == 0);
    snap_be_close(be);
    snap_sim_free(s2);
    snap_sim_free(sim);
}

/* Durable data file of `size` bytes filled with seed 1, and its back end. */
static struct snap_sim *setup(uint64_t size, struct snap_backend **be)
{
    struct snap_sim *sim = snap_sim_new();
    REQUIRE(sim);
    uint8_t *b = malloc(size + 1);
    REQUIRE(b);
    fill(b, size, 1);
    REQUIRE_OK(snap_sim_put(sim, DATA, b, size));
    free(b);
    REQUIRE_OK(snap_backend_sim_open(sim, DATA, 0, be));
    return sim;
}

static void test_pending_and_barrier(void)
{
    struct snap_backend *be;
    struct snap_sim *sim = setup(200, &be);
    uint8_t x[20], got[200];
    fill(x, sizeof x, 50);
    /* Bytes 10..19: line 0; 130..139: line 2; 185..199: lines 2 and 3. */
    REQUIRE_OK(snap_be_write(be, SNAP_DATA, 10, x, 10));
    REQUIRE_OK(snap_be_write(be, SNAP_DATA, 130, x, 10));
    REQUIRE_OK(snap_be_write(be, SNAP_DATA, 185, x, 15));
    REQUIRE_OK(snap_be_write(be, SNAP_DATA, 12, x, 3)); /* same line again: still one unit */
    CHECK(snap_sim_pending(sim) == 3);
    /* The cache has the bytes, the media not yet. */
    CHECK_RC(snap_sim_read(sim, DATA, 0, 130, got, 10), 0);
    CHECK(memcmp(got, x, 10) == 0);
    CHECK_RC(snap_sim_read(sim, DATA, 1, 130, got, 10), 0);
    CHECK(memcmp(got, x, 10) != 0);
    CHECK(snap_sim_barriers(sim) == 0);

    /* A barrier on the log flushes nothing of the data file. */
    REQUIRE_OK(snap_be_barrier(be, SNAP_LOG));
    CHECK(snap_sim_pending(sim) == 3);
    REQUIRE_OK(snap_be_barrier(be, SNAP_DATA));
    CHECK(snap_sim_pending(sim) == 0);
    CHECK(snap_sim_barriers(sim) == 2);
    uint64_t cs, ms;
    uint8_t *c = image_of(sim, DATA, 0, &cs), *m = image_of(sim, DATA, 1, &ms);
    CHECK(cs == 200 && ms == 200 && memcmp(c, m, 200) == 0);
    CHECK(memcmp(m + 185, x, 15) == 0);
    free(c);
    free(m);
    snap_be_close(be);
    snap_sim_free(sim);
}

/* The reference model of one crash: old media bytes, size from the size unit, kept lines. */
static void expect_crash(const uint8_t *media, uint64_t msize, const uint8_t *cache, uint64_t csize,
                         int size_kept, const uint64_t *lines, const uint8_t *kept, size_t nlines,
                         uint8_t *out, uint64_t *osize)
{
    uint64_t size = size_kept ? csize : msize;
    memset(out, 0, size);
    memcpy(out, media, msize < size ? msize : size);
    for (size_t i = 0; i < nlines; i++) {
        if (!kept[i])
            continue;
        for (uint64_t b = lines[i] * 64; b < lines[i] * 64 + 64 && b < size && b < csize; b++)
            out[b] = cache[b];
    }
    *osize = size;
}

/* Every subset of: the data file's extension 200 -> 300, its lines 0, 2 and 4 (4 is wholly in
 * the extension), and one line of the log. */
static int test_every_subset(void)
{
    struct snap_backend *be;
    struct snap_sim *sim = setup(200, &be);
    uint8_t x[64];
    fill(x, sizeof x, 90);
    REQUIRE_OK(snap_be_resize(be, SNAP_LOG, 128));
    REQUIRE_OK(snap_be_barrier(be, SNAP_LOG));
    REQUIRE_OK(snap_be_resize(be, SNAP_DATA, 300));
    REQUIRE_OK(snap_be_write(be, SNAP_DATA, 0, x, 5));
    REQUIRE_OK(snap_be_write(be, SNAP_DATA, 150, x, 40));
    REQUIRE_OK(snap_be_write(be, SNAP_DATA, 260, x, 30));
    REQUIRE_OK(snap_be_write(be, SNAP_LOG, 70, x, 8));
    REQUIRE(snap_sim_pending(sim) == 5);

    uint64_t msize, csize, lm, lc;
    uint8_t *media = image_of(sim, DATA, 1, &msize), *cache = image_of(sim, DATA, 0, &csize);
    uint8_t *lmedia = image_of(sim, LOG, 1, &lm), *lcache = image_of(sim, LOG, 0, &lc);
    const uint64_t dlines[3] = {0, 2, 4}, llines[1] = {1};
    int cases = 0;
    for (unsigned mask = 0; mask < 32; mask++) {
        uint8_t keep[5];
        for (int i = 0; i < 5; i++)
            keep[i] = (mask >> i) & 1;
        struct snap_sim *img = snap_sim_crash_image(sim, keep);
        REQUIRE(img);
        uint8_t want[300];
        uint64_t wsize, gsize;
        expect_crash(media, msize, cache, csize, keep[0], dlines, keep + 1, 3, want, &wsize);
        uint8_t *got = image_of(img, DATA, 1, &gsize);
        CHECK(gsize == wsize && memcmp(got, want, wsize) == 0);
        free(got);
        expect_crash(lmedia, lm, lcache, lc, 0, llines, keep + 4, 1, want, &wsize);
        got = image_of(img, LOG, 1, &gsize);
        CHECK(gsize == wsize && memcmp(got, want, wsize) == 0);
        free(got);
        check_settled(img, DATA);
        check_settled(img, LOG);
        /* An image is a simulator like any other: usable by a back end, and not disturbing its
         * parent. */
        struct snap_backend *ib;
        REQUIRE_OK(snap_backend_sim_open(img, DATA, 0, &ib));
        REQUIRE_OK(snap_be_write(ib, SNAP_DATA, 0, x, 1));
        CHECK(snap_sim_pending(img) == 1);
        snap_be_close(ib);
        snap_sim_free(img);
        cases++;
    }
    CHECK(snap_sim_pending(sim) == 5);
    /* NULL keeps nothing: the media. */
    struct snap_sim *img = snap_sim_crash_image(sim, NULL);
    uint64_t gsize;
    uint8_t *got = image_of(img, DATA, 0, &gsize);
    CHECK(gsize == msize && memcmp(got, media, msize) == 0);
    free(got);
    snap_sim_free(img);
    free(media);
    free(cache);
    free(lmedia);
    free(lcache);
    snap_be_close(be);
    snap_sim_free(sim);
    return cases;
}

static void test_resize_semantics(void)
{
    struct snap_backend *be;
    struct snap_sim *sim = setup(200, &be);
    uint8_t old[200], got[200];
    fill(old, 200, 1);
    uint8_t keep_all[8] = {1, 1, 1, 1, 1, 1, 1, 1}, keep_none[8] = {0};

    /* A shrink is one unit: lost, the old size and bytes come back. */
    REQUIRE_OK(snap_be_resize(be, SNAP_DATA, 100));
    CHECK(snap_sim_pending(sim) == 1);
    struct snap_sim *img = snap_sim_crash_image(sim, keep_none);
    uint64_t n;
    CHECK_RC(snap_sim_size(img, DATA, 1, &n), 0);
    CHECK(n == 200);
    CHECK_RC(snap_sim_read(img, DATA, 1, 0, got, 200), 0);
    CHECK(memcmp(got, old, 200) == 0);
    snap_sim_free(img);
    img = snap_sim_crash_image(sim, keep_all);
    CHECK_RC(snap_sim_size(img, DATA, 1, &n), 0);
    CHECK(n == 100);
    snap_sim_free(img);

    /* Shrink then grow back to the media size: no size unit, but the re-exposed bytes are zero
     * in the cache and old on the media, so lines 1..3 (bytes 64..255) are pending. */
    REQUIRE_OK(snap_be_resize(be, SNAP_DATA, 200));
    CHECK(snap_sim_pending(sim) == 3);
    CHECK_RC(snap_sim_read(sim, DATA, 0, 100, got, 100), 0);
    CHECK(got[0] == 0 && got[99] == 0);
    img = snap_sim_crash_image(sim, keep_all);
    CHECK_RC(snap_sim_read(img, DATA, 1, 0, got, 200), 0);
    CHECK(memcmp(got, old, 100) == 0 && got[100] == 0 && got[199] == 0);
    snap_sim_free(img);
    img = snap_sim_crash_image(sim, keep_none);
    CHECK_RC(snap_sim_read(img, DATA, 1, 0, got, 200), 0);
    CHECK(memcmp(got, old, 200) == 0);
    snap_sim_free(img);

    /* The barrier makes the cache durable, zeros included. */
    REQUIRE_OK(snap_be_barrier(be, SNAP_DATA));
    CHECK_RC(snap_sim_read(sim, DATA, 1, 0, got, 200), 0);
    CHECK(memcmp(got, old, 100) == 0 && got[100] == 0 && got[199] == 0);

    /* A written line beyond a shrink is forgotten; the partial line at the new end stays. */
    REQUIRE_OK(snap_be_write(be, SNAP_DATA, 60, old, 140)); /* lines 0..3 */
    CHECK(snap_sim_pending(sim) == 4);
    REQUIRE_OK(snap_be_resize(be, SNAP_DATA, 70)); /* lines 0, 1 remain, plus the size */
    CHECK(snap_sim_pending(sim) == 3);
    REQUIRE_OK(snap_be_barrier(be, SNAP_DATA));
    CHECK_RC(snap_sim_size(sim, DATA, 1, &n), 0);
    CHECK(n == 70);
    CHECK_RC(snap_sim_read(sim, DATA, 1, 60, got, 10), 0);
    CHECK(memcmp(got, old, 10) == 0);

    /* A large file written only at its start (a log sized for 64 MiB) is copied only up to its
     * last written byte: these images are cheap. */
    REQUIRE_OK(snap_be_resize(be, SNAP_LOG, 64u << 20));
    REQUIRE_OK(snap_be_write(be, SNAP_LOG, 4096, old, 10));
    REQUIRE_OK(snap_be_barrier(be, SNAP_LOG));
    for (int i = 0; i < 20; i++) {
        img = snap_sim_crash_image(sim, NULL);
        REQUIRE(img);
        CHECK_RC(snap_sim_read(img, LOG, 1, 4096, got, 10), 0);
        CHECK(memcmp(got, old, 10) == 0);
        CHECK_RC(snap_sim_read(img, LOG, 0, (64u << 20) - 10, got, 10), 0);
        CHECK(got[0] == 0 && got[9] == 0);
        snap_sim_free(img);
    }
    snap_be_close(be);
    snap_sim_free(sim);
}

struct cb_state {
    int calls;
    char last_file[64];
    size_t pending_seen;
    uint8_t media_first;
    int put_rc;
    int power_off_at; /* cut the power in this call (1-based); 0 never */
};

static void on_barrier(struct snap_sim *sim, const char *file, void *arg)
{
    struct cb_state *st = arg;
    st->calls++;
    snprintf(st->last_file, sizeof st->last_file, "%s", file);
    st->pending_seen = snap_sim_pending(sim);
    snap_sim_read(sim, DATA, 1, 0, &st->media_first, 1);
    st->put_rc = snap_sim_put(sim, "x", "", 0); /* the callback must not change the simulator */
    struct snap_sim *img = snap_sim_crash_image(sim, NULL); /* but may copy it */
    CHECK(img != NULL);
    snap_sim_free(img);
    if (st->calls == st->power_off_at)
        snap_sim_power_off(sim);
}

static void test_callback_power_off(void)
{
    struct snap_backend *be;
    struct snap_sim *sim = setup(128, &be);
    struct cb_state st = {0};
    snap_sim_on_barrier(sim, on_barrier, &st);
    uint8_t v = 0xAB, got;
    REQUIRE_OK(snap_be_write(be, SNAP_DATA, 0, &v, 1));
    REQUIRE_OK(snap_be_barrier(be, SNAP_DATA));
    CHECK(st.calls == 1);
    CHECK(strcmp(st.last_file, DATA) == 0);
    CHECK(st.pending_seen == 1);     /* called before the barrier makes anything durable */
    CHECK(st.media_first == 2);      /* the old byte: fill(seed 1)[0] */
    CHECK(st.put_rc == -EBUSY);
    CHECK_RC(snap_sim_size(sim, "x", 0, &(uint64_t){0}), -ENOENT);
    CHECK_RC(snap_sim_read(sim, DATA, 1, 0, &got, 1), 0);
    CHECK(got == 0xAB);
    REQUIRE_OK(snap_be_barrier(be, SNAP_LOG));
    CHECK(st.calls == 2 && strcmp(st.last_file, LOG) == 0);

    /* Power cut from inside the callback: that barrier makes nothing durable. */
    st.power_off_at = 3;
    v = 0xCD;
    REQUIRE_OK(snap_be_write(be, SNAP_DATA, 0, &v, 1));
    CHECK_RC(snap_be_barrier(be, SNAP_DATA), -EIO);
    CHECK_RC(snap_sim_read(sim, DATA, 1, 0, &got, 1), 0);
    CHECK(got == 0xAB);
    /* Off: writes, resizes and barriers fail and change nothing; no more callbacks. */
    uint8_t w = 0xEF;
    CHECK_RC(snap_be_write(be, SNAP_DATA, 1, &w, 1), -EIO);
    CHECK_RC(snap_be_resize(be, SNAP_DATA, 4096), -EIO);
    CHECK_RC(snap_be_barrier(be, SNAP_DATA), -EIO);
    CHECK(st.calls == 3);
    uint64_t n;
    CHECK_RC(snap_be_size(be, SNAP_DATA, &n), 0);
    CHECK(n == 128);
    CHECK_RC(snap_be_read(be, SNAP_DATA, 0, &got, 1), 0);
    CHECK(got == 0xCD); /* the cache still reads back */
    CHECK(snap_sim_pending(sim) == 1);
    /* What a reboot finds: the line or not. */
    uint8_t keep = 1;
    struct snap_sim *img = snap_sim_crash_image(sim, &keep);
    CHECK_RC(snap_sim_read(img, DATA, 1, 0, &got, 1), 0);
    CHECK(got == 0xCD);
    snap_sim_free(img);
    snap_be_close(be);
    snap_sim_free(sim);
}

static void test_fail_barrier(void)
{
    struct snap_backend *be;
    struct snap_sim *sim = setup(64, &be);
    uint8_t v = 7, got;
    REQUIRE_OK(snap_be_barrier(be, SNAP_DATA)); /* barrier 0 */
    snap_sim_fail_barrier(sim, 2, -ENOSPC);    /* from barrier 2 on */
    REQUIRE_OK(snap_be_write(be, SNAP_DATA, 0, &v, 1));
    CHECK_RC(snap_be_barrier(be, SNAP_LOG), 0); /* 1 */
    CHECK_RC(snap_be_barrier(be, SNAP_DATA), -ENOSPC); /* 2 */
    CHECK_RC(snap_be_barrier(be, SNAP_DATA), -ENOSPC); /* 3: stays failed */
    CHECK(snap_sim_barriers(sim) == 4);
    CHECK(snap_sim_pending(sim) == 1);
    CHECK_RC(snap_sim_read(sim, DATA, 1, 0, &got, 1), 0);
    CHECK(got == 2); /* fill(seed 1)[0] */
    snap_sim_fail_barrier(sim, 0, 0); /* disarm */
    CHECK_RC(snap_be_barrier(be, SNAP_DATA), 0);
    CHECK_RC(snap_sim_read(sim, DATA, 1, 0, &got, 1), 0);
    CHECK(got == 7);
    snap_sim_fail_barrier(sim, 0, -EIO); /* from barrier 0: every one */
    CHECK_RC(snap_be_barrier(be, SNAP_LOG), -EIO);
    snap_be_close(be);
    snap_sim_free(sim);
}

static void test_fault_injection(void)
{
    struct snap_backend *be;
    struct snap_sim *sim = setup(256, &be);
    uint8_t v = 1;
    snap_backend_inject_fault(be, SNAP_FAULT_WRITE, 2, -ENOSPC);
    CHECK_RC(snap_be_write(be, SNAP_DATA, 0, &v, 1), 0);
    CHECK_RC(snap_be_barrier(be, SNAP_DATA), 0);     /* other kinds: not counted, not failed */
    CHECK_RC(snap_be_resize(be, SNAP_LOG, 64), 0);
    CHECK_RC(snap_be_barrier(be, SNAP_LOG), 0);
    v = 2;
    CHECK_RC(snap_be_write(be, SNAP_DATA, 64, &v, 1), -ENOSPC); /* the 2nd write */
    CHECK_RC(snap_be_write(be, SNAP_LOG, 0, &v, 1), -ENOSPC);   /* and every later one */
    CHECK(snap_sim_pending(sim) == 0); /* failed calls never reached the media */
    uint8_t got;
    CHECK_RC(snap_sim_read(sim, DATA, 0, 64, &got, 1), 0);
    CHECK(got == (uint8_t)(1 + 64 * 7 + 1)); /* still fill()'s byte */
    snap_backend_inject_fault(be, SNAP_FAULT_NONE, 0, 0);
    CHECK_RC(snap_be_write(be, SNAP_DATA, 64, &v, 1), 0);

    /* err 0 means -EIO; a barrier fault fails before the simulator sees the barrier. */
    uint64_t before = snap_sim_barriers(sim);
    snap_backend_inject_fault(be, SNAP_FAULT_BARRIER, 1, 0);
    CHECK_RC(snap_be_barrier(be, SNAP_DATA), -EIO);
    CHECK_RC(snap_be_barrier(be, SNAP_LOG), -EIO);
    CHECK(snap_sim_barriers(sim) == before);
    CHECK(snap_sim_pending(sim) == 1);
    /* Re-arming restarts the count; after == 0 disarms. */
    snap_backend_inject_fault(be, SNAP_FAULT_RESIZE, 3, -EFBIG);
    CHECK_RC(snap_be_barrier(be, SNAP_DATA), 0);
    CHECK_RC(snap_be_resize(be, SNAP_LOG, 128), 0);
    CHECK_RC(snap_be_resize(be, SNAP_LOG, 192), 0);
    CHECK_RC(snap_be_resize(be, SNAP_LOG, 256), -EFBIG);
    uint64_t n;
    CHECK_RC(snap_be_size(be, SNAP_LOG, &n), 0);
    CHECK(n == 192);
    snap_backend_inject_fault(be, SNAP_FAULT_RESIZE, 0, -EFBIG);
    CHECK_RC(snap_be_resize(be, SNAP_LOG, 256), 0);
    snap_be_close(be);
    snap_sim_free(sim);
}

static void test_map_private(void)
{
    struct snap_backend *be;
    struct snap_sim *sim = setup(5000, &be);
    long page = sysconf(_SC_PAGESIZE);
    size_t span = 4 * (size_t)page;
    uint8_t *area = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    REQUIRE(area != MAP_FAILED);
    uint8_t want[5000];
    fill(want, sizeof want, 1);
    size_t rounded = (5000 + (size_t)page - 1) / (size_t)page * (size_t)page;
    REQUIRE_OK(snap_be_map_private(be, area, 0, rounded, 0));
    CHECK(memcmp(area, want, 5000) == 0);
    CHECK(area[5000] == 0 && area[rounded - 1] == 0);
    area[0] ^= 0xFF; /* private: the file does not change */
    uint8_t got;
    CHECK_RC(snap_sim_read(sim, DATA, 0, 0, &got, 1), 0);
    CHECK(got == want[0]);
    CHECK_RC(snap_be_map_private(be, area + rounded, rounded, (size_t)page, 0), SNAP_E_RANGE);
    CHECK_RC(snap_be_map_private(be, area + 1, 0, (size_t)page, 0), SNAP_E_INVAL);
    munmap(area, span);
    snap_be_close(be);
    snap_sim_free(sim);
}

/* Random operations: keeping every unit must give the cache, keeping none the media. */
static int test_random(void)
{
    struct test_rng rng;
    test_rng_seed(&rng, 42);
    struct snap_backend *be;
    struct snap_sim *sim = setup(1000, &be);
    uint8_t buf[300];
    int checks = 0;
    for (int op = 0; op < 400; op++) {
        int f = test_rng_below(&rng, 4) == 0 ? SNAP_LOG : SNAP_DATA;
        uint64_t size;
        REQUIRE_OK(snap_be_size(be, f, &size));
        uint64_t k = test_rng_below(&rng, 100);
        if (k < 60 && size > 0) {
            size_t len = 1 + (size_t)test_rng_below(&rng, size < 300 ? size : 300);
            uint64_t off = test_rng_below(&rng, size - len + 1);
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)test_rng_next(&rng);
            REQUIRE_OK(snap_be_write(be, f, off, buf, len));
        } else if (k < 75) {
            REQUIRE_OK(snap_be_resize(be, f, test_rng_below(&rng, 3000)));
        } else if (k < 85) {
            REQUIRE_OK(snap_be_barrier(be, f));
        } else {
            size_t pend = snap_sim_pending(sim);
            uint8_t *keep = malloc(pend + 1);
            REQUIRE(keep);
            for (int all = 0; all < 2; all++) {
                memset(keep, all, pend + 1);
                struct snap_sim *img = snap_sim_crash_image(sim, keep);
                REQUIRE(img);
                const char *names[2] = {DATA, LOG};
                for (int i = 0; i < 2; i++) {
                    uint64_t ws, gs;
                    uint8_t *want = image_of(sim, names[i], !all, &ws);
                    uint8_t *got = image_of(img, names[i], 1, &gs);
                    CHECK(ws == gs && memcmp(want, got, ws) == 0);
                    free(want);
                    free(got);
                }
                snap_sim_free(img);
                checks++;
            }
            free(keep);
        }
    }
    snap_be_close(be);
    snap_sim_free(sim);
    return checks;
}

int main(void)
{
    int cases = 0;
    test_open(), cases++;
    test_pending_and_barrier(), cases++;
    cases += test_every_subset();
    test_resize_semantics(), cases++;
    test_callback_power_off(), cases++;
    test_fail_barrier(), cases++;
    test_fault_injection(), cases++;
    test_map_private(), cases++;
    cases += test_random();
    return test_done("test_sim", cases);
}
