/* pstore_file.h — what the two plain-file back ends (WAL and MSYNC) share: creating or opening the
 * data file at its size, and the list of ranges a transaction announced with pstore_add(). */
#ifndef PSTORE_FILE_H
#define PSTORE_FILE_H

#include <stdint.h>

#include "pstore.h"

/* Open `path` read-write, creating it with `size` zero bytes (made durable, with its directory
 * entry) if absent or empty; *created says which. An existing file must be `size` bytes long
 * (PSTORE_E_SIZE otherwise). Returns the descriptor or a negative error. */
int pstore_file_open(const char *path, uint64_t size, int *created);

/* Sort the transaction's ranges by offset and merge overlapping or adjacent ones, after widening
 * each to a multiple of `align` bytes (a power of two; 1 for none). Returns the new count. */
size_t pstore_ranges_merge(struct pstore_range *r, size_t n, uint64_t align);

#endif /* PSTORE_FILE_H */
