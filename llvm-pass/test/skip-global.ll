; Stores to global variables are skipped: globals live in the executable's or a library's data,
; never in the arena (an anonymous mapping). Constant globals and aliases too.
; RUN: opt -load-pass-plugin=%plugin -passes=snapshot-instrument -snapshot-stats -S %s 2>%t.stats | FileCheck %s
; RUN: FileCheck %s --check-prefix=STATS < %t.stats
; RUN: opt -load-pass-plugin=%plugin -passes=snapshot-instrument -snapshot-skip-globals=false -snapshot-merge-stores=false -S %s | FileCheck %s --check-prefix=NOSKIP
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

@counter = global i64 0
@table = internal global [64 x i32] zeroinitializer
@ext = external global [16 x i8]
@alias = alias i64, ptr @counter
@ro = constant i32 1
@ptr_to_region = global ptr null

declare void @llvm.memset.p0.i64(ptr, i8, i64, i1)

define void @globals(i64 %v, i64 %i) {
  store i64 %v, ptr @counter
  %p = getelementptr inbounds [64 x i32], ptr @table, i64 0, i64 %i
  store i32 7, ptr %p
  call void @llvm.memset.p0.i64(ptr @ext, i8 0, i64 16, i1 false)
  store i64 %v, ptr @alias
  store ptr null, ptr @ptr_to_region
  ret void
}
; CHECK-LABEL: define void @globals(
; CHECK-NOT: snap_track_slow
; CHECK: ret void
; NOSKIP-LABEL: define void @globals(
; NOSKIP: call void @snap_track_slow(ptr @counter, i64 8)
; NOSKIP: call void @snap_track_slow(ptr %p, i64 4)
; NOSKIP: call void @snap_track_slow(ptr @ext, i64 16)
; NOSKIP: call void @snap_track_slow(ptr @alias, i64 8)
; NOSKIP: call void @snap_track_slow(ptr @ptr_to_region, i64 8)
; NOSKIP: ret void

; A pointer *loaded from* a global points wherever it points: tracked.
define void @through_global(i64 %v) {
  %r = load ptr, ptr @ptr_to_region
  store i64 %v, ptr %r
  ret void
}
; CHECK-LABEL: define void @through_global(
; CHECK: store i64 %v, ptr %r
; CHECK: call void @snap_track_slow(ptr %r, i64 8)
; CHECK: ret void

; STATS: instrumented 1, skipped 5, {{.*}}skipped-global 5,
