/* arena.c — one reserved, 1 GiB-aligned virtual range cut into slots, so address -> region is a shift. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "arena.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define SLOT ((uint64_t)1 << SNAP_SLOT_SHIFT)
#define DEFAULT_ARENA ((uint64_t)1 << 40) /* 1 TiB of address space: 1024 slots */

uintptr_t snap_arena_lo, snap_arena_len;
struct snap_arena_slot *snap_arena_slots;

static pthread_mutex_t arena_mu = PTHREAD_MUTEX_INITIALIZER; /* allocation and initialisation */
static struct snap_region **owners; /* per slot; NULL: free. Parallel to snap_arena_slots */
static size_t nslots;

/* SNAPSHOT_ARENA_SIZE: bytes, or a number with K/M/G/T/P (powers of 1024, optional "B"/"iB").
 * Returns 0 and the size, or SNAP_E_INVAL: a wrong value is reported rather than ignored. */
static int parse_size(const char *s, uint64_t *out)
{
    const char *p = s;
    uint64_t v = 0;
    if (!isdigit((unsigned char)*p))
        return SNAP_E_INVAL;
    for (; isdigit((unsigned char)*p); p++) {
        if (v > (UINT64_MAX - 9) / 10)
            return SNAP_E_INVAL;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    unsigned shift = 0;
    switch (toupper((unsigned char)*p)) {
    case 'K': shift = 10; break;
    case 'M': shift = 20; break;
    case 'G': shift = 30; break;
    case 'T': shift = 40; break;
    case 'P': shift = 50; break;
    }
    if (shift) {
        p++;
        if (*p == 'i' && p[1] == 'B')
            p += 2;
        else if (toupper((unsigned char)*p) == 'B')
            p++;
    }
    if (*p || v > (UINT64_MAX >> shift))
        return SNAP_E_INVAL;
    *out = v << shift;
    return 0;
}

/* Reserve the arena. Called under arena_mu; a failure is not remembered, so a later open retries. */
static int arena_init(void)
{
    uint64_t size = DEFAULT_ARENA;
    const char *env = getenv("SNAPSHOT_ARENA_SIZE");
    int explicit = env && *env;
    if (explicit && parse_size(env, &size) != 0)
        return SNAP_E_INVAL;
    if (size < SLOT || size % SLOT || size > ((uint64_t)1 << 56))
        return SNAP_E_INVAL;

    /* Over-reserve by one slot and trim, so the arena starts on a 1 GiB boundary and a slot index
     * is just (addr - lo) >> 30. PROT_NONE + NORESERVE: address space only. The default size is
     * halved while it does not fit (ulimit -v, sanitizer runtimes that keep most of the address
     * space); a size the user asked for is not. */
    size_t len;
    char *raw;
    for (;;) {
        len = (size_t)size + SLOT;
        raw = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (raw != MAP_FAILED)
            break;
        if (errno != ENOMEM || explicit || size == SLOT)
            return -errno;
        size /= 2;
    }
    size_t n = (size_t)(size >> SNAP_SLOT_SHIFT);
    struct snap_arena_slot *slots = calloc(n, sizeof *slots);
    struct snap_region **own = calloc(n, sizeof *own);
    if (!slots || !own) {
        free(slots);
        free(own);
        munmap(raw, len);
        return -ENOMEM;
    }
    uintptr_t lo = ((uintptr_t)raw + SLOT - 1) & ~(uintptr_t)(SLOT - 1);
    size_t head = lo - (uintptr_t)raw, tail = len - head - (size_t)size;
    if (head)
        munmap(raw, head);
    if (tail)
        munmap((char *)lo + size, tail);

    owners = own;
    nslots = n;
    snap_arena_slots = slots;
    snap_arena_lo = lo;
    /* Last, with release: whoever sees a non-zero length also sees the table and lo. */
    __atomic_store_n(&snap_arena_len, (uintptr_t)size, __ATOMIC_RELEASE);
    return 0;
}

uint64_t snap_arena_round(uint64_t reserve)
{
    if (reserve == 0)
        return SLOT;
    if (reserve > UINT64_MAX - (SLOT - 1))
        return UINT64_MAX & ~(SLOT - 1); /* saturate: no arena is that large, alloc says NOSPACE */
    return (reserve + SLOT - 1) & ~(SLOT - 1);
}

int snap_arena_alloc(struct snap_region *r, uint64_t reserve, uintptr_t *base)
{
    if (!r || !base || reserve == 0)
        return SNAP_E_INVAL;
    pthread_mutex_lock(&arena_mu);
    int rc = 0;
    if (!__atomic_load_n(&snap_arena_len, __ATOMIC_RELAXED))
        rc = arena_init();
    if (rc) {
        pthread_mutex_unlock(&arena_mu);
        return rc;
    }
    uint64_t want = snap_arena_round(reserve) >> SNAP_SLOT_SHIFT;
    size_t first = 0, run = 0;
    if (want <= nslots) {
        /* First fit: regions are few, and big ones want the low, contiguous end kept together. */
        for (size_t i = 0; i < nslots && run < want; i++) {
            if (owners[i]) {
                run = 0;
                continue;
            }
            if (run++ == 0)
                first = i;
        }
    }
    if (run < want) {
        pthread_mutex_unlock(&arena_mu);
        return SNAP_E_NOSPACE;
    }
    uintptr_t b = snap_arena_lo + ((uintptr_t)first << SNAP_SLOT_SHIFT);
    for (size_t i = first; i < first + want; i++) {
        struct snap_arena_slot *s = &snap_arena_slots[i];
        /* dirty stays NULL, so the hook ignores the slot until snap_arena_publish(). */
        __atomic_store_n(&s->dirty, (uint64_t *)NULL, __ATOMIC_RELEASE);
        __atomic_store_n(&s->size, 0, __ATOMIC_RELEASE);
        __atomic_store_n(&s->base, b, __ATOMIC_RELEASE);
        __atomic_store_n(&owners[i], r, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&arena_mu);
    *base = b;
    return 0;
}

/* Slot range of [base, base+reserve), or 0 slots if it is not a range of this arena. */
static size_t slot_range(uintptr_t base, uint64_t reserve, size_t *first)
{
    uintptr_t len = __atomic_load_n(&snap_arena_len, __ATOMIC_ACQUIRE);
    uintptr_t rel = base - snap_arena_lo;
    if (!len || rel >= len || rel % SLOT || reserve == 0 || reserve > len - rel)
        return 0;
    *first = (size_t)(rel >> SNAP_SLOT_SHIFT);
    return (size_t)(snap_arena_round(reserve) >> SNAP_SLOT_SHIFT);
}

void snap_arena_publish(uintptr_t base, uint64_t reserve, uint64_t size, uint64_t *dirty)
{
    size_t first, n = slot_range(base, reserve, &first);
    for (size_t i = first; i < first + n; i++) {
        struct snap_arena_slot *s = &snap_arena_slots[i];
        __atomic_store_n(&s->base, base, __ATOMIC_RELEASE);
        __atomic_store_n(&s->size, size, __ATOMIC_RELEASE);
        /* dirty last: a hook that sees it non-NULL sees base and size too. */
        __atomic_store_n(&s->dirty, dirty, __ATOMIC_RELEASE);
    }
}

void snap_arena_set_size(uintptr_t base, uint64_t reserve, uint64_t size)
{
    size_t first, n = slot_range(base, reserve, &first);
    for (size_t i = first; i < first + n; i++)
        __atomic_store_n(&snap_arena_slots[i].size, size, __ATOMIC_RELEASE);
}

void snap_arena_free(uintptr_t base, uint64_t reserve)
{
    size_t first, n = slot_range(base, reserve, &first);
    if (!n)
        return;
    for (size_t i = first; i < first + n; i++) {
        struct snap_arena_slot *s = &snap_arena_slots[i];
        /* dirty first: the hook stops using the bitmap before anything else changes. */
        __atomic_store_n(&s->dirty, (uint64_t *)NULL, __ATOMIC_RELEASE);
        __atomic_store_n(&s->size, 0, __ATOMIC_RELEASE);
        __atomic_store_n(&s->base, 0, __ATOMIC_RELEASE);
    }
    /* Replace the region's mappings with fresh reserved space: its pages are dropped and a stale
     * pointer faults instead of reading another region's data later. */
    size_t len = n << SNAP_SLOT_SHIFT;
    void *p = mmap((void *)base, len, PROT_NONE, MAP_FIXED | MAP_NORESERVE | MAP_PRIVATE | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED) {
        /* Out of mappings (vm.max_map_count)? Dropping the pages in place also works for the
         * anonymous copy; if even that fails, keep the slots: leaking address space beats
         * handing a later region memory that still holds this one's bytes. */
        if (mprotect((void *)base, len, PROT_NONE) != 0 || madvise((void *)base, len, MADV_DONTNEED) != 0)
            return;
    }
    pthread_mutex_lock(&arena_mu);
    for (size_t i = first; i < first + n; i++)
        __atomic_store_n(&owners[i], (struct snap_region *)NULL, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&arena_mu);
}

void snap_arena_fork_lock(void)
{
    pthread_mutex_lock(&arena_mu);
}

void snap_arena_fork_unlock(void)
{
    pthread_mutex_unlock(&arena_mu);
}

struct snap_region *snap_arena_lookup(uintptr_t addr)
{
    uintptr_t len = __atomic_load_n(&snap_arena_len, __ATOMIC_ACQUIRE);
    uintptr_t rel = addr - snap_arena_lo;
    if (rel >= len)
        return NULL;
    return __atomic_load_n(&owners[rel >> SNAP_SLOT_SHIFT], __ATOMIC_ACQUIRE);
}
