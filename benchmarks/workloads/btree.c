/* btree.c — the B-tree of btree.h: single-pass insertion (full nodes are split on the way down) and
 * deletion (a child about to lose a key is first given one by a sibling or merged with it), so a
 * modification never walks back up. Every node is announced with pstore_add() before it changes. */
#include "btree.h"

#include <string.h>

static struct bt_node *node(pstore *ps, poff o)
{
    return pstore_ptr(ps, o);
}

/* First slot whose key is >= k (nkeys if none). */
static unsigned find_slot(const struct bt_node *x, uint64_t k)
{
    unsigned i = 0;
    while (i < x->nkeys && x->key[i] < k)
        i++;
    return i;
}

static poff new_node(pstore *ps, int leaf)
{
    poff o = pstore_alloc(ps, sizeof(struct bt_node));
    if (o)
        node(ps, o)->leaf = (uint32_t)leaf; /* allocated in this transaction: no pstore_add */
    return o;
}

/* x->child[i] is full: move its upper half to a new right sibling and its median up into x. */
static int split_child(pstore *ps, struct bt_node *x, unsigned i)
{
    struct bt_node *y = node(ps, x->child[i]);
    poff zo = new_node(ps, (int)y->leaf);
    if (!zo)
        return -1;
    struct bt_node *z = node(ps, zo);
    const unsigned h = BT_ORDER / 2; /* y keeps h-1 keys, z gets BT_MAX_KEYS-h */
    z->nkeys = BT_MAX_KEYS - h;
    memcpy(z->key, &y->key[h], z->nkeys * sizeof z->key[0]);
    memcpy(z->val, &y->val[h], z->nkeys * sizeof z->val[0]);
    if (!y->leaf)
        memcpy(z->child, &y->child[h], (z->nkeys + 1) * sizeof z->child[0]);
    pstore_add(ps, x, sizeof *x);
    memmove(&x->child[i + 2], &x->child[i + 1], (x->nkeys - i) * sizeof x->child[0]);
    memmove(&x->key[i + 1], &x->key[i], (x->nkeys - i) * sizeof x->key[0]);
    memmove(&x->val[i + 1], &x->val[i], (x->nkeys - i) * sizeof x->val[0]);
    x->key[i] = y->key[h - 1];
    x->val[i] = y->val[h - 1];
    x->child[i + 1] = zo;
    x->nkeys++;
    pstore_add(ps, &y->nkeys, sizeof y->nkeys);
    y->nkeys = h - 1;
    return 0;
}

int btree_insert(pstore *ps, struct btree *t, uint64_t k, uint64_t v)
{
    if (!t->root) {
        poff ro = new_node(ps, 1);
        if (!ro)
            return -1;
        struct bt_node *r = node(ps, ro);
        r->nkeys = 1;
        r->key[0] = k;
        r->val[0] = v;
        pstore_add(ps, t, sizeof *t);
        t->root = ro;
        t->count = 1;
        return 1;
    }
    struct bt_node *x = node(ps, t->root);
    if (x->nkeys == BT_MAX_KEYS) {
        poff so = new_node(ps, 0);
        if (!so)
            return -1;
        struct bt_node *s = node(ps, so);
        s->child[0] = t->root;
        if (split_child(ps, s, 0))
            return -1;
        pstore_add(ps, &t->root, sizeof t->root);
        t->root = so;
        x = s;
    }
    for (;;) {
        unsigned i = find_slot(x, k);
        if (i < x->nkeys && x->key[i] == k) {
            pstore_add(ps, &x->val[i], sizeof x->val[i]);
            x->val[i] = v;
            return 0;
        }
        if (x->leaf) {
            pstore_add(ps, x, sizeof *x);
            memmove(&x->key[i + 1], &x->key[i], (x->nkeys - i) * sizeof x->key[0]);
            memmove(&x->val[i + 1], &x->val[i], (x->nkeys - i) * sizeof x->val[0]);
            x->key[i] = k;
            x->val[i] = v;
            x->nkeys++;
            pstore_add(ps, &t->count, sizeof t->count);
            t->count++;
            return 1;
        }
        if (node(ps, x->child[i])->nkeys == BT_MAX_KEYS) {
            if (split_child(ps, x, i))
                return -1;
            if (k == x->key[i]) {
                pstore_add(ps, &x->val[i], sizeof x->val[i]);
                x->val[i] = v;
                return 0;
            }
            if (k > x->key[i])
                i++;
        }
        x = node(ps, x->child[i]);
    }
}

int btree_lookup(pstore *ps, const struct btree *t, uint64_t k, uint64_t *v)
{
    const struct bt_node *x = node(ps, t->root);
    while (x) {
        unsigned i = find_slot(x, k);
        if (i < x->nkeys && x->key[i] == k) {
            *v = x->val[i];
            return 1;
        }
        if (x->leaf)
            return 0;
        x = node(ps, x->child[i]);
    }
    return 0;
}

/* Merge x->child[i+1] and the separator key[i] into x->child[i]; free the right node. */
static void merge_children(pstore *ps, struct bt_node *x, unsigned i)
{
    struct bt_node *y = node(ps, x->child[i]);
    poff zo = x->child[i + 1];
    struct bt_node *z = node(ps, zo);
    pstore_add(ps, y, sizeof *y);
    y->key[y->nkeys] = x->key[i];
    y->val[y->nkeys] = x->val[i];
    memcpy(&y->key[y->nkeys + 1], z->key, z->nkeys * sizeof z->key[0]);
    memcpy(&y->val[y->nkeys + 1], z->val, z->nkeys * sizeof z->val[0]);
    if (!y->leaf)
        memcpy(&y->child[y->nkeys + 1], z->child, (z->nkeys + 1) * sizeof z->child[0]);
    y->nkeys += z->nkeys + 1;
    pstore_add(ps, x, sizeof *x);
    memmove(&x->key[i], &x->key[i + 1], (x->nkeys - i - 1) * sizeof x->key[0]);
    memmove(&x->val[i], &x->val[i + 1], (x->nkeys - i - 1) * sizeof x->val[0]);
    memmove(&x->child[i + 1], &x->child[i + 2], (x->nkeys - i - 1) * sizeof x->child[0]);
    x->nkeys--;
    pstore_free(ps, zo);
}

/* x->child[i] has BT_MIN_KEYS: give it one more key, from a sibling or by a merge. Returns the
 * index of the child that now covers the keys child[i] covered. */
static unsigned fill_child(pstore *ps, struct bt_node *x, unsigned i)
{
    struct bt_node *c = node(ps, x->child[i]);
    if (i > 0 && node(ps, x->child[i - 1])->nkeys > BT_MIN_KEYS) {
        /* Rotate right: the left sibling's last key goes up, the separator comes down into c. */
        struct bt_node *l = node(ps, x->child[i - 1]);
        pstore_add(ps, c, sizeof *c);
        memmove(&c->key[1], c->key, c->nkeys * sizeof c->key[0]);
        memmove(&c->val[1], c->val, c->nkeys * sizeof c->val[0]);
        if (!c->leaf)
            memmove(&c->child[1], c->child, (c->nkeys + 1) * sizeof c->child[0]);
        c->key[0] = x->key[i - 1];
        c->val[0] = x->val[i - 1];
        if (!c->leaf)
            c->child[0] = l->child[l->nkeys];
        c->nkeys++;
        pstore_add(ps, x, sizeof *x);
        x->key[i - 1] = l->key[l->nkeys - 1];
        x->val[i - 1] = l->val[l->nkeys - 1];
        pstore_add(ps, &l->nkeys, sizeof l->nkeys);
        l->nkeys--;
        return i;
    }
    if (i < x->nkeys && node(ps, x->child[i + 1])->nkeys > BT_MIN_KEYS) {
        /* Rotate left: the separator comes down to c's end, the right sibling's first key up. */
        struct bt_node *r = node(ps, x->child[i + 1]);
        pstore_add(ps, c, sizeof *c);
        c->key[c->nkeys] = x->key[i];
        c->val[c->nkeys] = x->val[i];
        if (!c->leaf)
            c->child[c->nkeys + 1] = r->child[0];
        c->nkeys++;
        pstore_add(ps, x, sizeof *x);
        x->key[i] = r->key[0];
        x->val[i] = r->val[0];
        pstore_add(ps, r, sizeof *r);
        memmove(r->key, &r->key[1], (r->nkeys - 1) * sizeof r->key[0]);
        memmove(r->val, &r->val[1], (r->nkeys - 1) * sizeof r->val[0]);
        if (!r->leaf)
            memmove(r->child, &r->child[1], r->nkeys * sizeof r->child[0]);
        r->nkeys--;
        return i;
    }
    if (i < x->nkeys) {
        merge_children(ps, x, i);
        return i;
    }
    merge_children(ps, x, i - 1);
    return i - 1;
}

int btree_delete(pstore *ps, struct btree *t, uint64_t k)
{
    if (!t->root)
        return 0;
    int found = 0;
    struct bt_node *x = node(ps, t->root);
    /* Invariant: x is the root or has more than BT_MIN_KEYS keys, so it can lose one. */
    for (;;) {
        unsigned i = find_slot(x, k);
        if (i < x->nkeys && x->key[i] == k) {
            if (x->leaf) {
                pstore_add(ps, x, sizeof *x);
                memmove(&x->key[i], &x->key[i + 1], (x->nkeys - i - 1) * sizeof x->key[0]);
                memmove(&x->val[i], &x->val[i + 1], (x->nkeys - i - 1) * sizeof x->val[0]);
                x->nkeys--;
                found = 1;
                break;
            }
            struct bt_node *y = node(ps, x->child[i]);
            struct bt_node *z = node(ps, x->child[i + 1]);
            if (y->nkeys > BT_MIN_KEYS || z->nkeys > BT_MIN_KEYS) {
                /* Replace k by its predecessor (or successor), then delete that from the child. */
                int left = y->nkeys > BT_MIN_KEYS;
                const struct bt_node *m = left ? y : z;
                while (!m->leaf)
                    m = node(ps, m->child[left ? m->nkeys : 0]);
                unsigned j = left ? m->nkeys - 1 : 0;
                pstore_add(ps, &x->key[i], sizeof x->key[i]);
                pstore_add(ps, &x->val[i], sizeof x->val[i]);
                x->key[i] = m->key[j];
                x->val[i] = m->val[j];
                k = m->key[j];
                x = left ? y : z;
                found = 1;
                continue;
            }
            merge_children(ps, x, i);
            x = y; /* k is now in y, which has 2*BT_MIN_KEYS+1 keys */
            continue;
        }
        if (x->leaf)
            break;
        if (node(ps, x->child[i])->nkeys == BT_MIN_KEYS)
            i = fill_child(ps, x, i);
        x = node(ps, x->child[i]);
    }
    /* The root may have been emptied by a merge (or by removing its last key). */
    struct bt_node *r = node(ps, t->root);
    if (r->nkeys == 0) {
        poff old = t->root;
        pstore_add(ps, &t->root, sizeof t->root);
        t->root = r->leaf ? 0 : r->child[0];
        pstore_free(ps, old);
    }
    if (found) {
        pstore_add(ps, &t->count, sizeof t->count);
        t->count--;
    }
    return found;
}

struct check_state {
    unsigned leaf_depth;
    uint64_t keys;
    const char *error;
};

static void check_node(pstore *ps, poff o, int is_root, unsigned depth, int has_lo, uint64_t lo,
                       int has_hi, uint64_t hi, struct check_state *st)
{
    const struct bt_node *x = node(ps, o);
    if (!x) {
        st->error = "a null child pointer";
        return;
    }
    if (x->nkeys > BT_MAX_KEYS || x->nkeys < (is_root ? 1u : BT_MIN_KEYS)) {
        st->error = "a node with too few or too many keys";
        return;
    }
    for (unsigned i = 0; i < x->nkeys; i++) {
        if ((i > 0 && x->key[i - 1] >= x->key[i]) || (has_lo && x->key[i] <= lo) ||
            (has_hi && x->key[i] >= hi)) {
            st->error = "keys out of order";
            return;
        }
    }
    st->keys += x->nkeys;
    if (x->leaf) {
        if (st->leaf_depth == 0)
            st->leaf_depth = depth;
        else if (st->leaf_depth != depth)
            st->error = "leaves at different depths";
        return;
    }
    for (unsigned i = 0; i <= x->nkeys && !st->error; i++)
        check_node(ps, x->child[i], 0, depth + 1, i > 0 || has_lo, i > 0 ? x->key[i - 1] : lo,
                   i < x->nkeys || has_hi, i < x->nkeys ? x->key[i] : hi, st);
}

const char *btree_check(pstore *ps, const struct btree *t)
{
    if (!t->root)
        return t->count ? "empty tree with a non-zero count" : NULL;
    struct check_state st = {0, 0, NULL};
    check_node(ps, t->root, 1, 1, 0, 0, 0, 0, &st);
    if (!st.error && st.keys != t->count)
        st.error = "the count differs from the number of keys";
    return st.error;
}
