; Stores to non-escaping stack objects are skipped (the stack is never inside the arena); a stack
; object whose address escapes is tracked, as is a pointer that may be either.
; RUN: opt -load-pass-plugin=%plugin -passes=snapshot-instrument -snapshot-stats -S %s 2>%t.stats | FileCheck %s
; RUN: FileCheck %s --check-prefix=STATS < %t.stats
; RUN: opt -load-pass-plugin=%plugin -passes=snapshot-instrument -snapshot-skip-stack=false -S %s | FileCheck %s --check-prefix=NOSKIP
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

declare void @escape(ptr)
declare void @llvm.memset.p0.i64(ptr, i8, i64, i1)

define i64 @local(i64 %v, i64 %i) {
  %a = alloca [8 x i64]
  %p = getelementptr inbounds [8 x i64], ptr %a, i64 0, i64 %i
  store i64 %v, ptr %p
  call void @llvm.memset.p0.i64(ptr %a, i8 0, i64 16, i1 false)
  %r = load i64, ptr %a
  ret i64 %r
}
; CHECK-LABEL: define i64 @local(
; CHECK-NOT: snap_track_slow
; CHECK: ret i64
; NOSKIP-LABEL: define i64 @local(
; NOSKIP: call void @snap_track_slow(ptr %p, i64 8)
; NOSKIP: call void @snap_track_slow(ptr %a, i64 16)
; NOSKIP: ret i64

define void @escaping(i64 %v) {
  %a = alloca i64
  call void @escape(ptr %a)
  store i64 %v, ptr %a
  ret void
}
; CHECK-LABEL: define void @escaping(
; CHECK: store i64 %v, ptr %a
; CHECK: call void @snap_track_slow(ptr %a, i64 8)
; CHECK: ret void

; Stored somewhere: escapes too.
define void @stored_away(ptr %slot, i32 %v) {
  %a = alloca i32
  store ptr %a, ptr %slot
  store i32 %v, ptr %a
  ret void
}
; CHECK-LABEL: define void @stored_away(
; CHECK: store ptr %a, ptr %slot
; CHECK: call void @snap_track_slow(ptr %slot, i64 8)
; CHECK: store i32 %v, ptr %a
; CHECK: call void @snap_track_slow(ptr %a, i64 4)
; CHECK: ret void

; Either of two local objects: skipped. A local object or the caller's pointer: tracked.
define i32 @select_locals(i1 %c, i32 %v) {
  %a = alloca i32
  %b = alloca i32
  %p = select i1 %c, ptr %a, ptr %b
  store i32 %v, ptr %p
  %r = load i32, ptr %a
  ret i32 %r
}
; CHECK-LABEL: define i32 @select_locals(
; CHECK-NOT: snap_track_slow
; CHECK: ret i32

define void @phi_local_or_arg(i1 %c, ptr %q, i32 %v) {
entry:
  %a = alloca i32
  br i1 %c, label %l, label %join
l:
  br label %join
join:
  %p = phi ptr [ %a, %entry ], [ %q, %l ]
  store i32 %v, ptr %p
  ret void
}
; CHECK-LABEL: define void @phi_local_or_arg(
; CHECK: store i32 %v, ptr %p
; CHECK: call void @snap_track_slow(ptr %p, i64 4)
; CHECK: ret void

; STATS: snapshot-instrument: module {{.*}}skip-stack.ll: instrumented 5, skipped 4, stores 5, {{.*}}skipped-stack 4,

; A byval argument is a stack copy private to the callee: skipped. An sret pointer may point into a
; region (the caller's destination): tracked.
%big = type { [8 x i64] }
define void @byval_arg(ptr byval(%big) align 8 %b, i64 %v) {
  store i64 %v, ptr %b
  ret void
}
; CHECK-LABEL: define void @byval_arg(
; CHECK-NOT: snap_track_slow
; CHECK: ret void
define void @sret_arg(ptr sret(%big) align 8 %r, i64 %v) {
  store i64 %v, ptr %r
  ret void
}
; CHECK-LABEL: define void @sret_arg(
; CHECK: call void @snap_track_slow(ptr %r, i64 8)
; CHECK: ret void
