/* crash_btree.c — SIGKILL crash checks (crash.h) of the C B-tree of btree.h, built with the plugin:
 * a child inserts keys, one snap_msync() per insert, and is killed at random instants; the region
 * recovered must be a valid B-tree holding exactly the first K keys, K = acked or acked + 1.
 * Nothing here calls snap_track(): every store is tracked by the plugin or not at all. */
#include "crash.h"
#include "btree.h"

#define CAP 30000u       /* keys per generation */
#define SIZE (4u << 20)  /* region bytes: CAP keys need at most ~2 MiB of nodes */

static int bt_format(char *b)
{
    base = b;
    struct tree *t = (struct tree *)b;
    if (t->magic)
        return 0;
    t->brk = 64;
    t->root = alloc_node(t, 1);
    t->magic = BTREE_MAGIC;
    return 1;
}

static uint64_t bt_count(char *b) { return ((struct tree *)b)->count; }

static void bt_insert(char *b, uint64_t seed, uint64_t i)
{
    base = b;
    uint64_t key = crash_key(seed, i);
    insert((struct tree *)b, key, crash_val(key));
}

/* ---- The checker: B-tree invariants and the key set ---------------------------------------- */

struct bt_check {
    uint64_t seed, brk, count, keys;
    uint8_t *seen; /* per node: reached */
    int leaf_depth;
    char *why;
    size_t whylen;
};

static int bt_node(struct bt_check *c, uint64_t off, int depth, const uint64_t *lo, const uint64_t *hi)
{
    if (off < 64 || off >= c->brk || (off - 64) % sizeof(struct node))
        return crash_why(c->why, c->whylen, "a link to offset %llu, not a node",
                         (unsigned long long)off);
    uint64_t idx = (off - 64) / sizeof(struct node);
    if (c->seen[idx]++)
        return crash_why(c->why, c->whylen, "node %llu reached twice", (unsigned long long)off);
    const struct node *x = at(off);
    if (x->leaf > 1)
        return crash_why(c->why, c->whylen, "node %llu: leaf flag %u", (unsigned long long)off,
                         x->leaf);
    if (x->n > ORDER - 1 || (depth > 0 && x->n < (ORDER - 1) / 2) || (!x->leaf && x->n == 0))
        return crash_why(c->why, c->whylen, "node %llu at depth %d holds %u keys",
                         (unsigned long long)off, depth, x->n);
    if (x->leaf && c->leaf_depth < 0)
        c->leaf_depth = depth;
    if (x->leaf && depth != c->leaf_depth)
        return crash_why(c->why, c->whylen, "leaves at depths %d and %d", c->leaf_depth, depth);
    for (uint32_t i = 0; i <= x->n; i++) {
        const uint64_t *l = i ? &x->keys[i - 1] : lo, *h = i < x->n ? &x->keys[i] : hi;
        if (l && h && *l >= *h)
            return crash_why(c->why, c->whylen, "node %llu: keys out of order at %u",
                             (unsigned long long)off, i);
        if (!x->leaf && bt_node(c, x->child[i], depth + 1, l, h))
            return -1;
        if (i == x->n)
            break;
        uint64_t k = x->keys[i], n = crash_index(c->seed, k);
        if (n >= c->count)
            return crash_why(c->why, c->whylen, "key %016llx is insert number %llu, the tree "
                             "counts %llu", (unsigned long long)k, (unsigned long long)n,
                             (unsigned long long)c->count);
        if (x->vals[i] != crash_val(k))
            return crash_why(c->why, c->whylen, "key %016llx (insert %llu) has a wrong value",
                             (unsigned long long)k, (unsigned long long)n);
        c->keys++;
    }
    return 0;
}

static int64_t bt_check(char *b, uint64_t size, uint64_t seed, char *why, size_t whylen)
{
    base = b;
    const struct tree *t = (const struct tree *)b;
    if (!t->magic)
        return crash_all_zero(b, size) ? 0 : crash_why(why, whylen, "no magic, but not all zero");
    if (t->magic != BTREE_MAGIC)
        return crash_why(why, whylen, "magic %llx", (unsigned long long)t->magic);
    if (t->brk < 64 + sizeof(struct node) || t->brk > size || (t->brk - 64) % sizeof(struct node))
        return crash_why(why, whylen, "allocator break %llu", (unsigned long long)t->brk);
    if (t->count > CAP)
        return crash_why(why, whylen, "count %llu", (unsigned long long)t->count);
    uint64_t nodes = (t->brk - 64) / sizeof(struct node);
    struct bt_check c = {seed, t->brk, t->count, 0, calloc(nodes, 1), -1, why, whylen};
    if (!c.seen)
        crash_fatal("calloc");
    int rc = bt_node(&c, t->root, 0, NULL, NULL);
    uint64_t reached = 0;
    for (uint64_t i = 0; i < nodes; i++)
        reached += c.seen[i];
    free(c.seen);
    if (rc)
        return -1;
    if (c.keys != t->count) /* all distinct (ordered), all below count: then exactly 0..count-1 */
        return crash_why(why, whylen, "%llu keys in the tree, the count says %llu",
                         (unsigned long long)c.keys, (unsigned long long)t->count);
    if (reached != nodes)
        return crash_why(why, whylen, "%llu nodes allocated, %llu in the tree",
                         (unsigned long long)nodes, (unsigned long long)reached);
    if (!crash_all_zero(b + t->brk, size - t->brk))
        return crash_why(why, whylen, "bytes written past the allocator's break");
    return (int64_t)t->count;
}

int main(int argc, char **argv)
{
    static const struct crash_workload w = {"crash_btree", SIZE, CAP, bt_format, bt_count,
                                            bt_insert, bt_check};
    return crash_main(&w, argc, argv);
}
