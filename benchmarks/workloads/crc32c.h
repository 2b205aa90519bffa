/* crc32c.h — CRC-32C (Castagnoli) of the WAL's redo records: SSE4.2 instruction when the CPU has
 * it, a table otherwise. */
#ifndef PSTORE_CRC32C_H
#define PSTORE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: start with crc = 0. */
uint32_t crc32c(uint32_t crc, const void *data, size_t len);

#endif
