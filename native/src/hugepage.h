/* hugepage.h — when the DRAM copy and the dirty bitmap ask for transparent huge pages.
 *
 * Stores to random places of a large region miss the TLB on nearly every 4 KiB page (and a miss is
 * dear under nested paging); with 2 MiB pages the copy of a 1 GB region needs 512 entries, not
 * 262144. Where THP runs in "madvise" mode, only MADV_HUGEPAGE gets them. The price: a fault in
 * untouched memory allocates and zeroes 2 MiB, so a sparse range written here and there becomes
 * resident in 2 MiB pieces, up to its whole length. So only ranges that could become wholly
 * resident without harm ask: each caller gives the length it accepts. SNAPSHOT_HUGEPAGES=0 in the
 * environment turns the advice off everywhere.
 */
#ifndef SNAPSHOT_HUGEPAGE_H
#define SNAPSHOT_HUGEPAGE_H

#include <stddef.h>
#include <stdint.h>

/* Memory the DRAM copy may take eagerly: half of physical memory. */
uint64_t snap_memory_budget(void);

/* madvise(MADV_HUGEPAGE) on [addr, addr+len) if len <= limit and SNAPSHOT_HUGEPAGES is not "0".
 * Advice only: a kernel without THP, or a failure, leaves 4 KiB pages. Returns 1 if advised. */
int snap_hugepage_advise(void *addr, size_t len, uint64_t limit);

#endif /* SNAPSHOT_HUGEPAGE_H */
