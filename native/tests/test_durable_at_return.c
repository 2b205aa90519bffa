/* test_durable_at_return.c — snap_msync() returns 0 only once the caller's store is in the data
 * file, while other threads keep marking neighbouring lines (race_at_return.h), for the two C
 * markers: the inline hook (snap_hook_store, as plugin-instrumented code calls it) and
 * snap_track(): first with a marker stopped inside its climb (deterministic), then with noise
 * threads marking without pause. The plugin's own run is llvm-pass/test/e2e/durable_at_return.c; Java's is
 * ConcurrencyTest.
 *
 * Environment: SNAPSHOT_RACE_MSYNCS (checked msyncs per scope and marker, default 20000);
 * scripts/crash-campaign runs over a million. */
#include "test_util.h"

#include "race_at_return.h"

static int use_track;

static void race_store(uint64_t *p, uint64_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELAXED); /* the noise threads' stores race by design */
    if (use_track)
        snap_track(race_region, p, sizeof *p);
    else
        snap_hook_store(p, sizeof *p);
}

int main(void)
{
    uint64_t n = (uint64_t)test_env_long("SNAPSHOT_RACE_MSYNCS", 20000);
    char *dir = test_tmpdir("durable_at_return", "shm");
    char *path = test_path(dir, "race.db");
    int cases = 0;
    for (use_track = 0; use_track < 2; use_track++) {
        const char *label = use_track ? "snap_track" : "snap_hook_store";
        CHECK(race_paused_climber(label, path, 8) == 0);
        CHECK(race_paused_climber(label, path, 64) == 0);
        CHECK(race_all_scopes(label, path, n) == 0);
        cases += 3;
    }
    test_rmdir(dir);
    free(path);
    free(dir);
    return test_done("test_durable_at_return", cases);
}
