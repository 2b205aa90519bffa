; Stores to address spaces other than 0 are skipped: regions are ordinary (address space 0) memory.
; RUN: opt -load-pass-plugin=%plugin -passes=snapshot-instrument -snapshot-stats -S %s 2>%t.stats | FileCheck %s
; RUN: FileCheck %s --check-prefix=STATS < %t.stats
; RUN: opt -load-pass-plugin=%plugin -passes=snapshot-instrument -snapshot-skip-other-addrspace=false -S %s | FileCheck %s --check-prefix=NOSKIP
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

declare void @llvm.memset.p1.i64(ptr addrspace(1), i8, i64, i1)

define void @other_spaces(ptr addrspace(1) %g, ptr addrspace(256) %gs, ptr %p, i32 %v) {
  store i32 %v, ptr addrspace(1) %g
  store i32 %v, ptr addrspace(256) %gs
  call void @llvm.memset.p1.i64(ptr addrspace(1) %g, i8 0, i64 8, i1 false)
  store i32 %v, ptr %p
  ret void
}
; CHECK-LABEL: define void @other_spaces(
; CHECK: store i32 %v, ptr addrspace(1) %g
; CHECK-NEXT: store i32 %v, ptr addrspace(256) %gs
; CHECK-NEXT: call void @llvm.memset.p1.i64
; CHECK-NEXT: store i32 %v, ptr %p
; CHECK: call void @snap_track_slow(ptr %p, i64 4)
; CHECK: ret void
; NOSKIP-LABEL: define void @other_spaces(
; NOSKIP: store i32 %v, ptr addrspace(1) %g
; NOSKIP-NEXT: [[G:%.*]] = addrspacecast ptr addrspace(1) %g to ptr
; NOSKIP-NEXT: %snap.addr = ptrtoint ptr [[G]] to i64
; NOSKIP: call void @snap_track_slow(ptr [[G]], i64 4)
; NOSKIP: ret void

; STATS: instrumented 1, skipped 3, {{.*}}skipped-addrspace 3,
