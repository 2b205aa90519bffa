; Masked and vector-predicated stores are tracked over the whole vector (a superset of the enabled
; lanes); a scatter gets one hook per lane, on the frozen lane pointer, with the element's size.
; RUN: opt -load-pass-plugin=%plugin -passes=snapshot-instrument -S %s | FileCheck %s
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

declare void @llvm.masked.store.v8i32.p0(<8 x i32>, ptr, i32, <8 x i1>)
declare void @llvm.masked.scatter.v4i64.v4p0(<4 x i64>, <4 x ptr>, i32, <4 x i1>)
declare void @llvm.masked.compressstore.v4f64(<4 x double>, ptr, <4 x i1>)
declare void @llvm.vp.store.v4i32.p0(<4 x i32>, ptr, <4 x i1>, i32)

define void @masked_store(ptr %p, <8 x i32> %v, <8 x i1> %m) {
  call void @llvm.masked.store.v8i32.p0(<8 x i32> %v, ptr %p, i32 4, <8 x i1> %m)
  ret void
}
; CHECK-LABEL: define void @masked_store(
; CHECK: call void @llvm.masked.store.v8i32.p0(<8 x i32> %v, ptr %p, i32 4, <8 x i1> %m)
; CHECK: call void @snap_track_slow(ptr %p, i64 32)
; CHECK: ret void

define void @scatter(<4 x ptr> %ps, <4 x i64> %v, <4 x i1> %m) {
  call void @llvm.masked.scatter.v4i64.v4p0(<4 x i64> %v, <4 x ptr> %ps, i32 8, <4 x i1> %m)
  ret void
}
; CHECK-LABEL: define void @scatter(
; CHECK: call void @llvm.masked.scatter.v4i64.v4p0(
; CHECK: [[E0:%.*]] = extractelement <4 x ptr> %ps, i64 0
; CHECK-NEXT: [[L0:%.*]] = freeze ptr [[E0]]
; CHECK: [[E1:%.*]] = extractelement <4 x ptr> %ps, i64 1
; CHECK-NEXT: [[L1:%.*]] = freeze ptr [[E1]]
; CHECK: [[E2:%.*]] = extractelement <4 x ptr> %ps, i64 2
; CHECK-NEXT: [[L2:%.*]] = freeze ptr [[E2]]
; CHECK: [[E3:%.*]] = extractelement <4 x ptr> %ps, i64 3
; CHECK-NEXT: [[L3:%.*]] = freeze ptr [[E3]]
; CHECK: call void @snap_track_slow(ptr [[L0]], i64 8)
; CHECK: call void @snap_track_slow(ptr [[L1]], i64 8)
; CHECK: call void @snap_track_slow(ptr [[L2]], i64 8)
; CHECK: call void @snap_track_slow(ptr [[L3]], i64 8)
; CHECK: ret void

define void @compress_vp(ptr %p, <4 x double> %d, <4 x i32> %w, <4 x i1> %m, i32 %evl) {
  call void @llvm.masked.compressstore.v4f64(<4 x double> %d, ptr %p, <4 x i1> %m)
  call void @llvm.vp.store.v4i32.p0(<4 x i32> %w, ptr %p, <4 x i1> %m, i32 %evl)
  ret void
}
; CHECK-LABEL: define void @compress_vp(
; CHECK: call void @llvm.masked.compressstore.v4f64(
; CHECK: call void @snap_track_slow(ptr %p, i64 32)
; CHECK: call void @llvm.vp.store.v4i32.p0(
; CHECK: call void @snap_track_slow(ptr %p, i64 16)
; CHECK: ret void

; A scatter into a stack array is still tracked: CaptureTracking counts the scatter's vector of
; pointers as a capture of the array, so the pass cannot prove it stays local (conservative).
define i64 @scatter_local(<4 x i64> %idx, <4 x i64> %v, <4 x i1> %m) {
  %a = alloca [16 x i64]
  %ps = getelementptr i64, ptr %a, <4 x i64> %idx
  call void @llvm.masked.scatter.v4i64.v4p0(<4 x i64> %v, <4 x ptr> %ps, i32 8, <4 x i1> %m)
  %r = load i64, ptr %a
  ret i64 %r
}
; CHECK-LABEL: define i64 @scatter_local(
; CHECK-COUNT-4: call void @snap_track_slow(ptr %snap.lane{{[0-9]*}}, i64 8)
; CHECK: ret i64

; A masked store into a non-escaping stack array is skipped.
define <8 x i32> @masked_local(<8 x i32> %v, <8 x i1> %m) {
  %a = alloca <8 x i32>
  call void @llvm.masked.store.v8i32.p0(<8 x i32> %v, ptr %a, i32 4, <8 x i1> %m)
  %r = load <8 x i32>, ptr %a
  ret <8 x i32> %r
}
; CHECK-LABEL: define <8 x i32> @masked_local(
; CHECK-NOT: snap_track_slow
; CHECK: ret <8 x i32>
