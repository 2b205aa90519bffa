/* dirty_map.c — hierarchical dirty-line bitmap: lock-free marking, O(dirty x levels) collection.
 * The marking protocol and its proof are in dirty_map.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "dirty_map.h"
#include "copy.h"
#include "testkit.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int snap_dirty_init(struct snap_dirty_map *m, uint64_t nlines, int huge)
{
    size_t off[SNAP_DIRTY_MAX_LEVELS], total = SNAP_MARK_GATE_BYTES;
    uint64_t words = (nlines >> 6) + ((nlines & 63) != 0);
    unsigned levels = 0;

    memset(m, 0, sizeof *m);
    if (nlines == 0)
        return -EINVAL;
    for (;;) {
        if (levels == SNAP_DIRTY_MAX_LEVELS || words > (SIZE_MAX - total) / 8 - 64)
            return -EINVAL;
        m->words[levels] = words;
        off[levels] = total;
        /* Each level on its own cache lines: markers of one level don't bounce another's. */
        total += ((size_t)words * 8 + 63) & ~(size_t)63;
        levels++;
        if (words == 1)
            break;
        words = (words + 63) >> 6;
    }
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (total > SIZE_MAX - page)
        return -EINVAL;
    total = (total + page - 1) & ~(page - 1);
    /* Stores mark lines at random: on 4 KiB pages each is one more TLB miss. Huge pages, if asked
     * for, where the whole map could be resident without harm: as much as the copy it covers may be
     * (1/512 of it), and never past 32 MiB (regions up to 16 GiB), so a huge sparse region keeps
     * paying only for the words its stores reach. A huge page needs an aligned 2 MiB: map one more
     * and trim. */
    uint64_t limit = snap_memory_budget() / 512;
    if (limit > ((uint64_t)32 << 20))
        limit = (uint64_t)32 << 20;
    huge = huge && total <= limit;
    if (huge)
        total = (total + SNAP_HUGE_PAGE - 1) & ~(size_t)(SNAP_HUGE_PAGE - 1);
    size_t map_len = huge ? total + SNAP_HUGE_PAGE : total;
    /* NORESERVE: a bitmap for a huge reservation costs only the pages that get marked. */
    char *mem = mmap(NULL, map_len, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED)
        return -errno;
    if (huge) {
        uintptr_t mask = (uintptr_t)SNAP_HUGE_PAGE - 1;
        char *aligned = (char *)(((uintptr_t)mem + mask) & ~mask);
        size_t head = (size_t)(aligned - mem), tail = map_len - head - total;
        if (head)
            munmap(mem, head);
        if (tail)
            munmap(aligned + total, tail);
        mem = aligned;
        snap_hugepage_advise(mem, total, UINT64_MAX, 1); /* limit checked above, before rounding */
    }
    m->gate = (struct snap_mark_gate *)mem;
    m->levels = levels;
    for (unsigned l = 0; l < levels; l++)
        m->level[l] = (uint64_t *)((char *)mem + off[l]);
    m->nlines = nlines;
    m->mem = mem;
    m->mem_len = total;
    return 0;
}

void snap_dirty_destroy(struct snap_dirty_map *m)
{
    if (m->mem)
        munmap(m->mem, m->mem_len);
    memset(m, 0, sizeof *m);
}

/* The gate (dirty_map.h). Returns the counter to leave by. */
static unsigned gate_enter(struct snap_mark_gate *g)
{
    for (;;) {
        uint64_t e = __atomic_load_n(&g->epoch, __ATOMIC_SEQ_CST);
        __atomic_fetch_add(&g->active[e & 1], 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&g->epoch, __ATOMIC_SEQ_CST) == e)
            return (unsigned)(e & 1);
        __atomic_fetch_sub(&g->active[e & 1], 1, __ATOMIC_RELEASE); /* a collection began: retry */
    }
}

static void gate_leave(struct snap_mark_gate *g, unsigned idx)
{
    __atomic_fetch_sub(&g->active[idx], 1, __ATOMIC_RELEASE);
}

/* Close the gate behind the markers in flight and wait for them: after this, every bit whose OR
 * came before the call has its ancestors set. They are a few instructions from leaving unless
 * preempted, so spin a little, then yield the CPU to them. */
static void gate_wait(struct snap_mark_gate *g)
{
    uint64_t e = __atomic_fetch_add(&g->epoch, 1, __ATOMIC_SEQ_CST);
    for (unsigned spins = 0; __atomic_load_n(&g->active[e & 1], __ATOMIC_ACQUIRE) != 0; spins++)
        if (spins >= 64)
            sched_yield();
}

/* Set `mask` in word w of `level`; when the word was zero, set its bit in the parent, and so on up.
 * Only the marker that turns a word non-zero climbs, so a repeated mark stops at the first level.
 * Called inside the gate. */
static void set_bits(struct snap_dirty_map *m, unsigned level, uint64_t w, uint64_t mask)
{
    for (;;) {
        uint64_t *p = &m->level[level][w];
        if ((__atomic_load_n(p, __ATOMIC_RELAXED) & mask) == mask)
            return;
        if (__atomic_fetch_or(p, mask, __ATOMIC_SEQ_CST) != 0)
            return; /* whoever found it zero sets the parent */
        if (++level == m->levels)
            return;
        mask = 1ull << (w & 63);
        w >>= 6;
    }
}

void snap_dirty_mark(struct snap_dirty_map *m, uint64_t first, uint64_t count)
{
    if (first >= m->nlines || count == 0)
        return;
    if (count > m->nlines - first)
        count = m->nlines - first;
    uint64_t last = first + count - 1, w0 = first >> 6, w1 = last >> 6;
    unsigned gate = 2; /* not entered: bits already set need no gate */
    for (uint64_t w = w0; w <= w1; w++) {
        uint64_t mask = ~0ull;
        if (w == w0)
            mask &= ~0ull << (first & 63);
        if (w == w1)
            mask &= ~0ull >> (63 - (last & 63));
        if ((__atomic_load_n(&m->level[0][w], __ATOMIC_ACQUIRE) & mask) == mask)
            continue;
        if (gate == 2)
            gate = gate_enter(m->gate);
        set_bits(m, 0, w, mask);
    }
    if (gate != 2)
        gate_leave(m->gate, gate);
}

int snap_dirty_test(const struct snap_dirty_map *m, uint64_t line)
{
    if (line >= m->nlines)
        return 0;
    return (int)((__atomic_load_n(&m->level[0][line >> 6], __ATOMIC_RELAXED) >> (line & 63)) & 1);
}

struct collect {
    struct snap_dirty_map *m;
    struct snap_line_run **runs;
    size_t *cap;
    size_t n;
    int discard; /* clearing: drop what is taken */
    int failed;  /* out of memory: put back what is taken */
};

static void emit(struct collect *c, uint64_t first, uint64_t count)
{
    if (c->discard)
        return;
    if (c->failed) {
        snap_dirty_mark(c->m, first, count);
        return;
    }
    struct snap_line_run *r = *c->runs;
    if (c->n && r[c->n - 1].first + r[c->n - 1].count == first) {
        r[c->n - 1].count += count; /* coalesce across word boundaries */
        return;
    }
    if (c->n == *c->cap) {
        size_t ncap = *c->cap ? *c->cap * 2 : 64;
        void *p = NULL;
        if (ncap > *c->cap && ncap <= SIZE_MAX / sizeof *r)
            p = snap_dirty_realloc(r, ncap * sizeof *r);
        if (!p) {
            /* Nothing is returned on failure: every line taken so far, and every line the rest of
             * the walk takes, is marked again. */
            c->failed = 1;
            for (size_t i = 0; i < c->n; i++)
                snap_dirty_mark(c->m, r[i].first, r[i].count);
            c->n = 0;
            snap_dirty_mark(c->m, first, count);
            return;
        }
        *c->runs = r = p;
        *c->cap = ncap;
    }
    r[c->n].first = first;
    r[c->n].count = count;
    c->n++;
}

/* Take word w of `level` (the parent's bit for it was taken first), then its children in ascending
 * order, so lines come out sorted. A bit set after the swap stays for the next collection. */
static void walk(struct collect *c, unsigned level, uint64_t w)
{
    uint64_t v = __atomic_exchange_n(&c->m->level[level][w], 0, __ATOMIC_SEQ_CST);
    if (level == 0) {
        while (v) {
            unsigned b = (unsigned)__builtin_ctzll(v);
            uint64_t ones = ~(v >> b); /* bit 0 clear: the run starts at b */
            unsigned n = ones ? (unsigned)__builtin_ctzll(ones) : 64 - b;
            emit(c, w * 64 + b, n);
            v = b + n == 64 ? 0 : v & (~0ull << (b + n));
        }
        return;
    }
    while (v) {
        uint64_t child = w * 64 + (unsigned)__builtin_ctzll(v);
        v &= v - 1;
        if (child < c->m->words[level - 1])
            walk(c, level - 1, child);
    }
}

long snap_dirty_collect(struct snap_dirty_map *m, struct snap_line_run **runs, size_t *cap)
{
    struct collect c = {.m = m, .runs = runs, .cap = cap};
    if (!m->levels)
        return 0; /* destroyed or never initialised: nothing to take */
    gate_wait(m->gate);
    walk(&c, m->levels - 1, 0);
    return c.failed ? -ENOMEM : (long)c.n;
}

/* Same walk, dropping the lines: touches only marked words, so clearing a huge map is cheap too. */
void snap_dirty_clear(struct snap_dirty_map *m)
{
    struct collect c = {.m = m, .discard = 1};
    if (m->levels)
        walk(&c, m->levels - 1, 0);
}
