#!/usr/bin/env bash
# Runs the plugin's IR tests: the "RUN:" lines of every test/*.ll, *.c and *.cpp, lit-style, with
# LLVM 19's opt, clang and FileCheck first in PATH. (lit works too: lit llvm-pass/test, see lit.cfg.py.)
#   run-tests.sh [--plugin PATH/libsnapshot-pass.so] [--llvm-bin DIR] [-v] [TEST...]
# Substitutions: %s (the test file), %t (a scratch path), %plugin, %S (the test directory).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
plugin=$here/../build/libsnapshot-pass.so
llvm_bin=/usr/lib/llvm-19/bin
verbose=0
tests=()
while [ $# -gt 0 ]; do
  case $1 in
    --plugin) plugin=$2; shift 2 ;;
    --llvm-bin) llvm_bin=$2; shift 2 ;;
    -v) verbose=1; shift ;;
    *) tests+=("$1"); shift ;;
  esac
done
[ -f "$plugin" ] || { echo "run-tests: no plugin at $plugin (build llvm-pass first)" >&2; exit 2; }
plugin=$(cd "$(dirname "$plugin")" && pwd)/$(basename "$plugin")
export PATH=$llvm_bin:$PATH
[ ${#tests[@]} -gt 0 ] || tests=("$here"/*.ll "$here"/*.c "$here"/*.cpp)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

pass=0; fail=0; failed=()
for t in "${tests[@]}"; do
  [ -f "$t" ] || { echo "run-tests: no such test: $t" >&2; fail=$((fail+1)); failed+=("$t"); continue; }
  t=$(cd "$(dirname "$t")" && pwd)/$(basename "$t")
  name=$(basename "$t")
  # RUN: lines, with trailing-backslash continuations joined.
  mapfile -t cmds < <(sed -n 's/^.*RUN: *//p' "$t" | awk '{ if (sub(/\\$/, "")) { acc = acc $0 } else { print acc $0; acc = "" } }')
  [ ${#cmds[@]} -gt 0 ] || { echo "run-tests: $name has no RUN line" >&2; fail=$((fail+1)); failed+=("$name"); continue; }
  ok=1; i=0
  for c in "${cmds[@]}"; do
    i=$((i+1))
    c=${c//%plugin/$plugin}; c=${c//%s/$t}; c=${c//%t/$tmp/$name.tmp}; c=${c//%S/$here}
    [ $verbose = 1 ] && echo "  $name[$i]: $c"
    if ! out=$(cd "$tmp" && bash -o pipefail -c "$c" 2>&1); then
      ok=0
      echo "FAIL: $name (RUN line $i)"
      echo "  \$ $c"
      printf '%s\n' "$out" | sed 's/^/  | /' | head -60
      break
    fi
  done
  if [ $ok = 1 ]; then pass=$((pass+1)); [ $verbose = 1 ] && echo "PASS: $name"; else fail=$((fail+1)); failed+=("$name"); fi
done
echo "snapshot-pass IR tests: $pass passed, $fail failed${failed:+ (${failed[*]})}"
[ $fail = 0 ]
