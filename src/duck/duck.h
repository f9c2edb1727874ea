// RAII wrappers over DuckDB's C API. This folder is the only code that includes
// duckdb.h; everything else talks to DuckDB through these classes, and every
// DuckDB error becomes an absl::Status here (with DuckDB's message, which carries
// the SQL position for parser and binder errors).
//
// Thread-safety: a Database may be shared by threads; a Connection, Result,
// PreparedStatement, Appender and DataChunk belong to one thread at a time.
// Connection::Interrupt is the exception: any thread may call it.
//
// Lifetimes: a Connection must not outlive its Database, and a Result,
// PreparedStatement or Appender must not outlive its Connection.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "duck/arrow_c_data.h"

struct _duckdb_database;
struct _duckdb_connection;
struct _duckdb_prepared_statement;
struct _duckdb_appender;
struct _duckdb_data_chunk;
struct _duckdb_arrow_options;

namespace shardlake::duck {

class Connection;
class DataChunk;

// The physical kinds of column shardlake reads directly from chunks. Any other
// DuckDB type is kOther; cast it to VARCHAR in SQL to read it.
enum class TypeKind {
  kBoolean,
  kTinyInt,
  kSmallInt,
  kInteger,
  kBigInt,
  kUTinyInt,
  kUSmallInt,
  kUInteger,
  kUBigInt,
  kFloat,
  kDouble,
  kVarchar,
  kBlob,
  kDate,
  kTimestamp,    // microseconds
  kTimestampS,   // seconds
  kTimestampMs,  // milliseconds
  kTimestampNs,  // nanoseconds
  kTimestampTz,  // microseconds, UTC
  kOther,
};

// An open DuckDB database (in memory, or a file).
class Database {
 public:
  // Opens `path` ("" or ":memory:" for an in-memory database). `options` are
  // DuckDB configuration flags such as {"threads","2"} or {"memory_limit","1GB"}.
  // Settings of built-in extensions (parquet_metadata_cache), which DuckDB
  // only knows once they are loaded, are set with SET GLOBAL after opening.
  // Errors: InvalidArgument for a bad option, Unavailable when the file cannot
  // be opened.
  static absl::StatusOr<std::unique_ptr<Database>> Open(
      const std::string& path, const std::map<std::string, std::string>& options = {});
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

 private:
  friend class Connection;
  explicit Database(_duckdb_database* handle) : handle_(handle) {}
  _duckdb_database* handle_;
};

// The result of a query. Streaming results produce chunks lazily; materialized
// ones hold everything. Either way, read with Fetch() until it returns null.
class Result {
 public:
  ~Result();
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;

  size_t ColumnCount() const;
  std::string ColumnName(size_t column) const;
  TypeKind ColumnKind(size_t column) const;
  // Rows changed by INSERT/UPDATE/DELETE; 0 for queries.
  int64_t RowsChanged() const;

  // The next chunk, or null at the end. Errors that surface while streaming
  // (e.g. a conversion failure in row 10 million) come back here.
  absl::StatusOr<std::unique_ptr<DataChunk>> Fetch();

  // Reads the whole result as strings (NULL -> nullopt). Every column must be
  // of a kind DataChunk::GetString can render.
  absl::StatusOr<std::vector<std::vector<std::optional<std::string>>>> FetchAllAsStrings();

 private:
  friend class Connection;
  friend class PreparedStatement;
  struct State;
  explicit Result(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// One chunk of a result (up to 2048 rows), or a chunk built for appending.
class DataChunk {
 public:
  ~DataChunk();
  DataChunk(const DataChunk&) = delete;
  DataChunk& operator=(const DataChunk&) = delete;

  size_t RowCount() const;
  size_t ColumnCount() const;
  TypeKind ColumnKind(size_t column) const;
  bool IsNull(size_t column, size_t row) const;

  // Typed getters. REQUIRES: the row is not NULL. GetInt64 accepts every integer
  // kind that fits, DATE (days) and every TIMESTAMP kind (in its own unit);
  // GetDouble accepts FLOAT, DOUBLE and integers; GetString accepts VARCHAR and
  // BLOB and renders any other readable kind as text. A kind that does not fit
  // the getter is InvalidArgument.
  absl::StatusOr<int64_t> GetInt64(size_t column, size_t row) const;
  absl::StatusOr<double> GetDouble(size_t column, size_t row) const;
  absl::StatusOr<bool> GetBool(size_t column, size_t row) const;
  absl::StatusOr<std::string> GetString(size_t column, size_t row) const;

  // A new chunk with the same column types holding copies of rows
  // [first_row, first_row + row_count) of this one; this chunk is unchanged.
  // Used to cut a chunk into smaller batches. Errors: InvalidArgument when the
  // range is not inside the chunk.
  absl::StatusOr<std::unique_ptr<DataChunk>> CopyRows(size_t first_row, size_t row_count) const;

 private:
  friend class Result;
  friend class Connection;
  friend class Appender;
  explicit DataChunk(_duckdb_data_chunk* handle) : handle_(handle) {}
  _duckdb_data_chunk* handle_;
};

// A statement prepared once and executed with different parameters.
// Parameters are 1-based, as in DuckDB ($1, $2, ... or ?).
class PreparedStatement {
 public:
  ~PreparedStatement();
  PreparedStatement(const PreparedStatement&) = delete;
  PreparedStatement& operator=(const PreparedStatement&) = delete;

  absl::Status BindInt64(size_t index, int64_t value);
  absl::Status BindDouble(size_t index, double value);
  absl::Status BindString(size_t index, std::string_view value);
  absl::Status BindBool(size_t index, bool value);
  absl::Status BindNull(size_t index);
  absl::Status ClearBindings();

  size_t ParameterCount() const;
  // Executes with the current bindings. `streaming` results produce chunks as
  // they are read instead of materializing everything first.
  absl::StatusOr<std::unique_ptr<Result>> Execute(bool streaming = false);

 private:
  friend class Connection;
  explicit PreparedStatement(_duckdb_prepared_statement* handle) : handle_(handle) {}
  _duckdb_prepared_statement* handle_;
};

// Fast row-wise insertion into a DuckDB table. Values are appended column by
// column; EndRow() finishes a row. Close() flushes and reports the first
// error; the destructor closes without reporting.
class Appender {
 public:
  ~Appender();
  Appender(const Appender&) = delete;
  Appender& operator=(const Appender&) = delete;

  absl::Status AppendInt64(int64_t value);
  absl::Status AppendDouble(double value);
  absl::Status AppendString(std::string_view value);
  absl::Status AppendBool(bool value);
  absl::Status AppendNull();
  // Appends every row of `chunk`, casting its columns to the target's types.
  absl::Status AppendChunk(DataChunk& chunk);
  absl::Status EndRow();
  absl::Status Flush();
  absl::Status Close();

 private:
  friend class Connection;
  explicit Appender(_duckdb_appender* handle) : handle_(handle) {}
  absl::Status Check(bool failed, std::string_view what);
  _duckdb_appender* handle_;
};

// A chunk converted to the Arrow C data interface. Owns both structs and
// releases them on destruction unless ownership was moved out.
class ArrowBatch {
 public:
  ArrowBatch();
  ~ArrowBatch();
  ArrowBatch(ArrowBatch&& other) noexcept;
  ArrowBatch& operator=(ArrowBatch&&) = delete;
  ArrowBatch(const ArrowBatch&) = delete;

  ArrowSchema* schema() { return schema_.get(); }
  ArrowArray* array() { return array_.get(); }
  int64_t length() const;

 private:
  std::unique_ptr<ArrowSchema> schema_;
  std::unique_ptr<ArrowArray> array_;
};

// A connection: the unit of transactions and of session settings.
class Connection {
 public:
  static absl::StatusOr<std::unique_ptr<Connection>> Open(Database& database);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs every statement in `sql`, discarding results.
  absl::Status Execute(std::string_view sql);
  // Runs `sql` (one statement) and returns its materialized result.
  absl::StatusOr<std::unique_ptr<Result>> Query(std::string_view sql);
  // Runs `sql` (one statement) and returns a streaming result.
  absl::StatusOr<std::unique_ptr<Result>> QueryStreaming(std::string_view sql);
  absl::StatusOr<std::unique_ptr<PreparedStatement>> Prepare(std::string_view sql);
  // Parses `sql` without binding or running it. Errors: InvalidArgument with
  // DuckDB's parser message (which shows the position).
  absl::Status Parse(std::string_view sql);
  // Fully qualified names ("schema.table") of the tables `sql` references,
  // found by DuckDB's parser. Errors: InvalidArgument for unparsable SQL.
  absl::StatusOr<std::vector<std::string>> ReferencedTables(std::string_view sql);
  absl::StatusOr<std::unique_ptr<Appender>> OpenAppender(const std::string& schema,
                                                         const std::string& table);
  // An appender whose rows feed `query` (INSERT, UPDATE, DELETE or MERGE INTO)
  // as the table `appended_data` with columns col1, col2, ... of the types of
  // `shape`'s columns; the query runs when the appender flushes or closes.
  // Errors: InvalidArgument when DuckDB rejects the query.
  absl::StatusOr<std::unique_ptr<Appender>> OpenQueryAppender(const std::string& query,
                                                              const DataChunk& shape);

  // Converts a result chunk to Arrow with this connection's Arrow options.
  absl::StatusOr<ArrowBatch> ToArrow(Result& result, DataChunk& chunk);
  // Converts an Arrow batch back into a DuckDB chunk. Consumes the batch's array.
  absl::StatusOr<std::unique_ptr<DataChunk>> FromArrow(ArrowBatch& batch);

  // Asks a running query on this connection to stop; it then fails with
  // Cancelled. Safe to call from any thread.
  void Interrupt();

  // Progress of the running query in percent (0-100), or -1 when unknown.
  // Safe to call from any thread.
  double Progress();

 private:
  friend class TableFunction;  // registers table functions (duck/table_function.h)
  explicit Connection(_duckdb_connection* handle) : handle_(handle) {}
  _duckdb_connection* handle_;
};

// Runs a query and returns the single value of its first row and column as a
// string (nullopt for NULL or no rows).
absl::StatusOr<std::optional<std::string>> QueryScalar(Connection& connection,
                                                       std::string_view sql);

}  // namespace shardlake::duck
