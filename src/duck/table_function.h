// Table functions written in C++: a SQL-callable source of rows, e.g.
//   SELECT * FROM tpch_rows('lineitem', 1.0, 0, 0, 1500000)
// DuckDB pulls one chunk (up to kChunkCapacity rows) at a time from a
// ChunkProducer, so a query such as COPY (SELECT * FROM f(...)) TO 'x.parquet'
// streams with bounded memory however many rows the function yields.
//
// Registering: TableFunction::Register(connection, spec). The function then
// belongs to the connection's Database (every connection of it can call it)
// until the Database closes; registering the same name twice fails.
//
// Thread-safety: the Binder is called by DuckDB from whichever thread binds a
// query that names the function, possibly several at once, so it must be
// safe to call concurrently. Each bound call gets its own ChunkProducer,
// which DuckDB drives from one thread at a time (the scan is single-threaded,
// so rows come out in the producer's order).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct _duckdb_data_chunk;

namespace shardlake::duck {

class Connection;

// Column types a table function can produce, with their physical layout in
// ChunkWriter: kInteger and kDate are int32 (a DATE is days since 1970-01-01),
// kBigInt and kDecimal15_2 are int64 (a DECIMAL(15,2) holds hundredths).
enum class ColumnType { kInteger, kBigInt, kDecimal15_2, kDate, kVarchar };

struct ColumnSpec {
  std::string name;
  ColumnType type;
};

// Positional parameter types, and the values the Binder receives for them.
enum class ParameterType { kBigInt, kDouble, kVarchar };
using ParameterValue = std::variant<int64_t, double, std::string>;

// The output chunk of one call, filled column by column. REQUIRES: `row` <
// kChunkCapacity and the column has the layout its ColumnType names.
class ChunkWriter {
 public:
  static constexpr size_t kChunkCapacity = 2048;

  explicit ChunkWriter(_duckdb_data_chunk* chunk) : chunk_(chunk) {}

  int32_t* Int32Column(size_t column);
  int64_t* Int64Column(size_t column);
  // Copies `value` into the chunk.
  void SetString(size_t column, size_t row, std::string_view value);

 private:
  _duckdb_data_chunk* chunk_;
};

// Produces a bound call's rows. Fill() writes up to kChunkCapacity rows into
// `out` and returns how many; 0 means the end. An error ends the query with
// that error's message.
class ChunkProducer {
 public:
  virtual ~ChunkProducer() = default;
  virtual absl::StatusOr<size_t> Fill(ChunkWriter& out) = 0;
};

// What a call binds to: its result columns, the row count when known (for
// DuckDB's planner and its progress bar; -1 when unknown), and how to make
// the producer once the query starts.
struct TableFunctionBinding {
  std::vector<ColumnSpec> columns;
  int64_t cardinality = -1;
  std::function<absl::StatusOr<std::unique_ptr<ChunkProducer>>()> open;
};

// Turns a call's arguments (one per declared parameter, in order, never
// NULL: a NULL argument is rejected before the Binder runs) into a binding.
// An error becomes the query's error; say which argument is wrong and why.
using TableFunctionBinder =
    std::function<absl::StatusOr<TableFunctionBinding>(const std::vector<ParameterValue>&)>;

struct TableFunctionSpec {
  std::string name;
  std::vector<ParameterType> parameters;
  TableFunctionBinder binder;
};

class TableFunction {
 public:
  // Registers `spec` with the connection's Database. Errors: InvalidArgument
  // when DuckDB refuses it (e.g. the name is taken).
  static absl::Status Register(Connection& connection, TableFunctionSpec spec);
};

}  // namespace shardlake::duck
