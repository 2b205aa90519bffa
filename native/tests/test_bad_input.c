/* test_bad_input.c — every bad input gets the code snapshot.h promises, and loses no committed data.
 *
 * Each case first makes a region with committed content (open, write, msync, close) and, where the
 * log matters, a chain of committed records in the sidecar (a forked child opens the region, commits
 * a few msyncs and _exit()s without closing). Then it damages something, checks the error, checks
 * that the failed open changed nothing (byte compare of both files), and, where it makes sense,
 * repairs the damage and checks that reopening yields the committed content.
 *
 * Cases: a committed record damaged (body, or header) before a valid one -> SNAP_E_CORRUPT; a torn
 * last record -> the previous epoch; both header slots damaged -> SNAP_E_CORRUPT; a foreign sidecar
 * -> SNAP_E_BADMAGIC; another format version -> SNAP_E_VERSION; a log shorter than its header ->
 * SNAP_E_CORRUPT; a truncated data file -> SNAP_E_TRUNCATED; a size that differs from the committed
 * one -> SNAP_E_SIZE; an empty file without a size -> SNAP_E_INVAL; a second opener (same process,
 * child process) -> SNAP_E_LOCKED; a symlinked sidecar -> SNAP_E_SYMLINK (its target untouched);
 * a data path that is not a regular file -> SNAP_E_NOTFILE; tracking outside the region ->
 * SNAP_E_RANGE with nothing marked; calls on a closed handle -> SNAP_E_CLOSED, on NULL ->
 * SNAP_E_INVAL; the sidecar's permissions; snap_grow() limits, and growth across a crash.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crc32c.h"
#include "redo_log.h"
#include "testkit.h"
#include "test_util.h"

#define SIZE (64u << 10)
#define EPOCHS 4 /* records the child leaves in the log */

static char *dir;
static int cases;

/* ---- Files ------------------------------------------------------------------------------------ */

static char *logpath(const char *path)
{
    char *p;
    REQUIRE(asprintf(&p, "%s.snaplog", path) > 0);
    return p;
}

static void spit(const char *path, const void *b, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(pwrite(fd, b, len, 0) == (ssize_t)len);
    close(fd);
}

static void xor_byte(const char *path, off_t off, uint8_t x)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    REQUIRE(fd >= 0);
    uint8_t c;
    REQUIRE(pread(fd, &c, 1, off) == 1);
    c ^= x;
    REQUIRE(pwrite(fd, &c, 1, off) == 1);
    close(fd);
}

/* Both files, to show that a failed open changed nothing. */
struct files {
    uint8_t *data, *log;
    size_t data_len, log_len;
};

static struct files snap_files(const char *path)
{
    struct files f;
    char *lp = logpath(path);
    f.data = test_slurp(path, &f.data_len);
    f.log = test_slurp(lp, &f.log_len);
    free(lp);
    return f;
}

static int files_same(const struct files *a, const struct files *b)
{
    return a->data_len == b->data_len && a->log_len == b->log_len &&
           memcmp(a->data, b->data, a->data_len) == 0 && memcmp(a->log, b->log, a->log_len) == 0;
}

static void files_free(struct files *f)
{
    free(f->data);
    free(f->log);
}

/* ---- Regions with committed content ----------------------------------------------------------- */

static snap_options file_opts(uint32_t flags, uint64_t size)
{
    return (snap_options){
        .flags = flags | SNAP_NO_CONCURRENT_WRITERS,
        .backend = SNAP_BACKEND_FILE,
        .size = size,
        .log_capacity = 256u << 10,
    };
}

/* Epoch j's stores: a few ranges of a pattern, and j in bytes 0..7. Epoch 0 fills everything. */
static void epoch_writes(uint8_t *b, uint64_t j, snap_region *r)
{
    if (j == 0) {
        for (uint64_t i = 0; i < SIZE; i++)
            b[i] = (uint8_t)(i * 131 + 7);
        if (r)
            REQUIRE_OK(snap_track(r, b, SIZE));
        return;
    }
    uint64_t ranges[3][2] = {{j * 4096 + 100, 1500}, {(j * 7919) % (SIZE - 300), 300},
                             {SIZE - 64 * j - 10, 10}};
    for (int k = 0; k < 3; k++) {
        for (uint64_t i = 0; i < ranges[k][1]; i++)
            b[ranges[k][0] + i] = (uint8_t)(j * 37 + i + (uint64_t)k * 101);
        if (r)
            REQUIRE_OK(snap_track(r, b + ranges[k][0], ranges[k][1]));
    }
    memcpy(b, &j, 8);
    if (r)
        REQUIRE_OK(snap_track(r, b, 8));
}

/* A new region at `name` holding epoch 0's content, committed and closed (the close checkpoints,
 * so both header slots have been written). expect gets the content. Returns the path. */
static char *make_region(const char *name, uint8_t *expect)
{
    char *path = test_path(dir, name);
    snap_options o = file_opts(SNAP_CREATE | SNAP_EXCL, SIZE);
    snap_region *r;
    REQUIRE_OK(snap_open(path, &o, &r));
    epoch_writes(snap_base(r), 0, r);
    REQUIRE_OK(snap_msync(r));
    REQUIRE_OK(snap_close(r));
    epoch_writes(expect, 0, NULL);
    return path;
}

/* A child opens the region, commits epochs 1..n (one msync each) and exits without closing: the
 * log keeps the chain. expect_at[j] (if not NULL) gets the content after epoch j. */
static void child_commits(const char *path, int n, uint8_t *expect, uint8_t **expect_at)
{
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        snap_options o = file_opts(0, 0);
        snap_region *r;
        if (snap_open(path, &o, &r))
            _exit(2);
        for (int j = 1; j <= n; j++) {
            epoch_writes(snap_base(r), (uint64_t)j, r);
            if (snap_msync(r))
                _exit(3);
        }
        _exit(0);
    }
    int st;
    REQUIRE(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    for (int j = 1; j <= n; j++) {
        epoch_writes(expect, (uint64_t)j, NULL);
        if (expect_at && expect_at[j])
            memcpy(expect_at[j], expect, SIZE);
    }
}

/* Open `path` and compare the whole region with expect. Returns the open's code. */
static int check_content(const char *path, const uint8_t *expect, uint64_t size, int line)
{
    snap_options o = file_opts(0, 0);
    snap_region *r;
    int rc = snap_open(path, &o, &r);
    if (rc) {
        fprintf(stderr, "%s:%d: reopening %s: %s\n", __FILE__, line, path, snap_strerror(rc));
        test_failures++;
        return rc;
    }
    if (snap_size(r) != size || memcmp(snap_base(r), expect, size) != 0) {
        fprintf(stderr, "%s:%d: %s: size %llu (want %llu) or content differs from the committed "
                        "state\n", __FILE__, line, path, (unsigned long long)snap_size(r),
                (unsigned long long)size);
        test_failures++;
    }
    CHECK_RC(snap_close(r), 0);
    return 0;
}
#define CHECK_CONTENT(path, expect, size) check_content(path, expect, size, __LINE__)

/* An open that must fail with `want` and change nothing. */
static void check_open_fails(const char *path, int want, int line)
{
    struct files before = snap_files(path);
    snap_options o = file_opts(0, 0);
    snap_region *r = (snap_region *)&o; /* must come back NULL */
    int rc = snap_open(path, &o, &r);
    if (rc != want || r != NULL) {
        fprintf(stderr, "%s:%d: snap_open(%s) returned %d (%s), wanted %d (%s)%s\n", __FILE__, line,
                path, rc, snap_strerror(rc), want, snap_strerror(want),
                r ? "; *out not NULL" : "");
        test_failures++;
        if (!rc && r && r != (snap_region *)&o)
            snap_close(r);
    }
    rc = snap_recover(path, &o);
    if (rc != want) {
        fprintf(stderr, "%s:%d: snap_recover(%s) returned %d (%s), wanted %d\n", __FILE__, line,
                path, rc, snap_strerror(rc), want);
        test_failures++;
    }
    struct files after = snap_files(path);
    if (!files_same(&before, &after)) {
        fprintf(stderr, "%s:%d: the failed open of %s changed its files\n", __FILE__, line, path);
        test_failures++;
    }
    files_free(&before);
    files_free(&after);
}
#define CHECK_OPEN_FAILS(path, want) check_open_fails(path, want, __LINE__)

/* ---- The log's records ------------------------------------------------------------------------ */

struct rec_loc {
    uint64_t off; /* file offset */
    struct snap_rec_header h;
};

/* The chain in a log file: records from the area's start with consecutive epochs. */
static int find_records(const char *path, struct rec_loc *out, int max)
{
    char *lp = logpath(path);
    size_t len;
    uint8_t *log = test_slurp(lp, &len);
    free(lp);
    int n = 0;
    uint64_t off = SNAP_LOG_AREA_OFF;
    while (n < max && off + sizeof(struct snap_rec_header) <= len) {
        struct snap_rec_header h;
        memcpy(&h, log + off, sizeof h);
        if (h.magic != SNAP_REC_MAGIC || h.total == 0 || (n && h.epoch != out[n - 1].h.epoch + 1))
            break;
        out[n].off = off;
        out[n].h = h;
        n++;
        off += h.total;
    }
    free(log);
    return n;
}

/* File offset of a byte inside record i's data. */
static off_t in_body(const struct rec_loc *rec)
{
    return (off_t)(rec->off + sizeof(struct snap_rec_header) +
                   rec->h.nruns * sizeof(struct snap_rec_run) + rec->h.payload / 2);
}

/* ---- Cases ------------------------------------------------------------------------------------ */

static void test_corrupt_record(void)
{
    for (int victim = 0; victim < EPOCHS - 1; victim++) {
        uint8_t expect[SIZE];
        char name[32];
        snprintf(name, sizeof name, "corrupt%d", victim);
        char *path = make_region(name, expect);
        child_commits(path, EPOCHS, expect, NULL);
        struct rec_loc rec[EPOCHS + 1];
        REQUIRE(find_records(path, rec, EPOCHS + 1) == EPOCHS);
        char *lp = logpath(path);
        off_t at = in_body(&rec[victim]);
        xor_byte(lp, at, 0x40); /* a committed record, followed by a committed record */
        CHECK_OPEN_FAILS(path, SNAP_E_CORRUPT);
        xor_byte(lp, at, 0x40); /* repaired: everything committed is there */
        CHECK_CONTENT(path, expect, SIZE);
        free(lp);
        free(path);
        cases++;
    }
}

/* A damaged *header* of a committed record that a valid record follows is corruption too
 * (snapshot.h: "a committed record ... fail[s its] checksum"), not the end of the chain: treating
 * it as the end silently drops every later committed record. To make the loss visible, the data
 * file is put back to its checkpointed state, as a power cut before the next checkpoint can leave
 * it (applies are flushed only at checkpoints). */
static void test_corrupt_record_header(void)
{
    uint8_t expect[SIZE], checkpointed[SIZE];
    char *path = make_region("corrupt_header", expect);
    memcpy(checkpointed, expect, SIZE);
    child_commits(path, EPOCHS, expect, NULL);
    spit(path, checkpointed, SIZE); /* the applies never reached the disk */
    struct rec_loc rec[EPOCHS + 1];
    REQUIRE(find_records(path, rec, EPOCHS + 1) == EPOCHS);
    char *lp = logpath(path);
    off_t at = (off_t)(rec[1].off + offsetof(struct snap_rec_header, data_size));
    xor_byte(lp, at, 0x01);
    CHECK_OPEN_FAILS(path, SNAP_E_CORRUPT);
    xor_byte(lp, at, 0x01);
    CHECK_CONTENT(path, expect, SIZE); /* replays all four records onto the checkpointed data */
    free(lp);
    free(path);
    cases++;
}

/* A log that has wrapped: a checkpoint emptied it and a new generation of records overwrote the
 * start of the old one, whose later records still sit, intact, behind the new chain. (a) A damaged
 * middle record of the new generation is still corruption: its successor lies before the old
 * records. (b) The search for a lost successor ends at the first intact record of an older
 * generation (redo_log.c, later_record_exists: the new chain never reached it), so an open reads
 * the chain and a few slots, not the whole area: a later-epoch header of this log planted after
 * the old records is not looked at, and the region opens with every committed byte. The old code,
 * which read the whole area, took that header for a lost record (SNAP_E_CORRUPT). */
static void test_wrapped_log(void)
{
    for (int part = 0; part < 2; part++) {
        uint8_t expect[SIZE], checkpointed[SIZE];
        char *path = make_region(part ? "wrapped_stop" : "wrapped_corrupt", expect);
        child_commits(path, 2 * EPOCHS, expect, NULL);
        snap_options o = file_opts(0, 0);
        snap_region *r;
        REQUIRE_OK(snap_open(path, &o, &r)); /* recovery, then a checkpoint at close: log reset */
        REQUIRE_OK(snap_close(r));
        memcpy(checkpointed, expect, SIZE);
        struct rec_loc old[2 * EPOCHS + 1];
        REQUIRE(find_records(path, old, 2 * EPOCHS + 1) == 2 * EPOCHS);
        child_commits(path, EPOCHS, expect, NULL); /* same writes as the old 1..EPOCHS: same sizes */
        struct rec_loc rec[EPOCHS + 1];
        REQUIRE(find_records(path, rec, EPOCHS + 1) == EPOCHS);
        REQUIRE(rec[EPOCHS - 1].off + rec[EPOCHS - 1].h.total == old[EPOCHS].off);
        REQUIRE(rec[0].h.epoch > old[2 * EPOCHS - 1].h.epoch); /* a new generation */
        char *lp = logpath(path);
        if (part == 0) {
            spit(path, checkpointed, SIZE); /* the new applies never reached the disk */
            off_t at = (off_t)(rec[1].off + offsetof(struct snap_rec_header, data_size));
            xor_byte(lp, at, 0x01);
            CHECK_OPEN_FAILS(path, SNAP_E_CORRUPT);
            xor_byte(lp, at, 0x01);
        } else {
            /* Behind the old generation's record EPOCHS+1: a copy of the new chain's last header,
             * made a later epoch in a slot of its own, CRC and all. */
            struct snap_rec_header h = rec[EPOCHS - 1].h;
            uint64_t at = old[2 * EPOCHS - 1].off + old[2 * EPOCHS - 1].h.total;
            h.epoch += 100;
            h.slot = (uint32_t)((at - SNAP_LOG_AREA_OFF) / SNAP_REC_ALIGN);
            h.header_crc = 0;
            h.header_crc = snap_crc32c(0, &h, sizeof h);
            int fd = open(lp, O_WRONLY | O_CLOEXEC);
            REQUIRE(fd >= 0);
            REQUIRE(pwrite(fd, &h, sizeof h, (off_t)at) == (ssize_t)sizeof h);
            close(fd);
        }
        CHECK_CONTENT(path, expect, SIZE);
        free(lp);
        free(path);
        cases++;
    }
}

/* The last record damaged: a torn tail, what a crash during its commit leaves. Its apply cannot
 * have happened (apply follows the commit barrier), so the data file holds the epoch before. */
static void test_torn_tail(void)
{
    for (int part = 0; part < 2; part++) { /* body, then header */
        uint8_t expect[SIZE], prev[SIZE];
        uint8_t *at_epoch[EPOCHS + 1] = {0};
        at_epoch[EPOCHS - 1] = prev;
        char *path = make_region(part ? "torn_header" : "torn_body", expect);
        child_commits(path, EPOCHS, expect, at_epoch);
        spit(path, prev, SIZE); /* the last record's apply never happened */
        struct rec_loc rec[EPOCHS + 1];
        REQUIRE(find_records(path, rec, EPOCHS + 1) == EPOCHS);
        char *lp = logpath(path);
        off_t at = part ? (off_t)(rec[EPOCHS - 1].off + offsetof(struct snap_rec_header, epoch))
                        : in_body(&rec[EPOCHS - 1]);
        xor_byte(lp, at, 0x10);
        snap_options o = file_opts(0, 0);
        snap_region *r;
        CHECK_RC(snap_open(path, &o, &r), 0);
        if (r) {
            snap_stats st;
            CHECK_RC(snap_stats_get(r, &st), 0);
            CHECK(st.recovered_records == EPOCHS - 1);
            CHECK(snap_size(r) == SIZE && memcmp(snap_base(r), prev, SIZE) == 0);
            /* The region goes on from there: commit, close, reopen. */
            epoch_writes(snap_base(r), 9, r);
            epoch_writes(prev, 9, NULL);
            CHECK_RC(snap_msync(r), 0);
            CHECK_RC(snap_close(r), 0);
            CHECK_CONTENT(path, prev, SIZE);
        }
        free(lp);
        free(path);
        cases++;
    }
}

static void write_slot(const char *lp, int slot, const struct snap_log_header *h)
{
    int fd = open(lp, O_WRONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(pwrite(fd, h, sizeof *h, (off_t)slot * SNAP_LOG_SLOT_SIZE) == (ssize_t)sizeof *h);
    close(fd);
}

static void read_slot(const char *lp, int slot, struct snap_log_header *h)
{
    int fd = open(lp, O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(pread(fd, h, sizeof *h, (off_t)slot * SNAP_LOG_SLOT_SIZE) == (ssize_t)sizeof *h);
    close(fd);
}

static void test_headers(void)
{
    uint8_t expect[SIZE];
    char *path = make_region("headers", expect);
    child_commits(path, 2, expect, NULL);
    char *lp = logpath(path);
    size_t log_len;
    uint8_t *log = test_slurp(lp, &log_len);
    struct snap_log_header h[2];
    read_slot(lp, 0, &h[0]);
    read_slot(lp, 1, &h[1]);
    REQUIRE(h[0].magic == SNAP_LOG_MAGIC && h[1].magic == SNAP_LOG_MAGIC); /* both written */

    /* Both slots damaged (the magic intact): corrupt. */
    xor_byte(lp, offsetof(struct snap_log_header, base_epoch), 0x04);
    xor_byte(lp, SNAP_LOG_SLOT_SIZE + offsetof(struct snap_log_header, base_epoch), 0x04);
    CHECK_OPEN_FAILS(path, SNAP_E_CORRUPT);
    spit(lp, log, log_len);
    CHECK_CONTENT(path, expect, SIZE);
    cases++;

    /* Not a Snapshot log at all. */
    free(log);
    log = test_slurp(lp, &log_len);
    uint8_t *junk = malloc(log_len);
    REQUIRE(junk);
    for (size_t i = 0; i < log_len; i++)
        junk[i] = (uint8_t)("not a log "[i % 10]);
    spit(lp, junk, log_len);
    CHECK_OPEN_FAILS(path, SNAP_E_BADMAGIC);
    spit(lp, log, log_len);
    CHECK_CONTENT(path, expect, SIZE);
    free(junk);
    cases++;

    /* Another version of the format, with checksums that check. */
    free(log);
    log = test_slurp(lp, &log_len);
    for (int s = 0; s < 2; s++) {
        read_slot(lp, s, &h[s]);
        h[s].version = SNAP_LOG_VERSION + 1;
        h[s].crc = snap_crc32c(0, &h[s], offsetof(struct snap_log_header, crc));
        write_slot(lp, s, &h[s]);
    }
    CHECK_OPEN_FAILS(path, SNAP_E_VERSION);
    spit(lp, log, log_len);
    CHECK_CONTENT(path, expect, SIZE);
    cases++;

    /* Counters at the limit (a forged header: real ones stay centuries away), checksums that
     * check. The library must never write a header slot above SNAP_LOG_MAX_COUNTER — the next open
     * would pass it over for the older slot and replay retired records — so it refuses, with
     * SNAP_E_CORRUPT, the first header write that would; every open that succeeds before that shows
     * the committed state. */
    for (int field = 0; field < 2; field++) {
        free(log);
        log = test_slurp(lp, &log_len);
        read_slot(lp, 0, &h[0]);
        read_slot(lp, 1, &h[1]);
        int s = h[1].seq > h[0].seq; /* the current slot */
        if (field == 0)
            h[s].seq = SNAP_LOG_MAX_COUNTER - (uint64_t)s; /* even in slot 0, odd in 1 */
        else
            h[s].base_epoch = SNAP_LOG_MAX_COUNTER;
        h[s].crc = snap_crc32c(0, &h[s], offsetof(struct snap_log_header, crc));
        write_slot(lp, s, &h[s]);
        int refused = 0;
        for (int cycle = 0; cycle < 4 && !refused; cycle++) {
            snap_options o = file_opts(0, 0);
            snap_region *r;
            int rc = snap_open(path, &o, &r);
            if (rc == 0) {
                CHECK(snap_size(r) == SIZE && memcmp(snap_base(r), expect, SIZE) == 0);
                CHECK_RC(snap_track_offset(r, 0, 1), 0); /* a commit that changes no byte */
                CHECK_RC(snap_msync(r), 0);
                rc = snap_close(r);
            }
            if (rc) {
                CHECK_RC(rc, SNAP_E_CORRUPT);
                refused = 1;
            }
            for (int i = 0; i < 2; i++) {
                struct snap_log_header now;
                read_slot(lp, i, &now);
                CHECK(now.seq <= SNAP_LOG_MAX_COUNTER && now.base_epoch <= SNAP_LOG_MAX_COUNTER);
            }
        }
        CHECK(refused);
        spit(lp, log, log_len);
        CHECK_CONTENT(path, expect, SIZE);
        cases++;
    }

    /* A log shorter than its header area, but not empty. */
    free(log);
    log = test_slurp(lp, &log_len);
    REQUIRE(truncate(lp, 1000) == 0);
    CHECK_OPEN_FAILS(path, SNAP_E_CORRUPT);
    spit(lp, log, log_len);
    CHECK_CONTENT(path, expect, SIZE);
    cases++;
    free(log);
    free(lp);
    free(path);
}

static void test_truncated_data(void)
{
    uint8_t expect[SIZE];
    char *path = make_region("truncated", expect);
    child_commits(path, 2, expect, NULL);
    size_t len;
    uint8_t *data = test_slurp(path, &len);
    REQUIRE(len == SIZE);
    REQUIRE(truncate(path, SIZE - 100) == 0);
    CHECK_OPEN_FAILS(path, SNAP_E_TRUNCATED); /* also: the log (with its records) untouched */
    spit(path, data, len);
    CHECK_CONTENT(path, expect, SIZE);
    free(data);
    free(path);
    cases++;
}

static void test_sizes(void)
{
    uint8_t expect[SIZE];
    char *path = make_region("sizes", expect);
    child_commits(path, 2, expect, NULL);
    uint64_t wrong[] = {SIZE + 64, SIZE - 1, 1};
    for (int i = 0; i < 3; i++) {
        snap_options o = file_opts(0, wrong[i]);
        snap_region *r;
        CHECK_RC(snap_open(path, &o, &r), SNAP_E_SIZE);
        CHECK(r == NULL);
        o.flags |= SNAP_CREATE; /* an existing file is not re-sized by SNAP_CREATE either */
        CHECK_RC(snap_open(path, &o, &r), SNAP_E_SIZE);
    }
    CHECK_CONTENT(path, expect, SIZE);
    cases++;

    /* An empty data file, no sidecar, no size to give it. */
    char *empty = test_path(dir, "empty");
    spit(empty, "", 0);
    snap_options o = file_opts(0, 0);
    snap_region *r;
    CHECK_RC(snap_open(empty, &o, &r), SNAP_E_INVAL);
    o.flags = SNAP_CREATE;
    CHECK_RC(snap_open(empty, &o, &r), SNAP_E_INVAL);
    char *fresh = test_path(dir, "fresh");
    CHECK_RC(snap_open(fresh, &o, &r), SNAP_E_INVAL); /* a new file needs a size */
    /* Giving the size afterwards works: nothing half-made is left in the way. */
    o.size = 4096;
    CHECK_RC(snap_open(empty, &o, &r), 0);
    if (r) {
        CHECK(snap_size(r) == 4096);
        CHECK_RC(snap_close(r), 0);
    }
    CHECK_RC(snap_open(fresh, &o, &r), 0);
    if (r)
        CHECK_RC(snap_close(r), 0);
    free(empty);
    free(fresh);
    free(path);
    cases++;
}

static void test_locked(void)
{
    uint8_t expect[SIZE];
    char *path = make_region("locked", expect);
    snap_options o = file_opts(0, 0);
    snap_region *r, *r2;
    REQUIRE_OK(snap_open(path, &o, &r));
    CHECK_RC(snap_open(path, &o, &r2), SNAP_E_LOCKED);
    CHECK(r2 == NULL);
    CHECK_RC(snap_recover(path, &o), SNAP_E_LOCKED);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        snap_region *c;
        int rc = snap_open(path, &o, &c);
        int rc2 = snap_recover(path, &o);
        _exit(rc == SNAP_E_LOCKED && rc2 == SNAP_E_LOCKED ? 0 : 1);
    }
    int st;
    REQUIRE(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* The holder is unaffected by the refused openers. */
    uint8_t *b = snap_base(r);
    b[5] = 0xab, expect[5] = 0xab;
    CHECK_RC(snap_track(r, b + 5, 1), 0);
    CHECK_RC(snap_msync(r), 0);
    CHECK_RC(snap_close(r), 0);
    CHECK_CONTENT(path, expect, SIZE);
    free(path);
    cases++;
}

static void test_symlink(void)
{
    uint8_t expect[SIZE];
    char *path = make_region("symlinked", expect);
    char *lp = logpath(path), *saved = test_path(dir, "symlinked.saved"),
         *victim = test_path(dir, "victim"), *nowhere = test_path(dir, "nowhere");
    REQUIRE(rename(lp, saved) == 0);
    static const char victim_bytes[] = "somebody else's file, not a log";
    spit(victim, victim_bytes, sizeof victim_bytes);
    struct stat vst0;
    REQUIRE(stat(victim, &vst0) == 0);
    size_t dlen;
    uint8_t *data = test_slurp(path, &dlen);

    REQUIRE(symlink(victim, lp) == 0);
    snap_options o = file_opts(0, 0);
    snap_region *r;
    CHECK_RC(snap_open(path, &o, &r), SNAP_E_SYMLINK);
    o.flags = SNAP_CREATE;
    CHECK_RC(snap_open(path, &o, &r), SNAP_E_SYMLINK);
    size_t vlen;
    uint8_t *v = test_slurp(victim, &vlen);
    struct stat vst;
    REQUIRE(stat(victim, &vst) == 0);
    CHECK(vlen == sizeof victim_bytes && memcmp(v, victim_bytes, vlen) == 0);
    CHECK(vst.st_mode == vst0.st_mode);
    free(v);

    /* A dangling link: its target must not be created. */
    REQUIRE(unlink(lp) == 0);
    REQUIRE(symlink(nowhere, lp) == 0);
    CHECK_RC(snap_open(path, &o, &r), SNAP_E_SYMLINK);
    CHECK(access(nowhere, F_OK) != 0 && errno == ENOENT);

    size_t dlen2;
    uint8_t *data2 = test_slurp(path, &dlen2);
    CHECK(dlen2 == dlen && memcmp(data, data2, dlen) == 0);
    REQUIRE(unlink(lp) == 0);
    REQUIRE(rename(saved, lp) == 0);
    CHECK_CONTENT(path, expect, SIZE);
    free(data), free(data2);
    free(lp), free(saved), free(victim), free(nowhere), free(path);
    cases++;
}

static void test_not_a_file(void)
{
    snap_options o = file_opts(0, 0), oc = file_opts(SNAP_CREATE, 4096);
    snap_region *r;
    char *d = test_path(dir, "a_directory");
    REQUIRE(mkdir(d, 0755) == 0);
    /* open(2) of a directory for writing fails with EISDIR; the header promises SNAP_E_NOTFILE
     * for a data file that is not a regular file. */
    CHECK_RC(snap_open(d, &o, &r), SNAP_E_NOTFILE);
    CHECK_RC(snap_open(d, &oc, &r), SNAP_E_NOTFILE);
    char *dl = logpath(d);
    CHECK(access(dl, F_OK) != 0); /* no sidecar made for it */
    char *fifo = test_path(dir, "a_fifo");
    REQUIRE(mkfifo(fifo, 0644) == 0);
    CHECK_RC(snap_open(fifo, &o, &r), SNAP_E_NOTFILE);
    CHECK_RC(snap_open(fifo, &oc, &r), SNAP_E_NOTFILE);
    char *fl = logpath(fifo);
    CHECK(access(fl, F_OK) != 0);
    free(d), free(dl), free(fifo), free(fl);
    cases++;
}

static void test_range(void)
{
    uint8_t expect[SIZE];
    char *path = make_region("range", expect);
    snap_options o = file_opts(0, 0);
    o.max_size = 4 * SIZE;
    snap_region *r;
    REQUIRE_OK(snap_open(path, &o, &r));
    uint8_t *b = snap_base(r);
    snap_stats s0, s1;
    REQUIRE_OK(snap_stats_get(r, &s0));
    CHECK_RC(snap_track(r, b + SIZE - 1, 2), SNAP_E_RANGE);
    CHECK_RC(snap_track(r, b + SIZE, 1), SNAP_E_RANGE);
    CHECK_RC(snap_track(r, b + 2 * SIZE, 64), SNAP_E_RANGE); /* reserved, beyond the size */
    CHECK_RC(snap_track(r, b - 1, 1), SNAP_E_RANGE);
    CHECK_RC(snap_track(r, b - 64, 128), SNAP_E_RANGE);
    CHECK_RC(snap_track(r, NULL, 1), SNAP_E_RANGE);
    CHECK_RC(snap_track(r, b, (size_t)-1), SNAP_E_RANGE);
    CHECK_RC(snap_track(r, b + 64, (size_t)-64), SNAP_E_RANGE);
    CHECK_RC(snap_track_offset(r, SIZE, 1), SNAP_E_RANGE);
    CHECK_RC(snap_track_offset(r, SIZE - 10, 11), SNAP_E_RANGE);
    CHECK_RC(snap_track_offset(r, UINT64_MAX, 1), SNAP_E_RANGE);
    CHECK_RC(snap_track_offset(r, UINT64_MAX - 63, 128), SNAP_E_RANGE);
    CHECK_RC(snap_track_offset(r, 1, (size_t)-1), SNAP_E_RANGE);
    CHECK_RC(snap_track(r, b + 10, 0), 0);
    CHECK_RC(snap_msync(r), 0);
    REQUIRE_OK(snap_stats_get(r, &s1));
    CHECK(s1.lines_committed == s0.lines_committed); /* nothing was marked */
    CHECK(s1.commits == s0.commits);
    /* Control: the last byte is in range, and marks exactly one line. */
    b[SIZE - 1] ^= 1, expect[SIZE - 1] ^= 1;
    CHECK_RC(snap_track_offset(r, SIZE - 1, 1), 0);
    CHECK_RC(snap_msync(r), 0);
    REQUIRE_OK(snap_stats_get(r, &s1));
    CHECK(s1.lines_committed == s0.lines_committed + 1);
    CHECK_RC(snap_close(r), 0);
    CHECK_CONTENT(path, expect, SIZE);
    free(path);
    cases++;
}

static void test_closed_and_null(void)
{
    uint8_t expect[SIZE];
    char *path = make_region("closed", expect);
    snap_options o = file_opts(0, 0);
    snap_region *r;
    REQUIRE_OK(snap_open(path, &o, &r));
    uint8_t *b = snap_base(r);
    CHECK_RC(snap_close(r), 0);
    snap_stats st;
    CHECK_RC(snap_msync(r), SNAP_E_CLOSED);
    CHECK_RC(snap_track(r, b, 1), SNAP_E_CLOSED);
    CHECK_RC(snap_track_offset(r, 0, 1), SNAP_E_CLOSED);
    CHECK_RC(snap_grow(r, 2 * SIZE), SNAP_E_CLOSED);
    CHECK_RC(snap_stats_get(r, &st), SNAP_E_CLOSED);
    CHECK_RC(snap_close(r), SNAP_E_CLOSED);
    CHECK(snap_base(r) == NULL);
    CHECK(snap_size(r) == 0);
    snap_track_slow(b, 1); /* the hook on a closed region's old address: ignored, no crash */
    snap_hook_store(b, 1);
    cases++;

    CHECK_RC(snap_msync(NULL), SNAP_E_INVAL);
    CHECK_RC(snap_track(NULL, b, 1), SNAP_E_INVAL);
    CHECK_RC(snap_track_offset(NULL, 0, 1), SNAP_E_INVAL);
    CHECK_RC(snap_grow(NULL, SIZE), SNAP_E_INVAL);
    CHECK_RC(snap_stats_get(NULL, &st), SNAP_E_INVAL);
    CHECK_RC(snap_close(NULL), SNAP_E_INVAL);
    CHECK(snap_base(NULL) == NULL);
    CHECK(snap_size(NULL) == 0);
    CHECK_RC(snap_open(NULL, &o, &r), SNAP_E_INVAL);
    CHECK(r == NULL);
    CHECK_RC(snap_open("", &o, &r), SNAP_E_INVAL);
    CHECK_RC(snap_open(path, &o, NULL), SNAP_E_INVAL);
    CHECK_RC(snap_recover(NULL, &o), SNAP_E_INVAL);
    snap_options bad = o;
    bad.flags = 0x80;
    CHECK_RC(snap_open(path, &bad, &r), SNAP_E_INVAL);
    bad = o;
    bad.backend = (enum snap_backend_kind)17;
    CHECK_RC(snap_open(path, &bad, &r), SNAP_E_INVAL);
    bad = o;
    bad.backend = (enum snap_backend_kind)(SNAP_BACKEND_EMULATED_PMEM + 1); /* the test kit's simulator */
    CHECK_RC(snap_open(path, &bad, &r), SNAP_E_INVAL);
    CHECK_RC(snap_open_sim(path, &o, NULL, &r), SNAP_E_INVAL);
    CHECK(r == NULL);
    REQUIRE_OK(snap_open(path, &o, &r));
    CHECK_RC(snap_stats_get(r, NULL), SNAP_E_INVAL);
    CHECK_RC(snap_close(r), 0);
    for (int e = SNAP_E_FIRST; e <= SNAP_E_LAST; e++) {
        CHECK(snap_strerror(e) != NULL && *snap_strerror(e));
        CHECK(strncmp(snap_strerrorname(e), "SNAP_E_", 7) == 0);
    }
    CHECK(snap_strerror(-EIO) != NULL && snap_strerror(12345) != NULL);
    CHECK(strcmp(snap_strerrorname(SNAP_E_CORRUPT), "SNAP_E_CORRUPT") == 0);
    CHECK(strcmp(snap_strerrorname(SNAP_E_LAST), "SNAP_E_MISMATCH") == 0);
    CHECK(strcmp(snap_strerrorname(-ENOSPC), "ENOSPC") == 0);
    CHECK(strcmp(snap_strerrorname(0), "SNAP_OK") == 0);
    CHECK(strcmp(snap_strerrorname(SNAP_E_LAST + 1), "unknown") == 0);
    CHECK(strcmp(snap_strerrorname(12345), "unknown") == 0);
    CHECK_CONTENT(path, expect, SIZE); /* none of it touched the committed data */
    free(path);
    cases++;
}

static mode_t mode_of(const char *p)
{
    struct stat st;
    REQUIRE(stat(p, &st) == 0);
    return st.st_mode & 07777;
}

static void test_permissions(void)
{
    mode_t old = umask(022);
    snap_region *r;
    struct {
        mode_t umask, mode;
        int precreate; /* make the data file (with this mode, chmod'ed) before snap_open */
    } cases_[] = {{022, 0640, 0}, {0, 0600, 0}, {077, 0640, 1}, {077, 0664, 1}, {077, 0640, 0},
                  {0, 0666, 0}};
    for (unsigned i = 0; i < sizeof cases_ / sizeof cases_[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "perm%u", i);
        char *path = test_path(dir, name), *lp = logpath(path);
        umask(cases_[i].umask);
        snap_options o = file_opts(SNAP_CREATE, 4096);
        o.mode = cases_[i].mode;
        if (cases_[i].precreate) {
            spit(path, "x", 1);
            REQUIRE(chmod(path, cases_[i].mode) == 0);
            o.size = 0;
        }
        CHECK_RC(snap_open(path, &o, &r), 0);
        if (r)
            CHECK_RC(snap_close(r), 0);
        mode_t dm = mode_of(path), lm = mode_of(lp);
        if (cases_[i].precreate || cases_[i].umask == 0)
            CHECK(dm == cases_[i].mode);
        if (lm != dm) {
            fprintf(stderr, "permissions: umask %03o, data file %04o, sidecar %04o\n",
                    (unsigned)cases_[i].umask, (unsigned)dm, (unsigned)lm);
            test_failures++;
        }
        free(path), free(lp);
    }
    umask(old);
    cases++;
}

static void test_grow(void)
{
    uint8_t expect[SIZE];
    char *path = make_region("grow", expect);
    snap_options o = file_opts(0, 0);
    o.max_size = 4 * SIZE;
    snap_region *r;
    REQUIRE_OK(snap_open(path, &o, &r));
    CHECK_RC(snap_grow(r, SIZE - 1), SNAP_E_INVAL);
    CHECK_RC(snap_grow(r, 0), SNAP_E_INVAL);
    CHECK_RC(snap_grow(r, (uint64_t)1 << 40), SNAP_E_NOSPACE);
    CHECK_RC(snap_grow(r, UINT64_MAX), SNAP_E_NOSPACE);
    /* max_size is the limit (snapshot.h: "new_size ... <= max_size given at open", SNAP_E_NOSPACE
     * "beyond max_size"), not the 1 GiB arena slot it is rounded up to. */
    CHECK_RC(snap_grow(r, 4 * SIZE + 1), SNAP_E_NOSPACE);
    CHECK_RC(snap_grow(r, 8 * SIZE), SNAP_E_NOSPACE);
    CHECK(snap_size(r) == SIZE || snap_size(r) > 4 * SIZE); /* (reported above if it grew) */
    CHECK_RC(snap_close(r), 0); /* uncommitted growth, if any, is discarded */
    CHECK_CONTENT(path, expect, SIZE);
    REQUIRE_OK(snap_open(path, &o, &r));
    CHECK_RC(snap_grow(r, 4 * SIZE), 0); /* exactly max_size is fine */
    CHECK(snap_size(r) == 4 * SIZE);
    CHECK_RC(snap_close(r), 0);
    CHECK_CONTENT(path, expect, SIZE);
    cases++;

    /* Growth, new bytes, a crash before the msync: the old size and content. Then growth and a
     * crash after the msync: the new size, the new bytes, zeros elsewhere in the new part. */
    for (int commit = 0; commit < 2; commit++) {
        uint64_t new_size = 3 * SIZE + 100;
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            snap_region *c;
            if (snap_open(path, &o, &c) || snap_grow(c, new_size) || snap_size(c) != new_size)
                _exit(2);
            uint8_t *b = snap_base(c);
            for (uint64_t i = 0; i < new_size; i++)
                if (i >= SIZE && b[i] != 0)
                    _exit(3); /* the new bytes read as zero */
            memset(b + SIZE + 1000, 0x77, 5000);
            memset(b + new_size - 10, 0x66, 10);
            b[3] = 0x55;
            if (snap_track(c, b + SIZE + 1000, 5000) || snap_track(c, b + new_size - 10, 10) ||
                snap_track(c, b + 3, 1))
                _exit(4);
            if (commit && snap_msync(c))
                _exit(5);
            _exit(0); /* crash: no close */
        }
        int st;
        REQUIRE(waitpid(pid, &st, 0) == pid);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        if (!commit) {
            CHECK_CONTENT(path, expect, SIZE);
        } else {
            uint8_t *big = calloc(1, new_size);
            REQUIRE(big);
            memcpy(big, expect, SIZE);
            memset(big + SIZE + 1000, 0x77, 5000);
            memset(big + new_size - 10, 0x66, 10);
            big[3] = 0x55;
            CHECK_CONTENT(path, big, new_size);
            snap_options os = file_opts(0, new_size); /* the committed size is the new one */
            snap_region *c;
            CHECK_RC(snap_open(path, &os, &c), 0);
            if (c)
                CHECK_RC(snap_close(c), 0);
            free(big);
        }
        cases++;
    }
    free(path);
}

int main(void)
{
    dir = test_tmpdir("bad_input", "disk");
    test_corrupt_record();
    test_corrupt_record_header();
    test_wrapped_log();
    test_torn_tail();
    test_headers();
    test_truncated_data();
    test_sizes();
    test_locked();
    test_symlink();
    test_not_a_file();
    test_range();
    test_closed_and_null();
    test_permissions();
    test_grow();
    if (!test_failures)
        test_rmdir(dir);
    else
        fprintf(stderr, "files kept in %s\n", dir);
    free(dir);
    return test_done("test_bad_input", cases);
}
