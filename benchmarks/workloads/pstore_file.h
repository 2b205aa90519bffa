/* pstore_file.h — what the two plain-file back ends (WAL and MSYNC) share: creating or opening the
 * data file at its size, mapping it, and the list of ranges a transaction announced with pstore_add(). */
#ifndef PSTORE_FILE_H
#define PSTORE_FILE_H

#include <stdint.h>

#include "pstore.h"

/* Open `path` read-write, creating it with `size` zero bytes (made durable, with its directory
 * entry) if absent or empty; *created says which. An existing file must be `size` bytes long
 * (PSTORE_E_SIZE otherwise). Returns the descriptor or a negative error. */
int pstore_file_open(const char *path, uint64_t size, int *created);

/* Map the data file `fd` (`size` bytes; MAP_SHARED or MAP_PRIVATE in `share`) as the store's
 * memory and open its allocator (palloc.h). Returns 0 or a negative error; on error the caller
 * closes the store, which unmaps what was mapped. */
int pstore_file_map(pstore *ps, int fd, uint64_t size, int share, size_t root_size);

/* Sort the transaction's ranges by offset and merge overlapping or adjacent ones, after widening
 * each to a multiple of `align` bytes (a power of two; 1 for none). Returns the new count. */
size_t pstore_ranges_merge(struct pstore_range *r, size_t n, uint64_t align);

#endif /* PSTORE_FILE_H */
