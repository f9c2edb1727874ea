#!/usr/bin/env bash
# Fetches DuckDB 1.4.4 (libduckdb.so and duckdb.h) from the npm registry into
# third_party/duckdb/{lib,include}, verifying pinned sha256 sums of both tarballs.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/third_party/duckdb"
STAMP="$DEST/.version"

LIB_PKG="@duckdb/node-bindings-linux-x64@1.4.4-r.4"
LIB_SHA256="732fac4dc6b8f198870b9c4bb6ddf13544466daca00ad28ba2f1d80de5d7aa4b"
HDR_PKG="duckdb@1.4.4"
HDR_SHA256="5bb967dcbcd517670ba5f169f238fb9d6787e53752c60ebe24386169d76941ed"
WANT="$LIB_PKG $LIB_SHA256 $HDR_PKG $HDR_SHA256"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" && -f "$DEST/lib/libduckdb.so" &&
      -f "$DEST/include/duckdb.h" ]]; then
  exit 0
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

fetch() {  # fetch <package@version> <sha256>; prints the tarball path
  local pkg="$1" sum="$2" tgz
  tgz="$(cd "$WORK" && npm pack --silent "$pkg" 2>/dev/null | tail -n1)"
  if [[ -z "$tgz" || ! -f "$WORK/$tgz" ]]; then
    echo "fetch-duckdb: npm pack $pkg failed (is the npm registry reachable?)" >&2
    exit 1
  fi
  echo "$sum  $WORK/$tgz" | sha256sum -c --quiet - >&2 || {
    echo "fetch-duckdb: checksum mismatch for $pkg" >&2
    exit 1
  }
  echo "$WORK/$tgz"
}

echo "fetch-duckdb: fetching $LIB_PKG and $HDR_PKG from the npm registry"
lib_tgz="$(fetch "$LIB_PKG" "$LIB_SHA256")"
hdr_tgz="$(fetch "$HDR_PKG" "$HDR_SHA256")"
mkdir -p "$WORK/lib" "$WORK/hdr"
tar -xzf "$lib_tgz" -C "$WORK/lib" package/libduckdb.so
tar -xzf "$hdr_tgz" -C "$WORK/hdr" package/src/duckdb/src/include/duckdb.h

rm -rf "$DEST.tmp"
mkdir -p "$DEST.tmp/lib" "$DEST.tmp/include"
mv "$WORK/lib/package/libduckdb.so" "$DEST.tmp/lib/"
mv "$WORK/hdr/package/src/duckdb/src/include/duckdb.h" "$DEST.tmp/include/"
echo "$WANT" > "$DEST.tmp/.version"
rm -rf "$DEST"
mv "$DEST.tmp" "$DEST"
echo "fetch-duckdb: installed DuckDB 1.4.4 into $DEST"
