/* btree.h — the C B-tree of the end-to-end tests (btree.c, crash_btree.c): (key, value) pairs in a
 * region, nodes from a bump allocator, links stored as offsets from `base`; inserts shift keys with
 * memmove and split nodes with memcpy, through recursive calls on node pointers. Nodes are split on
 * the way down (CLRS), so every node but the root holds at least (ORDER - 1) / 2 keys.
 * Header-only: every function is static. */
#ifndef E2E_BTREE_H
#define E2E_BTREE_H

#include <stdint.h>
#include <string.h>

#define BTREE_MAGIC 0x45455254u

#define ORDER 16 /* max children; max keys ORDER - 1 */

struct node {
    uint32_t n, leaf;
    uint64_t keys[ORDER - 1];
    uint64_t vals[ORDER - 1];
    uint64_t child[ORDER]; /* offsets from the region base */
};

struct tree {
    uint64_t magic, root, brk, count;
};

static char *base;

static struct node *at(uint64_t off) { return (struct node *)(base + off); }

static uint64_t alloc_node(struct tree *t, int leaf)
{
    uint64_t off = t->brk;
    t->brk += sizeof(struct node);
    struct node *n = at(off);
    memset(n, 0, sizeof *n);
    n->leaf = (uint32_t)leaf;
    return off;
}

/* Split the full child i of parent p. */
static void split_child(struct tree *t, struct node *p, uint32_t i)
{
    struct node *c = at(p->child[i]);
    uint64_t zoff = alloc_node(t, (int)c->leaf);
    struct node *z = at(zoff);
    const uint32_t mid = (ORDER - 1) / 2;
    z->n = ORDER - 2 - mid;
    memcpy(z->keys, c->keys + mid + 1, z->n * sizeof(uint64_t));
    memcpy(z->vals, c->vals + mid + 1, z->n * sizeof(uint64_t));
    if (!c->leaf)
        memcpy(z->child, c->child + mid + 1, (z->n + 1) * sizeof(uint64_t));
    memmove(p->child + i + 2, p->child + i + 1, (p->n - i) * sizeof(uint64_t));
    memmove(p->keys + i + 1, p->keys + i, (p->n - i) * sizeof(uint64_t));
    memmove(p->vals + i + 1, p->vals + i, (p->n - i) * sizeof(uint64_t));
    p->child[i + 1] = zoff;
    p->keys[i] = c->keys[mid];
    p->vals[i] = c->vals[mid];
    p->n++;
    c->n = mid;
}

static uint32_t lower_bound(const struct node *x, uint64_t key)
{
    uint32_t lo = 0, hi = x->n;
    while (lo < hi) {
        uint32_t m = (lo + hi) / 2;
        if (x->keys[m] < key)
            lo = m + 1;
        else
            hi = m;
    }
    return lo;
}

static void insert_nonfull(struct tree *t, struct node *x, uint64_t key, uint64_t val)
{
    for (;;) {
        uint32_t i = lower_bound(x, key);
        if (i < x->n && x->keys[i] == key) {
            x->vals[i] = val;
            return;
        }
        if (x->leaf) {
            memmove(x->keys + i + 1, x->keys + i, (x->n - i) * sizeof(uint64_t));
            memmove(x->vals + i + 1, x->vals + i, (x->n - i) * sizeof(uint64_t));
            x->keys[i] = key;
            x->vals[i] = val;
            x->n++;
            t->count++;
            return;
        }
        if (at(x->child[i])->n == ORDER - 1) {
            split_child(t, x, i);
            if (key == x->keys[i]) {
                x->vals[i] = val;
                return;
            }
            if (key > x->keys[i])
                i++;
        }
        x = at(x->child[i]);
    }
}

static void insert(struct tree *t, uint64_t key, uint64_t val)
{
    struct node *r = at(t->root);
    if (r->n == ORDER - 1) {
        uint64_t soff = alloc_node(t, 0);
        struct node *s = at(soff);
        s->child[0] = t->root;
        t->root = soff;
        split_child(t, s, 0);
        r = s;
    }
    insert_nonfull(t, r, key, val);
}

#endif /* E2E_BTREE_H */
