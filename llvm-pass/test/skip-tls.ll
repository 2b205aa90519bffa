; Stores to thread-local variables are skipped, whether the IR names the variable directly or goes
; through llvm.threadlocal.address (as clang 19 emits).
; RUN: opt -load-pass-plugin=%plugin -passes=snapshot-instrument -snapshot-stats -S %s 2>%t.stats | FileCheck %s
; RUN: FileCheck %s --check-prefix=STATS < %t.stats
; RUN: opt -load-pass-plugin=%plugin -passes=snapshot-instrument -snapshot-skip-tls=false -S %s | FileCheck %s --check-prefix=NOSKIP
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

@tls = thread_local global i64 0
@tls_arr = thread_local global [4 x i32] zeroinitializer

declare ptr @llvm.threadlocal.address.p0(ptr)

define void @tls_stores(i64 %v, i64 %i) {
  store i64 %v, ptr @tls
  %a = call ptr @llvm.threadlocal.address.p0(ptr @tls_arr)
  %p = getelementptr inbounds [4 x i32], ptr %a, i64 0, i64 %i
  store i32 1, ptr %p
  %c = atomicrmw add ptr %p, i32 1 monotonic
  ret void
}
; CHECK-LABEL: define void @tls_stores(
; CHECK-NOT: snap_track_slow
; CHECK: ret void
; NOSKIP-LABEL: define void @tls_stores(
; NOSKIP: call void @snap_track_slow(ptr @tls, i64 8)
; NOSKIP: call void @snap_track_slow(ptr %p, i64 4)
; NOSKIP: call void @snap_track_slow(ptr %p, i64 4)
; NOSKIP: ret void

; STATS: instrumented 0, skipped 3, {{.*}}skipped-tls 3,
