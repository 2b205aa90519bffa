; atomicrmw and cmpxchg are tracked with their value's width (cmpxchg even if it fails: marking an
; unchanged line is harmless); so are libatomic's calls, which clang emits for large atomics.
; RUN: opt -load-pass-plugin=%plugin -passes=snapshot-instrument -S %s | FileCheck %s
; RUN: opt -load-pass-plugin=%plugin -passes=snapshot-instrument -snapshot-instrument-atomics=false -S %s | FileCheck %s --check-prefix=OFF
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

define i32 @rmw(ptr %p, i32 %v, i8 %b, i64 %d) {
  %old = atomicrmw add ptr %p, i32 %v seq_cst
  %x = atomicrmw xchg ptr %p, i8 %b monotonic
  %y = atomicrmw umax ptr %p, i64 %d acq_rel
  %f = atomicrmw fadd ptr %p, double 1.0 seq_cst
  ret i32 %old
}
; CHECK-LABEL: define i32 @rmw(
; CHECK: atomicrmw add ptr %p, i32 %v seq_cst
; CHECK: call void @snap_track_slow(ptr %p, i64 4)
; CHECK: atomicrmw xchg ptr %p, i8 %b monotonic
; CHECK: call void @snap_track_slow(ptr %p, i64 1)
; CHECK: atomicrmw umax ptr %p, i64 %d acq_rel
; CHECK: call void @snap_track_slow(ptr %p, i64 8)
; CHECK: atomicrmw fadd ptr %p, double 1.0
; CHECK: call void @snap_track_slow(ptr %p, i64 8)
; CHECK: ret i32 %old
; OFF-LABEL: define i32 @rmw(
; OFF-NOT: snap_track_slow
; OFF: ret i32

define i1 @cas(ptr %p, i64 %e, i64 %n, i128 %e2, i128 %n2) {
  %r = cmpxchg ptr %p, i64 %e, i64 %n seq_cst seq_cst
  %r2 = cmpxchg weak ptr %p, i128 %e2, i128 %n2 acquire monotonic
  %ok = extractvalue { i64, i1 } %r, 1
  ret i1 %ok
}
; CHECK-LABEL: define i1 @cas(
; CHECK: cmpxchg ptr %p, i64 %e, i64 %n seq_cst seq_cst
; CHECK: call void @snap_track_slow(ptr %p, i64 8)
; CHECK: cmpxchg weak ptr %p, i128 %e2, i128 %n2
; CHECK: call void @snap_track_slow(ptr %p, i64 16)
; CHECK: ret i1

declare void @__atomic_store(i64, ptr, ptr, i32)
declare i1 @__atomic_compare_exchange(i64, ptr, ptr, ptr, i32, i32)
declare i128 @__atomic_fetch_add_16(ptr, i128, i32)
declare void @__atomic_store_8(ptr, i64, i32)
declare i64 @__atomic_load_8(ptr, i32)

define void @libatomic(ptr %p, ptr %v, i64 %n, i128 %q) {
  call void @__atomic_store(i64 24, ptr %p, ptr %v, i32 5)
  %c = call i1 @__atomic_compare_exchange(i64 %n, ptr %p, ptr %v, ptr %v, i32 5, i32 5)
  %o = call i128 @__atomic_fetch_add_16(ptr %p, i128 %q, i32 5)
  call void @__atomic_store_8(ptr %p, i64 1, i32 5)
  %l = call i64 @__atomic_load_8(ptr %p, i32 5)
  ret void
}
; CHECK-LABEL: define void @libatomic(
; CHECK: call void @__atomic_store(i64 24, ptr %p
; CHECK: call void @snap_track_slow(ptr %p, i64 24)
; CHECK: call i1 @__atomic_compare_exchange(i64 %n, ptr %p
; CHECK: call void @snap_track_slow(ptr %p, i64 %n)
; CHECK: call i128 @__atomic_fetch_add_16(ptr %p
; CHECK: call void @snap_track_slow(ptr %p, i64 16)
; CHECK: call void @__atomic_store_8(ptr %p
; CHECK: call void @snap_track_slow(ptr %p, i64 8)
; CHECK: call i64 @__atomic_load_8(ptr %p
; CHECK-NOT: snap_track_slow
; CHECK: ret void
