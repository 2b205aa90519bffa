#!/usr/bin/env bash
# benchmarks/kyoto/bench.sh — transactions/s of Kyoto Cabinet HashDB: patched (Snapshot region,
# one snap_msync per commit, no WAL) vs unmodified Kyoto with its own hard transactions
# (OAUTOTRAN + begin_transaction(true): WAL + msync + fsync). Random 10-byte keys in a space of 1M,
# VSIZ-byte values, OPS sets per transaction, a fresh database per run; median of REPS runs.
# Media: a file on disk ($DISK_DIR, default /var/tmp) and on /dev/shm (the patched build once with
# the file back end and once with emulated PM: PMEM_IS_PMEM_FORCE=1).
#   benchmarks/kyoto/bench.sh [REPS]      env: KYOTO_BUILD, DISK_DIR, VSIZ, SIZES
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
K=${KYOTO_BUILD:-$HERE/../../build/kyoto}
REPS=${1:-3}
VSIZ=${VSIZ:-16}
SIZES=${SIZES:-1 4 16 64}
DISK=$(mktemp -d "${DISK_DIR:-/var/tmp}/kyoto-bench.XXXXXX")
SHM=$(mktemp -d /dev/shm/kyoto-bench.XXXXXX)
trap 'rm -rf "$DISK" "$SHM"' EXIT
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
run() { # variant dir txns ops [env...]
  local v=$1 d=$2 n=$3 ops=$4; shift 4
  for ((r = 0; r < REPS; r++)); do
    rm -f "$d"/db*
    env "$@" "$K/$v/kdriver" bench "$d/db" "$n" "$ops" "$VSIZ"
  done | median
}
printf '| medium | ops/txn | Kyoto (own hard txn) | patched (snap_msync) | speed-up |\n|---|---|---|---|---|\n'
for ops in $SIZES; do
  p=$(run plain "$DISK" $((2000 / (1 + ops / 16))) "$ops")
  s=$(run patched "$DISK" $((8000 / (1 + ops / 16))) "$ops")
  printf '| disk (%s) | %s | %s | %s | %.1fx |\n' "$(df --output=fstype "$DISK" | tail -1)" "$ops" "$p" "$s" "$(echo "$s / $p" | bc -l)"
done
for ops in $SIZES; do
  p=$(run plain "$SHM" $((40000 / (1 + ops / 16))) "$ops")
  s=$(run patched "$SHM" $((40000 / (1 + ops / 16))) "$ops")
  m=$(run patched "$SHM" $((40000 / (1 + ops / 16))) "$ops" PMEM_IS_PMEM_FORCE=1)
  printf '| /dev/shm, file back end | %s | %s | %s | %.2fx |\n' "$ops" "$p" "$s" "$(echo "$s / $p" | bc -l)"
  printf '| /dev/shm, emulated PM | %s | %s | %s | %.2fx |\n' "$ops" "$p" "$m" "$(echo "$m / $p" | bc -l)"
done
