/* testkit.c — the test kit's seams (testkit.h): the knobs as variables, and fault injection. */
#include <errno.h>

#include "backend.h"
#include "testkit.h"

#ifndef SNAPSHOT_TESTKIT
#error "testkit.c belongs to the test kit only: compile it with SNAPSHOT_TESTKIT"
#endif

#define SNAP_KNOB_DEFINE(type, name, value) type name = value;
SNAP_TEST_KNOBS(SNAP_KNOB_DEFINE)

void snap_backend_inject_fault(struct snap_backend *b, int op, uint64_t after, int err)
{
    if (!b)
        return;
    if (op == SNAP_FAULT_NONE || after == 0) {
        b->fail_op = SNAP_FAULT_NONE;
        b->fail_after = 0;
        b->fail_err = 0;
        return;
    }
    b->fail_op = op;
    b->fail_after = after;
    b->fail_err = err ? err : -EIO; /* a "failure" of 0 would read as success */
}

int snap_backend_fault_check(struct snap_backend *b, int op)
{
    if (__builtin_expect(b->fail_op == SNAP_FAULT_NONE, 1) || b->fail_op != op)
        return 0;
    if (b->fail_after > 1) {
        b->fail_after--;
        return 0;
    }
    return b->fail_err; /* fail_after stays 1: every later call fails too */
}
