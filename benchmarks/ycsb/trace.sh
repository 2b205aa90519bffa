#!/usr/bin/env bash
# Writes the operation stream of a YCSB core workload as two text traces, for the C harness:
#   benchmarks/ycsb/trace.sh <workload a..f> <recordcount> <operationcount> <outdir>
# -> <outdir>/<w>.load.trace and <outdir>/<w>.run.trace (format: benchmarks/ycsb/README.md).
# YCSB's own Client and CoreWorkload (site.ycsb:core 0.17.0) generate the operations, with the
# settings of YCSB's workload<w> (workloads/workload<w>) and the given counts, one thread; TraceDB
# writes them. YCSB's own report goes to <outdir>/<w>.<phase>.log. Needs a JDK 17+ and Maven.
set -euo pipefail

die() { echo "trace.sh: $*" >&2; exit 1; }
[ $# -eq 4 ] || die "usage: trace.sh <workload a..f> <recordcount> <operationcount> <outdir>"
w=$1 records=$2 ops=$3 outdir=$4
[[ $w =~ ^[a-f]$ ]] || die "workload must be one of a..f, not '$w'"
[[ $records =~ ^[1-9][0-9]*$ ]] || die "recordcount must be a positive integer, not '$records'"
[[ $ops =~ ^[1-9][0-9]*$ ]] || die "operationcount must be a positive integer, not '$ops'"

here=$(cd "$(dirname "$0")" && pwd)
echo "trace.sh: building the trace generator (mvn, benchmarks/ycsb/trace)" >&2
mvn -q -f "$here/pom.xml" -pl trace -am -DskipTests package >&2 || die "maven build failed"
cp="$here/trace/build/ycsb-trace.jar:$here/trace/build/lib/*"

mkdir -p "$outdir"
for phase in load run; do
  trace="$outdir/$w.$phase.trace" log="$outdir/$w.$phase.log"
  flag=-t; [ $phase = load ] && flag=-load
  echo "trace.sh: workload $w, $phase phase ($records records, $ops operations) -> $trace" >&2
  # -p after -P wins: our counts, and TraceWorkload (CoreWorkload that marks read-modify-writes).
  "${JAVA:-java}" -cp "$cp" site.ycsb.Client $flag -threads 1 \
    -db org.snapshot.ycsb.trace.TraceDB -P "$here/workloads/workload$w" \
    -p workload=org.snapshot.ycsb.trace.TraceWorkload \
    -p recordcount="$records" -p operationcount="$ops" \
    -p trace.file="$trace" -p trace.workload="$w" -p trace.phase=$phase >"$log" 2>&1 \
    || die "YCSB failed in the $phase phase, see $log"
  [ -f "$trace" ] || die "no $trace written (TraceDB failed), see $log"
  # YCSB does not fail on a DB error: count the operations, so a short trace is never passed on.
  want=$ops; [ $phase = load ] && want=$records
  got=$(($(wc -l <"$trace") - 1))
  [ "$got" -eq "$want" ] || die "$trace has $got operations, expected $want (see $log)"
  if [ $phase = load ] && grep -qv '^[#I]' "$trace"; then die "$trace has lines other than inserts"; fi
done
echo "trace.sh: wrote $outdir/$w.load.trace and $outdir/$w.run.trace" >&2
