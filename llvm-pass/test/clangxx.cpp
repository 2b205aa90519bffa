// From C++ with exceptions: member stores through `this`, std::atomic, std::fill (memset), a call
// that may throw between stores, and copies of trivially copyable objects.
// RUN: clang++ -O2 -std=c++17 -fpass-plugin=%plugin -S -emit-llvm %s -o - | FileCheck %s
#include <algorithm>
#include <atomic>
#include <cstring>

struct Node {
    long keys[6];
    std::atomic<long> version;
    void set(int i, long k) { keys[i] = k; }
};

void may_throw();

void touch(Node *n, long k) {
    n->set(1, k);
    may_throw();
    n->version.fetch_add(1, std::memory_order_release);
}
// CHECK-LABEL: define {{.*}}@_Z5touchP4Nodel(
// CHECK: store i64 %1, ptr [[K:%[0-9]+]]
// CHECK: call void @snap_track_slow(ptr {{.*}}[[K]], i64 8)
// CHECK: call void @_Z9may_throwv()
// CHECK: atomicrmw add ptr [[V:%[0-9]+]], i64 1 release
// CHECK: call void @snap_track_slow(ptr [[V]], i64 8)

void clear(Node *n) { std::fill(n->keys, n->keys + 6, 0L); }
// CHECK-LABEL: define {{.*}}@_Z5clearP4Node(
// CHECK: call void @llvm.memset.p0.i64(ptr {{.*}}%0, i8 0, i64 48, i1 false)
// CHECK: call void @snap_track_slow(ptr %0, i64 48)

struct Pod { int a[20]; };
void assign(Pod *d, const Pod &s) { *d = s; }
// CHECK-LABEL: define {{.*}}@_Z6assignP3PodRKS_(
// CHECK: call void @snap_track_slow(ptr %0, i64 80)
