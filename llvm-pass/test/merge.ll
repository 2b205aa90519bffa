; Plain stores to one base pointer, close together in a basic block, share one hook after the last
; of them, over their union — unless something between them may order them for another thread or
; an msync (a call, an atomic, a fence), or the union exceeds -snapshot-merge-span (64 bytes).
; RUN: opt -load-pass-plugin=%plugin -passes=snapshot-instrument -snapshot-stats -S %s 2>%t.stats | FileCheck %s
; RUN: FileCheck %s --check-prefix=STATS < %t.stats
; RUN: opt -load-pass-plugin=%plugin -passes=snapshot-instrument -snapshot-merge-stores=false -S %s | FileCheck %s --check-prefix=OFF
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

%node = type { i32, i32, [6 x i64] }

declare void @may_msync()

; Three field stores, out of order: one hook at the last, covering bytes 0..24.
define void @fields(ptr %n, i64 %k) {
  %keys = getelementptr inbounds %node, ptr %n, i64 0, i32 2
  %k1 = getelementptr inbounds %node, ptr %n, i64 0, i32 2, i64 1
  store i64 %k, ptr %k1, align 8
  store i32 1, ptr %n, align 4
  %leaf = getelementptr inbounds %node, ptr %n, i64 0, i32 1
  store i32 0, ptr %leaf, align 4
  ret void
}
; CHECK-LABEL: define void @fields(
; CHECK: store i64 %k, ptr %k1
; CHECK-NEXT: store i32 1, ptr %n
; CHECK-NEXT: %leaf = getelementptr
; CHECK-NEXT: store i32 0, ptr %leaf
; CHECK-NEXT: %snap.addr = ptrtoint ptr %n to i64
; CHECK: call void @snap_track_slow(ptr %n, i64 24)
; CHECK-NOT: snap_track_slow
; CHECK: ret void
; OFF-LABEL: define void @fields(
; OFF: call void @snap_track_slow(ptr %k1, i64 8)
; OFF: call void @snap_track_slow(ptr %n, i64 4)
; OFF: call void @snap_track_slow(ptr %leaf, i64 4)

; A call between two stores: it may be snap_msync, which must see the first store marked.
define void @call_between(ptr %p, i64 %v) {
  store i64 %v, ptr %p
  call void @may_msync()
  %q = getelementptr inbounds i64, ptr %p, i64 1
  store i64 %v, ptr %q
  ret void
}
; CHECK-LABEL: define void @call_between(
; CHECK: store i64 %v, ptr %p
; CHECK: call void @snap_track_slow(ptr %p, i64 8)
; CHECK: call void @may_msync()
; CHECK: store i64 %v, ptr %q
; CHECK: call void @snap_track_slow(ptr %q, i64 8)

; Atomics and fences separate too; so does a release store.
define void @ordered(ptr %p, ptr %flag, i64 %v) {
  store i64 %v, ptr %p
  fence release
  %q = getelementptr inbounds i64, ptr %p, i64 1
  store i64 %v, ptr %q
  store atomic i32 1, ptr %flag release, align 4
  %r = getelementptr inbounds i64, ptr %p, i64 2
  store i64 %v, ptr %r
  ret void
}
; CHECK-LABEL: define void @ordered(
; CHECK: store i64 %v, ptr %p
; CHECK: call void @snap_track_slow(ptr %p, i64 8)
; CHECK: fence release
; CHECK: call void @snap_track_slow(ptr %q, i64 8)
; CHECK: store atomic i32 1, ptr %flag release
; CHECK: call void @snap_track_slow(ptr %flag, i64 4)
; CHECK: call void @snap_track_slow(ptr %r, i64 8)

; Too far apart (72 bytes), or different base pointers: separate hooks.
define void @apart(ptr %p, ptr %o, i64 %v) {
  store i64 %v, ptr %p
  %far = getelementptr inbounds i8, ptr %p, i64 64
  store i64 %v, ptr %far
  store i64 %v, ptr %o
  ret void
}
; CHECK-LABEL: define void @apart(
; CHECK: store i64 %v, ptr %p
; CHECK: call void @snap_track_slow(ptr %p, i64 8)
; CHECK: store i64 %v, ptr %far
; CHECK: call void @snap_track_slow(ptr %far, i64 8)
; CHECK: store i64 %v, ptr %o
; CHECK: call void @snap_track_slow(ptr %o, i64 8)

; A negative offset: the hook starts at the lowest byte.
define void @backwards(ptr %p, i64 %v) {
  store i64 %v, ptr %p
  %m = getelementptr inbounds i64, ptr %p, i64 -1
  store i64 %v, ptr %m
  ret void
}
; CHECK-LABEL: define void @backwards(
; CHECK: %snap.group = getelementptr i8, ptr %p, i64 -8
; CHECK: call void @snap_track_slow(ptr %snap.group, i64 16)

; STATS: instrumented 14, {{.*}}hooks 11, merged 3
