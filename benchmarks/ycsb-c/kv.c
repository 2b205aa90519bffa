/* kv.c — the hash-table KV store of kv.h on the persistence layer pstore.h.
 *
 * Why chaining with a bucket array sized at creation:
 *   - YCSB says how many records it will load (recordcount) before it starts, so the array is sized
 *     once (next power of two >= capacity: load factor <= 1) and never rehashed. A resize would be one
 *     enormous transaction (every bucket and every chain link rewritten at once) in the middle of the
 *     timed run, logged by every back end — it would measure the resize, not the store.
 *   - Records are separately allocated objects anyway (about 1 KB each), so chaining costs no extra
 *     allocation, inserts past the capacity (workloads D and E insert during the run) only lengthen
 *     chains, and a delete unlinks its record without tombstones.
 *   - An insert modifies three places: the new record, its bucket's head and the root's count; an
 *     update only the fields it writes. Each place but the new record (already part of the
 *     transaction that allocated it) is announced with pstore_add() before it is modified (a no-op
 *     for Snapshot, whose plugin tracks the stores; an undo-log entry for PMDK; a redo range for
 *     the WAL).
 * The record header stores the key's hash, so a chain walk compares keys only on a hash match.
 */
#include "kv.h"

#include <stdlib.h>
#include <string.h>

#define KV_MAGIC 0x31764b4843535943ull /* "CYSCHKv1" */

struct kv_root {
    uint64_t magic;
    uint32_t fieldcount;
    uint32_t fieldlength;
    uint64_t nbuckets;
    uint64_t count;
    poff buckets;
};

struct kv_rec {
    poff next;
    uint64_t hash;
    uint32_t klen;
    char key[KV_MAX_KEY];
    uint32_t pad; /* the value starts 8-byte aligned */
    unsigned char value[];
};

struct kv {
    pstore *ps;
    struct kv_root *root;
    poff *buckets; /* the array in the store, resolved once: the store never moves */
    uint64_t mask;
    uint32_t fieldcount, fieldlength;
    size_t vsize;
};

const char *kv_strerror(int err)
{
    switch (err) {
    case KV_OK: return "ok";
    case KV_NOT_FOUND: return "no record with that key";
    case KV_EXISTS: return "a record with that key exists";
    case KV_E_KEY: return "key empty or longer than KV_MAX_KEY bytes";
    case KV_E_FULL: return "the store is full (allocation failed)";
    case KV_E_LAYOUT: return "the store does not hold a kv of this record shape";
    case KV_E_NOMEM: return "out of memory";
    case KV_E_FIELD: return "field index out of range";
    default: return pstore_error(err);
    }
}

size_t kv_root_size(void) { return sizeof(struct kv_root); }
uint32_t kv_fieldcount(const kv *k) { return k->fieldcount; }
uint32_t kv_fieldlength(const kv *k) { return k->fieldlength; }
size_t kv_value_size(const kv *k) { return k->vsize; }
uint64_t kv_count(const kv *k) { return k->root->count; }
uint64_t kv_buckets(const kv *k) { return k->mask + 1; }

static struct kv_rec *rec_at(const kv *k, poff o) { return (struct kv_rec *)pstore_ptr(k->ps, o); }

/* The link (bucket head or a record's next) that points at key's record, or NULL if absent. */
static poff *find_link(const kv *k, uint64_t h, const char *key, size_t klen)
{
    poff *link = &k->buckets[h & k->mask];
    while (*link) {
        struct kv_rec *r = rec_at(k, *link);
        if (r->hash == h && r->klen == klen && memcmp(r->key, key, klen) == 0)
            return link;
        link = &r->next;
    }
    return NULL;
}

static int check_key(size_t klen) { return klen == 0 || klen > KV_MAX_KEY ? KV_E_KEY : KV_OK; }

/* *link = the link to key's record: KV_OK, KV_NOT_FOUND or KV_E_KEY. */
static int lookup(const kv *k, const char *key, size_t klen, poff **link)
{
    int rc = check_key(klen);
    if (rc)
        return rc;
    *link = find_link(k, kv_hash(key, klen), key, klen);
    return *link ? KV_OK : KV_NOT_FOUND;
}

static int create(kv *k, uint64_t capacity, uint32_t fieldcount, uint32_t fieldlength)
{
    uint64_t n = 16;
    while (n < capacity)
        n <<= 1;
    struct kv_root *root = k->root;
    pstore_begin(k->ps);
    poff b = pstore_alloc(k->ps, n * sizeof(poff)); /* zeroed: every chain empty */
    if (!b) {
        pstore_commit(k->ps); /* nothing was modified: an empty transaction */
        return KV_E_FULL;
    }
    pstore_add(k->ps, root, sizeof *root);
    root->fieldcount = fieldcount;
    root->fieldlength = fieldlength;
    root->nbuckets = n;
    root->count = 0;
    root->buckets = b;
    root->magic = KV_MAGIC;
    return pstore_commit(k->ps);
}

int kv_open(kv **out, pstore *ps, uint64_t capacity, uint32_t fieldcount, uint32_t fieldlength)
{
    *out = NULL;
    if (fieldcount == 0 || fieldlength == 0)
        return KV_E_LAYOUT;
    kv *k = calloc(1, sizeof *k);
    if (!k)
        return KV_E_NOMEM;
    k->ps = ps;
    k->root = (struct kv_root *)pstore_root(ps);
    int rc = KV_OK;
    if (k->root->magic == 0)
        rc = create(k, capacity, fieldcount, fieldlength);
    else if (k->root->magic != KV_MAGIC || k->root->fieldcount != fieldcount ||
             k->root->fieldlength != fieldlength || k->root->nbuckets == 0 ||
             (k->root->nbuckets & (k->root->nbuckets - 1)) != 0)
        rc = KV_E_LAYOUT;
    if (rc != KV_OK) {
        free(k);
        return rc;
    }
    k->buckets = (poff *)pstore_ptr(ps, k->root->buckets);
    k->mask = k->root->nbuckets - 1;
    k->fieldcount = fieldcount;
    k->fieldlength = fieldlength;
    k->vsize = (size_t)fieldcount * fieldlength;
    *out = k;
    return KV_OK;
}

void kv_close(kv *k) { free(k); }

int kv_insert(kv *k, const char *key, size_t klen, const void *value)
{
    int rc = check_key(klen);
    if (rc)
        return rc;
    uint64_t h = kv_hash(key, klen);
    if (find_link(k, h, key, klen))
        return KV_EXISTS;
    pstore_begin(k->ps);
    poff o = pstore_alloc(k->ps, sizeof(struct kv_rec) + k->vsize);
    if (!o) {
        pstore_commit(k->ps);
        return KV_E_FULL;
    }
    struct kv_rec *r = rec_at(k, o);
    poff *head = &k->buckets[h & k->mask];
    /* A fresh allocation is part of its transaction already: no pstore_add (pstore.h). */
    r->next = *head;
    r->hash = h;
    r->klen = (uint32_t)klen;
    memcpy(r->key, key, klen);
    memcpy(r->value, value, k->vsize);
    pstore_add(k->ps, head, sizeof *head);
    *head = o;
    pstore_add(k->ps, &k->root->count, sizeof k->root->count);
    k->root->count++;
    return pstore_commit(k->ps);
}

int kv_read(kv *k, const char *key, size_t klen, void *out)
{
    poff *link;
    int rc = lookup(k, key, klen, &link);
    if (rc)
        return rc;
    memcpy(out, rec_at(k, *link)->value, k->vsize);
    return KV_OK;
}

int kv_update(kv *k, const char *key, size_t klen, const uint32_t *fields, uint32_t nfields,
              const void *data)
{
    for (uint32_t i = 0; i < nfields; i++)
        if (fields[i] >= k->fieldcount)
            return KV_E_FIELD;
    poff *link;
    int rc = lookup(k, key, klen, &link);
    if (rc)
        return rc;
    struct kv_rec *r = rec_at(k, *link);
    const unsigned char *src = data;
    pstore_begin(k->ps);
    for (uint32_t i = 0; i < nfields; i++) {
        unsigned char *dst = r->value + (size_t)fields[i] * k->fieldlength;
        pstore_add(k->ps, dst, k->fieldlength);
        memcpy(dst, src + (size_t)i * k->fieldlength, k->fieldlength);
    }
    return pstore_commit(k->ps);
}

int kv_delete(kv *k, const char *key, size_t klen)
{
    poff *link;
    int rc = lookup(k, key, klen, &link);
    if (rc)
        return rc;
    poff o = *link;
    pstore_begin(k->ps);
    pstore_add(k->ps, link, sizeof *link);
    *link = rec_at(k, o)->next;
    pstore_free(k->ps, o);
    pstore_add(k->ps, &k->root->count, sizeof k->root->count);
    k->root->count--;
    return pstore_commit(k->ps);
}

int64_t kv_scan(kv *k, const char *key, size_t klen, uint32_t n, kv_scan_fn fn, void *arg)
{
    if (check_key(klen))
        return 0;
    uint64_t h = kv_hash(key, klen);
    uint64_t b = h & k->mask;
    poff *link = find_link(k, h, key, klen);
    poff o = link ? *link : k->buckets[b];
    int64_t seen = 0;
    for (uint64_t visited = 0; seen < n;) {
        for (; o && seen < n; seen++) {
            const struct kv_rec *r = rec_at(k, o);
            fn(r->key, r->klen, r->value, arg);
            o = r->next;
        }
        if (++visited > k->mask) /* every bucket seen (key's own bucket from key's record on) */
            break;
        b = (b + 1) & k->mask;
        o = k->buckets[b];
    }
    return seen;
}
