/* btree_bench.c — the plugin's benchmark: a store-heavy workload, random inserts into a B-tree
 * (keys shifted with memmove, nodes split with memcpy, counters bumped), with no msync, so the
 * figure is the cost of the instrumentation alone. Built with and without the plugin by
 * run-bench.sh, which reports the slowdown.
 *   btree_bench [--heap] [INSERTS]   --heap: the same tree in malloc'd memory (stores outside the
 *                                    arena: the instrumented range check only)
 * Prints: "<where> <inserts> inserts <ms> ms <ns/insert> ns/insert checksum <x>". */
#define _GNU_SOURCE
#include <snapshot.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define ORDER 16

struct node {
    uint32_t n, leaf;
    uint64_t keys[ORDER - 1];
    uint64_t vals[ORDER - 1];
    uint64_t child[ORDER]; /* offsets from base */
};

struct tree {
    uint64_t root, brk, count, updates;
};

static char *base;

static inline struct node *at(uint64_t off) { return (struct node *)(base + off); }

static uint64_t alloc_node(struct tree *t, int leaf)
{
    uint64_t off = t->brk;
    t->brk += sizeof(struct node);
    struct node *n = at(off);
    n->n = 0;
    n->leaf = (uint32_t)leaf;
    return off;
}

static void split_child(struct tree *t, struct node *p, uint32_t i)
{
    struct node *c = at(p->child[i]);
    uint64_t zoff = alloc_node(t, (int)c->leaf);
    struct node *z = at(zoff);
    const uint32_t mid = (ORDER - 1) / 2;
    z->n = ORDER - 2 - mid;
    memcpy(z->keys, c->keys + mid + 1, z->n * sizeof(uint64_t));
    memcpy(z->vals, c->vals + mid + 1, z->n * sizeof(uint64_t));
    if (!c->leaf)
        memcpy(z->child, c->child + mid + 1, (z->n + 1) * sizeof(uint64_t));
    memmove(p->child + i + 2, p->child + i + 1, (p->n - i) * sizeof(uint64_t));
    memmove(p->keys + i + 1, p->keys + i, (p->n - i) * sizeof(uint64_t));
    memmove(p->vals + i + 1, p->vals + i, (p->n - i) * sizeof(uint64_t));
    p->child[i + 1] = zoff;
    p->keys[i] = c->keys[mid];
    p->vals[i] = c->vals[mid];
    p->n++;
    c->n = mid;
}

static void insert(struct tree *t, uint64_t key, uint64_t val)
{
    struct node *x = at(t->root);
    if (x->n == ORDER - 1) {
        uint64_t soff = alloc_node(t, 0);
        struct node *s = at(soff);
        s->child[0] = t->root;
        t->root = soff;
        split_child(t, s, 0);
        x = s;
    }
    for (;;) {
        uint32_t lo = 0, hi = x->n;
        while (lo < hi) {
            uint32_t m = (lo + hi) / 2;
            if (x->keys[m] < key)
                lo = m + 1;
            else
                hi = m;
        }
        uint32_t i = lo;
        if (i < x->n && x->keys[i] == key) {
            x->vals[i] = val;
            t->updates++;
            return;
        }
        if (x->leaf) {
            /* Shift by hand, element by element, as much code does: many small stores. */
            for (uint32_t j = x->n; j > i; j--) {
                x->keys[j] = x->keys[j - 1];
                x->vals[j] = x->vals[j - 1];
            }
            x->keys[i] = key;
            x->vals[i] = val;
            x->n++;
            t->count++;
            return;
        }
        if (at(x->child[i])->n == ORDER - 1) {
            split_child(t, x, i);
            if (key > x->keys[i])
                i++;
            else if (key == x->keys[i]) {
                x->vals[i] = val;
                return;
            }
        }
        x = at(x->child[i]);
    }
}

/* Fault the memory in before timing without marking anything: the plugin skips this function. */
__attribute__((disable_sanitizer_instrumentation, noinline)) static void prefault(char *p, size_t n)
{
    for (size_t i = 0; i < n; i += 4096)
        ((volatile char *)p)[i] = 0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    int heap = 0;
    long inserts = 2000000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--heap") == 0)
            heap = 1;
        else
            inserts = atol(argv[i]);
    }
    size_t size = (size_t)inserts * 80 + (64u << 20);
    snap_region *r = NULL;
    char path[256];
    snprintf(path, sizeof path, "%s/snap-bench-btree-%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
             (int)getpid());
    if (heap) {
        base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (base == MAP_FAILED)
            return perror("mmap"), 2;
        /* A region must exist, so that the arena check is a real one (snap_arena_len != 0). */
        snap_options o = {.flags = SNAP_CREATE | SNAP_EXCL, .size = 1 << 20};
        int rc = snap_open(path, &o, &r);
        if (rc)
            return fprintf(stderr, "snap_open: %s\n", snap_strerror(rc)), 2;
    } else {
        snap_options o = {.flags = SNAP_CREATE | SNAP_EXCL, .size = size};
        int rc = snap_open(path, &o, &r);
        if (rc)
            return fprintf(stderr, "snap_open: %s\n", snap_strerror(rc)), 2;
        base = snap_base(r);
    }
    prefault(base, size);
    struct tree *t = (struct tree *)base;
    t->brk = 64;
    t->root = alloc_node(t, 1);
    uint64_t s = 0x9e3779b97f4a7c15ull;
    double t0 = now_ms();
    for (long i = 0; i < inserts; i++) {
        s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
        uint64_t k = s * 2685821657736338717ull;
        insert(t, k % ((uint64_t)inserts * 4), k);
    }
    double ms = now_ms() - t0;
    printf("%s %ld inserts %.1f ms %.1f ns/insert checksum %llu\n", heap ? "heap" : "region", inserts,
           ms, ms * 1e6 / inserts, (unsigned long long)(t->count * 31 + t->brk));
    snap_close(r);
    char log[300];
    snprintf(log, sizeof log, "%s.snaplog", path);
    unlink(path);
    unlink(log);
    return 0;
}
