// cluster_bench: TPC-H (SF 1 by default), all 22 queries, on the cluster
// (a server and 2 worker processes on loopback, queries through the client
// protocol over TLS) against DuckDB alone on the same Parquet files, in the
// same run.
//
// Threads: DuckDB alone gets --threads (default 2, the machine's cores); each
// worker gets --threads / 2 and the server --threads, so the threads working
// at any moment are the same on both sides (a distributed query runs on the
// workers while the server waits; a query that falls back runs on the server
// alone).
//
// Per query: best-of-runs time of each side, the ratio, whether it ran
// distributed (or why not), bytes of partial results the workers sent, and
// whether the two answers are equal (a difference is an error: exit 1).
//
// Goal: total cluster time at most 1.3x DuckDB alone.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "bench_util.h"
#include "client/cluster_client.h"
#include "cluster/local_cluster.h"
#include "common/sql_text.h"
#include "duck/duck.h"
#include "fmt/format.h"
#include "query/result_compare.h"

namespace {

namespace fs = std::filesystem;
using shardlake::bench::CheckChild;
using shardlake::bench::Die;
using shardlake::bench::RunChild;
constexpr const char* kName = "cluster_bench";
const char* const kTables[] = {"nation",   "region",   "part",   "supplier",
                               "partsupp", "customer", "orders", "lineitem"};

std::string QueryText(const fs::path& dir, int number) {
  std::ifstream in(dir / fmt::format("q{:02}.sql", number));
  if (!in) Die(kName, fmt::format("cannot read query {} in {}", number, dir.string()));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == ';')) {
    text.pop_back();
  }
  return text;
}

struct Answer {
  std::vector<std::string> columns;
  std::vector<shardlake::TextRow> rows;
};

struct QueryFigures {
  double duckdb_seconds = 1e30;
  double cluster_seconds = 1e30;
  bool distributed = false;
  std::string reason;
  int64_t bytes_from_workers = 0;
  std::string check = "?";
};

template <typename T>
T OrDie(absl::StatusOr<T> value, const std::string& what) {
  if (!value.ok()) Die(kName, fmt::format("{}: {}", what, value.status().ToString()));
  return std::move(*value);
}

}  // namespace

int main(int argc, char** argv) {
  double scale_factor = 1;
  int shards = 11;
  int runs = 2;
  int threads = 2;
  std::string data_dir;
  std::string binary = std::getenv("SHARDLAKE_BIN") ? std::getenv("SHARDLAKE_BIN") : "";
  shardlake::bench::CommonOptions common;
  CLI::App app{"cluster_bench: TPC-H on server + 2 workers vs DuckDB alone"};
  app.add_option("--sf", scale_factor, "TPC-H scale factor (default 1)")
      ->check(CLI::Range(0.001, 100.0));
  app.add_option("--shards", shards, "buckets of orders/lineitem (default 11)")
      ->check(CLI::Range(1, 4096));
  app.add_option("--runs", runs, "timed runs per query and side, after one warm-up (best counts)")
      ->check(CLI::Range(1, 10));
  app.add_option("--threads", threads, "threads of DuckDB alone (default 2)")
      ->check(CLI::Range(2, 64));
  app.add_option("--data-dir", data_dir, "reuse a bootstrapped data dir instead of making one");
  app.add_option("--shardlake", binary, "the shardlake binary (default: $SHARDLAKE_BIN)");
  shardlake::bench::AddCommonOptions(app, kName, &common);
  CLI11_PARSE(app, argc, argv);
  if (binary.empty()) Die(kName, "set SHARDLAKE_BIN or pass --shardlake");
  fs::path queries = fs::path(SHARDLAKE_SOURCE_DIR) / "queries/tpch";

  shardlake::bench::TempDir work(kName, common.keep);
  if (data_dir.empty()) {
    data_dir = (work.path() / "data").string();
    std::fprintf(stderr, "bootstrapping TPC-H SF %g with %d shards...\n", scale_factor, shards);
    auto run = RunChild(
        kName,
        {binary, "--data-dir", data_dir, "--threads", std::to_string(threads), "bootstrap",
         "--client-username=bench", "--client-password=bench-bench",
         "--worker-password=worker-worker", fmt::format("--tpch-scale-factor={}", scale_factor),
         fmt::format("--shard-count={}", shards)},
        work.path() / "bootstrap.log", 1800);
    CheckChild(kName, run, "bootstrap");
  }

  // DuckDB alone: views straight over the Parquet files.
  // The same Parquet metadata cache the cluster's databases use, so the
  // ratio measures distribution alone.
  auto database = OrDie(shardlake::duck::Database::Open("", {{"threads", std::to_string(threads)},
                                                             {"parquet_metadata_cache", "true"}}),
                        "open DuckDB");
  auto connection = OrDie(shardlake::duck::Connection::Open(*database), "connect DuckDB");
  for (const char* table : kTables) {
    std::string glob = fmt::format("{}/lake/main/{}/**/*.parquet", data_dir, table);
    auto status = connection->Execute(fmt::format(
        "CREATE VIEW main.{} AS SELECT * FROM read_parquet({}, hive_partitioning = false)", table,
        shardlake::QuoteLiteral(glob)));
    if (!status.ok()) Die(kName, status.ToString());
  }

  shardlake::LocalCluster::Options cluster_options;
  cluster_options.binary = binary;
  cluster_options.data_dir = data_dir;
  cluster_options.worker_password = "worker-worker";
  cluster_options.log_dir = (work.path() / "logs").string();
  cluster_options.server_threads = threads;
  cluster_options.worker_threads = threads / 2;
  cluster_options.server_args = {"--compact-interval", "0"};
  shardlake::LocalCluster cluster(cluster_options);
  if (auto status = cluster.StartServer(); !status.ok()) Die(kName, status.ToString());
  cluster.StartWorker("worker-1");
  cluster.StartWorker("worker-2");
  shardlake::ClientOptions client_options;
  client_options.address = cluster.address();
  client_options.tls_roots_path = cluster.ca_file();
  client_options.username = "bench";
  client_options.password = "bench-bench";
  auto client = OrDie(shardlake::ClusterClient::Connect(client_options), "connect to the server");
  for (int i = 0;; ++i) {
    auto status = OrDie(client->Status(), "status");
    if (status.workers == 2) break;
    if (i > 600) Die(kName, "the two workers did not register within 60 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  std::map<int, QueryFigures> figures;
  bool all_equal = true;
  for (int q = 1; q <= 22; ++q) {
    std::string sql = QueryText(queries, q);
    std::string as_text =
        fmt::format("SELECT COLUMNS(*)::VARCHAR FROM ({}\n) AS __shardlake_result", sql);
    QueryFigures& f = figures[q];
    Answer expected;
    shardlake::CompareOptions compare;
    for (int run = 0; run <= runs; ++run) {  // run 0 warms caches up and is not timed
      auto start = shardlake::bench::Clock::now();
      // Run 0 learns the column types; the timed runs render text as the
      // cluster's client does (DuckDB's VARCHAR casts).
      auto result =
          OrDie(connection->Query(run == 0 ? sql : as_text), fmt::format("Q{} on DuckDB", q));
      double seconds = shardlake::bench::SecondsSince(start);
      if (run > 0) f.duckdb_seconds = std::min(f.duckdb_seconds, seconds);
      if (run == 0) {
        for (size_t c = 0; c < result->ColumnCount(); ++c) {
          expected.columns.push_back(result->ColumnName(c));
          auto kind = result->ColumnKind(c);
          compare.approximate_columns.push_back(kind == shardlake::duck::TypeKind::kDouble ||
                                                kind == shardlake::duck::TypeKind::kFloat);
        }
        compare.ordered = sql.find("order by") != std::string::npos;
        auto text = OrDie(connection->Query(as_text), fmt::format("Q{} on DuckDB", q));
        expected.rows = OrDie(text->FetchAllAsStrings(), fmt::format("Q{} rows", q));
      } else {
        OrDie(result->FetchAllAsStrings(), fmt::format("Q{} rows", q));
      }
    }
    for (int run = 0; run <= runs; ++run) {
      shardlake::CollectingSink sink;
      auto start = shardlake::bench::Clock::now();
      auto outcome = OrDie(client->Execute(sql, sink), fmt::format("Q{} on the cluster", q));
      double seconds = shardlake::bench::SecondsSince(start);
      if (run > 0) f.cluster_seconds = std::min(f.cluster_seconds, seconds);
      f.distributed = outcome.distributed;
      f.reason = outcome.fallback_reason;
      f.bytes_from_workers = outcome.bytes_from_workers;
      if (run == 0) {
        auto same = shardlake::CompareResults(expected.columns, expected.rows, sink.columns(),
                                              sink.rows(), compare);
        f.check = same.ok() ? "equal" : "DIFFERENT";
        if (!same.ok()) {
          all_equal = false;
          std::fprintf(stderr, "Q%d: %s\n", q, std::string(same.message()).c_str());
        }
      }
    }
    std::fprintf(stderr, "Q%-2d duckdb %.3f s  cluster %.3f s  %s\n", q, f.duckdb_seconds,
                 f.cluster_seconds, f.distributed ? "distributed" : "server only");
  }

  shardlake::bench::Report report;
  report.Add(
      fmt::format("TPC-H SF {} ({} buckets), best of {} runs after a warm-up; DuckDB alone "
                  "with {} threads vs server ({} threads) + 2 workers ({} each)",
                  scale_factor, shards, runs, threads, threads, threads / 2));
  report.Add(fmt::format("{:<4} {:>10} {:>10} {:>6}  {:<11} {:>12}  {:<9} {}", "q", "duckdb_s",
                         "cluster_s", "ratio", "mode", "worker_bytes", "answer", "why not"));
  double duckdb_total = 0, cluster_total = 0;
  int distributed = 0;
  for (const auto& [q, f] : figures) {
    duckdb_total += f.duckdb_seconds;
    cluster_total += f.cluster_seconds;
    distributed += f.distributed ? 1 : 0;
    report.Add(fmt::format(
        "Q{:<3} {:>10.3f} {:>10.3f} {:>6.2f}  {:<11} {:>12}  {:<9} {}", q, f.duckdb_seconds,
        f.cluster_seconds, f.cluster_seconds / f.duckdb_seconds,
        f.distributed ? "distributed" : "server", shardlake::bench::Grouped(f.bytes_from_workers),
        f.check, f.distributed ? "" : f.reason));
  }
  double ratio = cluster_total / duckdb_total;
  report.Add(
      fmt::format("total: DuckDB alone {:.2f} s, cluster {:.2f} s, ratio {:.2f}; {} of 22 "
                  "queries distributed",
                  duckdb_total, cluster_total, ratio, distributed));
  report.Goal("cluster time / DuckDB alone (22 queries) <= 1.3", fmt::format("{:.2f}", ratio),
              ratio <= 1.3);
  report.Publish(kName, common.results_dir);
  return all_equal ? 0 : 1;
}
