/* kv_hash.h — the fixed 64-bit key hash of the KV store's layout (buckets, hence scan order, depend
 * on it), shared with the replayer, which also indexes its key set with it. */
#ifndef SNAPSHOT_YCSB_KV_HASH_H
#define SNAPSHOT_YCSB_KV_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a, then splitmix64's finaliser: FNV's low bits (the bucket index) mix poorly for keys that
 * differ only in their last digits, as YCSB's do. */
static inline uint64_t kv_hash(const char *key, size_t klen)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < klen; i++)
        h = (h ^ (unsigned char)key[i]) * 0x100000001b3ull;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h;
}

#endif
