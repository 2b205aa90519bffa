; -snapshot-count-dynamic: before every write the pass sees, a relaxed atomic increment of
; snapshot_pass_counts[k], k by what the pass did with it (llvm-pass/runtime/snapshot_count.h:
; 0 stores, 1 atomics, 3 memintrinsics, 5 skipped-stack, 6 skipped-global, 7 skipped-tls,
; 9 unhandled); in every hook, increments of 10 (hooks run), 11 (in the arena) and 12 (slow path).
; The array is defined weak and zero in the module. Off by default.
; RUN: opt -load-pass-plugin=%plugin -passes=snapshot-instrument -snapshot-count-dynamic -S %s | FileCheck %s
; RUN: opt -load-pass-plugin=%plugin -passes=snapshot-instrument -snapshot-count-dynamic -snapshot-inline-bit-test=false -S %s | FileCheck %s --check-prefix=CALL
; RUN: opt -load-pass-plugin=%plugin -passes=snapshot-instrument -S %s | FileCheck %s --check-prefix=OFF
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

@g = global i64 0
@tls = thread_local global i64 0

declare void @llvm.memcpy.p0.p0.i64(ptr, ptr, i64, i1)
declare void @sink(ptr)

; CHECK: @snapshot_pass_counts = weak global [16 x i64] zeroinitializer, align 8
; OFF-NOT: snapshot_pass_counts

define void @store(ptr %p, i64 %v) {
  store i64 %v, ptr %p, align 8
  ret void
}
; CHECK-LABEL: define void @store(
; CHECK-NEXT:    atomicrmw add ptr @snapshot_pass_counts, i64 1 monotonic, align 8, !nosanitize
; CHECK-NEXT:    store i64 %v, ptr %p, align 8
; CHECK-NEXT:    atomicrmw add ptr getelementptr inbounds ([16 x i64], ptr @snapshot_pass_counts, i64 0, i64 10), i64 1 monotonic
; CHECK-NEXT:    %snap.addr = ptrtoint ptr %p to i64
; CHECK:       snap.in_arena:
; CHECK-NEXT:    atomicrmw add ptr getelementptr inbounds ([16 x i64], ptr @snapshot_pass_counts, i64 0, i64 11), i64 1 monotonic
; CHECK:       snap.test:
; CHECK-NOT:     atomicrmw
; CHECK:       snap.slow:
; CHECK-NEXT:    atomicrmw add ptr getelementptr inbounds ([16 x i64], ptr @snapshot_pass_counts, i64 0, i64 12), i64 1 monotonic
; CHECK-NEXT:    call void @snap_track_slow(ptr %p, i64 8)
; CHECK-NOT:     atomicrmw
; CHECK:         ret void
; CALL-LABEL: define void @store(
; CALL:       snap.in_arena:
; CALL-NEXT:    atomicrmw add ptr getelementptr inbounds ([16 x i64], ptr @snapshot_pass_counts, i64 0, i64 11), i64 1 monotonic
; CALL-NEXT:    atomicrmw add ptr getelementptr inbounds ([16 x i64], ptr @snapshot_pass_counts, i64 0, i64 12), i64 1 monotonic
; CALL-NEXT:    call void @snap_track_slow(ptr %p, i64 8)
; OFF-LABEL: define void @store(
; OFF-NOT: atomicrmw
; OFF: ret void

; Skipped writes are counted by reason, and get no hook.
define i64 @skipped(i64 %v) {
  %a = alloca i64, align 8
  store i64 %v, ptr %a, align 8
  store i64 %v, ptr @g, align 8
  %t = call ptr @llvm.threadlocal.address.p0(ptr @tls)
  store i64 %v, ptr %t, align 8
  %l = load i64, ptr %a, align 8
  ret i64 %l
}
; CHECK-LABEL: define i64 @skipped(
; CHECK:         atomicrmw add ptr getelementptr inbounds ([16 x i64], ptr @snapshot_pass_counts, i64 0, i64 5), i64 1 monotonic
; CHECK-NEXT:    store i64 %v, ptr %a
; CHECK-NEXT:    atomicrmw add ptr getelementptr inbounds ([16 x i64], ptr @snapshot_pass_counts, i64 0, i64 6), i64 1 monotonic
; CHECK-NEXT:    store i64 %v, ptr @g
; CHECK-NEXT:    %t = call ptr @llvm.threadlocal.address.p0(ptr @tls)
; CHECK-NEXT:    atomicrmw add ptr getelementptr inbounds ([16 x i64], ptr @snapshot_pass_counts, i64 0, i64 7), i64 1 monotonic
; CHECK-NEXT:    store i64 %v, ptr %t
; CHECK-NEXT:    %l = load i64, ptr %a
; CHECK-NEXT:    ret i64 %l

; Merged stores: each store counted, one hook.
define void @merged(ptr %p, i64 %v) {
  store i64 %v, ptr %p, align 8
  %q = getelementptr inbounds i64, ptr %p, i64 1
  store i64 %v, ptr %q, align 8
  ret void
}
; CHECK-LABEL: define void @merged(
; CHECK-NEXT:    atomicrmw add ptr @snapshot_pass_counts, i64 1 monotonic
; CHECK-NEXT:    store i64 %v, ptr %p
; CHECK-NEXT:    %q = getelementptr
; CHECK-NEXT:    atomicrmw add ptr @snapshot_pass_counts, i64 1 monotonic
; CHECK-NEXT:    store i64 %v, ptr %q
; CHECK-NEXT:    atomicrmw add ptr getelementptr inbounds ([16 x i64], ptr @snapshot_pass_counts, i64 0, i64 10), i64 1 monotonic
; CHECK:         call void @snap_track_slow(ptr %p, i64 16)
; CHECK-NOT:     snap_track_slow
; CHECK:         ret void

; Other kinds: an atomic, a memory intrinsic, inline assembly (unhandled: counted, no hook).
define void @kinds(ptr %p, ptr %src, i64 %n) {
  %old = atomicrmw add ptr %p, i64 1 seq_cst, align 8
  call void @llvm.memcpy.p0.p0.i64(ptr %p, ptr %src, i64 %n, i1 false)
  call void asm sideeffect "movq $$0, ($0)", "r,~{memory}"(ptr %p)
  ret void
}
; CHECK-LABEL: define void @kinds(
; CHECK-NEXT:    atomicrmw add ptr getelementptr inbounds ([16 x i64], ptr @snapshot_pass_counts, i64 0, i64 1), i64 1 monotonic
; CHECK-NEXT:    %old = atomicrmw add ptr %p, i64 1 seq_cst
; CHECK:         atomicrmw add ptr getelementptr inbounds ([16 x i64], ptr @snapshot_pass_counts, i64 0, i64 3), i64 1 monotonic
; CHECK-NEXT:    call void @llvm.memcpy.p0.p0.i64(ptr %p, ptr %src, i64 %n, i1 false)
; CHECK:         atomicrmw add ptr getelementptr inbounds ([16 x i64], ptr @snapshot_pass_counts, i64 0, i64 9), i64 1 monotonic
; CHECK-NEXT:    call void asm sideeffect
