// IndexEntry: what the catalog knows about one Parquet file. The fields and
// their JSON names follow GigAPI's metadata library so that a GigAPI deployment
// and shardlake can read each other's index (see docs/catalog.md).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace shardlake {

// An immutable JSON value shared between copies: copying an IndexEntry (which
// catalog caches and answers do by the thousand) copies a pointer, not a tree
// of maps. Mutation goes through mutable_json(), which copies first when the
// value is shared. Reads are thread-safe; a SharedJson object itself is not
// synchronized (like any value).
class SharedJson {
 public:
  SharedJson() : value_(EmptyObject()) {}
  SharedJson(nlohmann::json value)  // NOLINT: implicit, like the json it holds
      : value_(std::make_shared<nlohmann::json>(std::move(value))) {}
  SharedJson(nlohmann::json::initializer_list_t init)  // NOLINT: e.min = {{"a", 1}}
      : value_(std::make_shared<nlohmann::json>(init)) {}

  const nlohmann::json& json() const { return *value_; }
  operator const nlohmann::json&() const { return *value_; }  // NOLINT
  const nlohmann::json* operator->() const { return value_.get(); }
  const nlohmann::json& operator*() const { return *value_; }
  // The value of `key` (which must exist).
  const nlohmann::json& operator[](const std::string& key) const { return value_->at(key); }
  bool contains(const std::string& key) const { return value_->contains(key); }
  std::string dump() const { return value_->dump(); }

  // The value for writing; copied first if another SharedJson shares it.
  nlohmann::json& mutable_json();

  bool operator==(const SharedJson& other) const {
    return value_ == other.value_ || *value_ == *other.value_;
  }

 private:
  static const std::shared_ptr<nlohmann::json>& EmptyObject();
  // Never written while shared (use_count() > 1).
  std::shared_ptr<nlohmann::json> value_;
};

struct IndexEntry {
  std::string layer = "default";  // storage layer name
  std::string database;
  std::string table;
  // Relative to the table root, e.g. "date=2026-01-01/hour=05/<uuid>.1.parquet".
  std::string path;
  int64_t size_bytes = 0;
  int64_t row_count = 0;
  int64_t chunk_time = 0;  // Unix ns when the file was written or merged
  // Per-column minimum and maximum, keyed by column name. Values are JSON
  // numbers (integers; doubles; DATE as days since 1970; TIMESTAMP kinds as Unix
  // ns), strings or booleans. A column without a value has no usable stats.
  SharedJson min;
  SharedJson max;
  int64_t min_time = 0;  // Unix ns, min of the table's time column (0 if none)
  int64_t max_time = 0;  // Unix ns, max of the table's time column (0 if none)
  std::string writer_id;

  bool operator==(const IndexEntry&) const = default;
};

// GigAPI's JSON form: {"layer":..., "database":..., ..., "writer_id":...}.
nlohmann::json IndexEntryToJson(const IndexEntry& entry);
// Accepts the JSON form above; when the Redis-style decimal strings
// "str_min_time" / "str_max_time" / "str_chunk_time" are present and non-empty
// they win over the numeric fields. Errors: InvalidArgument naming the field.
absl::StatusOr<IndexEntry> IndexEntryFromJson(const nlohmann::json& json);

// Decodes a min / max statistics object from JSON text: fast for flat objects
// of scalars, the general parser otherwise; a discarded value (is_discarded())
// when the text is not JSON.
nlohmann::json ParseStatsJson(std::string_view text);

// The same for JSON text, several times faster for the flat form shardlake
// and GigAPI write (scalars, and flat min / max objects); any other input
// takes the general path, so results and errors are always those of
// IndexEntryFromJson(parse(text)). Errors: InvalidArgument for text that is
// not JSON or not an entry.
absl::StatusOr<IndexEntry> IndexEntryFromJsonText(std::string_view text);

// The folder of an entry's path ("date=2026-01-01/hour=05"), or "" for a file
// at the table root.
std::string FolderOfPath(const std::string& path);

// The merge iteration N of a path ending in ".N.parquet", or 0 if it has none.
int IterationOfPath(const std::string& path);

// One column of a table.
struct ColumnDef {
  std::string name;
  std::string type;  // DuckDB type name, e.g. "TIMESTAMP_NS", "DECIMAL(18,3)"
  bool operator==(const ColumnDef&) const = default;
};

// The schema of a table as kept in the catalog.
struct TableSchema {
  std::string database;
  std::string table;
  std::vector<ColumnDef> columns;
  // The column that drives the date=/hour= layout and min_time/max_time; empty
  // for a flat table. See docs/tables.md for how it is chosen.
  std::string time_column;
  int64_t version = 1;
  int64_t created_at = 0;  // Unix ns

  bool operator==(const TableSchema&) const = default;
  // Index of `name` in `columns`, or -1.
  int ColumnIndex(const std::string& name) const;
};

nlohmann::json TableSchemaToJson(const TableSchema& schema);
absl::StatusOr<TableSchema> TableSchemaFromJson(const nlohmann::json& json);

}  // namespace shardlake
