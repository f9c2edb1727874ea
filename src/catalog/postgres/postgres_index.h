// The PostgreSQL catalog backend (see docs/catalog.md) and the administration
// of its schema (`shardlake catalog init | migrate | status | drop`).
//
// URI: postgresql://user:pass@host:port/db (also postgres://). Every ?key=value
// is passed to libpq (sslmode, sslrootcert, connect_timeout, options, ...)
// except shardlake's own ?pool_size=N (connections per open index, default 8).
// connect_timeout defaults to 5 s.
//
// All catalog objects are tables named shardlake_* in the connection's
// default schema (set another one with ?options=-csearch_path%3Dname). The
// schema is versioned in shardlake_schema_version; opening an index never
// creates or migrates it.
//
// Errors of every function here name the URI without its password:
// Unavailable when the server cannot be reached (or a connection breaks);
// PermissionDenied for bad credentials; FailedPrecondition when the schema is
// missing ("run `shardlake catalog init`"), outdated ("run `shardlake catalog
// migrate`") or from an unknown future version; Aborted when serialization
// failures or deadlocks persist after bounded retries.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "catalog/index.h"
#include "common/uri.h"

namespace shardlake {

// Opens the catalog. Requires a schema at exactly the latest version.
absl::StatusOr<std::unique_ptr<Index>> OpenPostgresIndex(const Uri& uri,
                                                         const IndexOptions& options);

// The schema version this build writes and reads.
int PostgresLatestSchemaVersion();

struct PostgresSchemaStatus {
  int current_version = 0;  // 0: no shardlake schema in the database
  int latest_version = 0;   // PostgresLatestSchemaVersion()
  // "N: description" of each migration not applied yet, in order.
  std::vector<std::string> pending;
};

// Reads the schema version. Changes nothing.
absl::StatusOr<PostgresSchemaStatus> PostgresCatalogStatus(const Uri& uri);

// Creates the schema at `version` (0: the latest; other values are for tests
// of migration) in one transaction. Idempotent when the schema already is at
// the latest version. Errors: FailedPrecondition when a schema of another
// version exists (older: "run migrate"; newer: unknown future version).
absl::StatusOr<PostgresSchemaStatus> InitPostgresCatalog(const Uri& uri, int version = 0);

// Applies pending migrations in order, each in its own transaction, and
// returns the status afterwards (`pending` lists what was applied). Errors:
// FailedPrecondition when there is no schema ("run init") or it is from an
// unknown future version (nothing is changed).
absl::StatusOr<PostgresSchemaStatus> MigratePostgresCatalog(const Uri& uri);

// Drops every shardlake_* table (entries, schemas, leases, drop queue, version)
// in one transaction. Does not ask: callers confirm first. Not an error when
// there is no schema.
absl::Status DropPostgresCatalog(const Uri& uri);

// For tests: the EXPLAIN output of the statement Query runs for `options`.
absl::StatusOr<std::string> ExplainPostgresQuery(Index& index, const std::string& database,
                                                 const std::string& table,
                                                 const QueryOptions& options);

}  // namespace shardlake
