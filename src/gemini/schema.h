// The random schema of a gemini run and the values written into it.
//
// A table has, in this order: the time column `ts` (TIMESTAMP, never NULL; it
// makes shardlake tables time-partitioned), partition-key columns pk0.., whose
// value tuples come from a fixed per-table pool (so reads can find them),
// clustering-key columns ck0.. (fresh random values per row, never NULL) and
// value columns col0.. (fresh random values, about 10% NULL). Column types are
// the ones every target supports with the same semantics: BIGINT, INTEGER,
// SMALLINT, DOUBLE, DECIMAL(18,4), VARCHAR, BOOLEAN, DATE and TIMESTAMP.
//
// Values are SQL literals every target parses identically: doubles are
// multiples of 1/16 (exact in binary, so sums are exact in any order),
// decimals have four places, strings use '' escaping.
//
// Everything here is a pure function of its seed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "gemini/rng.h"
#include "nlohmann/json.hpp"

namespace shardlake::gemini {

enum class ColumnType {
  kBigInt,
  kInteger,
  kSmallInt,
  kDouble,
  kDecimal,  // DECIMAL(18,4)
  kVarchar,
  kBoolean,
  kDate,
  kTimestamp,
};

// "BIGINT", "DECIMAL(18,4)", ...: the DuckDB (and shardlake) spelling.
const char* ColumnTypeName(ColumnType type);
bool IsIntegerType(ColumnType type);

enum class ColumnRole { kTime, kPartitionKey, kClusteringKey, kValue };

struct Column {
  std::string name;
  ColumnType type;
  ColumnRole role;
};

enum class DatasetSize { kSmall, kLarge };

struct Table {
  std::string name;  // "table0", ...
  std::vector<Column> columns;

  // Indexes into `columns` of each role, in column order.
  std::vector<size_t> Role(ColumnRole role) const;
};

struct Schema {
  std::string database = "gemini";  // the schema (PostgreSQL, DuckDB) or database (shardlake)
  std::vector<Table> tables;

  nlohmann::json ToJson() const;
};

// Bounds of the random schema; counts are drawn from [1, max] (value columns
// and clustering keys from [0, max] and [1, max] respectively, see .cc).
struct SchemaLimits {
  int max_tables = 1;
  int max_partition_keys = 2;
  int max_clustering_keys = 2;
  int max_columns = 8;
  DatasetSize dataset_size = DatasetSize::kSmall;
};

Schema GenerateSchema(uint64_t schema_seed, const SchemaLimits& limits);

// One value as a SQL literal; nullopt is NULL.
using Literal = std::optional<std::string>;

// The first instant of the time column's range and its length: rows fall in
// 4 hours (small data set) or 48 hours (large), so shardlake writes a bounded
// number of hourly files per insert.
inline constexpr int64_t kTimeBaseUnixSeconds = 1709251200;  // 2024-03-01 00:00:00 UTC
int64_t TimeRangeSeconds(DatasetSize size);

// A random non-NULL literal of `type`. `role` narrows key domains (smaller
// ranges for partition and clustering keys, so ranges over them match rows).
std::string RandomLiteral(Rng& rng, ColumnType type, ColumnRole role, DatasetSize size);

// A timestamp literal for Unix microseconds: TIMESTAMP 'YYYY-MM-DD HH:MM:SS.ffffff'.
std::string TimestampLiteral(int64_t unix_micros);

// A row: one literal per column of its table, in column order, and the time
// column's value in Unix microseconds.
struct WrittenRow {
  int64_t ts_micros = 0;
  std::vector<Literal> literals;
};

// A random row for `table` with the partition-key literals given.
WrittenRow RandomRow(Rng& rng, const Table& table, const std::vector<std::string>& partition_key,
                     DatasetSize size);

}  // namespace shardlake::gemini
