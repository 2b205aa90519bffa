/* test_full_fs.c — a full file system is an error, never a signal (issue 12, point 3).
 *
 * On a small tmpfs and a small ext4 (loop mount), for both back ends (file; PM through libpmem
 * with PMEM_IS_PMEM_FORCE=1), for a data file snap_open() created and for an adopted sparse one
 * (a file of holes with one page of data, no sidecar): commit once, fill the file system, then
 * store into every page of the region (into holes of the data file, for the adopted one) and
 * msync, four times (see in_round). Each scenario runs in a forked child, so that a SIGBUS
 * (from a first store into a tmpfs hole through the private copy, or from the apply's store into
 * a hole through the shared view of the data file) shows as a failure here instead of killing
 * the test. Checked:
 *   - the child exits normally: no signal, anywhere;
 *   - each msync on the full file system returns 0 or -ENOSPC: 0 for stores into blocks that
 *     exist (page 0; the region stays usable for what it can commit), -ENOSPC for the adopted file,
 *     whose holes need blocks, and for a record larger than the log, which must grow. After
 *     -ENOSPC nothing committed and the region is not in panic: the next msync while full is
 *     -ENOSPC again (it also runs a deferred PM apply of a round that did commit), and after the
 *     file system has room again (the filler removed) an msync commits every store;
 *   - snap_grow() on the full file system is -ENOSPC and leaves the data file as it was;
 *   - after close, a reopen holds that state, byte for byte.
 * Then a fragmented sparse file on tmpfs, with more data extents than the copy maps one by one
 * (fragmented_scenario). The file back end runs twice: applying with stores through its shared mapping (as on ext4 and
 * tmpfs) and with pwrite (as on file systems that may need new space to overwrite).
 * Needs root for the mounts (CI runs as root); otherwise it says so and passes. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "scratch_fs.h"
#include "test_util.h"
#include "testkit.h"

#define SIZE (1u << 20)
#define PAGE 4096u
#define LOG_CAP (256u << 10)

static int cases;

enum kind { CREATED, ADOPTED_SPARSE };
static const char *kind_name[] = {"created", "adopted sparse"};

static uint8_t pattern(uint64_t off, unsigned round)
{
    return (uint8_t)(off * 13 + round * 71 + 1);
}

/* The rounds of stores: 1 (with room) bytes 3000..3063; on the full file system 2: byte 3200
 * (page 0 has its blocks, and the log room for a small record), 3: bytes 8..519 of every page (a
 * 140 KiB record: past the log's first granule), 4: byte 3500, 5: bytes 520..1543 of every page
 * (a record larger than the log: it must grow). */
#define ROUNDS 5
static int in_round(uint64_t off, unsigned round)
{
    uint64_t in_page = off % PAGE;
    switch (round) {
    case 1: return off >= 3000 && off < 3064;
    case 2: return off == 3200;
    case 3: return in_page >= 8 && in_page < 520;
    case 4: return off == 3500;
    case 5: return in_page >= 520 && in_page < 1544;
    }
    return 0;
}

/* The state after `rounds` acknowledged rounds; an adopted file starts with one page of data. */
static uint8_t expected(uint64_t off, enum kind k, unsigned rounds)
{
    for (unsigned round = rounds; round >= 1; round--)
        if (in_round(off, round))
            return pattern(off, round);
    if (k == ADOPTED_SPARSE && off < PAGE)
        return (uint8_t)(off * 7 + 3);
    return 0;
}

static int content_ok(const uint8_t *b, enum kind k, unsigned rounds)
{
    for (uint64_t off = 0; off < SIZE; off++)
        if (b[off] != expected(off, k, rounds)) {
            fprintf(stderr, "  byte %llu is %u, wanted %u (state after %u rounds)\n",
                    (unsigned long long)off, b[off], expected(off, k, rounds), rounds);
            return 0;
        }
    return 1;
}

static void store_round(snap_region *r, unsigned round)
{
    uint8_t *b = snap_base(r);
    for (uint64_t off = 0; off < SIZE; off++)
        if (in_round(off, round)) {
            b[off] = pattern(off, round);
            REQUIRE_OK(snap_track(r, b + off, 1));
        }
}

static int msync_full(snap_region *r, unsigned round)
{
    int rc = snap_msync(r);
    fprintf(stderr, "  round %u, on the full file system: %d (%s)\n", round, rc, snap_strerror(rc));
    CHECK(rc == 0 || rc == -ENOSPC);
    return rc;
}

static int file_size_is(const char *path, uint64_t size)
{
    struct stat st;
    return stat(path, &st) == 0 && (uint64_t)st.st_size == size;
}

/* The scenario, in the child. Returns the number of failed checks. */
static int scenario(const char *dir, enum snap_backend_kind backend, enum kind k)
{
    char *path = test_path(dir, "r");
    snap_options o = {.backend = backend, .log_capacity = LOG_CAP, .max_size = 4 * SIZE};
    snap_region *r = NULL;
    if (k == CREATED) {
        o.flags = SNAP_CREATE | SNAP_EXCL;
        o.size = SIZE;
    } else {
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        REQUIRE(fd >= 0);
        uint8_t first[PAGE];
        for (unsigned i = 0; i < PAGE; i++)
            first[i] = (uint8_t)(i * 7 + 3);
        REQUIRE(pwrite(fd, first, PAGE, 0) == PAGE);
        REQUIRE(ftruncate(fd, SIZE) == 0); /* the rest: one hole */
        REQUIRE(fsync(fd) == 0);
        close(fd);
    }
    REQUIRE_OK(snap_open(path, &o, &r));
    uint8_t *b = snap_base(r);

    store_round(r, 1);
    REQUIRE_OK(snap_msync(r));

    long long filled = scratch_fill(dir, "filler");
    CHECK(filled >= 0);

    /* A grow needs blocks: an error, and the file as it was. */
    CHECK_RC(snap_grow(r, 2 * SIZE), -ENOSPC);
    CHECK(snap_size(r) == SIZE);
    CHECK(file_size_is(path, SIZE));

    /* Round 2: what has its blocks still commits. */
    store_round(r, 2);
    CHECK(msync_full(r, 2) == 0);
    /* Round 3: most pages of an adopted file are holes, which need blocks. */
    store_round(r, 3); /* tmpfs: a first store into a hole of the copy must not fault */
    int rc3 = msync_full(r, 3);
    if (k == ADOPTED_SPARSE)
        CHECK(rc3 == -ENOSPC);
    /* Round 4: one byte of page 0, which has its blocks. Its msync also runs a deferred apply of
     * round 3 (PM) if that committed. A failed round 3 is still marked, so it fails the same way,
     * and the region is not in panic. */
    store_round(r, 4);
    int rc4 = msync_full(r, 4);
    if (rc3 == -ENOSPC)
        CHECK(rc4 == -ENOSPC);
    /* Round 5: a record larger than the log, which must grow: no room for that either. */
    store_round(r, 5);
    CHECK(msync_full(r, 5) == -ENOSPC);

    /* Room again: the same stores commit. */
    scratch_unfill(dir, "filler");
    CHECK_RC(snap_msync(r), 0);
    CHECK(content_ok(b, k, ROUNDS));
    CHECK_RC(snap_close(r), 0);

    /* Reopened: the last acknowledged state. */
    o.flags = 0;
    o.size = 0;
    int rc = snap_open(path, &o, &r);
    CHECK_RC(rc, 0);
    if (rc == 0) {
        CHECK(snap_size(r) == SIZE);
        CHECK(content_ok(snap_base(r), k, ROUNDS));
        CHECK_RC(snap_close(r), 0);
    }
    free(path);
    return test_failures;
}

/* Lines of /proc/self/maps (mappings) that overlap [lo, hi). */
static int mappings_in(uintptr_t lo, uintptr_t hi)
{
    FILE *f = fopen("/proc/self/maps", "r");
    REQUIRE(f);
    char line[4608];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long a, b;
        if (sscanf(line, "%lx-%lx", &a, &b) == 2 && a < hi && b > lo)
            n++;
    }
    fclose(f);
    return n;
}

static uint64_t allocated(const char *path)
{
    struct stat st;
    REQUIRE(stat(path, &st) == 0);
    return (uint64_t)st.st_blocks * 512;
}

/* A fragmented sparse file on tmpfs: data in every other page, FRAG_PAGES / 2 data extents, more
 * than the DRAM copy maps one by one (1024, backend.c map_file_copy): the rest of the copy is one
 * mapping of the file, whose holes are allocated at open. So: an open on the full file system
 * fails with -ENOSPC (not a store later with SIGBUS); with room it allocates exactly the rest's
 * holes, keeps the mappings bounded, and reads the file's bytes; after filling the file system
 * again a store into every page faults nowhere, the msync is -ENOSPC (the first holes need blocks
 * for the apply), and with room everything commits. */
#define FRAG_PAGES 2600u
#define COPY_MAX_EXTENTS 1024u

static uint8_t frag_byte(uint64_t page, unsigned round)
{
    return (uint8_t)(page * 5 + round * 37 + 1);
}

static int fragmented_scenario(const char *dir)
{
    char *path = test_path(dir, "frag");
    const uint64_t size = (uint64_t)FRAG_PAGES * PAGE;
    snap_options o = {.backend = SNAP_BACKEND_FILE, .log_capacity = LOG_CAP};
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    uint8_t one = frag_byte(0, 0);
    REQUIRE(pwrite(fd, &one, 1, 17) == 1);
    REQUIRE(ftruncate(fd, (off_t)size) == 0);
    snap_region *r;
    REQUIRE_OK(snap_open(path, &o, &r)); /* makes the log while there is room */
    REQUIRE_OK(snap_close(r));
    for (uint64_t p = 2; p < FRAG_PAGES; p += 2) { /* now the data: every other page */
        one = frag_byte(p, 0);
        REQUIRE(pwrite(fd, &one, 1, (off_t)(p * PAGE + 17)) == 1);
    }
    close(fd);

    scratch_fill(dir, "filler");
    CHECK_RC(snap_open(path, &o, &r), -ENOSPC);
    scratch_unfill(dir, "filler");

    uint64_t before = allocated(path);
    REQUIRE_OK(snap_open(path, &o, &r));
    /* The rest starts at the first page of the extent past the limit; its holes got blocks. */
    uint64_t rest_holes = (FRAG_PAGES - 2 * COPY_MAX_EXTENTS) / 2;
    uint64_t grown = allocated(path) - before;
    if (grown != rest_holes * PAGE)
        fprintf(stderr, "  the open allocated %llu bytes, wanted the rest's %llu holes\n",
                (unsigned long long)grown, (unsigned long long)rest_holes);
    CHECK(grown == rest_holes * PAGE);
    uint8_t *b = snap_base(r);
    int maps = mappings_in((uintptr_t)b, (uintptr_t)b + size);
    CHECK(maps >= (int)COPY_MAX_EXTENTS && maps <= 2 * (int)COPY_MAX_EXTENTS + 2);
    int ok = 1;
    for (uint64_t p = 0; p < FRAG_PAGES; p++)
        for (uint64_t i = 0; i < PAGE; i += 509)
            ok &= b[p * PAGE + i] == 0;
    for (uint64_t p = 0; p < FRAG_PAGES; p++)
        ok &= b[p * PAGE + 17] == (p % 2 ? 0 : frag_byte(p, 0));
    CHECK(ok);

    scratch_fill(dir, "filler");
    for (uint64_t p = 0; p < FRAG_PAGES; p++) { /* no store faults, holes of the copy included */
        b[p * PAGE + 40] = frag_byte(p, 1);
        REQUIRE_OK(snap_track(r, b + p * PAGE + 40, 1));
    }
    CHECK_RC(snap_msync(r), -ENOSPC);
    scratch_unfill(dir, "filler");
    CHECK_RC(snap_msync(r), 0);
    CHECK_RC(snap_close(r), 0);
    REQUIRE_OK(snap_open(path, &o, &r));
    b = snap_base(r);
    ok = 1;
    for (uint64_t p = 0; p < FRAG_PAGES; p++)
        ok &= b[p * PAGE + 17] == (p % 2 ? 0 : frag_byte(p, 0)) && b[p * PAGE + 40] == frag_byte(p, 1);
    CHECK(ok);
    CHECK_RC(snap_close(r), 0);
    free(path);
    return test_failures;
}

static void fragmented(void)
{
    const char *why = scratch_can_mount();
    if (why) {
        printf("test_full_fs: skipped the fragmented file: %s\n", why);
        return;
    }
    char *top = test_tmpdir("full_fs", "disk");
    char *dir = test_path(top, "mnt");
    REQUIRE(mkdir(dir, 0755) == 0);
    REQUIRE(scratch_mount_tmpfs(dir, "16m") == 0);
    fprintf(stderr, "tmpfs, file back end, a fragmented sparse data file (%u data extents):\n",
            FRAG_PAGES / 2);
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        test_failures = 0;
        _exit(fragmented_scenario(dir) ? 1 : 0);
    }
    int st;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    if (WIFSIGNALED(st)) {
        fprintf(stderr, "  the child was killed by signal %d (%s)\n", WTERMSIG(st),
                strsignal(WTERMSIG(st)));
        test_failures++;
    } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "  the child's checks failed (exit %d)\n", WEXITSTATUS(st));
        test_failures++;
    } else {
        cases++;
    }
    scratch_umount(dir, NULL);
    test_rmdir(top);
    free(dir);
    free(top);
}

static void run(const char *fs, enum snap_backend_kind backend, enum kind k)
{
    const char *apply = backend != SNAP_BACKEND_FILE  ? ""
                        : snap_file_apply_pwrite == 1 ? " (apply by pwrite)"
                                                      : " (apply by stores)";
    const char *why = scratch_can_mount();
    if (why) {
        printf("test_full_fs: skipped %s/%s/%s: %s\n", fs, snap_backend_name(backend), kind_name[k],
               why);
        return;
    }
    char *top = test_tmpdir("full_fs", "disk");
    char *dir = test_path(top, "mnt");
    char *img = test_path(top, "fs.img");
    REQUIRE(mkdir(dir, 0755) == 0);
    int mrc = strcmp(fs, "tmpfs") == 0 ? scratch_mount_tmpfs(dir, "4m")
                                       : scratch_mount_ext4(dir, img, 8);
    REQUIRE(mrc == 0);
    fprintf(stderr, "%s, %s back end%s, %s data file:\n", fs, snap_backend_name(backend), apply,
            kind_name[k]);
    fflush(NULL);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        test_failures = 0; /* the child counts its own */
        _exit(scenario(dir, backend, k) ? 1 : 0);
    }
    int st;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    if (WIFSIGNALED(st)) {
        fprintf(stderr, "  the child was killed by signal %d (%s)\n", WTERMSIG(st),
                strsignal(WTERMSIG(st)));
        test_failures++;
    } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "  the child's checks failed (exit %d)\n", WEXITSTATUS(st));
        test_failures++;
    } else {
        cases++;
    }
    scratch_umount(dir, img);
    test_rmdir(top);
    free(img);
    free(dir);
    free(top);
}

int main(void)
{
    setenv("PMEM_IS_PMEM_FORCE", "1", 1); /* before the first libpmem call: it reads it once */
    static const char *fss[] = {"tmpfs", "ext4"};
    static const enum snap_backend_kind backends[] = {SNAP_BACKEND_FILE, SNAP_BACKEND_PMEM};
    for (int f = 0; f < 2; f++)
        for (int be = 0; be < 2; be++)
            for (int k = CREATED; k <= ADOPTED_SPARSE; k++)
                run(fss[f], backends[be], (enum kind)k);
    /* The file back end writes the data file with pwrite where the file system may need new
     * space to overwrite (space.h): that way too. */
    snap_file_apply_pwrite = 1;
    for (int f = 0; f < 2; f++)
        for (int k = CREATED; k <= ADOPTED_SPARSE; k++)
            run(fss[f], SNAP_BACKEND_FILE, (enum kind)k);
    snap_file_apply_pwrite = -1;
    fragmented();
    return test_done("test_full_fs", cases);
}
