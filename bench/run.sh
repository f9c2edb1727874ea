#!/usr/bin/env bash
# Runs the (already built) benchmarks with their default sizes and prints a
# summary of their goals. Usage: bench/run.sh <build_dir>   (or: make bench)
# Each benchmark writes bench/results/<name>.txt; its full output goes to
# bench/results/<name>.log. Exits non-zero if a benchmark failed (an error,
# a wrong result or a timeout); a missed goal (MISS) is reported, not an error.
set -uo pipefail

build=${1:?usage: bench/run.sh <build_dir>}
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$build" && pwd) || exit 1
results=$root/bench/results
mkdir -p "$results"
export SHARDLAKE_BIN=$build/src/cli/shardlake
if [[ ! -x $SHARDLAKE_BIN ]]; then
  echo "run.sh: $SHARDLAKE_BIN is missing; build first (make build)" >&2
  exit 1
fi

# name:timeout-seconds
benches=(load_bench:900 catalog_bench:600 prune_bench:600 compact_bench:600 tpch_bench:900
  file_cache_bench:300 auth_bench:300 s3_bench:600 arrow_wire_bench:300 gemini_bench:600
  cluster_bench:1800)
failed=()
for spec in "${benches[@]}"; do
  name=${spec%%:*}
  limit=${spec##*:}
  bin=$build/bench/$name
  rm -f "$results/$name.txt" "$results/$name.log"
  echo "=== $name"
  if [[ ! -x $bin ]]; then
    echo "run.sh: $bin is missing" | tee "$results/$name.log"
    failed+=("$name")
    continue
  fi
  timeout --kill-after=10 "$limit" "$bin" --results-dir "$results" 2>&1 | tee "$results/$name.log"
  rc=${PIPESTATUS[0]}
  if ((rc != 0)); then
    ((rc == 124)) && echo "run.sh: $name timed out after $limit s" | tee -a "$results/$name.log"
    failed+=("$name")
  fi
  echo
done

echo "=== summary (bench/results/*.txt; each figure is relative to a baseline run alongside)"
printf '%-14s %-52s %-18s %s\n' benchmark goal measured result
for spec in "${benches[@]}"; do
  name=${spec%%:*}
  if [[ ! -s $results/$name.txt ]]; then
    printf '%-14s %-52s %-18s %s\n' "$name" "-" "-" "ERROR (see bench/results/$name.log)"
    continue
  fi
  # Lines look like "GOAL <what>: <measured> PASS|MISS".
  grep '^GOAL ' "$results/$name.txt" | while IFS= read -r line; do
    rest=${line#GOAL }
    goal=${rest%: *}
    tail=${rest##*: }
    printf '%-14s %-52s %-18s %s\n' "$name" "$goal" "${tail% *}" "${tail##* }"
  done
done

if ((${#failed[@]} > 0)); then
  echo "run.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
