/* crc32c.h — CRC-32C (Castagnoli), the checksum that decides whether a log record committed. */
#ifndef SNAPSHOT_CRC32C_H
#define SNAPSHOT_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extend crc (start with 0) over buf[0..len). Uses the SSE4.2 crc32 instruction when the CPU has
 * it (checked once), else a table. Same result either way. Thread-safe. */
uint32_t snap_crc32c(uint32_t crc, const void *buf, size_t len);

/* The table version, for tests that compare the two. */
uint32_t snap_crc32c_sw(uint32_t crc, const void *buf, size_t len);

#endif /* SNAPSHOT_CRC32C_H */
