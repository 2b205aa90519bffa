/* test_backend_file.c — the ordinary-file back end: bytes written reach the files (checked through
 * separate descriptors), resizes remap, map_private fills the DRAM copy, errors are codes. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "test_util.h"

static char *dir;

static void fill(uint8_t *b, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(seed * 31 + i * 13 + (i >> 8));
}

/* Create `name` in the test directory with n bytes (seed) and return an O_RDWR fd to it. */
static int make_file(const char *name, size_t n, uint8_t seed)
{
    char *p = test_path(dir, name);
    int fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    uint8_t *b = malloc(n + 1);
    REQUIRE(b);
    fill(b, n, seed);
    REQUIRE(pwrite(fd, b, n, 0) == (ssize_t)n);
    free(b);
    free(p);
    return fd;
}

/* The file's bytes [off, off+n) as read by a descriptor of its own (not the back end's). */
static void read_file(const char *name, uint64_t off, void *buf, size_t n)
{
    char *p = test_path(dir, name);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    CHECK(pread(fd, buf, n, (off_t)off) == (ssize_t)n);
    close(fd);
    free(p);
}

static uint64_t file_size(const char *name)
{
    char *p = test_path(dir, name);
    struct stat st;
    REQUIRE(stat(p, &st) == 0);
    free(p);
    return (uint64_t)st.st_size;
}

static int fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1;
}

static struct snap_backend *open_be(const char *data, size_t n, uint8_t seed, const char *log)
{
    struct snap_backend *be;
    int dfd = make_file(data, n, seed), lfd = make_file(log, 0, 0);
    REQUIRE_OK(snap_backend_file_open(dfd, lfd, &be));
    return be;
}

static void test_write_read_barrier(void)
{
    struct snap_backend *be = open_be("a", 10000, 1, "a.snaplog");
    CHECK(be->kind == SNAP_BACKEND_FILE);
    uint64_t n;
    CHECK_RC(snap_be_size(be, SNAP_DATA, &n), 0);
    CHECK(n == 10000);
    CHECK_RC(snap_be_size(be, SNAP_LOG, &n), 0);
    CHECK(n == 0);

    uint8_t want[10000], got[10000], x[300];
    fill(want, sizeof want, 1);
    CHECK_RC(snap_be_read(be, SNAP_DATA, 0, got, 10000), 0);
    CHECK(memcmp(got, want, 10000) == 0);
    fill(x, sizeof x, 9);
    /* Runs of all shapes: inside a line, across lines, across a page, the last byte. */
    const uint64_t offs[] = {0, 70, 4000, 9700};
    const size_t lens[] = {1, 200, 300, 300};
    for (int i = 0; i < 4; i++) {
        CHECK_RC(snap_be_write(be, SNAP_DATA, offs[i], x, lens[i]), 0);
        memcpy(want + offs[i], x, lens[i]);
    }
    CHECK_RC(snap_be_read(be, SNAP_DATA, 0, got, 10000), 0);
    CHECK(memcmp(got, want, 10000) == 0);
    CHECK_RC(snap_be_barrier(be, SNAP_DATA), 0);
    read_file("a", 0, got, 10000);
    CHECK(memcmp(got, want, 10000) == 0);

    CHECK_RC(snap_be_write(be, SNAP_DATA, 9701, x, 300), SNAP_E_RANGE);
    CHECK_RC(snap_be_write(be, SNAP_DATA, UINT64_MAX - 1, x, 4), SNAP_E_RANGE);
    CHECK_RC(snap_be_read(be, SNAP_DATA, 10000, got, 1), SNAP_E_RANGE);
    CHECK_RC(snap_be_read(be, SNAP_DATA, 10000, got, 0), 0);
    CHECK_RC(snap_be_write(be, 7, 0, x, 1), SNAP_E_INVAL);

    /* The log: grown from nothing, written with pwrite, flushed. */
    CHECK_RC(snap_be_write(be, SNAP_LOG, 0, x, 1), SNAP_E_RANGE);
    CHECK_RC(snap_be_resize(be, SNAP_LOG, 8192), 0);
    CHECK(file_size("a.snaplog") == 8192);
    CHECK_RC(snap_be_write(be, SNAP_LOG, 4000, x, 300), 0);
    CHECK_RC(snap_be_barrier(be, SNAP_LOG), 0);
    read_file("a.snaplog", 4000, got, 300);
    CHECK(memcmp(got, x, 300) == 0);
    CHECK_RC(snap_be_read(be, SNAP_LOG, 3999, got, 302), 0);
    CHECK(got[0] == 0 && memcmp(got + 1, x, 300) == 0 && got[301] == 0);
    snap_be_close(be);
}

/* Where the log's next records go, reserve leaves no hole (a first write into one makes that
 * commit's fdatasync commit the file system's journal too): for a record under 256 KiB it fills
 * the holes from the reserved range to the next MiB boundary past it with zeros, and leaves
 * written blocks (an older generation's records) and everything before the range as they were. */
static void test_reserve_log_ahead(void)
{
    const uint64_t mib = 1 << 20;
    struct snap_backend *be = open_be("h", 4096, 1, "h.snaplog");
    char *lp = test_path(dir, "h.snaplog");
    int fd = open(lp, O_RDWR | O_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE_OK(snap_be_resize(be, SNAP_LOG, 8 * mib));
    uint8_t head[8192], old[64 << 10], got[64 << 10];
    fill(head, sizeof head, 2);
    fill(old, sizeof old, 3);
    REQUIRE(pwrite(fd, head, sizeof head, 0) == (ssize_t)sizeof head);
    REQUIRE(pwrite(fd, old, sizeof old, (off_t)(2 * mib)) == (ssize_t)sizeof old);
    REQUIRE(lseek(fd, 8192, SEEK_HOLE) == 8192); /* the test needs a file system with holes */

    CHECK_RC(snap_be_reserve(be, SNAP_LOG, 8192, 1000), 0);
    CHECK(lseek(fd, 0, SEEK_HOLE) == (off_t)mib);
    /* The next records, past the boundaries: the holes up to the next one, around the old data. */
    CHECK_RC(snap_be_reserve(be, SNAP_LOG, mib - 100, 200), 0);
    CHECK(lseek(fd, 0, SEEK_HOLE) == (off_t)(2 * mib + sizeof old));
    CHECK_RC(snap_be_reserve(be, SNAP_LOG, 2 * mib - 50, 100), 0);
    CHECK(lseek(fd, 0, SEEK_HOLE) == (off_t)(3 * mib));
    /* A record of 256 KiB or more allocates its own blocks: no zeros past its 64 KiB granules. */
    CHECK_RC(snap_be_reserve(be, SNAP_LOG, 3 * mib - 10, 300 << 10), 0);
    CHECK(lseek(fd, 3 * mib + (320 << 10), SEEK_HOLE) == (off_t)(3 * mib + (320 << 10)));
    read_file("h.snaplog", 0, got, sizeof head);
    CHECK(memcmp(got, head, sizeof head) == 0);
    read_file("h.snaplog", 2 * mib, got, sizeof old);
    CHECK(memcmp(got, old, sizeof old) == 0);
    read_file("h.snaplog", 8192, got, sizeof got);
    uint8_t zero[sizeof got] = {0};
    CHECK(memcmp(got, zero, sizeof got) == 0);
    /* A record elsewhere (the area's start, after a checkpoint) starts the range again. */
    CHECK_RC(snap_be_resize(be, SNAP_LOG, 16 * mib), 0);
    CHECK_RC(snap_be_reserve(be, SNAP_LOG, 10 * mib, 64), 0);
    CHECK(lseek(fd, 10 * mib, SEEK_HOLE) == (off_t)(11 * mib));
    CHECK(lseek(fd, 3 * mib, SEEK_HOLE) == (off_t)(3 * mib));
    close(fd);
    free(lp);
    snap_be_close(be);
}

static void test_resize(void)
{
    struct snap_backend *be = open_be("b", 10000, 2, "b.snaplog");
    uint8_t want[20000], got[20000], x[100];
    fill(want, 10000, 2);
    memset(want + 10000, 0, 10000);
    fill(x, sizeof x, 5);
    CHECK_RC(snap_be_write(be, SNAP_DATA, 0, x, 100), 0); /* maps the data file */
    memcpy(want, x, 100);

    /* Grow: the new bytes read as zero and are writable through the new mapping. */
    CHECK_RC(snap_be_resize(be, SNAP_DATA, 20000), 0);
    CHECK(file_size("b") == 20000);
    CHECK_RC(snap_be_write(be, SNAP_DATA, 19950, x, 50), 0);
    memcpy(want + 19950, x, 50);
    CHECK_RC(snap_be_barrier(be, SNAP_DATA), 0);
    read_file("b", 0, got, 20000);
    CHECK(memcmp(got, want, 20000) == 0);
    /* An extension of the data file has its blocks allocated (no SIGBUS on a full disk later),
     * unless the file system cannot preallocate. */
    {
        char *p = test_path(dir, "b");
        int fd = open(p, O_RDWR | O_CLOEXEC);
        REQUIRE(fd >= 0);
        if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 1) == 0) {
            struct stat st;
            REQUIRE(fstat(fd, &st) == 0);
            CHECK((uint64_t)st.st_blocks * 512 >= 20000 - 4096);
        }
        close(fd);
        free(p);
    }

    /* Shrink: the size and the file follow; writes past the end are refused. */
    CHECK_RC(snap_be_resize(be, SNAP_DATA, 5000), 0);
    uint64_t n;
    CHECK_RC(snap_be_size(be, SNAP_DATA, &n), 0);
    CHECK(n == 5000 && file_size("b") == 5000);
    CHECK_RC(snap_be_write(be, SNAP_DATA, 4990, x, 11), SNAP_E_RANGE);
    CHECK_RC(snap_be_write(be, SNAP_DATA, 4990, x, 10), 0);
    memcpy(want + 4990, x, 10);
    CHECK_RC(snap_be_read(be, SNAP_DATA, 0, got, 5000), 0);
    CHECK(memcmp(got, want, 5000) == 0);

    /* Down to nothing (no mapping) and back. */
    CHECK_RC(snap_be_resize(be, SNAP_DATA, 0), 0);
    CHECK_RC(snap_be_write(be, SNAP_DATA, 0, x, 1), SNAP_E_RANGE);
    CHECK_RC(snap_be_resize(be, SNAP_DATA, 64), 0);
    CHECK_RC(snap_be_read(be, SNAP_DATA, 0, got, 64), 0);
    CHECK(got[0] == 0 && got[63] == 0);
    CHECK_RC(snap_be_write(be, SNAP_DATA, 10, x, 54), 0);
    CHECK_RC(snap_be_barrier(be, SNAP_DATA), 0);
    read_file("b", 10, got, 54);
    CHECK(memcmp(got, x, 54) == 0);
    snap_be_close(be);

    /* An empty data file opens, and becomes usable once sized. */
    be = open_be("c", 0, 0, "c.snaplog");
    CHECK_RC(snap_be_size(be, SNAP_DATA, &n), 0);
    CHECK(n == 0);
    CHECK_RC(snap_be_resize(be, SNAP_DATA, 4096), 0);
    CHECK_RC(snap_be_write(be, SNAP_DATA, 4000, x, 96), 0);
    CHECK_RC(snap_be_barrier(be, SNAP_DATA), 0);
    read_file("c", 4000, got, 96);
    CHECK(memcmp(got, x, 96) == 0);
    snap_be_close(be);
}

static void test_map_private(int huge)
{
    struct snap_backend *be = open_be("d", 5000, 3, "d.snaplog");
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uint8_t *area = mmap(NULL, 4 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                         -1, 0);
    REQUIRE(area != MAP_FAILED);
    uint8_t want[5000], got[16];
    fill(want, sizeof want, 3);
    size_t rounded = (5000 + page - 1) / page * page;
    /* In two steps, as the region maps its first pages and later the grown ones. */
    CHECK_RC(snap_be_map_private(be, area, 0, page, huge), 0);
    CHECK_RC(snap_be_map_private(be, area + page, page, rounded - page, huge), 0);
    CHECK(memcmp(area, want, 5000) == 0);
    CHECK(area[5000] == 0 && area[rounded - 1] == 0); /* past EOF in the last page: zero */
    /* Private: stores to the copy never reach the file. */
    area[100] ^= 0x5A;
    area[5001] = 1;
    CHECK_RC(snap_be_barrier(be, SNAP_DATA), 0);
    read_file("d", 100, got, 1);
    CHECK(got[0] == want[100]);
    CHECK(file_size("d") == 5000);
    /* A page wholly past EOF would SIGBUS: refused. Misaligned arguments too. */
    CHECK_RC(snap_be_map_private(be, area + rounded, rounded, page, huge), SNAP_E_RANGE);
    CHECK_RC(snap_be_map_private(be, area + 1, 0, page, huge), SNAP_E_INVAL);
    CHECK_RC(snap_be_map_private(be, area, 0, page + 1, huge), SNAP_E_INVAL);
    CHECK_RC(snap_be_map_private(be, area, 0, 0, huge), 0);
    /* After growing the file the next page can be mapped, and reads zero. */
    CHECK_RC(snap_be_resize(be, SNAP_DATA, rounded + 10), 0);
    CHECK_RC(snap_be_map_private(be, area + rounded, rounded, page, huge), 0);
    CHECK(area[rounded] == 0 && area[rounded + page - 1] == 0);
    munmap(area, 4 * page);
    snap_be_close(be);
}

/* With huge pages asked for, the copy is anonymous memory read from the data extents: the same
 * bytes and bounds as the mapping of the file, and a hole is neither read nor made resident. */
static void test_map_private_huge(void)
{
    const int huge = 1;
    test_map_private(huge); /* contents, privacy, bounds, growth: as without */

    const size_t size = 8u << 20, mib = 1u << 20;
    int dfd = make_file("h", 0, 0), lfd = make_file("h.snaplog", 0, 0);
    REQUIRE(ftruncate(dfd, (off_t)size) == 0);
    uint8_t a[5000], b[4096];
    fill(a, sizeof a, 7);
    fill(b, sizeof b, 8);
    REQUIRE(pwrite(dfd, a, sizeof a, 3 * mib + 100) == (ssize_t)sizeof a);
    REQUIRE(pwrite(dfd, b, sizeof b, size - sizeof b) == (ssize_t)sizeof b);
    struct snap_backend *be;
    REQUIRE_OK(snap_backend_file_open(dfd, lfd, &be));
    uint8_t *area = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    REQUIRE(area != MAP_FAILED);
    CHECK_RC(snap_be_map_private(be, area, 0, size, huge), 0);
    size_t page = (size_t)sysconf(_SC_PAGESIZE), resident = 0;
    unsigned char vec[(2u << 20) / 4096];
    REQUIRE(mincore(area, 2 * mib, vec) == 0); /* before anything reads the hole */
    for (size_t i = 0; i < 2 * mib / page; i++)
        resident += vec[i] & 1;
    CHECK(resident == 0);
    CHECK(memcmp(area + 3 * mib + 100, a, sizeof a) == 0);
    CHECK(memcmp(area + size - sizeof b, b, sizeof b) == 0);
    size_t nonzero = 0;
    for (size_t i = 0; i < size; i++)
        nonzero += area[i] != 0;
    size_t want = 0;
    for (size_t i = 0; i < sizeof a; i++)
        want += a[i] != 0;
    for (size_t i = 0; i < sizeof b; i++)
        want += b[i] != 0;
    CHECK(nonzero == want); /* everything outside the two extents reads zero */
    /* A copy, not a view: a later write to the file does not show (in a MAP_PRIVATE mapping it
     * would, on a page not yet stored to). */
    uint8_t other = (uint8_t)~a[4000];
    char *path = test_path(dir, "h");
    int probe = open(path, O_RDWR | O_CLOEXEC);
    free(path);
    REQUIRE(probe >= 0 && pwrite(probe, &other, 1, 3 * mib + 4100) == 1);
    close(probe);
    CHECK(area[3 * mib + 4100] == a[4000]);
    area[3 * mib + 100] ^= 1; /* private */
    uint8_t got;
    CHECK_RC(snap_be_read(be, SNAP_DATA, 3 * mib + 100, &got, 1), 0);
    CHECK(got == a[0]);
    munmap(area, size);
    snap_be_close(be);
}

static void test_open_errors_and_ownership(void)
{
    struct snap_backend *be = (struct snap_backend *)1;
    int lfd = make_file("e.snaplog", 0, 0);
    CHECK_RC(snap_backend_file_open(-1, lfd, &be), SNAP_E_INVAL);
    CHECK(be == NULL);
    CHECK(!fd_is_open(lfd)); /* owned, so closed on failure */

    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    REQUIRE(dirfd >= 0);
    lfd = make_file("e.snaplog", 0, 0);
    CHECK_RC(snap_backend_file_open(dirfd, lfd, &be), SNAP_E_NOTFILE);
    CHECK(!fd_is_open(dirfd) && !fd_is_open(lfd));

    int dfd = make_file("e", 100, 4);
    lfd = make_file("e.snaplog", 0, 0);
    REQUIRE_OK(snap_backend_file_open(dfd, lfd, &be));
    CHECK(fd_is_open(dfd) && fd_is_open(lfd));
    snap_be_close(be);
    CHECK(!fd_is_open(dfd) && !fd_is_open(lfd));
}

/* Fault injection sits in front of every back end; here a real one: nothing reaches the file. */
static void test_fault_injection(void)
{
    struct snap_backend *be = open_be("f", 4096, 6, "f.snaplog");
    uint8_t x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, got[8], orig[4096];
    fill(orig, sizeof orig, 6);
    snap_backend_inject_fault(be, SNAP_FAULT_WRITE, 1, -ENOSPC);
    CHECK_RC(snap_be_write(be, SNAP_DATA, 0, x, 8), -ENOSPC);
    CHECK_RC(snap_be_barrier(be, SNAP_DATA), 0);
    read_file("f", 0, got, 8);
    CHECK(memcmp(got, orig, 8) == 0);
    snap_backend_inject_fault(be, SNAP_FAULT_BARRIER, 2, -EIO);
    CHECK_RC(snap_be_write(be, SNAP_DATA, 0, x, 8), 0); /* the write fault was replaced */
    CHECK_RC(snap_be_barrier(be, SNAP_DATA), 0);
    CHECK_RC(snap_be_barrier(be, SNAP_DATA), -EIO);
    CHECK_RC(snap_be_barrier(be, SNAP_LOG), -EIO);
    snap_backend_inject_fault(be, SNAP_FAULT_RESIZE, 1, 0);
    CHECK_RC(snap_be_resize(be, SNAP_DATA, 8192), -EIO);
    CHECK(file_size("f") == 4096);
    snap_be_close(be);
}

int main(void)
{
    dir = test_tmpdir("backend_file", "disk");
    test_write_read_barrier();
    test_resize();
    test_reserve_log_ahead();
    test_map_private(0);
    test_map_private_huge();
    test_open_errors_and_ownership();
    test_fault_injection();
    test_rmdir(dir);
    free(dir);
    return test_done("test_backend_file", 7);
}
