#include "catalog/postgres/postgres_schema.h"

#include "catalog/postgres/postgres_index.h"
#include "common/status_macros.h"
#include "fmt/format.h"

namespace shardlake {
namespace pg {
namespace {

// Serializes schema changes (init, migrate, drop) of one database.
constexpr const char* kSchemaLock = "SELECT pg_advisory_xact_lock(7283019463)";

constexpr const char* kCreateVersionTable = R"sql(
CREATE TABLE IF NOT EXISTS shardlake_schema_version (
  version     integer PRIMARY KEY,
  description text NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now()
))sql";

std::string FutureVersionMessage(const std::string& describe, int version) {
  return fmt::format(
      "{}: the catalog schema is at version {}, newer than the latest this shardlake knows ({}); "
      "upgrade shardlake (nothing was changed)",
      describe, version, PostgresLatestSchemaVersion());
}

std::string MissingSchemaMessage(const std::string& describe) {
  return fmt::format(
      "{}: the database has no shardlake catalog schema; run `shardlake catalog init` first",
      describe);
}

// Applies `migration` on `conn` (inside the caller's transaction).
absl::Status Apply(Connection& conn, const Migration& migration) {
  std::string what = fmt::format("migration {} ({})", migration.version, migration.description);
  for (const char* statement : migration.statements) {
    RETURN_IF_ERROR(conn.Exec(what, statement).status());
  }
  Params params;
  params.Add(int64_t{migration.version}).Add(std::string(migration.description));
  return conn
      .Exec(what, "INSERT INTO shardlake_schema_version (version, description) VALUES ($1, $2)",
            params)
      .status();
}

PostgresSchemaStatus StatusFor(int version) {
  PostgresSchemaStatus status;
  status.current_version = version;
  status.latest_version = PostgresLatestSchemaVersion();
  for (const Migration& m : Migrations()) {
    if (m.version > version)
      status.pending.push_back(fmt::format("{}: {}", m.version, m.description));
  }
  return status;
}

// One connection for an administrative command.
absl::StatusOr<std::unique_ptr<Connection>> AdminConnection(const Uri& uri) {
  ASSIGN_OR_RETURN(ConnectOptions options, ConnectOptionsFromUri(uri));
  return Connection::Open(options, &CatalogStats::For(options.describe));
}

// Runs `body` in a transaction holding the schema lock; rolls back on error.
absl::Status InSchemaTransaction(Connection& conn, std::string_view what,
                                 const std::function<absl::Status()>& body) {
  RETURN_IF_ERROR(conn.Exec(what, "BEGIN").status());
  absl::Status status = conn.Exec(what, kSchemaLock).status();
  if (status.ok()) status = body();
  if (status.ok()) return conn.Exec(what, "COMMIT").status();
  if (!conn.broken()) (void)conn.Exec(what, "ROLLBACK");
  return status;
}

}  // namespace

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration>* migrations = new std::vector<Migration>{
      {1,
       "files, folder and span counts, table schemas",
       {
           // Text that is compared or sorted uses the "C" collation: byte
           // order, as the other backends sort paths.
           R"sql(CREATE TABLE shardlake_files (
  database    text COLLATE "C" NOT NULL,
  tbl         text COLLATE "C" NOT NULL,
  path        text COLLATE "C" NOT NULL,
  folder      text COLLATE "C" NOT NULL,
  iteration   integer NOT NULL,
  span_bucket smallint NOT NULL,
  layer       text NOT NULL,
  size_bytes  bigint NOT NULL,
  row_count   bigint NOT NULL,
  chunk_time  bigint NOT NULL,
  min_json    text NOT NULL,
  max_json    text NOT NULL,
  min_time    bigint NOT NULL,
  max_time    bigint NOT NULL,
  writer_id   text NOT NULL,
  PRIMARY KEY (database, tbl, path)
))sql",
           // Time-range queries scan min_time in [after - longest span,
           // before]; max_time in the index filters without reading rows.
           "CREATE INDEX shardlake_files_by_time ON shardlake_files "
           "(database, tbl, min_time, max_time)",
           // Live entries per power-of-two bucket of (max_time - min_time):
           // the largest bucket b bounds the longest span (2^b - 1).
           R"sql(CREATE TABLE shardlake_spans (
  database text COLLATE "C" NOT NULL,
  tbl      text COLLATE "C" NOT NULL,
  bucket   smallint NOT NULL,
  files    bigint NOT NULL,
  PRIMARY KEY (database, tbl, bucket)
))sql",
           R"sql(CREATE TABLE shardlake_folders (
  database text COLLATE "C" NOT NULL,
  tbl      text COLLATE "C" NOT NULL,
  folder   text COLLATE "C" NOT NULL,
  files    bigint NOT NULL,
  PRIMARY KEY (database, tbl, folder)
))sql",
           R"sql(CREATE TABLE shardlake_tables (
  database    text COLLATE "C" NOT NULL,
  tbl         text COLLATE "C" NOT NULL,
  schema_json text NOT NULL,
  created_at  bigint NOT NULL,
  PRIMARY KEY (database, tbl)
))sql",
       }},
      {2,
       "merge-plan leases and the drop queue",
       {
           "ALTER TABLE shardlake_files ADD COLUMN lease_id text, "
           "ADD COLUMN lease_expires bigint",
           "CREATE INDEX shardlake_files_merge ON shardlake_files (database, tbl, iteration) "
           "WHERE iteration > 0",
           R"sql(CREATE TABLE shardlake_leases (
  id         text PRIMARY KEY,
  database   text COLLATE "C" NOT NULL,
  tbl        text COLLATE "C" NOT NULL,
  writer_id  text NOT NULL,
  folder     text COLLATE "C" NOT NULL,
  iteration  integer NOT NULL,
  target     text NOT NULL,
  sources    text[] NOT NULL,
  expires_ns bigint NOT NULL
))sql",
           "CREATE INDEX shardlake_leases_by_table ON shardlake_leases "
           "(database, tbl, expires_ns)",
           R"sql(CREATE TABLE shardlake_drops (
  database text COLLATE "C" NOT NULL,
  tbl      text COLLATE "C" NOT NULL,
  path     text COLLATE "C" NOT NULL,
  due_ns   bigint NOT NULL,
  PRIMARY KEY (database, tbl, path)
))sql",
           "CREATE INDEX shardlake_drops_due ON shardlake_drops (database, tbl, due_ns, path)",
       }},
      {3,
       "per-table change versions (for the catalog cache)",
       {
           R"sql(CREATE TABLE shardlake_table_versions (
  database text COLLATE "C" NOT NULL,
  tbl      text COLLATE "C" NOT NULL,
  version  bigint NOT NULL,
  PRIMARY KEY (database, tbl)
))sql",
       }},
  };
  return *migrations;
}

absl::StatusOr<int> ReadSchemaVersion(Connection& conn) {
  ASSIGN_OR_RETURN(Result exists,
                   conn.Exec("reading the schema version",
                             "SELECT to_regclass('shardlake_schema_version') IS NOT NULL"));
  if (exists.rows() != 1 || exists.Text(0, 0) != "t") return 0;
  ASSIGN_OR_RETURN(Result version,
                   conn.Exec("reading the schema version",
                             "SELECT coalesce(max(version), 0) FROM shardlake_schema_version"));
  return static_cast<int>(version.Int(0, 0));
}

absl::Status CheckSchemaVersion(int version, const std::string& describe) {
  int latest = PostgresLatestSchemaVersion();
  if (version == latest) return absl::OkStatus();
  if (version == 0) return absl::FailedPreconditionError(MissingSchemaMessage(describe));
  if (version > latest)
    return absl::FailedPreconditionError(FutureVersionMessage(describe, version));
  return absl::FailedPreconditionError(
      fmt::format("{}: the catalog schema is at version {}, this shardlake needs version {}; run "
                  "`shardlake catalog migrate`",
                  describe, version, latest));
}

}  // namespace pg

int PostgresLatestSchemaVersion() { return pg::Migrations().back().version; }

absl::StatusOr<PostgresSchemaStatus> PostgresCatalogStatus(const Uri& uri) {
  ASSIGN_OR_RETURN(std::unique_ptr<pg::Connection> conn, pg::AdminConnection(uri));
  ASSIGN_OR_RETURN(int version, pg::ReadSchemaVersion(*conn));
  return pg::StatusFor(version);
}

absl::StatusOr<PostgresSchemaStatus> InitPostgresCatalog(const Uri& uri, int version) {
  int latest = PostgresLatestSchemaVersion();
  if (version == 0) version = latest;
  if (version < 1 || version > latest) {
    return absl::InvalidArgumentError(
        fmt::format("{}: no schema version {} (latest is {})", uri.Redacted(), version, latest));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<pg::Connection> conn, pg::AdminConnection(uri));
  const std::string& describe = conn->describe();
  int found = 0;
  RETURN_IF_ERROR(pg::InSchemaTransaction(*conn, "catalog init", [&]() -> absl::Status {
    ASSIGN_OR_RETURN(found, pg::ReadSchemaVersion(*conn));
    if (found == version) return absl::OkStatus();  // already initialized
    if (found > latest)
      return absl::FailedPreconditionError(pg::FutureVersionMessage(describe, found));
    if (found != 0) {
      return absl::FailedPreconditionError(fmt::format(
          "{}: the catalog schema already exists at version {}; run `shardlake catalog migrate`",
          describe, found));
    }
    RETURN_IF_ERROR(conn->Exec("catalog init", pg::kCreateVersionTable).status());
    for (const pg::Migration& m : pg::Migrations()) {
      if (m.version > version) break;
      RETURN_IF_ERROR(pg::Apply(*conn, m));
    }
    return absl::OkStatus();
  }));
  return pg::StatusFor(version);
}

absl::StatusOr<PostgresSchemaStatus> MigratePostgresCatalog(const Uri& uri) {
  ASSIGN_OR_RETURN(std::unique_ptr<pg::Connection> conn, pg::AdminConnection(uri));
  const std::string& describe = conn->describe();
  int latest = PostgresLatestSchemaVersion();
  PostgresSchemaStatus result;
  result.latest_version = latest;
  while (true) {
    bool done = false;
    RETURN_IF_ERROR(pg::InSchemaTransaction(*conn, "catalog migrate", [&]() -> absl::Status {
      ASSIGN_OR_RETURN(int found, pg::ReadSchemaVersion(*conn));
      result.current_version = found;
      if (found == 0) return absl::FailedPreconditionError(pg::MissingSchemaMessage(describe));
      if (found > latest) {
        return absl::FailedPreconditionError(pg::FutureVersionMessage(describe, found));
      }
      if (found == latest) {
        done = true;
        return absl::OkStatus();
      }
      const pg::Migration& next = pg::Migrations()[static_cast<size_t>(found)];
      RETURN_IF_ERROR(pg::Apply(*conn, next));
      result.current_version = next.version;
      result.pending.push_back(fmt::format("{}: {}", next.version, next.description));
      return absl::OkStatus();
    }));
    if (done) return result;
  }
}

absl::Status DropPostgresCatalog(const Uri& uri) {
  ASSIGN_OR_RETURN(std::unique_ptr<pg::Connection> conn, pg::AdminConnection(uri));
  return pg::InSchemaTransaction(*conn, "catalog drop", [&]() -> absl::Status {
    return conn
        ->Exec("catalog drop",
               "DROP TABLE IF EXISTS shardlake_table_versions, shardlake_drops, shardlake_leases, "
               "shardlake_tables, "
               "shardlake_folders, shardlake_spans, shardlake_files, shardlake_schema_version")
        .status();
  });
}

}  // namespace shardlake
