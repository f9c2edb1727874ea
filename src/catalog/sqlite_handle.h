// RAII owners for SQLite's C handles and small helpers shared by the SQLite
// catalog and the catalog cache. Internal to src/catalog.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace shardlake::sqlite {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
// Owns a connection; closing finalizes nothing, so every Stmt of a connection
// must be destroyed first (sqlite3_close_v2 defers the close until then).
using Db = std::unique_ptr<sqlite3, DbCloser>;

struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
// Owns a prepared statement.
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// Resets a statement and clears its bindings when leaving a scope, so a cached
// statement is ready for reuse and holds no read lock or pointers to bound data.
class StmtUse {
 public:
  explicit StmtUse(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~StmtUse() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  StmtUse(const StmtUse&) = delete;
  StmtUse& operator=(const StmtUse&) = delete;

  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_;
};

// The absl code for a SQLite result code (busy / I/O -> Unavailable, read-only
// -> PermissionDenied, not a database -> FailedPrecondition, corrupt ->
// DataLoss, full -> ResourceExhausted, else Internal) with `message`.
absl::Status StatusForCode(int rc, std::string message);

// Binds `text` without copying: the caller keeps it alive until the statement
// is reset. An empty view binds "" (never NULL).
void BindText(sqlite3_stmt* stmt, int index, std::string_view text);

// A text column as a string ("" for NULL).
std::string ColumnText(sqlite3_stmt* stmt, int column);

// With SHARDLAKE_DEBUG_QUERIES=1, logs every statement `db` runs (with its
// bound values) to stderr, one line each.
void TraceIfDebugging(sqlite3* db);

}  // namespace shardlake::sqlite
