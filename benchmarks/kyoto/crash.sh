#!/usr/bin/env bash
# benchmarks/kyoto/crash.sh — SIGKILL campaign on the patched Kyoto Cabinet.
# Each trial starts `kdriver run` (hard transactions, each printing its number after the commit
# returns), kills it with SIGKILL after a random delay (0 to MAX_MS ms after start: also inside open
# and recovery), then runs `kchashmgr check` and `kdriver verify`: the database must hold exactly
# the state after the last acknowledged transaction or the one after it — no lost, no partial
# transaction. The next trial resumes on the recovered file; a generation is restarted from an
# empty file after GEN_TXNS transactions (created by `kdriver create`, not killed: creating a
# Kyoto file is not a transaction, in Kyoto's own design either).
#   benchmarks/kyoto/crash.sh [TRIALS [disk|shm]]
# env: KYOTO_BUILD, MAX_MS, SEED, GEN_TXNS; KYOTO_VARIANT=noplugin (the patched source built without
# the plugin, see build.sh): the campaign must then fail
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
K=${KYOTO_BUILD:-$HERE/../../build/kyoto}/${KYOTO_VARIANT:-patched}
TRIALS=${1:-30}
MEDIA=${2:-disk}
MAX_MS=${MAX_MS:-300}
GEN_TXNS=${GEN_TXNS:-20000}
SEED=${SEED:-$RANDOM}
if [ "$MEDIA" = shm ]; then W=$(mktemp -d /dev/shm/kyoto-crash.XXXXXX); export PMEM_IS_PMEM_FORCE=1
else W=$(mktemp -d "${TMPDIR:-/var/tmp}/kyoto-crash.XXXXXX"); fi
DB=$W/casket
RANDOM=$SEED
echo "kyoto crash: $TRIALS trials on $MEDIA ($W), seed $SEED, kill within ${MAX_MS} ms"
fail=0; ok=0; gen=1; total_acked=0; exact=0; plus1=0
for ((i = 1; i <= TRIALS; i++)); do
  : > "$W/out"
  [ -f "$DB" ] || "$K/kdriver" create "$DB" || { echo "FAIL: create $DB"; fail=1; break; }
  "$K/kdriver" run "$DB" "$gen" > "$W/out" 2> "$W/err" &
  pid=$!
  ms=$(( (RANDOM * 32768 + RANDOM) % (MAX_MS + 1) ))
  sleep "$(printf '0.%03d' "$ms")" 2>/dev/null || sleep 0
  [ "$ms" -ge 1000 ] && sleep $((ms / 1000))
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  acked=$(tail -n 1 "$W/out"); acked=${acked:-0}
  # before the first acknowledgement the child may be in open/recovery: acked = what we know
  [ -f "$W/acked" ] && prev=$(cat "$W/acked") || prev=0
  [ "$acked" -lt "$prev" ] 2>/dev/null && acked=$prev
  if ! out=$("$K/kchashmgr" check "$DB" 2>&1); then
    echo "FAIL trial $i: kchashmgr check: $out"; fail=$((fail + 1)); break
  fi
  if ! v=$("$K/kdriver" verify "$DB" "$gen" "$acked" 2>&1); then
    echo "FAIL trial $i (gen $gen, acked $acked, killed at ${ms} ms): $v"; fail=$((fail + 1)); break
  fi
  last=${v%% *}
  ok=$((ok + 1))
  [ "$last" = "$acked" ] && exact=$((exact + 1)) || plus1=$((plus1 + 1))
  echo "$last" > "$W/acked"
  total_acked=$((total_acked + acked - prev))
  printf 'trial %3d: killed at %3d ms, acked %6s, recovered %6s (%s records)\n' "$i" "$ms" "$acked" "$last" "${v##* }"
  if [ "$last" -ge "$GEN_TXNS" ]; then
    gen=$((gen + 1)); rm -f "$DB" "$DB".* "$W/acked"
  fi
done
echo "kyoto crash: $ok trials ok, $fail failed; recovered = acked in $exact, acked+1 in $plus1; $total_acked transactions acknowledged; $W"
[ $fail -eq 0 ] && rm -rf "$W"
[ $fail -eq 0 ]
