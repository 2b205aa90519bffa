/* btree.c — end-to-end: a B-tree of (key, value) pairs in a region, nodes from a bump allocator,
 * links stored as offsets; inserts shift keys with memmove and split nodes with memcpy, through
 * recursive calls on node pointers. Checked after every msync and after reopening: an in-order walk
 * yields exactly the model's sorted keys and values. */
#include "e2e.h"
#include "btree.h"

/* In-order walk compared with the model (sorted keys, their values). */
static int walk(const struct node *x, const uint64_t *keys, const uint64_t *vals, uint64_t *pos)
{
    for (uint32_t i = 0; i <= x->n; i++) {
        if (!x->leaf && !walk(at(x->child[i]), keys, vals, pos))
            return 0;
        if (i < x->n) {
            if (x->keys[i] != keys[*pos] || x->vals[i] != vals[*pos])
                return 0;
            ++*pos;
        }
    }
    return 1;
}

#define KEYSPACE 200000u

static int check(struct tree *t, const uint64_t *model_val, const uint8_t *present)
{
    static uint64_t keys[KEYSPACE], vals[KEYSPACE];
    uint64_t n = 0;
    for (uint64_t k = 0; k < KEYSPACE; k++)
        if (present[k]) {
            keys[n] = k;
            vals[n++] = model_val[k];
        }
    uint64_t pos = 0;
    return n == t->count && walk(at(t->root), keys, vals, &pos) && pos == n;
}

int main(int argc, char **argv)
{
    struct e2e e;
    base = e2e_start(&e, "btree", argc, argv, 8u << 20);
    struct tree *t = (struct tree *)base;
    t->magic = BTREE_MAGIC;
    t->brk = 64;
    t->root = alloc_node(t, 1);
    uint64_t *model_val = calloc(KEYSPACE, sizeof *model_val);
    uint8_t *present = calloc(KEYSPACE, 1);
    uint64_t seed = 7;
    int ok = 1;
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 3000; i++) {
            uint64_t r = e2e_rand(&seed), key = r % KEYSPACE;
            insert(t, key, r);
            model_val[key] = r;
            present[key] = 1;
        }
        e2e_msync(&e);
        ok &= check(t, model_val, present);
    }
    base = e2e_reopen(&e);
    t = (struct tree *)base;
    ok &= check(t, model_val, present);
    printf("btree: %llu keys, %llu bytes of nodes\n", (unsigned long long)t->count,
           (unsigned long long)t->brk);
    free(model_val);
    free(present);
    return e2e_finish(&e, ok);
}
