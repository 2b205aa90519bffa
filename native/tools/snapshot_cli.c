/* snapshot_cli.c — the `snapshot` command: inspect, verify and recover a region's data file and log. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "redo_log.h"
#include "snapshot.h"

static const char usage_text[] =
    "usage: snapshot COMMAND PATH [--json]\n"
    "\n"
    "PATH is a region's data file; its log is PATH.snaplog beside it.\n"
    "\n"
    "commands:\n"
    "  inspect PATH [--json]  show the region and log state. Reads only, changes nothing; works\n"
    "                         while the region is open elsewhere (reported as in use).\n"
    "  verify PATH [--json]   check the log header and every record of the chain, and tell what\n"
    "                         recovery would do. Reads only, changes nothing.\n"
    "  recover PATH [--json]  run recovery: replay committed records into the data file, empty the\n"
    "                         log (creating it if missing), and print the outcome.\n"
    "  help, --help, -h       print this text.\n"
    "  --version              print the library version.\n"
    "\n"
    "exit status:\n"
    "  inspect  0 the report was printed (even if it shows a damaged log), 1 the files could not\n"
    "           be opened\n"
    "  verify   0 recovery would succeed, 1 the log is corrupt or the region unusable\n"
    "  recover  0 recovered, 1 recovery failed (nothing committed was changed)\n"
    "  all      2 usage error\n"
    "\n"
    "--json prints one JSON object on one line. Keys (stable; numbers are integers, log_id is a\n"
    "hex string; a key whose value is unknown or does not apply is null):\n"
    "  inspect, verify:\n"
    "    path, log_path          the data file and the log\n"
    "    data_file_bytes         size of the data file\n"
    "    log_file_bytes          size of the log file (null if it does not exist)\n"
    "    in_use                  true if another handle holds the region open (null: unknown)\n"
    "    log_state               \"valid\", \"missing\" (no log file), \"empty\" (no header\n"
    "                            written yet) or \"bad\" (header unreadable: see error)\n"
    "    header                  {slot, seq, log_id, base_epoch, data_size, area_size}: the\n"
    "                            current header slot; data_size is the committed data size\n"
    "    chain                   {records, first_epoch, last_epoch, end_offset, payload_bytes,\n"
    "                            torn_tail}: end_offset is the area offset after the last valid\n"
    "                            record; last_epoch is 0 if records is 0\n"
    "    error                   {code, name, message} of what would make recovery fail, or null\n"
    "  verify adds:\n"
    "    ok                      true if recovery would succeed (exit status 0)\n"
    "    recovery                {action, records, first_epoch, last_epoch, data_size,\n"
    "                            resize_from}: action is \"none\", \"replay\", \"resize\",\n"
    "                            \"create_log\" or \"fail\"; data_size is the size recovery\n"
    "                            leaves; resize_from the data file size it changes, or null\n"
    "    summary                 the one-line verdict printed without --json\n"
    "  recover:\n"
    "    path, ok, replayed, first_epoch, last_epoch, committed_size, error\n";

static void usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "snapshot: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nrun 'snapshot --help' for usage\n");
}

/* ---- Names and JSON --------------------------------------------------------------------------- */

static const char *err_name(int err)
{
    static const char *const names[] = {
        [SNAP_E_INVAL - SNAP_E_FIRST] = "SNAP_E_INVAL",
        [SNAP_E_CLOSED - SNAP_E_FIRST] = "SNAP_E_CLOSED",
        [SNAP_E_LOCKED - SNAP_E_FIRST] = "SNAP_E_LOCKED",
        [SNAP_E_CORRUPT - SNAP_E_FIRST] = "SNAP_E_CORRUPT",
        [SNAP_E_BADMAGIC - SNAP_E_FIRST] = "SNAP_E_BADMAGIC",
        [SNAP_E_VERSION - SNAP_E_FIRST] = "SNAP_E_VERSION",
        [SNAP_E_SIZE - SNAP_E_FIRST] = "SNAP_E_SIZE",
        [SNAP_E_TRUNCATED - SNAP_E_FIRST] = "SNAP_E_TRUNCATED",
        [SNAP_E_RANGE - SNAP_E_FIRST] = "SNAP_E_RANGE",
        [SNAP_E_SYMLINK - SNAP_E_FIRST] = "SNAP_E_SYMLINK",
        [SNAP_E_PANIC - SNAP_E_FIRST] = "SNAP_E_PANIC",
        [SNAP_E_NOSPACE - SNAP_E_FIRST] = "SNAP_E_NOSPACE",
        [SNAP_E_UNSUPPORTED - SNAP_E_FIRST] = "SNAP_E_UNSUPPORTED",
        [SNAP_E_VERIFY - SNAP_E_FIRST] = "SNAP_E_VERIFY",
        [SNAP_E_NOTFILE - SNAP_E_FIRST] = "SNAP_E_NOTFILE",
        [SNAP_E_NOMEMBARRIER - SNAP_E_FIRST] = "SNAP_E_NOMEMBARRIER",
        [SNAP_E_FORKED - SNAP_E_FIRST] = "SNAP_E_FORKED",
        [SNAP_E_MISMATCH - SNAP_E_FIRST] = "SNAP_E_MISMATCH",
    };
    _Static_assert(sizeof names / sizeof *names == SNAP_E_LAST - SNAP_E_FIRST + 1,
                   "a name for every SNAP_E_* code, up to SNAP_E_LAST");
    if (err >= SNAP_E_FIRST && err <= SNAP_E_LAST && names[err - SNAP_E_FIRST])
        return names[err - SNAP_E_FIRST];
    if (err < 0 && err > -4096) {
        const char *n = strerrorname_np(-err);
        if (n)
            return n;
    }
    return "unknown";
}

static void json_str(const char *s)
{
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", stdout);
        else if (*p < 0x20 || *p == 0x7f)
            printf("\\u%04x", *p);
        else
            putchar(*p); /* bytes >= 0x80 pass through: paths are usually UTF-8 */
    }
    putchar('"');
}

static void json_error(int err)
{
    if (!err) {
        fputs("null", stdout);
        return;
    }
    printf("{\"code\":%d,\"name\":", err);
    json_str(err_name(err));
    fputs(",\"message\":", stdout);
    json_str(snap_strerror(err));
    putchar('}');
}

static const char *plural(uint64_t n)
{
    return n == 1 ? "" : "s";
}

static const char *json_bool(int b)
{
    return b ? "true" : "false";
}

/* ---- Looking at the files, read-only ---------------------------------------------------------- */

enum log_state { LOG_MISSING, LOG_EMPTY, LOG_VALID, LOG_BAD };
static const char *const log_state_name[] = {"missing", "empty", "valid", "bad"};

/* What the files hold and what recovery would make of them. */
struct look {
    const char *path;
    char *log_path;
    int open_err;       /* a file could not be opened: nothing below it is known */
    const char *open_what; /* which one: path or log_path */
    int data_open;      /* data_bytes and in_use are known */
    uint64_t data_bytes;
    int in_use;         /* 1, 0, or -1: unknown */
    enum log_state log_state;
    uint64_t log_bytes;
    struct snap_log_header lh; /* LOG_VALID only */
    int walked;
    int walk_rc;
    struct snap_log_chain chain;
    int err;            /* why recovery would fail; 0 if it would succeed */
};

/* Open a file read-only without blocking (a FIFO in its place must not hang us) and check that it
 * is a regular file. */
static int open_regular(const char *path, int extra_flags, uint64_t *size)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | extra_flags);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st)) {
        int e = -errno;
        close(fd);
        return e;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return SNAP_E_NOTFILE;
    }
    *size = (uint64_t)st.st_size;
    return fd;
}

/* Is the region open somewhere? Asked with a shared lock that is released at once: holding it would
 * make a concurrent snap_open() fail with SNAP_E_LOCKED while we read. */
static int probe_in_use(int fd)
{
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        flock(fd, LOCK_UN);
        return 0;
    }
    return errno == EWOULDBLOCK ? 1 : -1;
}

static int look_at(const char *path, struct look *L)
{
    *L = (struct look){.path = path, .in_use = -1};
    if (asprintf(&L->log_path, "%s.snaplog", path) < 0) {
        L->log_path = NULL;
        return L->open_err = L->err = -ENOMEM;
    }
    L->open_what = path;
    int dfd = open_regular(path, 0, &L->data_bytes);
    if (dfd < 0)
        return L->open_err = L->err = dfd;
    L->data_open = 1;
    L->in_use = probe_in_use(dfd);
    L->open_what = L->log_path;
    int lfd = open_regular(L->log_path, O_NOFOLLOW, &L->log_bytes);
    if (lfd == -ELOOP)
        lfd = SNAP_E_SYMLINK; /* recovery refuses to follow it, and so do we */
    if (lfd == -ENOENT) {
        close(dfd);
        L->log_state = LOG_MISSING;
        /* snap_open() would create the log and adopt the data file's bytes, which needs bytes. */
        return L->err = L->data_bytes ? 0 : SNAP_E_INVAL;
    }
    if (lfd < 0) {
        close(dfd);
        return L->open_err = L->err = lfd;
    }
    struct snap_backend *be;
    int rc = snap_backend_readonly_open(dfd, lfd, &be);
    if (rc)
        return L->open_err = L->err = rc;
    rc = snap_log_header_read(be, &L->lh);
    if (rc == 1) {
        L->log_state = LOG_EMPTY; /* a log whose creation was cut short: treated as no log */
        L->err = L->data_bytes ? 0 : SNAP_E_INVAL;
    } else if (rc < 0) {
        L->log_state = LOG_BAD;
        L->err = rc;
    } else {
        L->log_state = LOG_VALID;
        /* Recovery checks the size before the chain; walk anyway, for the report. */
        if (L->data_bytes < L->lh.data_size)
            L->err = SNAP_E_TRUNCATED;
        L->walked = 1;
        L->walk_rc = snap_log_walk(be, &L->lh, NULL, NULL, &L->chain);
        if (!L->err)
            L->err = L->walk_rc;
        if (!L->err && L->chain.data_size == 0)
            L->err = SNAP_E_INVAL; /* snap_open() refuses a region of size 0 */
    }
    snap_be_close(be);
    return L->err;
}

static void look_free(struct look *L)
{
    free(L->log_path);
}

/* Epoch of the record where the chain stopped (the first one not in it). */
static uint64_t stop_epoch(const struct look *L)
{
    return L->lh.base_epoch + L->chain.records;
}

/* ---- inspect ---------------------------------------------------------------------------------- */

static void json_state(const struct look *L)
{
    fputs("\"path\":", stdout);
    json_str(L->path);
    fputs(",\"log_path\":", stdout);
    if (L->log_path)
        json_str(L->log_path);
    else
        fputs("null", stdout);
    if (L->data_open)
        printf(",\"data_file_bytes\":%" PRIu64, L->data_bytes);
    else
        fputs(",\"data_file_bytes\":null", stdout);
    if (L->log_state == LOG_MISSING || L->open_err)
        fputs(",\"log_file_bytes\":null", stdout);
    else
        printf(",\"log_file_bytes\":%" PRIu64, L->log_bytes);
    printf(",\"in_use\":%s", L->in_use < 0 ? "null" : json_bool(L->in_use));
    if (L->open_err)
        fputs(",\"log_state\":null", stdout);
    else
        printf(",\"log_state\":\"%s\"", log_state_name[L->log_state]);
    if (L->log_state == LOG_VALID && !L->open_err) {
        const struct snap_log_header *h = &L->lh;
        printf(",\"header\":{\"slot\":%u,\"seq\":%" PRIu64 ",\"log_id\":\"0x%016" PRIx64
               "\",\"base_epoch\":%" PRIu64 ",\"data_size\":%" PRIu64 ",\"area_size\":%" PRIu64 "}",
               (unsigned)(h->seq & 1), h->seq, h->log_id, h->base_epoch, h->data_size, h->area_size);
    } else {
        fputs(",\"header\":null", stdout);
    }
    if (L->walked) {
        const struct snap_log_chain *c = &L->chain;
        printf(",\"chain\":{\"records\":%" PRIu64 ",\"first_epoch\":%" PRIu64
               ",\"last_epoch\":%" PRIu64 ",\"end_offset\":%" PRIu64 ",\"payload_bytes\":%" PRIu64
               ",\"torn_tail\":%s}",
               c->records, c->first_epoch, c->last_epoch, c->end_off, c->payload,
               json_bool(c->torn_tail));
    } else {
        fputs(",\"chain\":null", stdout);
    }
    fputs(",\"error\":", stdout);
    json_error(L->err);
}

static void print_error(const struct look *L)
{
    if (L->open_err) {
        printf("error       cannot open %s: %s: %s\n", L->open_what ? L->open_what : L->path,
               err_name(L->err), snap_strerror(L->err));
        return;
    }
    printf("error       %s: %s\n", err_name(L->err), snap_strerror(L->err));
    if (L->err == SNAP_E_CORRUPT && L->walked && L->walk_rc == SNAP_E_CORRUPT)
        printf("            the chain stops at log offset %" PRIu64 " (record epoch %" PRIu64
               " missing or damaged), yet a later record of this log exists: a committed record "
               "was damaged\n", (uint64_t)SNAP_LOG_AREA_OFF + L->chain.end_off, stop_epoch(L));
    else if (L->err == SNAP_E_TRUNCATED)
        printf("            the data file has %" PRIu64 " bytes; the log committed %" PRIu64 "\n",
               L->data_bytes, L->lh.data_size);
}

static void print_state(const struct look *L)
{
    printf("region      %s\n", L->path);
    printf("data file   %" PRIu64 " bytes\n", L->data_bytes);
    printf("in use      %s\n", L->in_use < 0 ? "unknown (flock failed)" :
                               L->in_use ? "yes: open by another handle; the files may change while "
                                           "they are read" : "no");
    switch (L->log_state) {
    case LOG_MISSING:
        printf("log         %s: missing (the data file's bytes are the committed state)\n",
               L->log_path);
        break;
    case LOG_EMPTY:
        printf("log         %s, %" PRIu64 " bytes: no header yet (creation cut short; treated as "
               "no log)\n", L->log_path, L->log_bytes);
        break;
    case LOG_BAD:
        printf("log         %s, %" PRIu64 " bytes: header unreadable\n", L->log_path, L->log_bytes);
        break;
    case LOG_VALID: {
        const struct snap_log_header *h = &L->lh;
        const struct snap_log_chain *c = &L->chain;
        printf("log         %s, %" PRIu64 " bytes\n", L->log_path, L->log_bytes);
        printf("header      slot %u, seq %" PRIu64 ", log_id 0x%016" PRIx64 ", base_epoch %" PRIu64
               "\n", (unsigned)(h->seq & 1), h->seq, h->log_id, h->base_epoch);
        printf("            committed data size %" PRIu64 " bytes, record area %" PRIu64 " bytes\n",
               h->data_size, h->area_size);
        if (c->records)
            printf("chain       %" PRIu64 " record%s, epochs %" PRIu64 "..%" PRIu64 ", %" PRIu64
                   " payload bytes, ends at area offset %" PRIu64 ", torn tail: %s\n", c->records,
                   plural(c->records),
                   c->first_epoch, c->last_epoch, c->payload, c->end_off,
                   c->torn_tail ? "yes" : "no");
        else
            printf("chain       0 records, torn tail: %s\n", c->torn_tail ? "yes" : "no");
        break;
    }
    }
}

static int cmd_inspect(const char *path, int json)
{
    struct look L;
    look_at(path, &L);
    if (json) {
        putchar('{');
        json_state(&L);
        fputs("}\n", stdout);
    } else if (L.open_err) {
        fprintf(stderr, "snapshot: cannot open %s: %s (%s)\n", L.open_what ? L.open_what : path,
                snap_strerror(L.err), err_name(L.err));
    } else {
        print_state(&L);
        if (L.err)
            print_error(&L);
    }
    int code = L.open_err ? 1 : 0;
    look_free(&L);
    return code;
}

/* ---- verify ----------------------------------------------------------------------------------- */

struct verdict {
    const char *action; /* none, replay, resize, create_log, fail */
    uint64_t size;      /* data size after recovery */
    int resize;         /* the data file's size changes */
    char summary[512];
};

static void judge(const struct look *L, struct verdict *v)
{
    *v = (struct verdict){.action = "fail"};
    if (L->err) {
        snprintf(v->summary, sizeof v->summary, "would fail and change nothing: %s (%s)",
                 snap_strerror(L->err), err_name(L->err));
        return;
    }
    if (L->log_state != LOG_VALID) {
        v->action = "create_log";
        v->size = L->data_bytes;
        snprintf(v->summary, sizeof v->summary,
                 "nothing to replay; would create a fresh log, adopting the data file's %"
                 PRIu64 " bytes as the committed state", L->data_bytes);
        return;
    }
    const struct snap_log_chain *c = &L->chain;
    v->size = c->data_size;
    v->resize = L->data_bytes != c->data_size;
    char resize[160] = "";
    if (v->resize)
        snprintf(resize, sizeof resize, ", %s the data file from %" PRIu64 " bytes",
                 L->data_bytes > c->data_size ? "truncate" : "extend", L->data_bytes);
    if (c->records) {
        v->action = "replay";
        snprintf(v->summary, sizeof v->summary,
                 "would replay %" PRIu64 " record%s (epochs %" PRIu64 "..%" PRIu64
                 "), set data size to %" PRIu64 "%s", c->records, plural(c->records),
                 c->first_epoch, c->last_epoch,
                 c->data_size, resize);
    } else if (v->resize) {
        v->action = "resize"; /* growth that never committed */
        snprintf(v->summary, sizeof v->summary, "nothing to replay; would set data size to %"
                 PRIu64 "%s", c->data_size, resize);
    } else {
        v->action = "none";
        snprintf(v->summary, sizeof v->summary, "nothing to replay");
    }
}

static int cmd_verify(const char *path, int json)
{
    struct look L;
    struct verdict v;
    look_at(path, &L);
    judge(&L, &v);
    int ok = L.err == 0;
    if (json) {
        putchar('{');
        json_state(&L);
        printf(",\"ok\":%s,\"recovery\":{\"action\":\"%s\"", json_bool(ok), v.action);
        if (ok && L.walked && L.chain.records)
            printf(",\"records\":%" PRIu64 ",\"first_epoch\":%" PRIu64 ",\"last_epoch\":%" PRIu64,
                   L.chain.records, L.chain.first_epoch, L.chain.last_epoch);
        else
            printf(",\"records\":%d,\"first_epoch\":null,\"last_epoch\":null", 0);
        if (ok)
            printf(",\"data_size\":%" PRIu64, v.size);
        else
            fputs(",\"data_size\":null", stdout);
        if (ok && v.resize)
            printf(",\"resize_from\":%" PRIu64 "}", L.data_bytes);
        else
            fputs(",\"resize_from\":null}", stdout);
        fputs(",\"summary\":", stdout);
        json_str(v.summary);
        fputs("}\n", stdout);
    } else {
        printf("verify %s: %s\n", path, ok ? "OK" : "FAILED");
        if (!L.open_err) {
            print_state(&L);
            if (L.walked && L.chain.torn_tail && L.walk_rc == 0)
                printf("torn tail   the record at log offset %" PRIu64 " (epoch %" PRIu64
                       ") is incomplete: an msync cut short by a crash; recovery discards it\n",
                       (uint64_t)SNAP_LOG_AREA_OFF + L.chain.end_off, stop_epoch(&L));
        }
        if (L.err)
            print_error(&L);
        printf("recovery    %s\n", v.summary);
    }
    look_free(&L);
    return ok ? 0 : 1;
}

/* ---- recover ---------------------------------------------------------------------------------- */

static int cmd_recover(const char *path, int json)
{
    snap_region *r = NULL;
    snap_stats st = {0};
    const snap_options o = {.flags = SNAP_NO_CONCURRENT_WRITERS}; /* no stores: no membarrier */
    int rc = snap_open(path, &o, &r);
    uint64_t replayed = 0, last = 0;
    if (rc == SNAP_E_NOSPACE) {
        /* Too large to map in this process's arena: recover without mapping, and take the count
         * from a look just before. (Should another process open and close the region in between,
         * the count would be its replay, not ours: only the report is affected.) */
        struct look L;
        look_at(path, &L);
        rc = snap_recover(path, NULL);
        if (!rc && L.walked) {
            replayed = L.chain.records;
            last = L.chain.last_epoch;
            st.size = L.chain.data_size;
        } else if (!rc) {
            st.size = L.data_bytes;
        }
        look_free(&L);
    } else if (!rc) {
        rc = snap_stats_get(r, &st);
        replayed = st.recovered_records;
        last = st.epoch;
        int crc = snap_close(r); /* nothing new to commit: the log was emptied by recovery */
        if (!rc)
            rc = crc;
    }
    uint64_t first = replayed ? last - replayed + 1 : 0;
    if (json) {
        printf("{\"path\":");
        json_str(path);
        printf(",\"ok\":%s,\"replayed\":%" PRIu64, json_bool(!rc), rc ? 0 : replayed);
        if (!rc && replayed)
            printf(",\"first_epoch\":%" PRIu64 ",\"last_epoch\":%" PRIu64, first, last);
        else
            fputs(",\"first_epoch\":null,\"last_epoch\":null", stdout);
        if (!rc)
            printf(",\"committed_size\":%" PRIu64, st.size);
        else
            fputs(",\"committed_size\":null", stdout);
        fputs(",\"error\":", stdout);
        json_error(rc);
        fputs("}\n", stdout);
    } else if (rc) {
        fprintf(stderr, "snapshot: recovery of %s failed: %s (%s)\n", path, snap_strerror(rc),
                err_name(rc));
        if (rc == SNAP_E_CORRUPT)
            fprintf(stderr, "run 'snapshot verify %s' for details\n", path);
    } else if (replayed) {
        printf("recovered %s: replayed %" PRIu64 " record%s (epochs %" PRIu64 "..%" PRIu64
               "); committed size %" PRIu64 " bytes\n", path, replayed, plural(replayed), first,
               last, st.size);
    } else {
        printf("recovered %s: nothing to replay; committed size %" PRIu64 " bytes\n", path,
               st.size);
    }
    return rc ? 1 : 0;
}

/* ---- main ------------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("snapshot %d.%d\n", SNAP_VERSION_MAJOR, SNAP_VERSION_MINOR);
        return 0;
    }
    int (*run)(const char *, int);
    if (!strcmp(cmd, "inspect"))
        run = cmd_inspect;
    else if (!strcmp(cmd, "verify"))
        run = cmd_verify;
    else if (!strcmp(cmd, "recover"))
        run = cmd_recover;
    else {
        usage_error("unknown command '%s'", cmd);
        return 2;
    }
    const char *path = NULL;
    int json = 0, options_done = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!options_done && a[0] == '-' && a[1]) {
            if (!strcmp(a, "--json"))
                json = 1;
            else if (!strcmp(a, "--"))
                options_done = 1;
            else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
                fputs(usage_text, stdout);
                return 0;
            } else {
                usage_error("unknown option '%s'", a);
                return 2;
            }
        } else if (path) {
            usage_error("unexpected argument '%s' (one PATH per call)", a);
            return 2;
        } else if (!*a) {
            usage_error("%sempty PATH", "");
            return 2;
        } else {
            path = a;
        }
    }
    if (!path) {
        usage_error("'%s' needs a PATH (the region's data file)", cmd);
        return 2;
    }
    return run(path, json);
}
