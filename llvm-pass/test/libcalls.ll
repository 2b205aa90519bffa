; libc calls that write a caller's buffer are tracked on that buffer: memcpy/memmove/memset (also
; with -fno-builtin, where they stay calls), the string copies (strlen(dest) + 1 measured after the
; call, only for a destination inside the arena), and read/fread/snprintf (their size argument).
; RUN: opt -load-pass-plugin=%plugin -passes=snapshot-instrument -S %s | FileCheck %s
; RUN: opt -load-pass-plugin=%plugin -passes=snapshot-instrument -snapshot-instrument-libcalls=false -S %s | FileCheck %s --check-prefix=OFF
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

declare ptr @memcpy(ptr, ptr, i64)
declare ptr @memmove(ptr, ptr, i64)
declare ptr @memset(ptr, i32, i64)
declare ptr @mempcpy(ptr, ptr, i64)
declare void @bzero(ptr, i64)
declare ptr @strcpy(ptr, ptr)
declare ptr @strncpy(ptr, ptr, i64)
declare i64 @read(i32, ptr, i64)
declare i64 @fread(ptr, i64, i64, ptr)
declare i32 @snprintf(ptr, i64, ptr, ...)
declare ptr @my_copy(ptr, ptr, i64)

define void @mem(ptr %d, ptr %s, i64 %n) {
  %1 = call ptr @memcpy(ptr %d, ptr %s, i64 %n)
  %2 = call ptr @memmove(ptr %d, ptr %s, i64 40)
  %3 = call ptr @memset(ptr %d, i32 0, i64 %n) #0
  %4 = call ptr @mempcpy(ptr %d, ptr %s, i64 %n)
  call void @bzero(ptr %d, i64 12)
  ret void
}
; CHECK-LABEL: define void @mem(
; CHECK: call ptr @memcpy(ptr %d, ptr %s, i64 %n)
; CHECK: call void @snap_track_slow(ptr %d, i64 %n)
; CHECK: call ptr @memmove(ptr %d, ptr %s, i64 40)
; CHECK: call void @snap_track_slow(ptr %d, i64 40)
; CHECK: call ptr @memset(ptr %d, i32 0, i64 %n)
; CHECK: call void @snap_track_slow(ptr %d, i64 %n)
; CHECK: call ptr @mempcpy(ptr %d, ptr %s, i64 %n)
; CHECK: call void @snap_track_slow(ptr %d, i64 %n)
; CHECK: call void @bzero(ptr %d, i64 12)
; CHECK: call void @snap_track_slow(ptr %d, i64 12)
; CHECK: ret void
; OFF-LABEL: define void @mem(
; OFF-NOT: snap_track_slow
; OFF: ret void

define void @strings(ptr %d, ptr %s, i64 %n) {
  %1 = call ptr @strcpy(ptr %d, ptr %s)
  %2 = call ptr @strncpy(ptr %d, ptr %s, i64 %n)
  %3 = call i32 (ptr, i64, ptr, ...) @snprintf(ptr %d, i64 32, ptr %s, i32 1)
  ret void
}
; CHECK-LABEL: define void @strings(
; CHECK: call ptr @strcpy(ptr %d, ptr %s)
; CHECK: br i1 %snap.in, label %snap.in_arena
; CHECK: snap.in_arena:
; CHECK-NEXT: [[L:%.*]] = call i64 @strlen(ptr %d)
; CHECK-NEXT: [[L1:%.*]] = add i64 [[L]], 1
; CHECK: call void @snap_track_slow(ptr %d, i64 [[L1]])
; CHECK: call ptr @strncpy(ptr %d, ptr %s, i64 %n)
; CHECK: call void @snap_track_slow(ptr %d, i64 %n)
; CHECK: call i32 (ptr, i64, ptr, ...) @snprintf(ptr %d, i64 32
; CHECK: call void @snap_track_slow(ptr %d, i64 32)
; CHECK: ret void

define void @io(i32 %fd, ptr %buf, i64 %n, ptr %f) {
  %1 = call i64 @read(i32 %fd, ptr %buf, i64 %n)
  %2 = call i64 @fread(ptr %buf, i64 8, i64 %n, ptr %f)
  ret void
}
; CHECK-LABEL: define void @io(
; CHECK: call i64 @read(i32 %fd, ptr %buf, i64 %n)
; CHECK: call void @snap_track_slow(ptr %buf, i64 %n)
; CHECK: call i64 @fread(ptr %buf, i64 8, i64 %n, ptr %f)
; CHECK: [[B:%.*]] = mul i64 8, %n
; CHECK: call void @snap_track_slow(ptr %buf, i64 [[B]])
; CHECK: ret void

; An unknown function is not a libc call: it is tracked where it is compiled.
define void @other(ptr %d, ptr %s) {
  %1 = call ptr @my_copy(ptr %d, ptr %s, i64 8)
  ret void
}
; CHECK-LABEL: define void @other(
; CHECK-NOT: snap_track_slow
; CHECK: ret void

attributes #0 = { nobuiltin }
