// Target: one side of a gemini run (the system under test or the oracle),
// chosen by URI scheme:
//
//   embedded:[DIR] | sql://[DIR]   shardlake's in-process Engine over a sqlite
//                                  catalog and a file store in DIR (default: a
//                                  temp dir removed at Close)
//   duckdb:                        plain DuckDB, in process, in memory
//   postgresql://user:pw@host:port/db   a PostgreSQL server, through libpq
//   shardlake://user:pw@host:port?tls-roots=PEM   a shardlake server, through
//                                  the cluster client (only when built with it)
//
// Every target runs the same SQL text, except for the DDL (type names) and
// where SQL says `{C}`: targets whose default text ordering is not byte order
// (PostgreSQL) put a collation there (see TextCollation()).
//
// Rows come back as text, one optional string per column (NULL -> nullopt),
// rendered by the target; gemini/compare.h normalizes them per column type.
//
// Thread-safety: every method may be called from any thread; targets that
// cannot run statements concurrently serialize them internally.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gemini/schema.h"

namespace shardlake::gemini {

using TextRow = std::vector<std::optional<std::string>>;
using TextRows = std::vector<TextRow>;

class Target {
 public:
  virtual ~Target() = default;

  // The target's URI without its password, for messages and the result.
  virtual std::string Describe() const = 0;

  // Whether UPDATE / DELETE can be checked on this target (false for
  // shardlake, whose lake tables are append-only).
  virtual bool SupportsDelete() const = 0;

  // Creates the schema (database) and every table; `drop_first` drops what a
  // previous run left of them before. The defaults use a SQL schema per
  // gemini database (CREATE SCHEMA / DROP SCHEMA ... CASCADE) through Execute.
  virtual absl::Status CreateSchema(const Schema& schema, bool drop_first);
  virtual absl::Status DropSchema(const Schema& schema);

  // Runs one statement that returns no rows (INSERT).
  virtual absl::Status Execute(const std::string& sql) = 0;
  // Runs one query and returns every row as text.
  virtual absl::StatusOr<TextRows> Query(const std::string& sql) = 0;

  // Asks a running statement to stop (Ctrl-C); may be called from any thread.
  virtual void Interrupt() {}

  // Replaces `{C}` in `sql` with this target's byte-order collation clause.
  std::string Render(const std::string& sql) const;

 protected:
  // A clause that makes text compare in byte order, e.g. ` COLLATE "C"`; "".
  virtual std::string TextCollation() const { return ""; }
  // This target's name of a column type (default: the DuckDB spelling).
  virtual std::string TypeName(ColumnType type) const { return ColumnTypeName(type); }
  // `CREATE TABLE IF NOT EXISTS <database>.<table> (...)` with TypeName()s.
  std::string CreateTableSql(const Schema& schema, const Table& table) const;
};

struct TargetOptions {
  // Where the embedded target keeps its data when its URI names no
  // directory; empty: a fresh temp dir.
  std::string data_dir;
  // DuckDB threads for in-process targets (0: DuckDB's default).
  int threads = 0;
};

// Opens the target a URI names. Errors: InvalidArgument for an unknown scheme
// or a malformed URI (listing the supported ones), Unavailable /
// PermissionDenied when the target cannot be reached or refuses the login,
// Unimplemented for shardlake:// in a build without the cluster client.
absl::StatusOr<std::unique_ptr<Target>> OpenTarget(const std::string& uri,
                                                   const TargetOptions& options);

// Constructors of the backends (one file each).
absl::StatusOr<std::unique_ptr<Target>> OpenEmbeddedTarget(const std::string& uri,
                                                           const std::string& dir,
                                                           const TargetOptions& options);
absl::StatusOr<std::unique_ptr<Target>> OpenDuckDbTarget(const std::string& uri,
                                                         const TargetOptions& options);
absl::StatusOr<std::unique_ptr<Target>> OpenPostgresTarget(const std::string& uri);
absl::StatusOr<std::unique_ptr<Target>> OpenShardlakeTarget(const std::string& uri);

}  // namespace shardlake::gemini
