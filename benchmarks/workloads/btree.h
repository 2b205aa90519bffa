/* btree.h — a persistent B-tree of order 8 (up to 7 keys and 8 children per node), 8-byte keys and
 * values, written once against pstore.h. The caller brackets each call that modifies the tree with
 * pstore_begin()/pstore_commit() and serialises writers. */
#ifndef BTREE_H
#define BTREE_H

#include <stdint.h>

#include "pstore.h"

#define BT_ORDER 8
#define BT_MAX_KEYS (BT_ORDER - 1)
#define BT_MIN_KEYS (BT_ORDER / 2 - 1) /* every node but the root */

struct bt_node {
    uint32_t nkeys;
    uint32_t leaf;
    uint64_t key[BT_MAX_KEYS];
    uint64_t val[BT_MAX_KEYS];
    poff child[BT_ORDER];
};

/* The tree's anchor, kept in persistent memory (e.g. the store's root object). */
struct btree {
    poff root;
    uint64_t count;
};

/* Insert or replace. Returns 1 if k was new, 0 if its value was replaced, -1 if the store is full
 * (the transaction is then half done: the caller must not commit it). */
int btree_insert(pstore *ps, struct btree *t, uint64_t k, uint64_t v);
/* 1 and *v if found, else 0. Needs no transaction. */
int btree_lookup(pstore *ps, const struct btree *t, uint64_t k, uint64_t *v);
/* Remove k, rebalancing on the way down. Returns 1 if it was there, 0 if not. */
int btree_delete(pstore *ps, struct btree *t, uint64_t k);
/* Check every invariant (key order and bounds, fill, leaf depth, count). Returns 0 or a message. */
const char *btree_check(pstore *ps, const struct btree *t);

#endif /* BTREE_H */
