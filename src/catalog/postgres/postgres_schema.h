// Versioned schema of the PostgreSQL catalog: the migrations and how the
// version is read. Internal to src/catalog/postgres.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "catalog/postgres/pg_conn.h"

namespace shardlake::pg {

struct Migration {
  int version;
  const char* description;
  std::vector<const char*> statements;  // run in order, in one transaction
};

// Every migration, by increasing version 1, 2, ...
const std::vector<Migration>& Migrations();

// The version recorded in shardlake_schema_version; 0 when the table does not
// exist.
absl::StatusOr<int> ReadSchemaVersion(Connection& conn);

// OK when `version` is the latest; otherwise FailedPrecondition saying what to
// run (init, migrate, or upgrade shardlake for a future version).
absl::Status CheckSchemaVersion(int version, const std::string& describe);

}  // namespace shardlake::pg
