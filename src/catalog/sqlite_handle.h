// RAII owners for SQLite's C handles. Internal to src/catalog.
#pragma once

#include <sqlite3.h>

#include <memory>

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

}  // namespace shardlake::sqlite
