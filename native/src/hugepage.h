/* hugepage.h — transparent huge pages for the DRAM copy and the dirty bitmap, when asked for.
 *
 * Stores to random places of a large region miss the TLB on nearly every 4 KiB page (dear under
 * nested paging); with 2 MiB pages the copy of a 1 GB region needs 512 entries, not 262144, and
 * its first touch takes 512 times fewer faults. Where THP runs in "madvise" mode only
 * MADV_HUGEPAGE gets them, and a MAP_PRIVATE mapping of a file gets none for its copied pages, so
 * the DRAM copy must then be anonymous memory filled from the file (backend.c).
 *
 * Off unless SNAPSHOT_HUGEPAGES=1 is in the environment at snap_open(), because what they cost
 * depends on the machine: a fault in untouched memory allocates and zeroes 2 MiB, so a sparse
 * region written here and there becomes resident in 2 MiB pieces; THP's "defrag" setting may make
 * such a fault compact memory first; and a virtual machine whose balloon reports free 2 MiB
 * blocks to the host (virtio free page reporting) takes host faults on every fresh huge page. On
 * this project's VM the last made the load phase of a 1 GB store slower than the TLB saved (see
 * docs/ARCHITECTURE.md, "Huge pages").
 */
#ifndef SNAPSHOT_HUGEPAGE_H
#define SNAPSHOT_HUGEPAGE_H

#include <stddef.h>
#include <stdint.h>

#define SNAP_HUGE_PAGE ((uint64_t)2 << 20) /* the x86-64 / arm64 (4 KiB granule) PMD size */

/* 1 if SNAPSHOT_HUGEPAGES=1 is set. */
int snap_hugepages_wanted(void);

/* Memory the DRAM copy may take eagerly: half of physical memory. */
uint64_t snap_memory_budget(void);

/* madvise(MADV_HUGEPAGE) on [addr, addr+len) if wanted and len <= limit (the most the caller
 * accepts becoming resident). Advice only: a kernel without THP, or a failure, leaves 4 KiB pages.
 * Returns 1 if advised. */
int snap_hugepage_advise(void *addr, size_t len, uint64_t limit);

#endif /* SNAPSHOT_HUGEPAGE_H */
