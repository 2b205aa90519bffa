/* hashmap.h — the open-addressing hash map of the end-to-end tests (hashmap.c, crash_hashmap.c):
 * linear probing, tombstones, one 64-byte entry per bucket; a new entry is written by a whole-entry
 * struct copy and its value by a dynamic-length memcpy. Header-only: every function is static. */
#ifndef E2E_HASHMAP_H
#define E2E_HASHMAP_H

#include <stdint.h>
#include <string.h>

#define HASHMAP_MAGIC 0x50414d48u

#ifndef NBUCKETS
#define NBUCKETS 8192u /* power of two */
#endif
#define VALMAX 44

enum { EMPTY = 0, USED = 1, DELETED = 2 };

struct entry { /* 64 bytes: one line */
    uint64_t key;
    uint32_t state;
    uint32_t vlen;
    uint64_t version;
    char val[VALMAX - 4];
};

struct map {
    uint64_t magic;
    uint64_t count, tombstones, puts;
    struct entry buckets[NBUCKETS];
};

static uint64_t hash(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return k;
}

static struct entry *find_slot(struct map *m, uint64_t key, int for_insert)
{
    struct entry *tomb = NULL;
    for (uint64_t i = hash(key) & (NBUCKETS - 1), n = 0; n < NBUCKETS; i = (i + 1) & (NBUCKETS - 1), n++) {
        struct entry *e = &m->buckets[i];
        if (e->state == EMPTY)
            return for_insert && tomb ? tomb : for_insert ? e : NULL;
        if (e->state == DELETED) {
            if (!tomb)
                tomb = e;
        } else if (e->key == key) {
            return e;
        }
    }
    return for_insert ? tomb : NULL;
}

static void put(struct map *m, uint64_t key, const char *val, uint32_t len)
{
    struct entry *e = find_slot(m, key, 1);
    if (!e)
        return;
    if (e->state != USED) {
        if (e->state == DELETED)
            m->tombstones--;
        struct entry fresh = {.key = key, .state = USED, .vlen = 0, .version = 0};
        *e = fresh; /* a whole-entry struct copy */
        m->count++;
    }
    e->version++;
    e->vlen = len;
    memcpy(e->val, val, len); /* dynamic length */
    m->puts++;
}

__attribute__((unused)) static void del(struct map *m, uint64_t key)
{
    struct entry *e = find_slot(m, key, 0);
    if (!e)
        return;
    e->state = DELETED;
    memset(e->val, 0, sizeof e->val);
    m->count--;
    m->tombstones++;
}

#endif /* E2E_HASHMAP_H */
