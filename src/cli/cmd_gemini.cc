// `shardlake gemini`: the seeded differential tester (src/gemini, docs/gemini.md).
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <fstream>

#include "CLI/CLI.hpp"
#include "cli/commands.h"
#include "fmt/format.h"
#include "gemini/gemini.h"

namespace shardlake::cli {
namespace {

std::atomic<bool> g_gemini_stop{false};

void OnGeminiSignal(int) {
  g_gemini_stop.store(true);
  // A second Ctrl-C ends the process at once.
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

int Fatal(const std::string& message) {
  std::fprintf(stderr, "gemini: error: %s\n", message.c_str());
  return 2;
}

}  // namespace

CLI::App* AddGeminiCommand(CLI::App& app, GeminiFlags& f) {
  CLI::App* cmd = app.add_subcommand(
      "gemini",
      "seeded differential tester: writes the same random rows to a system under test and an "
      "oracle, reads them back with the same queries and reports every difference (exit 0: no "
      "difference, 1: errors found, 2: fatal problem such as bad flags or an unreachable target). "
      "shardlake tables are append-only, so only INSERTs are written (no UPDATE / DELETE)");
  cmd->add_option("--test-cluster,-t", f.test_cluster,
                  "system under test: embedded:[DIR] or sql://[DIR] (in-process engine; a temp "
                  "dir, or --data-dir, when no DIR), duckdb:, postgresql://user:pw@host:port/db, "
                  "shardlake://user:pw@host:port?tls-roots=ca.pem")
      ->required();
  cmd->add_option("--oracle-cluster,-o", f.oracle_cluster,
                  "the reference, same URI forms (usually duckdb: or postgresql://...); without "
                  "it gemini only loads the test side");
  cmd->add_option("--mode,-m", f.mode,
                  "write: inserts only; read: reads only (of what an earlier run wrote; nothing "
                  "is dropped); mixed: both (default)");
  cmd->add_option("--duration", f.duration,
                  "how long the main phase runs: 30s (default), 1m30s, 500ms, 2h or seconds");
  cmd->add_option("--warmup", f.warmup,
                  "a write-only phase before the main phase (default 0s, none)");
  cmd->add_option(
      "--concurrency,-c", f.concurrency,
      "workers; each has its own random stream, history store and key slice (default 4)");
  cmd->add_option("--seed,-s", f.seed,
                  "seed of the statements and values: a number or `random` (default); printed "
                  "at start and in the result, so a run can be repeated");
  cmd->add_option("--schema-seed", f.schema_seed,
                  "seed of the schema and key pools: a number or `random` (default: --seed)");
  cmd->add_option("--drop-schema,-d", f.drop_schema,
                  "drop the tables an earlier run left before creating them (default true; never "
                  "in read mode)");
  cmd->add_option("--partition-count", f.partition_count,
                  "partition-key tuples per table, split evenly among the workers (default 10000)");
  cmd->add_option("--partition-key-distribution", f.distribution,
                  "how a worker picks keys from its slice: uniform (default), normal or zipf");
  cmd->add_option("--max-tables", f.max_tables,
                  "tables: 1..N, drawn from the schema seed (default 1)");
  cmd->add_option("--max-partition-keys", f.max_partition_keys,
                  "partition-key columns per table: 1..N (default 2)");
  cmd->add_option("--max-clustering-keys", f.max_clustering_keys,
                  "clustering-key columns per table: 0..N (default 2)");
  cmd->add_option("--max-columns", f.max_columns, "value columns per table: 1..N (default 8)");
  cmd->add_option("--dataset-size", f.dataset_size,
                  "small (default: short strings, 4 hours of times, batches up to 20 rows) or "
                  "large (longer strings, 48 hours, batches up to 200 rows)");
  cmd->add_option("--max-mutation-retries", f.max_mutation_retries,
                  "retries of a failed write on the side that failed, and of a read whose "
                  "results differ, before it counts as an error (default 5)");
  cmd->add_option("--max-mutation-retries-backoff", f.max_mutation_retries_backoff,
                  "cap of the exponential backoff between retries, which starts at 10ms "
                  "(default 500ms)");
  cmd->add_option("--max-errors-to-store", f.max_errors_to_store,
                  "errors kept in the result; the run also stops when this many errors "
                  "happened (default 1000)");
  cmd->add_flag("--fail-fast,-f", f.fail_fast, "stop at the first error");
  cmd->add_option("--outfile", f.outfile, "write the result JSON here (default: stdout)");
  cmd->add_option("--statement-log-file", f.statement_log_file,
                  "log every statement, one per line: `w<worker> <n> <kind> <sql>;`");
  cmd->add_option("--max-statements", f.max_statements,
                  "stop each worker after N statements of the main phase (default 0: the "
                  "duration alone ends the run)");
  cmd->add_flag("--verbose,-v", f.verbose, "print every statement to stderr as it runs");
  return cmd;
}

int RunGemini(const GlobalOptions& options, const GeminiFlags& f, bool data_dir_given) {
  gemini::Config config;
  config.test_cluster = f.test_cluster;
  config.oracle_cluster = f.oracle_cluster;
  if (f.mode == "write") {
    config.mode = gemini::Mode::kWrite;
  } else if (f.mode == "read") {
    config.mode = gemini::Mode::kRead;
  } else if (f.mode == "mixed") {
    config.mode = gemini::Mode::kMixed;
  } else {
    return Fatal(fmt::format("--mode {}: use write, read or mixed", f.mode));
  }
  auto duration = gemini::ParseDurationSeconds(f.duration);
  if (!duration.ok()) return Fatal("--duration: " + std::string(duration.status().message()));
  auto warmup = gemini::ParseDurationSeconds(f.warmup);
  if (!warmup.ok()) return Fatal("--warmup: " + std::string(warmup.status().message()));
  auto backoff = gemini::ParseDurationSeconds(f.max_mutation_retries_backoff);
  if (!backoff.ok()) {
    return Fatal("--max-mutation-retries-backoff: " + std::string(backoff.status().message()));
  }
  auto seed = gemini::ParseSeed(f.seed);
  if (!seed.ok()) return Fatal("--seed: " + std::string(seed.status().message()));
  auto schema_seed = f.schema_seed.empty() ? seed : gemini::ParseSeed(f.schema_seed);
  if (!schema_seed.ok()) {
    return Fatal("--schema-seed: " + std::string(schema_seed.status().message()));
  }
  config.duration_seconds = *duration;
  config.warmup_seconds = *warmup;
  config.max_mutation_retries_backoff_seconds = *backoff;
  config.seed = *seed;
  config.schema_seed = *schema_seed;
  config.concurrency = f.concurrency;
  config.drop_schema = f.drop_schema;
  config.partition_count = f.partition_count;
  if (f.distribution == "uniform") {
    config.partition_key_distribution = gemini::KeyDistribution::kUniform;
  } else if (f.distribution == "normal") {
    config.partition_key_distribution = gemini::KeyDistribution::kNormal;
  } else if (f.distribution == "zipf") {
    config.partition_key_distribution = gemini::KeyDistribution::kZipf;
  } else {
    return Fatal(fmt::format("--partition-key-distribution {}: use uniform, normal or zipf",
                             f.distribution));
  }
  config.schema_limits.max_tables = f.max_tables;
  config.schema_limits.max_partition_keys = f.max_partition_keys;
  config.schema_limits.max_clustering_keys = f.max_clustering_keys;
  config.schema_limits.max_columns = f.max_columns;
  if (f.dataset_size == "small") {
    config.schema_limits.dataset_size = gemini::DatasetSize::kSmall;
  } else if (f.dataset_size == "large") {
    config.schema_limits.dataset_size = gemini::DatasetSize::kLarge;
  } else {
    return Fatal(fmt::format("--dataset-size {}: use small or large", f.dataset_size));
  }
  config.max_mutation_retries = f.max_mutation_retries;
  config.max_errors_to_store = f.max_errors_to_store;
  config.fail_fast = f.fail_fast;
  config.statement_log_file = f.statement_log_file;
  config.verbose = f.verbose;
  config.max_statements_per_worker = f.max_statements;
  config.threads = options.threads;
  if (data_dir_given) config.data_dir = options.data_dir;
  config.progress = isatty(STDERR_FILENO) != 0 && !f.verbose;
  if (absl::Status valid = gemini::ValidateConfig(config); !valid.ok()) {
    return Fatal(std::string(valid.message()));
  }
  if (!f.outfile.empty()) {
    // Fail before the run, not after it, when the result cannot be written.
    std::ofstream probe(f.outfile, std::ios::app);
    if (!probe) return Fatal(fmt::format("--outfile {}: cannot open for writing", f.outfile));
  }

  std::fputs(gemini::DescribeSetup(config,
                                   gemini::GenerateSchema(config.schema_seed, config.schema_limits))
                 .c_str(),
             stderr);
  g_gemini_stop.store(false);
  std::signal(SIGINT, OnGeminiSignal);
  std::signal(SIGTERM, OnGeminiSignal);
  auto outcome = gemini::Run(config, &g_gemini_stop);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  if (!outcome.ok()) return Fatal(std::string(outcome.status().message()));

  const std::string text = outcome->result.dump(2) + "\n";
  if (f.outfile.empty()) {
    std::fputs(text.c_str(), stdout);
  } else {
    std::ofstream out(f.outfile, std::ios::trunc);
    out << text;
    if (!out) return Fatal(fmt::format("--outfile {}: write failed", f.outfile));
  }
  const auto& result = outcome->result["result"];
  std::fprintf(stderr,
               "gemini: %lld writes (%lld errors), %lld reads (%lld errors), %lld rows "
               "validated%s\n",
               static_cast<long long>(result["write_ops"].get<int64_t>()),
               static_cast<long long>(result["write_errors"].get<int64_t>()),
               static_cast<long long>(result["read_ops"].get<int64_t>()),
               static_cast<long long>(result["read_errors"].get<int64_t>()),
               static_cast<long long>(result["validated_rows"].get<int64_t>()),
               g_gemini_stop.load() ? " (interrupted)" : "");
  return outcome->errors > 0 ? 1 : 0;
}

}  // namespace shardlake::cli
