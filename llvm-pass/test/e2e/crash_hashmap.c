/* crash_hashmap.c — SIGKILL crash checks (crash.h) of the hash map of hashmap.h, built with the
 * plugin: a child puts keys (a struct copy per new entry, a dynamic-length memcpy per value), one
 * snap_msync() per put, and is killed at random instants; the region recovered must be a consistent
 * map holding exactly the first K keys with their values, K = acked or acked + 1.
 * Nothing here calls snap_track(): every store is tracked by the plugin or not at all. */
#define NBUCKETS 65536u /* a 4 MiB map */
#include "crash.h"
#include "hashmap.h"

#define CAP 48000u       /* keys per generation: 73% of the buckets */
#define SIZE (5u << 20)  /* region bytes */
#define VALLEN (sizeof ((struct entry *)0)->val)

static uint32_t hm_value(uint64_t key, char *buf)
{
    uint64_t r = crash_val(key);
    uint32_t len = (uint32_t)((r >> 32) % (VALLEN + 1));
    for (uint32_t j = 0; j < len; j++)
        buf[j] = (char)('a' + (r >> (j % 48)) % 26);
    return len;
}

static int hm_format(char *b)
{
    struct map *m = (struct map *)b;
    if (m->magic)
        return 0;
    m->magic = HASHMAP_MAGIC;
    return 1;
}

static uint64_t hm_count(char *b) { return ((struct map *)b)->count; }

static void hm_insert(char *b, uint64_t seed, uint64_t i)
{
    char buf[VALMAX];
    uint64_t key = crash_key(seed, i);
    uint32_t len = hm_value(key, buf);
    put((struct map *)b, key, buf, len);
}

static int64_t hm_check(char *b, uint64_t size, uint64_t seed, char *why, size_t whylen)
{
    struct map *m = (struct map *)b;
    if (!m->magic)
        return crash_all_zero(b, size) ? 0 : crash_why(why, whylen, "no magic, but not all zero");
    if (m->magic != HASHMAP_MAGIC)
        return crash_why(why, whylen, "magic %llx", (unsigned long long)m->magic);
    if (m->count > CAP || m->tombstones != 0 || m->puts != m->count)
        return crash_why(why, whylen, "count %llu, tombstones %llu, puts %llu",
                         (unsigned long long)m->count, (unsigned long long)m->tombstones,
                         (unsigned long long)m->puts);
    uint8_t *seen = calloc(CAP, 1);
    if (!seen)
        crash_fatal("calloc");
    uint64_t used = 0;
    int rc = 0;
    for (uint64_t i = 0; i < NBUCKETS && !rc; i++) {
        struct entry *e = &m->buckets[i];
        if (e->state == EMPTY) {
            if (!crash_all_zero((const char *)e, sizeof *e))
                rc = crash_why(why, whylen, "bucket %llu is empty but not zero", (unsigned long long)i);
            continue;
        }
        if (e->state != USED) {
            rc = crash_why(why, whylen, "bucket %llu: state %u", (unsigned long long)i, e->state);
            break;
        }
        uint64_t n = crash_index(seed, e->key);
        char want[VALMAX];
        uint32_t len = hm_value(e->key, want);
        if (n >= m->count)
            rc = crash_why(why, whylen, "bucket %llu: key %016llx is put number %llu, the map "
                           "counts %llu", (unsigned long long)i, (unsigned long long)e->key,
                           (unsigned long long)n, (unsigned long long)m->count);
        else if (seen[n]++)
            rc = crash_why(why, whylen, "key %016llx (put %llu) twice", (unsigned long long)e->key,
                           (unsigned long long)n);
        else if (e->version != 1 || e->vlen != len || memcmp(e->val, want, len) != 0 ||
                 !crash_all_zero(e->val + len, VALLEN - len))
            rc = crash_why(why, whylen, "bucket %llu: key %016llx (put %llu): wrong version, "
                           "length or value", (unsigned long long)i, (unsigned long long)e->key,
                           (unsigned long long)n);
        else if (find_slot(m, e->key, 0) != e) /* an empty bucket cuts its probe chain */
            rc = crash_why(why, whylen, "bucket %llu: key %016llx (put %llu) is not found by a "
                           "lookup", (unsigned long long)i, (unsigned long long)e->key,
                           (unsigned long long)n);
        used++;
    }
    free(seen);
    if (rc)
        return -1;
    if (used != m->count) /* distinct, all below count: then exactly puts 0..count-1 */
        return crash_why(why, whylen, "%llu entries used, the count says %llu",
                         (unsigned long long)used, (unsigned long long)m->count);
    if (!crash_all_zero(b + sizeof *m, size - sizeof *m))
        return crash_why(why, whylen, "bytes written past the map");
    return (int64_t)m->count;
}

int main(int argc, char **argv)
{
    static const struct crash_workload w = {"crash_hashmap", SIZE, CAP, hm_format, hm_count,
                                            hm_insert, hm_check};
    return crash_main(&w, argc, argv);
}
