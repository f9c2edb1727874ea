// HistoryStore: what one worker wrote, kept in an in-memory SQLite database,
// so that reads ask for keys, times and values that exist. Rows are recorded
// only after both targets accepted them. A table's rows are numbered 1..n in
// the order written, so a uniform pick is one indexed lookup.
//
// Thread-safety: none; each worker owns one.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gemini/rng.h"
#include "gemini/schema.h"

namespace shardlake::gemini {

class HistoryStore {
 public:
  // Errors: Internal when SQLite cannot open an in-memory database.
  static absl::StatusOr<std::unique_ptr<HistoryStore>> Open(size_t table_count);

  absl::Status Record(size_t table, const WrittenRow& row);
  int64_t Count(size_t table) const { return counts_.at(table); }
  // A uniformly chosen written row of `table`; nullopt when none was written.
  absl::StatusOr<std::optional<WrittenRow>> Sample(Rng& rng, size_t table);

 private:
  struct DbCloser {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  struct StmtFinalizer {
    void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
  };
  using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

  HistoryStore() = default;
  absl::StatusOr<Stmt> Prepare(const std::string& sql);

  // Statements are declared after the database so they are finalized first.
  std::unique_ptr<sqlite3, DbCloser> db_;
  std::vector<Stmt> inserts_;
  std::vector<Stmt> selects_;
  std::vector<int64_t> counts_;
};

}  // namespace shardlake::gemini
