/* palloc.c — the persistent allocator of the SNAPSHOT, WAL and MSYNC stores (see palloc.h): it
 * provides their pstore_root(), pstore_alloc() and pstore_free(). */
#include "palloc.h"

#include <string.h>

#define PALLOC_MAGIC 0x31454f5453505350ull /* "PSPSTOE1" */
#define PALLOC_VERSION 1u

static struct palloc_header *header(pstore *ps)
{
    return (struct palloc_header *)((struct pstore_hot *)ps)->base;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

int palloc_open(pstore *ps, uint64_t size, size_t root_size)
{
    struct palloc_header *h = header(ps);
    if (h->magic == PALLOC_MAGIC) {
        if (h->version != PALLOC_VERSION || h->root_off != align_up(sizeof *h, 64))
            return PSTORE_E_FORMAT;
        if (h->size != size || h->root_size != root_size)
            return PSTORE_E_SIZE;
        return 0;
    }
    if (h->magic != 0)
        return PSTORE_E_FORMAT;
    uint64_t root_off = align_up(sizeof *h, 64);
    uint64_t heap_start = align_up(root_off + root_size, 64);
    if (heap_start + PALLOC_SMALL_MAX > size)
        return PSTORE_E_SIZE;
    pstore_begin(ps);
    pstore_add(ps, h, sizeof *h);
    h->version = PALLOC_VERSION;
    h->size = size;
    h->root_off = root_off;
    h->root_size = root_size;
    h->heap.bump = heap_start;
    h->heap.end = size;
    h->magic = PALLOC_MAGIC; /* last: a store without it is formatted again */
    return pstore_commit(ps);
}

void *pstore_root(pstore *ps)
{
    return (char *)header(ps) + header(ps)->root_off;
}

poff pstore_alloc(pstore *ps, size_t n)
{
    struct palloc_heap *heap = &header(ps)->heap;
    char *base = (char *)header(ps);
    uint64_t total = align_up((uint64_t)n + 8, 16);
    if (n == 0 || total < n)
        return 0;
    poff *list;
    if (total <= PALLOC_SMALL_MAX) {
        list = &heap->free_head[total / 16];
    } else {
        total = align_up(total, PALLOC_SMALL_MAX);
        list = &heap->large_head;
        while (*list && *(uint64_t *)(base + *list - 8) != total)
            list = (poff *)(base + *list);
    }
    poff o = *list;
    if (o) {
        pstore_add(ps, list, sizeof *list);
        *list = *(poff *)(base + o);
        pstore_add(ps, base + o, total - 8);
        memset(base + o, 0, total - 8);
        return o;
    }
    if (total > heap->end - heap->bump)
        return 0;
    uint64_t block = heap->bump;
    pstore_add(ps, &heap->bump, sizeof heap->bump);
    heap->bump = block + total;
    pstore_add(ps, base + block, total); /* the block joins the transaction (pstore.h's rule) */
    *(uint64_t *)(base + block) = total;
    return block + 8;
}

void pstore_free(pstore *ps, poff o)
{
    if (!o)
        return;
    struct palloc_heap *heap = &header(ps)->heap;
    char *base = (char *)header(ps);
    uint64_t total = *(uint64_t *)(base + o - 8);
    poff *list = total <= PALLOC_SMALL_MAX ? &heap->free_head[total / 16] : &heap->large_head;
    pstore_add(ps, base + o, sizeof(poff));
    *(poff *)(base + o) = *list;
    pstore_add(ps, list, sizeof *list);
    *list = o;
}
