// Runs one task of a distributed query (a worker SQL over a slice of files)
// on a connection of its own to a shared DuckDB database, in a private
// in-memory catalog (PrivateCatalog), and hands its result to the caller as
// typed Arrow batches (arrow_wire.h). Workers run their tasks with it, and
// the server runs with it the tasks no worker is left for.
//
// Each sliced or whole table of the task becomes a view with the table's
// schema-qualified name over the task's files (read through `cache` when the
// store has no local files), so the worker SQL reads exactly as on one node.
//
// Thread-safety: Run() on one thread; Interrupt() from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/time_util.h"
#include "duck/duck.h"
#include "shardlake.pb.h"
#include "storage/file_cache.h"
#include "storage/object_store.h"

namespace shardlake {

// Bound on one gRPC message. Result batches stay within 4 MiB
// (result_batches.h); only a single row larger than that comes near it.
inline constexpr int kMaxMessageBytes = 64 << 20;

struct TaskOutput {
  // Called once, before any batch, with the worker SQL's columns.
  std::function<absl::Status(const std::vector<shardlake::v1::Column>&)> columns;
  // Called per encoded batch: a DuckDB chunk, or a row range of one, within
  // kMaxBatchBytes (result_batches.h).
  std::function<absl::Status(std::string batch, int64_t rows)> batch;
};

// What separates a task's failure modes for the scheduler: an SQL error is
// deterministic (the query fails), anything else may pass elsewhere (re-run).
struct TaskError {
  absl::Status status;
  bool sql_error = false;
};

class TaskRunner {
 public:
  // Tasks run on `database` (shared by every runner of the process, so its
  // settings, thread pool and Parquet metadata cache serve them all); it must
  // outlive the runner.
  TaskRunner(ObjectStore& store, FileCache* cache, duck::Database& database)
      : store_(store), cache_(cache), database_(database) {}

  // Runs `task`; returns its row count, or the error and its kind. After
  // Interrupt() the running query fails with Cancelled (not an SQL error).
  absl::StatusOr<int64_t> Run(const shardlake::v1::Task& task, const TaskOutput& output,
                              TaskError* error);

  // Stops the task that Run() is running (and any later Run() at once).
  void Interrupt();

  // Where the last Run() spent its time ("open 1.2 ms, views ..."), for logs.
  const std::string& phases() const { return phases_.text(); }

 private:
  PhaseTimer phases_;
  ObjectStore& store_;
  FileCache* cache_;
  duck::Database& database_;
  std::mutex mutex_;
  duck::Connection* running_ = nullptr;  // guarded by mutex_; owned by Run()
  bool interrupted_ = false;             // guarded by mutex_
};

// An in-memory catalog attached to a shared database for one query or task,
// and made the connection's default, so that the views and tables it creates
// cannot meet another query's. Destruction detaches it, which drops all it
// holds. Move-only; the connection must outlive it.
class PrivateCatalog {
 public:
  // Attaches a catalog with a process-unique name that starts with `prefix`.
  static absl::StatusOr<PrivateCatalog> Attach(duck::Connection& connection,
                                               const std::string& prefix);
  PrivateCatalog(PrivateCatalog&& other) noexcept;
  PrivateCatalog& operator=(PrivateCatalog&&) = delete;
  ~PrivateCatalog();

  const std::string& name() const { return name_; }

 private:
  PrivateCatalog(duck::Connection* connection, std::string name, std::string previous)
      : connection_(connection), name_(std::move(name)), previous_(std::move(previous)) {}

  duck::Connection* connection_;  // null once moved from
  std::string name_;
  std::string previous_;  // the connection's default catalog before
};

// Encodes `chunk` of `result` as one Arrow batch (arrow_wire.h).
absl::StatusOr<std::string> EncodeChunk(duck::Connection& connection, duck::Result& result,
                                        duck::DataChunk& chunk);

// The DuckDB type names of `sql`'s result columns, from DESCRIBE.
absl::StatusOr<std::vector<shardlake::v1::Column>> DescribeColumns(duck::Connection& connection,
                                                                   const std::string& sql);

}  // namespace shardlake
