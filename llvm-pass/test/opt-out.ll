; Functions opted out by the user are left alone: __attribute__((disable_sanitizer_instrumentation))
; and __attribute__((annotate("snapshot_no_instrument"))). Inline assembly is never instrumented
; (counted as unhandled). The pass is idempotent: a second run adds nothing.
; RUN: opt -load-pass-plugin=%plugin -passes=snapshot-instrument -snapshot-stats -S %s 2>%t.stats | FileCheck %s
; RUN: FileCheck %s --check-prefix=STATS < %t.stats
; RUN: opt -load-pass-plugin=%plugin -passes=snapshot-instrument,snapshot-instrument -S %s | FileCheck %s
; RUN: opt -load-pass-plugin=%plugin -passes=snapshot-instrument -snapshot-enable=false -S %s | FileCheck %s --check-prefix=DISABLED
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

@.str = private unnamed_addr constant [23 x i8] c"snapshot_no_instrument\00", section "llvm.metadata"
@.file = private unnamed_addr constant [6 x i8] c"x.c\00\00\00", section "llvm.metadata"
@llvm.global.annotations = appending global [1 x { ptr, ptr, ptr, i32, ptr }] [{ ptr, ptr, ptr, i32, ptr } { ptr @annotated, ptr @.str, ptr @.file, i32 1, ptr null }], section "llvm.metadata"

define void @plain(ptr %p) {
  store i32 1, ptr %p
  ret void
}
; CHECK-LABEL: define void @plain(
; CHECK-COUNT-1: call void @snap_track_slow(ptr %p, i64 4)
; CHECK-NOT: call void @snap_track_slow
; CHECK: ret void
; DISABLED-LABEL: define void @plain(
; DISABLED-NEXT: store i32 1, ptr %p
; DISABLED-NEXT: ret void

define void @no_sanitize(ptr %p) #0 {
  store i32 1, ptr %p
  ret void
}
; CHECK-LABEL: define void @no_sanitize(
; CHECK-NEXT: store i32 1, ptr %p
; CHECK-NEXT: ret void

define void @annotated(ptr %p) {
  store i32 1, ptr %p
  ret void
}
; CHECK-LABEL: define void @annotated(
; CHECK-NEXT: store i32 1, ptr %p
; CHECK-NEXT: ret void

define void @asm(ptr %p) {
  call void asm sideeffect "movl $$1, $0", "=*m"(ptr elementtype(i32) %p)
  ret void
}
; CHECK-LABEL: define void @asm(
; CHECK-NEXT: call void asm sideeffect
; CHECK-NEXT: ret void

; STATS: instrumented 1, {{.*}}unhandled 1

attributes #0 = { disable_sanitizer_instrumentation }
