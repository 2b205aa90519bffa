; The plugin puts the pass at the end of the default pipelines (OptimizerLastEP), also at -O0, where
; it must run because it is required (functions are optnone there).
; RUN: opt -load-pass-plugin=%plugin -passes='default<O2>' -print-pipeline-passes -disable-output %s | FileCheck %s --check-prefix=O2
; RUN: opt -load-pass-plugin=%plugin -passes='default<O0>' -print-pipeline-passes -disable-output %s | FileCheck %s --check-prefix=O0
; RUN: opt -load-pass-plugin=%plugin -passes='default<O0>' -S %s | FileCheck %s
; RUN: opt -load-pass-plugin=%plugin -passes='default<O3>' -S %s | FileCheck %s
target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

; O2: {{.*}}speculate-unpredictables>),snapshot-instrument,globaldce,
; O0: always-inline,{{.*}}),snapshot-instrument,function(annotation-remarks)

define void @f(ptr %p, i64 %v) #0 {
  store i64 %v, ptr %p
  ret void
}
; CHECK-LABEL: define void @f(
; CHECK: call void @snap_track_slow(ptr %p, i64 8)

attributes #0 = { noinline optnone }
