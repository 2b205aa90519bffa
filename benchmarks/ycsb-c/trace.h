/* trace.h — reading a YCSB trace (benchmarks/ycsb/trace.sh's format, see benchmarks/ycsb-c/README.md)
 * into memory before it is replayed, so the timed loop parses nothing. Keys are interned: every op
 * names its key by a small id into one key set shared by the load and run traces, which is also the
 * index of the replayer's shadow state.
 */
#ifndef SNAPSHOT_YCSB_TRACE_H
#define SNAPSHOT_YCSB_TRACE_H

#include <stddef.h>
#include <stdint.h>

#define TRACE_MAX_KEY 32 /* = KV_MAX_KEY */

enum trace_op_type {
    OP_INSERT = 'I', /* I <key>          all fields */
    OP_READ = 'R',   /* R <key>          all fields */
    OP_UPDATE = 'U', /* U <key> <k>      k fields */
    OP_SCAN = 'S',   /* S <key> <n>      n records from key */
    OP_RMW = 'M',    /* M <key> <k>      read, then update k fields */
    OP_DELETE = 'D'  /* D <key>          not issued by YCSB's core workloads; the tests use it */
};

struct trace_op {
    uint32_t key; /* id in the key set */
    uint32_t arg; /* k for U and M, n for S, else 0 */
    char type;    /* enum trace_op_type */
};

struct trace_header {
    char workload[16]; /* "a" .. "f" (any short name is accepted) */
    char phase[8];     /* "load" or "run" */
    uint64_t recordcount, operationcount;
    uint32_t fieldcount, fieldlength;
};

struct keyset {
    char (*keys)[TRACE_MAX_KEY];
    uint8_t *lens;
    uint32_t n, cap;
    uint32_t *index; /* open addressing: id + 1, 0 = empty */
    uint64_t index_mask;
};

struct trace {
    struct trace_header hdr;
    struct trace_op *ops;
    uint64_t nops;
};

/* Read the trace at path, interning its keys into ks (which may already hold keys of another trace).
 * Returns 0, or -1 with a message in err (file, line and what is wrong). */
int trace_read(const char *path, struct keyset *ks, struct trace *t, char *err, size_t errlen);
void trace_free(struct trace *t);
void keyset_free(struct keyset *ks);

#endif
