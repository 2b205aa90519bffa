#!/usr/bin/env bash
# The plugin's benchmark: btree_bench.c built without the plugin, with it, and with it but the
# line-bit test out of line; each run REPS times (best time kept), in the region and on the heap.
# Reports the slowdown (goal: <= 1.3x) and the pass's counts of stores instrumented and skipped.
#   llvm-pass/bench/run-bench.sh [INSERTS [REPS]]
# Needs libsnapshot (scripts/build) and the plugin (llvm-pass/build); override with
# SNAPSHOT_LIB_DIR and SNAPSHOT_PASS_PLUGIN.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
inserts=${1:-2000000}
reps=${2:-5}
lib=${SNAPSHOT_LIB_DIR:-$root/build/native}
plugin=${SNAPSHOT_PASS_PLUGIN:-$root/llvm-pass/build/libsnapshot-pass.so}
[ -f "$lib/libsnapshot.so" ] || { echo "run-bench: no $lib/libsnapshot.so (run scripts/build)" >&2; exit 2; }
[ -f "$plugin" ] || { echo "run-bench: no plugin at $plugin (build llvm-pass)" >&2; exit 2; }
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
cc=(clang-19 -O2 -march=x86-64-v2 -I"$root/native/include" "$here/btree_bench.c" -L"$lib" -lsnapshot -Wl,-rpath,"$lib")

"${cc[@]}" -o "$out/plain"
"${cc[@]}" -fpass-plugin="$plugin" -o "$out/inst"
"${cc[@]}" -fplugin="$plugin" -fpass-plugin="$plugin" -mllvm -snapshot-inline-bit-test=false -o "$out/inst_call"
stats=$(clang-19 -O2 -march=x86-64-v2 -I"$root/native/include" -fplugin="$plugin" -fpass-plugin="$plugin" \
        -mllvm -snapshot-stats -c "$here/btree_bench.c" -o /dev/null 2>&1)

best() { # binary args... -> best ms of $reps runs
  local b=
  for _ in $(seq "$reps"); do
    local ms; ms=$("$@" | awk '{print $4}')
    if [ -z "$b" ] || awk -v a="$ms" -v b="$b" 'BEGIN{exit !(a<b)}'; then b=$ms; fi
  done
  echo "$b"
}
base=$(best "$out/plain" "$inserts")
inst=$(best "$out/inst" "$inserts")
call=$(best "$out/inst_call" "$inserts")
heap_plain=$(best "$out/plain" --heap "$inserts")
heap_inst=$(best "$out/inst" --heap "$inserts")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a/b}'; }
echo "B-tree inserts: $inserts, best of $reps runs, $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
printf '  %-46s %9s ms\n' "region, not instrumented" "$base"
printf '  %-46s %9s ms  %s\n' "region, instrumented (inline bit test)" "$inst" "$(ratio "$inst" "$base")"
printf '  %-46s %9s ms  %s\n' "region, instrumented (-snapshot-inline-bit-test=false)" "$call" "$(ratio "$call" "$base")"
printf '  %-46s %9s ms\n' "heap, not instrumented" "$heap_plain"
printf '  %-46s %9s ms  %s\n' "heap, instrumented (range check only)" "$heap_inst" "$(ratio "$heap_inst" "$heap_plain")"
echo "  static counts: ${stats#*: module *: }"
