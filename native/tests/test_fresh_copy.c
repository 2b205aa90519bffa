/* test_fresh_copy.c — where the data file holds only zeros (a region just created, the part a
 * snap_grow() adds) the DRAM copy is fresh anonymous memory instead of a private mapping of the
 * file (region.c, map_copy): it reads the same zeros, commits and reopens the same, and its first
 * store to a page copies nothing from the file. Checked on both media: which kind of memory backs
 * the copy (/proc/self/maps names the data file for a file mapping), the content through create,
 * stores, grow, msync, close and reopen, and that a reopened region (bytes in the file) maps the
 * file again. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

#define SIZE (1u << 20)

static int cases;

/* 1 if the mapping holding addr is a mapping of a file (its line in /proc/self/maps ends with a
 * path), 0 if anonymous; exits if no mapping holds it. */
static int file_backed(const void *addr)
{
    FILE *f = fopen("/proc/self/maps", "r");
    REQUIRE(f);
    char line[4608];
    int found = -1;
    while (found < 0 && fgets(line, sizeof line, f)) {
        uintptr_t lo, hi;
        int name = 0;
        if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %*s %*s %*s %*s %n", &lo, &hi, &name) < 2)
            continue;
        if ((uintptr_t)addr >= lo && (uintptr_t)addr < hi)
            found = name > 0 && line[name] == '/';
    }
    fclose(f);
    REQUIRE(found >= 0);
    return found;
}

static uint8_t byte_at(uint64_t off, unsigned round)
{
    return (uint8_t)(off * 37 + round * 101 + 1);
}

/* Store a pattern into the bytes of [from, to) at multiples of 509, and track them. */
static void scatter(snap_region *r, uint64_t from, uint64_t to, unsigned round)
{
    uint8_t *b = snap_base(r);
    for (uint64_t off = (from + 508) / 509 * 509; off < to; off += 509) {
        b[off] = byte_at(off, round);
        REQUIRE_OK(snap_track(r, b + off, 1));
    }
}

static int content_is(const uint8_t *b, uint64_t size, uint64_t grown_from, unsigned round)
{
    for (uint64_t off = 0; off < size; off++) {
        uint8_t want = off % 509 == 0 ? byte_at(off, off < grown_from ? 0 : round) : 0;
        if (b[off] != want)
            return 0;
    }
    return 1;
}

static void run(const char *kind, enum snap_backend_kind backend)
{
    char *dir = test_tmpdir("fresh_copy", kind);
    char *path = test_path(dir, "r");
    snap_options o = {.flags = SNAP_CREATE | SNAP_EXCL, .backend = backend, .size = SIZE,
                      .max_size = 4 * SIZE};
    snap_region *r;

    /* A new region: anonymous, zeros. */
    REQUIRE_OK(snap_open(path, &o, &r));
    uint8_t *b = snap_base(r);
    CHECK(!file_backed(b));
    int zero = 1;
    for (uint64_t off = 0; off < SIZE; off++)
        zero &= b[off] == 0;
    CHECK(zero);
    scatter(r, 0, SIZE, 0);
    CHECK_RC(snap_msync(r), 0);

    /* A grow: the added pages are anonymous too; the first stay as they were. */
    CHECK_RC(snap_grow(r, 3 * SIZE), 0);
    b = snap_base(r);
    CHECK(!file_backed(b + 2 * SIZE));
    scatter(r, SIZE, 3 * SIZE, 1);
    CHECK_RC(snap_msync(r), 0);
    CHECK(content_is(b, 3 * SIZE, SIZE, 1));
    CHECK_RC(snap_close(r), 0);

    /* Reopened: the bytes are in the file now, so the copy maps it; the content committed. */
    o.flags = 0;
    o.size = 0;
    REQUIRE_OK(snap_open(path, &o, &r));
    b = snap_base(r);
    CHECK(snap_size(r) == 3 * SIZE);
    CHECK(file_backed(b));
    CHECK(content_is(b, 3 * SIZE, SIZE, 1));
    CHECK_RC(snap_close(r), 0);

    free(path);
    test_rmdir(dir);
    free(dir);
    cases++;
}

int main(void)
{
    setenv("PMEM_IS_PMEM_FORCE", "1", 1); /* before the first libpmem call: it reads it once */
    run("disk", SNAP_BACKEND_FILE);
    run("shm", SNAP_BACKEND_PMEM); /* mapped by libpmem (SNAP_BACKEND_PMEM takes any file) */
    return test_done("test_fresh_copy", cases);
}
