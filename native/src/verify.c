/* verify.c — the verification oracle (SNAPSHOT_VERIFY=1): after a commit, every line of the DRAM copy
 * that is not marked dirty must equal the data file. A line that differs was stored to without being
 * tracked — a store the plugin or the caller missed — and would be lost by a crash. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "region.h"

#define VERIFY_CHUNK (1u << 20)

int snap_verify_region(struct snap_region *r)
{
    uint64_t size = snap_region_size(r);
    uint8_t *buf = malloc(VERIFY_CHUNK);
    if (!buf)
        return -ENOMEM;
    int rc = 0;
    /* An evictable copy is compared page by page, its missing pages skipped: they hold D's bytes
     * by construction (budget.c, B1), and reading them would bring the whole region in. */
    const uint64_t chunk = r->budget.evicting ? (uint64_t)1 << r->budget.page_shift : VERIFY_CHUNK;
    for (uint64_t off = 0; off < size && !rc; off += chunk) {
        size_t len = size - off < chunk ? (size_t)(size - off) : chunk;
        if (snap_budget_missing(r, off))
            continue;
        rc = snap_be_read(r->be, SNAP_DATA, off, buf, len);
        if (rc)
            break;
        const uint8_t *dram = (const uint8_t *)r->base + off;
        if (memcmp(dram, buf, len) == 0)
            continue;
        for (size_t l = 0; l < len; l += 64) {
            size_t n = len - l < 64 ? len - l : 64;
            uint64_t line = (off + l) >> SNAP_LINE_SHIFT;
            if (memcmp(dram + l, buf + l, n) == 0 || snap_dirty_test(&r->dirty, line))
                continue;
            fprintf(stderr,
                    "snapshot: verify: line %llu (offset %llu) of the DRAM copy differs from the "
                    "media after commit: an untracked store\n",
                    (unsigned long long)line, (unsigned long long)(off + l));
            rc = SNAP_E_VERIFY;
            break;
        }
    }
    free(buf);
    return rc;
}
