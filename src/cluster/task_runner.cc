#include "cluster/task_runner.h"

#include <utility>

#include "cluster/result_batches.h"
#include "common/sql_text.h"
#include "common/status_macros.h"
#include "duck/arrow_wire.h"
#include "fmt/format.h"

namespace shardlake {
namespace {

// "db.table" -> (db, table); a name without a dot is in "main".
std::pair<std::string, std::string> SplitTableName(const std::string& name) {
  auto dot = name.find('.');
  if (dot == std::string::npos) return {"main", name};
  return {name.substr(0, dot), name.substr(dot + 1)};
}

}  // namespace

absl::StatusOr<std::string> EncodeChunk(duck::Connection& connection, duck::Result& result,
                                        duck::DataChunk& chunk) {
  ASSIGN_OR_RETURN(duck::ArrowBatch batch, connection.ToArrow(result, chunk));
  return duck::EncodeArrowBatch(batch);
}

absl::StatusOr<std::vector<v1::Column>> DescribeColumns(duck::Connection& connection,
                                                        const std::string& sql) {
  ASSIGN_OR_RETURN(auto result, connection.Query("DESCRIBE " + sql));
  ASSIGN_OR_RETURN(auto rows, result->FetchAllAsStrings());
  std::vector<v1::Column> columns;
  for (const auto& row : rows) {
    v1::Column column;
    column.set_name(row.size() > 0 && row[0] ? *row[0] : "");
    column.set_type(row.size() > 1 && row[1] ? *row[1] : "VARCHAR");
    columns.push_back(std::move(column));
  }
  return columns;
}

absl::StatusOr<PrivateCatalog> PrivateCatalog::Attach(duck::Connection& connection,
                                                      const std::string& prefix) {
  static std::atomic<int64_t> next_id{1};
  std::string name = fmt::format("{}{}", prefix, next_id++);
  ASSIGN_OR_RETURN(auto current, connection.Query("SELECT current_database()"));
  ASSIGN_OR_RETURN(auto rows, current->FetchAllAsStrings());
  if (rows.size() != 1 || !rows[0][0]) {
    return absl::InternalError("DuckDB did not name the connection's current database");
  }
  RETURN_IF_ERROR(
      connection.Execute(fmt::format("ATTACH ':memory:' AS {0}; USE {0}", QuoteIdentifier(name))));
  return PrivateCatalog(&connection, std::move(name), *rows[0][0]);
}

PrivateCatalog::PrivateCatalog(PrivateCatalog&& other) noexcept
    : connection_(std::exchange(other.connection_, nullptr)),
      name_(std::move(other.name_)),
      previous_(std::move(other.previous_)) {}

PrivateCatalog::~PrivateCatalog() {
  if (connection_ == nullptr) return;
  // A failure leaves the catalog to the database's end; there is no caller to tell.
  (void)connection_->Execute(fmt::format("USE {}; DETACH DATABASE IF EXISTS {}",
                                         QuoteIdentifier(previous_), QuoteIdentifier(name_)));
}

void TaskRunner::Interrupt() {
  std::lock_guard lock(mutex_);
  interrupted_ = true;
  if (running_ != nullptr) running_->Interrupt();
}

absl::StatusOr<int64_t> TaskRunner::Run(const v1::Task& task, const TaskOutput& output,
                                        TaskError* error) {
  // Failures before the worker SQL runs (files, DuckDB setup) are not the
  // query's fault: another worker may succeed.
  auto fail = [&](absl::Status status, bool sql_error) -> absl::Status {
    error->status = status;
    error->sql_error = sql_error;
    return status;
  };
  phases_.Restart();
  auto connection = duck::Connection::Open(database_);
  if (!connection.ok()) return fail(connection.status(), false);
  auto catalog = PrivateCatalog::Attach(**connection, "__shardlake_task_");
  if (!catalog.ok()) return fail(catalog.status(), false);
  phases_.EndPhase("open");
  std::vector<CachedFile> pins;
  for (const auto& table : task.tables()) {
    auto [schema_name, table_name] = SplitTableName(table.name());
    std::string body;
    if (table.file_keys().empty()) {
      std::string typed_nulls;
      for (const auto& column : table.columns()) {
        if (!typed_nulls.empty()) typed_nulls += ", ";
        typed_nulls +=
            fmt::format("CAST(NULL AS {}) AS {}", column.type(), QuoteIdentifier(column.name()));
      }
      body = fmt::format("SELECT {} WHERE false", typed_nulls);
    } else {
      std::string files;
      for (const auto& key : table.file_keys()) {
        auto path = ReadablePath(store_, cache_, key, &pins);
        if (!path.ok()) return fail(path.status(), false);
        if (!files.empty()) files += ", ";
        files += QuoteLiteral(*path);
      }
      std::string columns;
      for (const auto& column : table.columns()) {
        if (!columns.empty()) columns += ", ";
        columns += QuoteIdentifier(column.name());
      }
      body = fmt::format("SELECT {} FROM read_parquet([{}], hive_partitioning = false)", columns,
                         files);
    }
    absl::Status created =
        (*connection)
            ->Execute(fmt::format(
                "CREATE SCHEMA IF NOT EXISTS {0}; CREATE OR REPLACE VIEW {0}.{1} AS {2}",
                QuoteIdentifier(schema_name), QuoteIdentifier(table_name), body));
    if (!created.ok()) return fail(created, false);
  }
  phases_.EndPhase("views");
  {
    std::lock_guard lock(mutex_);
    if (interrupted_) return fail(absl::CancelledError("task cancelled"), false);
    running_ = connection->get();
  }
  auto clear_running = [&] {
    std::lock_guard lock(mutex_);
    running_ = nullptr;
  };
  auto columns = DescribeColumns(**connection, task.worker_sql());
  if (!columns.ok()) {
    clear_running();
    return fail(columns.status(), true);
  }
  phases_.EndPhase("describe");
  absl::Status sent = output.columns(*columns);
  if (!sent.ok()) {
    clear_running();
    return fail(sent, false);
  }
  auto result = (*connection)->QueryStreaming(task.worker_sql());
  int64_t rows = 0;
  absl::Status status = result.status();
  bool sql_error = true;
  while (status.ok()) {
    auto chunk = (*result)->Fetch();
    if (!chunk.ok()) {
      status = chunk.status();
      break;
    }
    if (*chunk == nullptr) break;
    bool receiver_failed = false;
    status = EncodeChunkInBatches(**connection, **result, **chunk, BatchLimits{},
                                  [&](std::string batch, int64_t batch_rows) {
                                    absl::Status sent = output.batch(std::move(batch), batch_rows);
                                    receiver_failed = !sent.ok();
                                    return sent;
                                  });
    if (receiver_failed) sql_error = false;  // the receiver is gone, not the SQL
    rows += static_cast<int64_t>((*chunk)->RowCount());
  }
  clear_running();
  phases_.EndPhase("run");
  {
    std::lock_guard lock(mutex_);
    if (interrupted_ && !status.ok()) {
      return fail(absl::CancelledError("task cancelled"), false);
    }
  }
  if (!status.ok()) return fail(status, sql_error && status.code() != absl::StatusCode::kCancelled);
  return rows;
}

}  // namespace shardlake
