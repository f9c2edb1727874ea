// `shardlake bootstrap`: one command that prepares everything a cluster needs
// in a data directory: users file, TLS files, and a TPC-H lake loaded in
// buckets, described by <data-dir>/cluster.json. Placement, layout and the
// manifest are documented in docs/bootstrap.md.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/cleanup/cleanup.h"
#include "catalog/index.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "cluster/bootstrap_files.h"
#include "cluster/tls_files.h"
#include "cluster/users_file.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "duck/duck.h"
#include "fmt/format.h"
#include "ingest/ingester.h"
#include "nlohmann/json.hpp"
#include "storage/object_store.h"
#include "tpch/generator.h"

namespace shardlake::cli {
namespace {

namespace fs = std::filesystem;

constexpr int kManifestFormatVersion = 1;
constexpr int kMaxShardCount = 4096;
// `main`: where unqualified names resolve (docs/tables.md), so the TPC-H queries
// in queries/tpch/ and `SELECT count(*) FROM lineitem` run as written.
constexpr std::string_view kDatabase = "main";
constexpr std::string_view kCatalogFileName = "catalog.sqlite";
constexpr std::string_view kLakeDirectoryName = "lake";
// Files in flight while loading; removed before the data dir is committed.
constexpr std::string_view kScratchDirectoryName = "bootstrap-tmp";

// orders and lineitem are split into buckets by order (the generator's unit
// ranges, so each bucket holds its orders with all of their line items);
// every other table is stored once and read whole by every bucket task.
bool IsSharded(tpch::Table table) {
  return table == tpch::Table::kOrders || table == tpch::Table::kLineitem;
}

std::string ShardKey(tpch::Table table) {
  return table == tpch::Table::kOrders ? "o_orderkey" : "l_orderkey";
}

// "bucket=03": zero-padded to at least two digits, so folders sort by number.
std::string BucketFolder(int bucket, int shard_count) {
  size_t width = std::max<size_t>(2, std::to_string(shard_count - 1).size());
  return fmt::format("bucket={:0{}d}", bucket, width);
}

std::string Grouped(int64_t value) {
  std::string digits = std::to_string(value);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// One unit of loading work: a table, or one bucket of a sharded table.
struct LoadStep {
  tpch::Table table = tpch::Table::kNation;
  int bucket = -1;  // -1: the whole (replicated) table
  tpch::Generator::UnitRange units;
  int64_t expected_rows = 0;
};

struct TableSummary {
  int64_t rows = 0;
  int64_t files = 0;
  int64_t bytes = 0;
  int buckets = 0;  // 0 for a replicated table
};

// The redrawn status line: the steps running, rows, MB/s and ETA over the
// whole load. DuckDB cannot tell how far a generator scan is, so a running
// step's rows are estimated from its Parquet bytes and the bytes per row of
// the table's finished steps. Thread-safe.
class ProgressLine {
 public:
  ProgressLine(bool enabled, int shard_count, int64_t total_expected_rows)
      : enabled_(enabled),
        shard_count_(shard_count),
        total_rows_(std::max<int64_t>(1, total_expected_rows)) {}

  void StartStep(size_t id, const LoadStep& step) {
    std::lock_guard lock(mutex_);
    running_[id] = Running{step, 0};
  }

  // From the ingester's progress thread.
  void UpdateStep(size_t id, int64_t bytes) {
    std::lock_guard lock(mutex_);
    auto it = running_.find(id);
    if (it == running_.end()) return;
    it->second.bytes = bytes;
    Draw();
  }

  void FinishStep(size_t id, int64_t rows, int64_t bytes) {
    std::lock_guard lock(mutex_);
    auto it = running_.find(id);
    if (it == running_.end()) return;
    // Lineitem's expected rows are an expectation; what is done is exact.
    done_rows_ += rows;
    done_expected_rows_ += it->second.step.expected_rows;
    done_bytes_ += bytes;
    TableRate& rate = rates_[it->second.step.table];
    rate.rows += rows;
    rate.bytes += bytes;
    running_.erase(it);
    Draw();
  }

  void Clear() {
    std::lock_guard lock(mutex_);
    if (enabled_) {
      std::fprintf(stderr, "\r\033[K");
      std::fflush(stderr);
    }
  }

 private:
  struct Running {
    LoadStep step;
    int64_t bytes = 0;
  };
  struct TableRate {
    int64_t rows = 0;
    int64_t bytes = 0;
  };

  // Rows of a running step done so far, by its bytes (0 when unknown).
  double EstimatedRows(const Running& running) const {
    auto rate = rates_.find(running.step.table);
    if (rate == rates_.end() || rate->second.rows == 0 || rate->second.bytes == 0) return 0;
    double rows = static_cast<double>(running.bytes) * static_cast<double>(rate->second.rows) /
                  static_cast<double>(rate->second.bytes);
    return std::min(rows, 0.99 * static_cast<double>(running.step.expected_rows));
  }

  void Draw() {
    if (!enabled_) return;
    double seconds = watch_.ElapsedSeconds();
    double running_rows = 0;
    int64_t running_bytes = 0;
    std::string label;
    for (const auto& [id, running] : running_) {
      running_rows += EstimatedRows(running);
      running_bytes += running.bytes;
      if (!label.empty()) label += ", ";
      label += tpch::TableName(running.step.table);
      if (running.step.bucket >= 0) {
        label += fmt::format(" {}/{}", running.step.bucket + 1, shard_count_);
      }
    }
    double fraction = std::min(1.0, (static_cast<double>(done_expected_rows_) + running_rows) /
                                        static_cast<double>(total_rows_));
    int64_t rows = done_rows_ + static_cast<int64_t>(running_rows);
    double mb_per_s =
        seconds > 0 ? static_cast<double>(done_bytes_ + running_bytes) / 1e6 / seconds : 0;
    std::string eta = "?";
    if (fraction > 0.01 && fraction < 1) {
      eta = fmt::format("{:.0f} s", seconds * (1 - fraction) / fraction);
    } else if (fraction >= 1) {
      eta = "0 s";
    }
    std::fprintf(stderr,
                 "\r\033[Kbootstrap: %s / ~%s rows (%.0f%%), %.1f MB/s, %.0f s, ETA %s [%s]",
                 Grouped(rows).c_str(), Grouped(total_rows_).c_str(), 100 * fraction, mb_per_s,
                 seconds, eta.c_str(), label.c_str());
    std::fflush(stderr);
  }

  const bool enabled_;
  const int shard_count_;
  const int64_t total_rows_;
  Stopwatch watch_;
  std::mutex mutex_;
  std::map<size_t, Running> running_;
  std::map<tpch::Table, TableRate> rates_;
  int64_t done_rows_ = 0;
  int64_t done_expected_rows_ = 0;
  int64_t done_bytes_ = 0;
};

TableSchema SchemaOf(tpch::Table table) {
  TableSchema schema;
  schema.database = std::string(kDatabase);
  schema.table = std::string(tpch::TableName(table));
  // ColumnDefinitions is "name TYPE, name TYPE, ..." (types contain no ", ").
  std::string definitions = tpch::ColumnDefinitions(table);
  size_t start = 0;
  while (start < definitions.size()) {
    size_t end = definitions.find(", ", start);
    if (end == std::string::npos) end = definitions.size();
    std::string definition = definitions.substr(start, end - start);
    size_t space = definition.find(' ');
    schema.columns.push_back({definition.substr(0, space), definition.substr(space + 1)});
    start = end + 2;
  }
  schema.created_at = NowUnixNanos();
  return schema;
}

std::vector<LoadStep> PlanSteps(const tpch::Generator& generator, int shard_count) {
  std::vector<LoadStep> steps;
  for (tpch::Table table : tpch::kAllTables) {
    int parts = IsSharded(table) ? shard_count : 1;
    for (int part = 0; part < parts; ++part) {
      LoadStep step;
      step.table = table;
      step.bucket = IsSharded(table) ? part : -1;
      step.units = generator.Part(table, part, parts);
      step.expected_rows = tpch::Generator::ExpectedRows(table, step.units.count);
      steps.push_back(step);
    }
  }
  return steps;
}

// While alive, SIGINT and SIGTERM do not kill the process: they are blocked
// in this thread and in every thread started meanwhile (DuckDB's, the
// loaders'), and a watcher thread takes them, marks the bootstrap interrupted
// and interrupts the registered DuckDB connections. The bootstrap then fails
// with Cancelled and the staging directory is removed on the way out, instead
// of being left behind (at a large scale factor, gigabytes) by a killed
// process. Construct it before any other thread starts.
class InterruptWatcher {
 public:
  InterruptWatcher() {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    blocked_ = pthread_sigmask(SIG_BLOCK, &signals_, &old_mask_) == 0;
    if (!blocked_) return;
    watcher_ = std::thread([this] {
      timespec poll = {0, 100'000'000};
      while (!stop_.load()) {
        if (sigtimedwait(&signals_, nullptr, &poll) < 0) continue;
        interrupted_.store(true);
        std::lock_guard lock(mutex_);
        for (duck::Connection* connection : connections_) connection->Interrupt();
      }
    });
  }
  ~InterruptWatcher() {
    stop_.store(true);
    if (watcher_.joinable()) watcher_.join();
    if (blocked_) pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  }
  InterruptWatcher(const InterruptWatcher&) = delete;
  InterruptWatcher& operator=(const InterruptWatcher&) = delete;

  bool interrupted() const { return interrupted_.load(); }

  // Interrupt `connection` on a signal until Forget(connection).
  void Watch(duck::Connection* connection) {
    std::lock_guard lock(mutex_);
    connections_.push_back(connection);
    if (interrupted_.load()) connection->Interrupt();
  }
  void Forget(duck::Connection* connection) {
    std::lock_guard lock(mutex_);
    std::erase(connections_, connection);
  }

 private:
  sigset_t signals_;
  sigset_t old_mask_;
  bool blocked_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<bool> interrupted_{false};
  std::mutex mutex_;
  std::vector<duck::Connection*> connections_;
  std::thread watcher_;
};

absl::Status InterruptedError() {
  return absl::CancelledError("interrupted; the data dir was not changed");
}

// Creates the tpch tables in a new lake under `root` and loads them, up to
// `threads` steps at once (each step's generator scan is single-threaded).
absl::Status LoadLake(const fs::path& root, const BootstrapFlags& flags, int threads,
                      InterruptWatcher& interrupts,
                      std::shared_ptr<const tpch::Generator> generator,
                      std::map<tpch::Table, TableSummary>& summary) {
  fs::path scratch = root / kScratchDirectoryName;
  ASSIGN_OR_RETURN(auto index, OpenIndex("sqlite://" + (root / kCatalogFileName).string()));
  ASSIGN_OR_RETURN(auto store, OpenObjectStore("file://" + (root / kLakeDirectoryName).string()));
  ASSIGN_OR_RETURN(auto database,
                   duck::Database::Open("", {{"temp_directory", (scratch / "duckdb").string()},
                                             {"threads", std::to_string(threads)}}));
  ASSIGN_OR_RETURN(auto setup, duck::Connection::Open(*database));
  // Registered in the database's catalog: every connection sees it.
  RETURN_IF_ERROR(tpch::RegisterTpchFunction(*setup, generator));
  for (tpch::Table table : tpch::kAllTables) {
    RETURN_IF_ERROR(index->CreateTable(SchemaOf(table)));
  }

  std::vector<LoadStep> steps = PlanSteps(*generator, flags.shard_count);
  // Largest first, so that the last steps to run are short.
  std::stable_sort(steps.begin(), steps.end(), [](const LoadStep& a, const LoadStep& b) {
    return a.expected_rows > b.expected_rows;
  });
  int64_t total_rows = 0;
  for (const LoadStep& step : steps) total_rows += step.expected_rows;
  ProgressLine progress(isatty(STDERR_FILENO) != 0, flags.shard_count, total_rows);

  std::mutex mutex;  // guards next_step, first_error, summary
  size_t next_step = 0;
  absl::Status first_error;
  auto run_steps = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(auto connection, duck::Connection::Open(*database));
    interrupts.Watch(connection.get());
    absl::Cleanup forget = [&] { interrupts.Forget(connection.get()); };
    while (true) {
      size_t id;
      {
        std::lock_guard lock(mutex);
        if (next_step >= steps.size() || !first_error.ok()) return absl::OkStatus();
        if (interrupts.interrupted()) return InterruptedError();
        id = next_step++;
      }
      const LoadStep& step = steps[id];
      std::string table_name(tpch::TableName(step.table));
      ASSIGN_OR_RETURN(TableSchema schema, index->GetTable(std::string(kDatabase), table_name));
      IngestOptions options;
      options.writer_id = "shardlake-bootstrap";
      if (step.bucket >= 0) options.folder = BucketFolder(step.bucket, flags.shard_count);
      options.progress = [&progress, id](double, double, int64_t bytes) {
        progress.UpdateStep(id, bytes);
      };
      Ingester ingester(*index, *store, *connection, (scratch / "ingest").string(), options);
      // The scale factor goes through text so DuckDB gets exactly this double.
      std::string select =
          fmt::format("SELECT * FROM tpch_rows('{}', CAST('{}' AS DOUBLE), {}, {}, {})", table_name,
                      generator->scale_factor(), static_cast<int64_t>(generator->seed()),
                      step.units.first, step.units.count);
      std::string source = step.bucket < 0 ? fmt::format("TPC-H {}", table_name)
                                           : fmt::format("TPC-H {} {}", table_name, options.folder);
      progress.StartStep(id, step);
      ASSIGN_OR_RETURN(IngestStats stats, ingester.IngestSelect(schema, select, source));
      progress.FinishStep(id, stats.rows, stats.bytes);
      std::lock_guard lock(mutex);
      TableSummary& table_summary = summary[step.table];
      table_summary.rows += stats.rows;
      table_summary.files += stats.files;
      table_summary.bytes += stats.bytes;
      if (step.bucket >= 0) ++table_summary.buckets;
    }
  };
  {
    std::vector<std::jthread> workers;
    size_t worker_count = std::min<size_t>(static_cast<size_t>(threads), steps.size());
    for (size_t i = 0; i < worker_count; ++i) {
      workers.emplace_back([&]() {
        absl::Status status = run_steps();
        if (status.ok()) return;
        std::lock_guard lock(mutex);
        if (first_error.ok()) first_error = status;
      });
    }
  }  // joins the workers
  progress.Clear();
  if (interrupts.interrupted()) return InterruptedError();
  return first_error;
}

// "tls/<name>": a TLS file's path relative to the data dir.
std::string TlsPath(std::string_view name) { return fmt::format("{}/{}", kTlsDirectoryName, name); }

nlohmann::json Manifest(const BootstrapFlags& flags,
                        const std::map<tpch::Table, TableSummary>& summary) {
  nlohmann::json buckets = nlohmann::json::array();
  for (int b = 0; b < flags.shard_count; ++b) buckets.push_back(BucketFolder(b, flags.shard_count));
  nlohmann::json tables = nlohmann::json::object();
  for (const auto& [table, table_summary] : summary) {
    nlohmann::json entry = {{"rows", table_summary.rows}, {"files", table_summary.files}};
    if (IsSharded(table)) {
      entry["placement"] = "sharded";
      entry["shard_key"] = ShardKey(table);
      entry["colocation_group"] = "order";
    } else {
      entry["placement"] = "replicated";
    }
    tables[std::string(tpch::TableName(table))] = entry;
  }
  return {
      {"format", "shardlake-cluster"},
      {"version", kManifestFormatVersion},
      {"users_file", std::string(kUsersFileName)},
      {"tls",
       {{"ca_certificate", TlsPath(kTlsCaCertFile)},
        {"server_certificate", TlsPath(kTlsServerCertFile)},
        {"server_key", TlsPath(kTlsServerKeyFile)}}},
      {"catalog", {{"kind", "sqlite"}, {"path", std::string(kCatalogFileName)}}},
      {"storage", {{"kind", "file"}, {"path", std::string(kLakeDirectoryName)}}},
      {"tpch", {{"scale_factor", flags.scale_factor}, {"seed", flags.seed}}},
      {"database", std::string(kDatabase)},
      {"shard_count", flags.shard_count},
      {"bucket_folders", buckets},
      {"tables", tables},
  };
}

absl::Status WriteManifest(const fs::path& path, const nlohmann::json& manifest) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << manifest.dump(2) << "\n";
  out.close();
  if (!out) {
    return absl::UnavailableError(
        fmt::format("cannot write {}: {}", path.string(), std::strerror(errno)));
  }
  return absl::OkStatus();
}

// Everything but the printing; `summary` is filled as tables load.
absl::Status Bootstrap(const GlobalOptions& options, const BootstrapFlags& flags,
                       const BootstrapPlan& plan, std::map<tpch::Table, TableSummary>& summary) {
  // Check every flag before the disk is touched.
  RETURN_IF_ERROR(ValidateBootstrapPlan(plan));
  if (flags.shard_count < 1 || flags.shard_count > kMaxShardCount) {
    return absl::InvalidArgumentError(fmt::format("--shard-count {} is out of range: use 1 to {}",
                                                  flags.shard_count, kMaxShardCount));
  }
  auto generator = tpch::Generator::Create(flags.scale_factor, flags.seed);
  if (!generator.ok()) {
    return absl::InvalidArgumentError(fmt::format("--tpch-scale-factor {}: {}", flags.scale_factor,
                                                  std::string(generator.status().message())));
  }
  int64_t orders = (*generator)->UnitCount(tpch::Table::kOrders);
  if (flags.shard_count > orders) {
    return absl::InvalidArgumentError(fmt::format(
        "--shard-count {} is more than the {} orders at scale factor {}: every bucket needs an "
        "order; use fewer shards or a larger scale factor",
        flags.shard_count, orders, flags.scale_factor));
  }

  InterruptWatcher interrupts;
  ASSIGN_OR_RETURN(BootstrapStaging staging, BootstrapStaging::Begin(plan.data_dir, plan.force));
  fs::path root = staging.staging_dir();
  RETURN_IF_ERROR(WriteSecurityFiles(staging.staging_dir(), plan));
  int threads = options.threads > 0
                    ? options.threads
                    : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  RETURN_IF_ERROR(LoadLake(root, flags, threads, interrupts, *generator, summary));
  std::error_code ec;
  fs::remove_all(root / kScratchDirectoryName, ec);
  if (ec) {
    return absl::UnavailableError(
        fmt::format("cannot remove {}: {}", (root / kScratchDirectoryName).string(), ec.message()));
  }
  RETURN_IF_ERROR(WriteManifest(root / kClusterManifestName, Manifest(flags, summary)));
  // The last point where an interruption leaves the data dir as it was.
  if (interrupts.interrupted()) return InterruptedError();
  return staging.Commit();
}

}  // namespace

CLI::App* AddBootstrapCommand(CLI::App& app, BootstrapFlags& flags) {
  CLI::App* bootstrap = app.add_subcommand(
      "bootstrap",
      "prepare a cluster's data dir: users file, TLS CA and server certificate, TPC-H tables "
      "loaded in buckets (see docs/bootstrap.md)");
  bootstrap->add_option("--client-username", flags.client_username, "the client user's name")
      ->required();
  bootstrap->add_option("--client-password", flags.client_password, "the client user's password")
      ->required();
  bootstrap
      ->add_option("--worker-password", flags.worker_password,
                   "the password workers log in with (user \"worker\")")
      ->required();
  bootstrap->add_option("--tpch-scale-factor", flags.scale_factor,
                        "TPC-H scale factor, e.g. 1 or 0.01 (default 1)");
  bootstrap->add_option("--shard-count", flags.shard_count,
                        "buckets that orders and lineitem are split into (default 11)");
  bootstrap->add_option("--data-dir", flags.data_dir,
                        "the directory to create (default: the global --data-dir, "
                        "./shardlake-data)");
  bootstrap->add_option("--tls-hostname", flags.tls_hostname,
                        "extra host name for the server certificate (besides localhost, "
                        "127.0.0.1)");
  bootstrap->add_option("--seed", flags.seed,
                        "TPC-H random seed (default 0); same seed, same data");
  bootstrap->add_flag("--force", flags.force, "replace an existing, non-empty data dir");
  return bootstrap;
}

int RunBootstrap(const GlobalOptions& options, const BootstrapFlags& flags) {
  BootstrapPlan plan;
  plan.data_dir = flags.data_dir.empty() ? options.data_dir : flags.data_dir;
  plan.client_username = flags.client_username;
  plan.client_password = flags.client_password;
  plan.worker_password = flags.worker_password;
  plan.tls_hostname = flags.tls_hostname;
  plan.force = flags.force;
  Stopwatch watch;
  std::map<tpch::Table, TableSummary> summary;
  if (absl::Status status = Bootstrap(options, flags, plan, summary); !status.ok()) {
    ReportError(absl::Status(status.code(), fmt::format("bootstrap of {}: {}", plan.data_dir,
                                                        std::string(status.message()))));
    // 128 + SIGINT, as a shell reports a command stopped by Ctrl-C.
    return status.code() == absl::StatusCode::kCancelled ? 130 : 1;
  }
  int64_t rows = 0;
  int64_t bytes = 0;
  for (const auto& [table, table_summary] : summary) {
    std::string placement = table_summary.buckets > 0
                                ? fmt::format("{} buckets", table_summary.buckets)
                                : std::string("replicated");
    std::printf("%-9s %12s rows  %4lld file(s)  %10s  %s\n",
                std::string(tpch::TableName(table)).c_str(), Grouped(table_summary.rows).c_str(),
                static_cast<long long>(table_summary.files),
                HumanBytes(table_summary.bytes).c_str(), placement.c_str());
    rows += table_summary.rows;
    bytes += table_summary.bytes;
  }
  double seconds = watch.ElapsedSeconds();
  std::printf(
      "bootstrapped %s: TPC-H SF %g (seed %llu) in %d buckets, %s rows, %s, %.1f s; users "
      "%s and %s, TLS files in %s/tls\n",
      plan.data_dir.c_str(), flags.scale_factor, static_cast<unsigned long long>(flags.seed),
      flags.shard_count, Grouped(rows).c_str(), HumanBytes(bytes).c_str(), seconds,
      flags.client_username.c_str(), std::string(kWorkerUsername).c_str(), plan.data_dir.c_str());
  return 0;
}

}  // namespace shardlake::cli
