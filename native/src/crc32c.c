/* crc32c.c — CRC-32C: the SSE4.2 crc32 instruction in three interleaved streams, or slicing-by-8. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#define SNAP_CRC_HW 1
#endif

#define POLY 0x82F63B78u /* Castagnoli, reflected */

/* Internally every routine works on the raw register; snap_crc32c() applies the ~ on entry and exit,
 * which is what makes chaining calls equal to one call over the concatenation. */

static uint32_t crc_table[8][256]; /* crc_table[k][b]: b followed by k zero bytes */

static void init_sw_tables(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
        crc_table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++)
        for (int k = 1; k < 8; k++) {
            uint32_t c = crc_table[k - 1][n];
            crc_table[k][n] = (c >> 8) ^ crc_table[0][c & 0xff];
        }
}

static uint64_t load64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint32_t raw_sw(uint32_t crc, const unsigned char *p, size_t len)
{
    while (len && ((uintptr_t)p & 7)) {
        crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
        len--;
    }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* Slicing-by-8: the table lookups of one word are independent, so they overlap. */
    while (len >= 8) {
        uint64_t w = load64(p) ^ crc;
        crc = crc_table[7][w & 0xff] ^ crc_table[6][(w >> 8) & 0xff] ^
              crc_table[5][(w >> 16) & 0xff] ^ crc_table[4][(w >> 24) & 0xff] ^
              crc_table[3][(w >> 32) & 0xff] ^ crc_table[2][(w >> 40) & 0xff] ^
              crc_table[1][(w >> 48) & 0xff] ^ crc_table[0][w >> 56];
        p += 8;
        len -= 8;
    }
#endif
    while (len--)
        crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

#ifdef SNAP_CRC_HW
/* The hardware loop runs three independent streams over consecutive blocks, because crc32 has a
 * latency of three cycles but a throughput of one; the three partial CRCs are then joined with
 * "append n zero bytes" operators, which are linear in the register and so are four table lookups. */
#define LONG_BLOCK 8192
#define SHORT_BLOCK 256

static uint32_t shift_long[4][256], shift_short[4][256];

/* Raw register after feeding `len` zero bytes; only used to build the operators. */
static uint32_t zeros_sw(uint32_t crc, size_t len)
{
    while (len--)
        crc = crc_table[0][crc & 0xff] ^ (crc >> 8);
    return crc;
}

static void init_shift_table(uint32_t t[4][256], size_t len)
{
    uint32_t col[32]; /* image of each register bit */
    for (int i = 0; i < 32; i++)
        col[i] = zeros_sw(1u << i, len);
    for (int k = 0; k < 4; k++)
        for (uint32_t b = 0; b < 256; b++) {
            uint32_t v = 0;
            for (int j = 0; j < 8; j++)
                if (b & (1u << j))
                    v ^= col[8 * k + j];
            t[k][b] = v;
        }
}

static uint32_t shift(uint32_t t[4][256], uint32_t crc)
{
    return t[0][crc & 0xff] ^ t[1][(crc >> 8) & 0xff] ^ t[2][(crc >> 16) & 0xff] ^ t[3][crc >> 24];
}

__attribute__((target("sse4.2"))) static uint32_t raw_hw(uint32_t crc, const unsigned char *p,
                                                         size_t len)
{
    uint64_t c0 = crc;
    while (len && ((uintptr_t)p & 7)) {
        c0 = _mm_crc32_u8((uint32_t)c0, *p++);
        len--;
    }
    while (len >= 3 * LONG_BLOCK) {
        uint64_t c1 = 0, c2 = 0;
        const unsigned char *end = p + LONG_BLOCK;
        do {
            c0 = _mm_crc32_u64(c0, load64(p));
            c1 = _mm_crc32_u64(c1, load64(p + LONG_BLOCK));
            c2 = _mm_crc32_u64(c2, load64(p + 2 * LONG_BLOCK));
            p += 8;
        } while (p < end);
        c0 = shift(shift_long, (uint32_t)c0) ^ c1;
        c0 = shift(shift_long, (uint32_t)c0) ^ c2;
        p += 2 * LONG_BLOCK;
        len -= 3 * LONG_BLOCK;
    }
    while (len >= 3 * SHORT_BLOCK) {
        uint64_t c1 = 0, c2 = 0;
        const unsigned char *end = p + SHORT_BLOCK;
        do {
            c0 = _mm_crc32_u64(c0, load64(p));
            c1 = _mm_crc32_u64(c1, load64(p + SHORT_BLOCK));
            c2 = _mm_crc32_u64(c2, load64(p + 2 * SHORT_BLOCK));
            p += 8;
        } while (p < end);
        c0 = shift(shift_short, (uint32_t)c0) ^ c1;
        c0 = shift(shift_short, (uint32_t)c0) ^ c2;
        p += 2 * SHORT_BLOCK;
        len -= 3 * SHORT_BLOCK;
    }
    while (len >= 8) {
        c0 = _mm_crc32_u64(c0, load64(p));
        p += 8;
        len -= 8;
    }
    while (len--)
        c0 = _mm_crc32_u8((uint32_t)c0, *p++);
    return (uint32_t)c0;
}
#endif

static uint32_t (*raw_impl)(uint32_t, const unsigned char *, size_t) = raw_sw;
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    init_sw_tables();
#ifdef SNAP_CRC_HW
    __builtin_cpu_init(); /* may run before the CPU model is initialised (constructors) */
    if (__builtin_cpu_supports("sse4.2")) {
        init_shift_table(shift_long, LONG_BLOCK);
        init_shift_table(shift_short, SHORT_BLOCK);
        raw_impl = raw_hw;
    }
#endif
}

uint32_t snap_crc32c(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&crc_once, crc_init);
    return ~raw_impl(~crc, buf, len);
}

uint32_t snap_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&crc_once, crc_init);
    return ~raw_sw(~crc, buf, len);
}
