#!/usr/bin/env bash
# The plugin's benchmark: btree_bench.c built without the plugin, with it, and with it but the
# line-bit test out of line; each run REPS times (variants interleaved), in the region and on the
# heap. Reports the median and best times and the slowdown (goal: <= 1.3x), the pass's static
# counts of writes instrumented and skipped, and — from a separate counting build
# (-snapshot-count-dynamic, linked with runtime/snapshot_count.c; never timed) — the dynamic counts:
# writes executed that were instrumented or skipped, hooks run, in the arena, slow path.
#   llvm-pass/bench/run-bench.sh [INSERTS [REPS]]
# Needs libsnapshot and the plugin (scripts/build: build/native, build/llvm-pass); override with
# SNAPSHOT_LIB_DIR and SNAPSHOT_PASS_PLUGIN.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
inserts=${1:-2000000}
reps=${2:-5}
lib=${SNAPSHOT_LIB_DIR:-$root/build/native}
plugin=${SNAPSHOT_PASS_PLUGIN:-}
if [ -z "$plugin" ]; then # the top-level build's, else a standalone build's
  plugin=$root/build/llvm-pass/libsnapshot-pass.so
  [ -f "$plugin" ] || plugin=$root/llvm-pass/build/libsnapshot-pass.so
fi
[ -f "$lib/libsnapshot.so" ] || { echo "run-bench: no $lib/libsnapshot.so (run scripts/build)" >&2; exit 2; }
[ -f "$plugin" ] || { echo "run-bench: no plugin at $plugin (run scripts/build)" >&2; exit 2; }
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
cc=(clang-19 -O2 -march=x86-64-v2 -I"$root/native/include" "$here/btree_bench.c" -L"$lib" -lsnapshot -Wl,-rpath,"$lib")

"${cc[@]}" -o "$out/plain"
"${cc[@]}" -fpass-plugin="$plugin" -o "$out/inst"
"${cc[@]}" -fplugin="$plugin" -fpass-plugin="$plugin" -mllvm -snapshot-inline-bit-test=false -o "$out/inst_call"
# The counting build: its counters runtime compiled without the plugin.
clang-19 -O2 -I"$here/../runtime" -c "$here/../runtime/snapshot_count.c" -o "$out/snapshot_count.o"
"${cc[@]}" -fplugin="$plugin" -fpass-plugin="$plugin" -mllvm -snapshot-count-dynamic "$out/snapshot_count.o" -o "$out/inst_count"
stats=$(clang-19 -O2 -march=x86-64-v2 -I"$root/native/include" -fplugin="$plugin" -fpass-plugin="$plugin" \
        -mllvm -snapshot-stats -c "$here/btree_bench.c" -o /dev/null 2>&1)

# Variants run in turn within each repetition, so that load from other processes hits all alike.
variants=(plain inst inst_call "plain --heap" "inst --heap")
declare -A times med best
for _ in $(seq "$reps"); do
  for v in "${variants[@]}"; do
    read -r bin flag <<<"$v"
    ms=$("$out/$bin" $flag "$inserts" | awk '{print $4}')
    times[$v]+="$ms "
  done
done
for v in "${variants[@]}"; do
  med[$v]=$(tr ' ' '\n' <<<"${times[$v]}" | grep . | sort -g | awk '{ a[NR] = $1 } END { printf "%.1f", NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
  best[$v]=$(tr ' ' '\n' <<<"${times[$v]}" | grep . | sort -g | head -1)
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a/b}'; }
row() { # label variant [baseline]
  if [ -n "${3:-}" ]; then
    printf '  %-56s %8s ms (best %8s)  %s (best %s)\n' "$1" "${med[$2]}" "${best[$2]}" \
      "$(ratio "${med[$2]}" "${med[$3]}")" "$(ratio "${best[$2]}" "${best[$3]}")"
  else
    printf '  %-56s %8s ms (best %8s)\n' "$1" "${med[$2]}" "${best[$2]}"
  fi
}
echo "B-tree inserts: $inserts, median of $reps runs, $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
row "region, not instrumented" plain
row "region, instrumented" inst plain
row "region, instrumented, -snapshot-inline-bit-test=false" inst_call plain
row "heap, not instrumented" "plain --heap"
row "heap, instrumented (the range check only)" "inst --heap" "plain --heap"
echo "  pass counts for btree_bench.c (static): ${stats#*: module *: }"
# Dynamic counts, from one run of the counting build in the region and one on the heap.
for flag in "" --heap; do
  rm -f "$out/counts"
  SNAPSHOT_COUNT_FILE="$out/counts" "$out/inst_count" $flag "$inserts" >/dev/null
  echo "  dynamic counts for btree_bench.c${flag:+ $flag} (counting build):"
  sed 's/^snapshot-count: /    /' "$out/counts"
done
# What a whole C code base looks like to the pass: libsnapshot's own sources (counted, not used).
sum=$(for f in "$root"/native/src/*.c "$root"/native/src/backend/*.c; do
        clang-19 -O2 -I"$root/native/include" -I"$root/native/src" -I"$root/native/src/backend" \
          -fplugin="$plugin" -fpass-plugin="$plugin" -mllvm -snapshot-stats -c "$f" -o /dev/null 2>&1 |
          grep '^snapshot-instrument:' || true
      done | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) { k = $(i-1); v = $i; sub(",", "", v); n[k] += v } }
                  END { printf "instrumented %d, skipped %d (stack %d, global %d, tls %d), hooks %d, merged %d, unhandled %d",
                        n["instrumented"], n["skipped"], n["skipped-stack"], n["skipped-global"], n["skipped-tls"], n["hooks"], n["merged"], n["unhandled"] }')
echo "  pass counts for libsnapshot's C sources (static): $sum"
