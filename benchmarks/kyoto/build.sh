#!/usr/bin/env bash
# benchmarks/kyoto/build.sh — fetch Kyoto Cabinet 1.2.79 (Debian bookworm source package), apply
# our patch (kyoto.patch: 3 lines in kcfile.cc calling kcsnap.cc: the mapped file is a Snapshot
# region, a transaction commit is one snap_msync) and build two variants with clang++-19:
#
#   $OUT/patched  kcfile.cc patched, kcsnap.cc added, every file compiled with the Snapshot clang
#                 plugin, linked with libsnapshot
#   $OUT/plain    the same source, no patch, no plugin (Kyoto's own WAL transactions)
#
# Kyoto's code is never committed: it is fetched into $OUT/src (default build/kyoto).
# The apt lists for the deb-src line live under $OUT/apt, so the system's lists are untouched.
# Needs: libsnapshot and the plugin built (scripts/build build), dpkg-dev, zlib1g-dev (ci.sh installs
# them). env: SNAPSHOT_LIB_DIR, SNAPSHOT_PASS_PLUGIN (default build/), JOBS (2), KYOTO_NOPLUGIN
#   benchmarks/kyoto/build.sh [OUT]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${1:-$ROOT/build/kyoto}
SNAPLIB=${SNAPSHOT_LIB_DIR:-$ROOT/build/native}
PLUGIN=${SNAPSHOT_PASS_PLUGIN:-$ROOT/build/llvm-pass/libsnapshot-pass.so}
JOBS=${JOBS:-2}
for f in "$SNAPLIB/libsnapshot.so" "$PLUGIN"; do
  [ -e "$f" ] || { echo "missing $f: run scripts/build build" >&2; exit 1; }
done
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# 1. fetch: a temporary deb-src line for bookworm main, for these apt commands only
SRC=$OUT/src/kyotocabinet-1.2.79
if [ ! -f "$SRC/kcfile.cc" ]; then
  . "$ROOT/scripts/lib/deb-source.sh"
  deb_source kyotocabinet=1.2.79-2 "$OUT/src" "$OUT/apt"
fi
[ -f "$SRC/kcfile.cc" ] || { echo "fetch failed: no $SRC" >&2; exit 1; }

# 2. two copies: plain and patched. The patched one also compiles our kcsnap.cc (the hooks the
# patch calls) into libkyotocabinet; a change of the patch rebuilds the copy from scratch.
build() { # name patch? cxxflags cppflags ldflags libs
  local name=$1 patch=$2 dir=$OUT/$1 stamp
  stamp=$( [ "$patch" = yes ] && cat "$HERE/kyoto.patch" | md5sum | cut -c1-32 || echo plain)
  if [ "$(cat "$dir/.configured" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$dir"; cp -a "$SRC" "$dir"
    if [ "$patch" = yes ]; then
      (cd "$dir" && patch -p1 -s --no-backup-if-mismatch < "$HERE/kyoto.patch")
      sed -i 's/^MYLIBOBJFILES="kcutil.o /MYLIBOBJFILES="kcsnap.o kcutil.o /' "$dir/configure"
    fi
    (cd "$dir" && CC=clang-19 CXX=clang++-19 CXXFLAGS="$3" CPPFLAGS="$4" LDFLAGS="$5" LIBS="$6" \
        ./configure --disable-shared --disable-atomic -q) && echo "$stamp" > "$dir/.configured"
  fi
  if [ "$patch" = yes ]; then  # copied only when changed, so make rebuilds only what changed
    cmp -s "$HERE/kcsnap.h" "$dir/kcsnap.h" || { cp "$HERE/kcsnap.h" "$dir/"; touch "$dir/kcfile.cc"; }
    cmp -s "$HERE/kcsnap.cc" "$dir/kcsnap.cc" || cp "$HERE/kcsnap.cc" "$dir/"
  fi
  make -C "$dir" -j"$JOBS" -s CMDLIBS='$(LIBS)' libkyotocabinet.a kchashtest kchashmgr >/dev/null
  echo "built $dir"
}
build plain no "" "" "" ""
build patched yes "-fpass-plugin=$PLUGIN" "-I$ROOT/native/include" \
  "-L$SNAPLIB -Wl,-rpath,$SNAPLIB" "-lsnapshot"
# negative control (KYOTO_NOPLUGIN=1): the patched source without the plugin; its stores into the
# region are not tracked, so crash.sh and SNAPSHOT_VERIFY must catch it
if [ "${KYOTO_NOPLUGIN:-0}" = 1 ]; then
  build noplugin yes "" "-I$ROOT/native/include" "-L$SNAPLIB -Wl,-rpath,$SNAPLIB" "-lsnapshot"
fi

# 3. the driver (crash test, benchmark), against each variant
clang++-19 -O2 -std=c++17 -fpass-plugin="$PLUGIN" -I"$OUT/patched" -I"$ROOT/native/include" \
  "$HERE/kdriver.cc" -o "$OUT/patched/kdriver" -L"$OUT/patched" -lkyotocabinet \
  -L"$SNAPLIB" -Wl,-rpath,"$SNAPLIB" -lsnapshot -lz -lpthread
clang++-19 -O2 -std=c++17 -I"$OUT/plain" "$HERE/kdriver.cc" -o "$OUT/plain/kdriver" \
  -L"$OUT/plain" -lkyotocabinet -lz -lpthread
if [ -d "$OUT/noplugin" ]; then
  clang++-19 -O2 -std=c++17 -I"$OUT/noplugin" -I"$ROOT/native/include" "$HERE/kdriver.cc" \
    -o "$OUT/noplugin/kdriver" -L"$OUT/noplugin" -lkyotocabinet -L"$SNAPLIB" -Wl,-rpath,"$SNAPLIB" \
    -lsnapshot -lz -lpthread
fi
echo "built $OUT/{patched,plain}/kdriver"
