/* test_populate.c — SNAP_POPULATE: the DRAM copy is faulted in for writing at open and at grow (by
 * madvise, and by the touch-one-byte-per-page fallback), its bytes unchanged and nothing marked.
 * "Faulted in" is measured two ways that a lazy private mapping of the file fails: the mapping's
 * anonymous memory in /proc/self/smaps (a page becomes anonymous only when copied for writing; on
 * tmpfs mincore() would report the file's page cache instead), and the minor faults a write pass
 * over every page takes (getrusage: about one per page without populate, about none with it). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "test_util.h"
#include "testkit.h"

#define PAGES 1024 /* 4 MiB: far more pages than the few faults the bitmap and the test take */

static size_t page;

static uint8_t pattern_byte(uint64_t off)
{
    return (uint8_t)(off * 131 + (off >> 12) * 7 + 1);
}

/* Create `path` with `size` bytes of committed pattern (every byte non-zero), closed again. */
static void make_region(const char *path, uint64_t size)
{
    snap_options o = {.flags = SNAP_CREATE, .size = size};
    snap_region *r;
    REQUIRE_OK(snap_open(path, &o, &r));
    uint8_t *b = snap_base(r);
    for (uint64_t i = 0; i < size; i++)
        b[i] = pattern_byte(i);
    REQUIRE_OK(snap_track(r, b, size));
    REQUIRE_OK(snap_msync(r));
    REQUIRE_OK(snap_close(r));
}

static int pattern_intact(const uint8_t *b, uint64_t size)
{
    for (uint64_t i = 0; i < size; i++)
        if (b[i] != pattern_byte(i))
            return 0;
    return 1;
}

/* "Anonymous:" of the mapping that starts at addr, in kB; -1 if there is none. */
static long anon_kb(const void *addr)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    REQUIRE(f);
    char line[512];
    int in = 0;
    long kb = -1;
    while (fgets(line, sizeof line, f)) {
        uintptr_t lo, hi;
        if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &lo, &hi) == 2) { /* a mapping's header */
            in = lo == (uintptr_t)addr;
            continue;
        }
        if (in && sscanf(line, "Anonymous: %ld kB", &kb) == 1)
            break;
    }
    fclose(f);
    return kb;
}

static long minor_faults(void)
{
    struct rusage ru;
    REQUIRE(getrusage(RUSAGE_SELF, &ru) == 0);
    return ru.ru_minflt;
}

/* Store into every page of [from, to) of the copy (tracked), and return the minor faults taken. */
static long write_pass(snap_region *r, uint64_t from, uint64_t to)
{
    volatile uint8_t *b = snap_base(r);
    long before = minor_faults();
    for (uint64_t off = from; off < to; off += page) {
        b[off] = (uint8_t)~b[off];
        snap_track_offset(r, off, 1);
    }
    return minor_faults() - before;
}

/* Open `path` with or without SNAP_POPULATE and check what that leaves: residency, the bytes, an
 * empty commit, the faults of a first write pass; then close, discarding the pass. */
static void open_and_check(const char *path, uint64_t size, int populate)
{
    snap_options o = {.flags = populate ? SNAP_POPULATE : 0};
    snap_region *r;
    REQUIRE_OK(snap_open(path, &o, &r));
    uint8_t *b = snap_base(r);
    long kb = anon_kb(b);
    if (populate) {
        CHECK(kb >= (long)(size >> 10)); /* every page copied for writing */
    } else {
        CHECK(kb >= 0 && kb < (long)(size >> 10) / 8); /* a lazy mapping: nothing copied yet */
    }
    if (kb < 0 || (populate != 0) != (kb >= (long)(size >> 10)))
        fprintf(stderr, "  populate=%d touch_only=%d: Anonymous %ld kB of %" PRIu64 "\n", populate,
                snap_populate_touch_only, kb, size >> 10);

    CHECK(pattern_intact(b, size));
    snap_stats st;
    REQUIRE_OK(snap_msync(r)); /* populating marked nothing: nothing to commit */
    REQUIRE_OK(snap_stats_get(r, &st));
    CHECK(st.lines_committed == 0);
    CHECK(st.bytes_committed == 0);
    CHECK(st.commits == 0);

    long faults = write_pass(r, 0, size);
    if (populate)
        CHECK(faults < PAGES / 16);
    else
        CHECK(faults >= PAGES / 2);
    if (populate ? faults >= PAGES / 16 : faults < PAGES / 2)
        fprintf(stderr, "  populate=%d touch_only=%d: %ld faults for %d pages\n", populate,
                snap_populate_touch_only, faults, PAGES);
    REQUIRE_OK(snap_close(r)); /* the write pass is discarded */
}

/* A populated region grown: the new part is faulted in too, reads as zero, commits no lines. */
static void grow_and_check(const char *path, uint64_t size)
{
    snap_options o = {.flags = SNAP_POPULATE, .max_size = 4 * size};
    snap_region *r;
    REQUIRE_OK(snap_open(path, &o, &r));
    REQUIRE_OK(snap_grow(r, 2 * size));
    const uint8_t *b = snap_base(r);
    CHECK(pattern_intact(b, size));
    int zero = 1;
    for (uint64_t i = size; i < 2 * size; i++)
        zero &= b[i] == 0;
    CHECK(zero);
    REQUIRE_OK(snap_msync(r)); /* commits the new size, and no line */
    snap_stats st;
    REQUIRE_OK(snap_stats_get(r, &st));
    CHECK(st.lines_committed == 0);
    CHECK(st.size == 2 * size);
    long faults = write_pass(r, size, 2 * size);
    CHECK(faults < PAGES / 16);
    if (faults >= PAGES / 16)
        fprintf(stderr, "  grow, touch_only=%d: %ld faults for %d pages\n",
                snap_populate_touch_only, faults, PAGES);
    REQUIRE_OK(snap_close(r));
    /* The grown size was committed; the pass over the new part was not. */
    REQUIRE_OK(snap_open(path, NULL, &r));
    CHECK(snap_size(r) == 2 * size);
    b = snap_base(r);
    CHECK(pattern_intact(b, size));
    zero = 1;
    for (uint64_t i = size; i < 2 * size; i++)
        zero &= b[i] == 0;
    CHECK(zero);
    REQUIRE_OK(snap_close(r));
}

int main(void)
{
    int cases = 0;
    unsetenv("SNAPSHOT_HUGEPAGES"); /* with huge pages the copy is filled at open anyway */
    unsetenv("SNAPSHOT_VERIFY");
    page = (size_t)sysconf(_SC_PAGESIZE);
    const uint64_t size = (uint64_t)PAGES * page;
    const char *kinds[] = {"disk", "shm"};
    for (int k = 0; k < 2; k++) {
        char *dir = test_tmpdir("test_populate", kinds[k]);
        for (int touch = 0; touch < 2; touch++) {
            snap_populate_touch_only = touch; /* madvise, then the fallback of old kernels */
            char *path = test_path(dir, touch ? "touch.dat" : "madvise.dat");
            make_region(path, size);
            open_and_check(path, size, 0);
            open_and_check(path, size, 1);
            grow_and_check(path, size);
            /* Nothing above committed a line: the file still holds the pattern, then zeros. */
            snap_region *r;
            REQUIRE_OK(snap_open(path, NULL, &r));
            CHECK(pattern_intact(snap_base(r), size));
            REQUIRE_OK(snap_close(r));
            free(path);
            cases += 3;
        }
        snap_populate_touch_only = 0;
        test_rmdir(dir);
        free(dir);
    }

    /* An unknown flag next to it is still refused. */
    snap_options bad = {.flags = SNAP_HUGEPAGES << 1, .size = 4096};
    snap_region *r;
    CHECK_RC(snap_open("/nonexistent/never", &bad, &r), SNAP_E_INVAL);
    cases++;
    return test_done("test_populate", cases);
}
