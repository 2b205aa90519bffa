#!/usr/bin/env bash
# benchmarks/kyoto/test.sh — Kyoto's own kchashtest modes on the patched build, under
# SNAPSHOT_VERIFY=1 (every snap_msync compares the DRAM copy with the media: an untracked store fails),
# each followed by `kchashmgr check`. Build first: benchmarks/kyoto/build.sh.
#   benchmarks/kyoto/test.sh [BUILD_DIR [WORK_DIR]]
# env: KYOTO_TESTS="order wicked tran" runs only the named cases (ci.sh does)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
K=${1:-$HERE/../../build/kyoto}/patched
W=${2:-$(mktemp -d /tmp/kyoto-test.XXXXXX)}; mkdir -p "$W"
export SNAPSHOT_VERIFY=1
fail=0; n=0
run() { # name args... rnum
  local name=$1; shift; local rnum=${@: -1}; set -- "${@:1:$#-1}"
  [ -z "${KYOTO_TESTS:-}" ] || [[ " $KYOTO_TESTS " == *" $name "* ]] || return 0
  rm -f "$W/casket" "$W/casket".*
  n=$((n + 1))
  if "$K/kchashtest" "$@" "$W/casket" "$rnum" > "$W/$name.log" 2>&1 && grep -q '^ok$' "$W/$name.log" &&
     "$K/kchashmgr" check "$W/casket" >> "$W/$name.log" 2>&1; then
    echo "ok    $name"
  else
    echo "FAIL  $name (log: $W/$name.log)"; tail -5 "$W/$name.log"; fail=$((fail + 1))
  fi
}
run order          order -th 1 10000
run order-rnd      order -th 1 -rnd 10000
run order-tran     order -th 1 -tran 5000
run order-th2      order -th 2 -rnd 10000
run order-oat      order -th 1 -oat 2000
run queue          queue -th 1 10000
run wicked         wicked -th 1 -it 2 10000
run wicked-th2     wicked -th 2 -it 2 5000
run tran           tran -th 1 -it 2 5000
run tran-hard      tran -th 1 -it 2 -hard 2000
run tran-th2       tran -th 2 -it 2 2000
echo "$((n - fail))/$n passed (SNAPSHOT_VERIFY=1); logs in $W"
[ $fail -eq 0 ]
