/* expect.c — the replayer's model of the store and its value generator (expect.h). */
#include "expect.h"

#include <stdlib.h>
#include <string.h>

#include "kv_hash.h"

int expect_init(struct expect *e, const struct keyset *ks, uint32_t fieldcount, uint32_t fieldlength)
{
    memset(e, 0, sizeof *e);
    if (fieldlength < 8 || fieldcount == 0)
        return -1;
    e->ks = ks;
    e->fieldcount = fieldcount;
    e->fieldlength = fieldlength;
    e->vsize = (size_t)fieldcount * fieldlength;
    size_t n = ks->n ? ks->n : 1;
    e->keyhash = malloc(n * sizeof *e->keyhash);
    e->present = calloc(n, 1);
    e->version = calloc(n * fieldcount, sizeof *e->version);
    if (!e->keyhash || !e->present || !e->version) {
        expect_free(e);
        return -1;
    }
    for (uint32_t id = 0; id < ks->n; id++)
        e->keyhash[id] = kv_hash(ks->keys[id], ks->lens[id]);
    return 0;
}

void expect_free(struct expect *e)
{
    free(e->keyhash);
    free(e->present);
    free(e->version);
    memset(e, 0, sizeof *e);
}

#define STEP 0x9e3779b97f4a7c15ull

static uint64_t field_seed(uint64_t keyhash, uint32_t field, uint32_t ver)
{
    uint64_t seed = keyhash ^ ((uint64_t)field << 32 | ver);
    return (seed ^ (seed >> 31)) * 0xbf58476d1ce4e5b9ull;
}

/* Versions and words are stored little endian: every target we build for (x86-64, arm64) is. */
static void fill_field(unsigned char *dst, uint32_t len, uint64_t keyhash, uint32_t field, uint32_t ver)
{
    uint64_t seed = field_seed(keyhash, field, ver);
    memcpy(dst, &ver, 4);
    uint32_t i = 4, j = 0;
    for (; i + 8 <= len; i += 8, j++) {
        uint64_t w = seed + j * STEP;
        memcpy(dst + i, &w, 8);
    }
    uint64_t w = seed + j * STEP;
    memcpy(dst + i, &w, len - i);
}

/* Compared in place, without generating the expected bytes: scans check every record they meet. */
static int field_ok(const unsigned char *p, uint32_t len, uint64_t keyhash, uint32_t field, uint32_t ver)
{
    uint64_t seed = field_seed(keyhash, field, ver), diff = 0;
    uint32_t stored, i = 4, j = 0;
    memcpy(&stored, p, 4);
    for (; i + 8 <= len; i += 8, j++) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        diff |= w ^ (seed + j * STEP);
    }
    if (i < len) {
        uint64_t w = 0;
        memcpy(&w, p + i, len - i);
        diff |= (w ^ (seed + j * STEP)) & ((1ull << (8 * (len - i))) - 1);
    }
    return stored == ver && diff == 0;
}

void expect_insert(struct expect *e, uint32_t id, void *dst)
{
    unsigned char *out = dst;
    uint32_t *ver = &e->version[(size_t)id * e->fieldcount];
    for (uint32_t f = 0; f < e->fieldcount; f++)
        fill_field(out + (size_t)f * e->fieldlength, e->fieldlength, e->keyhash[id], f, ++ver[f]);
    if (!e->present[id])
        e->count++;
    e->present[id] = 1;
}

void expect_delete(struct expect *e, uint32_t id)
{
    if (e->present[id])
        e->count--;
    e->present[id] = 0;
}

void expect_update(struct expect *e, uint32_t id, uint32_t k, uint32_t *fields, void *data)
{
    unsigned char *out = data;
    uint32_t *ver = &e->version[(size_t)id * e->fieldcount];
    for (uint32_t i = 0; i < k; i++) {
        uint32_t f = (e->next_field + i) % e->fieldcount;
        fields[i] = f;
        fill_field(out + (size_t)i * e->fieldlength, e->fieldlength, e->keyhash[id], f, ++ver[f]);
    }
    e->next_field = (e->next_field + 1) % e->fieldcount;
}

uint32_t expect_check(struct expect *e, uint32_t id, const void *value)
{
    const unsigned char *in = value;
    const uint32_t *ver = &e->version[(size_t)id * e->fieldcount];
    for (uint32_t f = 0; f < e->fieldcount; f++)
        if (!field_ok(in + (size_t)f * e->fieldlength, e->fieldlength, e->keyhash[id], f, ver[f]))
            return f + 1;
    return 0;
}

uint32_t expect_check_self(struct expect *e, const char *key, size_t klen, const void *value)
{
    const unsigned char *in = value;
    uint64_t h = kv_hash(key, klen);
    for (uint32_t f = 0; f < e->fieldcount; f++) {
        const unsigned char *field = in + (size_t)f * e->fieldlength;
        uint32_t ver;
        memcpy(&ver, field, 4);
        if (ver == 0 || !field_ok(field, e->fieldlength, h, f, ver))
            return f + 1;
    }
    return 0;
}
