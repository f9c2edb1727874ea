// The postgresql:// target: a real PostgreSQL server through libpq (the RAII
// helpers of the catalog's backend), a pool of connections shared by the
// workers. Sessions use ISO dates, UTC and shortest exact float output, so
// values render as DuckDB renders them (up to what gemini/compare.h
// normalizes).
#include "catalog/postgres/pg_conn.h"
#include "common/sql_text.h"
#include "common/status_macros.h"
#include "common/uri.h"
#include "fmt/format.h"
#include "gemini/target.h"

namespace shardlake::gemini {
namespace {

class PostgresTarget : public Target {
 public:
  explicit PostgresTarget(pg::ConnectOptions options)
      : describe_(options.describe), pool_(std::move(options), nullptr) {}

  std::string Describe() const override { return describe_; }
  bool SupportsDelete() const override { return true; }

  absl::Status Execute(const std::string& sql) override {
    const std::string rendered = Render(sql);
    return pg::Run(pool_, "gemini statement", /*transaction=*/false,
                   [&](pg::Connection& conn) { return conn.Exec("execute", rendered).status(); });
  }

  absl::StatusOr<TextRows> Query(const std::string& sql) override {
    const std::string rendered = Render(sql);
    TextRows rows;
    RETURN_IF_ERROR(
        pg::Run(pool_, "gemini query", /*transaction=*/false, [&](pg::Connection& conn) {
          rows.clear();
          ASSIGN_OR_RETURN(pg::Result result, conn.Exec("query", rendered));
          for (int r = 0; r < result.rows(); ++r) {
            TextRow row(static_cast<size_t>(result.columns()));
            for (int c = 0; c < result.columns(); ++c) {
              if (!result.IsNull(r, c)) row[static_cast<size_t>(c)] = result.String(r, c);
            }
            rows.push_back(std::move(row));
          }
          return absl::OkStatus();
        }));
    return rows;
  }

 protected:
  std::string TextCollation() const override { return " COLLATE \"C\""; }

  std::string TypeName(ColumnType type) const override {
    switch (type) {
      case ColumnType::kDouble:
        return "DOUBLE PRECISION";
      case ColumnType::kDecimal:
        return "NUMERIC(18,4)";
      case ColumnType::kVarchar:
        return "TEXT";
      default:
        return ColumnTypeName(type);
    }
  }

 private:
  std::string describe_;
  pg::Pool pool_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Target>> OpenPostgresTarget(const std::string& uri) {
  ASSIGN_OR_RETURN(Uri parsed, ParseUri(uri));
  if (parsed.scheme == "postgres") parsed.scheme = "postgresql";
  ASSIGN_OR_RETURN(pg::ConnectOptions options, pg::ConnectOptionsFromUri(parsed));
  bool has_options = false;
  for (const auto& [key, value] : options.params) has_options |= key == "options";
  if (!has_options) {
    options.params.emplace_back("options",
                                "-c DateStyle=ISO,YMD -c TimeZone=UTC -c extra_float_digits=1");
  }
  auto target = std::make_unique<PostgresTarget>(std::move(options));
  // Connect now, so a wrong address or password is a fatal error at start.
  RETURN_IF_ERROR(target->Query("SELECT 1").status());
  return target;
}

}  // namespace shardlake::gemini
