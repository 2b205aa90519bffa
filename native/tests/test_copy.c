/* test_copy.c — the DRAM copy's options (copy.h): SNAP_HUGEPAGES advises huge pages on the copy at
 * open (created, reopened: filled from the file) and at grow, and SNAPSHOT_HUGEPAGES=1 / =0 in the
 * environment overrides the flag either way. "Advised" is read from the copy's mapping in
 * /proc/self/smaps (VmFlags "hg": MADV_HUGEPAGE), which shows whether or not THP then backs it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

#define SIZE ((uint64_t)4 << 20)

/* 1 if the mapping holding addr carries MADV_HUGEPAGE ("hg" in its VmFlags), 0 if not. */
static int advised_huge(const void *addr)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    REQUIRE(f);
    char line[512];
    int in = 0, found = -1;
    while (found < 0 && fgets(line, sizeof line, f)) {
        uintptr_t lo, hi;
        if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &lo, &hi) == 2) { /* a mapping's header */
            in = lo <= (uintptr_t)addr && (uintptr_t)addr < hi;
            continue;
        }
        if (in && strncmp(line, "VmFlags:", 8) == 0)
            found = strstr(line, " hg") != NULL;
    }
    fclose(f);
    REQUIRE(found >= 0);
    return found;
}

/* Open (creating it if needed) with `flags` and SNAPSHOT_HUGEPAGES as `env` (NULL: unset); 1 if
 * the copy was advised huge pages, checked at the start and, after a grow by SIZE, in the grown
 * part. */
static int open_advised(const char *path, uint32_t flags, const char *env)
{
    REQUIRE(env ? setenv("SNAPSHOT_HUGEPAGES", env, 1) == 0 : unsetenv("SNAPSHOT_HUGEPAGES") == 0);
    snap_options o = {.flags = SNAP_CREATE | flags, .size = access(path, F_OK) ? SIZE : 0,
                      .max_size = 64 * SIZE};
    snap_region *r;
    REQUIRE_OK(snap_open(path, &o, &r));
    REQUIRE(unsetenv("SNAPSHOT_HUGEPAGES") == 0); /* read at open: the grow follows the open */
    uint8_t *b = snap_base(r);
    int at_open = advised_huge(b);
    uint64_t size = snap_size(r);
    REQUIRE_OK(snap_grow(r, size + SIZE));
    CHECK(advised_huge(b + size) == at_open);
    b[1] = 7; /* the bytes are the same either way */
    REQUIRE_OK(snap_track(r, b + 1, 1));
    REQUIRE_OK(snap_msync(r));
    CHECK(b[0] == 0 && b[1] == 7);
    REQUIRE_OK(snap_close(r));
    return at_open;
}

int main(void)
{
    int cases = 0;
    char *dir = test_tmpdir("copy", "disk");
    char *fresh = test_path(dir, "fresh"), *again = test_path(dir, "again");

    /* Unknown flags are still refused, the new one is accepted. */
    snap_options bad = {.flags = SNAP_CREATE | (SNAP_HUGEPAGES << 1), .size = SIZE};
    snap_region *r;
    CHECK_RC(snap_open(fresh, &bad, &r), SNAP_E_INVAL);
    cases++;

    CHECK(open_advised(fresh, 0, NULL) == 0); /* off by default */
    unlink(fresh);
    if (access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) != 0) {
        printf("test_copy: no transparent huge pages in this kernel: advice not checked\n");
        return test_done("test_copy", cases + 1);
    }
    CHECK(open_advised(fresh, SNAP_HUGEPAGES, NULL) == 1); /* a new region: zeros */
    CHECK(open_advised(fresh, SNAP_HUGEPAGES, NULL) == 1); /* reopened: read from the file */
    CHECK(open_advised(fresh, SNAP_HUGEPAGES, "0") == 0);  /* the environment turns it off */
    CHECK(open_advised(fresh, 0, "1") == 1);               /* ... and on */
    CHECK(open_advised(fresh, SNAP_HUGEPAGES, "yes") == 1); /* other values: the flag decides */
    CHECK(open_advised(again, 0, "") == 0);
    cases += 7;
    free(fresh);
    free(again);
    test_rmdir(dir);
    free(dir);
    return test_done("test_copy", cases);
}
