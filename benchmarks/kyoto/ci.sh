#!/usr/bin/env bash
# benchmarks/kyoto/ci.sh — the Kyoto Cabinet port's check for CI: builds both variants from scratch
# (Debian source package fetched by build.sh), runs a short kchashtest subset under SNAPSHOT_VERIFY=1
# (test.sh) and 200 SIGKILL crash trials (crash.sh: 100 on disk, 100 on /dev/shm as emulated PM).
# Exits non-zero on any failure. About 3 minutes on 2 cores, download included.
#   benchmarks/kyoto/ci.sh [OUT]        (default build/kyoto-ci; removed and rebuilt)
# env: SNAPSHOT_LIB_DIR, SNAPSHOT_PASS_PLUGIN (default: build/, else a minimal configure of the
#      core in OUT/core); TRIALS_DISK, TRIALS_SHM (100 each); JOBS (2)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${1:-$ROOT/build/kyoto-ci}
export JOBS=${JOBS:-2}
start=$SECONDS

# what build.sh needs beyond the project's own dependencies: apt-get source (dpkg-dev), Kyoto's zlib
"$ROOT/scripts/install-deps" dpkg-dev zlib1g-dev patch

rm -rf "$OUT"; mkdir -p "$OUT"
# libsnapshot and the plugin: given, or those of build/, or our own minimal build
if [ -z "${SNAPSHOT_LIB_DIR:-}" ] && [ -z "${SNAPSHOT_PASS_PLUGIN:-}" ] &&
   ! [ -e "$ROOT/build/native/libsnapshot.so" -a -e "$ROOT/build/llvm-pass/libsnapshot-pass.so" ]; then
  echo "kyoto ci: building libsnapshot and the plugin in $OUT/core"
  cmake -S "$ROOT" -B "$OUT/core" -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang-19 \
    -DCMAKE_CXX_COMPILER=clang++-19 -DSNAPSHOT_TESTS=OFF -DSNAPSHOT_BENCHMARKS=OFF > "$OUT/core.log"
  cmake --build "$OUT/core" -j"$JOBS" --target snapshot snapshot-pass >> "$OUT/core.log"
  export SNAPSHOT_LIB_DIR=$OUT/core/native SNAPSHOT_PASS_PLUGIN=$OUT/core/llvm-pass/libsnapshot-pass.so
fi

echo "=== kyoto ci: build"
"$HERE/build.sh" "$OUT" > "$OUT/build.log" 2>&1 || { tail -20 "$OUT/build.log"; echo "kyoto ci: build FAILED"; exit 1; }
echo "built in $((SECONDS - start)) s"

status=0
echo "=== kyoto ci: kchashtest subset (SNAPSHOT_VERIFY=1)"
KYOTO_TESTS="order-rnd order-tran wicked tran tran-hard" "$HERE/test.sh" "$OUT" "$OUT/test" || status=1
echo "=== kyoto ci: crash trials"
mkdir -p "$OUT/crash"
crash() { # trials medium
  local log=$OUT/crash-$2.log
  if TMPDIR=$OUT/crash KYOTO_BUILD=$OUT "$HERE/crash.sh" "$1" "$2" > "$log" 2>&1; then
    tail -1 "$log"
  else
    grep -m1 FAIL "$log" || tail -3 "$log"; echo "kyoto ci: crash on $2 FAILED (log: $log)"; return 1
  fi
}
crash "${TRIALS_DISK:-100}" disk || status=1
crash "${TRIALS_SHM:-100}" shm || status=1
echo "kyoto ci: $([ $status = 0 ] && echo ok || echo FAILED) in $((SECONDS - start)) s"
exit $status
