#include <cstdio>

#include "cli/commands.h"
#include "common/time_util.h"
#include "duck/duck.h"
#include "fmt/format.h"

namespace shardlake::cli {
namespace {

// Parses a time for --after / --before with DuckDB's own rules ('2026-01-01',
// '2026-01-01 12:00:00.5', ...), as Unix ns.
absl::StatusOr<std::optional<int64_t>> ParseTime(const std::string& text) {
  if (text.empty()) return std::optional<int64_t>();
  auto db = duck::Database::Open("");
  if (!db.ok()) return db.status();
  auto conn = duck::Connection::Open(**db);
  if (!conn.ok()) return conn.status();
  auto prepared = (*conn)->Prepare("SELECT epoch_ns(CAST($1 AS TIMESTAMP_NS))::VARCHAR");
  if (!prepared.ok()) return prepared.status();
  if (auto s = (*prepared)->BindString(1, text); !s.ok()) return s;
  auto result = (*prepared)->Execute();
  if (!result.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("'{}' is not a time: {}", text, std::string(result.status().message())));
  }
  auto rows = (*result)->FetchAllAsStrings();
  if (!rows.ok()) return rows.status();
  return std::optional<int64_t>(std::stoll(*(*rows)[0][0]));
}

}  // namespace

int RunTables(const GlobalOptions& options) {
  auto engine = OpenEngine(options);
  if (!engine.ok()) return ReportError(engine.status());
  Index& index = (*engine)->index();
  auto databases = index.ListDatabases();
  if (!databases.ok()) return ReportError(databases.status());
  std::vector<std::vector<std::optional<std::string>>> rows;
  for (const auto& db : *databases) {
    auto tables = index.ListTables(db);
    if (!tables.ok()) return ReportError(tables.status());
    for (const auto& table : *tables) {
      auto entries = index.Query(db, table, QueryOptions{});
      if (!entries.ok()) return ReportError(entries.status());
      int64_t rows_total = 0, bytes = 0;
      for (const auto& e : *entries) {
        rows_total += e.row_count;
        bytes += e.size_bytes;
      }
      auto schema = index.GetTable(db, table);
      std::string time_column =
          schema.ok() ? (schema->time_column.empty() ? "(flat)" : schema->time_column) : "?";
      rows.push_back({db + "." + table, std::to_string(entries->size()), std::to_string(rows_total),
                      HumanBytes(bytes), time_column});
    }
  }
  std::fputs(RenderTable({"table", "files", "rows", "size", "time column"}, rows).c_str(), stdout);
  return 0;
}

int RunFiles(const GlobalOptions& options, const std::string& table, const std::string& after,
             const std::string& before) {
  auto engine = OpenEngine(options);
  if (!engine.ok()) return ReportError(engine.status());
  auto schema = (*engine)->ResolveTable(table);
  if (!schema.ok()) return ReportError(schema.status());
  QueryOptions query;
  auto after_ns = ParseTime(after);
  if (!after_ns.ok()) return ReportError(after_ns.status());
  auto before_ns = ParseTime(before);
  if (!before_ns.ok()) return ReportError(before_ns.status());
  query.after = *after_ns;
  query.before = *before_ns;
  auto entries = (*engine)->index().Query(schema->database, schema->table, query);
  if (!entries.ok()) return ReportError(entries.status());
  std::vector<std::vector<std::optional<std::string>>> rows;
  for (const auto& e : *entries) {
    bool timed = !schema->time_column.empty();
    rows.push_back(
        {e.path, std::to_string(e.row_count), HumanBytes(e.size_bytes),
         timed ? std::optional<std::string>(FormatUnixNanos(e.min_time)) : std::nullopt,
         timed ? std::optional<std::string>(FormatUnixNanos(e.max_time)) : std::nullopt});
  }
  std::fputs(RenderTable({"path", "rows", "size", "min_time", "max_time"}, rows).c_str(), stdout);
  std::printf("%zu file(s)\n", entries->size());
  return 0;
}

}  // namespace shardlake::cli
