/* kv.h — a persistent hash-table key-value store in plain C, written once against the persistence
 * layer benchmarks/workloads/pstore.h and compiled once per back end (Snapshot, PMDK, WAL, msync),
 * so every system runs the same algorithm. Its records are YCSB's: a key of up to KV_MAX_KEY bytes
 * ("user6284781860667377211") and a value of fieldcount fields of fieldlength bytes each.
 *
 * Layout (all in the store, reached from the root object; see kv.c for the reasons):
 *   root:    magic, fieldcount, fieldlength, nbuckets (a power of two), count, buckets (poff)
 *   buckets: nbuckets persistent pointers, each the head of a chain of records
 *   record:  next (poff), 64-bit key hash, key length, key bytes, then the value's fields
 * The bucket count is fixed when the store is created (from the capacity the caller expects);
 * chains absorb any growth past it.
 *
 * Order and scan. A hash table has no key order. Its own order is: buckets by index, and within a
 * bucket the chain from its head. kv_scan(key, n) visits the next n records in that order starting at
 * key's position — key's record if present, else the head of key's bucket — wrapping past the last
 * bucket back to bucket 0, and stops after n records or when every bucket has been visited (the
 * part of key's own chain before key is not revisited). The hash function is fixed (kv_hash.h), so
 * the order is the same for every back end.
 *
 * Durability. Every modifying call (kv_open's initialisation of a new store, kv_insert, kv_update,
 * kv_delete) is one transaction, pstore_begin .. pstore_commit, durable when it returns KV_OK. Reads
 * are not transactions. One thread at a time: the caller serialises all calls on one kv.
 */
#ifndef SNAPSHOT_YCSB_KV_H
#define SNAPSHOT_YCSB_KV_H

#include <stddef.h>
#include <stdint.h>

#include "kv_hash.h"
#include "pstore.h"

#define KV_MAX_KEY 32

/* Results. KV_OK and the two "expected" outcomes are >= 0; errors are negative: the KV_E_* block, or
 * a pstore error passed through (pstore_error() names it; kv_strerror() names both). */
enum kv_status {
    KV_OK = 0,
    KV_NOT_FOUND = 1, /* no record with that key */
    KV_EXISTS = 2,    /* kv_insert: a record with that key is already there (nothing changed) */
    KV_E_FIRST = -31000,
    KV_E_KEY = KV_E_FIRST, /* key empty or longer than KV_MAX_KEY */
    KV_E_FULL,             /* the store has no room for another record (pstore_alloc failed) */
    KV_E_LAYOUT,           /* the store holds something else, or a kv of another record shape */
    KV_E_NOMEM,            /* DRAM allocation of the handle failed */
    KV_E_FIELD,            /* a field index >= fieldcount */
    KV_E_LAST = KV_E_FIELD
};

const char *kv_strerror(int err);

typedef struct kv kv;

/* Size of the root object the kv needs: pass it to pstore_open() as root_size. */
size_t kv_root_size(void);

/* Attach to the store's root. A zero root is initialised (one transaction) as a kv for records of
 * fieldcount x fieldlength bytes with a bucket array for about `capacity` records; an existing kv must
 * have the same record shape (else KV_E_LAYOUT; capacity is then ignored). */
int kv_open(kv **out, pstore *ps, uint64_t capacity, uint32_t fieldcount, uint32_t fieldlength);
void kv_close(kv *k); /* frees the handle; the store stays open */

uint32_t kv_fieldcount(const kv *k);
uint32_t kv_fieldlength(const kv *k);
size_t kv_value_size(const kv *k); /* fieldcount * fieldlength */
uint64_t kv_count(const kv *k);    /* records in the store */
uint64_t kv_buckets(const kv *k);

/* Insert a record whose whole value (kv_value_size() bytes) is `value`. */
int kv_insert(kv *k, const char *key, size_t klen, const void *value);

/* Copy the record's whole value into out (kv_value_size() bytes). */
int kv_read(kv *k, const char *key, size_t klen, void *out);

/* Overwrite nfields fields: field fields[i] gets the fieldlength bytes at data + i * fieldlength. */
int kv_update(kv *k, const char *key, size_t klen, const uint32_t *fields, uint32_t nfields,
              const void *data);

int kv_delete(kv *k, const char *key, size_t klen);

/* Visit up to n records in the table's order from key's position (see the top of this file); fn gets
 * each record's key and a pointer to its value in the store (valid until the next modifying call).
 * Returns the number of records visited (>= 0). */
typedef void (*kv_scan_fn)(const char *key, size_t klen, const void *value, void *arg);
int64_t kv_scan(kv *k, const char *key, size_t klen, uint32_t n, kv_scan_fn fn, void *arg);

#endif
