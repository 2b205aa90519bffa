; memset/memcpy/memmove intrinsics are tracked on their destination with their length operand,
; constant or dynamic (zero-extended to i64).
; RUN: opt -load-pass-plugin=%plugin -passes=snapshot-instrument -S %s | FileCheck %s
; RUN: opt -load-pass-plugin=%plugin -passes=snapshot-instrument -snapshot-instrument-memintrinsics=false -S %s | FileCheck %s --check-prefix=OFF
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

declare void @llvm.memset.p0.i64(ptr, i8, i64, i1)
declare void @llvm.memset.p0.i32(ptr, i8, i32, i1)
declare void @llvm.memcpy.p0.p0.i64(ptr, ptr, i64, i1)
declare void @llvm.memmove.p0.p0.i64(ptr, ptr, i64, i1)
declare void @llvm.memcpy.inline.p0.p0.i64(ptr, ptr, i64, i1)
declare void @llvm.memset.inline.p0.i64(ptr, i8, i64, i1)
declare void @llvm.memcpy.element.unordered.atomic.p0.p0.i64(ptr, ptr, i64, i32)

define void @constant_sizes(ptr %d, ptr %s) {
  call void @llvm.memset.p0.i64(ptr %d, i8 0, i64 100, i1 false)
  call void @llvm.memcpy.p0.p0.i64(ptr %d, ptr %s, i64 24, i1 false)
  call void @llvm.memmove.p0.p0.i64(ptr %d, ptr %s, i64 4096, i1 false)
  call void @llvm.memcpy.inline.p0.p0.i64(ptr %d, ptr %s, i64 16, i1 false)
  call void @llvm.memset.inline.p0.i64(ptr %d, i8 1, i64 8, i1 false)
  ret void
}
; CHECK-LABEL: define void @constant_sizes(
; CHECK: call void @llvm.memset.p0.i64(ptr %d, i8 0, i64 100, i1 false)
; CHECK: call void @snap_track_slow(ptr %d, i64 100)
; CHECK: call void @llvm.memcpy.p0.p0.i64(ptr %d, ptr %s, i64 24, i1 false)
; CHECK: call void @snap_track_slow(ptr %d, i64 24)
; CHECK: call void @llvm.memmove.p0.p0.i64(ptr %d, ptr %s, i64 4096, i1 false)
; CHECK: call void @snap_track_slow(ptr %d, i64 4096)
; CHECK: call void @llvm.memcpy.inline.p0.p0.i64(ptr %d, ptr %s, i64 16, i1 false)
; CHECK: call void @snap_track_slow(ptr %d, i64 16)
; CHECK: call void @llvm.memset.inline.p0.i64(ptr %d, i8 1, i64 8, i1 false)
; CHECK: call void @snap_track_slow(ptr %d, i64 8)
; CHECK: ret void
; OFF-LABEL: define void @constant_sizes(
; OFF-NOT: snap_track_slow
; OFF: ret void

define void @dynamic_sizes(ptr %d, ptr %s, i64 %n, i32 %m) {
  call void @llvm.memset.p0.i64(ptr %d, i8 0, i64 %n, i1 false)
  call void @llvm.memcpy.p0.p0.i64(ptr %d, ptr %s, i64 %n, i1 false)
  call void @llvm.memmove.p0.p0.i64(ptr %s, ptr %d, i64 %n, i1 true)
  call void @llvm.memset.p0.i32(ptr %d, i8 7, i32 %m, i1 false)
  call void @llvm.memcpy.element.unordered.atomic.p0.p0.i64(ptr align 8 %d, ptr align 8 %s, i64 %n, i32 8)
  ret void
}
; CHECK-LABEL: define void @dynamic_sizes(
; CHECK: call void @llvm.memset.p0.i64(ptr %d, i8 0, i64 %n, i1 false)
; CHECK: [[NM1:%.*]] = sub i64 %n, 1
; CHECK: icmp ult i64 {{%.*}}, 4096
; CHECK: call void @snap_track_slow(ptr %d, i64 %n)
; CHECK: call void @llvm.memcpy.p0.p0.i64(ptr %d, ptr %s, i64 %n, i1 false)
; CHECK: call void @snap_track_slow(ptr %d, i64 %n)
; CHECK: call void @llvm.memmove.p0.p0.i64(ptr %s, ptr %d, i64 %n, i1 true)
; CHECK: call void @snap_track_slow(ptr %s, i64 %n)
; CHECK: call void @llvm.memset.p0.i32(ptr %d, i8 7, i32 %m, i1 false)
; CHECK: [[M:%.*]] = zext i32 %m to i64
; CHECK: call void @snap_track_slow(ptr %d, i64 [[M]])
; CHECK: call void @llvm.memcpy.element.unordered.atomic.p0.p0.i64(
; CHECK: call void @snap_track_slow(ptr %d, i64 %n)
; CHECK: ret void

; Copying *from* a region is a read: only the destination is tracked, so a copy into a local
; buffer is skipped entirely.
define i64 @copy_out(ptr %region) {
  %buf = alloca [8 x i64]
  call void @llvm.memcpy.p0.p0.i64(ptr %buf, ptr %region, i64 64, i1 false)
  %r = load i64, ptr %buf
  ret i64 %r
}
; CHECK-LABEL: define i64 @copy_out(
; CHECK-NOT: snap_track_slow
; CHECK: ret i64
