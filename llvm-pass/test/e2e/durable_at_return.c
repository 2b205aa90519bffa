/* durable_at_return.c — end-to-end: code built with the plugin (plain stores, no snap_track call)
 * is durable when snap_msync() returns 0, while other threads keep storing into neighbouring
 * lines: native/tests/race_at_return.h, with the plugin as the marker.
 *   prog                      passes iff no violation
 *   prog --expect-violations  built without the plugin: passes iff violations are seen (the test
 *                             can fail)
 * Environment: SNAPSHOT_RACE_MSYNCS (checked msyncs per scope, default 20000), TMPDIR. */
#include "race_at_return.h"

static void race_store(uint64_t *p, uint64_t v)
{
    *(volatile uint64_t *)p = v; /* a plain store: the plugin puts the hook after it */
}

int main(int argc, char **argv)
{
    int expect_violations = argc > 1 && strcmp(argv[1], "--expect-violations") == 0;
    const char *env = getenv("SNAPSHOT_RACE_MSYNCS");
    uint64_t n = env ? strtoull(env, NULL, 10) : 20000;
    if (expect_violations && n > 500)
        n = 500; /* every msync fails there */
    const char *dir = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/snap-race-%d", dir && *dir ? dir : "/tmp", (int)getpid());
    uint64_t bad = 0;
    for (uint64_t other = 8; other <= 64 && !expect_violations; other += 56) /* unmarked: no climb */
        bad += (uint64_t)race_paused_climber("plugin", path, other);
    bad += race_all_scopes("plugin", path, n);
    race_remove(path);
    int pass = expect_violations ? bad > 0 : bad == 0;
    printf("durable_at_return: %s%s\n", pass ? "PASS" : "FAIL",
           expect_violations ? " (built without the plugin: violations expected)" : "");
    return pass ? 0 : 1;
}
