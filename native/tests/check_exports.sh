#!/usr/bin/env bash
# check_exports.sh LIB — libsnapshot.so exports exactly the API, so the boundary cannot regrow
# silently: the dynamic symbols LIB defines are the globals of native/libsnapshot.map, and those are
# what native/include/ declares (functions that are not inline, extern variables). Prints each
# difference and exits 1 if there is one. Run by ctest (exported_symbols) and by scripts/test on
# the copy inside the jar.
set -euo pipefail
lib=$1
native=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

nm -D --defined-only "$lib" | awk '{print $NF}' | sed 's/@.*//' | sort -u >"$tmp/exported"
sed -n '/global:/,/local:/p' "$native/libsnapshot.map" | grep -oE '^ *[A-Za-z_][A-Za-z0-9_]*;' |
  tr -d ' ;' | sort -u >"$tmp/map"
grep -hE '^[a-z]' "$native"/include/*.h | grep -vE '^(static|typedef|struct|enum|union)\b' |
  grep -oE '\bsnap_[a-z0-9_]+ ?[(;]' | tr -d ' (;' | sort -u >"$tmp/declared"

status=0
differ() { # title left right: the lines of one file missing from the other, both ways
  local only_left only_right
  only_left=$(comm -23 "$2" "$3")
  only_right=$(comm -13 "$2" "$3")
  if [ -n "$only_left$only_right" ]; then
    echo "$1:"
    [ -z "$only_left" ] || echo "$only_left" | sed "s/^/  only in $(basename "$2"): /"
    [ -z "$only_right" ] || echo "$only_right" | sed "s/^/  only in $(basename "$3"): /"
    status=1
  fi
}
differ "$lib exports other symbols than libsnapshot.map lists" "$tmp/exported" "$tmp/map"
differ "libsnapshot.map lists other symbols than native/include/ declares" "$tmp/map" "$tmp/declared"
echo "$(wc -l <"$tmp/exported") symbols exported, $(wc -l <"$tmp/map") in libsnapshot.map," \
     "$(wc -l <"$tmp/declared") declared in native/include/"
exit $status
