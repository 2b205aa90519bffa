/* crash_state.h — a region's bytes and size, as the crash tests expect or recover them. */
#ifndef SNAPSHOT_CRASH_STATE_H
#define SNAPSHOT_CRASH_STATE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

struct state {
    uint8_t *bytes;
    uint64_t size;
};

static inline void state_set(struct state *s, const uint8_t *bytes, uint64_t size)
{
    s->bytes = realloc(s->bytes, size ? size : 1);
    REQUIRE(s->bytes);
    memcpy(s->bytes, bytes, size);
    s->size = size;
}

static inline int state_equals(const struct state *s, const uint8_t *bytes, uint64_t size)
{
    return s->size == size && memcmp(s->bytes, bytes, size) == 0;
}

#endif /* SNAPSHOT_CRASH_STATE_H */
