; Every store is tracked with its true width: the DataLayout store size of the stored type (hooks
; not merged here, to see each store's own).
; RUN: opt -load-pass-plugin=%plugin -passes=snapshot-instrument -snapshot-merge-stores=false -S %s | FileCheck %s
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

%pair = type { i64, i32 }

define void @scalars(ptr %p, i8 %b, i16 %h, i32 %w, i64 %d, i1 %f, double %x, x86_fp80 %ld) {
  store i8 %b, ptr %p
  store i16 %h, ptr %p
  store i32 %w, ptr %p
  store i64 %d, ptr %p
  store i1 %f, ptr %p
  store double %x, ptr %p
  store x86_fp80 %ld, ptr %p
  store ptr %p, ptr %p
  ret void
}
; CHECK-LABEL: define void @scalars(
; CHECK: store i8 %b, ptr %p
; CHECK: call void @snap_track_slow(ptr %p, i64 1)
; CHECK: store i16 %h, ptr %p
; CHECK: call void @snap_track_slow(ptr %p, i64 2)
; CHECK: store i32 %w, ptr %p
; CHECK: call void @snap_track_slow(ptr %p, i64 4)
; CHECK: store i64 %d, ptr %p
; CHECK: call void @snap_track_slow(ptr %p, i64 8)
; CHECK: store i1 %f, ptr %p
; CHECK: call void @snap_track_slow(ptr %p, i64 1)
; CHECK: store double %x, ptr %p
; CHECK: call void @snap_track_slow(ptr %p, i64 8)
; CHECK: store x86_fp80 %ld, ptr %p
; CHECK: call void @snap_track_slow(ptr %p, i64 10)
; CHECK: store ptr %p, ptr %p
; CHECK: call void @snap_track_slow(ptr %p, i64 8)
; CHECK: ret void

define void @wide(ptr %p, i128 %q, <4 x i32> %v4, <8 x float> %v8, <16 x i32> %v16, <32 x i32> %v32, i256 %o) {
  store i128 %q, ptr %p, align 16
  store <4 x i32> %v4, ptr %p, align 16
  store <8 x float> %v8, ptr %p, align 32
  store <16 x i32> %v16, ptr %p, align 64
  store <32 x i32> %v32, ptr %p, align 64
  store i256 %o, ptr %p
  ret void
}
; CHECK-LABEL: define void @wide(
; CHECK: store i128 %q, ptr %p
; CHECK: call void @snap_track_slow(ptr %p, i64 16)
; CHECK: store <4 x i32> %v4, ptr %p
; CHECK: call void @snap_track_slow(ptr %p, i64 16)
; CHECK: store <8 x float> %v8, ptr %p
; CHECK: call void @snap_track_slow(ptr %p, i64 32)
; CHECK: store <16 x i32> %v16, ptr %p
; CHECK: call void @snap_track_slow(ptr %p, i64 64)
; A store wider than a line is still tested inline while it stays under one bitmap word.
; CHECK: store <32 x i32> %v32, ptr %p
; CHECK: %snap.last{{[0-9]*}} = add i64 %snap.off{{[0-9]*}}, 127
; CHECK: call void @snap_track_slow(ptr %p, i64 128)
; CHECK: store i256 %o, ptr %p
; CHECK: call void @snap_track_slow(ptr %p, i64 32)
; CHECK: ret void

define void @aggregates(ptr %p, %pair %s, [3 x i16] %a) {
  store %pair %s, ptr %p
  store [3 x i16] %a, ptr %p
  ret void
}
; CHECK-LABEL: define void @aggregates(
; CHECK: store %pair %s, ptr %p
; CHECK: call void @snap_track_slow(ptr %p, i64 16)
; CHECK: store [3 x i16] %a, ptr %p
; CHECK: call void @snap_track_slow(ptr %p, i64 6)
; CHECK: ret void

; Volatile, non-temporal and atomic stores, and a store through a GEP (tracked at its own address).
define void @kinds(ptr %p, i64 %v, i64 %i) {
  store volatile i64 %v, ptr %p
  store i64 %v, ptr %p, !nontemporal !0
  store atomic i64 %v, ptr %p seq_cst, align 8
  %q = getelementptr inbounds i64, ptr %p, i64 %i
  store i64 %v, ptr %q
  ret void
}
; CHECK-LABEL: define void @kinds(
; CHECK: store volatile i64 %v, ptr %p
; CHECK: call void @snap_track_slow(ptr %p, i64 8)
; CHECK: store i64 %v, ptr %p, align 8, !nontemporal
; CHECK: call void @snap_track_slow(ptr %p, i64 8)
; CHECK: store atomic i64 %v, ptr %p seq_cst
; CHECK: call void @snap_track_slow(ptr %p, i64 8)
; CHECK: store i64 %v, ptr %q
; CHECK: call void @snap_track_slow(ptr %q, i64 8)
; CHECK: ret void

; Scalable vectors: the size is vscale * the minimum size.
define void @scalable(ptr %p, <vscale x 4 x i32> %v) {
  store <vscale x 4 x i32> %v, ptr %p
  ret void
}
; CHECK-LABEL: define void @scalable(
; CHECK: store <vscale x 4 x i32> %v, ptr %p
; CHECK: [[VS:%.*]] = call i64 @llvm.vscale.i64()
; CHECK: [[N:%.*]] = mul i64 [[VS]], 16
; CHECK: call void @snap_track_slow(ptr %p, i64 [[N]])
; CHECK: ret void

!0 = !{i32 1}
