#!/usr/bin/env bash
# ctest ycsb_c_replay_<kind>: replay tests/small.{load,run}.trace in a fresh directory; the replayer
# checks every result and exits non-zero on a failed check; here also the two CSV rows it prints.
#   replay-test.sh <ycsb_replay binary> <tests dir> <scratch dir>
set -euo pipefail
bin=$1 tests=$2 dir=$3
rm -rf "$dir"
mkdir -p "$dir"
out=$("$bin" --load "$tests/small.load.trace" --run "$tests/small.run.trace" --dir "$dir" --run-id 7)
echo "$out"
rows=$(echo "$out" | grep -c '^ycsb-c,' || true)
[ "$rows" = 2 ] || { echo "replay-test: expected 2 CSV rows, got $rows" >&2; exit 1; }
echo "$out" | grep -q '^ycsb-c,t-load,[a-z-]*,disk,1,12,12,7,' || { echo "replay-test: bad load row" >&2; exit 1; }
echo "$out" | grep -q '^ycsb-c,t,[a-z-]*,disk,1,12,25,7,' || { echo "replay-test: bad run row" >&2; exit 1; }
[ -z "$(ls -A "$dir")" ] || { echo "replay-test: the store's files were left in $dir" >&2; exit 1; }
rm -rf "$dir"
