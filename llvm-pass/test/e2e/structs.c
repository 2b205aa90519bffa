/* structs.c — end-to-end: every way C code writes memory, aimed at random places of a region and,
 * by the same code, of a heap mirror: scalar stores of every width, __int128, vectors, long double,
 * struct copies (8 to 4096 bytes) and struct results, memcpy/memset/memmove with constant and dynamic sizes, strcpy
 * and snprintf, atomics, bit-fields, stores straddling a line boundary, and pointers that reach the
 * writer through several functions and through function pointers. The region must equal the
 * mirror after every msync and after reopening. */
#include <stdatomic.h>

#include "e2e.h"

#define AREA (1u << 20) /* bytes used in the region (and the mirror) */
#define NOINLINE __attribute__((noinline))

typedef long long v4i64 __attribute__((vector_size(32)));
struct s24 { long a, b, c; };
struct s100 { char bytes[100]; };
struct s4k { uint64_t words[512]; };
struct bits { unsigned a : 3, b : 7, c : 13, d : 9; };
struct __attribute__((packed)) unaligned { char pad[3]; uint64_t v; uint32_t w; };

typedef void (*writer)(char *dst, uint64_t r);

static void w_u8(char *d, uint64_t r) { *(uint8_t *)d = (uint8_t)r; }
static void w_u16(char *d, uint64_t r) { *(uint16_t *)(d + 2) = (uint16_t)r; }
static void w_u32(char *d, uint64_t r) { *(uint32_t *)(d + 4) = (uint32_t)r; }
static void w_u64(char *d, uint64_t r) { *(uint64_t *)(d + 8) = r; }
static void w_i128(char *d, uint64_t r) { *(unsigned __int128 *)(d + 16) = ((unsigned __int128)r << 64) | ~r; }
static void w_vec(char *d, uint64_t r) { *(v4i64 *)(d + 32) = (v4i64){(long long)r, 1, 2, (long long)~r}; }
static void w_ldouble(char *d, uint64_t r) { *(long double *)(d + 16) = (long double)r / 3; }
static void w_double(char *d, uint64_t r) { *(double *)(d + 8) = (double)r; }
static void w_s24(char *d, uint64_t r) { *(struct s24 *)(d + 8) = (struct s24){(long)r, (long)(r * 3), (long)(r * 5)}; }
static void w_s100(char *d, uint64_t r)
{
    struct s100 s;
    for (int i = 0; i < 100; i++)
        s.bytes[i] = (char)(r >> (i % 56));
    *(struct s100 *)(d + 1) = s;
}
static NOINLINE struct s100 make_s100(uint64_t r) /* returned through a hidden (sret) pointer */
{
    struct s100 s;
    for (int i = 0; i < 100; i++)
        s.bytes[i] = (char)(r * (uint64_t)(i + 1));
    return s;
}
static void w_sret(char *d, uint64_t r) { *(struct s100 *)(d + 30) = make_s100(r); }
static void w_s4k(char *d, uint64_t r)
{
    static struct s4k tmpl;
    tmpl.words[r % 512] = r;
    *(struct s4k *)(d + 64) = tmpl;
}
static void w_memcpy_dyn(char *d, uint64_t r)
{
    static char src[512];
    for (int i = 0; i < 512; i++)
        src[i] = (char)(i * 7 + r);
    memcpy(d + (r & 31), src, (r >> 8) % 400);
}
static void w_memset_dyn(char *d, uint64_t r) { memset(d + (r & 63), (int)(r >> 40), (r >> 16) % 700); }
static void w_memmove(char *d, uint64_t r) { memmove(d + 5, d + 200, (r >> 3) % 300); }
static void w_strcpy(char *d, uint64_t r)
{
    char src[40];
    int n = (int)((r >> 4) % 38);
    for (int i = 0; i < n; i++)
        src[i] = (char)('A' + (r + i) % 26);
    src[n] = 0;
    strcpy(d + 3, src);
}
static void w_snprintf(char *d, uint64_t r) { snprintf(d + 70, 90, "r=%llu half=%llu", (unsigned long long)r, (unsigned long long)r / 2); }
static void w_atomic(char *d, uint64_t r)
{
    _Atomic uint64_t *a = (_Atomic uint64_t *)(d + 24);
    atomic_fetch_add(a, r);
    uint64_t expect = atomic_load(a);
    atomic_compare_exchange_strong((_Atomic uint64_t *)(d + 24), &expect, expect ^ r);
    atomic_exchange((_Atomic uint32_t *)(d + 40), (uint32_t)r);
}
static void w_bits(char *d, uint64_t r)
{
    struct bits *b = (struct bits *)(d + 12);
    b->b = (unsigned)r;
    b->d += 5;
}
static void w_straddle(char *d, uint64_t r)
{
    /* d is 64-byte aligned: v lands on bytes 61..68 of the line pair, w on 69..72. */
    struct unaligned *u = (struct unaligned *)(d + 58);
    u->v = r;
    u->w = (uint32_t)~r;
}
static NOINLINE void chain3(uint64_t *p, uint64_t r) { p[2] = r; p[5] ^= r; }
static NOINLINE void chain2(uint64_t *p, uint64_t r) { chain3(p + 1, r + 1); p[0] = r; }
static NOINLINE void chain1(char *d, uint64_t r) { chain2((uint64_t *)(d + 16), r * 3); }
static void w_chain(char *d, uint64_t r) { chain1(d, r); }
static NOINLINE void visit(char *d, uint64_t r, void (*cb)(uint64_t *, uint64_t))
{
    for (int i = 0; i < 4; i++)
        cb((uint64_t *)(d + 64 * i), r + (uint64_t)i);
}
static void bump(uint64_t *p, uint64_t r) { *p += r; }
static void w_callback(char *d, uint64_t r) { visit(d, r, bump); }
static void w_loop(char *d, uint64_t r)
{
    uint32_t *a = (uint32_t *)(d + 128);
    for (int i = 0; i < 256; i++)
        a[i] = a[i] * 3 + (uint32_t)r;
}

static writer const writers[] = {
    w_u8,  w_u16,         w_u32,         w_u64,     w_i128,    w_vec,      w_ldouble,
    w_double, w_s24,      w_s100,        w_s4k,     w_memcpy_dyn, w_memset_dyn, w_memmove,
    w_strcpy, w_snprintf, w_atomic,      w_bits,    w_straddle, w_chain,   w_callback,
    w_loop,   w_sret,
};
#define NWRITERS (sizeof writers / sizeof writers[0])
#define SPAN 8192 /* the largest writer touches less than this past its destination */

/* Through a table of function pointers: the compiler cannot see which writer runs. */
static NOINLINE void apply(char *area, uint64_t r, writer const *table)
{
    uint64_t off = ((r >> 24) % ((AREA - SPAN) / 64)) * 64;
    table[r % NWRITERS](area + off, r);
}

int main(int argc, char **argv)
{
    struct e2e t;
    char *region = e2e_start(&t, "structs", argc, argv, AREA + 4096);
    char *mirror = calloc(1, AREA);
    uint64_t seed = 99;
    int ok = 1;
    for (int round = 0; round < 40; round++) {
        for (int i = 0; i < 1500; i++) {
            uint64_t r = e2e_rand(&seed);
            apply(region, r, writers);
            apply(mirror, r, writers);
        }
        e2e_msync(&t);
        ok &= memcmp(region, mirror, AREA) == 0;
    }
    region = e2e_reopen(&t);
    ok &= memcmp(region, mirror, AREA) == 0;
    free(mirror);
    return e2e_finish(&t, ok);
}
