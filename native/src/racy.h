/* racy.h — reading DRAM that other threads may be storing to, on purpose: the commit copies dirty
 * lines while writers go on (commit.c, invariant 6), and eviction compares a page that writers may
 * have stored to before its write protection (budget.c, B2). The races are part of the protocols,
 * so they are kept out of ThreadSanitizer's reports (no_sanitize alone does not cover the memcpy
 * and memcmp interceptors). */
#ifndef SNAPSHOT_RACY_H
#define SNAPSHOT_RACY_H

#include <stddef.h>
#include <string.h>

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SNAP_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) && !defined(SNAP_TSAN)
#define SNAP_TSAN 1
#endif

#ifdef SNAP_TSAN
void AnnotateIgnoreReadsBegin(const char *file, int line);
void AnnotateIgnoreReadsEnd(const char *file, int line);
#define SNAP_RACY_BEGIN() AnnotateIgnoreReadsBegin(__FILE__, __LINE__)
#define SNAP_RACY_END() AnnotateIgnoreReadsEnd(__FILE__, __LINE__)
#else
#define SNAP_RACY_BEGIN() ((void)0)
#define SNAP_RACY_END() ((void)0)
#endif

static inline void snap_racy_copy(void *dst, const void *src, size_t len)
{
    SNAP_RACY_BEGIN();
    memcpy(dst, src, len);
    SNAP_RACY_END();
}

static inline int snap_racy_equal(const void *a, const void *b, size_t len)
{
    SNAP_RACY_BEGIN();
    int eq = memcmp(a, b, len) == 0;
    SNAP_RACY_END();
    return eq;
}

#endif /* SNAPSHOT_RACY_H */
