; The exact code the pass injects after a store: the inline range check against the arena, the
; inline slot lookup and line-bit test, and the call to the runtime only for an unmarked line.
; RUN: opt -load-pass-plugin=%plugin -passes=snapshot-instrument -S %s | FileCheck %s
; RUN: opt -load-pass-plugin=%plugin -passes=snapshot-instrument -snapshot-inline-bit-test=false -S %s | FileCheck %s --check-prefix=CALL

; CHECK-DAG: @snap_arena_lo = external global i64
; CHECK-DAG: @snap_arena_len = external global i64
; CHECK-DAG: @snap_arena_slots = external global ptr

define void @store_i64(ptr %p, i64 %v) {
  store i64 %v, ptr %p, align 8
  ret void
}
; CHECK-LABEL: define void @store_i64(
; CHECK-NEXT:    store i64 %v, ptr %p, align 8
; CHECK-NEXT:    %snap.addr = ptrtoint ptr %p to i64
; CHECK-NEXT:    %snap.arena.len = load atomic i64, ptr @snap_arena_len acquire, align 8
; CHECK-NEXT:    %snap.arena.lo = load atomic i64, ptr @snap_arena_lo monotonic, align 8
; CHECK-NEXT:    %snap.rel = sub i64 %snap.addr, %snap.arena.lo
; CHECK-NEXT:    %snap.in = icmp ult i64 %snap.rel, %snap.arena.len
; CHECK-NEXT:    br i1 %snap.in, label %snap.in_arena, label %[[CONT:.*]], !prof ![[UNLIKELY:[0-9]+]]
; CHECK:       snap.in_arena:
; CHECK-NEXT:    %snap.slots = load atomic ptr, ptr @snap_arena_slots monotonic, align 8
; CHECK-NEXT:    [[IDX:%.*]] = lshr i64 %snap.rel, 30
; CHECK-NEXT:    %snap.slot = getelementptr { i64, i64, ptr }, ptr %snap.slots, i64 [[IDX]]
; CHECK:         %snap.dirty = load atomic ptr, ptr {{.*}} monotonic, align 8
; CHECK:         %snap.base = load atomic i64, ptr {{.*}} monotonic, align 8
; CHECK:         %snap.size = load atomic i64, ptr {{.*}} monotonic, align 8
; CHECK-NEXT:    %snap.off = sub i64 %snap.addr, %snap.base
; CHECK-NEXT:    [[HASMAP:%.*]] = icmp ne ptr %snap.dirty, null
; CHECK-NEXT:    [[INSIDE:%.*]] = icmp ult i64 %snap.off, %snap.size
; CHECK-NEXT:    %snap.fast = and i1 [[HASMAP]], [[INSIDE]]
; CHECK-NEXT:    br i1 %snap.fast, label %snap.test, label %snap.slow, !prof ![[LIKELY:[0-9]+]]
; An aligned 8-byte store cannot span lines: one bit to test.
; CHECK:       snap.test:
; CHECK-NEXT:    %snap.line = lshr i64 %snap.off, 6
; CHECK-NEXT:    [[W:%.*]] = lshr i64 %snap.line, 6
; CHECK-NEXT:    [[WP:%.*]] = getelementptr i64, ptr %snap.dirty, i64 [[W]]
; CHECK-NEXT:    %snap.word = load atomic i64, ptr [[WP]] acquire, align 8
; CHECK-NEXT:    [[B:%.*]] = and i64 %snap.line, 63
; CHECK-NEXT:    [[BIT:%.*]] = shl i64 1, [[B]]
; CHECK-NEXT:    [[SET:%.*]] = and i64 %snap.word, [[BIT]]
; CHECK-NEXT:    %snap.marked = icmp ne i64 [[SET]], 0
; CHECK-NEXT:    br i1 %snap.marked, label %[[CONT]], label %snap.slow, !prof ![[LIKELY]]
; CHECK:       snap.slow:
; CHECK-NEXT:    call void @snap_track_slow(ptr %p, i64 8)
; CHECK-NEXT:    br label %[[CONT]]
; CHECK:       [[CONT]]:
; CHECK-NEXT:    ret void

; A write that may span lines (unaligned, or of any size up to 4 KiB): inline while its first and
; last lines share a bitmap word, and then every bit between them must be set.
define void @copy_n(ptr %p, ptr %q, i64 %n) {
  call void @llvm.memcpy.p0.p0.i64(ptr %p, ptr %q, i64 %n, i1 false)
  ret void
}
declare void @llvm.memcpy.p0.p0.i64(ptr, ptr, i64, i1)
; CHECK-LABEL: define void @copy_n(
; CHECK:         %snap.off = sub i64 %snap.addr, %snap.base
; CHECK:         [[NM1:%.*]] = sub i64 %n, 1
; CHECK-NEXT:    %snap.last = add i64 %snap.off, [[NM1]]
; CHECK-NEXT:    [[NM1B:%.*]] = sub i64 %n, 1
; CHECK-NEXT:    [[FITS:%.*]] = icmp ult i64 [[NM1B]], 4096
; CHECK-NEXT:    [[W0:%.*]] = lshr i64 %snap.off, 12
; CHECK-NEXT:    [[W1:%.*]] = lshr i64 %snap.last, 12
; CHECK-NEXT:    [[SAME:%.*]] = icmp eq i64 [[W0]], [[W1]]
; CHECK-NEXT:    [[C:%.*]] = and i1 [[SAME]], [[FITS]]
; CHECK-NEXT:    %snap.fast = and i1 {{%.*}}, [[C]]
; CHECK:       snap.test:
; CHECK:         %snap.word = load atomic i64, ptr {{.*}} acquire, align 8
; CHECK:         %snap.mask = and i64
; CHECK-NEXT:    [[M:%.*]] = and i64 %snap.word, %snap.mask
; CHECK-NEXT:    %snap.marked = icmp eq i64 [[M]], %snap.mask
; CHECK:       snap.slow:
; CHECK-NEXT:    call void @snap_track_slow(ptr %p, i64 %n)

; A constant size needs no length check: only "same word".
define void @unaligned_i64(ptr %p, i64 %v) {
  store i64 %v, ptr %p, align 1
  ret void
}
; CHECK-LABEL: define void @unaligned_i64(
; CHECK:         %snap.last = add i64 %snap.off, 7
; CHECK-NEXT:    [[W0:%.*]] = lshr i64 %snap.off, 12
; CHECK-NEXT:    [[W1:%.*]] = lshr i64 %snap.last, 12
; CHECK-NEXT:    [[SAME:%.*]] = icmp eq i64 [[W0]], [[W1]]
; CHECK-NEXT:    %snap.fast = and i1 {{%.*}}, [[SAME]]

; CHECK-DAG: declare void @snap_track_slow(ptr, i64) #[[NOUNWIND:[0-9]+]]
; CHECK-DAG: attributes #[[NOUNWIND]] = { nounwind }
; CHECK-DAG: ![[UNLIKELY]] = !{!"branch_weights", i32 1, i32 {{[0-9]+}}}
; CHECK-DAG: ![[LIKELY]] = !{!"branch_weights", i32 {{[0-9]+}}, i32 1}

; With the bit test out of line: only the range check inline, every in-arena store calls.
; CALL-LABEL: define void @store_i64(
; CALL:         %snap.in = icmp ult i64 %snap.rel, %snap.arena.len
; CALL-NEXT:    br i1 %snap.in, label %snap.in_arena, label %[[CONT:.*]], !prof
; CALL:       snap.in_arena:
; CALL-NEXT:    call void @snap_track_slow(ptr %p, i64 8)
; CALL-NEXT:    br label %[[CONT]]
; CALL-NOT:   snap.test
