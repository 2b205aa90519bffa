; A writing call that can unwind (an invoke, as in C++ with exceptions) is tracked on its normal
; edge only: on the unwind edge nothing was written (or the write is reported by the callee's own
; instrumentation). A musttail call cannot be followed by anything: counted as unhandled.
; RUN: opt -load-pass-plugin=%plugin -passes=snapshot-instrument -snapshot-stats -S %s 2>%t.stats | FileCheck %s
; RUN: FileCheck %s --check-prefix=STATS < %t.stats
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

declare i64 @read(i32, ptr, i64)
declare ptr @memcpy(ptr, ptr, i64)
declare i32 @__gxx_personality_v0(...)

define i64 @reader(i32 %fd, ptr %buf, i64 %n) personality ptr @__gxx_personality_v0 {
entry:
  %r = invoke i64 @read(i32 %fd, ptr %buf, i64 %n) to label %ok unwind label %lp
ok:
  ret i64 %r
lp:
  %e = landingpad { ptr, i32 } cleanup
  resume { ptr, i32 } %e
}
; CHECK-LABEL: define i64 @reader(
; CHECK: %r = invoke i64 @read(i32 %fd, ptr %buf, i64 %n)
; CHECK-NEXT: to label %[[SPLIT:.*]] unwind label %lp
; CHECK: [[SPLIT]]:
; CHECK-NEXT: %snap.addr = ptrtoint ptr %buf to i64
; CHECK: call void @snap_track_slow(ptr %buf, i64 %n)
; CHECK: ok:
; CHECK-NEXT: ret i64 %r
; CHECK: lp:
; CHECK-NOT: snap_track_slow
; CHECK: resume

define ptr @tail(ptr %d, ptr %s, i64 %n) {
  %r = musttail call ptr @memcpy(ptr %d, ptr %s, i64 %n)
  ret ptr %r
}
; CHECK-LABEL: define ptr @tail(
; CHECK-NEXT: musttail call ptr @memcpy
; CHECK-NEXT: ret ptr %r

; STATS: instrumented 1, {{.*}}unhandled 1
