#include "cluster/task_runner.h"

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
  auto database = duck::Database::Open("", duckdb_options_);
  if (!database.ok()) return fail(database.status(), false);
  auto connection = duck::Connection::Open(**database);
  if (!connection.ok()) return fail(connection.status(), false);
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
