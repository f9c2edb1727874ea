#include "catalog/postgres/postgres_index.h"

#include <algorithm>
#include <bit>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <utility>

#include "catalog/catalog_stats.h"
#include "catalog/index_internal.h"
#include "catalog/merge_planning.h"
#include "catalog/postgres/pg_conn.h"
#include "catalog/postgres/postgres_schema.h"
#include "common/ids.h"
#include "common/status_macros.h"
#include "fmt/format.h"

namespace shardlake {
namespace {

using pg::ArrayBuilder;
using pg::Connection;
using pg::Params;
using pg::Result;

constexpr const char* kEntryColumns =
    "path, layer, size_bytes, row_count, chunk_time, min_json, max_json, min_time, max_time, "
    "writer_id";

// The power-of-two bucket of an entry's span: bit_width(max_time - min_time),
// 0..64; every span in bucket b is at most 2^b - 1.
int SpanBucket(int64_t min_time, int64_t max_time) {
  return static_cast<int>(
      std::bit_width(static_cast<uint64_t>(max_time) - static_cast<uint64_t>(min_time)));
}

std::string DumpStats(const nlohmann::json& stats) {
  // Replaces invalid UTF-8 instead of throwing.
  return stats.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Reads the entry columns (kEntryColumns) of `row`, starting at column 0.
absl::StatusOr<IndexEntry> ReadEntry(const Result& result, int row, const std::string& database,
                                     const std::string& table, const std::string& describe) {
  IndexEntry e;
  e.database = database;
  e.table = table;
  e.path = result.String(row, 0);
  e.layer = result.String(row, 1);
  e.size_bytes = result.Int(row, 2);
  e.row_count = result.Int(row, 3);
  e.chunk_time = result.Int(row, 4);
  for (auto [column, stats] : {std::pair{5, &e.min}, std::pair{6, &e.max}}) {
    nlohmann::json parsed = ParseStatsJson(result.Text(row, column));
    if (parsed.is_discarded()) {
      return absl::DataLossError(fmt::format("{}: stored stats of {}.{} '{}' are not JSON",
                                             describe, database, table, e.path));
    }
    *stats = std::move(parsed);
  }
  e.min_time = result.Int(row, 7);
  e.max_time = result.Int(row, 8);
  e.writer_id = result.String(row, 9);
  return e;
}

// Counts keyed by (database, table, K), applied as one upsert per batch.
template <typename K>
using CountDeltas = std::map<std::tuple<std::string, std::string, K>, int64_t>;

// Parameters $1, $2, $3: the databases, tables and paths of `items` as text
// arrays, for `unnest($1::text[], $2::text[], $3::text[])`. `T` is any type
// with database, table and path members (IndexEntry, DropItem).
template <typename T>
Params TablePathArrays(const std::vector<T>& items) {
  ArrayBuilder databases, tables, paths;
  for (const T& item : items) {
    databases.AddText(item.database);
    tables.AddText(item.table);
    paths.AddText(item.path);
  }
  Params params;
  params.Add(std::move(databases).Finish())
      .Add(std::move(tables).Finish())
      .Add(std::move(paths).Finish());
  return params;
}

// Statement text with parameters numbered as they are added.
class Statement {
 public:
  // Adds a parameter and returns its placeholder ("$n").
  std::string Param(std::string value) {
    params_.Add(std::move(value));
    return fmt::format("${}", params_.size());
  }
  std::string Param(int64_t value) { return Param(std::to_string(value)); }
  std::string sql;
  const Params& params() const { return params_; }

 private:
  Params params_;
};

// Increments the change version of each table in `tables` (arrays $1, $2,
// sorted, so concurrent transactions lock the rows in one order). A new
// counter starts at the time in microseconds (kNewVersion), so a version
// never repeats, even after the catalog was dropped and created again.
#define SHARDLAKE_NEW_VERSION "(extract(epoch FROM clock_timestamp()) * 1000000)::int8"
constexpr const char* kBumpVersions =
    "INSERT INTO shardlake_table_versions AS v (database, tbl, version) SELECT d, "
    "t, " SHARDLAKE_NEW_VERSION
    " FROM unnest($1::text[], $2::text[]) AS r(d, t) ORDER BY 1, 2 ON CONFLICT (database, tbl) "
    "DO UPDATE SET version = v.version + 1";

// Builds the Query statement: the time range is a range scan of
// shardlake_files_by_time over min_time in [after - longest span, before]
// (the longest span is bounded by the largest span bucket of the table).
// `columns` is the select list.
Statement QueryStatement(const std::string& database, const std::string& table,
                         const QueryOptions& options, const std::string& folder,
                         const char* columns = kEntryColumns) {
  Statement s;
  std::string db = s.Param(database);
  std::string tbl = s.Param(table);
  s.sql = fmt::format("SELECT {} FROM shardlake_files WHERE database = {} AND tbl = {}", columns,
                      db, tbl);
  if (options.after) {
    std::string after = s.Param(*options.after);
    s.sql += fmt::format(
        " AND min_time >= (SELECT greatest(-9223372036854775808::numeric, "
        "{0}::int8::numeric - (2::numeric ^ m.b - 1))::int8 FROM (SELECT max(bucket) AS b "
        "FROM shardlake_spans WHERE database = {1} AND tbl = {2}) m) AND max_time >= {0}::int8",
        after, db, tbl);
  }
  if (options.before) s.sql += fmt::format(" AND min_time <= {}::int8", s.Param(*options.before));
  if (!folder.empty()) {
    // Paths inside `folder` are those in [folder + "/", folder + "0"): '0'
    // follows '/' (byte order: the columns use the "C" collation).
    std::string low = s.Param(folder + "/");
    std::string high = s.Param(folder + "0");
    s.sql += fmt::format(" AND path >= {} AND path < {}", low, high);
  }
  if (options.iteration != 0) {
    s.sql += fmt::format(" AND iteration = {}::int4", s.Param(int64_t{options.iteration}));
  }
  // Without a time range the primary key yields path order; with one, rows
  // come from the time index and Query sorts them.
  if (!options.after && !options.before) s.sql += " ORDER BY path";
  return s;
}

void SortByPath(std::vector<IndexEntry>* entries) {
  std::sort(entries->begin(), entries->end(),
            [](const IndexEntry& a, const IndexEntry& b) { return a.path < b.path; });
}

class PostgresIndex final : public Index {
 public:
  PostgresIndex(pg::ConnectOptions options, IndexOptions index_options)
      : describe_(options.describe),
        stats_(&CatalogStats::For(options.describe)),
        pool_(std::move(options), stats_),
        options_(std::move(index_options)) {}

  // Checks the schema version over one pooled connection.
  absl::Status CheckSchema() {
    return pg::Run(pool_, "open", false, [&](Connection& conn) -> absl::Status {
      ASSIGN_OR_RETURN(int version, pg::ReadSchemaVersion(conn));
      return pg::CheckSchemaVersion(version, describe_);
    });
  }

  std::string Describe() const override { return describe_; }

  absl::Status Batch(const std::vector<IndexEntry>& add,
                     const std::vector<IndexEntry>& remove) override {
    CatalogStats::Call call(stats_, "Batch");
    RETURN_IF_ERROR(call.Done(WithUri(ValidateBatch(add, remove))));
    if (add.empty() && remove.empty()) return absl::OkStatus();
    absl::Status status = pg::Run(pool_, "Batch", true,
                                  [&](Connection& conn) { return ApplyBatch(conn, add, remove); });
    if (absl::IsNotFound(status) || absl::IsAlreadyExists(status)) {
      status = NameTheConflict(status, add, remove);
    }
    return call.Done(status);
  }

  absl::StatusOr<IndexEntry> Get(const std::string& database, const std::string& table,
                                 const std::string& path) override {
    CatalogStats::Call call(stats_, "Get");
    std::optional<IndexEntry> found;
    absl::Status status = pg::Run(pool_, "Get", false, [&](Connection& conn) -> absl::Status {
      Params params;
      params.Add(database).Add(table).Add(path);
      ASSIGN_OR_RETURN(Result result,
                       conn.Exec("Get",
                                 fmt::format("SELECT {} FROM shardlake_files WHERE "
                                             "database = $1 AND tbl = $2 AND path = $3",
                                             kEntryColumns),
                                 params));
      found.reset();
      if (result.rows() == 0) return absl::OkStatus();
      ASSIGN_OR_RETURN(found, ReadEntry(result, 0, database, table, describe_));
      return absl::OkStatus();
    });
    RETURN_IF_ERROR(call.Done(status));
    if (!found) {
      return absl::NotFoundError(
          fmt::format("{}: '{}' of {}.{} is not in the index", describe_, path, database, table));
    }
    return *std::move(found);
  }

  absl::StatusOr<std::vector<IndexEntry>> Query(const std::string& database,
                                                const std::string& table,
                                                const QueryOptions& options) override {
    CatalogStats::Call call(stats_, "Query");
    std::vector<IndexEntry> out;
    if (options.after && options.before && *options.after > *options.before) return out;
    Statement statement =
        QueryStatement(database, table, options, catalog_internal::NormalizedFolder(options));
    absl::Status status = pg::Run(pool_, "Query", false, [&](Connection& conn) -> absl::Status {
      ASSIGN_OR_RETURN(Result result, conn.Exec(fmt::format("Query {}.{}", database, table),
                                                statement.sql, statement.params()));
      out.clear();
      out.reserve(static_cast<size_t>(result.rows()));
      for (int row = 0; row < result.rows(); ++row) {
        ASSIGN_OR_RETURN(IndexEntry entry, ReadEntry(result, row, database, table, describe_));
        out.push_back(std::move(entry));
      }
      return absl::OkStatus();
    });
    RETURN_IF_ERROR(call.Done(status));
    if (options.after || options.before) SortByPath(&out);
    return out;
  }

  absl::StatusOr<int64_t> ChangeVersion(const std::string& database,
                                        const std::string& table) override {
    CatalogStats::Call call(stats_, "ChangeVersion");
    int64_t version = 0;
    absl::Status status =
        pg::Run(pool_, "ChangeVersion", false, [&](Connection& conn) -> absl::Status {
          ASSIGN_OR_RETURN(Result result,
                           conn.Exec(fmt::format("ChangeVersion {}.{}", database, table),
                                     "SELECT version FROM shardlake_table_versions WHERE "
                                     "database = $1 AND tbl = $2",
                                     Params().Add(database).Add(table)));
          version = result.rows() == 1 ? result.Int(0, 0) : 0;
          return absl::OkStatus();
        });
    RETURN_IF_ERROR(call.Done(status));
    return version;
  }

  absl::StatusOr<PathListing> QueryPaths(const std::string& database, const std::string& table,
                                         const QueryOptions& options) override {
    CatalogStats::Call call(stats_, "QueryPaths");
    PathListing listing;
    Statement statement = QueryStatement(database, table, options,
                                         catalog_internal::NormalizedFolder(options), "path");
    // One statement, so the version and the paths come from one snapshot; the
    // version is the first row (its path is NULL).
    std::string sql = fmt::format(
        "SELECT coalesce((SELECT version FROM shardlake_table_versions WHERE database = $1 AND "
        "tbl = $2), 0), NULL::text UNION ALL SELECT NULL::int8, path FROM ({}) q",
        statement.sql);
    absl::Status status =
        pg::Run(pool_, "QueryPaths", false, [&](Connection& conn) -> absl::Status {
          ASSIGN_OR_RETURN(
              Result result,
              conn.Exec(fmt::format("QueryPaths {}.{}", database, table), sql, statement.params()));
          listing.paths.clear();
          listing.paths.reserve(static_cast<size_t>(result.rows()));
          for (int row = 0; row < result.rows(); ++row) {
            if (result.IsNull(row, 1)) {
              listing.version = result.Int(row, 0);
            } else {
              listing.paths.push_back(result.String(row, 1));
            }
          }
          return absl::OkStatus();
        });
    RETURN_IF_ERROR(call.Done(status));
    std::sort(listing.paths.begin(), listing.paths.end());
    return listing;
  }

  absl::StatusOr<std::vector<IndexEntry>> GetMany(const std::string& database,
                                                  const std::string& table,
                                                  const std::vector<std::string>& paths) override {
    CatalogStats::Call call(stats_, "GetMany");
    std::vector<IndexEntry> out;
    if (paths.empty()) return out;
    ArrayBuilder path_array;
    for (const std::string& path : paths) path_array.AddText(path);
    Params params;
    params.Add(database).Add(table).Add(std::move(path_array).Finish());
    absl::Status status = pg::Run(pool_, "GetMany", false, [&](Connection& conn) -> absl::Status {
      ASSIGN_OR_RETURN(
          Result result,
          conn.Exec(fmt::format("GetMany {}.{}", database, table),
                    fmt::format("SELECT {} FROM shardlake_files WHERE database = $1 AND tbl = $2 "
                                "AND path = ANY($3::text[]) ORDER BY path",
                                kEntryColumns),
                    params));
      out.clear();
      out.reserve(static_cast<size_t>(result.rows()));
      for (int row = 0; row < result.rows(); ++row) {
        ASSIGN_OR_RETURN(IndexEntry entry, ReadEntry(result, row, database, table, describe_));
        out.push_back(std::move(entry));
      }
      return absl::OkStatus();
    });
    RETURN_IF_ERROR(call.Done(status));
    return out;
  }

  absl::StatusOr<std::string> Explain(const std::string& database, const std::string& table,
                                      const QueryOptions& options) {
    Statement statement =
        QueryStatement(database, table, options, catalog_internal::NormalizedFolder(options));
    std::string plan;
    RETURN_IF_ERROR(pg::Run(pool_, "EXPLAIN", false, [&](Connection& conn) -> absl::Status {
      ASSIGN_OR_RETURN(Result result,
                       conn.Exec("EXPLAIN", "EXPLAIN " + statement.sql, statement.params()));
      plan.clear();
      for (int row = 0; row < result.rows(); ++row) plan += result.String(row, 0) + "\n";
      return absl::OkStatus();
    }));
    return plan;
  }

  absl::StatusOr<std::vector<std::string>> ListDatabases() override {
    CatalogStats::Call call(stats_, "ListDatabases");
    return call.Done(Strings("ListDatabases",
                             "SELECT database FROM shardlake_tables UNION "
                             "SELECT database FROM shardlake_folders ORDER BY 1",
                             {}));
  }

  absl::StatusOr<std::vector<std::string>> ListTables(const std::string& database) override {
    CatalogStats::Call call(stats_, "ListTables");
    Params params;
    params.Add(database);
    return call.Done(Strings("ListTables",
                             "SELECT tbl FROM shardlake_tables WHERE database = $1 UNION "
                             "SELECT tbl FROM shardlake_folders WHERE database = $1 ORDER BY 1",
                             params));
  }

  absl::StatusOr<std::vector<std::string>> ListFolders(const std::string& database,
                                                       const std::string& table) override {
    CatalogStats::Call call(stats_, "ListFolders");
    Params params;
    params.Add(database).Add(table);
    return call.Done(Strings("ListFolders",
                             "SELECT folder FROM shardlake_folders WHERE database = $1 AND "
                             "tbl = $2 ORDER BY folder",
                             params));
  }

  absl::Status CreateTable(const TableSchema& schema) override {
    CatalogStats::Call call(stats_, "CreateTable");
    RETURN_IF_ERROR(call.Done(WithUri(catalog_internal::ValidateTableSchema(schema))));
    Params params;
    params.Add(schema.database)
        .Add(schema.table)
        .Add(TableSchemaToJson(schema).dump(-1, ' ', false,
                                            nlohmann::json::error_handler_t::replace))
        .Add(schema.created_at);
    bool created = false;
    absl::Status status =
        pg::Run(pool_, "CreateTable", false, [&](Connection& conn) -> absl::Status {
          ASSIGN_OR_RETURN(
              Result result,
              conn.Exec(fmt::format("CreateTable {}.{}", schema.database, schema.table),
                        "WITH created AS (INSERT INTO shardlake_tables (database, tbl, "
                        "schema_json, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING "
                        "RETURNING database, tbl), bumped AS (INSERT INTO shardlake_table_versions "
                        "AS v (database, tbl, version) SELECT database, tbl, " SHARDLAKE_NEW_VERSION
                        " FROM created ON CONFLICT (database, tbl) DO UPDATE SET version = "
                        "v.version + 1) SELECT count(*) FROM created",
                        params));
          created = result.Int(0, 0) == 1;
          return absl::OkStatus();
        });
    RETURN_IF_ERROR(call.Done(status));
    if (!created) {
      call.Fail();
      return absl::AlreadyExistsError(
          fmt::format("{}: table {}.{} already exists", describe_, schema.database, schema.table));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<TableSchema> GetTable(const std::string& database,
                                       const std::string& table) override {
    CatalogStats::Call call(stats_, "GetTable");
    Params params;
    params.Add(database).Add(table);
    std::optional<std::string> json;
    absl::Status status = pg::Run(pool_, "GetTable", false, [&](Connection& conn) -> absl::Status {
      ASSIGN_OR_RETURN(Result result,
                       conn.Exec(fmt::format("GetTable {}.{}", database, table),
                                 "SELECT schema_json FROM shardlake_tables WHERE database = $1 "
                                 "AND tbl = $2",
                                 params));
      json.reset();
      if (result.rows() == 1) json = result.String(0, 0);
      return absl::OkStatus();
    });
    RETURN_IF_ERROR(call.Done(status));
    if (!json) {
      return absl::NotFoundError(
          fmt::format("{}: table {}.{} does not exist", describe_, database, table));
    }
    auto schema =
        TableSchemaFromJson(nlohmann::json::parse(*json, nullptr, /*allow_exceptions=*/false));
    if (!schema.ok()) {
      return absl::DataLossError(fmt::format("{}: stored schema of {}.{} is invalid: {}", describe_,
                                             database, table,
                                             std::string(schema.status().message())));
    }
    return schema;
  }

  absl::StatusOr<std::vector<IndexEntry>> DropTable(const std::string& database,
                                                    const std::string& table) override {
    CatalogStats::Call call(stats_, "DropTable");
    std::vector<IndexEntry> removed;
    std::vector<IndexEntry> dropped_files;  // from the drop queue
    bool exists = false;
    std::string what = fmt::format("DropTable {}.{}", database, table);
    absl::Status status = pg::Run(pool_, "DropTable", true, [&](Connection& conn) -> absl::Status {
      removed.clear();
      dropped_files.clear();
      Params params;
      params.Add(database).Add(table);
      // Excludes concurrent batches on this table (they take the lock shared).
      RETURN_IF_ERROR(conn.Exec(what,
                                "SELECT pg_advisory_xact_lock(hashtextextended($1 || "
                                "chr(31) || $2, 0))",
                                params)
                          .status());
      ASSIGN_OR_RETURN(Result dropped, conn.Exec(what,
                                                 "DELETE FROM shardlake_tables WHERE database = "
                                                 "$1 AND tbl = $2",
                                                 params));
      exists = dropped.Affected() == 1;
      if (!exists) return absl::OkStatus();
      ASSIGN_OR_RETURN(Result files,
                       conn.Exec(what,
                                 fmt::format("DELETE FROM shardlake_files WHERE database = $1 AND "
                                             "tbl = $2 RETURNING {}",
                                             kEntryColumns),
                                 params));
      for (int row = 0; row < files.rows(); ++row) {
        ASSIGN_OR_RETURN(IndexEntry entry, ReadEntry(files, row, database, table, describe_));
        removed.push_back(std::move(entry));
      }
      // Files queued for deletion by completed merges: the caller deletes
      // them with the live ones.
      ASSIGN_OR_RETURN(Result drops, conn.Exec(what,
                                               "DELETE FROM shardlake_drops WHERE database = $1 "
                                               "AND tbl = $2 RETURNING path",
                                               params));
      for (int row = 0; row < drops.rows(); ++row) {
        IndexEntry ref;
        ref.database = database;
        ref.table = table;
        ref.path = drops.String(row, 0);
        dropped_files.push_back(std::move(ref));
      }
      for (const char* sql : {"DELETE FROM shardlake_folders WHERE database = $1 AND tbl = $2",
                              "DELETE FROM shardlake_spans WHERE database = $1 AND tbl = $2",
                              "DELETE FROM shardlake_leases WHERE database = $1 AND tbl = $2"}) {
        RETURN_IF_ERROR(conn.Exec(what, sql, params).status());
      }
      return BumpVersions(conn, {{database, table}});
    });
    RETURN_IF_ERROR(call.Done(status));
    if (!exists) {
      call.Fail();
      return absl::NotFoundError(
          fmt::format("{}: table {}.{} does not exist", describe_, database, table));
    }
    SortByPath(&removed);
    SortByPath(&dropped_files);
    for (IndexEntry& e : dropped_files) removed.push_back(std::move(e));
    return removed;
  }

  absl::StatusOr<std::optional<MergePlan>> LeaseMergePlan(const std::string& database,
                                                          const std::string& table,
                                                          const LeaseRequest& request) override {
    CatalogStats::Call call(stats_, "LeaseMergePlan");
    std::optional<MergePlan> plan;
    std::string what = fmt::format("LeaseMergePlan {}.{}", database, table);
    int levels = static_cast<int>(options_.merge_configs.size());
    absl::Status status =
        pg::Run(pool_, "LeaseMergePlan", true, [&](Connection& conn) -> absl::Status {
          plan.reset();
          if (levels == 0) return absl::OkStatus();
          Params base;
          base.Add(database).Add(table).Add(request.now_ns);
          // Expired leases end; their files are candidates again.
          RETURN_IF_ERROR(conn.Exec(what,
                                    "DELETE FROM shardlake_leases WHERE database = $1 AND tbl = $2 "
                                    "AND expires_ns <= $3",
                                    base)
                              .status());
          Params candidates_params = base;
          candidates_params.Add(int64_t{levels});
          ASSIGN_OR_RETURN(
              Result rows,
              conn.Exec(what,
                        "SELECT path, size_bytes, chunk_time, layer FROM shardlake_files WHERE "
                        "database = $1 AND tbl = $2 AND iteration BETWEEN 1 AND $4::int4 AND "
                        "(lease_expires IS NULL OR lease_expires <= $3::int8)",
                        candidates_params));
          std::map<std::string, PlanCandidate> candidates;
          std::map<std::string, std::string> layers;
          for (int row = 0; row < rows.rows(); ++row) {
            PlanCandidate c{rows.String(row, 0), rows.Int(row, 1), rows.Int(row, 2)};
            layers[c.path] = rows.String(row, 3);
            candidates.emplace(c.path, std::move(c));
          }
          // Lock the chosen group's rows, skipping rows another caller is
          // leasing right now; when some are gone or taken, plan again without
          // them. Each round removes at least one candidate.
          while (true) {
            std::vector<PlanCandidate> pool;
            pool.reserve(candidates.size());
            for (const auto& [path, c] : candidates) pool.push_back(c);
            std::optional<PlannedGroup> group = PickMergeGroup(
                std::move(pool), options_.merge_configs, request.now_ns, request.ignore_timeouts);
            if (!group) return absl::OkStatus();
            ArrayBuilder paths;
            for (const std::string& path : group->sources) paths.AddText(path);
            Params lock = base;
            lock.Add(std::move(paths).Finish());
            RETURN_IF_ERROR(conn.Exec(what, "SAVEPOINT lease_group").status());
            ASSIGN_OR_RETURN(
                Result locked,
                conn.Exec(what,
                          "SELECT path FROM shardlake_files WHERE database = $1 AND tbl = $2 AND "
                          "path = ANY($4::text[]) AND (lease_expires IS NULL OR lease_expires <= "
                          "$3::int8) FOR UPDATE SKIP LOCKED",
                          lock));
            if (static_cast<size_t>(locked.rows()) == group->sources.size()) {
              MergePlan p;
              p.id = NewUuid();
              p.database = database;
              p.table = table;
              p.layer = layers[group->sources.front()];
              p.writer_id = request.writer_id;
              p.folder = group->folder;
              p.iteration = group->iteration;
              p.sources = std::move(group->sources);
              p.target = MergeTargetPath(p.folder, p.iteration);
              p.lease_expires_ns = request.now_ns + request.lease_ns;
              Params lease;
              ArrayBuilder sources;
              for (const std::string& path : p.sources) sources.AddText(path);
              std::string sources_array = std::move(sources).Finish();
              lease.Add(p.id)
                  .Add(database)
                  .Add(table)
                  .Add(p.writer_id)
                  .Add(p.folder)
                  .Add(int64_t{p.iteration})
                  .Add(p.target)
                  .Add(sources_array)
                  .Add(p.lease_expires_ns);
              RETURN_IF_ERROR(
                  conn.Exec(what,
                            "UPDATE shardlake_files SET lease_id = $1, lease_expires = $5 WHERE "
                            "database = $2 AND tbl = $3 AND path = ANY($4::text[])",
                            Params()
                                .Add(p.id)
                                .Add(database)
                                .Add(table)
                                .Add(sources_array)
                                .Add(p.lease_expires_ns))
                      .status());
              RETURN_IF_ERROR(
                  conn.Exec(what,
                            "INSERT INTO shardlake_leases (id, database, tbl, writer_id, "
                            "folder, iteration, target, sources, expires_ns) VALUES ($1, "
                            "$2, $3, $4, $5, $6, $7, $8, $9)",
                            lease)
                      .status());
              plan = std::move(p);
              return absl::OkStatus();
            }
            RETURN_IF_ERROR(conn.Exec(what, "ROLLBACK TO SAVEPOINT lease_group").status());
            stats_->Count("lease_conflicts");
            std::set<std::string> got;
            for (int row = 0; row < locked.rows(); ++row) got.insert(locked.String(row, 0));
            for (const std::string& path : group->sources) {
              if (!got.contains(path)) candidates.erase(path);
            }
          }
        });
    RETURN_IF_ERROR(call.Done(status));
    return plan;
  }

  absl::Status CompleteMerge(const MergePlan& plan, const IndexEntry& merged, int64_t now_ns,
                             int64_t drop_due_ns) override {
    CatalogStats::Call call(stats_, "CompleteMerge");
    RETURN_IF_ERROR(call.Done(catalog_internal::ValidateMergeCompletion(describe_, plan, merged)));
    std::string what = fmt::format("CompleteMerge {}", plan.id);
    auto expired = [&] {
      return absl::FailedPreconditionError(fmt::format(
          "{}: merge plan {} of {}.{}: the lease has expired or is unknown; nothing changed",
          describe_, plan.id, plan.database, plan.table));
    };
    std::vector<IndexEntry> remove;
    absl::Status status =
        pg::Run(pool_, "CompleteMerge", true, [&](Connection& conn) -> absl::Status {
          // The table lock first, as in Batch: DropTable takes it before rows.
          RETURN_IF_ERROR(LockTablesShared(conn, {{plan.database, plan.table}}));
          Params params;
          params.Add(plan.id).Add(plan.database).Add(plan.table).Add(now_ns);
          ASSIGN_OR_RETURN(
              Result lease,
              conn.Exec(what,
                        "DELETE FROM shardlake_leases WHERE id = $1 AND database = $2 AND "
                        "tbl = $3 AND expires_ns > $4::int8 RETURNING sources, "
                        "cardinality(sources)",
                        params));
          if (lease.rows() != 1) return expired();
          // The sources as leased (not as the caller says).
          remove.clear();
          std::string_view array = lease.Text(0, 0);
          Params lookup;
          lookup.Add(plan.id).Add(plan.database).Add(plan.table).Add(std::string(array));
          ASSIGN_OR_RETURN(
              Result sources,
              conn.Exec(what,
                        "SELECT path FROM shardlake_files WHERE database = $2 AND tbl = "
                        "$3 AND path = ANY($4::text[]) AND lease_id = $1 FOR UPDATE",
                        lookup));
          if (sources.rows() != lease.Int(0, 1)) {
            return absl::FailedPreconditionError(fmt::format(
                "{}: merge plan {} of {}.{}: a source is no longer live; nothing changed",
                describe_, plan.id, plan.database, plan.table));
          }
          for (int row = 0; row < sources.rows(); ++row) {
            IndexEntry ref;
            ref.database = plan.database;
            ref.table = plan.table;
            ref.path = sources.String(row, 0);
            remove.push_back(std::move(ref));
          }
          RETURN_IF_ERROR(ValidateBatch({merged}, remove));
          RETURN_IF_ERROR(ApplyBatch(conn, {merged}, remove));
          ArrayBuilder paths;
          for (const IndexEntry& ref : remove) paths.AddText(ref.path);
          Params drops;
          drops.Add(plan.database).Add(plan.table).Add(std::move(paths).Finish()).Add(drop_due_ns);
          return conn
              .Exec(
                  what,
                  "INSERT INTO shardlake_drops (database, tbl, path, due_ns) SELECT $1, $2, p, "
                  "$4::int8 FROM unnest($3::text[]) p ON CONFLICT (database, tbl, path) DO UPDATE "
                  "SET due_ns = excluded.due_ns",
                  drops)
              .status();
        });
    if (absl::IsAlreadyExists(status)) status = NameTheConflict(status, {merged}, {});
    return call.Done(status);
  }

  absl::Status AbandonMerge(const MergePlan& plan) override {
    CatalogStats::Call call(stats_, "AbandonMerge");
    std::string what = fmt::format("AbandonMerge {}", plan.id);
    return call.Done(pg::Run(pool_, "AbandonMerge", true, [&](Connection& conn) -> absl::Status {
      Params params;
      params.Add(plan.id).Add(plan.database).Add(plan.table);
      RETURN_IF_ERROR(conn.Exec(what,
                                "UPDATE shardlake_files SET lease_id = NULL, lease_expires = NULL "
                                "WHERE database = $2 AND tbl = $3 AND lease_id = $1 AND path = "
                                "ANY((SELECT sources FROM shardlake_leases WHERE id = $1)::text[])",
                                params)
                          .status());
      return conn.Exec(what, "DELETE FROM shardlake_leases WHERE id = $1", Params().Add(plan.id))
          .status();
    }));
  }

  absl::StatusOr<std::vector<DropItem>> DueDrops(const std::string& database,
                                                 const std::string& table, int64_t now_ns,
                                                 size_t limit) override {
    CatalogStats::Call call(stats_, "DueDrops");
    std::vector<DropItem> out;
    Params params;
    params.Add(database).Add(table).Add(now_ns).Add(
        static_cast<int64_t>(std::min<size_t>(limit, INT64_MAX)));
    absl::Status status = pg::Run(pool_, "DueDrops", false, [&](Connection& conn) -> absl::Status {
      ASSIGN_OR_RETURN(Result result,
                       conn.Exec(fmt::format("DueDrops {}.{}", database, table),
                                 "SELECT path, due_ns FROM shardlake_drops WHERE database = $1 "
                                 "AND tbl = $2 AND due_ns <= $3::int8 ORDER BY due_ns, path "
                                 "LIMIT $4::int8",
                                 params));
      out.clear();
      for (int row = 0; row < result.rows(); ++row) {
        out.push_back({database, table, result.String(row, 0), result.Int(row, 1)});
      }
      return absl::OkStatus();
    });
    RETURN_IF_ERROR(call.Done(status));
    return out;
  }

  absl::Status ForgetDrops(const std::vector<DropItem>& items) override {
    CatalogStats::Call call(stats_, "ForgetDrops");
    if (items.empty()) return absl::OkStatus();
    Params params = TablePathArrays(items);
    return call.Done(pg::Run(pool_, "ForgetDrops", false, [&](Connection& conn) {
      return conn
          .Exec("ForgetDrops",
                "DELETE FROM shardlake_drops d USING unnest($1::text[], $2::text[], $3::text[]) "
                "AS r(database, tbl, path) WHERE d.database = r.database AND d.tbl = r.tbl AND "
                "d.path = r.path",
                params)
          .status();
    }));
  }

 private:
  // `status` with the URI in front of its message (shared validation helpers
  // do not know it).
  absl::Status WithUri(const absl::Status& status) const {
    if (status.ok()) return status;
    return absl::Status(status.code(),
                        fmt::format("{}: {}", describe_, std::string(status.message())));
  }

  // Applies a validated batch inside the caller's transaction. On a path
  // already live (AlreadyExists) or not live (NotFound) it returns that code
  // with a generic message (NameTheConflict names the path after the rollback).
  absl::Status ApplyBatch(Connection& conn, const std::vector<IndexEntry>& add,
                          const std::vector<IndexEntry>& remove) {
    std::set<std::pair<std::string_view, std::string_view>> tables;
    for (const auto* list : {&add, &remove}) {
      for (const IndexEntry& e : *list) tables.emplace(e.database, e.table);
    }
    RETURN_IF_ERROR(LockTablesShared(conn, tables));
    CountDeltas<std::string> folder_delta;
    CountDeltas<int> span_delta;
    if (!remove.empty()) {
      Params params = TablePathArrays(remove);
      ASSIGN_OR_RETURN(
          Result removed,
          conn.Exec("Batch: removing entries",
                    "WITH del AS (DELETE FROM shardlake_files f USING unnest($1::text[], "
                    "$2::text[], $3::text[]) AS r(database, tbl, path) WHERE f.database = "
                    "r.database AND f.tbl = r.tbl AND f.path = r.path RETURNING f.database, "
                    "f.tbl, f.folder, f.span_bucket) SELECT database, tbl, folder, span_bucket, "
                    "count(*) FROM del GROUP BY 1, 2, 3, 4",
                    params));
      int64_t total = 0;
      for (int row = 0; row < removed.rows(); ++row) {
        int64_t n = removed.Int(row, 4);
        total += n;
        folder_delta[{removed.String(row, 0), removed.String(row, 1), removed.String(row, 2)}] -= n;
        span_delta[{removed.String(row, 0), removed.String(row, 1),
                    static_cast<int>(removed.Int(row, 3))}] -= n;
      }
      if (total != static_cast<int64_t>(remove.size())) {
        return absl::NotFoundError("a removed path is not live");
      }
    }
    if (!add.empty()) {
      ArrayBuilder databases, tbls, paths, folders, iterations, buckets, layers, sizes, rows,
          chunks, mins, maxs, min_times, max_times, writers;
      // Insert in key order, so that concurrent batches lock in one order.
      std::vector<const IndexEntry*> order;
      order.reserve(add.size());
      for (const IndexEntry& e : add) order.push_back(&e);
      std::sort(order.begin(), order.end(), [](const IndexEntry* a, const IndexEntry* b) {
        return std::tie(a->database, a->table, a->path) < std::tie(b->database, b->table, b->path);
      });
      for (const IndexEntry* e : order) {
        std::string folder = FolderOfPath(e->path);
        int bucket = SpanBucket(e->min_time, e->max_time);
        databases.AddText(e->database);
        tbls.AddText(e->table);
        paths.AddText(e->path);
        folders.AddText(folder);
        iterations.AddInt(IterationOfPath(e->path));
        buckets.AddInt(bucket);
        layers.AddText(e->layer);
        sizes.AddInt(e->size_bytes);
        rows.AddInt(e->row_count);
        chunks.AddInt(e->chunk_time);
        mins.AddText(DumpStats(e->min));
        maxs.AddText(DumpStats(e->max));
        min_times.AddInt(e->min_time);
        max_times.AddInt(e->max_time);
        writers.AddText(e->writer_id);
        ++folder_delta[{e->database, e->table, std::move(folder)}];
        ++span_delta[{e->database, e->table, bucket}];
      }
      Params params;
      for (ArrayBuilder* array :
           {&databases, &tbls, &paths, &folders, &iterations, &buckets, &layers, &sizes, &rows,
            &chunks, &mins, &maxs, &min_times, &max_times, &writers}) {
        params.Add(std::move(*array).Finish());
      }
      ASSIGN_OR_RETURN(
          Result inserted,
          conn.Exec("Batch: adding entries",
                    "WITH ins AS (INSERT INTO shardlake_files (database, tbl, path, folder, "
                    "iteration, span_bucket, layer, size_bytes, row_count, chunk_time, min_json, "
                    "max_json, min_time, max_time, writer_id) SELECT * FROM unnest($1::text[], "
                    "$2::text[], $3::text[], $4::text[], $5::int4[], $6::int2[], $7::text[], "
                    "$8::int8[], $9::int8[], $10::int8[], $11::text[], $12::text[], $13::int8[], "
                    "$14::int8[], $15::text[]) ON CONFLICT DO NOTHING RETURNING 1) "
                    "SELECT count(*) FROM ins",
                    params));
      if (inserted.Int(0, 0) != static_cast<int64_t>(add.size())) {
        return absl::AlreadyExistsError("an added path is already live");
      }
    }
    RETURN_IF_ERROR(ApplyCounts(conn, folder_delta, "shardlake_folders", "folder", "text"));
    RETURN_IF_ERROR(ApplyCounts(conn, span_delta, "shardlake_spans", "bucket", "int2"));
    return BumpVersions(conn, tables);
  }

  // Increments the change versions of `tables` inside the caller's transaction.
  static absl::Status BumpVersions(
      Connection& conn, const std::set<std::pair<std::string_view, std::string_view>>& tables) {
    ArrayBuilder databases, tbls;
    for (const auto& [database, table] : tables) {
      databases.AddText(database);
      tbls.AddText(table);
    }
    return conn
        .Exec("recording the change", kBumpVersions,
              Params().Add(std::move(databases).Finish()).Add(std::move(tbls).Finish()))
        .status();
  }

  // Takes the transaction-scoped advisory lock of each (database, table)
  // shared: batches and merges take it shared, DropTable exclusive (the key
  // is the same hashtextextended(database || chr(31) || table, 0)).
  static absl::Status LockTablesShared(
      Connection& conn, const std::set<std::pair<std::string_view, std::string_view>>& tables) {
    ArrayBuilder keys;
    for (const auto& [database, table] : tables) {
      keys.AddText(fmt::format("{}\x1f{}", database, table));
    }
    return conn
        .Exec("locking tables",
              "SELECT pg_advisory_xact_lock_shared(hashtextextended(k, 0)) FROM "
              "unnest($1::text[]) k",
              Params().Add(std::move(keys).Finish()))
        .status();
  }

  // Adds `deltas` to the counts of `table` (key column `column` of SQL type
  // `type`) and deletes counts that reach zero.
  template <typename K>
  absl::Status ApplyCounts(Connection& conn, const CountDeltas<K>& deltas, const char* table,
                           const char* column, const char* type) {
    ArrayBuilder databases, tbls, keys, counts;
    bool any_negative = false;
    for (const auto& [key, delta] : deltas) {
      if (delta == 0) continue;
      const auto& [database, tbl, k] = key;
      databases.AddText(database);
      tbls.AddText(tbl);
      if constexpr (std::is_same_v<K, std::string>) {
        keys.AddText(k);
      } else {
        keys.AddInt(k);
      }
      counts.AddInt(delta);
      any_negative = any_negative || delta < 0;
    }
    if (counts.size() == 0) return absl::OkStatus();
    Params params;
    params.Add(std::move(databases).Finish())
        .Add(std::move(tbls).Finish())
        .Add(std::move(keys).Finish())
        .Add(std::move(counts).Finish());
    std::string what = fmt::format("Batch: updating {}", table);
    RETURN_IF_ERROR(conn.Exec(what,
                              fmt::format("INSERT INTO {0} (database, tbl, {1}, files) SELECT * "
                                          "FROM unnest($1::text[], $2::text[], $3::{2}[], "
                                          "$4::int8[]) ON CONFLICT (database, tbl, {1}) DO "
                                          "UPDATE SET files = {0}.files + excluded.files",
                                          table, column, type),
                              params)
                        .status());
    if (!any_negative) return absl::OkStatus();
    Params keys_only;
    for (size_t i = 0; i < 3; ++i) keys_only.Add(params.Value(i));
    return conn
        .Exec(what,
              fmt::format("DELETE FROM {0} c USING unnest($1::text[], $2::text[], $3::{2}[]) AS "
                          "r(database, tbl, k) WHERE c.database = r.database AND c.tbl = r.tbl "
                          "AND c.{1} = r.k AND c.files <= 0",
                          table, column, type),
              keys_only)
        .status();
  }

  // Replaces the generic message of a failed batch (NotFound / AlreadyExists)
  // by one naming a path, found after the rollback.
  absl::Status NameTheConflict(const absl::Status& status, const std::vector<IndexEntry>& add,
                               const std::vector<IndexEntry>& remove) {
    bool missing = absl::IsNotFound(status);
    const std::vector<IndexEntry>& list = missing ? remove : add;
    Params params = TablePathArrays(list);
    std::optional<size_t> culprit;
    (void)pg::Run(pool_, "Batch", false, [&](Connection& conn) -> absl::Status {
      ASSIGN_OR_RETURN(
          Result result,
          conn.Exec("Batch",
                    fmt::format("SELECT r.i FROM unnest($1::text[], $2::text[], $3::text[]) WITH "
                                "ORDINALITY AS r(database, tbl, path, i) WHERE {} EXISTS (SELECT "
                                "1 FROM shardlake_files f WHERE f.database = r.database AND "
                                "f.tbl = r.tbl AND f.path = r.path) ORDER BY r.i LIMIT 1",
                                missing ? "NOT" : ""),
                    params));
      if (result.rows() == 1) culprit = static_cast<size_t>(result.Int(0, 0) - 1);
      return absl::OkStatus();
    });
    if (!culprit || *culprit >= list.size()) {
      return absl::Status(status.code(),
                          fmt::format("{}: batch rejected: {} (changed concurrently)", describe_,
                                      std::string(status.message())));
    }
    const IndexEntry& e = list[*culprit];
    if (missing) {
      return absl::NotFoundError(fmt::format("{}: cannot remove '{}' from {}.{}: not in the index",
                                             describe_, e.path, e.database, e.table));
    }
    return absl::AlreadyExistsError(fmt::format("{}: cannot add '{}' to {}.{}: already indexed",
                                                describe_, e.path, e.database, e.table));
  }

  absl::StatusOr<std::vector<std::string>> Strings(const char* what, const std::string& sql,
                                                   const Params& params) {
    std::vector<std::string> out;
    RETURN_IF_ERROR(pg::Run(pool_, what, false, [&](Connection& conn) -> absl::Status {
      ASSIGN_OR_RETURN(Result result, conn.Exec(what, sql, params));
      out.clear();
      for (int row = 0; row < result.rows(); ++row) out.push_back(result.String(row, 0));
      return absl::OkStatus();
    }));
    return out;
  }

  const std::string describe_;
  CatalogStats* const stats_;
  pg::Pool pool_;
  const IndexOptions options_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Index>> OpenPostgresIndex(const Uri& uri,
                                                         const IndexOptions& options) {
  ASSIGN_OR_RETURN(pg::ConnectOptions connect, pg::ConnectOptionsFromUri(uri));
  auto index = std::make_unique<PostgresIndex>(std::move(connect), options);
  RETURN_IF_ERROR(index->CheckSchema());
  return std::unique_ptr<Index>(std::move(index));
}

absl::StatusOr<std::string> ExplainPostgresQuery(Index& index, const std::string& database,
                                                 const std::string& table,
                                                 const QueryOptions& options) {
  auto* postgres = dynamic_cast<PostgresIndex*>(&index);
  if (postgres == nullptr) {
    return absl::InvalidArgumentError(
        fmt::format("{} is not a PostgreSQL catalog", index.Describe()));
  }
  return postgres->Explain(database, table, options);
}

}  // namespace shardlake
