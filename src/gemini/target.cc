#include "gemini/target.h"

#include "common/sql_text.h"
#include "common/status_macros.h"
#include "fmt/format.h"

namespace shardlake::gemini {

std::string Target::Render(const std::string& sql) const {
  std::string out;
  const std::string collation = TextCollation();
  size_t from = 0;
  while (true) {
    size_t at = sql.find("{C}", from);
    if (at == std::string::npos) break;
    out.append(sql, from, at - from);
    out += collation;
    from = at + 3;
  }
  out.append(sql, from, std::string::npos);
  return out;
}

absl::Status Target::CreateSchema(const Schema& schema, bool drop_first) {
  if (drop_first) RETURN_IF_ERROR(DropSchema(schema));
  RETURN_IF_ERROR(
      Execute(fmt::format("CREATE SCHEMA IF NOT EXISTS {}", QuoteIdentifier(schema.database))));
  for (const Table& table : schema.tables) {
    RETURN_IF_ERROR(Execute(CreateTableSql(schema, table)));
  }
  return absl::OkStatus();
}

absl::Status Target::DropSchema(const Schema& schema) {
  return Execute(fmt::format("DROP SCHEMA IF EXISTS {} CASCADE", QuoteIdentifier(schema.database)));
}

std::string Target::CreateTableSql(const Schema& schema, const Table& table) const {
  std::string columns;
  for (const Column& column : table.columns) {
    if (!columns.empty()) columns += ", ";
    columns += fmt::format("{} {}", QuoteIdentifier(column.name), TypeName(column.type));
  }
  return fmt::format("CREATE TABLE IF NOT EXISTS {}.{} ({})", QuoteIdentifier(schema.database),
                     QuoteIdentifier(table.name), columns);
}

absl::StatusOr<std::unique_ptr<Target>> OpenTarget(const std::string& uri,
                                                   const TargetOptions& options) {
  auto starts = [&](std::string_view prefix) { return uri.rfind(prefix, 0) == 0; };
  if (starts("embedded:")) {
    return OpenEmbeddedTarget(uri, uri.substr(std::string_view("embedded:").size()), options);
  }
  if (starts("sql://")) {
    return OpenEmbeddedTarget(uri, uri.substr(std::string_view("sql://").size()), options);
  }
  if (uri == "duckdb:" || uri == "duckdb://" || uri == "duckdb") {
    return OpenDuckDbTarget(uri, options);
  }
  if (starts("postgresql://") || starts("postgres://")) return OpenPostgresTarget(uri);
  if (starts("shardlake://")) return OpenShardlakeTarget(uri);
  return absl::InvalidArgumentError(fmt::format(
      "unknown target `{}`: use embedded:[DIR], sql://[DIR], duckdb:, "
      "postgresql://user:pw@host:port/db or shardlake://user:pw@host:port?tls-roots=PEM",
      uri.substr(0, uri.find('@'))));
}

}  // namespace shardlake::gemini
