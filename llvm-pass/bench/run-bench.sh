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

# Variants run in turn within each repetition, so that load from other processes hits all alike.
variants=(plain inst inst_call "plain --heap" "inst --heap")
declare -A best
for _ in $(seq "$reps"); do
  for v in "${variants[@]}"; do
    read -r bin flag <<<"$v"
    ms=$("$out/$bin" $flag "$inserts" | awk '{print $4}')
    if [ -z "${best[$v]:-}" ] || awk -v a="$ms" -v b="${best[$v]}" 'BEGIN{exit !(a<b)}'; then best[$v]=$ms; fi
  done
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a/b}'; }
echo "B-tree inserts: $inserts, best of $reps runs, $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
printf '  %-56s %8s ms\n' "region, not instrumented" "${best[plain]}"
printf '  %-56s %8s ms  %s\n' "region, instrumented" "${best[inst]}" "$(ratio "${best[inst]}" "${best[plain]}")"
printf '  %-56s %8s ms  %s\n' "region, instrumented, -snapshot-inline-bit-test=false" "${best[inst_call]}" "$(ratio "${best[inst_call]}" "${best[plain]}")"
printf '  %-56s %8s ms\n' "heap, not instrumented" "${best[plain --heap]}"
printf '  %-56s %8s ms  %s\n' "heap, instrumented (the range check only)" "${best[inst --heap]}" "$(ratio "${best[inst --heap]}" "${best[plain --heap]}")"
echo "  pass counts for btree_bench.c: ${stats#*: module *: }"
# What a whole C code base looks like to the pass: libsnapshot's own sources (counted, not used).
sum=$(for f in "$root"/native/src/*.c "$root"/native/src/backend/*.c; do
        clang-19 -O2 -I"$root/native/include" -I"$root/native/src" -I"$root/native/src/backend" \
          -fplugin="$plugin" -fpass-plugin="$plugin" -mllvm -snapshot-stats -c "$f" -o /dev/null 2>&1 |
          grep '^snapshot-instrument:' || true
      done | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) { k = $(i-1); v = $i; sub(",", "", v); n[k] += v } }
                  END { printf "instrumented %d, skipped %d (stack %d, global %d, tls %d), hooks %d, merged %d, unhandled %d",
                        n["instrumented"], n["skipped"], n["skipped-stack"], n["skipped-global"], n["skipped-tls"], n["hooks"], n["merged"], n["unhandled"] }')
echo "  pass counts for libsnapshot's C sources (static): $sum"
