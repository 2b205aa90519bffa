/* test_crc32c.c — CRC-32C: published vectors, hardware == table on every length/alignment, chaining. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <string.h>

#include "crc32c.h"
#include "test_util.h"

/* Vectors from RFC 3720 (iSCSI), appendix B.4, and the usual check value. */
static void test_vectors(void)
{
    unsigned char buf[48];
    CHECK(snap_crc32c(0, "123456789", 9) == 0xE3069283u);
    CHECK(snap_crc32c_sw(0, "123456789", 9) == 0xE3069283u);
    CHECK(snap_crc32c(0, "", 0) == 0);
    CHECK(snap_crc32c(0x12345678u, NULL, 0) == 0x12345678u);

    memset(buf, 0, 32);
    CHECK(snap_crc32c(0, buf, 32) == 0x8A9136AAu);
    memset(buf, 0xff, 32);
    CHECK(snap_crc32c(0, buf, 32) == 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        buf[i] = (unsigned char)i;
    CHECK(snap_crc32c(0, buf, 32) == 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        buf[i] = (unsigned char)(31 - i);
    CHECK(snap_crc32c(0, buf, 32) == 0x113FDB5Cu);

    static const unsigned char iscsi_read[48] = {
        0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
        0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    CHECK(snap_crc32c(0, iscsi_read, 48) == 0xD9963A56u);
    CHECK(snap_crc32c_sw(0, iscsi_read, 48) == 0xD9963A56u);
}

/* Bit-at-a-time reference, independent of both implementations' tables. */
static uint32_t crc_bitwise(uint32_t crc, const unsigned char *p, size_t len)
{
    crc = ~crc;
    while (len--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return ~crc;
}

static unsigned char *random_buf(struct test_rng *rng, size_t len)
{
    unsigned char *b = malloc(len);
    REQUIRE(b);
    for (size_t i = 0; i < len; i++)
        b[i] = (unsigned char)test_rng_next(rng);
    return b;
}

/* Lengths chosen to cross every path: bytes, words, the 3x256 and 3x8192 interleaved blocks. */
static void test_hw_equals_sw(struct test_rng *rng)
{
    size_t big = 3 * 8192 * 3 + 3 * 256 * 2 + 77;
    unsigned char *buf = random_buf(rng, big + 16);
    for (int i = 0; i < 3000; i++) {
        size_t off = test_rng_below(rng, 16);
        size_t len = i < 1000 ? (size_t)i : test_rng_below(rng, big);
        uint32_t init = (uint32_t)test_rng_next(rng);
        uint32_t hw = snap_crc32c(init, buf + off, len), sw = snap_crc32c_sw(init, buf + off, len);
        CHECK(hw == sw);
        if (len < 2000)
            CHECK(hw == crc_bitwise(init, buf + off, len));
    }
    /* Exact block boundaries. */
    size_t edges[] = {767, 768, 769, 24575, 24576, 24577, 24576 + 768, 2 * 24576};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        for (size_t off = 0; off < 8; off++)
            CHECK(snap_crc32c(0, buf + off, edges[i]) == snap_crc32c_sw(0, buf + off, edges[i]));
    CHECK(snap_crc32c(0, buf, big) == crc_bitwise(0, buf, big));
    free(buf);
}

static void test_chaining(struct test_rng *rng)
{
    size_t len = 100000;
    unsigned char *buf = random_buf(rng, len);
    uint32_t whole = snap_crc32c(0, buf, len);
    for (int i = 0; i < 200; i++) {
        size_t cut = test_rng_below(rng, len + 1);
        uint32_t c = snap_crc32c(0, buf, cut);
        CHECK(snap_crc32c(c, buf + cut, len - cut) == whole);
        c = snap_crc32c_sw(0, buf, cut);
        CHECK(snap_crc32c_sw(c, buf + cut, len - cut) == whole);
    }
    /* Many small pieces. */
    uint32_t c = 0;
    for (size_t pos = 0; pos < len;) {
        size_t n = 1 + test_rng_below(rng, 50);
        if (n > len - pos)
            n = len - pos;
        c = snap_crc32c(c, buf + pos, n);
        pos += n;
    }
    CHECK(c == whole);
    free(buf);
}

int main(void)
{
    struct test_rng rng;
    test_rng_seed(&rng, (uint64_t)test_env_long("SNAPSHOT_SEED", 42));
    test_vectors();
    test_hw_equals_sw(&rng);
    test_chaining(&rng);
    return test_done("test_crc32c", 3);
}
