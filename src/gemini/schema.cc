#include "gemini/schema.h"

#include <array>

#include "common/time_util.h"
#include "fmt/format.h"

namespace shardlake::gemini {
namespace {

constexpr std::array kPartitionKeyTypes = {ColumnType::kBigInt, ColumnType::kInteger,
                                           ColumnType::kVarchar, ColumnType::kDate};
constexpr std::array kClusteringKeyTypes = {ColumnType::kBigInt,   ColumnType::kInteger,
                                            ColumnType::kSmallInt, ColumnType::kVarchar,
                                            ColumnType::kDate,     ColumnType::kTimestamp};
constexpr std::array kValueTypes = {
    ColumnType::kBigInt,  ColumnType::kInteger, ColumnType::kSmallInt,
    ColumnType::kDouble,  ColumnType::kDecimal, ColumnType::kVarchar,
    ColumnType::kBoolean, ColumnType::kDate,    ColumnType::kTimestamp};

constexpr double kNullChance = 0.1;
constexpr int64_t kDaySeconds = 86400;

template <size_t N>
ColumnType Pick(Rng& rng, const std::array<ColumnType, N>& types) {
  return types[rng.Below(N)];
}

std::string RandomString(Rng& rng, int64_t min_length, int64_t max_length) {
  // Letters of both cases, digits, a space and a quote (escaping is exercised).
  static constexpr std::string_view kAlphabet =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-'";
  int64_t length = rng.Range(min_length, max_length);
  std::string text;
  for (int64_t i = 0; i < length; ++i) text += kAlphabet[rng.Below(kAlphabet.size())];
  return text;
}

std::string StringLiteral(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

std::string DateLiteral(int64_t day_offset) {
  int64_t ns = (kTimeBaseUnixSeconds + day_offset * kDaySeconds) * 1'000'000'000LL;
  return fmt::format("DATE '{}'", DateOfUnixNanos(ns));
}

}  // namespace

const char* ColumnTypeName(ColumnType type) {
  switch (type) {
    case ColumnType::kBigInt:
      return "BIGINT";
    case ColumnType::kInteger:
      return "INTEGER";
    case ColumnType::kSmallInt:
      return "SMALLINT";
    case ColumnType::kDouble:
      return "DOUBLE";
    case ColumnType::kDecimal:
      return "DECIMAL(18,4)";
    case ColumnType::kVarchar:
      return "VARCHAR";
    case ColumnType::kBoolean:
      return "BOOLEAN";
    case ColumnType::kDate:
      return "DATE";
    case ColumnType::kTimestamp:
      return "TIMESTAMP";
  }
  return "?";
}

bool IsIntegerType(ColumnType type) {
  return type == ColumnType::kBigInt || type == ColumnType::kInteger ||
         type == ColumnType::kSmallInt;
}

std::vector<size_t> Table::Role(ColumnRole role) const {
  std::vector<size_t> indexes;
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i].role == role) indexes.push_back(i);
  }
  return indexes;
}

nlohmann::json Schema::ToJson() const {
  nlohmann::json tables_json = nlohmann::json::array();
  for (const Table& table : tables) {
    nlohmann::json columns = nlohmann::json::array();
    for (const Column& column : table.columns) {
      static constexpr const char* kRoles[] = {"time", "partition_key", "clustering_key", "value"};
      columns.push_back({{"name", column.name},
                         {"type", ColumnTypeName(column.type)},
                         {"role", kRoles[static_cast<int>(column.role)]}});
    }
    tables_json.push_back({{"name", table.name}, {"columns", columns}});
  }
  return {{"database", database}, {"tables", tables_json}};
}

Schema GenerateSchema(uint64_t schema_seed, const SchemaLimits& limits) {
  Rng rng = Rng::Derive(schema_seed, "schema");
  Schema schema;
  int64_t table_count = rng.Range(1, limits.max_tables);
  for (int64_t t = 0; t < table_count; ++t) {
    Table table;
    table.name = fmt::format("table{}", t);
    table.columns.push_back({"ts", ColumnType::kTimestamp, ColumnRole::kTime});
    int64_t partition_keys = rng.Range(1, limits.max_partition_keys);
    for (int64_t i = 0; i < partition_keys; ++i) {
      table.columns.push_back(
          {fmt::format("pk{}", i), Pick(rng, kPartitionKeyTypes), ColumnRole::kPartitionKey});
    }
    int64_t clustering_keys = rng.Range(0, limits.max_clustering_keys);
    for (int64_t i = 0; i < clustering_keys; ++i) {
      table.columns.push_back(
          {fmt::format("ck{}", i), Pick(rng, kClusteringKeyTypes), ColumnRole::kClusteringKey});
    }
    int64_t values = rng.Range(1, limits.max_columns);
    for (int64_t i = 0; i < values; ++i) {
      table.columns.push_back(
          {fmt::format("col{}", i), Pick(rng, kValueTypes), ColumnRole::kValue});
    }
    schema.tables.push_back(std::move(table));
  }
  return schema;
}

int64_t TimeRangeSeconds(DatasetSize size) { return (size == DatasetSize::kSmall ? 4 : 48) * 3600; }

std::string TimestampLiteral(int64_t unix_micros) {
  // FormatUnixNanos gives nine fraction digits; keep six (microseconds).
  std::string text = FormatUnixNanos(unix_micros * 1000).substr(0, 26);
  return fmt::format("TIMESTAMP '{}'", text);
}

std::string RandomLiteral(Rng& rng, ColumnType type, ColumnRole role, DatasetSize size) {
  const bool key = role == ColumnRole::kPartitionKey || role == ColumnRole::kClusteringKey;
  const bool small = size == DatasetSize::kSmall;
  switch (type) {
    case ColumnType::kBigInt:
      return std::to_string(key ? rng.Range(-100'000, 100'000)
                                : rng.Range(-1'000'000'000'000LL, 1'000'000'000'000LL));
    case ColumnType::kInteger:
      return std::to_string(key ? rng.Range(-10'000, 10'000) : rng.Range(-1'000'000, 1'000'000));
    case ColumnType::kSmallInt:
      return std::to_string(key ? rng.Range(-100, 100) : rng.Range(-30'000, 30'000));
    case ColumnType::kDouble:
      // A multiple of 1/16: exact in binary, printed exactly in few digits.
      return fmt::format("{}", static_cast<double>(rng.Range(-100'000'000, 100'000'000)) / 16.0);
    case ColumnType::kDecimal: {
      int64_t units = rng.Range(-99'999'999'9999LL, 99'999'999'9999LL);
      uint64_t magnitude = static_cast<uint64_t>(units < 0 ? -units : units);
      return fmt::format("{}{}.{:04}", units < 0 ? "-" : "", magnitude / 10000, magnitude % 10000);
    }
    case ColumnType::kVarchar:
      return StringLiteral(key ? RandomString(rng, 1, small ? 4 : 8)
                               : RandomString(rng, 0, small ? 12 : 64));
    case ColumnType::kBoolean:
      return rng.Chance(0.5) ? "true" : "false";
    case ColumnType::kDate:
      return DateLiteral(rng.Range(0, key ? 30 : 365));
    case ColumnType::kTimestamp: {
      int64_t span = key ? TimeRangeSeconds(size) : 365 * kDaySeconds;
      return TimestampLiteral((kTimeBaseUnixSeconds + rng.Range(0, span - 1)) * 1'000'000 +
                              rng.Range(0, 999'999));
    }
  }
  return "NULL";
}

WrittenRow RandomRow(Rng& rng, const Table& table, const std::vector<std::string>& partition_key,
                     DatasetSize size) {
  WrittenRow written;
  std::vector<Literal>& row = written.literals;
  size_t next_key = 0;
  for (const Column& column : table.columns) {
    switch (column.role) {
      case ColumnRole::kTime:
        written.ts_micros =
            (kTimeBaseUnixSeconds + rng.Range(0, TimeRangeSeconds(size) - 1)) * 1'000'000 +
            rng.Range(0, 999'999);
        row.push_back(TimestampLiteral(written.ts_micros));
        break;
      case ColumnRole::kPartitionKey:
        row.push_back(partition_key.at(next_key++));
        break;
      case ColumnRole::kClusteringKey:
        row.push_back(RandomLiteral(rng, column.type, column.role, size));
        break;
      case ColumnRole::kValue:
        if (rng.Chance(kNullChance)) {
          row.push_back(std::nullopt);
        } else {
          row.push_back(RandomLiteral(rng, column.type, column.role, size));
        }
        break;
    }
  }
  return written;
}

}  // namespace shardlake::gemini
