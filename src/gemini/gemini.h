// gemini: the seeded differential tester. Writes the same random rows to a
// system under test and an oracle, reads them back with the same queries and
// reports every difference (see docs/gemini.md).
//
// A run: open both targets (fatal if either cannot be reached), create the
// schema generated from the schema seed on both, then run `concurrency`
// workers, each with its own Rng derived from the seed, its own slice of the
// partition-key pool and its own HistoryStore, first for the warmup (writes
// only), then for the duration in the chosen mode. Writes hold a shared lock
// while they go to both sides; reads hold it exclusively, so both sides are
// read in the same state. Without an oracle gemini only loads (and runs
// reads, checking they succeed).
//
// Differences gemini could have caused itself are never reported: a write the
// test side definitely refused is not sent to the oracle; a write with an
// uncertain outcome on the test side (timeout, connection lost), or one the
// oracle refused after its retries, is counted as a write error and its
// partition keys are excluded from every later read on both sides.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "gemini/schema.h"
#include "gemini/statements.h"
#include "nlohmann/json.hpp"

namespace shardlake::gemini {

enum class Mode { kWrite, kRead, kMixed };

struct Config {
  std::string test_cluster;    // target URI (gemini/target.h)
  std::string oracle_cluster;  // "" = load only
  Mode mode = Mode::kMixed;
  double duration_seconds = 30;
  double warmup_seconds = 0;
  int concurrency = 4;
  uint64_t seed = 0;
  uint64_t schema_seed = 0;
  bool drop_schema = true;
  int64_t partition_count = 10'000;
  KeyDistribution partition_key_distribution = KeyDistribution::kUniform;
  SchemaLimits schema_limits;
  int max_mutation_retries = 5;
  double max_mutation_retries_backoff_seconds = 0.5;
  int max_errors_to_store = 1000;
  bool fail_fast = false;
  std::string statement_log_file;  // "" = none
  bool verbose = false;
  // Stop each worker after this many statements in the main phase (0: only
  // the duration bounds the run); makes runs comparable statement for statement.
  int64_t max_statements_per_worker = 0;
  // DuckDB threads of in-process targets; "" data dir: a temp dir.
  int threads = 0;
  std::string data_dir;
  // Print a progress line to stderr once a second.
  bool progress = false;
  StatementRatios ratios;
};

// Checks the configuration. Errors: InvalidArgument naming the flag, the
// value and what is allowed.
absl::Status ValidateConfig(const Config& config);

struct RunOutcome {
  nlohmann::json result;  // the result document (see docs/gemini.md)
  int64_t errors = 0;     // write_errors + read_errors
};

// Runs gemini. `stop` (may be null) ends the run early when set (Ctrl-C); the
// result still covers what ran. Errors (fatal: exit code 2): InvalidArgument
// for a bad configuration, those of OpenTarget, and a failure to create the
// schema on either side.
absl::StatusOr<RunOutcome> Run(const Config& config, const std::atomic<bool>* stop);

// The printable setup: seeds, targets and the schema (printed at start).
std::string DescribeSetup(const Config& config, const Schema& schema);

}  // namespace shardlake::gemini

namespace shardlake::gemini {

// "90s", "1m30s", "500ms", "2h", "1.5" (seconds) -> seconds. Errors:
// InvalidArgument naming the text.
absl::StatusOr<double> ParseDurationSeconds(const std::string& text);

// "random" -> a fresh random seed; else a decimal uint64. Errors:
// InvalidArgument naming the text.
absl::StatusOr<uint64_t> ParseSeed(const std::string& text);

}  // namespace shardlake::gemini
