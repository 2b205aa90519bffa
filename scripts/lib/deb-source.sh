# scripts/lib/deb-source.sh — sourced, not run. deb_source PKG=VERSION DEST [STATE]
# Fetches a Debian bookworm source package into DEST with `apt-get source`, through a deb-src line
# that exists for these two apt commands only: the lists live under STATE (default DEST/.apt), so
# the system's sources and lists are untouched. Peers' code is fetched at build time, never committed.
deb_source() {
  local pkg=$1 dest=$2 state=${3:-$2/.apt} uri
  uri=$(grep -hoE '(URIs:|^deb) +[a-z]+://[^ ]+/debian/?( |$)' /etc/apt/sources.list \
          /etc/apt/sources.list.d/* 2>/dev/null | grep -oE "[a-z]+://[^ ]+" | head -1 || true)
  uri=${uri:-http://deb.debian.org/debian}
  mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$dest"
  echo "deb-src $uri bookworm main" > "$state/sources.list"
  local o=(-o Dir::Etc::sourcelist="$state/sources.list" -o Dir::Etc::sourceparts=-
           -o Dir::State::Lists="$state/lists" -o Dir::Cache="$state/cache"
           -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=)
  apt-get update "${o[@]}" -qq && (cd "$dest" && apt-get source "${o[@]}" -qq "$pkg")
}
