/* test_cli.c — the `snapshot` command end to end: inspect, verify and recover on real region files,
 * a torn tail, a corrupt log, a region in use, a symlinked sidecar, a log that is not the data
 * file's (inspect and verify say so, recover refuses, rebind accepts), a log gone (rebind unbinds),
 * a data file reached through a symlink, and usage errors. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "redo_log.h"
#include "test_util.h"

#define SIZE 8192u
#define WRITES 3

static const char *cli;

/* Run the CLI with args (NULL-terminated, without argv[0]); its stdout and stderr go to *out
 * (malloc'd). Returns its exit status, or -1 if it did not exit normally. */
static int run_cli(char **out, const char *a1, const char *a2, const char *a3)
{
    char *argv[] = {(char *)cli, (char *)a1, (char *)a2, (char *)a3, NULL};
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        execv(cli, argv);
        _exit(127);
    }
    close(p[1]);
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    REQUIRE(buf);
    for (;;) {
        if (cap - len < 1024)
            REQUIRE((buf = realloc(buf, cap *= 2)) != NULL);
        ssize_t n = read(p[0], buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = 0;
    close(p[0]);
    int st;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Run the CLI and check its exit status and that its output contains each of the needles. */
#define EXPECT(code, a1, a2, a3, ...)                                                              \
    do {                                                                                           \
        char *out_;                                                                                \
        int got_ = run_cli(&out_, a1, a2, a3);                                                     \
        const char *needles_[] = {__VA_ARGS__, NULL};                                              \
        int bad_ = got_ != (code);                                                                 \
        for (int i_ = 0; needles_[i_]; i_++)                                                       \
            if (!strstr(out_, needles_[i_])) {                                                     \
                fprintf(stderr, "%s:%d: output lacks \"%s\"\n", __FILE__, __LINE__, needles_[i_]); \
                bad_ = 1;                                                                          \
            }                                                                                      \
        if (bad_) {                                                                                \
            fprintf(stderr, "%s:%d: snapshot %s %s %s: exit %d (wanted %d), output:\n%s\n",       \
                    __FILE__, __LINE__, a1 ? a1 : "", a2 ? a2 : "", a3 ? a3 : "", got_, (code),   \
                    out_);                                                                         \
            test_failures++;                                                                       \
        }                                                                                          \
        free(out_);                                                                                \
    } while (0)

/* The bytes the writer's i-th msync commits. */
static void pattern(uint8_t *base, int round, int i)
{
    memset(base + (size_t)i * 700 + (size_t)round * 100, 0x40 + round * 8 + i, 300);
}

/* In a child, open (or create) the region, commit WRITES msyncs, and die without snap_close(), so
 * the records stay in the log as after a crash. */
static void commit_and_die(const char *path, int round, uint8_t *expect)
{
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        snap_options o = {.flags = round == 0 ? SNAP_CREATE : 0, .backend = SNAP_BACKEND_FILE,
                          .size = round == 0 ? SIZE : 0, .log_capacity = 64 << 10};
        snap_region *r;
        if (snap_open(path, &o, &r))
            _exit(10);
        for (int i = 0; i < WRITES; i++) {
            pattern(snap_base(r), round, i);
            if (snap_track_offset(r, (uint64_t)i * 700 + (uint64_t)round * 100, 300) ||
                snap_msync(r))
                _exit(11);
        }
        _exit(0);
    }
    int st;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    REQUIRE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    for (int i = 0; i < WRITES; i++)
        pattern(expect, round, i);
}

static void flip_byte(const char *path, uint64_t off)
{
    int fd = open(path, O_RDWR);
    REQUIRE(fd >= 0);
    uint8_t b;
    REQUIRE(pread(fd, &b, 1, (off_t)off) == 1);
    b ^= 0x5a;
    REQUIRE(pwrite(fd, &b, 1, (off_t)off) == 1);
    close(fd);
}

/* Log offsets of the chain's records, read straight from the file. */
static void record_offsets(const char *log_path, uint64_t off[WRITES])
{
    size_t len;
    uint8_t *log = test_slurp(log_path, &len);
    uint64_t at = SNAP_LOG_AREA_OFF;
    for (int i = 0; i < WRITES; i++) {
        struct snap_rec_header h;
        REQUIRE(at + sizeof h <= len);
        memcpy(&h, log + at, sizeof h);
        REQUIRE(h.magic == SNAP_REC_MAGIC);
        off[i] = at;
        at += h.total;
    }
    free(log);
}

static void test_usage(void)
{
    EXPECT(2, NULL, NULL, NULL, "usage: snapshot");
    EXPECT(0, "--help", NULL, NULL, "usage: snapshot", "inspect PATH", "verify PATH", "recover PATH",
           "rebind PATH");
    EXPECT(2, "rebind", NULL, NULL, "needs a PATH");
    EXPECT(0, "help", NULL, NULL, "usage: snapshot");
    EXPECT(0, "inspect", "--help", NULL, "usage: snapshot");
    EXPECT(2, "frobnicate", "x", NULL, "unknown command");
    EXPECT(2, "inspect", NULL, NULL, "needs a PATH");
    EXPECT(2, "verify", "a", "b", "unexpected argument");
    EXPECT(2, "inspect", "--bogus", "x", "unknown option");
    EXPECT(0, "--version", NULL, NULL, "snapshot 0.");
}

int main(int argc, char **argv)
{
    cli = argc > 1 ? argv[1] : getenv("SNAPSHOT_CLI");
#ifdef SNAPSHOT_CLI_PATH
    if (!cli || !*cli)
        cli = SNAPSHOT_CLI_PATH;
#endif
    if (!cli || !*cli || access(cli, X_OK)) {
        fprintf(stderr, "test_cli: no snapshot binary (argv[1], SNAPSHOT_CLI or SNAPSHOT_CLI_PATH)\n");
        return 1;
    }
    int cases = 0;
    test_usage();
    cases++;

    char *dir = test_tmpdir("cli", "disk");
    char *path = test_path(dir, "region");
    char *log_path = test_path(dir, "region.snaplog");
    uint8_t expect[SIZE] = {0};
    size_t dlen, llen;

    /* Three committed records left in the log. inspect and verify report them and change nothing. */
    commit_and_die(path, 0, expect);
    uint8_t *data0 = test_slurp(path, &dlen), *log0 = test_slurp(log_path, &llen);
    EXPECT(0, "inspect", path, "--json", "\"records\":3", "\"first_epoch\":1", "\"last_epoch\":3",
           "\"torn_tail\":false", "\"in_use\":false", "\"log_state\":\"valid\"",
           "\"data_file_bytes\":8192", "\"error\":null");
    EXPECT(0, "inspect", path, NULL, "3 records, epochs 1..3", "torn tail: no", "in use      no");
    /* The budget an open here would give it (snapshot.h, "Budget"), from SNAPSHOT_BUDGET too. */
    setenv("SNAPSHOT_BUDGET", "4k", 1);
    EXPECT(0, "inspect", path, "--json", "\"memory\":{\"budget\":4096,\"evictable\":true}");
    EXPECT(0, "inspect", path, NULL, "budget 4 KiB in this environment (SNAPSHOT_BUDGET): the copy "
           "exceeds it and would be evictable");
    setenv("SNAPSHOT_BUDGET", "1g", 1);
    EXPECT(0, "inspect", path, "--json", "\"memory\":{\"budget\":1073741824,\"evictable\":false}");
    unsetenv("SNAPSHOT_BUDGET");
    EXPECT(0, "verify", path, NULL, "OK",
           "would replay 3 records (epochs 1..3), set data size to 8192");
    EXPECT(0, "verify", "--json", path, "\"ok\":true", "\"action\":\"replay\"", "\"records\":3",
           "\"data_size\":8192", "\"resize_from\":null");
    CHECK(test_file_equals(path, data0, dlen));
    CHECK(test_file_equals(log_path, log0, llen));
    free(data0);
    free(log0);
    cases++;

    /* Lose the applies (the data file back to its checkpointed zeros, as a crash before the data
     * flush can leave it): recover must bring the bytes back from the log. */
    {
        uint8_t zero[SIZE] = {0};
        int fd = open(path, O_WRONLY);
        REQUIRE(fd >= 0 && pwrite(fd, zero, SIZE, 0) == SIZE);
        close(fd);
    }
    EXPECT(0, "recover", path, NULL, "replayed 3 records (epochs 1..3)", "committed size 8192 bytes");
    CHECK(test_file_equals(path, expect, SIZE));
    EXPECT(0, "inspect", path, "--json", "\"records\":0", "\"base_epoch\":4", "\"error\":null");
    EXPECT(0, "verify", path, NULL, "nothing to replay");
    EXPECT(0, "recover", path, "--json", "\"ok\":true", "\"replayed\":0",
           "\"committed_size\":8192");
    cases++;

    /* A region open in another process: reported in use, inspected anyway; recover refuses. */
    {
        int ready[2], release[2];
        REQUIRE(pipe2(ready, O_CLOEXEC) == 0 && pipe2(release, O_CLOEXEC) == 0);
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            close(ready[0]);
            close(release[1]);
            snap_region *r;
            snap_options o = {.backend = SNAP_BACKEND_FILE};
            char c = snap_open(path, &o, &r) == 0 ? 'y' : 'n';
            if (write(ready[1], &c, 1) != 1)
                _exit(1);
            while (read(release[0], &c, 1) > 0)
                ;
            _exit(snap_close(r) ? 2 : 0);
        }
        close(ready[1]);
        close(release[0]);
        char c = 0;
        REQUIRE(read(ready[0], &c, 1) == 1 && c == 'y');
        EXPECT(0, "inspect", path, "--json", "\"in_use\":true", "\"records\":0");
        EXPECT(0, "inspect", path, NULL, "in use      yes");
        EXPECT(0, "verify", path, NULL, "nothing to replay");
        EXPECT(1, "recover", path, NULL, "SNAP_E_LOCKED");
        EXPECT(1, "rebind", path, NULL, "SNAP_E_LOCKED", "nothing was changed");
        close(release[1]);
        int st;
        REQUIRE(waitpid(pid, &st, 0) == pid);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        close(ready[0]);
    }
    cases++;

    /* Three more records (epochs 4..6). A damaged last record is a torn tail: recovery would drop
     * it and succeed. */
    commit_and_die(path, 1, expect);
    uint64_t rec[WRITES];
    record_offsets(log_path, rec);
    uint64_t body = sizeof(struct snap_rec_header) + sizeof(struct snap_rec_run) + 5;
    flip_byte(log_path, rec[2] + body);
    EXPECT(0, "verify", path, NULL, "torn tail", "would replay 2 records (epochs 4..5)");
    EXPECT(0, "inspect", path, "--json", "\"records\":2", "\"torn_tail\":true", "\"error\":null",
           "\"apply_mark\":5");
    EXPECT(0, "inspect", path, NULL, "apply mark  records up to epoch 5 may be in the data file");
    cases++;

    /* A damaged header in the middle of the chain hides its record, but not the later ones: that is
     * corruption too, not a torn tail. */
    flip_byte(log_path, rec[1] + 8);
    EXPECT(1, "verify", path, NULL, "SNAP_E_CORRUPT", "epoch 5");
    flip_byte(log_path, rec[1] + 8); /* undone */
    EXPECT(0, "verify", path, NULL, "would replay 2 records");
    /* Damaged headers of the last two: no later record shows, but the apply mark says record 5
     * may be in the data file, so replaying epoch 4 alone could open a mix. */
    flip_byte(log_path, rec[1] + 8);
    flip_byte(log_path, rec[2] + 8);
    EXPECT(1, "verify", path, NULL, "SNAP_E_CORRUPT", "epoch 5", "the apply mark says");
    flip_byte(log_path, rec[1] + 8);
    flip_byte(log_path, rec[2] + 8);
    EXPECT(0, "verify", path, NULL, "would replay 2 records");
    cases++;

    /* A damaged record followed by a valid one is corruption: verify says so, exit 1; recover
     * refuses; neither changes a byte. */
    flip_byte(log_path, rec[0] + body);
    data0 = test_slurp(path, &dlen);
    log0 = test_slurp(log_path, &llen);
    EXPECT(1, "verify", path, NULL, "FAILED", "SNAP_E_CORRUPT", "corrupt", "epoch 4",
           "would fail and change nothing");
    EXPECT(1, "verify", path, "--json", "\"ok\":false", "\"name\":\"SNAP_E_CORRUPT\"",
           "\"action\":\"fail\"");
    EXPECT(0, "inspect", path, "--json", "\"records\":0", "\"name\":\"SNAP_E_CORRUPT\"");
    EXPECT(1, "recover", path, NULL, "SNAP_E_CORRUPT", "snapshot verify");
    CHECK(test_file_equals(path, data0, dlen));
    CHECK(test_file_equals(log_path, log0, llen));
    free(data0);
    free(log0);
    cases++;

    /* A sidecar that is a symlink is never followed, not even for reading. */
    {
        char *spath = test_path(dir, "linked"), *target = test_path(dir, "target");
        char *slog = test_path(dir, "linked.snaplog");
        int fd = open(spath, O_WRONLY | O_CREAT, 0644);
        REQUIRE(fd >= 0 && pwrite(fd, "x", 1, 4095) == 1);
        close(fd);
        fd = open(target, O_WRONLY | O_CREAT, 0644);
        REQUIRE(fd >= 0);
        close(fd);
        REQUIRE(symlink(target, slog) == 0);
        EXPECT(1, "inspect", spath, NULL, "symbolic link");
        EXPECT(1, "verify", spath, "--json", "\"name\":\"SNAP_E_SYMLINK\"", "\"ok\":false");
        EXPECT(1, "recover", spath, NULL, "SNAP_E_SYMLINK");
        CHECK(test_file_equals(target, NULL, 0));
        free(spath);
        free(target);
        free(slog);
    }
    /* A data file without a log is adopted as it is; an empty one cannot be. */
    {
        char *plain = test_path(dir, "plain"), *empty = test_path(dir, "empty");
        char *absent = test_path(dir, "absent");
        int fd = open(plain, O_WRONLY | O_CREAT, 0644);
        REQUIRE(fd >= 0 && pwrite(fd, "abc", 3, 0) == 3);
        close(fd);
        fd = open(empty, O_WRONLY | O_CREAT, 0644);
        REQUIRE(fd >= 0);
        close(fd);
        EXPECT(0, "verify", plain, NULL, "create a fresh log");
        EXPECT(0, "inspect", plain, "--json", "\"log_state\":\"missing\"", "\"log_file_bytes\":null");
        EXPECT(1, "verify", empty, NULL, "SNAP_E_INVAL");
        EXPECT(1, "inspect", "--json", absent, "\"name\":\"ENOENT\"");
        free(absent);
        free(plain);
        free(empty);
    }
    cases++;

    /* A log that is not the data file's: another region's, with records, copied in its place. */
    {
        char *mine = test_path(dir, "mine"), *other = test_path(dir, "other");
        char *mine_log = test_path(dir, "mine.snaplog"), *other_log = test_path(dir, "other.snaplog");
        uint8_t exp_mine[SIZE] = {0}, exp_other[SIZE] = {0};
        commit_and_die(mine, 0, exp_mine);
        commit_and_die(other, 0, exp_other);
        REQUIRE(unlink(other_log) == 0);
        size_t n;
        uint8_t *b = test_slurp(mine_log, &n);
        int fd = open(other_log, O_WRONLY | O_CREAT | O_EXCL, 0644);
        REQUIRE(fd >= 0 && pwrite(fd, b, n, 0) == (ssize_t)n);
        close(fd);
        free(b);
        data0 = test_slurp(other, &dlen);
        log0 = test_slurp(other_log, &llen);
        EXPECT(1, "verify", other, NULL, "FAILED", "SNAP_E_MISMATCH", "belongs to another data file",
               "snapshot rebind", "refused");
        EXPECT(1, "verify", other, "--json", "\"ok\":false", "\"name\":\"SNAP_E_MISMATCH\"",
               "\"verdict\":\"mismatch\"", "\"data_xattr\":\"present\"", "\"this_file\":false");
        EXPECT(0, "inspect", other, NULL, "binding", "xattr names log", "another file");
        EXPECT(1, "recover", other, NULL, "SNAP_E_MISMATCH");
        CHECK(test_file_equals(other, data0, dlen));
        CHECK(test_file_equals(other_log, log0, llen));
        free(data0);
        free(log0);
        /* rebind: the log is bound to this data file; the next open replays its records. */
        EXPECT(0, "rebind", other, NULL, "3 records", "bound", "replays its 3 records");
        EXPECT(0, "verify", other, NULL, "would replay 3 records");
        EXPECT(0, "inspect", other, "--json", "\"verdict\":\"bound\"", "\"this_file\":true",
               "\"log_found\":\"canonical\"");
        EXPECT(0, "rebind", other, "--json", "\"ok\":true", "\"action\":\"none\"");
        EXPECT(0, "recover", other, NULL, "replayed 3 records");
        CHECK(test_file_equals(other, exp_mine, SIZE)); /* what the user asked for: mine's records */
        cases++;

        /* The log gone: the data file says it had one, which could hold committed records. */
        REQUIRE(unlink(other_log) == 0);
        EXPECT(1, "verify", other, NULL, "SNAP_E_MISMATCH", "not there", "snapshot rebind");
        EXPECT(0, "inspect", other, "--json", "\"log_state\":\"missing\"",
               "\"verdict\":\"mismatch\"");
        EXPECT(1, "recover", other, NULL, "SNAP_E_MISMATCH");
        CHECK(access(other_log, F_OK) != 0); /* not created by the refused recover */
        EXPECT(0, "rebind", other, "--json", "\"ok\":true", "\"action\":\"unbound\"");
        EXPECT(0, "verify", other, NULL, "OK", "create a fresh log");
        EXPECT(0, "recover", other, NULL, "nothing to replay");
        CHECK(test_file_equals(other, exp_mine, SIZE));
        cases++;

        /* Through a symlink from another directory: the log beside the target, never the link. */
        char *sub = test_path(dir, "links"), *alias = test_path(dir, "links/alias");
        REQUIRE(mkdir(sub, 0755) == 0 && symlink(mine, alias) == 0);
        EXPECT(0, "inspect", alias, "--json", "mine.snaplog\"", "\"records\":3",
               "\"verdict\":\"bound\"");
        EXPECT(0, "recover", alias, NULL, "replayed 3 records");
        char *alias_log = test_path(dir, "links/alias.snaplog");
        CHECK(access(alias_log, F_OK) != 0);
        free(alias_log);
        EXPECT(0, "verify", mine, NULL, "nothing to replay");
        free(sub), free(alias);
        free(mine), free(other), free(mine_log), free(other_log);
        cases++;
    }

    test_rmdir(dir);
    free(dir);
    free(path);
    free(log_path);
    return test_done("test_cli", cases);
}
