#!/usr/bin/env bash
# The embedded lake end to end: create a table, generate and load a dataset of
# 2 million rows over 7 days, insert a row, and run time-filtered and aggregate
# queries, showing results, timings and how many files pruning skipped.
# Usage: scripts/demo.sh <path to shardlake>   (make demo passes it)
set -euo pipefail

BIN="$(realpath "${1:?usage: demo.sh <shardlake binary>}")"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEMO_DIR="$ROOT/build/demo"
DATA="$DEMO_DIR/shardlake-data"
ROWS="${DEMO_ROWS:-2000000}"

rm -rf "$DEMO_DIR"
mkdir -p "$DEMO_DIR"
cd "$DEMO_DIR"
sl() { "$BIN" --data-dir "$DATA" "$@"; }
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
query() {
  printf '\n\033[36m%s\033[0m\n' "$1"
  sl sql --stats "$1"
}

step "shardlake $("$BIN" version | cut -d' ' -f2-) — embedded defaults: catalog sqlite://$DATA/catalog.sqlite, store file://$DATA/lake"

step "1. Create a table (time column 'time' -> date=/hour= layout)"
sl sql "CREATE TABLE metrics.cpu (time TIMESTAMP_NS, host VARCHAR, region VARCHAR, usage DOUBLE, cores INTEGER)"

step "2. Generate $ROWS rows of CPU samples over 7 days (CSV, with DuckDB through shardlake's COPY)"
sl sql "COPY (SELECT TIMESTAMP_NS '2026-01-01' + INTERVAL (i * (7 * 86400000 // $ROWS)) MILLISECOND AS time,
                 'host-' || (i % 200) AS host, 'eu-' || (i % 5) AS region,
                 round(50 + 40 * sin(i / 10000.0) + (hash(i) % 1000) / 100.0, 2) AS usage,
                 (4 * (1 + i % 8))::INTEGER AS cores
          FROM range($ROWS) r(i)) TO 'cpu.csv' (HEADER)"
ls -lh cpu.csv | awk '{print "cpu.csv: " $5}'

step "3. Load it: CSV -> Parquet (zstd) per hour -> store -> one catalog batch"
sl load metrics.cpu cpu.csv

step "4. INSERT a row stamped now()"
sl sql "INSERT INTO metrics.cpu VALUES (now(), 'host-new', 'eu-9', 12.5, 8)"

step "5. What the catalog holds"
sl tables
sl files metrics.cpu --after '2026-01-03 10:00' --before '2026-01-03 12:59'

step "6. Queries (the line after each result: rows, time, files scanned and pruned)"
query "SELECT count(*) AS rows, min(time) AS first, max(time) AS last FROM metrics.cpu"
query "SELECT region, round(avg(usage), 2) AS avg_usage, count(*) AS samples
       FROM metrics.cpu WHERE time >= '2026-01-03 10:00' AND time < '2026-01-03 11:00'
       GROUP BY region ORDER BY region"
query "SELECT host, round(avg(usage), 2) AS avg_usage, max(usage) AS peak
       FROM metrics.cpu WHERE time BETWEEN '2026-01-05' AND '2026-01-05 23:59:59'
       GROUP BY host ORDER BY avg_usage DESC LIMIT 5"
query "SELECT date_trunc('day', time) AS day, round(avg(usage), 2) AS avg_usage,
              count(DISTINCT host) AS hosts
       FROM metrics.cpu WHERE time < '2026-01-08' GROUP BY day ORDER BY day"
query "SELECT host, region FROM metrics.cpu WHERE region = 'eu-9'"
query "SELECT host, usage FROM metrics.cpu WHERE time > '2030-01-01'"

step "7. EXPLAIN shows the pruning before DuckDB's plan"
sl sql "EXPLAIN SELECT count(*) FROM metrics.cpu WHERE time >= '2026-01-02 06:00' AND time < '2026-01-02 08:00'" | head -4

step "8. Compaction: merge each hour's small files into one .2 file (--now: do not wait for the timeouts)"
sl sql "INSERT INTO metrics.cpu SELECT TIMESTAMP_NS '2026-01-03 10:00:00' + INTERVAL (i) SECOND, 'host-late', 'eu-0', 1.0, 4 FROM range(10) r(i)"
sl sql "INSERT INTO metrics.cpu SELECT TIMESTAMP_NS '2026-01-03 10:30:00' + INTERVAL (i) SECOND, 'host-late', 'eu-0', 2.0, 4 FROM range(10) r(i)"
sl files metrics.cpu --after '2026-01-03 10:00' --before '2026-01-03 10:59:59' | tail -1
query "SELECT count(*), round(sum(usage), 2) AS usage FROM metrics.cpu WHERE time >= '2026-01-03 10:00' AND time < '2026-01-03 11:00'"
sl compact --now --grace 0
sl files metrics.cpu --after '2026-01-03 10:00' --before '2026-01-03 10:59:59' | tail -2
query "SELECT count(*), round(sum(usage), 2) AS usage FROM metrics.cpu WHERE time >= '2026-01-03 10:00' AND time < '2026-01-03 11:00'"

step "done: data in $DATA (remove with: rm -rf $DEMO_DIR)"
