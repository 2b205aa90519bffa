// -snapshot-count-dynamic at run time: a program built with the knob and linked with
// runtime/snapshot_count.c (compiled without the plugin) prints at exit how many writes of each
// kind ran, and how many hooks ran, found their write in the arena, called the slow path.
// A fake arena stands in for libsnapshot: one slot over a static buffer, its bitmap, and a
// snap_track_slow() that sets the bits (excluded from the pass, like the setup).
// RUN: clang -O2 -c %S/../runtime/snapshot_count.c -o %t.count.o
// RUN: clang -O2 -fplugin=%plugin -fpass-plugin=%plugin -mllvm -snapshot-count-dynamic -I%S/../../native/include %s %t.count.o -o %t
// RUN: %t 2>&1 | FileCheck %s
// RUN: env SNAPSHOT_COUNT_FILE=%t.counts %t && FileCheck %s < %t.counts
//
// 1000 stores into the arena (8000 bytes: 125 lines, so 125 slow paths), 500 to the heap, 100
// memcpys of 64 bytes into 100 other lines of the arena (100 slow paths), 300 increments of a
// global, 200 calls writing a local array (a memset and a store each).
// CHECK: snapshot-count: stores 1500, atomics 0, masked 0, memintrinsics 100, libcalls 0, skipped-stack 400, skipped-global 300, skipped-tls 0, skipped-addrspace 0, unhandled 0, hooks 1600, in-arena 1100, slow 225
// CHECK-NEXT: snapshot-count: writes seen 2300: instrumented 1600 (69.57%), skipped 700 (30.43%: stack 400, global 300, tls 0, addrspace 0), unhandled 0; hooks run 1600: in the arena 1100 (68.75%), slow path 225 (14.06%)
#include <snapshot_hook.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NOINLINE __attribute__((noinline))
#define NOT_INSTRUMENTED __attribute__((disable_sanitizer_instrumentation, noinline))

// ---- The fake arena ----
static _Alignas(4096) char arena[1 << 16];
static uint64_t bitmap[sizeof arena / 64 / 64];
static struct snap_arena_slot slot;
uintptr_t snap_arena_lo, snap_arena_len;
struct snap_arena_slot *snap_arena_slots;

NOT_INSTRUMENTED void snap_track_slow(const void *addr, size_t len)
{
    uintptr_t off = (uintptr_t)addr - slot.base;
    if (off >= slot.size || !len)
        return;
    for (uintptr_t l = off >> 6; l <= (off + len - 1) >> 6 && l < sizeof arena / 64; l++)
        bitmap[l >> 6] |= 1ull << (l & 63);
}

NOT_INSTRUMENTED static char *open_fake(void)
{
    slot.base = (uintptr_t)arena;
    slot.size = sizeof arena;
    slot.dirty = bitmap;
    snap_arena_slots = &slot;
    snap_arena_lo = (uintptr_t)arena;
    snap_arena_len = sizeof arena;
    return arena;
}

// ---- The workload ----
static const char src[64] = "sixty-four bytes of source";
long g_counter;

NOINLINE void store_at(uint64_t *p, long i) { p[i] = (uint64_t)i; }
NOINLINE void copy_at(char *dst, const char *from, size_t n) { memcpy(dst, from, n); }
NOINLINE void bump_global(void) { g_counter++; }
NOINLINE int stack_work(unsigned i, unsigned j)
{
    char buf[64];
    memset(buf, 0, sizeof buf);
    buf[i & 63] = 1;
    return buf[j & 63];
}

int main(void)
{
    char *r = open_fake();
    uint64_t *h = malloc(500 * sizeof *h);
    for (long i = 0; i < 1000; i++)
        store_at((uint64_t *)r, i);
    for (long i = 0; i < 500; i++)
        store_at(h, i);
    for (long i = 0; i < 100; i++)
        copy_at(r + 8192 + 64 * i, src, sizeof src);
    for (long i = 0; i < 300; i++)
        bump_global();
    long sum = 0;
    for (unsigned i = 0; i < 200; i++)
        sum += stack_work(i, i * 7);
    for (long i = 0; i < 500; i++) // (else the heap stores are dead)
        sum += (long)h[i];
    free(h);
    return sum < 0;
}
