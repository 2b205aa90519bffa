// At -O0 (every function optnone) the pass still runs, and the locals clang spills to the stack
// are skipped: only the stores through pointers are tracked.
// RUN: clang -O0 -fpass-plugin=%plugin -S -emit-llvm %s -o - | FileCheck %s
// RUN: clang -O0 -fplugin=%plugin -fpass-plugin=%plugin -mllvm -snapshot-stats -c %s -o /dev/null 2>&1 | FileCheck %s --check-prefix=STATS
// RUN: clang -O0 -fpass-plugin=%plugin %s -c -o %t.o && llvm-nm %t.o | FileCheck %s --check-prefix=SYMS
struct point { long x, y; };

void set(long *p, long v) { *p = v; }

void copy(struct point *dst, const struct point *src) { *dst = *src; }

long sum_locals(int n) {
    long acc[4] = {0, 0, 0, 0};
    for (int i = 0; i < n; i++)
        acc[i & 3] += i;
    return acc[0] + acc[1] + acc[2] + acc[3];
}

// CHECK-LABEL: define {{.*}}void @set(
// CHECK: store i64 {{%[0-9]+}}, ptr {{%[0-9]+}}, align 8
// CHECK: call void @snap_track_slow(ptr {{%[0-9]+}}, i64 8)
// CHECK-LABEL: define {{.*}}void @copy(
// CHECK: call void @llvm.memcpy.p0.p0.i64(ptr align 8 [[D:%[0-9]+]], ptr align 8 {{%[0-9]+}}, i64 16, i1 false)
// CHECK: call void @snap_track_slow(ptr [[D]], i64 16)
// CHECK-LABEL: define {{.*}}i64 @sum_locals(
// CHECK-NOT: snap_track_slow
// CHECK: ret i64

// STATS: instrumented 2, skipped {{[1-9][0-9]*}}, stores 1, atomics 0, masked 0, memintrinsics 1, libcalls 0, skipped-stack {{[1-9][0-9]*}}, skipped-global 0
// SYMS-DAG: U snap_arena_len
// SYMS-DAG: U snap_arena_lo
// SYMS-DAG: U snap_arena_slots
// SYMS-DAG: U snap_track_slow
