/* hashmap.c — end-to-end: an open-addressing hash map living in a region (puts, updates, deletes;
 * entries written by struct copies and values by dynamic-length memcpy), mirrored by the same code
 * on the heap; the region must equal the mirror after every msync and after reopening. */
#include "e2e.h"

#define NBUCKETS 8192u /* power of two */
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

static void del(struct map *m, uint64_t key)
{
    struct entry *e = find_slot(m, key, 0);
    if (!e)
        return;
    e->state = DELETED;
    memset(e->val, 0, sizeof e->val);
    m->count--;
    m->tombstones++;
}

static void run(struct map *m, uint64_t *seed, int ops)
{
    char buf[VALMAX];
    for (int i = 0; i < ops; i++) {
        uint64_t r = e2e_rand(seed);
        uint64_t key = r % 6000;
        if ((r >> 20) % 10 < 8) {
            uint32_t len = (uint32_t)((r >> 32) % (sizeof ((struct entry *)0)->val + 1));
            for (uint32_t j = 0; j < len; j++)
                buf[j] = (char)('a' + (r >> (j % 48)) % 26);
            put(m, key, buf, len);
        } else {
            del(m, key);
        }
    }
}

int main(int argc, char **argv)
{
    struct e2e t;
    struct map *m = e2e_start(&t, "hashmap", argc, argv, 1u << 20);
    struct map *model = calloc(1, sizeof *model);
    m->magic = model->magic = 0x50414d48;
    uint64_t s1 = 42, s2 = 42;
    int ok = 1;
    for (int round = 0; round < 40; round++) {
        run(m, &s1, 2500);
        run(model, &s2, 2500);
        e2e_msync(&t);
        ok &= memcmp(m, model, sizeof *model) == 0;
    }
    m = e2e_reopen(&t);
    ok &= memcmp(m, model, sizeof *model) == 0;
    printf("hashmap: %llu entries, %llu puts\n", (unsigned long long)model->count,
           (unsigned long long)model->puts);
    free(model);
    return e2e_finish(&t, ok);
}
