/* trace.c — parser of YCSB traces and the key set that interns their keys (trace.h). */
#include "trace.h"
#include "kv_hash.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int keyset_grow_index(struct keyset *ks)
{
    uint64_t n = ks->index_mask ? (ks->index_mask + 1) * 2 : 1024;
    uint32_t *idx = calloc(n, sizeof *idx);
    if (!idx)
        return -1;
    for (uint32_t id = 0; id < ks->n; id++) {
        uint64_t i = kv_hash(ks->keys[id], ks->lens[id]) & (n - 1);
        while (idx[i])
            i = (i + 1) & (n - 1);
        idx[i] = id + 1;
    }
    free(ks->index);
    ks->index = idx;
    ks->index_mask = n - 1;
    return 0;
}

/* The id of key, added if new; -1 if out of memory. */
static int64_t keyset_intern(struct keyset *ks, const char *key, size_t klen)
{
    if ((uint64_t)ks->n * 2 >= ks->index_mask && keyset_grow_index(ks))
        return -1;
    uint64_t i = kv_hash(key, klen) & ks->index_mask;
    for (; ks->index[i]; i = (i + 1) & ks->index_mask) {
        uint32_t id = ks->index[i] - 1;
        if (ks->lens[id] == klen && memcmp(ks->keys[id], key, klen) == 0)
            return id;
    }
    if (ks->n == ks->cap) {
        uint32_t cap = ks->cap ? ks->cap * 2 : 1024;
        void *keys = realloc(ks->keys, (size_t)cap * sizeof *ks->keys);
        if (!keys)
            return -1;
        ks->keys = keys;
        void *lens = realloc(ks->lens, cap);
        if (!lens)
            return -1;
        ks->lens = lens;
        ks->cap = cap;
    }
    memcpy(ks->keys[ks->n], key, klen);
    ks->lens[ks->n] = (uint8_t)klen;
    ks->index[i] = ks->n + 1;
    return ks->n++;
}

void keyset_free(struct keyset *ks)
{
    free(ks->keys);
    free(ks->lens);
    free(ks->index);
    memset(ks, 0, sizeof *ks);
}

void trace_free(struct trace *t)
{
    free(t->ops);
    t->ops = NULL;
    t->nops = 0;
}

static int set_string(char *dst, size_t size, const char *value)
{
    size_t n = strlen(value);
    if (n >= size)
        return -1;
    memcpy(dst, value, n + 1);
    return 0;
}

static int parse_header(const char *line, struct trace_header *h)
{
    if (strncmp(line, "# ycsb-trace v1", 15) != 0)
        return -1;
    memset(h, 0, sizeof *h);
    const char *p = line + 15;
    char name[32], value[64];
    int used;
    while (sscanf(p, " %31[^= \n]=%63s%n", name, value, &used) == 2) {
        p += used;
        if (strcmp(name, "workload") == 0) {
            if (set_string(h->workload, sizeof h->workload, value))
                return -1;
        } else if (strcmp(name, "phase") == 0) {
            if (set_string(h->phase, sizeof h->phase, value))
                return -1;
        } else if (strcmp(name, "recordcount") == 0) {
            h->recordcount = strtoull(value, NULL, 10);
        } else if (strcmp(name, "operationcount") == 0) {
            h->operationcount = strtoull(value, NULL, 10);
        } else if (strcmp(name, "fieldcount") == 0) {
            h->fieldcount = (uint32_t)strtoul(value, NULL, 10);
        } else if (strcmp(name, "fieldlength") == 0) {
            h->fieldlength = (uint32_t)strtoul(value, NULL, 10);
        }
    }
    return h->workload[0] && h->phase[0] && h->fieldcount && h->fieldlength ? 0 : -1;
}

int trace_read(const char *path, struct keyset *ks, struct trace *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[256];
    uint64_t lineno = 0, cap = 0;
    int rc = -1;
    if (!fgets(line, sizeof line, f) || parse_header(line, &t->hdr)) {
        snprintf(err, errlen, "%s:1: not a ycsb-trace v1 header (workload, phase, fieldcount and "
                 "fieldlength are needed)", path);
        goto out;
    }
    lineno = 1;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len && line[len - 1] != '\n' && !feof(f)) {
            snprintf(err, errlen, "%s:%llu: line too long", path, (unsigned long long)lineno);
            goto out;
        }
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char type = line[0];
        if (!strchr("IRUSMD", type) || line[1] != ' ') {
            snprintf(err, errlen, "%s:%llu: unknown operation '%c'", path, (unsigned long long)lineno,
                     type);
            goto out;
        }
        const char *key = line + 2;
        size_t klen = strcspn(key, " \n");
        if (klen == 0 || klen > TRACE_MAX_KEY) {
            snprintf(err, errlen, "%s:%llu: key empty or longer than %d bytes", path,
                     (unsigned long long)lineno, TRACE_MAX_KEY);
            goto out;
        }
        uint32_t arg = 0;
        if (type == OP_UPDATE || type == OP_SCAN || type == OP_RMW) {
            char *end;
            unsigned long v = strtoul(key + klen, &end, 10);
            if (end == key + klen || v == 0 || v > UINT32_MAX) {
                snprintf(err, errlen, "%s:%llu: '%c' needs a count > 0", path,
                         (unsigned long long)lineno, type);
                goto out;
            }
            arg = (uint32_t)v;
        }
        if (t->nops == cap) {
            cap = cap ? cap * 2 : 4096;
            void *ops = realloc(t->ops, cap * sizeof *t->ops);
            if (!ops)
                goto oom;
            t->ops = ops;
        }
        int64_t id = keyset_intern(ks, key, klen);
        if (id < 0)
            goto oom;
        t->ops[t->nops++] = (struct trace_op){.key = (uint32_t)id, .arg = arg, .type = type};
    }
    if (ferror(f)) {
        snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
        goto out;
    }
    rc = 0;
    goto out;
oom:
    snprintf(err, errlen, "%s:%llu: out of memory", path, (unsigned long long)lineno);
out:
    fclose(f);
    if (rc)
        trace_free(t);
    return rc;
}
