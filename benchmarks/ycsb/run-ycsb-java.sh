#!/usr/bin/env bash
# YCSB (its own Client, load then run, one thread) on the Java bindings of benchmarks/ycsb/bindings:
#   snapmap   pm (/dev/shm, PMEM_IS_PMEM_FORCE=1) and disk     Snapshot's PersistentSortedMap (B+tree)
#   snapshot  pm and disk                                      a hash table on a PersistentRegion
#   llpl      pm                                               Intel LLPL 1.2 TransactionalHeap
#   lmdbjava  pm (a directory on /dev/shm) and disk            LMDB, sync commits
#   mapdb     pm (a file on /dev/shm) and disk                 MapDB 3.1 BTreeMap, WAL, commit per write
# Usage: benchmarks/ycsb/run-ycsb-java.sh [--quick] [--runs R] [--csv FILE] [--workloads a,b,..]
#            [--records N] [--ops M] [--disk-records N] [--disk-ops M] [--systems LIST]
# Full run: 1,000,000 records / 1,000,000 operations on pm and 20,000 / 20,000 on disk (every
# disk commit waits for the device: a full-size disk run would take hours), workloads a..f, 3 runs,
# the systems in a rotating order each run; rows appended to benchmarks/results/ycsb-java.csv.
# --quick: 2,000 / 2,000 everywhere, 1 run, rows to $BENCH_BUILD_DIR/ycsb-java/ycsb-java-quick.csv.
# CSV: suite,workload,system,medium,threads,records,ops,run,seconds,ops_per_sec (the run phase;
# seconds and ops/sec are YCSB's [OVERALL] RunTime and Throughput). Progress goes to stderr.
# The bindings are a Maven consumer of the Snapshot jar: this script runs `mvn -DskipTests install` at
# the top level (SNAPSHOT_INSTALLED=1: the caller has), then builds them against the local repository.
# Environment: JAVA (default java), BENCH_BUILD_DIR (work files; default build-bench),
# BENCH_DISK_DIR (default $BENCH_BUILD_DIR/bench-tmp; must be a real disk), SNAPSHOT_POPULATE
# (default true: the Snapshot bindings fault in their region at open, Options.populate; false for the
# before/after comparison). --csv FILE: where the rows go.
set -euo pipefail

die() { echo "run-ycsb-java.sh: $*" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=${BENCH_BUILD_DIR:-$repo/build-bench}/ycsb-java

quick=0 runs=3 csv= workloads=a,b,c,d,e,f records=1000000 ops=1000000 drecords=20000 dops=20000
systems=snapmap-pm,snapmap-disk,snapshot-pm,snapshot-disk,llpl-pm,lmdbjava-pm,lmdbjava-disk,mapdb-pm,mapdb-disk
set_counts=0
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --runs) runs=${2:?}; shift ;;
    --csv) csv=${2:?}; shift ;;
    --workloads) workloads=${2:?}; shift ;;
    --records) records=${2:?}; set_counts=1; shift ;;
    --ops) ops=${2:?}; set_counts=1; shift ;;
    --disk-records) drecords=${2:?}; shift ;;
    --disk-ops) dops=${2:?}; shift ;;
    --systems) systems=${2:?}; shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (--help)" ;;
  esac
  shift
done
if [ $quick = 1 ]; then
  runs=1
  [ $set_counts = 1 ] || records=2000 ops=2000
  drecords=$records dops=$ops
  csv=${csv:-$work/ycsb-java-quick.csv}
else
  csv=${csv:-$repo/benchmarks/results/ycsb-java.csv}
fi
for n in "$runs" "$records" "$ops" "$drecords" "$dops"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || die "counts and runs must be positive integers, not '$n'"
done
IFS=, read -r -a wl <<<"$workloads"
for w in "${wl[@]}"; do [[ $w =~ ^[a-f]$ ]] || die "workloads are a..f, not '$w'"; done
IFS=, read -r -a sys <<<"$systems"
for s in "${sys[@]}"; do
  case $s in
    snapmap-pm|snapmap-disk|snapshot-pm|snapshot-disk|llpl-pm|lmdbjava-pm|lmdbjava-disk|mapdb-pm|mapdb-disk) ;;
    *) die "unknown system '$s'" ;; esac
done

# LLPL's libllpl.so (inside its jar) links libpmemobj.so.1 and libpmempool.so.1; the latter is
# not among Snapshot's own dependencies. Say so before a run, not as a stack trace in a log.
# (grep without -q: under pipefail, -q quitting early would SIGPIPE ldconfig and fail the test)
if [[ ,$systems, == *,llpl-pm,* ]] && ! ldconfig -p | grep 'libpmempool\.so\.1 ' >/dev/null; then
  die "llpl needs libpmempool.so.1 (Debian: apt-get install libpmempool1), or leave llpl-pm out (--systems)"
fi

if [ "${SNAPSHOT_INSTALLED:-0}" != 1 ]; then
  echo "run-ycsb-java.sh: installing the Snapshot jar in the local Maven repository (mvn install)" >&2
  (cd "$repo" && mvn -B -ntp -q -DskipTests install >&2) || die "mvn install of the Snapshot jar failed"
fi
echo "run-ycsb-java.sh: building the bindings (mvn, benchmarks/ycsb)" >&2
mvn -B -ntp -q -f "$here/pom.xml" -DskipTests package >&2 || die "maven build failed"
cp="$here/bindings/build/ycsb-bindings.jar:$here/bindings/build/lib/*" # lib/: snapshot-*.jar, javacpp...

mkdir -p "$work" "$(dirname "$csv")"
disk=${BENCH_DISK_DIR:-${BENCH_BUILD_DIR:-$repo/build-bench}/bench-tmp}/ycsb-java
shm=$(mktemp -d /dev/shm/ycsb-java.XXXXXX)
mkdir -p "$disk"
disk=$(mktemp -d "$disk/run.XXXXXX")
trap 'rm -rf "$shm" "$disk"' EXIT
[ -f "$csv" ] || echo "suite,workload,system,medium,threads,records,ops,run,seconds,ops_per_sec" >"$csv"

# One YCSB phase. $1: -load or -t, $2: workload, $3: expected operations, then the binding's
# -db and -p arguments. Fails unless every operation returned OK; prints "seconds ops_per_sec".
phase() {
  local flag=$1 w=$2 want=$3 log
  shift 3
  log=$work/last-$w${flag}.log
  # --add-opens: lmdbjava reaches into java.nio's buffers (its default ByteBuffer proxy).
  if ! env PMEM_IS_PMEM_FORCE=$force "${JAVA:-java}" -Xmx2g \
      --add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/sun.nio.ch=ALL-UNNAMED \
      -cp "$cp" site.ycsb.Client "$flag" -threads 1 -P "$here/workloads/workload$w" \
      -p recordcount="$n_rec" -p operationcount="$n_ops" "$@" >"$log" 2>&1; then
    die "YCSB failed ($*), see $log"
  fi
  # YCSB exits 0 even when the binding failed to open or an operation failed: check its counts.
  if grep -q 'Return=' "$log" && ! grep 'Return=' "$log" | grep -v 'Return=OK' >/dev/null; then :; else
    grep -E 'Exception|Error|failed|Return=' "$log" | head -5 >&2
    die "operations failed or none ran ($*), see $log"
  fi
  local ok
  ok=$(awk -F', ' '/Return=OK/ && !/READ-MODIFY-WRITE/ {s += $3} END {print s + 0}' "$log")
  [ "$ok" -ge "$want" ] || die "only $ok of $want operations succeeded ($*), see $log"
  awk -F', ' '/\[OVERALL\], RunTime/ {t = $3 / 1000} /\[OVERALL\], Throughput/ {x = $3}
    END {printf "%.3f %.0f\n", t, x}' "$log"
}

n=${#sys[@]}
for ((r = 1; r <= runs; r++)); do
  for w in "${wl[@]}"; do
    for ((i = 0; i < n; i++)); do
      s=${sys[(i + r - 1) % n]}  # a different system first in each run
      system=${s%-*} medium=${s##*-}
      if [ $medium = pm ]; then dir=$shm force=1 n_rec=$records n_ops=$ops
      else dir=$disk force=0 n_rec=$drecords n_ops=$dops; fi
      case $system in
        snapmap) args=(-db org.snapshot.ycsb.SnapshotMapDB -p snapmap.path="$dir/snapmap.db" -p snapmap.medium=$medium
                       -p snapmap.populate="${SNAPSHOT_POPULATE:-true}") ;;
        snapshot) args=(-db org.snapshot.ycsb.SnapshotDB -p snapshot.path="$dir/snapshot.db" -p snapshot.medium=$medium
                        -p snapshot.populate="${SNAPSHOT_POPULATE:-true}") ;;
        llpl) args=(-db org.snapshot.ycsb.LlplDB -p llpl.path="$dir/llpl.heap") ;;
        lmdbjava) args=(-db org.snapshot.ycsb.LmdbDB -p lmdb.dir="$dir/lmdb") ;;
        mapdb) args=(-db org.snapshot.ycsb.MapdbDB -p mapdb.path="$dir/mapdb/map.db") ;;
      esac
      rm -rf "${dir:?}"/*
      echo "run-ycsb-java.sh: run $r/$runs workload $w $system $medium: load $n_rec records..." >&2
      phase -load "$w" "$n_rec" "${args[@]}" >/dev/null
      echo "run-ycsb-java.sh: run $r/$runs workload $w $system $medium: run $n_ops operations..." >&2
      res=$(phase -t "$w" "$n_ops" "${args[@]}") # set -e: a failed phase ends the script
      read -r secs tput <<<"$res"
      echo "run-ycsb-java.sh:   $system $medium workload $w: $tput ops/s ($secs s)" >&2
      echo "ycsb-java,$w,$system,$medium,1,$n_rec,$n_ops,$r,$secs,$tput" >>"$csv"
      rm -rf "${dir:?}"/*
    done
  done
done
echo "run-ycsb-java.sh: rows appended to $csv" >&2
