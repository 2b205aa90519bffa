// At -O2, from C: what survives optimisation is tracked with its true width; globals, thread-locals
// and non-escaping locals are not. With -fno-builtin, memcpy stays a libc call and is tracked too.
// RUN: clang -O2 -fpass-plugin=%plugin -S -emit-llvm %s -o - | FileCheck %s
// RUN: clang -O2 -fno-builtin -fpass-plugin=%plugin -S -emit-llvm %s -o - | FileCheck %s --check-prefix=NOBUILTIN
// RUN: clang -O2 -march=x86-64-v3 -fpass-plugin=%plugin -S -emit-llvm %s -o - | FileCheck %s --check-prefix=AVX
#include <stdatomic.h>
#include <string.h>

long counter;
_Thread_local long per_thread;

struct rec { long key; long val[7]; };      // 64 bytes

void bump(long *p) { counter++; per_thread++; *p += 1; }
// CHECK-LABEL: define {{.*}}void @bump(
// CHECK-NOT: call void @snap_track_slow(ptr @counter
// CHECK: call void @snap_track_slow(ptr %0, i64 8)
// CHECK-NOT: snap_track_slow
// CHECK: ret void

void wide(__int128 *p, __int128 v) { *p = v; }
// CHECK-LABEL: define {{.*}}void @wide(
// CHECK: call void @snap_track_slow(ptr %0, i64 16)

void put(struct rec *dst, const struct rec *src) { *dst = *src; }
// CHECK-LABEL: define {{.*}}void @put(
// CHECK: call void @snap_track_slow(ptr %0, i64 64)

void fill(char *dst, size_t n) { memset(dst, 0, n); }
// CHECK-LABEL: define {{.*}}void @fill(
// CHECK: call void @llvm.memset.p0.i64(ptr align 1 %0, i8 0, i64 %1, i1 false)
// CHECK: call void @snap_track_slow(ptr %0, i64 %1)
// NOBUILTIN-LABEL: define {{.*}}void @fill(
// NOBUILTIN: call ptr @memset(ptr {{.*}}%0, i32 {{.*}}0, i64 {{.*}}%1)
// NOBUILTIN: call void @snap_track_slow(ptr %0, i64 %1)

long incr(_Atomic long *c) { return atomic_fetch_add(c, 1); }
// CHECK-LABEL: define {{.*}}i64 @incr(
// CHECK: atomicrmw add ptr %0, i64 1 seq_cst
// CHECK: call void @snap_track_slow(ptr %0, i64 8)

long local_only(int n) {
    long a[16];
    for (int i = 0; i < 16; i++) a[i] = i * n;
    long s = 0;
    for (int i = 0; i < 16; i++) s += a[(i * 7) & 15];
    return s;
}
// CHECK-LABEL: define {{.*}}i64 @local_only(
// CHECK-NOT: snap_track_slow
// CHECK: ret i64

// A loop the vectoriser turns into 32-byte vector stores (AVX2), interleaved by 4: one hook for
// each pair of adjacent vectors (64 bytes), the second at +64.
void scale(int *restrict d, const int *restrict s, int n) {
    for (int i = 0; i < n; i++) d[i] = s[i] * 3;
}
// AVX-LABEL: define {{.*}}void @scale(
// AVX: store <8 x i32> {{.*}}, ptr [[P:%[0-9]+]], align 4
// AVX-NEXT: store <8 x i32> {{.*}}, ptr {{%[0-9]+}}, align 4
// AVX: call void @snap_track_slow(ptr [[P]], i64 64)
// AVX: store <8 x i32>
// AVX-NEXT: store <8 x i32>
// AVX: [[Q:%[0-9]+]] = getelementptr i8, ptr [[P]], i64 64
// AVX: call void @snap_track_slow(ptr [[Q]], i64 64)
