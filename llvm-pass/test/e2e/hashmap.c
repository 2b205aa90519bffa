/* hashmap.c — end-to-end: an open-addressing hash map living in a region (puts, updates, deletes;
 * entries written by struct copies and values by dynamic-length memcpy), mirrored by the same code
 * on the heap; the region must equal the mirror after every msync and after reopening. */
#include "e2e.h"
#include "hashmap.h"

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
    m->magic = model->magic = HASHMAP_MAGIC;
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
