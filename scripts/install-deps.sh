#!/usr/bin/env bash
# Installs everything shardlake needs to build and test on Debian 12.
# Idempotent: packages already present are skipped, DuckDB is fetched only when
# third_party/duckdb does not already hold the pinned, checksummed version.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SUDO=""
if [[ "$(id -u)" != "0" ]]; then SUDO="sudo"; fi

# Debian packages from DESIGN.md (build libraries, servers the tests start).
PACKAGES=(
  cmake ninja-build g++ pkg-config git ca-certificates curl
  libabsl-dev libcli11-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libedit-dev
  libsqlite3-dev sqlite3 libhiredis-dev libpqxx-dev libpq-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libssl-dev libcurl4-openssl-dev libgtest-dev libgmock-dev libbenchmark-dev
  redis-server postgresql openssl clang-format nodejs npm
  ceph-mon ceph-osd radosgw ceph-common
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    # nodejs/npm may come from outside Debian's archive on developer machines.
    if [[ "$pkg" == nodejs && -x "$(command -v node)" ]]; then continue; fi
    if [[ "$pkg" == npm && -x "$(command -v npm)" ]]; then continue; fi
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

"$ROOT/scripts/fetch-duckdb.sh"
