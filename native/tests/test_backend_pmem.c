/* test_backend_pmem.c — the libpmem back end on emulated persistent memory (/dev/shm with
 * PMEM_IS_PMEM_FORCE=1), and, in a child process without the override, its refusal of a file that
 * is not persistent memory. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "test_util.h"

static char *dir;

static void fill(uint8_t *b, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(seed * 29 + i * 11 + (i >> 9));
}

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

/* Bytes of the file through a descriptor of its own: what the mappings stored. */
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

static void test_detect(void)
{
    int fd = make_file("det", 8192, 1), empty = make_file("det0", 0, 0);
    CHECK(snap_backend_pmem_detect(fd) == 1);
    CHECK(snap_backend_pmem_detect(empty) == 1); /* probed without being mapped */
    CHECK(file_size("det0") == 0);               /* and left as it was */
    CHECK(snap_backend_pmem_detect(-1) == -EBADF);
    close(fd);
    close(empty);
}

static void test_pmem_io(void)
{
    struct snap_backend *be;
    int dfd = make_file("a", 10000, 2), lfd = make_file("a.snaplog", 0, 0);
    REQUIRE_OK(snap_backend_pmem_open(dfd, lfd, SNAP_PMEM_REQUIRE, &be));
    CHECK(be->kind == SNAP_BACKEND_PMEM);
    uint64_t n;
    CHECK_RC(snap_be_size(be, SNAP_DATA, &n), 0);
    CHECK(n == 10000);
    CHECK_RC(snap_be_size(be, SNAP_LOG, &n), 0);
    CHECK(n == 0);

    uint8_t want[20000], got[20000], x[1000];
    fill(want, 10000, 2);
    memset(want + 10000, 0, 10000);
    fill(x, sizeof x, 7);
    CHECK_RC(snap_be_read(be, SNAP_DATA, 0, got, 10000), 0);
    CHECK(memcmp(got, want, 10000) == 0);
    /* Short runs (plain stores + flush) and long ones (non-temporal) in libpmem's copy. */
    const uint64_t offs[] = {3, 64, 1000, 9000};
    const size_t lens[] = {5, 64, 1000, 1000};
    for (int i = 0; i < 4; i++) {
        CHECK_RC(snap_be_write(be, SNAP_DATA, offs[i], x, lens[i]), 0);
        memcpy(want + offs[i], x, lens[i]);
    }
    CHECK_RC(snap_be_barrier(be, SNAP_DATA), 0);
    CHECK_RC(snap_be_read(be, SNAP_DATA, 0, got, 10000), 0);
    CHECK(memcmp(got, want, 10000) == 0);
    read_file("a", 0, got, 10000);
    CHECK(memcmp(got, want, 10000) == 0);
    CHECK_RC(snap_be_write(be, SNAP_DATA, 9001, x, 1000), SNAP_E_RANGE);
    CHECK_RC(snap_be_read(be, SNAP_DATA, 1, got, 10000), SNAP_E_RANGE);

    /* The log starts empty (unmapped) and is mapped once sized. */
    CHECK_RC(snap_be_write(be, SNAP_LOG, 0, x, 1), SNAP_E_RANGE);
    CHECK_RC(snap_be_resize(be, SNAP_LOG, 8192), 0);
    CHECK(file_size("a.snaplog") == 8192);
    CHECK_RC(snap_be_write(be, SNAP_LOG, 512, x, 1000), 0);
    CHECK_RC(snap_be_barrier(be, SNAP_LOG), 0);
    read_file("a.snaplog", 511, got, 1002);
    CHECK(got[0] == 0 && memcmp(got + 1, x, 1000) == 0 && got[1001] == 0);

    /* Grow and shrink the data file: contents survive the remap, new bytes are zero. */
    CHECK_RC(snap_be_resize(be, SNAP_DATA, 20000), 0);
    CHECK_RC(snap_be_read(be, SNAP_DATA, 0, got, 20000), 0);
    CHECK(memcmp(got, want, 20000) == 0);
    CHECK_RC(snap_be_write(be, SNAP_DATA, 19000, x, 1000), 0);
    memcpy(want + 19000, x, 1000);
    CHECK_RC(snap_be_barrier(be, SNAP_DATA), 0);
    read_file("a", 0, got, 20000);
    CHECK(memcmp(got, want, 20000) == 0);
    CHECK_RC(snap_be_resize(be, SNAP_DATA, 3000), 0);
    CHECK(file_size("a") == 3000);
    CHECK_RC(snap_be_read(be, SNAP_DATA, 0, got, 3000), 0);
    CHECK(memcmp(got, want, 3000) == 0);
    CHECK_RC(snap_be_read(be, SNAP_DATA, 0, got, 3001), SNAP_E_RANGE);
    CHECK_RC(snap_be_resize(be, SNAP_DATA, 0), 0);
    CHECK_RC(snap_be_barrier(be, SNAP_DATA), 0);
    CHECK_RC(snap_be_resize(be, SNAP_DATA, 100), 0);
    CHECK_RC(snap_be_read(be, SNAP_DATA, 0, got, 100), 0);
    CHECK(got[0] == 0 && got[99] == 0);
    snap_be_close(be);
}

static void test_empty_and_map_private(void)
{
    struct snap_backend *be;
    int dfd = make_file("b", 0, 0), lfd = make_file("b.snaplog", 0, 0);
    REQUIRE_OK(snap_backend_pmem_open(dfd, lfd, SNAP_PMEM_REQUIRE, &be)); /* nothing to map yet: probed */
    uint8_t x[64];
    fill(x, sizeof x, 4);
    CHECK_RC(snap_be_resize(be, SNAP_DATA, 5000), 0);
    CHECK_RC(snap_be_write(be, SNAP_DATA, 4936, x, 64), 0);
    CHECK_RC(snap_be_barrier(be, SNAP_DATA), 0);

    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t rounded = (5000 + page - 1) / page * page;
    uint8_t *area = mmap(NULL, 4 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                         -1, 0);
    REQUIRE(area != MAP_FAILED);
    CHECK_RC(snap_be_map_private(be, area, 0, rounded, 0), 0);
    CHECK(area[0] == 0 && memcmp(area + 4936, x, 64) == 0 && area[5000] == 0);
    area[4936] ^= 1; /* private copy: the file keeps its byte */
    uint8_t got;
    CHECK_RC(snap_be_read(be, SNAP_DATA, 4936, &got, 1), 0);
    CHECK(got == x[0]);
    CHECK_RC(snap_be_map_private(be, area + rounded, rounded, page, 0), SNAP_E_RANGE);
    munmap(area, 4 * page);
    snap_be_close(be);

    /* Bad arguments are codes, and the fds are still taken. */
    lfd = make_file("b.snaplog", 0, 0);
    CHECK_RC(snap_backend_pmem_open(-1, lfd, SNAP_PMEM_REQUIRE, &be), SNAP_E_INVAL);
    CHECK(be == NULL && fcntl(lfd, F_GETFD) == -1);
}

/* Child: no PMEM_IS_PMEM_FORCE, a file on disk. Not pmem, so require_pmem refuses it; without
 * require_pmem the back end still works, through the page cache. */
static int child_main(const char *child_dir)
{
    dir = (char *)child_dir;
    int fd = make_file("nopm", 4096, 5), lfd = make_file("nopm.snaplog", 0, 0);
    int empty = make_file("nopm0", 0, 0);
    CHECK(snap_backend_pmem_detect(fd) == 0);
    CHECK(snap_backend_pmem_detect(empty) == 0);
    close(empty);
    struct snap_backend *be;
    int dfd = dup(fd);
    CHECK_RC(snap_backend_pmem_open(dfd, lfd, SNAP_PMEM_REQUIRE, &be), SNAP_E_UNSUPPORTED);
    CHECK(fcntl(dfd, F_GETFD) == -1);
    lfd = make_file("nopm.snaplog", 0, 0);
    REQUIRE_OK(snap_backend_pmem_open(fd, lfd, SNAP_PMEM_AS_IS, &be));
    uint8_t x[100], got[100];
    fill(x, sizeof x, 8);
    CHECK_RC(snap_be_write(be, SNAP_DATA, 4000, x, 96), 0);
    CHECK_RC(snap_be_barrier(be, SNAP_DATA), 0);
    read_file("nopm", 4000, got, 96);
    CHECK(memcmp(got, x, 96) == 0);
    CHECK_RC(snap_be_resize(be, SNAP_LOG, 4096), 0);
    CHECK_RC(snap_be_write(be, SNAP_LOG, 0, x, 100), 0);
    CHECK_RC(snap_be_barrier(be, SNAP_LOG), 0);
    read_file("nopm.snaplog", 0, got, 100);
    CHECK(memcmp(got, x, 100) == 0);
    snap_be_close(be);

    /* SNAP_BACKEND_EMULATED_PMEM: the PM back end on this disk file, for this region only. */
    char *emu = test_path(dir, "emulated"), *other = test_path(dir, "other");
    snap_options o = {.flags = SNAP_CREATE, .backend = SNAP_BACKEND_EMULATED_PMEM, .size = 4096};
    snap_region *r;
    REQUIRE_OK(snap_open(emu, &o, &r));
    snap_stats st;
    CHECK_RC(snap_stats_get(r, &st), 0);
    CHECK(st.backend == SNAP_BACKEND_PMEM);
    ((uint64_t *)snap_base(r))[0] = 42;
    CHECK_RC(snap_track(r, snap_base(r), 8), 0);
    CHECK_RC(snap_msync(r), 0);
    CHECK_RC(snap_close(r), 0);
    o.backend = SNAP_BACKEND_FILE;
    o.flags = 0;
    REQUIRE_OK(snap_open(emu, &o, &r));
    CHECK(((uint64_t *)snap_base(r))[0] == 42);
    CHECK_RC(snap_close(r), 0);
    o.flags = SNAP_CREATE;
    o.backend = SNAP_BACKEND_PMEM; /* nothing process-wide was changed: still not PM */
    CHECK_RC(snap_open(other, &o, &r), SNAP_E_UNSUPPORTED);
    CHECK(getenv("PMEM_IS_PMEM_FORCE") == NULL);
    free(emu);
    free(other);
    return test_failures ? 1 : 0;
}

static void test_not_pmem_in_child(void)
{
    char *disk = test_tmpdir("backend_pmem_disk", "disk");
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        unsetenv("PMEM_IS_PMEM_FORCE"); /* libpmem reads it once: a fresh process is needed */
        execl("/proc/self/exe", "test_backend_pmem", "--child", disk, (char *)NULL);
        _exit(127);
    }
    int status;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    test_rmdir(disk);
    free(disk);
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--child") == 0)
        return child_main(argv[2]);
    setenv("PMEM_IS_PMEM_FORCE", "1", 1); /* before the first libpmem call */
    dir = test_tmpdir("backend_pmem", "shm");
    test_detect();
    test_pmem_io();
    test_empty_and_map_private();
    test_not_pmem_in_child();
    test_rmdir(dir);
    free(dir);
    return test_done("test_backend_pmem", 4);
}
