#!/usr/bin/env bash
# Regions larger than memory (issue 14): random 64-byte updates, one durable commit each, in a store
# 4x the memory limit of the process's cgroup, Snapshot (default options, so the default budget: a
# quarter of the limit) against LMDB with synchronous commits, in C and in Java:
#   benchmarks/core/run-larger.sh [--quick] [--runs R] [--csv FILE] [--limit BYTES] [--seconds T]
#                                 [--warmup W] [--systems "snapshot lmdb snapshot-java lmdbjava"]
#     full:    --limit 256 MiB (store 1 GiB), 30 s timed after 30 s of warm-up, 3 runs;
#              rows appended to benchmarks/results/larger.csv (+ larger-memory.csv beside it)
#     --quick: --limit 64 MiB (store 256 MiB), 3 s after 1 s, 1 run; rows in <build>/quick/
# The stores are loaded once per invocation (bench_larger --phase load, outside any cgroup) into
# $BENCH_DISK_DIR/larger (default <build>/bench-tmp/larger); Java runs the same files. Before
# every run: sync, drop the page cache, then a fresh cgroup v1 (/sys/fs/cgroup/memory/<name>,
# memory.limit_in_bytes = the limit) that the process joins before it opens anything (a shell
# writes its pid to cgroup.procs, then execs the benchmark). Systems alternate, a different one
# first in each run. After each run the cgroup's memory.max_usage_in_bytes (peak, page cache
# included), its OOM kills and, for Snapshot in C, the region's stats (budget, resident bytes,
# evictions, re-faults) go to the memory CSV; the script prints the medians of both CSVs.
# Needs root and the cgroup v1 memory controller. Environment: BENCH_BUILD_DIR (default
# build-bench), BENCH_DISK_DIR, JAVA (default java), SNAPSHOT_INSTALLED=1 (the Snapshot jar is
# already in the local Maven repository: skip `mvn install`).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
die() { echo "run-larger: $*" >&2; exit 2; }
quick=0 runs= csv= limit= seconds= warmup= systems="snapshot lmdb snapshot-java lmdbjava"
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --runs) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || die "--runs needs a count"; runs=$2; shift ;;
    --csv) [ $# -ge 2 ] || die "--csv needs a file"; csv=$2; shift ;;
    --limit) [[ ${2:-} =~ ^[0-9]+$ ]] || die "--limit needs bytes"; limit=$2; shift ;;
    --seconds) [[ ${2:-} =~ ^[0-9]+$ ]] || die "--seconds needs a whole number"; seconds=$2; shift ;;
    --warmup) [[ ${2:-} =~ ^[0-9]+$ ]] || die "--warmup needs a whole number"; warmup=$2; shift ;;
    --systems) [ $# -ge 2 ] || die "--systems needs a list"; systems=$2; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (try --help)" ;;
  esac
  shift
done
build=${BENCH_BUILD_DIR:-$root/build-bench}
case $build in /*) ;; *) build=$root/$build ;; esac
if [ $quick = 1 ]; then
  limit=${limit:-$((64 << 20))} seconds=${seconds:-3} warmup=${warmup:-1} runs=${runs:-1}
  csv=${csv:-$build/quick/larger.csv}
else
  limit=${limit:-$((256 << 20))} seconds=${seconds:-30} warmup=${warmup:-30} runs=${runs:-3}
  csv=${csv:-$root/benchmarks/results/larger.csv}
fi
size=$((limit * 4))
memcsv=${csv%.csv}-memory.csv
disk=${BENCH_DISK_DIR:-$build/bench-tmp}/larger
cg=/sys/fs/cgroup/memory
[ -w "$cg" ] || die "needs root and the cgroup v1 memory controller at $cg"
for s in $systems; do
  case $s in snapshot|lmdb|snapshot-java|lmdbjava) ;; *) die "unknown system '$s'" ;; esac
done

"$root/scripts/install-deps" liblmdb-dev
"$root/scripts/build" "$build" -DCMAKE_BUILD_TYPE=Release -DSNAPSHOT_TESTS=OFF >&2
bin=$build/benchmarks/core/bench_larger
[ -x "$bin" ] || die "$bin was not built (liblmdb-dev missing?)"
java_cp=
if [[ " $systems " == *-java* || " $systems " == *" lmdbjava "* ]]; then
  if [ "${SNAPSHOT_INSTALLED:-0}" != 1 ]; then
    echo "run-larger: installing the Snapshot jar in the local Maven repository (mvn install)" >&2
    (cd "$root" && mvn -B -ntp -q -DskipTests install >&2) || die "mvn install failed"
  fi
  mvn -B -ntp -q -f "$root/benchmarks/larger-java/pom.xml" -DskipTests package >&2 ||
    die "maven build of benchmarks/larger-java failed"
  j=$root/benchmarks/larger-java/build
  # This checkout's jar first: the local repository's may be another checkout's.
  java_cp="$(ls "$root"/build/java/snapshot-*.jar | grep -v -- -sources | head -1):$j/larger-java.jar:$j/lib/*"
fi

need_kb=$(( size * 2 * 3 / 2 / 1024 + (64 << 10) )) # both stores, LMDB's copies, the log
mkdir -p "$disk" "$(dirname "$csv")"
avail_kb=$(df --output=avail -k "$disk" | tail -1)
[ "$avail_kb" -gt "$need_kb" ] || die "about $((need_kb >> 10)) MiB of disk needed in $disk, $((avail_kb >> 10)) MiB free"
header=suite,workload,system,medium,threads,records,ops,run,seconds,ops_per_sec
[ -s "$csv" ] || echo "$header" >"$csv"
[ -s "$memcsv" ] || echo "system,run,limit_bytes,size_bytes,ops_per_sec,peak_bytes,oom_kills,budget,resident,evictions,refaults,timed_evictions,timed_refaults" >"$memcsv"

workload=update64-$((size >> 20))MiB-limit$((limit >> 20))MiB
echo "run-larger: store $((size >> 20)) MiB, cgroup limit $((limit >> 20)) MiB, ${seconds} s timed (+${warmup} s warm-up), $runs run(s): $systems -> $csv" >&2
for s in snapshot lmdb; do
  if [[ " $systems " == *" $s"* || ( $s = lmdb && " $systems " == *" lmdbjava "* ) ]]; then
    echo "run-larger: loading $s ($((size >> 20)) MiB)..." >&2
    t0=$SECONDS
    "$bin" --system $s --dir "$disk" --size $size --phase load >&2
    echo "run-larger: loaded $s in $((SECONDS - t0)) s" >&2
  fi
done

cgroups=()
cleanup() { for c in "${cgroups[@]}"; do [ -d "$c" ] && rmdir "$c" 2>/dev/null || true; done; }
trap cleanup EXIT
status=0
read -r -a sys <<<"$systems"
n=${#sys[@]}
for ((r = 1; r <= runs; r++)); do
  for ((i = 0; i < n; i++)); do
    s=${sys[(i + r - 1) % n]} # a different system first in each run
    sync
    echo 3 >/proc/sys/vm/drop_caches
    c=$cg/bigbench-larger-$$-$s-$r
    mkdir "$c"
    cgroups+=("$c")
    echo "$limit" >"$c/memory.limit_in_bytes"
    case $s in
      snapshot|lmdb) cmd=("$bin" --system "$s" --phase run --workload "$workload") ;;
      snapshot-java|lmdbjava)
        cmd=("${JAVA:-java}" --add-opens java.base/java.nio=ALL-UNNAMED
             --add-opens java.base/sun.nio.ch=ALL-UNNAMED -cp "$java_cp"
             org.snapshot.bench.larger.LargerBench --system "${s%-java}" --workload "$workload-java") ;;
    esac
    cmd+=(--dir "$disk" --size "$size" --seconds "$seconds" --warmup "$warmup" --csv "$csv" --run "$r")
    echo "== run $r/$runs $s" >&2
    out=$(sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$c" "${cmd[@]}") || {
      echo "run-larger: $s failed (exit $?) in run $r" >&2; status=1; }
    echo "$out" >&2
    line=$(grep '^system=' <<<"$out" || true)
    kv() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$line"; }
    peak=$(cat "$c/memory.max_usage_in_bytes")
    ooms=$(awk '/^oom_kill /{print $2}' "$c/memory.oom_control")
    echo "$s,$r,$limit,$size,$(kv ops_per_sec),$peak,${ooms:-0},$(kv budget),$(kv resident),$(kv evictions),$(kv refaults),$(kv timed_evictions),$(kv timed_refaults)" >>"$memcsv"
    echo "   peak $((peak >> 20)) MiB of $((limit >> 20)) MiB, oom kills ${ooms:-0}" >&2
    rmdir "$c" 2>/dev/null || true
  done
done

# Medians of this invocation's rows (both CSVs may hold earlier invocations' too: the memory CSV's
# rows are told apart by size and limit, the ops CSV's by workload).
/usr/bin/python3 - "$memcsv" "$limit" "$size" <<'EOF'
import csv, statistics, sys
path, limit, size = sys.argv[1], sys.argv[2], sys.argv[3]
rows = [r for r in csv.DictReader(open(path)) if r["limit_bytes"] == limit and r["size_bytes"] == size]
def med(vals):
    vals = [float(v) for v in vals if v not in ("", None)]
    return statistics.median(vals) if vals else None
def mib(v):
    return "" if v is None else f"{v / 2**20:.0f} MiB"
def num(v):
    return "" if v is None else f"{v:.0f}"
print(f"| system | runs | median ops/s | median peak (limit {int(limit) >> 20} MiB) | OOM kills | "
      "budget | resident | evictions | re-faults |")
print("|---|---|---|---|---|---|---|---|---|")
for s in sorted({r["system"] for r in rows}, key=lambda s: ["snapshot", "lmdb", "snapshot-java", "lmdbjava"].index(s)):
    rs = [r for r in rows if r["system"] == s]
    print(f"| {s} | {len(rs)} | {num(med(r['ops_per_sec'] for r in rs))} | "
          f"{mib(med(r['peak_bytes'] for r in rs))} | {sum(int(r['oom_kills'] or 0) for r in rs)} | "
          f"{mib(med(r['budget'] for r in rs))} | {mib(med(r['resident'] for r in rs))} | "
          f"{num(med(r['evictions'] for r in rs))} | {num(med(r['refaults'] for r in rs))} |")
EOF
[ $status = 0 ] || die "some runs failed"
echo "run-larger: rows appended to $csv and $memcsv" >&2
