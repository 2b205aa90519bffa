/* test_arena.c — slots: alloc/publish/lookup/free, reuse, exhaustion, SNAPSHOT_ARENA_SIZE, store hook. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arena.h"
#include "dirty_map.h"
#include "test_util.h"

#define GiB ((uint64_t)1 << 30)

/* The real regions live in region.c; these stand-ins are only compared by address, except in the
 * hook test, where the slow path below treats them as struct fake_region. */
struct fake_region {
    struct snap_dirty_map map;
    uintptr_t base;
    uint64_t size;
};

static long slow_calls;

/* The library's snap_track_slow is in region.c, which this test does not link: this one counts
 * calls and marks lines the way region.c does (lines past the region's size are ignored). */
void snap_track_slow(const void *addr, size_t len)
{
    slow_calls++;
    struct fake_region *r = (struct fake_region *)snap_arena_lookup((uintptr_t)addr);
    if (!r || !len)
        return;
    uint64_t off = (uintptr_t)addr - r->base;
    if (off >= r->size)
        return;
    if (len > r->size - off)
        len = r->size - off;
    snap_dirty_mark(&r->map, off >> 6, ((off + len - 1) >> 6) - (off >> 6) + 1);
}

#define R(n) ((struct snap_region *)(uintptr_t)(0x1000 * (n))) /* distinct owner tokens */

/* ---- SNAPSHOT_ARENA_SIZE: read once, at the first allocation, so each case runs in a child. -- */
static void env_case(const char *value, int want_rc, uint64_t want_len)
{
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (value)
            setenv("SNAPSHOT_ARENA_SIZE", value, 1);
        else
            unsetenv("SNAPSHOT_ARENA_SIZE");
        uintptr_t base;
        int rc = snap_arena_alloc(R(1), 1, &base);
        if (rc == -ENOMEM && want_len > ((uint64_t)1 << 40))
            _exit(0); /* parsed, but more than sanitizers leave room for (gcc's TSan) */
        uint64_t len = snap_arena_len;
        if (!rc && !(value && *value) && len < want_len) {
            /* The default may shrink, but only when the full size cannot be reserved (gcc's TSan
             * runtime leaves ~1 TiB of address space): then a reservation that size fails too. */
            void *p = mmap(NULL, want_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (p == MAP_FAILED && len >= GiB && (len & (len - 1)) == 0)
                want_len = len;
        }
        int ok = rc == want_rc && (rc != 0 || (len == want_len && base == snap_arena_lo &&
                                               snap_arena_lo % GiB == 0));
        /* An invalid value is not latched as "initialised": the next call fails the same way. */
        if (rc)
            ok = ok && snap_arena_alloc(R(1), 1, &base) == rc && snap_arena_len == 0;
        /* The whole arena can be taken, one slot more cannot. */
        if (!rc && want_len <= 16 * GiB)
            ok = ok && (want_len == GiB || snap_arena_alloc(R(2), want_len - GiB, &base) == 0) &&
                 snap_arena_alloc(R(3), 1, &base) == SNAP_E_NOSPACE;
        _exit(ok ? 0 : 1);
    }
    int st;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "SNAPSHOT_ARENA_SIZE=%s: wrong result\n", value ? value : "(unset)");
        test_failures++;
    }
}

static void test_env(void)
{
    env_case(NULL, 0, (uint64_t)1 << 40); /* default: 1 TiB */
    env_case("", 0, (uint64_t)1 << 40);
    env_case("1G", 0, GiB);
    env_case("8G", 0, 8 * GiB);
    env_case("4GiB", 0, 4 * GiB);
    env_case("3gb", 0, 3 * GiB);
    env_case("2048M", 0, 2 * GiB);
    env_case("1073741824", 0, GiB);
    env_case("2T", 0, (uint64_t)2 << 40);
    env_case("0", SNAP_E_INVAL, 0);
    env_case("512M", SNAP_E_INVAL, 0);   /* below one slot */
    env_case("1536M", SNAP_E_INVAL, 0);  /* not a whole number of slots */
    env_case("8X", SNAP_E_INVAL, 0);
    env_case("-8G", SNAP_E_INVAL, 0);
    env_case("G", SNAP_E_INVAL, 0);
    env_case("99999999999999999999G", SNAP_E_INVAL, 0);
    env_case("16777216T", SNAP_E_INVAL, 0); /* 2^64: overflows */
}

/* Permissions of the mapping holding addr, from /proc/self/maps ("rw-p", "---p"), or "" if none. */
static void perms_at(uintptr_t addr, char out[5])
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    out[0] = 0;
    REQUIRE(f);
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        char perms[5];
        if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 && addr >= lo && addr < hi) {
            memcpy(out, perms, 5);
            break;
        }
    }
    fclose(f);
}

static void test_round(void)
{
    CHECK(snap_arena_round(0) == GiB);
    CHECK(snap_arena_round(1) == GiB);
    CHECK(snap_arena_round(GiB) == GiB);
    CHECK(snap_arena_round(GiB + 1) == 2 * GiB);
    CHECK(snap_arena_round(UINT64_MAX) % GiB == 0);
}

/* Runs in the parent with an 8 GiB arena: 8 slots. */
static void test_slots(void)
{
    uintptr_t a, b, c, d, e, f;
    CHECK(snap_arena_len == 0);
    CHECK(snap_arena_lookup(0x12345678) == NULL);
    CHECK(snap_arena_alloc(R(1), 0, &a) == SNAP_E_INVAL);
    CHECK(snap_arena_alloc(NULL, 1, &a) == SNAP_E_INVAL);

    REQUIRE_OK(snap_arena_alloc(R(1), 1, &a));
    CHECK(snap_arena_len == 8 * GiB);
    CHECK(snap_arena_lo % GiB == 0);
    CHECK(a == snap_arena_lo);
    CHECK(snap_arena_lookup(a) == R(1));
    CHECK(snap_arena_lookup(a + GiB - 1) == R(1));
    CHECK(snap_arena_lookup(a + GiB) == NULL);
    CHECK(snap_arena_lookup(a - 1) == NULL);
    CHECK(snap_arena_lookup(snap_arena_lo + 8 * GiB) == NULL);
    /* Allocated but not yet published: the hook ignores it. */
    CHECK(snap_arena_slots[0].dirty == NULL && snap_arena_slots[0].base == a);

    REQUIRE_OK(snap_arena_alloc(R(2), 3 * GiB, &b)); /* slots 1..3 */
    CHECK(b == a + GiB);
    REQUIRE_OK(snap_arena_alloc(R(3), 4 * GiB - 5, &c)); /* slots 4..7 */
    CHECK(c == a + 4 * GiB);
    CHECK(snap_arena_lookup(b + 3 * GiB - 1) == R(2) && snap_arena_lookup(c + 3 * GiB) == R(3));
    CHECK(snap_arena_alloc(R(4), 1, &d) == SNAP_E_NOSPACE);

    /* publish / set_size reach every slot of the region. */
    uint64_t bits[4] = {0};
    snap_arena_publish(b, 3 * GiB, 12345, bits);
    for (int i = 1; i <= 3; i++)
        CHECK(snap_arena_slots[i].base == b && snap_arena_slots[i].size == 12345 &&
              snap_arena_slots[i].dirty == bits);
    snap_arena_set_size(b, 3 * GiB, 2 * GiB + 7);
    for (int i = 1; i <= 3; i++)
        CHECK(snap_arena_slots[i].size == 2 * GiB + 7);
    CHECK(snap_arena_slots[0].dirty == NULL && snap_arena_slots[4].dirty == NULL);

    /* Pages of a freed region are dropped and the range is reserved again. */
    REQUIRE(mmap((void *)b, 1 << 20, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1,
                 0) == (void *)b);
    memset((void *)b, 0xab, 1 << 20);
    char perms[5];
    perms_at(b, perms);
    CHECK(strcmp(perms, "rw-p") == 0);
    snap_arena_free(b, 3 * GiB);
    perms_at(b, perms);
    CHECK(strcmp(perms, "---p") == 0);
    CHECK(snap_arena_lookup(b) == NULL && snap_arena_lookup(b + 2 * GiB) == NULL);
    for (int i = 1; i <= 3; i++)
        CHECK(snap_arena_slots[i].base == 0 && snap_arena_slots[i].dirty == NULL &&
              snap_arena_slots[i].size == 0);
    CHECK(snap_arena_lookup(a) == R(1) && snap_arena_lookup(c) == R(3));

    /* Freed slots are reused, first fit. */
    REQUIRE_OK(snap_arena_alloc(R(5), 2 * GiB, &e));
    CHECK(e == b);
    REQUIRE_OK(snap_arena_alloc(R(6), GiB, &f));
    CHECK(f == b + 2 * GiB);
    CHECK(snap_arena_alloc(R(7), 1, &d) == SNAP_E_NOSPACE);
    REQUIRE(mmap((void *)e, 1 << 20, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1,
                 0) == (void *)e);
    CHECK(*(volatile unsigned char *)e == 0); /* nothing of the old region survives */

    /* A run must be contiguous: free slots 0 and 3, 2 slots do not fit. */
    snap_arena_free(a, 1);
    snap_arena_free(f, GiB);
    CHECK(snap_arena_alloc(R(8), 2 * GiB, &d) == SNAP_E_NOSPACE);
    snap_arena_free(e, 2 * GiB);
    snap_arena_free(c, 4 * GiB - 5);
    snap_arena_free(c + 123, GiB); /* not a region's base: ignored */
    CHECK(snap_arena_alloc(R(9), 9 * GiB, &d) == SNAP_E_NOSPACE);
    REQUIRE_OK(snap_arena_alloc(R(9), 8 * GiB, &d));
    CHECK(d == snap_arena_lo);
    snap_arena_free(d, 8 * GiB);
    for (int i = 0; i < 8; i++)
        CHECK(snap_arena_lookup(snap_arena_lo + (uint64_t)i * GiB) == NULL);
}

/* ---- The inline hook against a published region. ---------------------------------------------- */
static void test_hook(void)
{
    struct fake_region fr = {0};
    const uint64_t reserve = 2 * GiB;
    REQUIRE_OK(snap_arena_alloc((struct snap_region *)&fr, reserve, &fr.base));
    fr.size = GiB + (1 << 20); /* reaches into the second slot */
    REQUIRE_OK(snap_dirty_init(&fr.map, reserve >> 6, 0));
    char *base = (char *)fr.base;
    REQUIRE(mmap(base, 1 << 20, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) ==
            base);
    REQUIRE(mmap(base + GiB, 1 << 20, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1,
                 0) == base + GiB);

    /* Before publish: the slot has no bitmap, so the slow path decides (and finds the region). */
    slow_calls = 0;
    snap_hook_store(base, 8);
    CHECK(slow_calls == 1);
    snap_dirty_clear(&fr.map);
    snap_arena_publish(fr.base, reserve, fr.size, fr.map.level[0]);

    /* Outside the arena: one compare, never the slow path. */
    int local = 0;
    static long global;
    char *heap = malloc(16);
    local = 1, snap_hook_store(&local, sizeof local);
    global = 1, snap_hook_store(&global, sizeof global);
    heap[0] = 1, snap_hook_store(heap, 16);
    snap_hook_store((void *)(snap_arena_lo - 1), 1);
    snap_hook_store((void *)(snap_arena_lo + snap_arena_len), 1);
    CHECK(slow_calls == 1);
    free(heap);

    /* First store to a line: slow path, the line's bit is set; later stores to it: fast path. */
    *(uint64_t *)(base + 128) = 1, snap_hook_store(base + 128, 8);
    CHECK(slow_calls == 2);
    CHECK(snap_dirty_test(&fr.map, 2) && !snap_dirty_test(&fr.map, 1) && !snap_dirty_test(&fr.map, 3));
    *(uint64_t *)(base + 128) = 2, snap_hook_store(base + 128, 8);
    base[191] = 3, snap_hook_store(base + 191, 1);
    *(uint64_t *)(base + 184) = 4, snap_hook_store(base + 184, 8); /* last 8 bytes of the line */
    CHECK(slow_calls == 2);

    /* A store spanning two lines always takes the slow path, and marks both. */
    snap_dirty_mark(&fr.map, 0, 2);
    memset(base + 60, 5, 8), snap_hook_store(base + 60, 8);
    CHECK(slow_calls == 3);
    memset(base + 250, 6, 12), snap_hook_store(base + 250, 12); /* lines 3 and 4 */
    CHECK(slow_calls == 4);
    CHECK(snap_dirty_test(&fr.map, 3) && snap_dirty_test(&fr.map, 4) && !snap_dirty_test(&fr.map, 5));

    /* The second slot of the region maps to the same bitmap, line index from the region's base. */
    uint64_t line2 = (GiB + 64) >> 6;
    base[GiB + 64] = 7, snap_hook_store(base + GiB + 64, 1);
    CHECK(slow_calls == 5 && snap_dirty_test(&fr.map, line2));
    base[GiB + 65] = 7, snap_hook_store(base + GiB + 65, 1);
    CHECK(slow_calls == 5);

    /* Past the region's size the hook defers to the slow path, which ignores the bytes. The hook
     * never dereferences addr, so the address need not be mapped. */
    uint64_t past = (GiB + (2 << 20)) >> 6;
    snap_hook_store(base + GiB + (2 << 20), 1);
    CHECK(slow_calls == 6 && !snap_dirty_test(&fr.map, past));
    snap_dirty_mark(&fr.map, past, 1); /* even a marked line past size is not trusted */
    snap_hook_store(base + GiB + (2 << 20), 1);
    CHECK(slow_calls == 7);
    /* ... until the region grows over it. */
    fr.size = GiB + (4 << 20);
    snap_arena_set_size(fr.base, reserve, fr.size);
    snap_hook_store(base + GiB + (2 << 20), 1);
    CHECK(slow_calls == 7);

    struct snap_line_run *runs = NULL;
    size_t cap = 0;
    long n = snap_dirty_collect(&fr.map, &runs, &cap);
    CHECK(n == 3);
    if (n == 3) {
        CHECK(runs[0].first == 0 && runs[0].count == 5);
        CHECK(runs[1].first == line2 && runs[1].count == 1);
        CHECK(runs[2].first == past && runs[2].count == 1);
    }
    free(runs);

    /* After free the slots are unpublished: the hook goes to the slow path, which finds nothing. */
    snap_arena_free(fr.base, reserve);
    snap_hook_store(base + 128, 8);
    CHECK(slow_calls == 8 && !snap_dirty_test(&fr.map, 2));
    snap_dirty_destroy(&fr.map);
}

/* ---- Lock-free lookup while other threads allocate and free (run under TSan too). ------------ */
static int stop_readers;

static void *churn(void *arg)
{
    struct snap_region *me = arg;
    for (int i = 0; i < 300; i++) {
        uintptr_t b;
        int rc = snap_arena_alloc(me, GiB, &b);
        if (rc == SNAP_E_NOSPACE)
            continue;
        REQUIRE(rc == 0);
        if (snap_arena_lookup(b) != me || snap_arena_lookup(b + GiB / 2) != me)
            __atomic_add_fetch(&test_failures, 1, __ATOMIC_RELAXED);
        snap_arena_publish(b, GiB, 4096, (uint64_t *)(uintptr_t)8);
        snap_arena_free(b, GiB);
    }
    return NULL;
}

static void *reader(void *arg)
{
    (void)arg;
    uintptr_t lo = snap_arena_lo, len = snap_arena_len;
    while (!__atomic_load_n(&stop_readers, __ATOMIC_ACQUIRE))
        for (uintptr_t a = lo; a < lo + len; a += GiB) {
            struct snap_region *r = snap_arena_lookup(a + 100);
            if (r && r != R(20) && r != R(21) && r != R(22))
                __atomic_add_fetch(&test_failures, 1, __ATOMIC_RELAXED);
        }
    return NULL;
}

static void test_threads(void)
{
    pthread_t rd, th[3];
    REQUIRE(pthread_create(&rd, NULL, reader, NULL) == 0);
    for (int i = 0; i < 3; i++)
        REQUIRE(pthread_create(&th[i], NULL, churn, R(20 + i)) == 0);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    __atomic_store_n(&stop_readers, 1, __ATOMIC_RELEASE);
    pthread_join(rd, NULL);
    for (int i = 0; i < 8; i++)
        CHECK(snap_arena_lookup(snap_arena_lo + (uint64_t)i * GiB) == NULL);
}

int main(void)
{
    test_env(); /* children: before this process's arena exists */
    setenv("SNAPSHOT_ARENA_SIZE", "8G", 1);
    test_round();
    test_slots();
    test_hook();
    test_threads();
    return test_done("test_arena", 5);
}
