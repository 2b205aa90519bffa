/* snapshot_cli.c — the `snapshot` command: inspect, verify and recover a region's data file and log,
 * and rebind a log to its data file when an open refuses it (SNAP_E_MISMATCH). */
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
#include <sys/sysmacros.h>
#include <unistd.h>

#include "backend.h"
#include "budget.h"
#include "identity.h"
#include "redo_log.h"
#include "snapshot.h"
#include "testkit.h"

static const char usage_text[] =
    "usage: snapshot COMMAND PATH [--json]\n"
    "\n"
    "PATH is a region's data file (any of its names: a symlink, a hard link). Its log is the\n"
    "data file's real path + .snaplog, or where the data file's xattr user.snapshot.log says\n"
    "(after a hard link or a rename); a log is used only if it is bound to the data file.\n"
    "\n"
    "commands:\n"
    "  inspect PATH [--json]  show the region and log state, and which data file the log is\n"
    "                         bound to. Reads only, changes nothing; works while the region is\n"
    "                         open elsewhere (reported as in use).\n"
    "  verify PATH [--json]   check the log header and every record of the chain, and tell what\n"
    "                         recovery would do. Reads only, changes nothing.\n"
    "  recover PATH [--json]  run recovery: replay committed records into the data file, empty the\n"
    "                         log (creating it if missing), and print the outcome.\n"
    "  rebind PATH [--json]   when an open fails with SNAP_E_MISMATCH, accept the files as they are:\n"
    "                         bind the log beside PATH (PATH.snaplog) to PATH, so that the next\n"
    "                         open replays its records onto PATH (a restore made without xattrs);\n"
    "                         or, with no log there, unbind PATH, so that the next open takes its\n"
    "                         bytes as the committed state (a log deleted or lost). Shows what the\n"
    "                         log holds first; does nothing if the log already is PATH's.\n"
    "  help, --help, -h       print this text.\n"
    "  --version              print the library version.\n"
    "\n"
    "exit status:\n"
    "  inspect  0 the report was printed (even if it shows a damaged log), 1 the files could not\n"
    "           be opened\n"
    "  verify   0 recovery would succeed, 1 the log is corrupt or the region unusable\n"
    "  recover  0 recovered, 1 recovery failed (nothing committed was changed)\n"
    "  rebind   0 bound, unbound, or nothing to do; 1 failed (nothing was changed)\n"
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
    "    identity                {verdict, data_xattr, xattr_log_id, xattr_log_path, log_found,\n"
    "                            log_binding}: verdict is \"bound\" (the log is the data\n"
    "                            file's), \"adopt\" (not proven, nothing to replay: an open takes\n"
    "                            it over), \"new\" (no log: an open creates one) or \"mismatch\";\n"
    "                            data_xattr \"present\", \"absent\", \"unsupported\" or\n"
    "                            \"unreadable\"; log_found \"canonical\", \"linked\" (through\n"
    "                            another name of the data file) or \"moved\" (the data file was\n"
    "                            renamed alone); log_binding {kind, dev, ino, this_file}: kind\n"
    "                            \"xattr\", \"inode\" or \"none\" (an older log)\n"
    "    memory                  {budget, evictable}: the budget a region opened here with default\n"
    "                            options gets (SNAPSHOT_BUDGET applied) and whether its copy\n"
    "                            would exceed it. Live counters (resident bytes, evictions,\n"
    "                            re-faults) belong to the process that has it open: snap_stats\n"
    "    error                   {code, name, message} of what would make recovery fail, or null\n"
    "  verify adds:\n"
    "    ok                      true if recovery would succeed (exit status 0)\n"
    "    recovery                {action, records, first_epoch, last_epoch, data_size,\n"
    "                            resize_from}: action is \"none\", \"replay\", \"resize\",\n"
    "                            \"create_log\", \"adopt\" or \"fail\"; data_size is the size\n"
    "                            recovery leaves; resize_from the data file size it changes,\n"
    "                            or null\n"
    "    summary                 the one-line verdict printed without --json\n"
    "  recover:\n"
    "    path, ok, replayed, first_epoch, last_epoch, committed_size, error\n"
    "  rebind:\n"
    "    path, ok, action (\"none\", \"bound\", \"unbound\" or null), log_path, log_id,\n"
    "    records (the records the next open replays), error\n";

static void usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "snapshot: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nrun 'snapshot --help' for usage\n");
}

/* ---- JSON ------------------------------------------------------------------------------------- */

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
    json_str(snap_strerrorname(err));
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

/* Is the log the data file's (identity.h), as an open would decide? */
enum look_verdict { ID_UNKNOWN, ID_BOUND, ID_ADOPT, ID_NEW, ID_MISMATCH };
static const char *const verdict_name[] = {NULL, "bound", "adopt", "new", "mismatch"};

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
    uint64_t mark;      /* the apply mark (0: none), once walked */
    int have_id;        /* id is filled (its dfd is closed by then) */
    struct snap_identity id;
    enum look_verdict verdict;
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

/* No log (missing, or its creation cut short): an open creates one, unless the data file is bound
 * to a log that is not there. */
static int judge_no_log(struct look *L)
{
    if (snap_identity_may_create(&L->id)) {
        L->verdict = ID_MISMATCH;
        return L->err = SNAP_E_MISMATCH;
    }
    L->verdict = ID_NEW;
    /* snap_open() would create the log and adopt the data file's bytes, which needs bytes. */
    return L->err = L->data_bytes ? 0 : SNAP_E_INVAL;
}

static int look_at(const char *path, struct look *L)
{
    *L = (struct look){.path = path, .in_use = -1};
    L->open_what = path;
    int dfd = open_regular(path, 0, &L->data_bytes);
    if (dfd < 0)
        return L->open_err = L->err = dfd;
    L->data_open = 1;
    L->in_use = probe_in_use(dfd);
    int rc = snap_identity_init(&L->id, dfd, path);
    L->have_id = 1;
    if (!rc)
        rc = snap_identity_locate(&L->id);
    if (!rc && !(L->log_path = strdup(L->id.log_path)))
        rc = -ENOMEM;
    if (rc) {
        close(dfd);
        return L->open_err = L->err = rc;
    }
    L->open_what = L->log_path;
    int lfd = open_regular(L->log_path, O_NOFOLLOW, &L->log_bytes);
    if (lfd == -ELOOP)
        lfd = SNAP_E_SYMLINK; /* recovery refuses to follow it, and so do we */
    if (lfd == -ENOENT) {
        close(dfd);
        L->log_state = LOG_MISSING;
        return judge_no_log(L);
    }
    if (lfd < 0) {
        close(dfd);
        return L->open_err = L->err = lfd;
    }
    struct snap_backend *be;
    rc = snap_backend_readonly_open(dfd, lfd, &be);
    if (rc)
        return L->open_err = L->err = rc;
    rc = snap_log_header_read(be, &L->lh);
    if (rc == 1) {
        L->log_state = LOG_EMPTY; /* a log whose creation was cut short: treated as no log */
        judge_no_log(L);
    } else if (rc < 0) {
        L->log_state = LOG_BAD;
        L->err = rc;
    } else {
        L->log_state = LOG_VALID;
        enum snap_log_verdict v = snap_identity_judge(&L->id, &L->lh);
        L->walked = 1;
        L->walk_rc = snap_log_walk(be, &L->lh, NULL, NULL, &L->chain);
        if (snap_log_mark_read(be, &L->lh, &L->mark) != 0)
            L->mark = 0;
        if (v == SNAP_LOG_FOREIGN) {
            L->verdict = ID_MISMATCH;
            L->err = SNAP_E_MISMATCH; /* decided before anything else is looked at */
        } else if (v == SNAP_LOG_UNPROVEN) {
            L->err = L->walk_rc;
            if (!L->err && (L->chain.records || L->data_bytes == 0))
                L->err = SNAP_E_MISMATCH;
            L->verdict = L->err == SNAP_E_MISMATCH ? ID_MISMATCH : ID_ADOPT;
        } else {
            L->verdict = ID_BOUND;
            /* Recovery checks the size before the chain; walk anyway, for the report. */
            if (L->data_bytes < L->lh.data_size)
                L->err = SNAP_E_TRUNCATED;
            if (!L->err)
                L->err = L->walk_rc;
            if (!L->err && L->chain.data_size == 0)
                L->err = SNAP_E_INVAL; /* snap_open() refuses a region of size 0 */
        }
    }
    snap_be_close(be);
    return L->err;
}

static void look_free(struct look *L)
{
    free(L->log_path);
    if (L->have_id)
        snap_identity_free(&L->id);
}

static const char *const xattr_state_name[] = {"absent", "present", "unsupported", "unreadable"};
static const char *const found_name[] = {"canonical", "linked", "moved"};
static const char *const bind_kind_name[] = {"none", "xattr", "inode"};

static int log_is_this_file(const struct look *L)
{
    return snap_identity_same_inode(&L->lh.binding, &L->id.self, 0);
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
               ",\"torn_tail\":%s,\"apply_mark\":%" PRIu64 "}",
               c->records, c->first_epoch, c->last_epoch, c->end_off, c->payload,
               json_bool(c->torn_tail), L->mark);
    } else {
        fputs(",\"chain\":null", stdout);
    }
    fputs(",\"identity\":", stdout);
    if (!L->have_id || (L->open_err && !L->verdict)) {
        fputs("null", stdout);
    } else {
        const struct snap_identity *id = &L->id;
        if (L->verdict)
            printf("{\"verdict\":\"%s\"", verdict_name[L->verdict]);
        else
            fputs("{\"verdict\":null", stdout);
        printf(",\"data_xattr\":\"%s\"", xattr_state_name[id->xattr]);
        if (id->xattr == SNAP_XATTR_PRESENT)
            printf(",\"xattr_log_id\":\"0x%016" PRIx64 "\"", id->xattr_log_id);
        else
            fputs(",\"xattr_log_id\":null", stdout);
        fputs(",\"xattr_log_path\":", stdout);
        if (id->xattr == SNAP_XATTR_PRESENT && id->xattr_log_path)
            json_str(id->xattr_log_path);
        else
            fputs("null", stdout);
        printf(",\"log_found\":\"%s\"", found_name[id->found]);
        if (L->log_state == LOG_VALID) {
            const struct snap_log_binding *b = &L->lh.binding;
            printf(",\"log_binding\":{\"kind\":\"%s\",\"dev\":%" PRIu64 ",\"ino\":%" PRIu64
                   ",\"this_file\":%s}}", bind_kind_name[b->kind], b->dev, b->ino,
                   json_bool(b->kind != SNAP_BIND_NONE && log_is_this_file(L)));
        } else {
            fputs(",\"log_binding\":null}", stdout);
        }
    }
    uint64_t budget = snap_budget_choose(0), copy = (L->data_bytes + 4095) & ~(uint64_t)4095;
    printf(",\"memory\":{\"budget\":%" PRIu64 ",\"evictable\":%s}", budget,
           json_bool(budget != SNAP_BUDGET_NONE && copy > budget));
    fputs(",\"error\":", stdout);
    json_error(L->err);
}

static void print_error(const struct look *L)
{
    if (L->open_err) {
        printf("error       cannot open %s: %s: %s\n", L->open_what ? L->open_what : L->path,
               snap_strerrorname(L->err), snap_strerror(L->err));
        return;
    }
    printf("error       %s: %s\n", snap_strerrorname(L->err), snap_strerror(L->err));
    if (L->err == SNAP_E_CORRUPT && L->walked && L->walk_rc == SNAP_E_CORRUPT)
        printf("            the chain stops at log offset %" PRIu64 " (record epoch %" PRIu64
               " missing or damaged), yet %s: a committed record was damaged\n",
               (uint64_t)SNAP_LOG_AREA_OFF + L->chain.end_off, stop_epoch(L),
               L->mark >= stop_epoch(L) ? "the apply mark says the data file may hold it"
                                        : "a later record of this log exists");
    else if (L->err == SNAP_E_TRUNCATED)
        printf("            the data file has %" PRIu64 " bytes; the log committed %" PRIu64 "\n",
               L->data_bytes, L->lh.data_size);
    else if (L->err == SNAP_E_MISMATCH && L->log_state != LOG_VALID)
        printf("            the data file is bound to log 0x%016" PRIx64 ", which is not there: it "
               "may hold committed records the data file lacks. Put it back beside the data "
               "file, or, to take the data file's bytes as they are, run 'snapshot rebind %s'\n",
               L->id.xattr_log_id, L->path);
    else if (L->err == SNAP_E_MISMATCH && L->verdict == ID_MISMATCH &&
             L->id.xattr == SNAP_XATTR_PRESENT)
        printf("            the data file is bound to log 0x%016" PRIx64 "; this log is 0x%016"
               PRIx64 "%s: it belongs to another data file (or to an earlier file of this name). "
               "Move it away, or run 'snapshot rebind %s' to replay its records onto this "
               "file\n", L->id.xattr_log_id, L->lh.log_id,
               L->id.found != SNAP_FOUND_CANONICAL ? " (or bound to another inode)" : "",
               L->path);
    else if (L->err == SNAP_E_MISMATCH && L->verdict == ID_MISMATCH)
        printf("            the log was bound to another file and holds %" PRIu64 " record%s; this "
               "data file has no xattr naming it (copied without xattrs? a new file of the same "
               "name?). If it is this file's log (a restore), run 'snapshot rebind %s'; if not, "
               "move it away\n", L->chain.records, plural(L->chain.records), L->path);
}

static void print_identity(const struct look *L)
{
    const struct snap_identity *id = &L->id;
    printf("binding     data file inode %u:%u:%" PRIu64 ", ", major(id->self.dev),
           minor(id->self.dev), id->self.ino);
    if (id->xattr == SNAP_XATTR_PRESENT)
        printf("xattr names log 0x%016" PRIx64 " at %s\n", id->xattr_log_id,
               id->xattr_log_path ? id->xattr_log_path : "(no path recorded)");
    else
        printf("%s\n", id->xattr == SNAP_XATTR_ABSENT ? "no xattr naming a log" :
                       id->xattr == SNAP_XATTR_UNSUPPORTED ? "no xattrs on this file system: "
                                                             "bound by inode" :
                                                             "xattr unreadable (not ours)");
    if (L->log_state == LOG_VALID) {
        const struct snap_log_binding *b = &L->lh.binding;
        if (b->kind == SNAP_BIND_NONE)
            printf("            log unbound (an older format): trusted by its name\n");
        else
            printf("            log bound (%s) to inode %u:%u:%" PRIu64 ": %s\n",
                   bind_kind_name[b->kind], major(b->dev), minor(b->dev), b->ino,
                   log_is_this_file(L) ? "this data file" : "another file, or a copy's original");
    }
    if (id->found == SNAP_FOUND_LINKED)
        printf("            log found through another name of this data file\n");
    else if (id->found == SNAP_FOUND_MOVED)
        printf("            log found under the data file's old name (renamed alone); an open "
               "that accepts it moves it beside the data file\n");
    static const char *const says[] = {
        [ID_BOUND] = "the log is this data file's",
        [ID_ADOPT] = "not proven this data file's, but nothing to replay: an open takes it over, "
                     "keeping the data file's bytes",
        [ID_NEW] = "no log: an open creates one, adopting the data file's bytes",
        [ID_MISMATCH] = "refused (SNAP_E_MISMATCH)",
    };
    if (L->verdict)
        printf("            %s\n", says[L->verdict]);
}

/* What an open with default options would do with the copy here (snapshot.h, "Budget"). */
static void print_memory(const struct look *L)
{
    uint64_t budget = snap_budget_choose(0), copy = (L->data_bytes + 4095) & ~(uint64_t)4095;
    if (budget == SNAP_BUDGET_NONE) {
        printf("memory      no budget (SNAPSHOT_BUDGET=none): the copy stays resident\n");
        return;
    }
    int kib = budget < ((uint64_t)1 << 20);
    printf("memory      budget %" PRIu64 " %s in this environment%s: %s\n",
           kib ? budget >> 10 : budget >> 20, kib ? "KiB" : "MiB",
           getenv("SNAPSHOT_BUDGET") ? " (SNAPSHOT_BUDGET)" : " (a quarter of RAM or cgroup limit)",
           copy > budget ? "the copy exceeds it and would be evictable"
                         : "the copy fits and would stay resident");
}

static void print_state(const struct look *L)
{
    printf("region      %s\n", L->path);
    printf("data file   %" PRIu64 " bytes\n", L->data_bytes);
    print_memory(L);
    printf("in use      %s\n", L->in_use < 0 ? "unknown (flock failed)" :
                               L->in_use ? "yes: open by another handle; the files may change while "
                                           "they are read" : "no");
    switch (L->log_state) {
    case LOG_MISSING:
        printf("log         %s: missing%s\n", L->log_path,
               L->verdict == ID_NEW ? " (the data file's bytes are the committed state)" : "");
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
        if (L->mark >= h->base_epoch)
            printf("apply mark  records up to epoch %" PRIu64 " may be in the data file\n", L->mark);
        break;
    }
    }
    if (L->have_id)
        print_identity(L);
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
                snap_strerror(L.err), snap_strerrorname(L.err));
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
    const char *action; /* none, replay, resize, create_log, adopt, fail */
    uint64_t size;      /* data size after recovery */
    int resize;         /* the data file's size changes */
    char summary[512];
};

static void judge(const struct look *L, struct verdict *v)
{
    *v = (struct verdict){.action = "fail"};
    if (L->err) {
        snprintf(v->summary, sizeof v->summary, "would fail and change nothing: %s (%s)",
                 snap_strerror(L->err), snap_strerrorname(L->err));
        return;
    }
    if (L->verdict == ID_ADOPT) {
        v->action = "adopt";
        v->size = L->data_bytes;
        snprintf(v->summary, sizeof v->summary,
                 "nothing to replay; the log is not proven this data file's: would take it over "
                 "(new log id, bound to this file), adopting the data file's %" PRIu64
                 " bytes as the committed state", L->data_bytes);
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
                snap_strerrorname(rc));
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

/* ---- rebind ----------------------------------------------------------------------------------- */

struct rebound {
    const char *action; /* none, bound, unbound; NULL on failure */
    char *log_path;
    uint64_t log_id;
    uint64_t records;   /* the next open replays them */
    uint64_t first, last;
    struct snap_log_binding was; /* the binding the log had */
};

/* Open a log for writing, locked as snap_open() locks it, with a back end over it. 1 if there is no
 * file, 0 with *be, or an error. */
static int open_log_rw(const char *log_path, int dfd, struct snap_backend **be)
{
    int lfd = open(log_path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (lfd < 0)
        return errno == ENOENT ? 1 : errno == ELOOP ? SNAP_E_SYMLINK : -errno;
    struct stat st;
    if (fstat(lfd, &st) || !S_ISREG(st.st_mode)) {
        close(lfd);
        return SNAP_E_NOTFILE;
    }
    if (flock(lfd, LOCK_EX | LOCK_NB)) {
        int e = errno == EWOULDBLOCK ? SNAP_E_LOCKED : -errno;
        close(lfd);
        return e;
    }
    int ddup = dup(dfd);
    if (ddup < 0) {
        close(lfd);
        return -errno;
    }
    return snap_backend_file_open(ddup, lfd, be); /* owns both fds, also on failure */
}

/* What snap_open() would refuse, accepted: the log beside the data file (its canonical sidecar) is
 * bound to it, or, with no log there, the data file is unbound. The log found through an xattr
 * elsewhere is never bound by this: it may be another file's (the original of a copy). */
static int rebind(const char *path, struct rebound *out)
{
    *out = (struct rebound){0};
    int dfd = open(path, O_RDWR | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (dfd < 0)
        return errno == EISDIR ? SNAP_E_NOTFILE : -errno;
    struct stat st;
    int rc = 0;
    if (fstat(dfd, &st))
        rc = -errno;
    else if (!S_ISREG(st.st_mode))
        rc = SNAP_E_NOTFILE;
    else if (flock(dfd, LOCK_EX | LOCK_NB))
        rc = errno == EWOULDBLOCK ? SNAP_E_LOCKED : -errno;
    if (rc) {
        close(dfd);
        return rc;
    }
    struct snap_identity id;
    struct snap_backend *be = NULL;
    struct snap_log_header lh;
    rc = snap_identity_init(&id, dfd, path);
    if (!rc)
        rc = snap_identity_locate(&id);
    /* Already the data file's log? Then there is nothing to accept. */
    if (!rc && (rc = open_log_rw(id.log_path, dfd, &be)) == 0) {
        if (snap_log_header_read(be, &lh) == 0 && snap_identity_judge(&id, &lh) == SNAP_LOG_OURS) {
            out->action = "none";
            out->log_id = lh.log_id;
        }
        snap_be_close(be);
        be = NULL;
    }
    if (rc == 1)
        rc = 0;
    if (rc || out->action)
        goto done;

    /* The canonical sidecar, whatever it holds. */
    snap_identity_free(&id);
    if ((rc = snap_identity_init(&id, dfd, path)) != 0)
        goto done;
    rc = open_log_rw(id.canon_log, dfd, &be);
    int hrc = rc == 0 ? snap_log_header_read(be, &lh) : 1;
    if (rc == 1 || hrc == 1) { /* no log, or one never written: forget the binding */
        rc = snap_identity_forget(&id);
        if (!rc)
            out->action = "unbound";
        goto done;
    }
    if (rc)
        goto done;
    if (hrc < 0) { /* unreadable: binding it would not make it usable */
        rc = hrc;
        goto done;
    }
    struct snap_log_chain chain;
    if (snap_log_walk(be, &lh, NULL, NULL, &chain) == 0) {
        out->records = chain.records;
        out->first = chain.first_epoch;
        out->last = chain.last_epoch;
    }
    out->was = lh.binding;
    snap_identity_stamp(&id, &lh);
    lh.seq++;
    rc = snap_log_header_write(be, &lh);
    if (!rc)
        rc = snap_be_barrier(be, SNAP_LOG); /* the header first, then the xattr (identity.h) */
    if (!rc)
        rc = snap_identity_finish(&id, be, &lh);
    if (!rc) {
        out->action = "bound";
        out->log_id = lh.log_id;
    }
done:
    if (!rc && !(out->log_path = strdup(id.log_path ? id.log_path : id.canon_log)))
        rc = -ENOMEM;
    snap_be_close(be);
    snap_identity_free(&id);
    close(dfd);
    return rc;
}

static int cmd_rebind(const char *path, int json)
{
    /* What the files hold, as inspect shows it, before anything changes. */
    struct look L;
    look_at(path, &L);
    if (!json && !L.open_err) {
        print_state(&L);
        if (L.err)
            print_error(&L);
    }
    look_free(&L);
    struct rebound rb;
    int rc = rebind(path, &rb);
    if (json) {
        printf("{\"path\":");
        json_str(path);
        printf(",\"ok\":%s,\"action\":", json_bool(!rc));
        if (rc)
            fputs("null,\"log_path\":null,\"log_id\":null,\"records\":0", stdout);
        else {
            printf("\"%s\",\"log_path\":", rb.action);
            json_str(rb.log_path);
            if (strcmp(rb.action, "unbound"))
                printf(",\"log_id\":\"0x%016" PRIx64 "\"", rb.log_id);
            else
                fputs(",\"log_id\":null", stdout);
            printf(",\"records\":%" PRIu64, rb.records);
        }
        fputs(",\"error\":", stdout);
        json_error(rc);
        fputs("}\n", stdout);
    } else if (rc) {
        fprintf(stderr, "snapshot: rebind of %s failed: %s (%s); nothing was changed\n", path,
                snap_strerror(rc), snap_strerrorname(rc));
    } else if (!strcmp(rb.action, "none")) {
        printf("rebind      nothing to do: %s is already the data file's log\n", rb.log_path);
    } else if (!strcmp(rb.action, "unbound")) {
        printf("rebind      unbound %s: no log beside it (%s); the next open takes the data "
               "file's bytes as the committed state and creates a fresh log\n", path, rb.log_path);
    } else {
        printf("rebind      bound %s (log_id 0x%016" PRIx64 ", was bound to inode %u:%u:%" PRIu64
               ") to %s\n", rb.log_path, rb.log_id, major(rb.was.dev), minor(rb.was.dev),
               rb.was.ino, path);
        if (rb.records)
            printf("            the next open replays its %" PRIu64 " record%s (epochs %" PRIu64
                   "..%" PRIu64 ") onto the data file\n", rb.records, plural(rb.records),
                   rb.first, rb.last);
        else
            printf("            nothing to replay\n");
    }
    free(rb.log_path);
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
#ifdef SNAPSHOT_TESTKIT
    /* The test kit's build of the CLI (native/tests): behave as on a file system without user
     * xattrs, as the library under test does. */
    const char *no_xattr = getenv("SNAPSHOT_TEST_NO_XATTR");
    snap_identity_no_xattr = no_xattr && *no_xattr && strcmp(no_xattr, "0") != 0;
#endif
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
    else if (!strcmp(cmd, "rebind"))
        run = cmd_rebind;
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
