/* consumer.c — a program built against an installed Snapshot: by any C compiler, tracking its
 * store with snap_track() (pkgconfig/); or by clang 19 with the installed plugin and
 * -DTRACKED_BY_PLUGIN, which tracks the plain store itself (pkgconfig/, and cmake/ through
 * find_package(Snapshot) and snapshot_instrument()).
 *   consumer FILE   create FILE, store a value, msync, close; reopen and check the value is there
 */
#include <inttypes.h>
#include <stdio.h>

#include <snapshot.h>

static int fail(const char *what, int rc)
{
    fprintf(stderr, "consumer: %s: %s\n", what, snap_strerror(rc));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: consumer FILE\n");
        return 2;
    }
    const uint64_t value = UINT64_C(0x5eed00000000002a);
    snap_options create = {.flags = SNAP_CREATE | SNAP_EXCL, .size = 4096};
    snap_region *r;
    int rc = snap_open(argv[1], &create, &r);
    if (rc)
        return fail("create", rc);
    uint64_t *cells = snap_base(r);
    cells[1] = value;
#ifndef TRACKED_BY_PLUGIN
    if ((rc = snap_track(r, &cells[1], sizeof cells[1])) != 0)
        return fail("track", rc);
#endif
    if ((rc = snap_msync(r)) != 0)
        return fail("msync", rc);
    if ((rc = snap_close(r)) != 0)
        return fail("close", rc);

    snap_options reopen = {0};
    if ((rc = snap_open(argv[1], &reopen, &r)) != 0)
        return fail("reopen", rc);
    uint64_t got = ((const uint64_t *)snap_base(r))[1];
    snap_close(r);
    if (got != value) {
        fprintf(stderr, "consumer: read %#" PRIx64 " after reopening, stored %#" PRIx64
                        ": the store was not tracked\n", got, value);
        return 1;
    }
    printf("consumer: ok\n");
    return 0;
}
