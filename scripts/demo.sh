#!/usr/bin/env bash
# The cluster end to end: bootstrap a small TPC-H lake (users, TLS, sharded
# orders/lineitem), start a server and two workers on loopback, run the TPC-H
# queries through `shardlake client` with results and timings, check each
# distributed answer against the single-node answer, then stop everything.
# Usage: scripts/demo.sh <path to shardlake>   (make demo passes it)
#   DEMO_SF=0.1  TPC-H scale factor     DEMO_QUERIES="1 3 5 6 ..."  queries to show
set -euo pipefail

BIN="$(realpath "${1:?usage: demo.sh <shardlake binary>}")"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEMO_DIR="$ROOT/build/demo"
DATA="$DEMO_DIR/shardlake-data"
SF="${DEMO_SF:-0.1}"
SHOW="${DEMO_QUERIES:-1 3 6 10 12 14}"
CA="$DATA/tls/ca.crt"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

rm -rf "$DEMO_DIR"
mkdir -p "$DEMO_DIR"

step "shardlake $("$BIN" version | cut -d' ' -f2-)"

step "1. Bootstrap: users, TLS, TPC-H SF $SF with orders/lineitem in 11 buckets"
"$BIN" --data-dir "$DATA" bootstrap --client-username=scott --client-password=tiger \
  --worker-password=united --tpch-scale-factor="$SF" --shard-count=11

step "2. Start the server (TLS + auth from the bootstrap files) and two workers"
"$BIN" --data-dir "$DATA" server --listen 127.0.0.1:0 --port-file "$DEMO_DIR/port" \
  >"$DEMO_DIR/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [[ -s "$DEMO_DIR/port" ]] && break; sleep 0.1; done
[[ -s "$DEMO_DIR/port" ]] || { cat "$DEMO_DIR/server.log"; echo "server did not start" >&2; exit 1; }
ADDR="127.0.0.1:$(cat "$DEMO_DIR/port")"
echo "server listening on $ADDR (log: $DEMO_DIR/server.log)"
for n in 1 2; do
  "$BIN" --threads 1 worker --server "$ADDR" --tls-roots "$CA" --password united --name "worker-$n" \
    --cache-dir "$DEMO_DIR/cache-$n" >"$DEMO_DIR/worker-$n.log" 2>&1 &
  pids+=($!)
done
client() { "$BIN" client --server "$ADDR" --tls-roots "$CA" --username scott --password tiger "$@"; }
for _ in $(seq 100); do
  client -c ".status" 2>/dev/null | grep -q "2 workers connected" && break
  sleep 0.2
done
client -c ".status"

step "3. TPC-H queries through the client (.timer: time, distributed or not, bytes from workers)"
for q in $SHOW; do
  file="$ROOT/queries/tpch/q$(printf '%02d' "$q").sql"
  printf '\n\033[36m-- Q%s (%s)\033[0m\n' "$q" "$file"
  client -c $'.timer on\n.verify on\n'"$(cat "$file")"
done

step "4. All 22 queries: distributed answer vs the server alone (.verify runs both)"
failed=0
for q in $(seq 1 22); do
  file="$ROOT/queries/tpch/q$(printf '%02d' "$q").sql"
  if out=$(client --mode csv -c $'.verify on\n'"$(cat "$file")" 2>&1); then
    printf 'Q%-2s %s\n' "$q" "$(grep -E '^(verified|not distributed)' <<<"$out" | head -1)"
  else
    printf 'Q%-2s FAILED\n%s\n' "$q" "$out"
    failed=1
  fi
done

step "5. EXPLAIN of a distributed query: worker SQL, coordinator SQL, files per worker"
client -c "EXPLAIN $(cat "$ROOT/queries/tpch/q01.sql")"

step "done: stopping the workers and the server (data in $DATA)"
exit $failed
