#!/usr/bin/env bash
# Run the B-tree benchmark for every kind on its media and append the rows to a CSV:
#   benchmarks/workloads/run-btree.sh [--quick] [--runs R] [--csv FILE]   (R: 3, or 1 with --quick)
# pm   (/dev/shm, PMEM_IS_PMEM_FORCE=1): snapshot, pmdk — 1,000,000 keys (--quick: 2,000)
# disk ($BENCH_DISK_DIR):                snapshot, wal-msync, msync — 20,000 keys (--quick: 500),
#      since every insert and delete there costs one or two device flushes; the records column
#      says which. Inserts also with 2 threads for snapshot and wal-msync on disk.
# Full runs append to benchmarks/results/btree.csv; --quick runs to $BENCH_BUILD_DIR/btree-quick.csv;
# --csv FILE chooses. Binaries come from $BENCH_BUILD_DIR (default build-bench, built here, Release, as
# scripts/bench does); disk files go to $BENCH_DISK_DIR (default $BENCH_BUILD_DIR/bench-tmp).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BENCH_BUILD_DIR:-$root/build-bench}
case $build in /*) ;; *) build=$root/$build ;; esac
bin=$build/benchmarks/workloads
disk=${BENCH_DISK_DIR:-$build/bench-tmp}
quick=0 runs= csv=
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1; shift ;;
    --runs) runs=$2; shift 2 ;;
    --csv) csv=$2; shift 2 ;;
    *) echo "usage: $0 [--quick] [--runs R] [--csv FILE]" >&2; exit 2 ;;
  esac
done
if [ $quick = 1 ]; then
  pm_records=2000 disk_records=500 runs=${runs:-1}
  csv=${csv:-$build/btree-quick.csv}
else
  pm_records=1000000 disk_records=20000 runs=${runs:-3}
  csv=${csv:-$root/benchmarks/results/btree.csv}
fi
"$root/scripts/build" "$build" -DCMAKE_BUILD_TYPE=Release -DSNAPSHOT_TESTS=OFF >&2
mkdir -p "$(dirname "$csv")" "$disk"
for kind in snapshot pmdk wal msync; do
  [ -x "$bin/bench_btree_$kind" ] || { echo "missing $bin/bench_btree_$kind (build the project first)" >&2; exit 1; }
done

status=0
bench() { # kind medium records threads op run
  local kind=$1 medium=$2 records=$3 threads=$4 op=$5 run=$6
  echo "== $kind $medium records=$records threads=$threads op=$op run=$run" >&2
  if [ "$medium" = pm ]; then
    PMEM_IS_PMEM_FORCE=1 "$bin/bench_btree_$kind" --records "$records" --op "$op" --threads "$threads" \
      --dir /dev/shm --csv "$csv" --run "$run" || status=1
  else
    env -u PMEM_IS_PMEM_FORCE "$bin/bench_btree_$kind" --records "$records" --op "$op" \
      --threads "$threads" --dir "$disk" --csv "$csv" --run "$run" || status=1
  fi
}

for run in $(seq 1 "$runs"); do
  for kind in snapshot pmdk; do bench $kind pm $pm_records 1 all "$run"; done
  for kind in snapshot wal msync; do bench $kind disk $disk_records 1 all "$run"; done
  for kind in snapshot wal; do bench $kind disk $disk_records 2 insert "$run"; done
done
echo "rows appended to $csv" >&2
exit $status
