// The subcommands of the `shardlake` binary, one file each. Each returns the
// process exit code and prints its own errors (one line, to stderr).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli/context.h"

namespace CLI {
class App;
}  // namespace CLI

namespace shardlake::cli {

// `shardlake sql [SQL]`: runs SQL; without SQL reads statements from stdin, or
// opens an interactive prompt when stdin is a terminal.
int RunSql(GlobalOptions options, const std::string& sql);

// `shardlake load TABLE FILE...`
int RunLoad(const GlobalOptions& options, const std::string& table,
            const std::vector<std::string>& files);

// `shardlake tables`
int RunTables(const GlobalOptions& options);

// `shardlake files TABLE`
int RunFiles(const GlobalOptions& options, const std::string& table, const std::string& after,
             const std::string& before);

// `shardlake compact [--now] [--grace S]`: merges what is due once and deletes
// merged sources whose grace period has passed.
int RunCompact(const GlobalOptions& options, bool now, double grace_seconds);

// `shardlake tpch gen --sf SF --out DIR [--seed N] [--threads N] [--tables a,b]
// [--rows-per-file N]`: TPC-H tables as plain Parquet files (cmd_tpch.cc).
struct TpchFlags {
  double scale_factor = 1;
  std::string out_dir;
  uint64_t seed = 0;
  int threads = 0;  // 0: the global --threads, else all cores
  std::vector<std::string> tables;
  int64_t rows_per_file = 2'000'000;
};
// Adds the `tpch` subcommand (with `gen`) to `app`, bound to `flags`.
CLI::App* AddTpchCommand(CLI::App& app, TpchFlags& flags);
int RunTpch(const GlobalOptions& options, const TpchFlags& flags);

// `shardlake bootstrap`: users file, TLS files and a TPC-H lake in buckets in
// a new data dir (cmd_bootstrap.cc, docs/bootstrap.md).
struct BootstrapFlags {
  std::string client_username;
  std::string client_password;
  std::string worker_password;
  double scale_factor = 1;
  int shard_count = 11;
  std::string data_dir;  // empty: the global --data-dir
  std::string tls_hostname;
  bool force = false;
  uint64_t seed = 0;
};
// Adds the `bootstrap` subcommand to `app`, bound to `flags`.
CLI::App* AddBootstrapCommand(CLI::App& app, BootstrapFlags& flags);
int RunBootstrap(const GlobalOptions& options, const BootstrapFlags& flags);

// `shardlake server`: the cluster server over the bootstrapped --data-dir
// (cmd_server.cc, cluster/server.h). Runs until SIGINT / SIGTERM.
struct ServerFlags {
  std::string listen = "127.0.0.1:31337";
  std::string port_file;  // receives the bound port (for --listen host:0)
  double compact_interval_seconds = 60;
  double query_buffer_mb = 64;  // ServerOptions::query_buffer_bytes, in MiB
};
CLI::App* AddServerCommand(CLI::App& app, ServerFlags& flags);
int RunServer(const GlobalOptions& options, const ServerFlags& flags);

// `shardlake worker`: a cluster worker (cmd_worker.cc, cluster/worker.h).
// Runs until SIGINT / SIGTERM.
struct WorkerFlags {
  std::string server = "127.0.0.1:31337";
  std::string tls_roots;
  std::string password;
  std::string name;
  int max_tasks = 1;
  std::string cache_dir;
};
CLI::App* AddWorkerCommand(CLI::App& app, WorkerFlags& flags);
int RunWorker(const GlobalOptions& options, const WorkerFlags& flags);

// `shardlake client`: the SQL shell against a server (cmd_client.cc). Adds the
// subcommand with its flags; RunClient reads them back from it.
CLI::App* AddClientCommand(CLI::App& app);
int RunClient(const CLI::App& command);

// `shardlake gemini`: the differential tester (cmd_gemini.cc, docs/gemini.md).
// Flags hold text where gemini parses the value itself (durations, seeds).
struct GeminiFlags {
  std::string test_cluster;
  std::string oracle_cluster;
  std::string mode = "mixed";
  std::string duration = "30s";
  std::string warmup = "0s";
  int concurrency = 4;
  std::string seed = "random";
  std::string schema_seed;  // empty: --seed
  bool drop_schema = true;
  int64_t partition_count = 10'000;
  std::string distribution = "uniform";
  int max_tables = 1;
  int max_partition_keys = 2;
  int max_clustering_keys = 2;
  int max_columns = 8;
  std::string dataset_size = "small";
  int max_mutation_retries = 5;
  std::string max_mutation_retries_backoff = "500ms";
  int max_errors_to_store = 1000;
  bool fail_fast = false;
  std::string outfile;
  std::string statement_log_file;
  int64_t max_statements = 0;
  bool verbose = false;
};
// Adds the `gemini` subcommand to `app`, bound to `flags`.
CLI::App* AddGeminiCommand(CLI::App& app, GeminiFlags& flags);
// Exit code 0 (no difference), 1 (errors found) or 2 (fatal). `data_dir_given`:
// the global --data-dir was set (the embedded target then uses it).
int RunGemini(const GlobalOptions& options, const GeminiFlags& flags, bool data_dir_given);

// Prints "error: <message>" to stderr and returns 1.
int ReportError(const absl::Status& status);

}  // namespace shardlake::cli
