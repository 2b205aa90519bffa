#!/usr/bin/env bash
# YCSB A-F on the C hash-table KV store (benchmarks/ycsb-c/README.md), Snapshot against PMDK on
# emulated persistent memory (/dev/shm, PMEM_IS_PMEM_FORCE=1):
#   benchmarks/ycsb-c/run-ycsb-c.sh [--quick] [--runs R] [--csv FILE]
#     full:    1,000,000 records, 1,000,000 ops; rows appended to benchmarks/results/ycsb-c.csv
#     --quick: 5,000 records, 5,000 ops; rows appended to <build>/ycsb-c-quick.csv (never results/)
#     --runs R repetitions (default 1); in each, every workload runs on both systems back to back,
#              in alternating order, so a change in machine load hits both.
# Traces are generated once (benchmarks/ycsb/trace.sh, needs a JDK and Maven) and cached under
# build/ycsb-traces/<records>-<ops>/. Environment: BENCH_BUILD_DIR (default build-bench, built Release
# like scripts/bench-core), YCSB_SHM_DIR (default /dev/shm), YCSB_CSV (where rows go), YCSB_WORKLOADS
# (default "a b c d e f"), YCSB_SYSTEMS (default "snapshot pmdk"), YCSB_NO_VERIFY=1 (replay with
# --no-verify: no comparisons inside the timed loop; the check after reopening still runs).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
die() { echo "run-ycsb-c: $*" >&2; exit 2; }
quick=0 runs=1
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --runs) [ $# -ge 2 ] && [[ $2 =~ ^[1-9][0-9]*$ ]] || die "--runs needs a count"; runs=$2; shift ;;
    --csv) [ $# -ge 2 ] || die "--csv needs a file"; YCSB_CSV=$2; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (try --help)" ;;
  esac
  shift
done
records=1000000 ops=1000000
[ $quick = 1 ] && records=5000 ops=5000

build=${BENCH_BUILD_DIR:-$root/build-bench}
"$root/scripts/build" "$build" -DCMAKE_BUILD_TYPE=Release -DSNAPSHOT_TESTS=OFF
systems=${YCSB_SYSTEMS:-snapshot pmdk}
for s in $systems; do
  [ -x "$build/benchmarks/ycsb-c/ycsb_replay_$s" ] || die "$build/benchmarks/ycsb-c/ycsb_replay_$s was not built"
done

if [ $quick = 1 ]; then
  csv=${YCSB_CSV:-$build/ycsb-c-quick.csv}
else
  mkdir -p "$root/benchmarks/results"
  csv=${YCSB_CSV:-$root/benchmarks/results/ycsb-c.csv}
fi
traces=$root/build/ycsb-traces/$records-$ops
workloads=${YCSB_WORKLOADS:-a b c d e f}
for w in $workloads; do
  if [ ! -s "$traces/$w.load.trace" ] || [ ! -s "$traces/$w.run.trace" ]; then
    "$root/benchmarks/ycsb/trace.sh" "$w" "$records" "$ops" "$traces"
  fi
done

shm=${YCSB_SHM_DIR:-/dev/shm}
# The region's DRAM copy, its file and PMDK's pool: about 1.2 GB each per million 1 KB records.
need_kb=$(( records * 3 * 12 / 10 + 1048576 ))
avail_kb=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
[ "$avail_kb" -gt "$need_kb" ] || die "about $((need_kb >> 10)) MiB of memory needed, $((avail_kb >> 10)) MiB available"

verify=()
[ "${YCSB_NO_VERIFY:-0}" = 1 ] && verify=(--no-verify)
export PMEM_IS_PMEM_FORCE=1
echo "run-ycsb-c: $records records, $ops ops, workloads $workloads, $runs run(s), systems $systems -> $csv" >&2
for ((run = 1; run <= runs; run++)); do
  order=$systems
  [ $((run % 2)) = 0 ] && order=$(echo "$systems" | tr ' ' '\n' | tac | tr '\n' ' ')
  for w in $workloads; do
    for s in $order; do
      dir=$(mktemp -d "$shm/ycsb-c.XXXXXX")
      status=0
      "$build/benchmarks/ycsb-c/ycsb_replay_$s" --load "$traces/$w.load.trace" --run "$traces/$w.run.trace" \
        --dir "$dir" --csv "$csv" --run-id "$run" "${verify[@]}" || status=$?
      rm -rf "$dir"
      [ $status = 0 ] || die "workload $w on $s failed (exit $status)"
    done
  done
done
echo "run-ycsb-c: rows appended to $csv" >&2
