#include "tpch/parquet_export.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

#include "common/status_macros.h"
#include "duck/duck.h"
#include "duck/table_function.h"
#include "fmt/format.h"

namespace shardlake::tpch {
namespace {

namespace fs = std::filesystem;

struct Task {
  Table table;
  Generator::UnitRange units;
  int64_t expected_rows = 0;
  fs::path path;
  fs::path temp_path;
  std::atomic<int64_t> rows{0};
  std::atomic<bool> running{false};
  double seconds = 0;             // read after the workers joined
  std::atomic<int64_t> bytes{0};  // of the finished file
};

// Counts the rows another producer yields.
class CountingProducer : public duck::ChunkProducer {
 public:
  CountingProducer(std::unique_ptr<duck::ChunkProducer> inner, std::atomic<int64_t>& rows)
      : inner_(std::move(inner)), rows_(rows) {}
  absl::StatusOr<size_t> Fill(duck::ChunkWriter& out) override {
    ASSIGN_OR_RETURN(size_t rows, inner_->Fill(out));
    rows_.fetch_add(static_cast<int64_t>(rows), std::memory_order_relaxed);
    return rows;
  }

 private:
  std::unique_ptr<duck::ChunkProducer> inner_;
  std::atomic<int64_t>& rows_;
};

std::string SqlQuote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

int64_t FileSize(const fs::path& path) {
  std::error_code error;
  auto size = fs::file_size(path, error);
  return error ? 0 : static_cast<int64_t>(size);
}

absl::Status PrepareDirectory(const fs::path& dir) {
  std::error_code error;
  if (fs::exists(dir, error) && !fs::is_empty(dir, error)) {
    return absl::FailedPreconditionError(fmt::format(
        "{} already holds files; remove it or choose another output directory", dir.string()));
  }
  fs::create_directories(dir, error);
  if (error) {
    return absl::UnavailableError(
        fmt::format("cannot create directory {}: {}", dir.string(), error.message()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ExportStats> ExportParquet(const ExportOptions& options) {
  auto started = std::chrono::steady_clock::now();
  auto elapsed = [&started] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  };
  if (options.rows_per_file <= 0) {
    return absl::InvalidArgumentError(
        fmt::format("rows per file must be positive, not {}", options.rows_per_file));
  }
  if (options.threads < 0) {
    return absl::InvalidArgumentError(
        fmt::format("thread count must be positive (or 0 for all cores), not {}", options.threads));
  }
  int threads = options.threads > 0
                    ? options.threads
                    : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  ASSIGN_OR_RETURN(std::shared_ptr<const Generator> generator,
                   Generator::Create(options.scale_factor, options.seed));
  std::vector<Table> tables = options.tables;
  if (tables.empty()) tables.assign(kAllTables.begin(), kAllTables.end());

  // One task per output file.
  std::vector<std::unique_ptr<Task>> tasks;
  for (Table table : tables) {
    fs::path dir = fs::path(options.out_dir) / std::string(TableName(table));
    RETURN_IF_ERROR(PrepareDirectory(dir));
    int64_t units = generator->UnitCount(table);
    int64_t rows = Generator::ExpectedRows(table, units);
    int64_t files =
        std::max<int64_t>(1, (rows + options.rows_per_file - 1) / options.rows_per_file);
    files = std::min(files, units);
    for (int64_t file = 0; file < files; ++file) {
      auto task = std::make_unique<Task>();
      task->table = table;
      task->units = generator->Part(table, file, files);
      task->expected_rows = Generator::ExpectedRows(table, task->units.count);
      task->path = dir / fmt::format("part-{:05}.parquet", file);
      task->temp_path = dir / fmt::format("part-{:05}.parquet.tmp", file);
      tasks.push_back(std::move(task));
    }
  }
  // Largest first, so the last tasks to start are short.
  std::vector<Task*> order;
  for (auto& task : tasks) order.push_back(task.get());
  std::stable_sort(order.begin(), order.end(), [](const Task* a, const Task* b) {
    return a->expected_rows > b->expected_rows;
  });
  int64_t rows_total = 0;
  for (auto& task : tasks) rows_total += task->expected_rows;

  ASSIGN_OR_RETURN(auto database,
                   duck::Database::Open("", {{"threads", std::to_string(threads)},
                                             {"autoinstall_known_extensions", "false"},
                                             {"autoload_known_extensions", "false"}}));
  ASSIGN_OR_RETURN(auto setup, duck::Connection::Open(*database));
  duck::TableFunctionSpec spec;
  spec.name = "tpch_export_file";
  spec.parameters = {duck::ParameterType::kBigInt};
  spec.binder = [&tasks, generator](const std::vector<duck::ParameterValue>& arguments)
      -> absl::StatusOr<duck::TableFunctionBinding> {
    auto index = static_cast<size_t>(std::get<int64_t>(arguments[0]));
    if (index >= tasks.size()) return absl::OutOfRangeError("no such export file");
    Task* task = tasks[index].get();
    duck::TableFunctionBinding binding;
    binding.columns = TableColumns(task->table);
    binding.cardinality = task->expected_rows;
    binding.open = [task, generator]() -> absl::StatusOr<std::unique_ptr<duck::ChunkProducer>> {
      ASSIGN_OR_RETURN(auto inner,
                       generator->OpenRange(task->table, task->units.first, task->units.count));
      return std::make_unique<CountingProducer>(std::move(inner), task->rows);
    };
    return binding;
  };
  RETURN_IF_ERROR(duck::TableFunction::Register(*setup, std::move(spec)));

  std::map<const Task*, size_t> index_of;
  for (size_t i = 0; i < tasks.size(); ++i) index_of[tasks[i].get()] = i;

  std::atomic<size_t> next_task{0};
  std::mutex mutex;
  absl::Status first_error;  // guarded by mutex
  std::atomic<bool> failed{false};
  auto fail = [&](absl::Status status) {
    std::lock_guard<std::mutex> lock(mutex);
    if (first_error.ok()) first_error = std::move(status);
    failed = true;
  };

  auto work = [&]() {
    auto connection = duck::Connection::Open(*database);
    if (!connection.ok()) return fail(connection.status());
    while (!failed) {
      size_t position = next_task.fetch_add(1);
      if (position >= order.size()) return;
      Task* task = order[position];
      auto task_started = std::chrono::steady_clock::now();
      task->running = true;
      std::string sql = fmt::format(
          "COPY (SELECT * FROM tpch_export_file({})) TO {} (FORMAT parquet, COMPRESSION zstd)",
          index_of[task], SqlQuote(task->temp_path.string()));
      absl::Status status = (*connection)->Execute(sql);
      task->running = false;
      std::error_code error;
      if (!status.ok()) {
        fs::remove(task->temp_path, error);
        return fail(absl::Status(status.code(), fmt::format("writing {}: {}", task->path.string(),
                                                            std::string(status.message()))));
      }
      fs::rename(task->temp_path, task->path, error);
      if (error) {
        fs::remove(task->temp_path, error);
        return fail(absl::UnavailableError(
            fmt::format("cannot rename {} into place: {}", task->path.string(), error.message())));
      }
      task->bytes = FileSize(task->path);
      task->seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - task_started).count();
    }
  };

  auto snapshot = [&]() {
    ExportProgress progress;
    progress.rows_total = rows_total;
    progress.seconds = elapsed();
    for (auto& task : tasks) {
      progress.rows_done += task->rows.load(std::memory_order_relaxed);
      int64_t finished_bytes = task->bytes.load();
      progress.bytes_written += finished_bytes > 0     ? finished_bytes
                                : task->running.load() ? FileSize(task->temp_path)
                                                       : 0;
    }
    return progress;
  };

  std::mutex monitor_mutex;
  std::condition_variable monitor_wake;
  bool done = false;  // guarded by monitor_mutex
  std::thread monitor;
  if (options.progress) {
    monitor = std::thread([&] {
      std::unique_lock<std::mutex> lock(monitor_mutex);
      while (!monitor_wake.wait_for(lock, std::chrono::milliseconds(250), [&] { return done; })) {
        options.progress(snapshot());
      }
    });
  }
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) workers.emplace_back(work);
  for (auto& worker : workers) worker.join();
  if (monitor.joinable()) {
    {
      std::lock_guard<std::mutex> lock(monitor_mutex);
      done = true;
    }
    monitor_wake.notify_all();
    monitor.join();
  }
  if (failed) return first_error;

  ExportStats stats;
  for (Table table : tables) {
    TableExportStats table_stats;
    table_stats.table = table;
    for (auto& task : tasks) {
      if (task->table != table) continue;
      table_stats.rows += task->rows.load();
      table_stats.files += 1;
      table_stats.bytes += task->bytes;
      table_stats.busy_seconds += task->seconds;
    }
    stats.rows += table_stats.rows;
    stats.bytes += table_stats.bytes;
    stats.tables.push_back(table_stats);
  }
  stats.seconds = elapsed();
  if (options.progress) {
    ExportProgress final_progress = snapshot();
    final_progress.rows_total = final_progress.rows_done;
    options.progress(final_progress);
  }
  return stats;
}

}  // namespace shardlake::tpch
