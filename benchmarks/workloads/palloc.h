/* palloc.h — the layout and allocator shared by the SNAPSHOT, WAL and MSYNC stores: a header at
 * offset 0 (magic, size, root, heap state), the root object, then the heap. Every change the
 * allocator makes is announced with pstore_add(), so it commits or rolls back with the transaction.
 *
 * Heap: blocks carry an 8-byte header holding their total size (a multiple of 16). Blocks up to
 * 4096 bytes come from one free list per 16-byte size class; larger ones (multiples of 4096) from
 * one list searched for an exact fit. A block nobody freed comes from the bump pointer; the memory
 * above it was never used, so it is still zero (a crash rolls back any use that did not commit). */
#ifndef PALLOC_H
#define PALLOC_H

#include "pstore.h"

#define PALLOC_SMALL_MAX 4096u
#define PALLOC_CLASSES (PALLOC_SMALL_MAX / 16u)

struct palloc_heap {
    uint64_t bump, end;                   /* next unused byte; end of the heap */
    poff free_head[PALLOC_CLASSES + 1];   /* class c holds blocks of c*16 bytes */
    poff large_head;                      /* freed blocks above PALLOC_SMALL_MAX */
};

struct palloc_header {
    uint64_t magic, version, size;
    uint64_t root_off, root_size;
    struct palloc_heap heap;
};

/* Format a new (all-zero) store in one transaction, or check an existing one's header. Called by
 * pstore_open() once the store is mapped; palloc.c also defines pstore_root(), pstore_alloc() and
 * pstore_free() for the kinds that use it. */
int palloc_open(pstore *ps, uint64_t size, size_t root_size);

#endif /* PALLOC_H */
