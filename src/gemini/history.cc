#include "gemini/history.h"

#include "common/status_macros.h"
#include "fmt/format.h"
#include "nlohmann/json.hpp"

namespace shardlake::gemini {
namespace {

absl::Status SqliteError(sqlite3* db, const std::string& what) {
  return absl::InternalError(
      fmt::format("gemini history store: {}: {}", what, db ? sqlite3_errmsg(db) : "no database"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<HistoryStore>> HistoryStore::Open(size_t table_count) {
  std::unique_ptr<HistoryStore> store(new HistoryStore());
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(":memory:", &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  store->db_.reset(raw);
  if (rc != SQLITE_OK) return SqliteError(raw, "open");
  for (size_t t = 0; t < table_count; ++t) {
    std::string sql = fmt::format(
        "CREATE TABLE written_{} (n INTEGER PRIMARY KEY, ts_micros INTEGER NOT NULL, "
        "literals TEXT NOT NULL)",
        t);
    if (sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
      return SqliteError(raw, "create table");
    }
    ASSIGN_OR_RETURN(Stmt insert,
                     store->Prepare(fmt::format(
                         "INSERT INTO written_{} (n, ts_micros, literals) VALUES (?, ?, ?)", t)));
    ASSIGN_OR_RETURN(
        Stmt select,
        store->Prepare(fmt::format("SELECT ts_micros, literals FROM written_{} WHERE n = ?", t)));
    store->inserts_.push_back(std::move(insert));
    store->selects_.push_back(std::move(select));
    store->counts_.push_back(0);
  }
  return store;
}

absl::StatusOr<HistoryStore::Stmt> HistoryStore::Prepare(const std::string& sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db_.get(), sql.c_str(), -1, &raw, nullptr) != SQLITE_OK) {
    return SqliteError(db_.get(), "prepare");
  }
  return Stmt(raw);
}

absl::Status HistoryStore::Record(size_t table, const WrittenRow& row) {
  nlohmann::json literals = nlohmann::json::array();
  for (const Literal& literal : row.literals) {
    literals.push_back(literal.has_value() ? nlohmann::json(*literal) : nlohmann::json());
  }
  const std::string text = literals.dump();
  sqlite3_stmt* stmt = inserts_.at(table).get();
  sqlite3_bind_int64(stmt, 1, counts_[table] + 1);
  sqlite3_bind_int64(stmt, 2, row.ts_micros);
  sqlite3_bind_text(stmt, 3, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
  int rc = sqlite3_step(stmt);
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  if (rc != SQLITE_DONE) return SqliteError(db_.get(), "record");
  ++counts_[table];
  return absl::OkStatus();
}

absl::StatusOr<std::optional<WrittenRow>> HistoryStore::Sample(Rng& rng, size_t table) {
  if (counts_.at(table) == 0) return std::nullopt;
  sqlite3_stmt* stmt = selects_[table].get();
  sqlite3_bind_int64(stmt, 1, static_cast<int64_t>(rng.Below(counts_[table])) + 1);
  int rc = sqlite3_step(stmt);
  std::optional<WrittenRow> row;
  if (rc == SQLITE_ROW) {
    row.emplace();
    row->ts_micros = sqlite3_column_int64(stmt, 0);
    const char* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1));
    for (const auto& literal : nlohmann::json::parse(text ? text : "[]")) {
      row->literals.push_back(literal.is_null() ? Literal() : Literal(literal.get<std::string>()));
    }
  }
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  if (rc != SQLITE_ROW) return SqliteError(db_.get(), "sample");
  return row;
}

}  // namespace shardlake::gemini
